"""Aggregation stage: one table per run for the Betti curves, their summaries and training."""
from __future__ import annotations

import re
from pathlib import Path
from collections.abc import Sequence

import pandas as pd

from .io_utils import atomic_path

_TRIAL_EPOCH = re.compile(r"trial_(\d+)/epoch_(\d+)/")
_TRIAL = re.compile(r"trial_(\d+)/")


def _trial_epoch(path: str | Path) -> tuple[int, int]:
    found = _TRIAL_EPOCH.findall(Path(path).as_posix() + "/")  # the last match: parent folders may look alike
    if not found:
        raise ValueError(f"cannot tell trial and epoch from path {path} (expected .../trial_<T>/epoch_<E>/...)")
    return int(found[-1][0]), int(found[-1][1])


def concat_per_epoch(paths: Sequence[str | Path], run: str) -> pd.DataFrame:
    """Concatenate per-epoch CSVs, adding run, trial and epoch columns taken from each path."""
    frames = []
    for p in paths:
        trial, epoch = _trial_epoch(p)
        df = pd.read_csv(p)
        df.insert(0, "epoch", epoch)
        df.insert(0, "trial", trial)
        df.insert(0, "run", run)
        frames.append(df)
    return pd.concat(frames, ignore_index=True).sort_values(["trial", "epoch", "dim"], kind="stable",
                                                            ignore_index=True)


def concat_training(paths: Sequence[str | Path], run: str) -> pd.DataFrame:
    frames = []
    for p in paths:
        found = _TRIAL.findall(Path(p).as_posix())
        if not found:
            raise ValueError(f"cannot tell the trial from path {p} (expected .../trial_<T>/...)")
        df = pd.read_csv(p)
        df.insert(0, "trial", int(found[-1]))
        df.insert(0, "run", run)
        frames.append(df)
    return pd.concat(frames, ignore_index=True).sort_values(["trial", "epoch"], ignore_index=True)


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def aggregate_stage(*, run: str, curve_csvs: Sequence[str | Path], summary_csvs: Sequence[str | Path],
                    training_csvs: Sequence[str | Path], curves: str | Path, summary: str | Path,
                    training: str | Path) -> None:
    """Stage ``aggregate``: every trial's and epoch's tables of run ``run``, one table each.

    Parameters
    ----------
    run : str
        Run name, written in a ``run`` column.
    curve_csvs, summary_csvs : sequence of paths
        Per-epoch Betti curves and summaries under ``.../trial_<T>/epoch_<E>/`` (trial and epoch
        columns are taken from the path).
    training_csvs : sequence of paths
        Per-trial training metrics under ``.../trial_<T>/``.
    curves, summary, training : str or Path
        The three CSV files to write (atomically).
    """
    write_csv(concat_per_epoch(curve_csvs, run), curves)
    write_csv(concat_per_epoch(summary_csvs, run), summary)
    write_csv(concat_training(training_csvs, run), training)
