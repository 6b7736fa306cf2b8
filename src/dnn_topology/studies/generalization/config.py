"""The generalization study's configuration: its options, defaults, file names and checks.

Pandas-free and torch-free: the workflow imports this module while it parses (every ``snakemake`` call,
and every cluster job, parses the workflow again). The study itself is in
:mod:`dnn_topology.studies.generalization.model`, which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...layout import HELD_OUT_TABLES, STUDY_FIGURES, STUDY_TABLES, run_name  # noqa: F401 (file names, re-exported)
from ...networks.samples import run_activations
from ...topology import features as dfeat
from ..study_runs import check_study_runs

DEFAULT_FEATURES = ("life_h1", "midlife_h1")
# topology parameters that must be equal for a diagram's features to be comparable with a model's
MATCHED_PARAMETERS = ("split", "n_samples", "node_selection", "max_epsilon")

STUDY_DEFAULTS = {
    "features": list(DEFAULT_FEATURES),
    "min_persistence": 0.02,
    "bootstrap": 2000,
    "seed": 0,
    "held_out": {},
}


def topology_parameters(activations: Mapping, topology: Mapping) -> dict:
    """The parameters that a diagram's features depend on (recorded next to each study diagram)."""
    return {
        "split": activations["split"],
        "n_samples": int(activations["n_samples"]),
        "node_selection": dict(activations["node_selection"]),
        "max_dim": int(topology["max_dim"]),
        "max_epsilon": float(topology["max_epsilon"]),
    }


def _run_table(config: Mapping, names) -> list[dict]:
    return [
        {"name": run_name(r), "network": r["network"], "dataset": r["dataset"]}
        for name in names
        for r in config["runs"]
        if run_name(r) == name
    ]


def held_out_runs(study: Mapping) -> list[str]:
    """Every run of a study's held-out sets (``held_out``: set name -> runs), in the sets' order."""
    return [r for runs in study.get("held_out", {}).values() for r in runs]


def study_options(config: Mapping) -> dict[str, dict]:
    """Study name -> its options with defaults: ``runs`` (the runs the model is fitted on; default:
    every trained run that is not held out), ``held_out`` (set name -> runs evaluated after the fit,
    never in it), ``epochs`` (default ``topology.epochs``), ``features``, ``min_persistence``,
    ``bootstrap``, ``seed``, ``topology`` (the parameters the model is fitted under), and
    ``run_table`` / ``held_out_table`` (name, network and dataset of each run)."""

    trained = [run_name(r) for r in config["runs"] if not r.get("imported", False)]
    studies = {}
    for study in config.get("generalization", []):
        held_out = held_out_runs(study)
        fit = [r for r in trained if r not in held_out]
        options = {**STUDY_DEFAULTS, "runs": fit, "epochs": sorted(config["topology"]["epochs"]), **study}
        options["epochs"] = sorted(options["epochs"])
        options["held_out"] = {name: list(runs) for name, runs in options["held_out"].items()}
        options["run_table"] = _run_table(config, options["runs"])
        options["held_out_table"] = {name: _run_table(config, runs) for name, runs in options["held_out"].items()}
        first = next(r for r in config["runs"] if run_name(r) == options["runs"][0]) if options["runs"] else None
        if first is not None:
            options["topology"] = {
                **topology_parameters(run_activations(config, first), config["topology"]),
                "min_persistence": float(options["min_persistence"]),
            }
        studies[study["name"]] = options
    return studies


def check_studies(config: Mapping) -> None:
    """Raise ValueError naming the ``generalization[i]`` key of a study the workflow cannot run."""

    runs = {run_name(r): r for r in config["runs"]}
    names = [s["name"] for s in config.get("generalization", [])]
    for i, (name, study) in enumerate(study_options(config).items()):
        key = f"generalization[{i}]"
        check_study_runs(key, name, names, study["runs"], runs)
        if len(study["runs"]) < 2:
            raise ValueError(f"{key}.runs: leave-one-run-out needs at least 2 runs, got {study['runs']}")
        held_out = held_out_runs(study)
        for set_name, set_runs in study["held_out"].items():
            where = f"{key}.held_out.{set_name}"
            unknown = [r for r in set_runs if r not in runs]
            if unknown:
                raise ValueError(f"{where}: {unknown} are not run names (runs are {sorted(runs)})")
            in_fit = [r for r in set_runs if r in study["runs"]]
            if in_fit:
                raise ValueError(
                    f"{where}: {in_fit} are also in the fit ({key}.runs); a held-out run is never fitted on"
                )
            twice = sorted({r for r in set_runs if held_out.count(r) > 1})
            if twice:
                raise ValueError(f"{where}: {twice} are held out more than once (in one set, or in two)")
        late = [e for e in study["epochs"] if e not in config["topology"]["epochs"]]
        if late:
            raise ValueError(f"{key}.epochs: {late} are not in topology.epochs")
        imported = [r for r in held_out if runs[r].get("imported", False)]
        if imported:
            raise ValueError(f"{key}.held_out: {imported} are imported runs, without the training log the study needs")
        for r in [*study["runs"], *held_out]:
            params = topology_parameters(run_activations(config, runs[r]), config["topology"])
            if params["split"] != "train":
                raise ValueError(
                    f"{key}: run {r!r} has activations.split = {params['split']!r}; the study estimates "
                    "the test error without a test set, so its graphs must come from training samples "
                    "(activations.split: train)"
                )
            differ = {k: v for k, v in params.items() if study["topology"][k] != v}
            if differ:
                raise ValueError(
                    f"{key}: run {r!r} differs from run {study['runs'][0]!r} in {sorted(differ)}; a "
                    "study's runs must share their topology parameters (one model, one set)"
                )
        bad = [
            f
            for f in study["features"]
            if dfeat.parse_feature_name(f) is None or dfeat.parse_feature_name(f)[1] > config["topology"]["max_dim"]
        ]
        if bad:
            raise ValueError(
                f"{key}.features: {bad} are not diagram features of dimension <= topology.max_dim "
                f"({config['topology']['max_dim']}); use <kind>_h<k> with kind one of {list(dfeat.FEATURE_KINDS)}"
            )
