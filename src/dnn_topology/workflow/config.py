"""Reading and checking the workflow configuration, and the per-run option table that the rules read
(global options with each run's overrides applied, and each run's resource requests from
:mod:`dnn_topology.workflow.resources`).

Every error is a :class:`ConfigError` whose message starts with the config key (``training.lr: ...``) or the
file (``my.yaml, line 3, column 5: ...``), in a few lines: a schema error names the key and, for an unknown
key, the nearest valid one, never the whole schema.

A run is one of three kinds (:func:`run_source`): ``train`` (the workflow trains it), ``checkpoints`` (config key
``runs[].checkpoints``: checkpoints trained elsewhere, analysed as they are, rule ``evaluate`` measuring their
accuracy) or ``imported`` (the original code's DIPHA files, ``dnn-topology import-original``).
"""

from __future__ import annotations

import difflib
import math
import os
import string
from collections.abc import Mapping
from pathlib import Path

import yaml

from ..layout import RESERVED_RUN_NAMES, RESULTS, path_name_problem, run_name
from ..networks import datasets as dsets
from ..networks.labels import effective_spec, training_pool
from ..networks.refs import NetworkRef
from ..networks.samples import run_activations
from ..studies.adversarial.config import check_adversarial
from ..studies.early_stopping.config import check_early_stopping
from ..studies.generalization.config import check_studies
from ..topology.graph import too_few_samples
from .resources import resources, run_size

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


def check_path_name(name, key: str) -> str:
    """Return ``name`` if it is safe as one path component, else raise ConfigError naming ``key``.

    Every configured name that becomes part of a path (run names, explicit or default, ImageFolder
    dataset names, comparison names, ...) goes through this check (:func:`dnn_topology.layout.path_name_problem`),
    so that no configuration can make the workflow write outside ``results/`` and ``logs/``.
    """
    problem = path_name_problem(name)
    if problem:
        raise ConfigError(f"{key}: {problem}")
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
        raise ConfigError(f"{path}{yaml_error_message(err)}") from None
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read it: {err}") from None
    if not isinstance(config, dict):
        raise ConfigError(
            f"{path}: a configuration is a mapping of keys (runs:, topology:, ...), not {type(config).__name__}"
        )
    return config


def _mark(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def yaml_error_message(err: yaml.MarkedYAMLError) -> str:
    """``", line L, column C: not valid YAML: ..."``: where the problem starts (PyYAML's context, e.g. the
    bracket left open), then what was found and where (for an unclosed bracket, the end of the file)."""
    start, found = err.context_mark, err.problem_mark
    if start is None or found is None or (start.line, start.column) == (found.line, found.column):
        mark = found or start
        where = f", {_mark(mark)}" if mark is not None else ""
        what = "; ".join(t for t in (err.context, err.problem) if t)
        return f"{where}: not valid YAML: {what}"
    return f", {_mark(start)}: not valid YAML: {err.context}; {err.problem} ({_mark(found)})"


def _key_path(path) -> str:
    """``runs[0].training.lr`` from a jsonschema error path (``["runs", 0, "training", "lr"]``)."""
    key = ""
    for part in path:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "config"


def schema_error_message(error) -> str:
    """A jsonschema ``ValidationError`` as one line that starts with the config key: an unknown key with the
    nearest valid one (``training.lrr: unknown key; did you mean 'lr'?``), a bad value with what is expected."""
    where = _key_path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = sorted(error.schema.get("properties", {}))
        unknown = [k for k in error.instance if k not in known]
        parts = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            parts.append(f"{_key_path([*error.absolute_path, key])}: unknown key{hint}")
        valid = f" (the keys of {where}: {', '.join(known)})" if where != "config" else f" (valid: {', '.join(known)})"
        return "; ".join(parts) + valid
    return f"{where}: {error.message}"


def validate_config(config: dict, schema: str | os.PathLike) -> dict:
    """Validate ``config`` against the JSON schema in file ``schema`` and fill in its defaults, in place
    (``snakemake.utils.validate``); a ConfigError naming the key (:func:`schema_error_message`).

    Parameters
    ----------
    config : dict
        The configuration (read by :func:`read_config_file`, or Snakemake's ``config``).
    schema : str or path-like
        ``schemas/config.schema.yaml``.

    Returns
    -------
    dict
        ``config``, with the schema's defaults.
    """
    from jsonschema import ValidationError
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, os.fspath(schema), set_default=True)
    except WorkflowError as err:
        cause = err.__cause__ or err.__context__  # raised while handling jsonschema's error
        if not isinstance(cause, ValidationError):
            raise
        raise ConfigError(schema_error_message(cause)) from None
    return config


def _reread(value):
    """A value from ``--config``, in a list or a mapping (Snakemake reads those with PyYAML's BaseLoader, which
    keeps every scalar a string: ``[0, 1]`` arrives as ``['0', '1']``), with its scalars read as YAML."""
    if isinstance(value, Mapping):
        return {k: _reread(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reread(v) for v in value]
    if isinstance(value, str):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return parsed if isinstance(parsed, (bool, int, float, str)) or parsed is None else value
    return value


def apply_command_line_config(config: dict, overrides: Mapping) -> dict:
    """Correct the types of the ``--config`` values in ``config`` (Snakemake's merged configuration), in place.

    Snakemake reads ``--config trials=[0,1,2]`` as ``['0', '1', '2']`` and ``--config 'topology={max_dim: 1}'``
    as ``{'max_dim': '1'}`` (it reads a top-level value as a number or a boolean when it is one, but the scalars
    inside a list or a mapping stay strings). Here they are read as YAML scalars again, so these overrides give
    ``[0, 1, 2]`` and ``max_dim: 1``, as in a config file. ``overrides`` is what was given with ``--config``
    (Snakemake's ``workflow.config_settings.config``); a top-level value is left as Snakemake read it.
    A string that reads as a number inside a list or mapping (``["001"]``) becomes the number: give such a
    value in a config file.
    """
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), dict):
            _apply_nested(config[key], value)
        elif isinstance(value, (Mapping, list)):
            config[key] = _reread(value)
    return config


def _apply_nested(config: dict, overrides: Mapping) -> None:
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), dict):
            _apply_nested(config[key], value)
        else:
            config[key] = _reread(value)


def export_package_path(src: str) -> None:
    """Put ``src`` first on PYTHONPATH, so that the rules' scripts (run in other processes, maybe
    in a conda env) import this checkout's package."""
    paths = [src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)


def config_datasets(config: dict) -> dsets.DatasetRegistry:
    """The datasets the config may name: the built-in ones, its ``imagefolders`` and its ``datasets``."""
    try:
        return dsets.dataset_registry(config.get("imagefolders"), config.get("datasets"))
    except (ValueError, dsets.DatasetUnavailableError) as err:  # the message names imagefolders.<name>.<key>
        raise ConfigError(str(err)) from None


def check_config(config: dict, registry: dsets.DatasetRegistry | None = None) -> None:
    """Raise ConfigError naming the offending key; the schema has already been applied.

    ``registry`` is :func:`config_datasets` of ``config`` (built here when not given).
    """
    check_finite(config)
    for section in ("imagefolders", "datasets"):
        for name in config.get(section, {}):
            check_path_name(name, f"{section}: dataset name {name!r}")
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
    if late and any(run_source(r) == "train" for r in config["runs"]):
        raise ConfigError(f"topology.epochs: {late} exceed training.epochs = {epochs}")
    for i, run in enumerate(config["runs"]):
        check_run_network(run, i)
        try:
            spec = registry.spec(run["dataset"])
        except ValueError as err:
            raise ConfigError(f"runs[{i}].dataset: {err}") from None
        if NetworkRef.from_run(run).is_builtin and not (spec.in_channels and spec.input_size):
            raise ConfigError(
                f"runs[{i}]: built-in network {run['network']!r} is built for the dataset's shape; declare "
                f"datasets.{run['dataset']}.in_channels and input_size"
            )
        if run_source(run) == "checkpoints":
            check_checkpoint_training(run, i, config)
            check_checkpoints(run, i, config)
        binarize = run.get("training", {}).get("binarize_class", config["training"].get("binarize_class"))
        if binarize is not None:
            try:
                effective_spec(spec, binarize)
            except ValueError as err:
                raise ConfigError(f"runs[{i}] training.binarize_class: {err}") from None
        activations = run_activations(config, run)
        if run.get("imported", False):  # the original's results: no dataset, no activations computed here
            continue
        subset = run.get("training", {}).get("subset", config["training"]["subset"])
        validation = run.get("training", {}).get("validation", config["training"].get("validation", 0.0))
        n_train = registry.split_size(run["dataset"], "train")
        try:
            trained_on = None if n_train is None else len(training_pool(n_train, subset, validation)[0])
        except ValueError as err:
            raise ConfigError(f"runs[{i}] training.validation: {err}") from None
        available = registry.split_size(run["dataset"], activations["split"])
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
        ref = NetworkRef.from_run(run)
        # the node count is known here for a built-in network's declared layers; any other network is not built
        # while the workflow parses, and its sample count is checked by the functional-graph stage instead
        known = ref.is_builtin and ref.layers is None
        n_nodes = run_size(run["network"], spec, activations["node_selection"]).n_nodes if known else 0
        too_few = too_few_samples(activations["n_samples"], n_nodes) if known else None
        if too_few:
            raise ConfigError(f"runs[{i}] activations.n_samples (run {run_name(run)!r}): {too_few}")
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
                run_name(r): registry.split_size(r["dataset"], "test")
                for r in config["runs"]
                if not r.get("imported", False)
            },
        )
        check_studies(config)
        check_early_stopping(config)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def run_source(run: dict) -> str:
    """How a configured run's results come about: ``train``, ``checkpoints`` or ``imported`` (module docstring)."""
    if run.get("imported", False):
        return "imported"
    return "checkpoints" if run.get("checkpoints") else "train"


def check_run_network(run: dict, i: int) -> None:
    """Raise ConfigError naming ``runs[i].<key>`` when the run's network, layers or source cannot work (no code runs)."""
    ref = NetworkRef.from_run(run)
    try:
        ref.check(f"runs[{i}].network")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if not ref.is_builtin and ref.layers is None and not run.get("imported", False):
        raise ConfigError(
            f"runs[{i}].layers: network {ref.name!r} is not built in: name the layers whose outputs become the "
            f"graph's nodes (module names or graph node names; `dnn-topology layers {ref.name}` lists them)"
        )
    if run.get("imported", False) and run.get("checkpoints"):
        raise ConfigError(
            f"runs[{i}]: 'imported' (the original code's DIPHA files) and 'checkpoints' (checkpoints to analyse) "
            "exclude each other"
        )


def checkpoint_path(pattern: str, trial: int, epoch: int) -> str:
    """The checkpoint file of ``trial`` and ``epoch`` of pattern ``runs[].checkpoints``.

    Examples
    --------
    >>> checkpoint_path("ckpt/seed{trial}/epoch_{epoch:03d}.pt", 1, 7)
    'ckpt/seed1/epoch_007.pt'
    """
    return pattern.format(trial=trial, epoch=epoch)


def check_checkpoints(run: dict, i: int, config: dict) -> None:
    """``runs[i].checkpoints``: a pattern with ``{epoch}`` (and ``{trial}`` when there are several trials), one
    existing file for every trial and topology epoch (a missing one is named now, before anything runs; files under
    ``results/`` are a trained run's, which the workflow makes)."""
    key = f"runs[{i}].checkpoints"
    pattern = run["checkpoints"]
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None}
    except ValueError as err:
        raise ConfigError(f"{key}: {pattern!r} is not a valid pattern ({err})") from None
    if fields - {"epoch", "trial"} or "epoch" not in fields:
        raise ConfigError(
            f"{key}: {pattern!r} may hold {{epoch}} (required) and {{trial}} only, not {sorted(fields - {'epoch', 'trial'})}"
        )
    trials = config.get("trials", [0])
    if "trial" not in fields and len(trials) > 1:
        raise ConfigError(
            f"{key}: {pattern!r} has no {{trial}} but trials lists {len(trials)} trials: add {{trial}} to the "
            "pattern, or set trials: [0]"
        )
    if Path(pattern).parts[0] == RESULTS:  # a trained run's checkpoints: the workflow makes them
        return
    missing = [
        checkpoint_path(pattern, t, e)
        for t in trials
        for e in config["topology"]["epochs"]
        if not os.path.isfile(checkpoint_path(pattern, t, e))
    ]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ConfigError(
            f"{key}: checkpoint files not found (relative to {os.getcwd()}): {', '.join(missing[:5])}{more} "
            "(topology.epochs and trials name the checkpoints analysed)"
        )


def check_checkpoint_training(run: dict, i: int, config: dict) -> None:
    """No training option of a run of checkpoints that only a training by the workflow could honour."""
    training = run.get("training", {})
    if training.get("subset", config["training"].get("subset", 1.0)) != 1.0:
        raise ConfigError(
            f"runs[{i}].training.subset: the run's checkpoints were trained elsewhere, on samples the workflow does "
            "not know; leave training.subset at 1"
        )


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
                "source": run_source(run),
                "checkpoints": run.get("checkpoints"),
            },
            "network": NetworkRef.from_run(run).params(),
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
