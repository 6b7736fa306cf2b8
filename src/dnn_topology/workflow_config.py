"""Checks of the workflow configuration beyond its JSON schema, and the per-run option table
that the rules read (global options with each run's overrides applied)."""
from __future__ import annotations

import copy

from . import datasets as dsets
from . import models

TRAINING_KEYS = ("lr", "momentum", "weight_decay", "batch_size", "seed", "permute_labels", "subset",
                 "binarize_class")


class ConfigError(ValueError):
    """A configuration value that the schema accepts but the workflow cannot use."""


def run_name(run: dict) -> str:
    return run.get("name") or f"{run['network']}_{run['dataset']}"


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


def estimated_nodes(network: str, dataset: str, node_selection: dict) -> int:
    """Number of functional-graph nodes a run will have."""
    from .node_selection import plan_selection

    spec = dsets.get_spec(dataset)
    shapes = models.feature_shapes(models.build_network(network, spec), spec)
    return int(plan_selection(list(shapes.values()), list(shapes), **node_selection).n_nodes)


def _resources(n_nodes: int, n_samples: int, epochs: int, max_dim: int) -> dict:
    """Honest resource requests (MB, minutes) for the scheduler, from the job's size."""
    matrix_mb = n_nodes * n_nodes * 8 / 1e6
    return {
        "n_nodes": n_nodes,
        "train_mem_mb": 4000,
        "train_runtime": 10 + 2 * epochs,
        "activations_mem_mb": int(1000 + 3 * n_samples * n_nodes * 4 / 1e6),
        "graph_mem_mb": int(1000 + 3 * matrix_mb),
        "persistence_mem_mb": int(1000 + 2 * matrix_mb * max(1, max_dim)),
        "persistence_runtime": int(10 + (n_nodes / 1000) ** 2 * 2 ** max_dim),
    }


def run_table(config: dict) -> dict[str, dict]:
    """run name -> {run, training, activations, data, resources} with overrides applied."""
    table = {}
    for run in config["runs"]:
        training = {k: config["training"][k] for k in TRAINING_KEYS}
        training.update(run.get("training", {}))
        training["epochs"] = config["training"]["epochs"]
        activations = copy.deepcopy(config["activations"])
        for k, v in run.get("activations", {}).items():
            activations[k] = copy.deepcopy(v)
        name = run_name(run)
        n_nodes = estimated_nodes(run["network"], run["dataset"], activations["node_selection"])
        table[name] = {
            "run": {"name": name, "network": run["network"], "dataset": run["dataset"]},
            "training": training,
            "activations": activations,
            "data": {"data_dir": config["data_dir"], "download": config["download"]},
            "resources": _resources(n_nodes, activations["n_samples"], config["training"]["epochs"],
                                    config["topology"]["max_dim"]),
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
