"""Import the results of the original code (github.com/cipriancorneanu/dnn-topology) into our layout.

The original wrote

* checkpoints ``<root>/checkpoint/<net>_<dataset>/ckpt_trial_<T>_epoch_<E>.t7``: a ``torch.save``'d
  dict with ``'net'`` (a state dict, with ``module.`` prefixes when trained under DataParallel),
  ``'acc'`` (test accuracy in percent) and ``'epoch'``;
* ``adj_epc<E>_trl<T>.bin``: the DIPHA DISTANCE_MATRIX of ``1 - |corr|`` (``build_graph_functional.py``),
  under ``<save_path>adjacency/<net>_<dataset>/`` (or ``<save_path>/<net>_<dataset>/``);
* ``adj_epc<E>_trl<T>.bin.out`` or ``adj_epc<E>_trl<T>_<max_eps>.bin.out``: DIPHA's
  PERSISTENCE_DIAGRAM (``compute_topology.py``).

Our layout (what the Betti-curve and plot stages read):

* ``results/<run>/trial_<T>/epoch_<E>/distance.bin`` (DISTANCE_MATRIX),
* ``results/<run>/trial_<T>/epoch_<E>/diagram.bin`` (PERSISTENCE_DIAGRAM),
* ``results/<run>/trial_<T>/checkpoints/epoch_<E>.pt`` (dict with ``'net'``, ``'epoch'``,
  ``'test_acc'`` as a fraction, and the original's ``'acc'`` in percent).

Diagrams are copied byte for byte (after validation). Distance matrices are written as the matrix
DIPHA actually used (its strict lower triangle mirrored, zero diagonal): the original's
``1 - |nan_to_num(corr)|`` has 1 on the diagonal of constant (dead) nodes, which DIPHA ignores.
Checkpoints are pickles: they are read with ``torch.load(weights_only=True)`` (tensors, numbers, strings,
containers, and the NumPy float the original stored as ``'acc'``); a file holding anything else, which could
run code while it is read, is refused naming it, and nothing of it runs.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import layout
from ..topology import dipha_files as dio

PathLike = dio.PathLike


class ImportOriginalError(ValueError):
    """The original results are missing, ambiguous or do not fit our network."""


@dataclass
class OriginalEpoch:
    """The original files found for one epoch (any of them may be missing)."""

    epoch: int
    checkpoint: Path | None = None
    distance: Path | None = None
    diagrams: dict[str | None, Path] = field(default_factory=dict)  # max_eps in the name (or None) -> file

    def diagram(self, max_eps: str | None = None) -> Path | None:
        """The diagram to import: the only one, or the one named with ``max_eps`` when there are several."""
        if not self.diagrams:
            return None
        if len(self.diagrams) == 1 and (max_eps is None or max_eps in self.diagrams or None in self.diagrams):
            return next(iter(self.diagrams.values()))
        if max_eps is not None and max_eps in self.diagrams:
            return self.diagrams[max_eps]
        names = sorted(str(p) for p in self.diagrams.values())
        if max_eps is None:
            raise ImportOriginalError(f"several diagrams for epoch {self.epoch}: {names}; choose one with max_eps")
        raise ImportOriginalError(f"no diagram with max_eps {max_eps} for epoch {self.epoch}; found {names}")


@dataclass
class ImportedEpoch:
    """What was written for one epoch, and any correction made on the way."""

    epoch: int
    checkpoint: str | None = None
    distance: str | None = None
    diagram: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- discovery


def oname(net: str, dataset: str) -> str:
    """The original's meta-name ``<net>_<dataset>``."""
    return f"{net}_{dataset}"


def checkpoint_dir(original_root: PathLike, net: str, dataset: str) -> Path:
    return Path(original_root) / "checkpoint" / oname(net, dataset)


def adjacency_dirs(original_root: PathLike, net: str, dataset: str) -> list[Path]:
    """Where the original's scripts put ``adj_*.bin`` files, relative to the root, in search order."""
    root = Path(original_root)
    name = oname(net, dataset)
    bases = [root, root / "results_dnn_topology"]
    return [base / sub / name for base in bases for sub in ("adjacency", ".")]


def find_original_epochs(
    original_root: PathLike,
    net: str,
    dataset: str,
    trial: int,
    adjacency_dir: PathLike | None = None,
) -> dict[int, OriginalEpoch]:
    """All epochs of ``trial`` with a checkpoint, a distance matrix or a diagram in the original layout.

    ``adjacency_dir`` overrides the search of :func:`adjacency_dirs`.
    """
    found: dict[int, OriginalEpoch] = {}

    def entry(epoch: int) -> OriginalEpoch:
        return found.setdefault(epoch, OriginalEpoch(epoch))

    ckpt_re = re.compile(rf"ckpt_trial_{trial}_epoch_(\d+)\.t7")
    cdir = checkpoint_dir(original_root, net, dataset)
    if cdir.is_dir():
        for path in sorted(cdir.iterdir()):
            m = ckpt_re.fullmatch(path.name)
            if m:
                entry(int(m.group(1))).checkpoint = path

    dirs = [Path(adjacency_dir)] if adjacency_dir is not None else adjacency_dirs(original_root, net, dataset)
    dist_re = re.compile(rf"adj_epc(\d+)_trl{trial}\.bin")
    diag_re = re.compile(rf"adj_epc(\d+)_trl{trial}(?:_([^/]+?))?\.bin\.out")
    for d in dirs:
        if not d.is_dir():
            continue
        for path in sorted(d.iterdir()):
            if m := dist_re.fullmatch(path.name):
                e = entry(int(m.group(1)))
                e.distance = e.distance or path
            elif m := diag_re.fullmatch(path.name):
                entry(int(m.group(1))).diagrams.setdefault(m.group(2), path)
    return dict(sorted(found.items()))


# --------------------------------------------------------------------------- converting one file


def our_paths(results: PathLike, run: str, trial: int, epoch: int) -> dict[str, Path]:
    """Our file names for one epoch (see :mod:`dnn_topology.layout`)."""
    where = {"run": run, "trial": trial, "epoch": epoch}
    return {
        "checkpoint": Path(results) / layout.fill(layout.checkpoint(root=""), **where),
        "distance": Path(results) / layout.fill(layout.epoch_file("distance.bin", root=""), **where),
        "diagram": Path(results) / layout.fill(layout.epoch_file("diagram.bin", root=""), **where),
    }


def import_checkpoint(src: PathLike, dst: PathLike, net: str, dataset: str, epoch: int | None = None) -> dict:
    """Convert an original checkpoint into ours (after checking it loads into our network)."""
    # deferred: torch is heavy, and importing the DIPHA files (and the CLI's other commands) never needs it
    from . import checkpoints
    from .datasets import get_spec

    src = Path(src)
    try:
        model, state = checkpoints.load_checkpoint(src, net, get_spec(dataset), numpy_scalars=True)
    except checkpoints.CheckpointError as err:
        raise ImportOriginalError(str(err)) from err
    acc = state.get("acc")
    ckpt_epoch = state.get("epoch", epoch)
    if epoch is not None and ckpt_epoch is not None and int(ckpt_epoch) != epoch:
        raise ImportOriginalError(f"{src}: file name says epoch {epoch} but the checkpoint says {ckpt_epoch}")
    ours = {
        "net": checkpoints.cpu_state_dict(model),
        "epoch": int(ckpt_epoch) if ckpt_epoch is not None else None,
        "test_acc": float(acc) / 100.0 if acc is not None else None,
        "acc": float(acc) if acc is not None else None,
        "source": str(src),
        "imported_from_original": True,
    }
    checkpoints.save_checkpoint(dst, ours)
    return ours


def import_distance(src: PathLike, dst: PathLike) -> list[str]:
    """Write the matrix DIPHA used from an original ``adj_*.bin``; returns notes on corrections."""
    notes = []
    try:
        D = dio.read_distance_matrix(src)
    except dio.DiphaFormatError as err:
        D = dio.read_distance_matrix(src, strict=False)  # still raises if what DIPHA reads is invalid
        notes.append(f"{err}; kept the strict lower triangle and a zero diagonal, as DIPHA reads it")
    dio.write_distance_matrix(dst, D)
    return notes


def import_diagram(src: PathLike, dst: PathLike) -> None:
    """Validate an original DIPHA diagram and copy it byte for byte (atomically)."""
    dio.read_persistence_diagram(src)
    with dio.atomic_output(dst) as tmp:
        shutil.copyfile(src, tmp)


# --------------------------------------------------------------------------- the whole import


def import_original(
    original_root: PathLike,
    net: str,
    dataset: str,
    trial: int,
    results: PathLike,
    run: str,
    epochs: Sequence[int] | None = None,
    adjacency_dir: PathLike | None = None,
    max_eps: str | None = None,
    overwrite: bool = False,
) -> list[ImportedEpoch]:
    """Copy/convert the original's checkpoints, distance matrices and diagrams of one trial.

    Writes :func:`our_paths` for every epoch found (or every epoch of ``epochs``, which must each
    have at least one file), and ``results/<run>/trial_<T>/original_import.json`` describing
    the sources. Existing outputs are kept unless ``overwrite``.
    """
    problem = layout.path_name_problem(run)
    if problem:  # the run becomes <results>/<run>/: checked as the workflow checks its run names
        raise ImportOriginalError(f"run name {problem}")
    if run in layout.RESERVED_RUN_NAMES:
        raise ImportOriginalError(f"run name {run!r} is reserved for {results}/{run}/; give the run another name")
    root = Path(original_root)
    if not root.is_dir():
        raise ImportOriginalError(f"{root}: original root directory not found")
    found = find_original_epochs(root, net, dataset, trial, adjacency_dir)
    if epochs is not None:
        missing = [e for e in epochs if e not in found]
        if missing:
            raise ImportOriginalError(
                f"{root}: no checkpoint, adj_epc<E>_trl{trial}.bin or .bin.out for epoch(s) {missing} of "
                f"{oname(net, dataset)} trial {trial}"
            )
        found = {e: found[e] for e in epochs}
    if not found:
        searched = [checkpoint_dir(root, net, dataset)] + (
            [Path(adjacency_dir)] if adjacency_dir is not None else adjacency_dirs(root, net, dataset)
        )
        raise ImportOriginalError(
            f"{root}: nothing to import for {oname(net, dataset)} trial {trial}; searched {', '.join(map(str, searched))}"
        )
    chosen = {e.epoch: e.diagram(max_eps) for e in found.values()}  # ambiguity errors before writing anything
    imported = [
        _import_epoch(e, chosen[e.epoch], net, dataset, our_paths(results, run, trial, e.epoch), overwrite)
        for e in found.values()
    ]
    manifest = Path(results) / layout.fill(layout.trial_file("original_import.json", root=""), run=run, trial=trial)
    _write_manifest(manifest, root, net, dataset, trial, imported)
    return imported


def _import_epoch(
    src: OriginalEpoch, diagram: Path | None, net: str, dataset: str, dst: dict[str, Path], overwrite: bool
) -> ImportedEpoch:
    out = ImportedEpoch(src.epoch)
    sources = {"checkpoint": src.checkpoint, "distance": src.distance, "diagram": diagram}
    for kind, source in sources.items():
        if source is None:
            continue
        out.sources[kind] = str(source)
        target = dst[kind]
        if target.exists() and not overwrite:
            out.notes.append(f"{target} exists, kept (use overwrite to replace it)")
        elif kind == "checkpoint":
            import_checkpoint(source, target, net, dataset, src.epoch)
        elif kind == "distance":
            out.notes += import_distance(source, target)
        else:
            import_diagram(source, target)
        setattr(out, kind, str(target))
    return out


def _write_manifest(
    path: Path, root: Path, net: str, dataset: str, trial: int, imported: Iterable[ImportedEpoch]
) -> None:
    doc = {
        "original_root": str(root),
        "net": net,
        "dataset": dataset,
        "trial": trial,
        "epochs": [asdict(e) for e in imported],
    }
    with dio.atomic_output(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1) + "\n")


def summarize(imported: Sequence[ImportedEpoch]) -> str:
    """One line per epoch for the command line."""
    lines = []
    for e in imported:
        have = [k for k in ("checkpoint", "distance", "diagram") if getattr(e, k)]
        lines.append(f"epoch {e.epoch}: {', '.join(have) or 'nothing'}" + "".join(f"\n  note: {n}" for n in e.notes))
    return "\n".join(lines)


__all__ = [
    "ImportOriginalError",
    "OriginalEpoch",
    "ImportedEpoch",
    "find_original_epochs",
    "adjacency_dirs",
    "checkpoint_dir",
    "our_paths",
    "import_checkpoint",
    "import_distance",
    "import_diagram",
    "import_original",
    "summarize",
]
