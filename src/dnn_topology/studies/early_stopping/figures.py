"""Figure of an early-stopping study, one per run (see :mod:`dnn_topology.studies.early_stopping.study`).

Top: the test accuracy (percent) over epochs, one thin line per trial and their mean, with each rule's
stopping epoch marked on every trial's line (one marker and colour per rule, shifted sideways by a fraction of
an epoch so that rules stopping at the same epoch stay visible; ``last_epoch`` is the end of the lines). Below: the series each rule watches, mean over trials at the check epochs (validation loss, the
beta_1 peak density in percent of node pairs, max beta_2, mean normalized neural persistence). Written as
PNG and PDF.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402

from ...plots.style import STYLE, plt, save_figure  # noqa: E402
from .rules import BASELINE_LAST, RULES  # noqa: E402

MARKERS = {
    "validation_loss": ("s", "tab:red"),
    "beta1_peak_density": ("o", "tab:blue"),
    "max_beta2": ("^", "tab:green"),
    "neural_persistence": ("D", "tab:purple"),
}
SERIES_LABELS = {
    "val_loss": "validation loss (NLL)",
    "beta1_peak_density": "beta_1 peak density (% of node pairs)",
    "max_beta2": "max beta_2",
    "neural_persistence": "mean normalized neural persistence",
}


def plot_run(series: pd.DataFrame, stops: pd.DataFrame, run: str, png: str | Path, pdf: str | Path) -> None:
    """The figure of ``run`` (see the module docstring) from the study's series and stops tables."""
    series = series[series["run"] == run]
    stops = stops[(stops["run"] == run) & (stops["rule"] != BASELINE_LAST)]
    if series.empty:
        raise ValueError(f"run {run!r} is not in the study's series table")
    rules = [r for r in MARKERS if r in set(stops["rule"])]
    watched = [RULES[r].series for r in rules]
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(7.5, 5.2))
        grid = fig.add_gridspec(2, max(1, len(watched)), height_ratios=[1.6, 1.0], hspace=0.45, wspace=0.45)
        ax = fig.add_subplot(grid[0, :])
        for _, df in series.groupby("trial"):
            ax.plot(df["epoch"], df["test_acc_pct"], color="0.6", lw=0.7, label="test accuracy, per trial")
        mean = series.groupby("epoch")["test_acc_pct"].mean()
        ax.plot(mean.index, mean.to_numpy(), color="black", lw=1.4, label="mean over trials")
        for i, rule in enumerate(rules):
            marker, color = MARKERS[rule]
            df = stops[stops["rule"] == rule]
            ax.scatter(
                df["stop_epoch"] + 0.15 * (i - (len(rules) - 1) / 2),  # side by side where rules stop together
                df["test_acc_at_stop_pct"],
                marker=marker,
                s=28,
                facecolor="none",
                edgecolor=color,
                linewidth=1.1,
                zorder=3,
                label=f"stop: {rule}",
            )
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{run}: where each stopping rule stops ({series['trial'].nunique()} trials)")
        checks = series[series["check"]].groupby("epoch")
        for i, (rule, column) in enumerate(zip(rules, watched)):
            sub = fig.add_subplot(grid[1, i])
            values = checks[column].mean()
            marker, color = MARKERS[rule]
            sub.plot(values.index, values.to_numpy(), marker=marker, ms=3, color=color)
            sub.set_xlabel("epoch")
            sub.set_title(SERIES_LABELS[column], fontsize=7)
        save_figure(fig, png, pdf)


def early_stopping_figure_stage(
    *, series: str | Path, stops: str | Path, run: str, png: str | Path, pdf: str | Path
) -> None:
    """Stage ``early_stopping_figure``: the figure of one run of a study (see the module docstring).

    Parameters
    ----------
    series, stops : str or Path
        The study's ``series.csv`` and ``stops.csv``.
    run : str
        The run drawn.
    png, pdf : str or Path
        Files to write (atomically).
    """
    plot_run(pd.read_csv(series), pd.read_csv(stops), run, png, pdf)
