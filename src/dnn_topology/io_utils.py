"""Small helpers shared by every stage: atomic writes and logging to a file."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

LOGGER_NAME = "dnn_topology"


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only if the block succeeds.

    An interrupted or failing stage therefore never leaves a half-written output behind.
    """
    path = Path(path)
    for parent in (path.parent, *path.parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"not a directory, cannot write {path} there", str(parent))
            break
    tmp_path = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp_path = Path(tmp)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give outputs the usual permissions
        yield tmp_path
        os.replace(tmp_path, path)
    except Exception as err:
        about = _about(err, path)
        if about is err:
            raise
        raise about from err
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()


def write_csv(table: pd.DataFrame, path: str | Path) -> None:
    """Write ``table`` to CSV file ``path`` (without its index), atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def _about(err: Exception, path: Path) -> Exception:
    """``err`` restated about ``path``, the file the caller asked for, rather than the temporary file
    next to it; a full disk says so in words, also where a library turned the OSError into its own
    error (torch.save: "unexpected pos ..." or "iostream error")."""
    cause: BaseException | None = err
    seen = set()
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return OSError(
                cause.errno,
                f"no space left on the device (or disk quota exceeded) while writing "
                f"{path}; free some space, then run the same command again",
                str(path),
            )
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    if not isinstance(err, OSError):
        return err
    name = Path(err.filename) if isinstance(err.filename, str) else None
    if (
        name is not None
        and name.parent == path.parent
        and name.name.startswith(f".{path.name}.")
        and name.name.endswith(".tmp")
    ):
        return type(err)(err.errno, f"cannot write {path}: {err.strerror}", str(path))
    return err


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


@contextlib.contextmanager
def log_to_file(path: str | Path | None, keep: str | Path | None = None) -> Iterator[logging.Logger]:
    """Send this package's log records and Python warnings to ``path`` for a workflow job.

    Also echoes to the original stderr so that interactive runs show progress. ``keep``: a file that
    keeps the log across attempts of the job (Snakemake removes a job's log before running it): ``path``
    starts with its lines, and the new lines go to both (a resumed training job's log keeps the lines
    of the epochs done before the interruption).
    """
    logger = get_logger()
    logger.setLevel(logging.INFO)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if keep is not None and Path(keep).is_file():
            shutil.copyfile(keep, path)
        handlers.append(logging.FileHandler(path, mode="w" if keep is None else "a"))
    if keep is not None:
        Path(keep).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(keep, mode="a"))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    warnings_logger = logging.getLogger("py.warnings")
    for h in handlers:
        h.setFormatter(fmt)
        logger.addHandler(h)
        warnings_logger.addHandler(h)
    logging.captureWarnings(True)
    if os.environ.get("SLURM_JOB_ID"):  # running as a SLURM job: record which one, for the cluster's logs
        logger.info("SLURM job %s on %s", os.environ["SLURM_JOB_ID"], os.environ.get("SLURMD_NODENAME", "?"))
    try:
        yield logger
    except Exception:
        logger.exception("stage failed")
        raise
    finally:
        logging.captureWarnings(False)
        for h in handlers:
            logger.removeHandler(h)
            warnings_logger.removeHandler(h)
            h.close()
