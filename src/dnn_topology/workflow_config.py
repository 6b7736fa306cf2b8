"""Checks of the workflow configuration beyond its JSON schema, and the per-run option table
that the rules read (global options with each run's overrides applied)."""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass

from . import datasets as dsets
from . import models

TRAINING_KEYS = ("lr", "momentum", "weight_decay", "batch_size", "seed", "permute_labels", "subset",
                 "binarize_class")


class ConfigError(ValueError):
    """A configuration value that the schema accepts but the workflow cannot use."""


def run_name(run: dict) -> str:
    return run.get("name") or f"{run['network']}_{run['dataset']}"


def export_package_path(src: str) -> None:
    """Put ``src`` first on PYTHONPATH, so that the rules' scripts (run in other processes, maybe
    in a conda env) import this checkout's package."""
    paths = [src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)


def register_datasets(config: dict) -> None:
    """Make the config's ImageFolder datasets known to this process (every job calls this)."""
    for name, options in config.get("imagefolders", {}).items():
        try:
            dsets.register_imagefolder(name=name, **options)
        except (ValueError, dsets.DatasetUnavailableError) as err:
            raise ConfigError(f"imagefolders.{name}: {err}") from None


def check_config(config: dict) -> None:
    """Raise ConfigError naming the offending key; the schema has already been applied."""
    register_datasets(config)
    names = [run_name(r) for r in config["runs"]]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"runs: run names must be unique, {dup} appear more than once "
                          "(give each run a distinct 'name')")
    if "comparisons" in names:
        raise ConfigError("runs: 'comparisons' is reserved for results/comparisons/; give the run another name")
    epochs = config["training"]["epochs"]
    late = [e for e in config["topology"]["epochs"] if e > epochs]
    if late:
        raise ConfigError(f"topology.epochs: {late} exceed training.epochs = {epochs}")
    for i, run in enumerate(config["runs"]):
        if run["network"] not in models.NETWORKS:
            raise ConfigError(f"runs[{i}].network: unknown network {run['network']!r}; "
                              f"choose one of {sorted(models.NETWORKS)}")
        try:
            dsets.get_spec(run["dataset"])
        except ValueError as err:
            raise ConfigError(f"runs[{i}].dataset: {err}") from None
        binarize = run.get("training", {}).get("binarize_class", config["training"].get("binarize_class"))
        if binarize is not None:
            try:
                dsets.effective_spec(dsets.get_spec(run["dataset"]), binarize)
            except ValueError as err:
                raise ConfigError(f"runs[{i}] training.binarize_class: {err}") from None
        activations = {**config["activations"], **run.get("activations", {})}
        available = dsets.split_size(run["dataset"], activations["split"])
        where = f"the {activations['split']} split of {run['dataset']!r} has"
        if available is not None and activations["split"] == "train":  # drawn from the samples trained on
            subset = run.get("training", {}).get("subset", config["training"]["subset"])
            available = len(dsets.subset_indices(available, subset))
            where = f"the network trains on training.subset = {subset} of the train split of {run['dataset']!r}:"
        if available is not None and activations["n_samples"] > available:
            raise ConfigError(f"runs[{i}] activations.n_samples: {activations['n_samples']} samples asked for, but "
                              f"{where} {available}")
        if run.get("imported", False):
            continue
        try:
            dsets.check_available(run["dataset"], config.get("data_dir", "data"), config.get("download", False))
        except dsets.DatasetUnavailableError as err:
            raise ConfigError(f"runs[{i}].dataset: {err}") from None
    for i, comparison in enumerate(config.get("comparisons", [])):
        unknown = sorted(set(comparison["runs"]) - set(names))
        if unknown:
            raise ConfigError(f"comparisons[{i}].runs: {unknown} are not run names (runs are {names})")
        late = [e for e in comparison.get("epochs", []) if e not in config["topology"]["epochs"]]
        if late:
            raise ConfigError(f"comparisons[{i}].epochs: {late} are not in topology.epochs")


# Conservative sustained multiply-accumulates per second of one training job.
MACS_PER_SECOND = {"cpu_thread": 5e9, "gpu": 5e11}


@dataclass(frozen=True)
class RunSize:
    """What a run's resource requests scale with."""

    n_nodes: int          # functional-graph nodes after node selection
    macs_per_sample: int  # multiply-accumulates of one forward pass


def run_size(network: str, dataset: str, node_selection: dict) -> RunSize:
    """Node count (after selection) and forward cost of a run, from one dummy forward pass."""
    import torch

    from .node_selection import plan_selection

    spec = dsets.get_spec(dataset)
    net = models.build_network(network, spec).eval()
    macs = 0

    def count(module, inputs, output):
        nonlocal macs
        if isinstance(module, torch.nn.Conv2d):
            macs += output[0].numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, torch.nn.Linear):
            macs += module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        feats = net.forward_features(torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size))
    for h in hooks:
        h.remove()
    shapes = [tuple(f.shape[1:]) for f in feats]
    n_nodes = plan_selection(shapes, list(net.feature_layers), **node_selection).n_nodes
    return RunSize(n_nodes=int(n_nodes), macs_per_sample=int(macs))


def resources(size: RunSize, dataset: str, n_samples: int, epochs: int, max_dim: int, max_epsilon: float,
              threads: int, gpus: int) -> dict:
    """Resource requests (mem_mb in MB, runtime in minutes) that scale with the job.

    Training: forward + backward ~ 3x the forward multiply-accumulates, per training sample and epoch,
    at a conservative throughput (``MACS_PER_SECOND``), doubled as a margin. Correlation and
    persistence: the N x N float64 distance matrix, and a persistence cost growing with N^2, the
    dimension and the cut (an ImageFolder's training set counts as 50,000 images). Override any of them with ``--set-resources RULE:mem_mb=...``.
    """
    matrix_mb = size.n_nodes ** 2 * 8 / 1e6
    throughput = MACS_PER_SECOND["gpu"] * gpus if gpus else MACS_PER_SECOND["cpu_thread"] * threads
    train_seconds = 2 * 3 * size.macs_per_sample * (dsets.split_size(dataset, "train") or 50000) * epochs / throughput
    scale = (size.n_nodes / 1000) ** 2 * 2 ** max(0, max_dim - 1) * (max_epsilon / 0.3) ** 2
    return {
        "n_nodes": size.n_nodes,
        "train_mem_mb": 4000 if size.macs_per_sample < 1e8 else 8000,
        "train_runtime": int(10 + train_seconds / 60),
        "activations_mem_mb": int(1500 + 3 * n_samples * size.n_nodes * 4 / 1e6),
        "graph_mem_mb": int(1000 + 3 * matrix_mb),
        "persistence_mem_mb": int(1000 + 2 * matrix_mb * max(1, max_dim) * max(1.0, (max_epsilon / 0.3) ** 2)),
        "persistence_runtime": int(10 + scale),
    }


def run_table(config: dict) -> dict[str, dict]:
    """run name -> {run, training, activations, resources} with overrides applied."""
    table = {}
    for run in config["runs"]:
        training = {k: config["training"][k] for k in TRAINING_KEYS}
        training.update(run.get("training", {}))
        training["epochs"] = config["training"]["epochs"]
        activations = copy.deepcopy(config["activations"])
        for k, v in run.get("activations", {}).items():
            activations[k] = copy.deepcopy(v)
        name = run_name(run)
        size = run_size(run["network"], run["dataset"], activations["node_selection"])
        table[name] = {
            "run": {"name": name, "network": run["network"], "dataset": run["dataset"],
                    "imported": bool(run.get("imported", False))},
            "training": training,
            "activations": activations,
            "resources": resources(size, run["dataset"], activations["n_samples"], config["training"]["epochs"],
                                   config["topology"]["max_dim"], config["topology"]["max_epsilon"],
                                   config["training"]["threads"], config["training"].get("gpus", 0)),
        }
    return table


def persistence_engine(topology: dict) -> tuple[str, dict]:
    """The engine named by ``topology.engine`` and its options.

    ``auto`` is the default engine, giotto-ph: DIPHA runs only when asked for by name
    (``engine: dipha``), with the ``topology.dipha`` options.
    """
    engine = topology.get("engine", "auto")
    if engine == "auto":
        return "giotto", {}
    if engine == "dipha":
        dipha = topology.get("dipha", {})
        return "dipha", {k: dipha[k] for k in ("binary", "mpi_procs", "mpiexec") if k in dipha}
    return engine, {}
