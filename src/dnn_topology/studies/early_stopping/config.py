"""The early-stopping study's configuration (config key ``early_stopping``): options, defaults, file names, checks.

Pandas-free and torch-free: the workflow imports this module while it parses. The study itself is in
:mod:`dnn_topology.studies.early_stopping.study`.

Each study is ``{name, runs, epochs, rules, patience, min_delta, patience_candidates, confidence}``:

* ``runs``: the runs evaluated (default: every trained run); each must build its graphs from training
  samples (``activations.split: train``) and, for the ``validation_loss`` baseline, hold out a validation
  split (``training.validation > 0``);
* ``epochs``: the **check epochs**, where every rule looks at its series (default: ``topology.epochs``
  without epoch 0, the untrained network); each one of ``topology.epochs``;
* ``rules``: the stopping rules evaluated (default: all of :data:`.rules.RULES`); ``last_epoch`` is always
  reported as the other baseline;
* ``patience``: checks without improvement that stop training, the same for every rule (default 3);
* ``min_delta``: per rule, the smallest improvement that counts (default 0 for every rule);
* ``patience_candidates``: the patience values of ``patience_sweep.csv`` (default 1 to 6);
* ``confidence``: the level of the intervals over trials (default 0.95).
"""

from __future__ import annotations

from collections.abc import Mapping

from ...layout import STOPPING_TABLES as STUDY_TABLES  # noqa: F401 (the study's files, named in the layout)
from ...layout import run_name
from ..study_runs import check_study_runs
from .rules import RULES

# the topology a rule reads from betti_summary.csv: rule -> (homology dimension, summary column)
TOPOLOGY_SERIES = {"beta1_peak_density": (1, "density_pct_at_max"), "max_beta2": (2, "max_betti")}
DEFAULTS = {"patience": 3, "min_delta": {}, "patience_candidates": [1, 2, 3, 4, 5, 6], "confidence": 0.95}


def early_stopping_options(config: Mapping) -> dict[str, dict]:
    """Study name -> its options with the defaults (see the module docstring) and ``last_epoch``
    (``training.epochs``), ``min_delta`` for every rule, and ``run_table`` (name, network, dataset)."""
    trained = [run_name(r) for r in config["runs"] if not r.get("imported", False)]
    checks = [e for e in sorted(config["topology"]["epochs"]) if e > 0]
    studies = {}
    for study in config.get("early_stopping", []):
        options = {**DEFAULTS, "runs": trained, "epochs": checks, "rules": list(RULES), **study}
        options["epochs"] = sorted(options["epochs"])
        options["min_delta"] = {rule: float(options["min_delta"].get(rule, 0.0)) for rule in options["rules"]}
        options["patience_candidates"] = sorted(set(options["patience_candidates"]))
        options["last_epoch"] = int(config["training"]["epochs"])
        options["run_table"] = [
            {"name": run_name(r), "network": r["network"], "dataset": r["dataset"]}
            for name in options["runs"]
            for r in config["runs"]
            if run_name(r) == name
        ]
        studies[study["name"]] = options
    return studies


def _run_setting(config: Mapping, run: Mapping, section: str, key: str):
    return run.get(section, {}).get(key, config[section][key])


def check_early_stopping(config: Mapping) -> None:
    """Raise ValueError naming the ``early_stopping[i]`` key of a study the workflow cannot run."""
    runs = {run_name(r): r for r in config["runs"]}
    names = [s["name"] for s in config.get("early_stopping", [])]
    for i, (name, study) in enumerate(early_stopping_options(config).items()):
        key = f"early_stopping[{i}]"
        check_study_runs(key, name, names, study["runs"], runs)
        if not study["runs"]:
            raise ValueError(f"{key}.runs: no trained run to evaluate")
        unknown_rules = [r for r in study["rules"] if r not in RULES]
        if unknown_rules:
            raise ValueError(f"{key}.rules: {unknown_rules} are not stopping rules (rules are {list(RULES)})")
        stray = sorted(set(config["early_stopping"][i].get("min_delta", {})) - set(study["rules"]))
        if stray:
            raise ValueError(f"{key}.min_delta: {stray} are not among the study's rules {study['rules']}")
        if not study["epochs"]:
            raise ValueError(f"{key}.epochs: no check epoch (topology.epochs has none after epoch 0)")
        missing = [e for e in study["epochs"] if e not in config["topology"]["epochs"]]
        if missing:
            raise ValueError(f"{key}.epochs: {missing} are not in topology.epochs")
        if study["patience"] > len(study["epochs"]):
            raise ValueError(
                f"{key}.patience: {study['patience']} checks, but the study has only {len(study['epochs'])} "
                "check epochs: no rule could ever stop"
            )
        for rule in study["rules"]:
            dim = TOPOLOGY_SERIES.get(rule, (0, ""))[0]
            if dim > config["topology"]["max_dim"]:
                raise ValueError(
                    f"{key}.rules: {rule} reads beta_{dim}, but topology.max_dim is {config['topology']['max_dim']}"
                )
        for r in study["runs"]:
            split = _run_setting(config, runs[r], "activations", "split")
            if split != "train" and any(rule in TOPOLOGY_SERIES for rule in study["rules"]):
                raise ValueError(
                    f"{key}: run {r!r} has activations.split = {split!r}; a topological stopping rule may read "
                    "training samples only (activations.split: train), never a test sample"
                )
            if "validation_loss" in study["rules"] and not _run_setting(config, runs[r], "training", "validation"):
                raise ValueError(
                    f"{key}: run {r!r} has no validation split (training.validation = 0); the validation_loss "
                    "baseline needs one (e.g. training.validation: 0.2), or leave it out of rules"
                )
