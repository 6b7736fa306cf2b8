"""Figures of a generalization study (see :mod:`dnn_topology.studies.generalization.model`).

* ``gap_vs_features``: the generalization gap (pp) against each feature of the fitted model, one
  colour per network; the line is the fitted model along that feature, the other features held at
  their mean over the study.
* ``estimated_vs_true``: leave-one-run-out estimated test accuracy against the true one (percent),
  one panel per model (topology and the baselines), with y = x; with held-out runs, their estimates by
  the model fitted on every row are drawn too (open markers, one per held-out set).
* ``runs_over_epochs``: per run, the true test accuracy, the topology model's leave-one-run-out
  estimate and the train accuracy over epochs (mean over trials).

Every figure is written as PNG and PDF.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ...plots.style import STYLE, save_figure  # noqa: E402
from .model import STUDY_FIGURES as FIGURES  # noqa: E402
from .model import read_model  # noqa: E402


def _legend_right(fig, ax) -> None:
    """The legend of ``ax``'s artists right of the panels, where it covers no data."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)


def _network_colors(networks):
    cmap = plt.get_cmap("tab10")
    return {n: cmap(i % 10) for i, n in enumerate(sorted(networks))}


def plot_gap_vs_features(table: pd.DataFrame, model: Mapping, png, pdf) -> None:
    """Gap against each model feature with the fitted line (other features at their mean)."""
    features = model["features"]
    colors = _network_colors(table["network"].unique())
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(features), figsize=(3.5 * len(features), 3.0), squeeze=False)
        means = {f: table[f].mean() for f in features}
        for ax, f in zip(axes[0], features):
            for net, df in table.groupby("network"):
                ax.scatter(df[f], df["gap_pp"], s=10, alpha=0.7, color=colors[net], label=net)
            x = np.linspace(table[f].min(), table[f].max(), 50)
            others = sum(model["coefficients"][g] * means[g] for g in features if g != f)
            ax.plot(
                x,
                model["intercept"] + others + model["coefficients"][f] * x,
                color="black",
                lw=1,
                label="fit (others at mean)",
            )
            ax.set_xlabel(f"{f} ({model['units'][f].split(' (')[0]})")
            ax.set_ylabel("gap = train - test accuracy (pp)")
        _legend_right(fig, axes[0][0])
        fig.suptitle(f"study {model['study']}: gap vs topology features")
        fig.tight_layout()
        save_figure(fig, png, pdf)


def plot_estimated_vs_true(
    predictions: pd.DataFrame, png, pdf, study: str = "", held_out: pd.DataFrame | None = None
) -> None:
    """Leave-one-run-out estimated vs true test accuracy, one panel per model, with y = x (and the
    held-out runs' estimates, open markers, when ``held_out`` is given)."""
    loro = predictions[predictions["cv"] == "leave_one_run_out"]
    models = list(dict.fromkeys(loro["model"]))
    colors = _network_colors(loro["network"].unique())
    held_out = held_out.dropna(subset=["test_acc_est_pct"]) if held_out is not None else loro.iloc[:0].assign(set="")
    both = pd.concat([loro, held_out])
    lo = float(min(both["test_acc_pct"].min(), both["test_acc_est_pct"].min()))
    hi = float(max(both["test_acc_pct"].max(), both["test_acc_est_pct"].max()))
    markers = dict(zip(dict.fromkeys(held_out.get("set", [])), "osD^v"))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(models), figsize=(2.6 * len(models), 2.8), squeeze=False, sharey=True)
        for ax, name in zip(axes[0], models):
            df = loro[loro["model"] == name]
            for net, d in df.groupby("network"):
                ax.scatter(d["test_acc_pct"], d["test_acc_est_pct"], s=8, alpha=0.7, color=colors[net], label=net)
            for set_name, d in held_out[held_out["model"] == name].groupby("set", sort=False):
                ax.scatter(
                    d["test_acc_pct"],
                    d["test_acc_est_pct"],
                    s=14,
                    facecolors="none",
                    edgecolors="black",
                    marker=markers[set_name],
                    label=f"held out: {set_name}",
                )
            ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, ls="--", label="y = x")
            mae = np.abs(df["error_pp"]).mean()
            ax.set_title(f"{name} (MAE {mae:.1f} pp)")
            ax.set_xlabel("true test accuracy (%)")
        axes[0][0].set_ylabel("estimated test accuracy (%)")
        _legend_right(fig, axes[0][0])
        fig.suptitle(f"study {study}: leave-one-run-out estimates" if study else "leave-one-run-out estimates")
        fig.tight_layout()
        save_figure(fig, png, pdf)


def plot_runs_over_epochs(predictions: pd.DataFrame, png, pdf, study: str = "") -> None:
    """Per run: true and estimated (topology, leave-one-run-out) test accuracy and train accuracy."""
    df = predictions[(predictions["cv"] == "leave_one_run_out") & (predictions["model"] == "topology")]
    mean = df.groupby(["run", "epoch"], as_index=False)[["train_acc_pct", "test_acc_pct", "test_acc_est_pct"]].mean()
    runs = sorted(mean["run"].unique())
    ncols = min(4, len(runs))
    nrows = -(-len(runs) // ncols)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(2.2 * ncols, 1.9 * nrows), squeeze=False, sharey=True)
        for ax, run in zip(axes.flat, runs):
            d = mean[mean["run"] == run]
            ax.plot(d["epoch"], d["train_acc_pct"], color="0.6", ls=":", marker=".", label="train")
            ax.plot(d["epoch"], d["test_acc_pct"], color="C0", marker="o", ms=3, label="test (true)")
            ax.plot(d["epoch"], d["test_acc_est_pct"], color="C3", marker="s", ms=3, label="test (estimated)")
            ax.set_title(run, fontsize=7)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in axes.flat[len(runs) :]:
            ax.set_visible(False)
        for row in axes:
            row[0].set_ylabel("accuracy (%)")
        _legend_right(fig, axes[0][0])
        fig.suptitle(
            (f"study {study}: " if study else "")
            + "true vs estimated test accuracy per run (topology, leave-one-run-out; mean over trials)"
        )
        fig.tight_layout()
        save_figure(fig, png, pdf)


def generalization_plots_stage(
    *,
    table: str | Path,
    predictions: str | Path,
    model: str | Path,
    outputs: Mapping[str, str | Path],
    held_out: Sequence[str | Path] = (),
) -> None:
    """Stage ``generalization_plots``: every figure of :data:`FIGURES`, as PNG and PDF.

    Parameters
    ----------
    table, predictions, model : str or Path
        The study table, its out-of-fold predictions and the fitted model JSON.
    outputs : mapping
        ``<figure>_png`` and ``<figure>_pdf`` -> path, for each figure.
    held_out : sequence of paths
        The study's ``held_out_predictions.csv`` (none for a study without held-out runs).
    """
    rows = pd.read_csv(table)
    oof = pd.read_csv(predictions)
    held = pd.concat([pd.read_csv(p) for p in held_out]) if held_out else None
    fitted = read_model(model)
    rows = rows[rows["run"].isin(oof["run"].unique())]
    plot_gap_vs_features(
        rows.dropna(subset=fitted["features"]), fitted, outputs["gap_vs_features_png"], outputs["gap_vs_features_pdf"]
    )
    plot_estimated_vs_true(
        oof, outputs["estimated_vs_true_png"], outputs["estimated_vs_true_pdf"], fitted["study"], held
    )
    plot_runs_over_epochs(oof, outputs["runs_over_epochs_png"], outputs["runs_over_epochs_pdf"], fitted["study"])


def figure_paths(folder: str | Path) -> dict[str, Path]:
    """``<figure>_<ext>`` -> ``folder/<figure>.<ext>`` for every figure."""
    return {f"{f}_{ext}": Path(folder) / f"{f}.{ext}" for f in FIGURES for ext in ("png", "pdf")}
