"""Generalization study: estimate a network's test accuracy without a test set (CVPR 2020).

For many trained networks and epochs, the persistence diagram of the functional graph built from
*training* samples is summarised by diagram features (life and midlife of H1 by default, see
:mod:`dnn_topology.topology.features`), and a linear function g of them is fitted to the
generalization gap. A network's test accuracy is then estimated as ``train_acc_pct - g(features)``.

Units and conventions
---------------------
* Accuracies are in **percent** (columns ``train_acc_pct``, ``test_acc_pct``, as in ``training.csv``);
  the gap ``gap_pp = train_acc_pct - test_acc_pct`` and every error metric are in **percentage points**
  (pp). Losses are mean negative log-likelihoods (nats). Diagram features are in DIPHA's epsilon units.
* The study table has one row per (run, trial, epoch). The test accuracy is only ever a target:
  no model reads it as an input.
* **Grouped cross-validation.** ``leave_one_run_out``: each fold holds out every row (all trials and
  epochs) of one run, so a run never sits on both sides. ``leave_one_network_out``: each fold holds
  out every run of one network (only when the study has two or more networks).
* **Models**, each scored on the same rows and folds:
  ``topology`` (linear fit of the gap on the study's features), ``mean_gap`` (the training folds'
  mean gap), ``train_acc`` (linear fit of the gap on the train accuracy alone), ``train_loss``
  (on the train loss alone) and ``weight_l2`` (on the L2 norm of the weights, Tan et al. 2024; see
  :mod:`dnn_topology.studies.generalization.weights`).
* **Metrics** of the estimated test accuracy: MAE and RMSE (pp), R^2 of the test accuracy and R^2 of
  the gap, each with a percentile bootstrap 95% interval over runs (runs resampled with
  replacement, all their rows together).
* **Differences**: MAE(topology) - MAE(baseline) per baseline, with a *paired* bootstrap 95% interval
  (the same resamples of runs for both models); an interval entirely below 0 means the topology
  model's errors are smaller than that baseline's on these rows.
* **Prediction interval** of the fitted model: the 2.5% and 97.5% quantiles of its
  leave-one-run-out out-of-fold errors (estimated - true test accuracy); a test accuracy is an estimate
  minus its error, so the interval of an estimate ``e`` is ``e - q97.5 .. e - q2.5``, clipped to 0..100 %.
* Runs of a configuration the model never saw (the study's ``held_out`` sets) are evaluated after the
  fit by :mod:`dnn_topology.studies.generalization.held_out`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ...io_utils import atomic_path, get_logger
from ...layout import parse_epoch_path
from ...topology import features as dfeat
from .config import (  # noqa: F401 (re-exported: the study's configuration, pandas-free)
    DEFAULT_FEATURES,
    MATCHED_PARAMETERS,
    STUDY_DEFAULTS,
    STUDY_FIGURES,
    STUDY_TABLES,
    check_studies,
    run_activations,
    study_options,
    topology_parameters,
)

MODEL_FORMAT = "dnn-topology generalization model"
MODEL_VERSION = 1
BASELINES: dict[str, tuple[str, ...]] = {
    "mean_gap": (),
    "train_acc": ("train_acc_pct",),
    "train_loss": ("train_loss",),
    "weight_l2": ("weight_l2",),
}
CV_SCHEMES = {"leave_one_run_out": "run", "leave_one_network_out": "network"}
METRICS = ("mae_pp", "rmse_pp", "r2_test_acc", "r2_gap")
TABLE_KEYS = ["run", "network", "dataset", "trial", "epoch"]
INPUT_UNITS = {
    "train_acc_pct": "percent",
    "train_loss": "mean NLL (nats)",
    "weight_l2": "L2 norm of all trainable parameters",
}


class TopologyMismatchError(ValueError):
    """A diagram computed under other topology parameters than a model's."""


def write_topology_parameters(path: str | Path, parameters: Mapping) -> None:
    """Write the topology parameters of diagrams (the ``topology.json`` of a run's folder)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(dict(parameters), indent=2, sort_keys=True) + "\n")


def diagram_topology_stage(*, parameters: str | Path, activations: Mapping, topology: Mapping, run: str) -> None:
    """Stage ``diagram_topology``: record the topology parameters of a run's diagrams.

    Parameters
    ----------
    parameters : str or Path
        File to write, ``results/<run>/topology.json`` (read by ``dnn-topology estimate-test-error``).
    activations, topology : mapping
        The run's ``activations`` options and the config's ``topology`` section.
    run : str
        The run's name (recorded too).
    """
    write_topology_parameters(parameters, {**topology_parameters(activations, topology), "run": run})


def read_topology_parameters(path: str | Path) -> dict:
    """Read a ``topology.json`` sidecar written by :func:`write_topology_parameters`."""
    path = Path(path)
    try:
        parameters = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a topology-parameters JSON file ({err})") from None
    if not isinstance(parameters, dict):
        raise ValueError(f"{path}: not a topology-parameters JSON file (not a mapping of parameters)")
    return parameters


# --------------------------------------------------------------------------- the study table


def wide_betti_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """``betti_summary.csv`` (one row per trial, epoch and dim) as one row per trial and epoch.

    Columns become ``<summary>_h<dim>`` (e.g. ``auc_density_h1``); ``mean_life``/``mean_midlife``
    are left out (the diagram features replace them, with the study's minimum persistence).
    """
    value_cols = [c for c in summary.columns if c not in ("run", "trial", "epoch", "dim", "mean_life", "mean_midlife")]
    wide = summary.pivot(index=["trial", "epoch"], columns="dim", values=value_cols)
    wide.columns = [f"{name}_h{dim}" for name, dim in wide.columns]
    return wide.reset_index()


def run_rows(
    run: str,
    network: str,
    dataset: str,
    training: pd.DataFrame,
    summary: pd.DataFrame,
    diagrams: Mapping[tuple[int, int], str | Path],
    max_dim: int,
    min_persistence: float,
    weights: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The study rows of one run: one per (trial, epoch) of ``diagrams``.

    ``training`` is the run's ``training.csv`` (accuracies in percent, as the training stage writes
    them), ``summary`` its ``betti_summary.csv``, ``diagrams`` maps (trial, epoch) to a diagram file,
    ``weights`` its ``weight_norms.csv`` (the ``weight_l2`` column; left out when None).
    """
    rows = []
    for (trial, epoch), path in sorted(diagrams.items()):
        rows.append(
            {"trial": int(trial), "epoch": int(epoch), **dfeat.diagram_file_features(path, max_dim, min_persistence)}
        )
    feats = pd.DataFrame(rows)
    metrics = training[["trial", "epoch", "train_loss", "train_acc_pct", "test_loss", "test_acc_pct"]].copy()
    metrics["gap_pp"] = metrics["train_acc_pct"] - metrics["test_acc_pct"]
    table = feats.merge(metrics, on=["trial", "epoch"], how="left", validate="one_to_one")
    missing = table["train_acc_pct"].isna()
    if missing.any():
        pairs = table.loc[missing, ["trial", "epoch"]].to_records(index=False).tolist()
        raise ValueError(f"run {run}: no training metrics for (trial, epoch) {pairs}")
    if weights is not None:
        table = table.merge(weights[["trial", "epoch", "weight_l2"]], on=["trial", "epoch"], how="left")
        missing = table["weight_l2"].isna()
        if missing.any():
            pairs = table.loc[missing, ["trial", "epoch"]].to_records(index=False).tolist()
            raise ValueError(f"run {run}: no weight norm for (trial, epoch) {pairs}")
    wide = wide_betti_summary(summary)
    # n_essential_h<k> is a diagram feature too (the same count): one column, the feature's
    wide = wide.drop(columns=[c for c in wide.columns if c in table.columns and c not in ("trial", "epoch")])
    table = table.merge(wide, on=["trial", "epoch"], how="left")
    table.insert(0, "dataset", dataset)
    table.insert(0, "network", network)
    table.insert(0, "run", run)
    return table


def study_table(runs: Sequence[Mapping], max_dim: int, min_persistence: float) -> pd.DataFrame:
    """One row per (run, trial, epoch) of every run of a study.

    Each item of ``runs`` has ``run``, ``network``, ``dataset``, ``training`` (path of the run's
    ``training.csv``), ``summary`` (its ``betti_summary.csv``), ``diagrams`` ((trial, epoch) ->
    diagram path) and optionally ``weights`` (its ``weight_norms.csv``).
    """
    frames = [
        run_rows(
            r["run"],
            r["network"],
            r["dataset"],
            pd.read_csv(r["training"]),
            pd.read_csv(r["summary"]),
            r["diagrams"],
            max_dim,
            min_persistence,
            pd.read_csv(r["weights"]) if r.get("weights") is not None else None,
        )
        for r in runs
    ]
    table = pd.concat(frames, ignore_index=True)
    first = TABLE_KEYS + ["train_acc_pct", "test_acc_pct", "gap_pp", "train_loss", "test_loss"]
    first += ["weight_l2"] if "weight_l2" in table.columns else []
    return table[first + [c for c in table.columns if c not in first]]


# --------------------------------------------------------------------------- cross-validation


def grouped_folds(groups: Sequence) -> list[tuple[np.ndarray, np.ndarray]]:
    """Leave-one-group-out folds ``(train_rows, test_rows)``: every row of a group is on one side.

    One fold per distinct group, in sorted group order (scikit-learn's ``LeaveOneGroupOut``).
    """
    from sklearn.model_selection import LeaveOneGroupOut  # scikit-learn (seconds to import): the fit's alone

    groups = np.asarray(groups)
    if len(np.unique(groups)) < 2:
        raise ValueError(f"grouped cross-validation needs at least 2 groups, got {len(np.unique(groups))}")
    return list(LeaveOneGroupOut().split(np.zeros(len(groups)), groups=groups))


def _regressor(features: Sequence[str]):
    # scikit-learn is the fit's alone: the diagram_topology and table jobs, and estimate-test-error, import this module
    from sklearn.dummy import DummyRegressor
    from sklearn.linear_model import LinearRegression

    return LinearRegression() if features else DummyRegressor(strategy="mean")


def _design(table: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    if not features:
        return np.zeros((len(table), 1))
    return table[list(features)].to_numpy(dtype=np.float64)


def fit_gap_model(table: pd.DataFrame, inputs: Sequence[str]):
    """A linear fit of the gap on the columns ``inputs`` of ``table`` (the mean gap when there are none)."""
    return _regressor(inputs).fit(_design(table, inputs), table["gap_pp"].to_numpy(dtype=np.float64))


def predict_gap(fitted, table: pd.DataFrame, inputs: Sequence[str]) -> np.ndarray:
    """The gap (pp) that a :func:`fit_gap_model` fit estimates for the rows of ``table``."""
    return fitted.predict(_design(table, inputs))


def model_features(features: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Model name -> the inputs of its linear fit: ``topology`` then the baselines."""
    return {"topology": tuple(features), **BASELINES}


def skipped_schemes(table: pd.DataFrame) -> dict[str, str]:
    """CV scheme -> why it is not computed on ``table``: a scheme holds out one group at a time (a run, a
    network), so it needs at least 2 groups (a study of one network has no leave-one-network-out)."""
    skipped = {}
    for cv, column in CV_SCHEMES.items():
        groups = sorted(table[column].astype(str).unique())
        if len(groups) < 2:
            skipped[cv] = (
                f"not computed: every run of the study is of one {column} ({', '.join(groups) or 'none'}); "
                f"{cv} holds out one {column} at a time and needs at least 2"
            )
    return skipped


def out_of_fold(table: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Out-of-fold estimates of every model under every applicable grouped CV scheme (the others:
    :func:`skipped_schemes`).

    Returns one row per (cv, model, table row): the keys, ``train_acc_pct``, ``test_acc_pct``, ``gap_pp``,
    ``gap_est_pp``, ``test_acc_est_pct`` (= train_acc_pct - gap_est_pp) and ``error_pp``
    (= test_acc_est_pct - test_acc_pct).
    """
    out = []
    y = table["gap_pp"].to_numpy(dtype=np.float64)
    for cv, column in CV_SCHEMES.items():
        if table[column].nunique() < 2:
            continue
        folds = grouped_folds(table[column].to_numpy())
        for model, inputs in model_features(features).items():
            X = _design(table, inputs)
            gap_est = np.full(len(table), np.nan)
            for train_rows, test_rows in folds:
                reg = _regressor(inputs).fit(X[train_rows], y[train_rows])
                gap_est[test_rows] = reg.predict(X[test_rows])
            frame = table[TABLE_KEYS + ["train_acc_pct", "test_acc_pct", "gap_pp"]].copy()
            frame.insert(0, "model", model)
            frame.insert(0, "cv", cv)
            frame["gap_est_pp"] = gap_est
            frame["test_acc_est_pct"] = frame["train_acc_pct"] - gap_est
            frame["error_pp"] = frame["test_acc_est_pct"] - frame["test_acc_pct"]
            out.append(frame)
    return pd.concat(out, ignore_index=True)


# --------------------------------------------------------------------------- metrics


def _metric_values(n, abs_err, sq_err, s_test, s2_test, s_gap, s2_gap) -> dict[str, np.ndarray]:
    """Metrics from (possibly bootstrap-weighted) sums; each argument may be an array.

    R^2 is NaN where the target does not vary (one row, or a resample of one network's single row):
    the sum of squares is then 0 up to rounding, and 1 - SSE / SS would be meaningless."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ss_test = s2_test - s_test**2 / n
        ss_gap = s2_gap - s_gap**2 / n
        ss_test = np.where(ss_test > 1e-9 * np.maximum(s2_test, 1e-300), ss_test, np.nan)
        ss_gap = np.where(ss_gap > 1e-9 * np.maximum(s2_gap, 1e-300), ss_gap, np.nan)
        return {
            "mae_pp": abs_err / n,
            "rmse_pp": np.sqrt(sq_err / n),
            "r2_test_acc": 1 - sq_err / ss_test,
            "r2_gap": 1 - sq_err / ss_gap,
        }


def _unit_sums(df: pd.DataFrame, unit: str) -> pd.DataFrame:
    """Per resampling unit: row count, sums of |error|, error^2, test accuracy, gap and their squares."""
    e = df["error_pp"].to_numpy()
    return (
        pd.DataFrame(
            {
                "unit": df[unit].to_numpy(),
                "n": 1.0,
                "abs": np.abs(e),
                "sq": e**2,
                "t": df["test_acc_pct"].to_numpy(),
                "t2": df["test_acc_pct"].to_numpy() ** 2,
                "g": df["gap_pp"].to_numpy(),
                "g2": df["gap_pp"].to_numpy() ** 2,
            }
        )
        .groupby("unit")
        .sum()
    )


def resample_counts(n_units: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """Bootstrap counts (B x n_units) of units drawn with replacement; the same for a given seed and size."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_bootstrap)


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    alpha = (1 - level) / 2
    return tuple(np.quantile(values, [alpha, 1 - alpha])) if len(values) else (np.nan, np.nan)


def metrics(
    predictions: pd.DataFrame,
    n_bootstrap: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    by: Sequence[str] = ("cv", "model"),
    unit: str = "run",
) -> pd.DataFrame:
    """MAE, RMSE, R^2 of every group ``by`` of ``predictions``, with bootstrap intervals over ``unit``.

    ``predictions`` has ``error_pp``, ``test_acc_pct``, ``gap_pp`` and the columns ``by`` and ``unit``
    (:func:`out_of_fold`: by cv and model, resampling runs). Returns one row per (group, metric):
    the ``by`` columns, ``metric``, ``value``, ``ci_low``, ``ci_high``, ``n_rows``, ``n_runs`` (units).
    The same bootstrap resamples of units (from ``seed``) are used for every group with the same units,
    so the intervals compare like with like.
    """
    rows = []
    for keys, df in predictions.groupby(list(by), sort=False):
        sums = _unit_sums(df, unit).to_numpy().T  # 7 x n_units
        point = _metric_values(*sums.sum(axis=1))
        counts = resample_counts(sums.shape[1], n_bootstrap, seed)
        boot = _metric_values(*(counts @ sums.T).T)
        for name in METRICS:
            low, high = percentile_interval(boot[name], level)
            rows.append(
                {
                    **dict(zip(by, keys)),
                    "metric": name,
                    "value": float(point[name]),
                    "ci_low": float(low),
                    "ci_high": float(high),
                    "n_rows": len(df),
                    "n_runs": sums.shape[1],
                }
            )
    return pd.DataFrame(rows)


def mae_differences(
    predictions: pd.DataFrame,
    reference: str = "topology",
    n_bootstrap: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    by: Sequence[str] = ("cv",),
    unit: str = "run",
) -> pd.DataFrame:
    """MAE(reference) - MAE(model) for every other model, with a paired bootstrap interval over ``unit``.

    Within each group ``by`` (e.g. a cross-validation scheme), both models' errors are on the same rows;
    each bootstrap resample draws units (all their rows) once and scores both models on it. Returns one
    row per (group, model): ``value`` (pp; < 0: the reference's errors are smaller), ``ci_low``,
    ``ci_high``, ``share_not_smaller`` (the fraction of resamples where the difference is >= 0), the
    two MAEs, ``n_rows`` and ``n_runs``.
    """
    rows = []
    for keys, group in predictions.groupby(list(by), sort=False):
        ref = group[group["model"] == reference]
        if ref.empty:
            continue
        ref_sums = _unit_sums(ref, unit)
        for model, df in group.groupby("model", sort=False):
            if model == reference:
                continue
            sums = _unit_sums(df, unit)
            if not sums.index.equals(ref_sums.index) or not np.array_equal(sums["n"], ref_sums["n"]):
                raise ValueError(f"models {reference} and {model} of {keys} are not scored on the same rows")
            counts = resample_counts(len(sums), n_bootstrap, seed)
            n = counts @ sums["n"].to_numpy()
            diff_boot = (counts @ ref_sums["abs"].to_numpy() - counts @ sums["abs"].to_numpy()) / n
            total = sums["n"].sum()
            mae_ref, mae_model = ref_sums["abs"].sum() / total, sums["abs"].sum() / total
            low, high = percentile_interval(diff_boot, level)
            rows.append(
                {
                    **dict(zip(by, keys if isinstance(keys, tuple) else (keys,))),
                    "reference": reference,
                    "model": model,
                    "metric": "mae_difference_pp",
                    "value": float(mae_ref - mae_model),
                    "ci_low": float(low),
                    "ci_high": float(high),
                    "share_not_smaller": float(np.mean(diff_boot >= 0)),
                    "mae_reference_pp": float(mae_ref),
                    "mae_model_pp": float(mae_model),
                    "n_rows": int(total),
                    "n_runs": len(sums),
                }
            )
    return pd.DataFrame(rows)


def _note(df: pd.DataFrame) -> str:
    return df["note"].iloc[0] if "note" in df and isinstance(df["note"].iloc[0], str) else ""


def metrics_frame(metric_rows: pd.DataFrame, by: Sequence[str] = ("cv", "model")) -> pd.DataFrame:
    """:func:`metrics` as one row per group ``by``, ``value [low, high]`` per metric (text cells)."""
    rows = []
    for keys, df in metric_rows.groupby(list(by), sort=False):
        row = dict(zip(by, keys))
        note = _note(df)
        for name in METRICS:
            r = df[df["metric"] == name].iloc[0]
            row[name] = "not computed" if note else f"{r['value']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
        row["note"] = note
        rows.append(row)
    return pd.DataFrame(rows, columns=[*by, *METRICS, "note"])


def differences_frame(differences: pd.DataFrame, by: Sequence[str] = ("cv",)) -> pd.DataFrame:
    """:func:`mae_differences` as one row per (group, baseline) with text cells (pp)."""
    rows = [
        {
            **{k: r[k] for k in by},
            "reference - model": f"{r['reference']} - {r['model']}",
            "MAE reference (pp)": f"{r['mae_reference_pp']:.2f}",
            "MAE model (pp)": f"{r['mae_model_pp']:.2f}",
            "difference (pp) [95% paired interval]": f"{r['value']:+.2f} [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]",
            "share of resamples >= 0": f"{r['share_not_smaller']:.3f}",
        }
        for _, r in differences.iterrows()
    ]
    return pd.DataFrame(rows)


def model_text(model: Mapping) -> str:
    """The fitted model in one line: gap_pp = intercept + coefficient x feature ..., and its interval."""
    terms = " ".join(f"{c:+.4g} {f}" for f, c in model["coefficients"].items())
    pi = model["prediction_interval"]
    return (
        f"gap_pp = {model['intercept']:.4g} {terms}; {100 * pi['level']:.0f}% prediction interval of an estimate's error (estimated - true): "
        f"{pi['error_low_pp']:+.1f} .. {pi['error_high_pp']:+.1f} pp ({pi['source']})"
    )


def skipped_metric_rows(skipped: Mapping[str, str], models: Sequence[str], n_runs: int) -> pd.DataFrame:
    """Rows of :func:`metrics` for the CV schemes not computed (``skipped``, :func:`skipped_schemes`): every
    value NaN and the reason in ``note``, so that the metrics say what is missing and why."""
    rows = [
        {
            "cv": cv,
            "model": model,
            "metric": name,
            "value": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "n_rows": 0,
            "n_runs": n_runs,
            "note": why,
        }
        for cv, why in skipped.items()
        for model in models
        for name in METRICS
    ]
    return pd.DataFrame(rows)


def metrics_table(metric_rows: pd.DataFrame, by: Sequence[str] = ("cv", "model")) -> str:
    """A Markdown table of :func:`metrics`: one line per group ``by``, ``value [low, high]`` per metric; a
    scheme not computed (a ``note``, :func:`skipped_metric_rows`) is one line under the table that says why."""
    header = "| " + " | ".join(by) + " | " + " | ".join(METRICS) + " | rows | units |"
    lines = [header, "|" + "---|" * (len(METRICS) + len(by) + 2)]
    notes = {}
    for keys, df in metric_rows.groupby(list(by), sort=False):
        note = _note(df)
        if note:
            notes.setdefault(keys[0], note)
            continue
        cells = []
        for name in METRICS:
            r = df[df["metric"] == name].iloc[0]
            cells.append(f"{r['value']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]")
        first = df.iloc[0]
        lines.append(
            "| "
            + " | ".join(str(k) for k in keys)
            + " | "
            + " | ".join(cells)
            + f" | {first['n_rows']} | {first['n_runs']} |"
        )
    lines += [f"\n{group}: {note}" for group, note in notes.items()]
    return "\n".join(lines)


def differences_table(differences: pd.DataFrame, by: Sequence[str] = ("cv",)) -> str:
    """A Markdown table of :func:`mae_differences`: one line per (group, baseline)."""
    lines = [
        "| " + " | ".join(by) + " | reference - model | MAE reference [pp] | MAE model [pp] | "
        "difference [95% paired interval] | share of resamples >= 0 |",
        "|" + "---|" * (len(by) + 5),
    ]
    for _, r in differences.iterrows():
        lines.append(
            "| "
            + " | ".join(str(r[k]) for k in by)
            + f" | {r['reference']} - {r['model']} | {r['mae_reference_pp']:.2f} | {r['mae_model_pp']:.2f} | "
            f"{r['value']:+.2f} [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}] | {r['share_not_smaller']:.3f} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- the fitted model


def usable_mask(table: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """Rows whose every model input is finite (a diagram without any kept pair has NaN life)."""
    inputs = sorted({f for fs in model_features(features).values() for f in fs})
    missing = [f for f in inputs if f not in table.columns]
    if missing:
        raise ValueError(f"study features {missing} are not columns of the study table")
    return np.isfinite(table[inputs].to_numpy(dtype=np.float64)).all(axis=1)


def feature_unit(name: str) -> str:
    """Unit of a study table column used as a model input."""
    if name in INPUT_UNITS:
        return INPUT_UNITS[name]
    if dfeat.parse_feature_name(name) is not None:
        return dfeat.feature_unit(name)
    return "see betti_curves (Betti-curve summary)"


def fit_model(
    table: pd.DataFrame,
    features: Sequence[str],
    topology: Mapping,
    study: str,
    predictions: pd.DataFrame | None = None,
    level: float = 0.95,
) -> dict:
    """Fit the topology model on every row and describe it as a JSON-ready dict.

    ``topology`` holds the parameters the study's diagrams were computed under (``split``,
    ``n_samples``, ``node_selection``, ``max_dim``, ``max_epsilon``, ``min_persistence``). The
    prediction interval comes from the leave-one-run-out errors in ``predictions`` (computed when
    not given).
    """
    features = list(features)
    if predictions is None:
        predictions = out_of_fold(table, features)
    reg = fit_gap_model(table, features)
    errors = predictions.query("cv == 'leave_one_run_out' and model == 'topology'")["error_pp"].to_numpy()
    alpha = (1 - level) / 2
    low, high = np.quantile(errors, [alpha, 1 - alpha])
    return {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "study": study,
        "target": "gap_pp = train_acc_pct - test_acc_pct, percentage points; "
        "test accuracy estimate = train_acc_pct - gap_pp",
        "features": features,
        "units": {
            **{f: feature_unit(f) for f in features},
            "gap_pp": "percentage points",
            "train_acc_pct": "percent",
            "test_acc_pct": "percent",
        },
        "intercept": float(reg.intercept_),
        "coefficients": {f: float(c) for f, c in zip(features, reg.coef_)},
        "topology": {**dict(topology), "feature_max_dim": dfeat.required_dims(features)},
        "prediction_interval": {
            "level": level,
            "error_low_pp": float(low),
            "error_high_pp": float(high),
            "source": f"leave-one-run-out out-of-fold errors of {len(errors)} rows "
            f"({predictions['run'].nunique()} runs)",
        },
        "fitted_on": {
            "rows": int(len(table)),
            "runs": sorted(table["run"].unique().tolist()),
            "networks": sorted(table["network"].unique().tolist()),
            "datasets": sorted(table["dataset"].unique().tolist()),
        },
    }


def write_model(model: dict, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(model, indent=2) + "\n")


class ModelFileError(ValueError):
    """A model file that is not a generalization model, or holds a key of the wrong type or a non-finite number."""


def read_model(path: str | Path) -> dict:
    """Read and check a model JSON written by :func:`write_model`.

    Parameters
    ----------
    path : str or Path
        The model file, ``results/generalization/<study>/model.json``.

    Returns
    -------
    dict
        The model. A file that is not UTF-8 JSON, not a model, or a model with a missing key, a key of the
        wrong type or a non-finite number raises :class:`ModelFileError` naming the file and the key
        (:func:`check_model`).
    """
    path = Path(path)
    try:
        model = json.loads(path.read_bytes().decode("utf-8"))  # NaN, Infinity, 1e400: named by check_model
    except UnicodeDecodeError as err:
        raise ModelFileError(f"{path}: not a model JSON file (not UTF-8 text: byte {err.start} is not)") from None
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{path}: not a model JSON file ({err})") from None
    if not isinstance(model, dict) or model.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path}: not a {MODEL_FORMAT} (no 'format': {MODEL_FORMAT!r})")
    if model.get("version") != MODEL_VERSION:
        raise ModelFileError(
            f"{path}: model version {model.get('version')} is not supported (expected {MODEL_VERSION})"
        )
    check_model(model, str(path))
    return model


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def check_model(model: Mapping, where: str = "model") -> None:
    """Raise :class:`ModelFileError` naming ``where`` and the key unless ``model`` has every key that
    :func:`estimate` and :func:`check_topology` read, with its type, and finite numbers only."""

    def fail(key: str, what: str):
        raise ModelFileError(f"{where}: key {key!r}: {what}")

    def get(mapping: Mapping, key: str, path: str, kind: type | tuple, name: str):
        if key not in mapping:
            fail(path, "missing")
        value = mapping[key]
        if kind == "number":
            if not _number(value):
                fail(path, f"{value!r} is not a finite number")
        elif kind is not object and (not isinstance(value, kind) or isinstance(value, bool)):
            fail(path, f"{value!r} is not {name}")
        return value

    features = get(model, "features", "features", list, "a list of feature names")
    if not features or not all(isinstance(f, str) for f in features):
        fail("features", f"{features!r} is not a list of feature names")
    get(model, "intercept", "intercept", "number", "")
    coefficients = get(model, "coefficients", "coefficients", dict, "a mapping feature -> coefficient")
    for f in features:
        get(coefficients, f, f"coefficients.{f}", "number", "")
    topology = get(model, "topology", "topology", dict, "a mapping of topology parameters")
    for key in MATCHED_PARAMETERS:
        get(topology, key, f"topology.{key}", object, "")
    get(topology, "feature_max_dim", "topology.feature_max_dim", int, "an integer")
    get(topology, "min_persistence", "topology.min_persistence", "number", "")
    pi = get(model, "prediction_interval", "prediction_interval", dict, "a mapping")
    level = get(pi, "level", "prediction_interval.level", "number", "")
    if not 0 < level < 1:
        fail("prediction_interval.level", f"{level!r} is not in (0, 1)")
    low = get(pi, "error_low_pp", "prediction_interval.error_low_pp", "number", "")
    high = get(pi, "error_high_pp", "prediction_interval.error_high_pp", "number", "")
    if low > high:
        fail("prediction_interval", f"error_low_pp {low} is above error_high_pp {high}")
    fitted_on = get(model, "fitted_on", "fitted_on", dict, "a mapping")
    get(fitted_on, "rows", "fitted_on.rows", int, "an integer")
    for key in ("runs", "networks"):
        get(fitted_on, key, f"fitted_on.{key}", list, "a list")
    get(model, "study", "study", str, "a string")


def check_topology(model: Mapping, diagram_parameters: Mapping, where: str = "the diagram") -> None:
    """Raise :class:`TopologyMismatchError` unless ``where`` was computed under the model's parameters.

    :data:`MATCHED_PARAMETERS` must be equal, and the diagram must hold the homology dimensions
    that the model's features use.
    """
    fitted = model["topology"]
    problems = []
    for key in MATCHED_PARAMETERS:
        if key not in diagram_parameters:
            problems.append(f"{key} is not recorded for it")
        elif diagram_parameters[key] != fitted[key]:
            problems.append(f"{key} = {diagram_parameters[key]!r}, but the model was fitted with {fitted[key]!r}")
    if "max_dim" in diagram_parameters and diagram_parameters["max_dim"] < fitted["feature_max_dim"]:
        problems.append(
            f"max_dim = {diagram_parameters['max_dim']}, but the model's features need H{fitted['feature_max_dim']}"
        )
    if problems:
        raise TopologyMismatchError(
            f"{where} was computed under other topology parameters than the model "
            f"(study {model.get('study')!r}): " + "; ".join(problems)
        )


def estimate(model: Mapping, values: Mapping[str, float], train_acc: float) -> dict:
    """Estimated test accuracy (percent) from diagram features and a train accuracy (percent).

    Returns ``gap_pp`` (percentage points), ``test_acc_pct`` (percent, in [0, 100]), ``low_pct`` and
    ``high_pct`` (the prediction interval of the test accuracy, percent, in [0, 100] and containing
    ``test_acc_pct``), ``level``, ``raw_test_acc_pct`` (the model's value before it is clipped to [0, 100]) and
    ``extrapolated`` (True when it was clipped: the features lie where the model, a straight line, leaves the
    range of accuracies, far from the networks it was fitted on). The interval: a test accuracy is the estimate
    minus its error (estimated - true), so the interval is ``raw - error_high_pp .. raw - error_low_pp`` with the
    error quantiles of the model file.
    """
    if not (np.isfinite(train_acc) and 0.0 <= train_acc <= 100.0):
        raise ValueError(f"train accuracy must be a percentage in [0, 100], got {train_acc}")
    inputs = {**values, "train_acc_pct": train_acc}
    missing = [f for f in model["features"] if f not in inputs]
    if missing:
        raise ValueError(f"the model uses features {missing}, which are not computed from a diagram")
    x = np.array([inputs[f] for f in model["features"]], dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError(
            f"features {dict(zip(model['features'], x.tolist()))} are not all finite "
            "(a dimension without any pair above the minimum persistence)"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        gap = model["intercept"] + float(np.dot([model["coefficients"][f] for f in model["features"]], x))
    if not np.isfinite(gap):
        raise ValueError(
            f"the model gives a gap of {gap} for features {dict(zip(model['features'], x.tolist()))}: its "
            "intercept or coefficients are too large to be a fitted model"
        )
    raw = train_acc - gap
    test = min(100.0, max(0.0, raw))  # an accuracy
    pi = model["prediction_interval"]
    low = min(100.0, max(0.0, raw - pi["error_high_pp"]), test)
    high = max(0.0, min(100.0, raw - pi["error_low_pp"]), test)
    return {
        "gap_pp": gap,
        "test_acc_pct": test,
        "low_pct": low,
        "high_pct": high,
        "level": pi["level"],
        "raw_test_acc_pct": raw,
        "extrapolated": bool(raw != test),
    }


# --------------------------------------------------------------------------- entry points (workflow stages)


def study_table_from_files(
    runs: Sequence[Mapping],
    training: Sequence,
    summaries: Sequence,
    diagrams: Sequence,
    max_dim: int,
    min_persistence: float,
    weights: Sequence | None = None,
) -> pd.DataFrame:
    """:func:`study_table` of workflow files: ``training``, ``summaries`` (and ``weights``) aligned with
    ``runs`` (``name``, ``network``, ``dataset``); ``diagrams`` of any order, sorted by their paths
    ``.../<run>/trial_<T>/epoch_<E>/diagram.bin``."""
    by_run: dict[str, dict] = {r["name"]: {} for r in runs}
    for path in diagrams:
        where = parse_epoch_path(path)
        if where.run not in by_run:
            raise ValueError(f"diagram {path} is not in the folder of any of the study's runs {sorted(by_run)}")
        by_run[where.run][(where.trial, where.epoch)] = path
    weights = [None] * len(runs) if weights is None else weights
    items = [
        {
            "run": r["name"],
            "network": r["network"],
            "dataset": r["dataset"],
            "training": t,
            "summary": s,
            "diagrams": by_run[r["name"]],
            "weights": w,
        }
        for r, t, s, w in zip(runs, training, summaries, weights, strict=True)
    ]
    return study_table(items, max_dim, min_persistence)


def generalization_table_stage(
    *,
    runs: Sequence[Mapping],
    training: Sequence,
    summaries: Sequence,
    diagrams: Sequence,
    max_dim: int,
    min_persistence: float,
    table: str | Path,
    weights: Sequence | None = None,
) -> pd.DataFrame:
    """Stage ``generalization_table``: write the study table (see :func:`study_table`).

    Parameters
    ----------
    runs : sequence of mapping
        ``name``, ``network``, ``dataset`` of each run of the study.
    training, summaries : sequence of paths
        Each run's ``training.csv`` and ``betti_summary.csv``, aligned with ``runs``.
    diagrams : sequence of paths
        ``.../<run>/trial_<T>/epoch_<E>/diagram.bin`` of the runs' analysed epochs.
    max_dim, min_persistence
        Highest homology dimension of the features, and the pairs dropped (see
        :func:`dnn_topology.topology.features.diagram_features`).
    table : str or Path
        CSV to write.
    weights : sequence of paths, optional
        Each run's ``weight_norms.csv`` (:mod:`~dnn_topology.studies.generalization.weights`), aligned
        with ``runs``: the ``weight_l2`` column.
    """
    out = study_table_from_files(runs, training, summaries, diagrams, max_dim, min_persistence, weights)
    with atomic_path(table) as tmp:
        out.to_csv(tmp, index=False)
    return out


def generalization_fit_stage(
    *,
    table: str | Path,
    study: str,
    features: Sequence[str],
    topology: Mapping,
    predictions: str | Path,
    metrics_csv: str | Path,
    model: str | Path,
    metrics_md: str | Path | None = None,
    differences_csv: str | Path | None = None,
    metrics_html: str | Path | None = None,
    bootstrap: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Stage ``generalization_fit``: grouped CV of the topology model and the baselines, and the fit.

    Parameters
    ----------
    table : str or Path
        The study table (:func:`generalization_table_stage`).
    study : str
        The study's name.
    features : sequence of str
        The topology model's inputs (e.g. ``life_h1``, ``midlife_h1``).
    topology : mapping
        The parameters the diagrams were computed under (recorded in the model).
    predictions, metrics_csv, model, metrics_md, metrics_html, differences_csv : str or Path
        Files to write: out-of-fold estimates, metrics (CSV, Markdown and an HTML page for the report),
        the model JSON and the paired MAE differences topology - baseline (:func:`mae_differences`).
    bootstrap, seed : int
        Bootstrap resamples of runs and their seed.

    Returns
    -------
    pandas.DataFrame
        The metrics. Rows with a non-finite model input are left out of every model (logged). A CV scheme that
        cannot be computed (leave-one-network-out in a study of one network) has rows with NaN values and the
        reason in column ``note`` (empty for the others), in the Markdown table and the log too.
    """
    log = get_logger()
    rows = pd.read_csv(table)
    keep = usable_mask(rows, features)
    if not keep.all():
        gone = rows.loc[~keep, TABLE_KEYS].to_records(index=False).tolist()
        log.warning("%d of %d rows have non-finite model inputs and are left out: %s", len(gone), len(rows), gone)
    usable = rows[keep].reset_index(drop=True)
    if usable["run"].nunique() < 2:
        raise ValueError(
            f"study {study}: {usable['run'].nunique()} run(s) with usable rows; leave-one-run-out needs at least 2"
        )
    oof = out_of_fold(usable, features)
    scores = metrics(oof, n_bootstrap=bootstrap, seed=seed)
    skipped = skipped_schemes(usable)
    for cv, why in skipped.items():
        log.warning("study %s: %s %s", study, cv, why)
    scores["note"] = ""
    if skipped:
        models = list(model_features(features))
        scores = pd.concat([scores, skipped_metric_rows(skipped, models, usable["run"].nunique())], ignore_index=True)
    differences = mae_differences(oof, n_bootstrap=bootstrap, seed=seed)
    fitted = fit_model(usable, features, topology, study, oof)
    outputs = [(oof, predictions), (scores, metrics_csv)]
    outputs += [(differences, differences_csv)] if differences_csv is not None else []
    for df, path in outputs:
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False)
    text = (
        f"Study {study}: {len(usable)} rows of {usable['run'].nunique()} runs; estimated test accuracy out of fold "
        "(value [bootstrap 95% interval over runs]).\n\n"
        + metrics_table(scores)
        + "\n\nMAE of the topology model minus each baseline's, paired bootstrap over runs (< 0: topology better):"
        "\n\n" + differences_table(differences) + "\n"
    )
    if metrics_md is not None:
        with atomic_path(metrics_md) as tmp:
            Path(tmp).write_text(text)
    if metrics_html is not None:
        from ...plots.tables import write_html  # deferred: the workflow imports this module at parse

        write_html(
            metrics_html,
            f"generalization study {study}: estimated test accuracy, out of fold",
            [
                ("", metrics_frame(scores)),
                (
                    "MAE of the topology model minus each baseline's (paired bootstrap over runs)",
                    differences_frame(differences),
                ),
                ("the fitted topology model", model_text(fitted)),
            ],
            note="Value [bootstrap 95% interval over runs]; MAE and RMSE in percentage points; a difference < 0: "
            "the topology model's errors are smaller. Models: topology (linear fit of the gap on the diagram "
            "features) and the baselines mean_gap (training folds' mean gap), train_acc, train_loss and weight_l2 "
            "(linear fits on the train accuracy, the train loss, the L2 norm of the weights alone).",
        )
    write_model(fitted, model)
    log.info("%s", text)
    return scores
