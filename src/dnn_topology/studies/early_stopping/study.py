"""The early-stopping study: when each stopping rule stops, post hoc, and what that costs in test accuracy.

For every run and trial of a study, the per-epoch results the workflow already computed (the training log,
the Betti summaries of the check epochs, the neural persistence of every epoch's weights) make one series
per rule (:mod:`.rules`); each rule is replayed over its series at the check epochs with the study's
patience, and its stopping epoch is compared with the baselines (``validation_loss``, ``last_epoch``).
Nothing is trained again: the workflow's DAG stays static.

Units and conventions
---------------------
* Accuracies are in **percent** (``*_pct``), their differences in **percentage points** (``*_pp``); losses
  are mean NLL (nats); ``beta1_peak_density`` is in percent of the node pairs (``density_pct_at_max`` of ``betti_summary.csv``);
  ``neural_persistence`` is the mean normalized neural persistence, in [0, 1]; epochs count from 0 (the
  initial weights).
* A rule that never fires trains to ``last_epoch`` (``training.epochs``); ``epochs_saved`` = last epoch -
  stopping epoch. ``restored_epoch`` is the rule's best check up to its stop (what a "restore best"
  implementation would keep), for reference.
* The run's best test accuracy is the maximum over epochs 1 .. last epoch of the training log;
  ``regret_pp`` = best - test accuracy at the stopping epoch.
* Intervals over trials are Student-t intervals of the mean (``confidence``, 0.95 by default), from the
  trials of one run; the paired differences (rule - baseline, per trial) get the same. The verdict of a
  rule against a baseline, on the test accuracy at the stopping epoch: ``better`` when the interval of the
  paired difference lies above 0, ``worse`` below, ``not distinguishable`` when it contains 0,
  ``same in every trial`` when every difference is 0, ``too few trials`` with one trial.
* The topological rules read only graphs built from training samples: the stage checks, from every check
  epoch's ``samples.csv`` and the trial's ``labels.csv``, that those samples are training samples of the
  split the network trained on and none is a validation sample, and stops with an error otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ...io_utils import atomic_path, get_logger
from ...layout import parse_epoch_path, parse_trial_path
from .config import STUDY_TABLES, TOPOLOGY_SERIES  # noqa: F401 (STUDY_TABLES re-exported)
from .neural_persistence import mean_normalized_by_epoch
from .rules import BASELINE_LAST, RULES, stopping_check

SERIES_COLUMNS = [
    "run",
    "trial",
    "epoch",
    "check",
    "train_loss",
    "train_acc_pct",
    "val_loss",
    "val_acc_pct",
    "test_loss",
    "test_acc_pct",
    "beta1_peak_density",
    "max_beta2",
    "neural_persistence",
]
STOP_COLUMNS = [
    "run",
    "trial",
    "rule",
    "patience",
    "stop_epoch",
    "fired",
    "epochs_saved",
    "test_acc_at_stop_pct",
    "restored_epoch",
    "test_acc_restored_pct",
    "best_test_acc_pct",
    "best_test_epoch",
    "regret_pp",
]
SUMMARY_METRICS = (
    "stop_epoch",
    "epochs_saved",
    "test_acc_at_stop_pct",
    "regret_pp",
    "test_acc_restored_pct",
    "fired",
)
BASELINES = ("validation_loss", BASELINE_LAST)
DIFFERENCE_METRICS = ("test_acc_at_stop_pct", "stop_epoch")
SWEEP_TIE_PP = 0.1  # patience values whose criterion is within this many pp of the best count as tied


class SampleLeakError(ValueError):
    """A topological rule's graph was built from a sample that is not a training sample of its network."""


# --------------------------------------------------------------------------- the series


def series_table(
    run: str,
    training: pd.DataFrame,
    summary: pd.DataFrame,
    persistence: Mapping[int, pd.DataFrame],
    check_epochs: Sequence[int],
) -> pd.DataFrame:
    """One row per trial and epoch of ``training`` (the run's ``training.csv``): the metrics and every
    rule's series (topology at the topology epochs only, NaN elsewhere); columns :data:`SERIES_COLUMNS`.

    ``summary`` is the run's ``betti_summary.csv``, ``persistence`` maps a trial to its neural persistence
    table. ``beta1_peak_density`` is NaN where beta_1 has no class at all (no peak to speak of).
    """
    out = training[["trial", "epoch", "train_loss", "val_loss", "test_loss"]].copy()
    for split in ("train", "val", "test"):
        column = f"{split}_acc_pct"
        out[column] = training[column] if column in training else np.nan
    if "val_loss" not in training:
        out["val_loss"] = np.nan
    for rule, (dim, column) in TOPOLOGY_SERIES.items():
        rows = summary[summary["dim"] == dim].set_index(["trial", "epoch"])
        values = rows[column].astype(float)
        if rule == "beta1_peak_density":
            values = values.where(rows["max_betti"] > 0)
        out[rule] = [values.get((t, e), np.nan) for t, e in zip(out["trial"], out["epoch"])]
    np_by_trial = {int(t): mean_normalized_by_epoch(table) for t, table in persistence.items()}
    out["neural_persistence"] = [
        np_by_trial[int(t)].get(e, np.nan) if int(t) in np_by_trial else np.nan
        for t, e in zip(out["trial"], out["epoch"])
    ]
    out["check"] = out["epoch"].isin(list(check_epochs))
    out.insert(0, "run", run)
    return out[SERIES_COLUMNS].sort_values(["trial", "epoch"], ignore_index=True)


def check_training_samples(samples: Sequence[str | Path], labels: Mapping[int, str | Path]) -> int:
    """Check that every topological graph was built from training samples only; return how many files.

    Parameters
    ----------
    samples : sequence of paths
        ``.../trial_<T>/epoch_<E>/samples.csv`` of the check epochs (``split``, ``index``, ``label``).
    labels : mapping of int to path
        trial -> its ``labels.csv`` (the kept training samples and the ``validation`` flag; an empty table
        when no control is active: every training sample was trained on, none held out).

    Raises
    ------
    SampleLeakError
        Naming the file: a sample of another split, outside the samples trained on, or a validation sample.
    """
    records = {int(t): pd.read_csv(p) for t, p in labels.items()}
    for path in samples:
        trial = parse_epoch_path(path).trial
        record = pd.read_csv(path)
        if not (record["split"] == "train").all():
            raise SampleLeakError(
                f"{path}: the graph of a topological stopping rule was built from {sorted(set(record['split']))} "
                "samples; it may read training samples only (activations.split: train)"
            )
        kept = records.get(trial)
        if kept is None:
            raise SampleLeakError(f"{path}: no labels.csv of trial {trial} to tell which samples were trained on")
        if len(kept):
            validation = kept["validation"] if "validation" in kept else pd.Series(False, index=kept.index)
            held = set(kept.loc[validation.astype(bool), "index"].tolist())
            trained = set(kept.loc[~validation.astype(bool), "index"].tolist())
            leaked = sorted(set(record["index"].tolist()) & held)
            if leaked:
                raise SampleLeakError(
                    f"{path}: validation samples {leaked[:10]} are in the graph of a topological rule"
                )
            outside = sorted(set(record["index"].tolist()) - trained)
            if outside:
                raise SampleLeakError(f"{path}: samples {outside[:10]} are not among those the network trained on")
    return len(samples)


# --------------------------------------------------------------------------- the stops


def _stop_row(
    run: str, trial: int, df: pd.DataFrame, rule: str, stop_epoch: int, fired: bool, restored, patience, last_epoch: int
) -> dict:
    """One row of :data:`STOP_COLUMNS` (``df``: one trial's series indexed by epoch)."""
    trained = df.loc[(df.index >= 1) & (df.index <= last_epoch), "test_acc_pct"]
    if trained.isna().all():
        raise ValueError(f"run {run}, trial {trial}: no test accuracy in epochs 1..{last_epoch}")
    best = float(trained.max())
    at_stop = float(df.loc[stop_epoch, "test_acc_pct"])
    return {
        "run": run,
        "trial": int(trial),
        "rule": rule,
        "patience": patience,
        "stop_epoch": int(stop_epoch),
        "fired": bool(fired),
        "epochs_saved": int(last_epoch - stop_epoch),
        "test_acc_at_stop_pct": at_stop,
        "restored_epoch": restored,
        "test_acc_restored_pct": np.nan if restored is None else float(df.loc[restored, "test_acc_pct"]),
        "best_test_acc_pct": best,
        "best_test_epoch": int(trained.idxmax()),
        "regret_pp": best - at_stop,
    }


def rule_stops(
    series: pd.DataFrame, rules: Sequence[str], patience: int, min_delta: Mapping[str, float], last_epoch: int
) -> pd.DataFrame:
    """Where each rule (and ``last_epoch``) stops, per run and trial of ``series``; columns :data:`STOP_COLUMNS`."""
    rows = []
    for (run, trial), df in series.groupby(["run", "trial"], sort=True):
        df = df.set_index("epoch").sort_index()
        checks = df[df["check"]]
        epochs = checks.index.to_numpy()
        for rule in rules:
            spec = RULES[rule]
            decision = stopping_check(
                checks[spec.series].to_numpy(dtype=float), spec.better, patience, min_delta.get(rule, 0.0)
            )
            stop_epoch = int(epochs[decision.stop_index]) if decision.fired else last_epoch
            restored = None if decision.best_index is None else int(epochs[decision.best_index])
            rows.append(_stop_row(run, trial, df, rule, stop_epoch, decision.fired, restored, patience, last_epoch))
        rows.append(_stop_row(run, trial, df, BASELINE_LAST, last_epoch, False, last_epoch, np.nan, last_epoch))
    return pd.DataFrame(rows, columns=STOP_COLUMNS)


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t interval of the mean of ``values`` (NaN bounds for fewer than 2 values).

    Examples
    --------
    >>> [round(v, 3) for v in t_interval([1.0, 2.0, 3.0])]
    [2.0, -0.484, 4.484]
    """
    from scipy import stats

    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def summarize_stops(stops: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per run, rule and metric (:data:`SUMMARY_METRICS`): ``n_trials``, ``mean``, ``ci_low``, ``ci_high``
    (``fired``: the fraction of trials in which the rule fired, without an interval)."""
    rows = []
    for (run, rule), df in stops.groupby(["run", "rule"], sort=False):
        for metric in SUMMARY_METRICS:
            values = df[metric].astype(float)
            mean, low, high = t_interval(values, confidence)
            if metric == "fired":
                low = high = math.nan
            rows.append(
                {
                    "run": run,
                    "rule": rule,
                    "metric": metric,
                    "n_trials": int(values.notna().sum()),
                    "mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    return pd.DataFrame(rows)


def verdict(differences: Sequence[float], low: float, high: float) -> str:
    """The verdict word of a paired difference (rule - baseline) and its interval (see the module docstring)."""
    d = np.asarray(differences, dtype=float)
    if len(d) and np.all(d == 0):
        return "same in every trial"
    if len(d) < 2 or math.isnan(low):
        return "too few trials"
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "not distinguishable"


def paired_differences(stops: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per run, rule and baseline (:data:`BASELINES`), the per-trial difference rule - baseline of each of
    :data:`DIFFERENCE_METRICS`: ``n_trials``, ``mean``, ``ci_low``, ``ci_high`` and (test accuracy only)
    ``verdict``."""
    rows = []
    for run, df in stops.groupby("run", sort=False):
        wide = {m: df.pivot(index="trial", columns="rule", values=m) for m in DIFFERENCE_METRICS}
        rules = [r for r in df["rule"].unique() if r != BASELINE_LAST]
        for baseline in BASELINES:
            if baseline not in wide["stop_epoch"]:
                continue
            for rule in rules:
                if rule == baseline:
                    continue
                for metric in DIFFERENCE_METRICS:
                    diff = (wide[metric][rule] - wide[metric][baseline]).to_numpy(dtype=float)
                    mean, low, high = t_interval(diff, confidence)
                    rows.append(
                        {
                            "run": run,
                            "rule": rule,
                            "baseline": baseline,
                            "metric": metric,
                            "n_trials": int(np.sum(~np.isnan(diff))),
                            "mean": mean,
                            "ci_low": low,
                            "ci_high": high,
                            "verdict": verdict(diff, low, high) if metric == "test_acc_at_stop_pct" else "",
                        }
                    )
    return pd.DataFrame(
        rows, columns=["run", "rule", "baseline", "metric", "n_trials", "mean", "ci_low", "ci_high", "verdict"]
    )


def patience_sweep(
    series: pd.DataFrame,
    rules: Sequence[str],
    candidates: Sequence[int],
    min_delta: Mapping[str, float],
    last_epoch: int,
) -> pd.DataFrame:
    """Each candidate patience's mean test accuracy at the stopping epoch and mean stopping epoch, per run and
    rule, and the criterion that chooses the patience (run ``all``, rule ``all``: the mean over runs, trials
    and the stopping rules, ``last_epoch`` left out); ``chosen`` marks :func:`choose_patience`'s pick."""
    n_checks = int(series.groupby(["run", "trial"])["check"].sum().min())
    rows = []
    for p in candidates:
        if p > n_checks:
            continue
        stops = rule_stops(series, rules, p, min_delta, last_epoch)
        stops = stops[stops["rule"] != BASELINE_LAST]
        for (run, rule), df in [*stops.groupby(["run", "rule"], sort=False), (("all", "all"), stops)]:
            rows.append(
                {
                    "patience": int(p),
                    "run": run,
                    "rule": rule,
                    "n": len(df),
                    "mean_test_acc_at_stop_pct": float(df["test_acc_at_stop_pct"].mean()),
                    "mean_stop_epoch": float(df["stop_epoch"].mean()),
                    "fired_fraction": float(df["fired"].mean()),
                }
            )
    sweep = pd.DataFrame(rows)
    sweep["chosen"] = False
    if len(sweep):
        chosen = choose_patience(sweep)
        sweep.loc[(sweep["patience"] == chosen) & (sweep["run"] == "all"), "chosen"] = True
    return sweep


def choose_patience(sweep: pd.DataFrame, tie_pp: float = SWEEP_TIE_PP) -> int:
    """The patience with the highest criterion of :func:`patience_sweep` (its ``all``/``all`` rows); values
    within ``tie_pp`` percentage points of the highest count as tied and the smallest of them is chosen."""
    overall = sweep[(sweep["run"] == "all") & (sweep["rule"] == "all")]
    best = overall["mean_test_acc_at_stop_pct"].max()
    return int(overall.loc[overall["mean_test_acc_at_stop_pct"] >= best - tie_pp, "patience"].min())


# --------------------------------------------------------------------------- the report


def _fmt(mean: float, low: float, high: float, digits: int = 1) -> str:
    if math.isnan(mean):
        return "--"
    if math.isnan(low):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def summary_markdown(
    study: str,
    summary: pd.DataFrame,
    differences: pd.DataFrame,
    patience: int,
    check_epochs: Sequence[int],
    confidence: float,
) -> str:
    """The study's tables in Markdown: per run, one row per rule (mean [interval] over trials)."""
    level = f"{100 * confidence:g}%"
    lines = [
        f"# Early stopping study `{study}`",
        "",
        f"Patience {patience} checks; check epochs {', '.join(map(str, check_epochs))}. Mean over trials "
        f"[{level} t-interval]. Accuracies in %, differences in percentage points (pp).",
    ]
    reads = {**{name: rule.reads for name, rule in RULES.items()}, BASELINE_LAST: "--"}
    for run, df in summary.groupby("run", sort=False):
        n = int(df["n_trials"].max())
        lines += [
            "",
            f"## {run} ({n} trials)",
            "",
            "| rule | reads | stop epoch | epochs saved | test acc. at stop (%) | regret (pp) | "
            "vs validation loss (pp) | verdict | vs last epoch (pp) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        cell = {(r["rule"], r["metric"]): (r["mean"], r["ci_low"], r["ci_high"]) for _, r in df.iterrows()}
        diff = differences[(differences["run"] == run) & (differences["metric"] == "test_acc_at_stop_pct")]
        for rule in df["rule"].unique():
            vs = {b: d for b, d in diff[diff["rule"] == rule].groupby("baseline")}
            vs_val = vs.get("validation_loss")
            vs_last = vs.get(BASELINE_LAST)
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"`{rule}`",
                        reads.get(rule, ""),
                        _fmt(*cell[(rule, "stop_epoch")]),
                        _fmt(*cell[(rule, "epochs_saved")]),
                        _fmt(*cell[(rule, "test_acc_at_stop_pct")]),
                        _fmt(*cell[(rule, "regret_pp")]),
                        "--" if vs_val is None else _fmt(*vs_val[["mean", "ci_low", "ci_high"]].iloc[0], digits=2),
                        "--" if vs_val is None else vs_val["verdict"].iloc[0],
                        "--" if vs_last is None else _fmt(*vs_last[["mean", "ci_low", "ci_high"]].iloc[0], digits=2),
                    ]
                )
                + " |"
            )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the stage


def _by_trial(paths: Sequence[str | Path], run: str) -> dict[int, Path]:
    """trial -> path of the per-trial files ``.../<run>/trial_<T>/<file>`` of ``run``."""
    parsed = [(parse_trial_path(p), Path(p)) for p in paths]
    return {where.trial: path for where, path in parsed if where.run == run}


def _write(df: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def early_stopping_stage(
    *,
    study: str,
    runs: Sequence[Mapping],
    training: Sequence[str | Path],
    summaries: Sequence[str | Path],
    persistence: Sequence[str | Path],
    labels: Sequence[str | Path],
    samples: Sequence[str | Path],
    epochs: Sequence[int],
    rules: Sequence[str],
    patience: int,
    min_delta: Mapping[str, float],
    patience_candidates: Sequence[int],
    last_epoch: int,
    confidence: float,
    series: str | Path,
    stops: str | Path,
    summary: str | Path,
    differences: str | Path,
    summary_md: str | Path,
    sweep: str | Path,
) -> pd.DataFrame:
    """Stage ``early_stopping``: every rule's stopping epoch per run and trial, and the study's tables.

    Parameters
    ----------
    study : str
        The study's name (in the Markdown title).
    runs : sequence of mapping
        ``name`` (``network``, ``dataset``) of each run of the study.
    training, summaries : sequence of paths
        Each run's ``training.csv`` and ``betti_summary.csv`` (``results/<run>/``), aligned with ``runs``.
    persistence, labels : sequence of paths
        Every run's and trial's ``trial_<T>/neural_persistence.csv`` and ``trial_<T>/labels.csv``.
    samples : sequence of paths
        Every run's, trial's and check epoch's ``samples.csv`` (checked: training samples only).
    epochs : sequence of int
        The check epochs.
    rules, patience, min_delta, patience_candidates, confidence
        The study's options (see :mod:`dnn_topology.studies.early_stopping.config`).
    last_epoch : int
        ``training.epochs``: where training ends without early stopping.
    series, stops, summary, differences, summary_md, sweep : str or Path
        Files to write (atomically): the series table, the stops, the summary over trials, the paired
        differences to the baselines, the Markdown tables and the patience sweep.

    Returns
    -------
    pandas.DataFrame
        The stops.
    """
    log = get_logger()
    frames = []
    for run, train_csv, summary_csv in zip(runs, training, summaries, strict=True):
        name = run["name"]
        label_files = _by_trial(labels, name)
        if any(rule in TOPOLOGY_SERIES for rule in rules):  # the rules that read activations
            run_samples = [p for p in samples if parse_epoch_path(p).run == name]
            log.info("run %s: %d samples.csv checked", name, check_training_samples(run_samples, label_files))
        persistence_tables = {t: pd.read_csv(p) for t, p in _by_trial(persistence, name).items()}
        frames.append(series_table(name, pd.read_csv(train_csv), pd.read_csv(summary_csv), persistence_tables, epochs))
    series_df = pd.concat(frames, ignore_index=True)
    stops_df = rule_stops(series_df, rules, patience, min_delta, last_epoch)
    summary_df = summarize_stops(stops_df, confidence)
    differences_df = paired_differences(stops_df, confidence)
    _write(series_df, series)
    _write(stops_df, stops)
    _write(summary_df, summary)
    _write(differences_df, differences)
    _write(patience_sweep(series_df, rules, patience_candidates, min_delta, last_epoch), sweep)
    with atomic_path(summary_md) as tmp:
        Path(tmp).write_text(summary_markdown(study, summary_df, differences_df, patience, epochs, confidence))
    for _, row in differences_df[differences_df["metric"] == "test_acc_at_stop_pct"].iterrows():
        log.info(
            "%s %s vs %s: %+.2f pp [%.2f, %.2f] (%s)",
            row["run"],
            row["rule"],
            row["baseline"],
            row["mean"],
            row["ci_low"],
            row["ci_high"],
            row["verdict"],
        )
    return stops_df
