"""Held-out evaluation of a generalization study: networks of a configuration the model never saw.

A study's ``held_out`` sets name runs that are never in the fit (the configuration check refuses a
run that is both, and this stage checks the fitted model and table again). After the fit, each
held-out network's test accuracy is estimated

* by the **topology model**, through the command a user runs, ``dnn-topology estimate-test-error
  --model model.json --diagram <its diagram.bin> --train-acc <its train accuracy> --json``, one call
  per (run, trial, epoch), in a subprocess; its answer is checked against the model evaluated
  in-process (they must agree to 1e-6 pp);
* by each **baseline** (:data:`~dnn_topology.studies.generalization.model.BASELINES`), fitted on the
  same rows as the model (the usable rows of the study table) and applied to the held-out rows.

Units and conventions
---------------------
* Accuracies, gaps and errors in percentage points (pp), as in
  :mod:`~dnn_topology.studies.generalization.model`. The gap of a run with permuted labels is its train
  accuracy measured against the labels it was trained on (some permuted) minus its test accuracy
  on the true test labels.
* A row that some model cannot estimate (a diagram without any pair of the features' dimension
  above the minimum persistence: the command refuses it) is left out for every model, so that all
  models are scored on the same rows; the left-out rows are listed in ``held_out.md``.
* **Metrics** per held-out set, for all study epochs (``epochs = all``) and for the last one alone
  (``epochs = last``, where the networks have fitted their training set): MAE, RMSE, R^2 of the
  test accuracy and of the gap, with bootstrap 95% intervals over held-out *networks* (run x trial,
  all their epochs together); the paired difference MAE(topology) - MAE(baseline) on the same
  resamples; and the **coverage** of the model's 95% prediction interval (the fraction of held-out
  rows whose test accuracy lies in it; nominal 0.95).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ...io_utils import atomic_path, get_logger
from ...layout import parse_epoch_path
from ...plots.tables import write_html
from . import model as gen

CLI_TOLERANCE_PP = 1e-6
KEYS = ["set", *gen.TABLE_KEYS]


def cli_command() -> list[str]:
    """The ``dnn-topology`` command of this environment: its console script, else ``python -m dnn_topology.cli``."""
    script = Path(sys.executable).with_name("dnn-topology")
    if script.is_file():
        return [str(script)]
    found = shutil.which("dnn-topology")
    return [found] if found else [sys.executable, "-m", "dnn_topology.cli"]


def cli_estimate(model: str | Path, diagram: str | Path, train_acc: float) -> dict:
    """``dnn-topology estimate-test-error --model MODEL --diagram DIAGRAM --train-acc PCT --json``, as a user runs it.

    Returns the command's JSON answer, or ``{"error": <its message>}`` when it refuses (exit status 2).
    """
    args = ["estimate-test-error", "--model", str(model), "--diagram", str(diagram)]
    args += ["--train-acc", repr(float(train_acc)), "--json"]
    proc = subprocess.run([*cli_command(), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        message = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit status {proc.returncode}"
        return {"error": message}
    return json.loads(proc.stdout)


def check_not_fitted(held_out: pd.DataFrame, fit_table: pd.DataFrame, model: Mapping) -> None:
    """Raise ValueError if any held-out run is among the model's or the study table's runs."""
    runs = set(held_out["run"])
    leaked = sorted(runs & (set(model["fitted_on"]["runs"]) | set(fit_table["run"])))
    if leaked:
        raise ValueError(f"held-out runs {leaked} are in the fit of study {model['study']!r}: not held out")


def topology_estimates(
    held_out: pd.DataFrame, diagrams: Mapping, model: Mapping, model_path: str | Path
) -> pd.DataFrame:
    """The topology model's estimate of each held-out row, through the command line (see :func:`cli_estimate`)."""
    out = []
    for _, row in held_out.iterrows():
        diagram = diagrams[(row["run"], int(row["trial"]), int(row["epoch"]))]
        answer = cli_estimate(model_path, diagram, float(row["train_acc_pct"]))
        entry = {
            "gap_est_pp": np.nan,
            "test_acc_est_pct": np.nan,
            "low_pct": np.nan,
            "high_pct": np.nan,
            "extrapolated": np.nan,
            "refused": "",
        }
        if "error" in answer:
            entry["refused"] = answer["error"]
        else:
            direct = gen.estimate(model, {f: row[f] for f in model["features"]}, float(row["train_acc_pct"]))
            if abs(direct["test_acc_pct"] - answer["test_acc_pct"]) > CLI_TOLERANCE_PP:
                raise ValueError(
                    f"dnn-topology estimate-test-error gives {answer['test_acc_pct']} % for {diagram}, the model "
                    f"evaluated on the study table's features {direct['test_acc_pct']} %: they must agree"
                )
            entry.update(
                gap_est_pp=answer["gap_pp"],
                test_acc_est_pct=answer["test_acc_pct"],
                low_pct=answer["low_pct"],
                high_pct=answer["high_pct"],
                extrapolated=bool(answer["extrapolated"]),
            )
        out.append(entry)
    return pd.DataFrame(out, index=held_out.index)


def held_out_predictions(
    fit_rows: pd.DataFrame,
    held_out: pd.DataFrame,
    diagrams: Mapping,
    model: Mapping,
    model_path: str | Path,
) -> pd.DataFrame:
    """One row per (held-out row, model): the topology model through the command line, the baselines
    fitted on ``fit_rows``; ``error_pp`` = estimated - true test accuracy; ``covered`` (topology only)
    whether the true test accuracy lies in the prediction interval."""
    topo = topology_estimates(held_out, diagrams, model, model_path)
    frames = []
    base = held_out[[*KEYS, "train_acc_pct", "test_acc_pct", "gap_pp"]]
    frame = base.copy()
    frame.insert(1, "model", "topology")
    for column in topo.columns:
        frame[column] = topo[column]
    frames.append(frame)
    for name, inputs in gen.BASELINES.items():
        frame = base.copy()
        frame.insert(1, "model", name)
        frame["gap_est_pp"] = np.nan
        finite = np.isfinite(held_out[list(inputs)].to_numpy(dtype=np.float64)).all(axis=1) if inputs else None
        rows = held_out if finite is None else held_out[finite]
        if len(rows):
            fitted = gen.fit_gap_model(fit_rows, inputs)
            frame.loc[rows.index, "gap_est_pp"] = gen.predict_gap(fitted, rows, inputs)
        frame["test_acc_est_pct"] = frame["train_acc_pct"] - frame["gap_est_pp"]
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["error_pp"] = out["test_acc_est_pct"] - out["test_acc_pct"]
    is_topology = out["model"] == "topology"
    inside = (out["low_pct"] <= out["test_acc_pct"]) & (out["test_acc_pct"] <= out["high_pct"])
    out["covered"] = np.where(is_topology, inside, np.nan)
    out.loc[is_topology & out["test_acc_est_pct"].isna(), "covered"] = np.nan
    out["network_id"] = out["run"] + "/trial_" + out["trial"].astype(str)
    return out


def _coverage(rows: pd.DataFrame, n_bootstrap: int, seed: int, level: float) -> dict:
    per_unit = rows.groupby("network_id")["covered"].agg(["sum", "count"])
    counts = gen.resample_counts(len(per_unit), n_bootstrap, seed)
    boot = (counts @ per_unit["sum"].to_numpy()) / (counts @ per_unit["count"].to_numpy())
    low, high = gen.percentile_interval(boot, level)
    return {
        "model": "topology",
        "metric": "coverage",
        "value": float(per_unit["sum"].sum() / per_unit["count"].sum()),
        "ci_low": float(low),
        "ci_high": float(high),
        "n_rows": int(per_unit["count"].sum()),
        "n_runs": len(per_unit),
    }


def held_out_metrics(predictions: pd.DataFrame, n_bootstrap: int = 2000, seed: int = 0, level: float = 0.95):
    """Metrics, paired MAE differences and coverage per (set, epochs, model); see the module docstring.

    Rows that some model could not estimate are left out for every model. Returns
    ``(metrics, differences, coverage, left_out)``.
    """
    estimated = predictions.groupby(KEYS)["test_acc_est_pct"].transform(lambda v: v.notna().all())
    left_out = predictions.loc[~estimated.astype(bool)]
    scored = predictions.loc[estimated.astype(bool)]
    last = scored["epoch"] == scored.groupby("set")["epoch"].transform("max")
    selections = {"all": scored, "last": scored[last]}
    metric_frames, difference_frames, coverage_rows = [], [], []
    for epochs, rows in selections.items():
        if rows.empty:
            continue
        rows = rows.assign(epochs=epochs)
        metric_frames.append(
            gen.metrics(rows, n_bootstrap, seed, level, by=("set", "epochs", "model"), unit="network_id")
        )
        difference_frames.append(
            gen.mae_differences(rows, "topology", n_bootstrap, seed, level, by=("set", "epochs"), unit="network_id")
        )
        for set_name, df in rows[rows["model"] == "topology"].groupby("set", sort=False):
            coverage_rows.append({"set": set_name, "epochs": epochs, **_coverage(df, n_bootstrap, seed, level)})
    return (
        pd.concat(metric_frames, ignore_index=True),
        pd.concat(difference_frames, ignore_index=True),
        pd.DataFrame(coverage_rows),
        left_out[left_out["model"] == "topology"][[*KEYS, "refused"]],
    )


def coverage_title(model: Mapping) -> str:
    """What the coverage is of: the model's prediction interval, as ``estimate-test-error`` computes it."""
    pi = model["prediction_interval"]
    return (
        f"Coverage of the model's {100 * pi['level']:.0f}% prediction interval (an estimate e minus the error "
        f"quantiles: e - ({pi['error_high_pp']:+.2f}) .. e - ({pi['error_low_pp']:+.2f}) pp, clipped to 0-100 %)"
    )


def coverage_frame(coverage: pd.DataFrame) -> pd.DataFrame:
    """The coverage rows of :func:`held_out_metrics` with text cells."""
    return pd.DataFrame(
        [
            {
                "set": r["set"],
                "epochs": r["epochs"],
                "coverage [95% interval]": f"{r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]",
                "rows": r["n_rows"],
                "networks": r["n_runs"],
            }
            for _, r in coverage.iterrows()
        ]
    )


def held_out_report(study: str, model: Mapping, sets: Mapping, metric_rows, differences, coverage, left_out) -> str:
    """``held_out.md``: what was held out, and the tables."""
    lines = [
        f"# Study {study}: held-out networks",
        "",
        f"Model fitted on {model['fitted_on']['rows']} rows of the runs {', '.join(model['fitted_on']['runs'])}; "
        "held-out runs (never in the fit): "
        + "; ".join(f"{name}: {', '.join(runs)}" for name, runs in sets.items())
        + ".",
        "",
        "Topology estimates through `dnn-topology estimate-test-error --model model.json --diagram ... "
        "--train-acc ... --json`; baselines fitted on the model's rows. Value [bootstrap 95% interval over "
        "held-out networks (run x trial)]; `epochs = last`: the last study epoch alone. Gap = train accuracy "
        "(against the labels trained on) - test accuracy.",
        "",
        gen.metrics_table(metric_rows, by=("set", "epochs", "model")),
        "",
        "MAE of the topology model minus each baseline's, paired bootstrap over held-out networks (< 0: topology better):",
        "",
        gen.differences_table(differences, by=("set", "epochs")),
        "",
        coverage_title(model) + ":",
        "",
        "| set | epochs | coverage [95% interval] | rows | networks |",
        "|---|---|---|---|---|",
        *(
            f"| {r['set']} | {r['epochs']} | {r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] | "
            f"{r['n_rows']} | {r['n_runs']} |"
            for _, r in coverage.iterrows()
        ),
        "",
    ]
    if len(left_out):
        lines += [f"{len(left_out)} held-out rows left out for every model (the command refused them):", ""]
        lines += [
            f"* {r['set']} {r['run']} trial {r['trial']} epoch {r['epoch']}: {r['refused']}"
            for _, r in left_out.iterrows()
        ]
        lines.append("")
    return "\n".join(lines)


def generalization_held_out_stage(
    *,
    study: str,
    table: str | Path,
    model: str | Path,
    held_out: Mapping[str, Sequence[Mapping]],
    training: Sequence,
    summaries: Sequence,
    weights: Sequence,
    diagrams: Sequence,
    max_dim: int,
    min_persistence: float,
    held_out_table: str | Path,
    predictions: str | Path,
    metrics_csv: str | Path,
    report: str | Path,
    report_html: str | Path | None = None,
    bootstrap: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Stage ``generalization_held_out``: the fitted model and the baselines on the held-out runs.

    Parameters
    ----------
    study : str
        The study's name.
    table, model : str or Path
        The study table and the fitted model (``model.json``) of the study.
    held_out : mapping
        Set name -> its runs (``name``, ``network``, ``dataset`` each).
    training, summaries, weights : sequence of paths
        Each held-out run's ``training.csv``, ``betti_summary.csv`` and ``weight_norms.csv``, in the order
        of the sets and their runs.
    diagrams : sequence of paths
        The held-out runs' ``diagram.bin`` of the study epochs.
    max_dim, min_persistence
        As for the study table.
    held_out_table, predictions, metrics_csv, report, report_html : str or Path
        Files to write: the held-out rows (as the study table, with ``set``), the estimates of every
        model, the metrics (with the paired differences and the coverage), ``held_out.md`` and its HTML
        page for the report (``held_out.html``, optional).
    bootstrap, seed : int
        Bootstrap resamples of held-out networks and their seed.

    Returns
    -------
    pandas.DataFrame
        The metrics.
    """
    log = get_logger()
    fitted = gen.read_model(model)
    fit_table = pd.read_csv(table)
    fit_rows = fit_table[gen.usable_mask(fit_table, fitted["features"])].reset_index(drop=True)
    runs = [dict(r, set=name) for name, set_runs in held_out.items() for r in set_runs]
    rows = gen.study_table_from_files(runs, training, summaries, diagrams, max_dim, min_persistence, weights)
    rows.insert(0, "set", rows["run"].map({r["name"]: r["set"] for r in runs}))
    check_not_fitted(rows, fit_table, fitted)
    with atomic_path(held_out_table) as tmp:
        rows.to_csv(tmp, index=False)
    by_key = {}
    for path in diagrams:
        where = parse_epoch_path(path)
        by_key[(where.run, where.trial, where.epoch)] = path
    out = held_out_predictions(fit_rows, rows, by_key, fitted, model)
    metric_rows, differences, coverage, left_out = held_out_metrics(out, bootstrap, seed)
    if len(left_out):
        log.warning("%d held-out rows left out for every model: %s", len(left_out), left_out.to_dict("records"))
    with atomic_path(predictions) as tmp:
        out.to_csv(tmp, index=False)
    with atomic_path(metrics_csv) as tmp:
        pd.concat([metric_rows, differences, coverage], ignore_index=True).to_csv(tmp, index=False)
    text = held_out_report(
        study,
        fitted,
        {k: [r["name"] for r in v] for k, v in held_out.items()},
        metric_rows,
        differences,
        coverage,
        left_out,
    )
    with atomic_path(report) as tmp:
        Path(tmp).write_text(text)
    if report_html is not None:
        sections = [
            ("", gen.metrics_frame(metric_rows, by=("set", "epochs", "model"))),
            (
                "MAE of the topology model minus each baseline's (paired bootstrap over held-out networks)",
                gen.differences_frame(differences, by=("set", "epochs")),
            ),
            (coverage_title(fitted), coverage_frame(coverage)),
        ]
        if len(left_out):
            sections.append(("rows the command refused (left out for every model)", left_out))
        write_html(
            report_html,
            f"generalization study {study}: held-out networks",
            sections,
            note="Value [bootstrap 95% interval over held-out networks (run x trial)]; MAE and RMSE in percentage "
            "points; epochs = last: the last study epoch alone. Held-out runs are never in the fit.",
        )
    log.info("%s", text)
    return metric_rows
