"""Checks of the workflow configuration beyond its JSON schema, and the per-run option table
that the rules read (global options with each run's overrides applied, and each run's resource
requests from :mod:`dnn_topology.workflow.resources`)."""

from __future__ import annotations

import math
import os
import re

import yaml

from ..layout import RESERVED_RUN_NAMES, run_name
from ..networks import datasets as dsets
from ..networks.labels import effective_spec, training_pool
from ..networks.samples import run_activations
from ..studies.adversarial.config import check_adversarial
from ..studies.early_stopping.config import check_early_stopping
from ..studies.generalization.config import check_studies
from .resources import NETWORK_NAMES, resources, run_size

TRAINING_KEYS = (
    "lr",
    "momentum",
    "weight_decay",
    "batch_size",
    "seed",
    "permute_labels",
    "subset",
    "binarize_class",
    "validation",
)


class ConfigError(ValueError):
    """A configuration value that the schema accepts but the workflow cannot use."""


# a name that becomes one path component (results/<name>/, logs/<name>/): no separator, no "..", no leading dot
PATH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def check_path_name(name, key: str) -> str:
    """Return ``name`` if it is safe as one path component, else raise ConfigError naming ``key``.

    Every configured name that becomes part of a path (run names, explicit or default, ImageFolder
    dataset names, comparison names, ...) goes through this check, so that no configuration can make
    the workflow write outside ``results/`` and ``logs/``. Safe: 1 to 128 characters among letters,
    digits, ``_``, ``.`` and ``-``, starting with a letter or a digit (so neither ``..`` nor a hidden
    name, and no ``/``).
    """
    if not isinstance(name, str) or not PATH_NAME.fullmatch(name):
        raise ConfigError(
            f"{key}: {name!r} becomes part of a file path; use 1 to 128 letters, digits, '_', '.' "
            "or '-', starting with a letter or a digit"
        )
    return name


def check_finite(value, key: str = "config") -> None:
    """Raise ConfigError naming the key of the first NaN or infinite number in ``value`` (nested dicts and
    lists). JSON-schema bounds do not catch them: every comparison with NaN is false, and YAML reads
    ``.nan`` and ``.inf`` as numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}: {value!r} is not a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            check_finite(v, f"{key}.{k}" if key != "config" else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_finite(v, f"{key}[{i}]")


def read_config_file(path: str | os.PathLike) -> dict:
    """The configuration in YAML (or JSON) file ``path``; a syntax error is a ConfigError naming the file,
    line and column (Snakemake's own message names neither).

    Parameters
    ----------
    path : str or path-like
        A configuration file, e.g. ``config/config.yaml``.

    Returns
    -------
    dict
        Its top-level mapping.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            config = yaml.safe_load(fh)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {err.problem or err.context}") from None
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read it: {err}") from None
    if not isinstance(config, dict):
        raise ConfigError(
            f"{path}: a configuration is a mapping of keys (runs:, topology:, ...), not {type(config).__name__}"
        )
    return config


def export_package_path(src: str) -> None:
    """Put ``src`` first on PYTHONPATH, so that the rules' scripts (run in other processes, maybe
    in a conda env) import this checkout's package."""
    paths = [src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)


def config_datasets(config: dict) -> dsets.DatasetRegistry:
    """The datasets the config may name: the built-in ones and its ``imagefolders``."""
    try:
        return dsets.dataset_registry(config.get("imagefolders"))
    except (ValueError, dsets.DatasetUnavailableError) as err:  # the message names imagefolders.<name>.<key>
        raise ConfigError(str(err)) from None


def check_config(config: dict, registry: dsets.DatasetRegistry | None = None) -> None:
    """Raise ConfigError naming the offending key; the schema has already been applied.

    ``registry`` is :func:`config_datasets` of ``config`` (built here when not given).
    """
    check_finite(config)
    for name in config.get("imagefolders", {}):
        check_path_name(name, f"imagefolders: dataset name {name!r}")
    for i, run in enumerate(config["runs"]):
        check_path_name(
            run_name(run),
            f"runs[{i}].name" if run.get("name") else f"runs[{i}]: the default run name <network>_<dataset>",
        )
    for i, comparison in enumerate(config.get("comparisons", [])):
        check_path_name(comparison["name"], f"comparisons[{i}].name")
    for section in ("generalization", "early_stopping"):
        for i, study in enumerate(config.get(section, [])):
            check_path_name(study["name"], f"{section}[{i}].name")
    registry = config_datasets(config) if registry is None else registry
    names = [run_name(r) for r in config["runs"]]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(
            f"runs: run names must be unique, {dup} appear more than once (give each run a distinct 'name')"
        )
    for reserved in RESERVED_RUN_NAMES:
        if reserved in names:
            raise ConfigError(f"runs: {reserved!r} is reserved for results/{reserved}/; give the run another name")
    epochs = config["training"]["epochs"]
    late = [e for e in config["topology"]["epochs"] if e > epochs]
    if late:
        raise ConfigError(f"topology.epochs: {late} exceed training.epochs = {epochs}")
    for i, run in enumerate(config["runs"]):
        if run["network"] not in NETWORK_NAMES:
            raise ConfigError(
                f"runs[{i}].network: unknown network {run['network']!r}; choose one of {list(NETWORK_NAMES)}"
            )
        try:
            spec = registry.spec(run["dataset"])
        except ValueError as err:
            raise ConfigError(f"runs[{i}].dataset: {err}") from None
        binarize = run.get("training", {}).get("binarize_class", config["training"].get("binarize_class"))
        if binarize is not None:
            try:
                effective_spec(spec, binarize)
            except ValueError as err:
                raise ConfigError(f"runs[{i}] training.binarize_class: {err}") from None
        activations = run_activations(config, run)
        subset = run.get("training", {}).get("subset", config["training"]["subset"])
        validation = run.get("training", {}).get("validation", config["training"].get("validation", 0.0))
        n_train = dsets.split_size(run["dataset"], "train")
        try:
            trained_on = None if n_train is None else len(training_pool(n_train, subset, validation)[0])
        except ValueError as err:
            raise ConfigError(f"runs[{i}] training.validation: {err}") from None
        available = dsets.split_size(run["dataset"], activations["split"])
        where = f"the {activations['split']} split of {run['dataset']!r} has"
        if available is not None and activations["split"] == "train":  # drawn from the samples trained on
            available = trained_on
            where = (
                f"the network trains on training.subset = {subset} of the train split of {run['dataset']!r}, "
                f"less training.validation = {validation} of them:"
            )
        if available is not None and activations["n_samples"] > available:
            raise ConfigError(
                f"runs[{i}] activations.n_samples: {activations['n_samples']} samples asked for, but "
                f"{where} {available}"
            )
        if run.get("imported", False):
            continue
        try:
            dsets.check_available(
                run["dataset"], config.get("data_dir", "data"), config.get("download", False), registry
            )
        except dsets.DatasetUnavailableError as err:
            raise ConfigError(f"runs[{i}].dataset: {err}") from None
    for i, comparison in enumerate(config.get("comparisons", [])):
        unknown = sorted(set(comparison["runs"]) - set(names))
        if unknown:
            raise ConfigError(f"comparisons[{i}].runs: {unknown} are not run names (runs are {names})")
        late = [e for e in comparison.get("epochs", []) if e not in config["topology"]["epochs"]]
        if late:
            raise ConfigError(f"comparisons[{i}].epochs: {late} are not in topology.epochs")
    try:
        check_adversarial(
            config,
            {
                run_name(r): dsets.split_size(r["dataset"], "test")
                for r in config["runs"]
                if not r.get("imported", False)
            },
        )
        check_studies(config)
        check_early_stopping(config)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def run_table(config: dict, registry: dsets.DatasetRegistry | None = None) -> dict[str, dict]:
    """run name -> {run, training, activations, resources} with overrides applied."""
    registry = config_datasets(config) if registry is None else registry
    table = {}
    for run in config["runs"]:
        training = {k: config["training"][k] for k in TRAINING_KEYS}
        training.update(run.get("training", {}))
        training["epochs"] = config["training"]["epochs"]
        activations = run_activations(config, run)
        name = run_name(run)
        size = run_size(run["network"], registry.spec(run["dataset"]), activations["node_selection"])
        table[name] = {
            "run": {
                "name": name,
                "network": run["network"],
                "dataset": run["dataset"],
                "imported": bool(run.get("imported", False)),
            },
            "training": training,
            "activations": activations,
            "resources": resources(
                size,
                run["dataset"],
                activations["n_samples"],
                config["training"]["epochs"],
                config["topology"]["max_dim"],
                config["topology"]["max_epsilon"],
                config["training"]["threads"],
                config["training"].get("gpus", 0),
            ),
        }
    return table
