"""Estimate one network's test accuracy with a fitted generalization model (no test sample used).

Two ways in, both ending in :func:`dnn_topology.studies.generalization.model.estimate`:

* **a diagram** (``diagram.bin`` of the workflow) and the topology parameters it was computed
  under: the ``topology.json`` that the workflow writes in the run's folder (found in the diagram's
  folder or one of its three parents) or a given file. A diagram computed under other parameters
  than the model's is refused (:class:`~dnn_topology.studies.generalization.model.TopologyMismatchError`).
* **a checkpoint**: its diagram is computed here under exactly the model's parameters, from
  training samples the network was trained on (``training.subset`` and the trial's seed, read from
  the checkpoint's ``config`` when it has one). Nothing is written.

The train accuracy is given by the caller, in percent. An estimate is an accuracy: one outside 0..100 % is
clipped and flagged as an extrapolation (see :func:`dnn_topology.studies.generalization.model.estimate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ...networks.samples import SampleSet
from ...topology import features as dfeat
from ...topology.dipha_files import full_to_sparse
from ...topology.graph import distance_matrix
from ...topology.persistence import compute_persistence
from . import model as gen

SIDECAR = "topology.json"


def find_topology_file(diagram: str | Path) -> Path:
    """The ``topology.json`` of a workflow diagram: in its folder or one of its three parents."""
    diagram = Path(diagram)
    for folder in list(diagram.parents)[:4]:
        if (folder / SIDECAR).is_file():
            return folder / SIDECAR
    raise ValueError(
        f"no record of the topology parameters of {diagram}: no {SIDECAR} in its folder or the three above "
        "(the workflow writes results/<run>/topology.json for the runs of a generalization study); "
        "pass --topology FILE"
    )


def from_diagram(model: Mapping, diagram: str | Path, train_acc: float, topology: str | Path | None = None) -> dict:
    """Estimate from a diagram file; refuses one computed under other topology parameters."""
    topology = Path(topology) if topology is not None else find_topology_file(diagram)
    parameters = gen.read_topology_parameters(topology)
    gen.check_topology(model, parameters, where=f"diagram {diagram} (parameters from {topology})")
    fitted = model["topology"]
    values = dfeat.diagram_file_features(diagram, fitted["feature_max_dim"], fitted["min_persistence"])
    return {**gen.estimate(model, values, train_acc), "features": {f: values[f] for f in model["features"]}}


def checkpoint_training(checkpoint: str | Path, network: str | None, dataset: str | None) -> dict:
    """Network, dataset, training subset and seed of a checkpoint (its ``config``; arguments win)."""
    from ...networks.checkpoints import read_checkpoint  # deferred: torch, needed for checkpoints only

    config = read_checkpoint(checkpoint).get("config") or {}
    out = {
        "network": network or config.get("network"),
        "dataset": dataset or config.get("dataset"),
        "subset": float(config.get("subset", 1.0)),
        "seed": int(config.get("seed", 0)),
        "binarize_class": config.get("binarize_class"),
    }
    missing = [k for k in ("network", "dataset") if not out[k]]
    if missing:
        raise ValueError(
            f"checkpoint {checkpoint} does not record its {' and '.join(missing)}: pass --{' and --'.join(missing)}"
        )
    return out


def checkpoint_features(
    model: Mapping,
    checkpoint: str | Path,
    network: str | None = None,
    dataset: str | None = None,
    data_dir: str | Path = "data",
    download: bool = False,
    device: str = "auto",
    threads: int = 1,
) -> dict[str, float]:
    """Diagram features of a checkpoint, computed under the model's topology parameters."""
    from ...networks.activations import compute_activations  # torch: needed for checkpoints only

    fitted = model["topology"]
    training = checkpoint_training(checkpoint, network, dataset)
    sample_set = SampleSet(
        training["dataset"],
        fitted["n_samples"],
        fitted["split"],
        subset=training["subset"],
        seed=training["seed"],
        binarize_class=training["binarize_class"],
        data_dir=str(data_dir),
        download=download,
    )
    acts, _, _ = compute_activations(
        checkpoint, training["network"], sample_set, fitted["node_selection"], device=device, threads=threads
    )
    sparse = full_to_sparse(distance_matrix(acts), fitted["max_epsilon"])
    max_dim = fitted["feature_max_dim"]
    diagram = compute_persistence(sparse, max_dim + 1, n_threads=threads)
    return dfeat.diagram_features(diagram.dims, diagram.births, diagram.deaths, max_dim, fitted["min_persistence"])


def from_checkpoint(model: Mapping, checkpoint: str | Path, train_acc: float, **options) -> dict:
    """Estimate from a checkpoint (see :func:`checkpoint_features` for ``options``)."""
    values = checkpoint_features(model, checkpoint, **options)
    return {**gen.estimate(model, values, train_acc), "features": {f: values[f] for f in model["features"]}}


def _number(value: float) -> str:
    """Two decimals, or three significant digits for a number too large to print that way (1e308)."""
    return f"{value:.2f}" if abs(value) < 1e6 else f"{value:.3g}"


def report(result: Mapping, model: Mapping, train_acc: float) -> str:
    """The lines that ``dnn-topology estimate-test-error`` prints."""
    features = ", ".join(f"{k} = {v:.5g}" for k, v in result["features"].items())
    extrapolated = (
        f"\nextrapolation: the model's linear fit gives {_number(result['raw_test_acc_pct'])} %, outside 0..100 %; the "
        "estimate is clipped to an accuracy, and says no more than that it is near the bound"
        if result.get("extrapolated")
        else ""
    )
    return (
        f"estimated test accuracy: {result['test_acc_pct']:.2f} % "
        f"({100 * result['level']:.0f}% prediction interval {result['low_pct']:.2f} .. {result['high_pct']:.2f} %)\n"
        f"train accuracy {train_acc:.2f} %, estimated gap {_number(result['gap_pp'])} pp; {features}\n"
        f"model: study {model['study']!r}, fitted on {model['fitted_on']['rows']} rows of "
        f"{len(model['fitted_on']['runs'])} runs ({', '.join(model['fitted_on']['networks'])})"
        f"{extrapolated}"
    )
