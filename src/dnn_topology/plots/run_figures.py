"""Figures of a run: Betti curves per dimension (one line per epoch, against edge density and
against epsilon), persistence diagrams per epoch, and summaries next to train/test accuracy.

Every figure is written as PNG and PDF, sized for a paper (column width about 7 in for a row
of panels), with labelled axes, units and legends outside the data. The run is named once, in
the figure's title.

Several trials. Against epsilon every trial has the same grid, and a curve is the mean over trials
at each epsilon. Against edge density each trial's curve lies on its own densities (the density at
an epsilon differs between trials), so each is interpolated onto a common density grid and the mean
is taken there (:func:`curve_on_density_grid`): a point of the mean is a point of every trial, not a
curve that no trial has. The band is the minimum..maximum over trials, and the figure says so.

Edge density is shown in percent of the n(n - 1)/2 node pairs, on one axis shared by every panel of
a figure. A Betti curve ends where the filtration was cut (``topology.max_epsilon``, i.e. |corr| >=
1 - 2 max_epsilon): against density, that end lies at the density of the graph at the cut, which
differs between epochs, trials and runs; the mean over trials ends at the lowest of its trials' ends,
marked (a triangle), and the cut is stated. beta_0 (from the node count down to the components left)
is drawn on a log scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..topology.betti import split_diagram
from ..topology.dipha_files import PathLike, read_persistence_diagram
from .style import AXIS_LABELS, STYLE, count_axis, epoch_styles, log_axis, plt, save_figure
from .tables import write_html

DENSITY_GRID_POINTS = 400  # the common density grid of the mean over trials


def cut_note(curves: pd.DataFrame) -> str:
    """What limits the right end of each curve against density: the filtration cut of ``curves``."""
    eps = float(curves["epsilon"].max())
    return (
        rf"each curve ends at the cut $\varepsilon$ = {eps:g} (|corr| $\geq$ {1 - 2 * eps:g}), "
        r"at its own edge density there ($\blacktriangleright$; a mean over trials ends at the lowest of its trials)"
    )


def band_note(n_trials: int) -> str:
    """The legend title that says what a line and its band are."""
    return f"mean of {n_trials} trials,\nband: min..max" if n_trials > 1 else "1 trial"


def curve_on_density_grid(group: pd.DataFrame, points: int = DENSITY_GRID_POINTS) -> pd.DataFrame:
    """Mean, minimum and maximum over trials of the Betti curves in ``group`` (columns ``trial``, ``epsilon``,
    ``density_pct``, ``betti``; one dimension and epoch), on a common grid of edge densities.

    Each trial's curve (betti against its own densities, ordered by epsilon) is interpolated linearly
    onto ``points`` densities from 0 to the lowest of the trials' largest densities, the range every
    trial covers. Returns columns ``density_pct``, ``mean``, ``min``, ``max``."""
    curves = []
    for _, t in group.sort_values("epsilon").groupby("trial"):
        x = t["density_pct"].to_numpy(dtype=float)
        y = t["betti"].to_numpy(dtype=float)
        keep = np.append(x[1:] != x[:-1], True)  # equal densities (no edge added): the last value stands
        curves.append((x[keep], y[keep]))
    end = min(x[-1] for x, _ in curves)
    grid = np.linspace(0.0, end, points) if end > 0 else np.zeros(1)
    values = np.array([np.interp(grid, x, y) for x, y in curves])
    return pd.DataFrame({"density_pct": grid, "mean": values.mean(0), "min": values.min(0), "max": values.max(0)})


def curve_on_epsilon_grid(group: pd.DataFrame) -> pd.DataFrame:
    """Mean, minimum and maximum over trials at each epsilon (every trial has the same epsilon grid)."""
    g = group.groupby("epsilon", sort=True)["betti"]
    return pd.DataFrame({"epsilon": g.mean().index, "mean": g.mean().to_numpy(), "min": g.min(), "max": g.max()})


def _curve(ax, group: pd.DataFrame, x: str, style: Mapping, label: str) -> None:
    """The mean Betti curve of ``group`` (one dimension and epoch, all trials) against axis ``x``, its
    min..max band over trials, and, against density, a marker at its right end (the density at the cut)."""
    c = curve_on_density_grid(group) if x == "density_pct" else curve_on_epsilon_grid(group)
    ax.plot(c[x], c["mean"], label=label, **style)
    if group["trial"].nunique() > 1:
        ax.fill_between(c[x], c["min"], c["max"], color=style["color"], alpha=0.15, linewidth=0)
    if x == "density_pct" and len(c):
        ax.plot(c[x].iloc[-1], c["mean"].iloc[-1], marker=">", markersize=3.5, color=style["color"], linestyle="")


def _ylabel(k: int) -> str:
    return "number of components (log scale)" if k == 0 else f"number of {k}-cavities"


def plot_betti_curves(curves: pd.DataFrame, x: str, png, pdf, title: str = "") -> None:
    """One panel per homology dimension; one line per epoch (mean over trials, min..max band)."""
    dims = sorted(curves["dim"].unique())
    epochs = sorted(curves["epoch"].unique())
    styles = epoch_styles(epochs)
    n_trials = curves["trial"].nunique()
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(dims), figsize=(2.5 * len(dims), 2.4), squeeze=False, sharex=True)
        for ax, k in zip(axes[0], dims):
            ck = curves[curves["dim"] == k]
            for e in epochs:
                _curve(ax, ck[ck["epoch"] == e], x, styles[e], _epoch_label(e))
            ax.set_title(rf"$\beta_{k}$")
            ax.set_xlabel(AXIS_LABELS[x])
            ax.set_ylabel(_ylabel(k))
            if k == 0:
                log_axis(ax)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(
            handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, title=band_note(n_trials)
        )
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        if x == "density_pct":
            fig.text(0.5, -0.02, cut_note(curves), ha="center", va="top", fontsize=6.5)
        save_figure(fig, png, pdf)


def _epoch_label(epoch: int) -> str:
    return "epoch 0 (initial weights)" if epoch == 0 else f"epoch {epoch}"


DIM_MARKERS = {0: "o", 1: "o", 2: "s", 3: "D"}


def plot_persistence_diagrams(diagrams: Mapping[int, tuple], max_epsilon: float, png, pdf, title: str = "") -> None:
    """One panel per epoch: (birth, death) in epsilon units, colour and marker by dimension, higher
    dimensions drawn on top (they have the fewest points); essential classes (alive at the cut) are
    triangles on the top edge; the classes of each dimension are counted in the empty lower right."""
    epochs = sorted(diagrams)
    ncol = min(len(epochs), 3)
    nrow = int(np.ceil(len(epochs) / ncol))  # the legend takes an empty panel of the last row, or goes right
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrow, ncol, figsize=(2.7 * ncol, 2.6 * nrow), squeeze=False)
        top = max_epsilon * 1.04
        pad = 0.03 * top
        dim_colors = plt.get_cmap("tab10")
        for ax in axes.flat[len(epochs) :]:
            ax.axis("off")
        seen: set[int] = set()
        for ax, e in zip(axes.flat, epochs):
            hom, b, d, ess = split_diagram(*diagrams[e])
            counts = []
            for k in sorted(set(hom.tolist())):
                seen.add(k)
                fin = (hom == k) & ~ess
                es = (hom == k) & ess
                style = {"color": dim_colors(k), "marker": DIM_MARKERS.get(k, "o"), "linewidths": 0, "zorder": 2 + k}
                ax.scatter(b[fin], d[fin], s=3 + 3 * k, alpha=0.6 if k < 2 else 0.9, **style)
                if es.any():
                    ax.scatter(
                        b[es], np.full(es.sum(), top), s=14, marker="^", color=dim_colors(k), linewidths=0, zorder=2 + k
                    )
                counts.append(rf"$H_{k}$: {int(fin.sum())}" + (f" + {int(es.sum())} ess." if es.any() else ""))
            ax.plot([0, top], [0, top], color="0.6", linewidth=0.6, zorder=1)
            ax.axhline(top, color="0.8", linewidth=0.5, linestyle=":", zorder=1)
            ax.set_xlim(-pad, top)  # H0 classes are born at 0: off the axis spine
            ax.set_ylim(-pad, top * 1.04)
            ax.text(0.97, 0.03, "\n".join(counts), transform=ax.transAxes, ha="right", va="bottom", fontsize=6.5)
            ax.set_title(_epoch_label(e))
            ax.set_xlabel(r"birth $\varepsilon$")
            ax.set_ylabel(r"death $\varepsilon$")
        handles = [
            plt.Line2D(
                [],
                [],
                marker=DIM_MARKERS.get(k, "o"),
                markersize=4,
                linestyle="",
                color=dim_colors(k),
                label=rf"$H_{k}$",
            )
            for k in sorted(seen)
        ]
        handles.append(
            plt.Line2D(
                [], [], marker="^", markersize=4, linestyle="", color="0.3", label="essential (alive at the cut)"
            )
        )
        legend_ax = axes.flat[len(epochs)] if len(axes.flat) > len(epochs) else None
        where = (
            {"loc": "center", "bbox_to_anchor": (0.5, 0.5), "bbox_transform": legend_ax.transAxes}
            if legend_ax is not None
            else {"loc": "center left", "bbox_to_anchor": (1.0, 0.5)}
        )
        fig.legend(
            handles=handles,
            frameon=False,
            title=rf"$\varepsilon$ = (1 - |corr|) / 2, cut at {max_epsilon:g}",
            **where,
        )
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        save_figure(fig, png, pdf)


def plot_summaries(
    summary: pd.DataFrame, training: pd.DataFrame, png, pdf, title: str = "", max_epsilon: float | None = None
) -> None:
    """Accuracy, max Betti number, density at the maximum, and area under the curve vs epoch, for beta_1 and
    up (beta_0's maximum is always the node count, at density 0). Mean over trials, band min..max; with
    ``max_epsilon``, a maximum reached at the cut (a lower bound: the curve was still rising) is an open marker."""
    panels = [
        ("max_betti", r"max $\beta_k$ (classes)"),
        ("density_pct_at_max", r"edge density at max $\beta_k$" + "\n(% of node pairs)"),
        ("auc_density_pct", r"area under $\beta_k$ against density" + "\n(classes x % of node pairs)"),
    ]
    summary = summary[summary["dim"] >= 1]
    several = summary["trial"].nunique() > 1
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 1 + len(panels), figsize=(10.0, 2.5), squeeze=False)
        ax = axes[0][0]
        tr = training.groupby("epoch")
        for col, label, style in (("train_acc_pct", "train", "--"), ("test_acc_pct", "test", "-")):
            m = tr[col].mean()
            ax.plot(m.index, m.to_numpy(), style, color="k", label=label)
            if training["trial"].nunique() > 1:
                ax.fill_between(m.index, tr[col].min(), tr[col].max(), color="k", alpha=0.1, linewidth=0)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 100)
        ax.legend(frameon=False, loc="lower right")
        dim_colors = plt.get_cmap("tab10")
        at_cut = (
            np.isclose(summary["epsilon_at_max"], max_epsilon) & (summary["max_betti"] > 0)
            if max_epsilon is not None
            else pd.Series(False, index=summary.index)
        )
        for ax, (col, label) in zip(axes[0][1:], panels):
            for k in sorted(summary["dim"].unique()):
                sel = summary["dim"] == k
                values = (
                    summary.loc[sel, col].where(summary.loc[sel, "max_betti"] > 0)
                    if col.startswith("density")
                    else summary.loc[sel, col]
                )
                g = values.groupby(summary.loc[sel, "epoch"])
                m = g.mean()
                ax.plot(m.index, m.to_numpy(), "o-", markersize=2.5, color=dim_colors(k), label=rf"$\beta_{k}$")
                if several:
                    ax.fill_between(m.index, g.min(), g.max(), color=dim_colors(k), alpha=0.15, linewidth=0)
                if col != "auc_density_pct":
                    cut = sel & at_cut
                    ax.scatter(
                        summary.loc[cut, "epoch"],
                        summary.loc[cut, col],
                        s=22,
                        facecolors="none",
                        edgecolors=dim_colors(k),
                        linewidths=0.8,
                        zorder=4,
                    )
            ax.set_xlabel("epoch")
            scale = count_axis(ax, summary[col]) if col == "max_betti" else ""
            ax.set_ylabel(label.replace("(classes)", f"(classes; {scale})") if scale else label)
        handles, labels = axes[0][1].get_legend_handles_labels()
        if at_cut.any():
            handles.append(plt.Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="0.3"))
            labels.append("a trial's maximum\nat the cut (lower bound)")
        fig.legend(
            handles,
            labels,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            frameon=False,
            title=band_note(summary["trial"].nunique()),
        )
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        save_figure(fig, png, pdf)


def epochs_table(summary: pd.DataFrame, training: pd.DataFrame, max_epsilon: float | None = None) -> pd.DataFrame:
    """Per analysed epoch, means over trials: train and test accuracy (%), and for beta_1 and up the
    maximum and the edge density (% of node pairs) at the peak, with how many maxima lie at the cut."""
    acc = training.groupby("epoch")[["train_acc_pct", "test_acc_pct"]].mean()
    table = pd.DataFrame({"epoch": sorted(summary["epoch"].unique())})
    table["trials"] = table["epoch"].map(summary.groupby("epoch")["trial"].nunique())
    table["train accuracy (%)"] = table["epoch"].map(acc["train_acc_pct"])
    table["test accuracy (%)"] = table["epoch"].map(acc["test_acc_pct"])
    for k in sorted(d for d in summary["dim"].unique() if d >= 1):
        s = summary[summary["dim"] == k]
        by = s.groupby("epoch")
        table[f"max beta_{k}"] = table["epoch"].map(by["max_betti"].mean())
        density = s["density_pct_at_max"].where(s["max_betti"] > 0).groupby(s["epoch"]).mean()
        table[f"beta_{k} peak density (%)"] = table["epoch"].map(density)
        if max_epsilon is not None:
            cut = (np.isclose(s["epsilon_at_max"], max_epsilon) & (s["max_betti"] > 0)).groupby(s["epoch"]).sum()
            table[f"beta_{k} maxima at the cut"] = table["epoch"].map(cut).astype(int)
    return table


def plot_stage(
    *,
    run: str,
    curves: PathLike,
    summary: PathLike,
    training: PathLike,
    epochs: Sequence[int],
    diagrams: Sequence[PathLike],
    max_epsilon: float,
    outputs: Mapping[str, PathLike],
    trial: int = 0,
) -> None:
    """Stage ``plot``: every figure of a run, as PNG and PDF.

    Parameters
    ----------
    run : str
        Run name (in the titles).
    curves, summary, training : str or Path
        The run's aggregated CSV files (see :func:`dnn_topology.studies.aggregate.aggregate_stage`).
    epochs : sequence of int
        The epochs of ``diagrams``.
    diagrams : sequence of paths
        DIPHA diagrams of trial ``trial``, one per epoch of ``epochs``.
    max_epsilon : float
        The cut of the filtration (the diagrams' top edge).
    outputs : mapping
        ``<plot>_png`` and ``<plot>_pdf`` -> path, for the plots ``betti_curves_density``,
        ``betti_curves_epsilon``, ``persistence_diagrams`` and ``summaries``; optionally ``epochs_html``,
        the table of :func:`epochs_table` as an HTML page.
    trial : int
        The trial the diagrams belong to.
    """
    curve_table = pd.read_csv(curves)
    summary_table = pd.read_csv(summary)
    training_table = pd.read_csv(training)
    label = run
    for name, x in (("density", "density_pct"), ("epsilon", "epsilon")):
        plot_betti_curves(
            curve_table, x, outputs[f"betti_curves_{name}_png"], outputs[f"betti_curves_{name}_pdf"], label
        )
    per_epoch = {}
    for epoch, path in zip(epochs, diagrams, strict=True):
        d = read_persistence_diagram(path)
        per_epoch[int(epoch)] = (d.dims, d.births, d.deaths)
    plot_persistence_diagrams(
        per_epoch,
        max_epsilon,
        outputs["persistence_diagrams_png"],
        outputs["persistence_diagrams_pdf"],
        f"{run}: persistence diagrams of trial {trial}",
    )
    plot_summaries(
        summary_table, training_table, outputs["summaries_png"], outputs["summaries_pdf"], label, max_epsilon
    )
    if "epochs_html" in outputs:
        write_html(
            outputs["epochs_html"],
            f"{run}: training and topology per epoch",
            [("", epochs_table(summary_table, training_table, max_epsilon))],
            note="Means over trials. Edge density in percent of node pairs; a maximum at the filtration cut "
            f"(epsilon = {max_epsilon:g}) is a lower bound (the curve was still rising). Tables: training.csv, "
            "betti_summary.csv.",
        )


def plot_comparison(
    curves: Mapping[str, pd.DataFrame], epochs: Sequence[int], x: str, png, pdf, title: str = ""
) -> None:
    """Betti curves of several runs side by side: one row per dimension, one column per epoch,
    one line per run (mean over trials, min..max band) -- e.g. learning vs memorizing."""
    dims = sorted(set().union(*(set(c["dim"].unique()) for c in curves.values())))
    colors = plt.get_cmap("tab10")
    n_trials = max(c["trial"].nunique() for c in curves.values())
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            len(dims),
            len(epochs),
            figsize=(2.0 * len(epochs), 1.7 * len(dims)),
            squeeze=False,
            sharex=True,
            sharey="row",
        )
        for j, e in enumerate(epochs):
            for i, k in enumerate(dims):
                ax = axes[i][j]
                for r, (run, c) in enumerate(curves.items()):
                    g = c[(c["dim"] == k) & (c["epoch"] == e)]
                    if len(g):
                        _curve(ax, g, x, {"color": colors(r)}, run)
                if k == 0:
                    log_axis(ax)
                if i == 0:
                    ax.set_title(_epoch_label(e), fontsize=8)
                if j == 0:
                    ax.set_ylabel(rf"$\beta_{k}$" + (" (log scale)" if k == 0 else ""))
                if i == len(dims) - 1:
                    ax.set_xlabel(AXIS_LABELS[x], fontsize=7)
        handles, labels = axes[0][0].get_legend_handles_labels()
        note = band_note(n_trials).replace("\n", " ")
        fig.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=len(curves),
            frameon=False,
            title=note + ("\n" + cut_note(pd.concat(curves.values())) if x == "density_pct" else ""),
            title_fontsize=7,
        )
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        save_figure(fig, png, pdf)


def compare_stage(
    *,
    comparison: str,
    runs: Sequence[str],
    curves: Sequence[PathLike],
    epochs: Sequence[int],
    outputs: Mapping[str, PathLike],
) -> None:
    """Stage ``compare``: the Betti curves of several runs side by side, as PNG and PDF.

    Parameters
    ----------
    comparison : str
        Comparison name (the title).
    runs : sequence of str
        Run names, one per file of ``curves``.
    curves : sequence of paths
        Each run's aggregated Betti curves.
    epochs : sequence of int
        The epochs shown (one column each).
    outputs : mapping
        ``density_png``, ``density_pdf``, ``epsilon_png``, ``epsilon_pdf`` -> path.
    """
    tables = {run: pd.read_csv(path) for run, path in zip(runs, curves, strict=True)}
    for name, x in (("density", "density_pct"), ("epsilon", "epsilon")):
        plot_comparison(tables, epochs, x, outputs[f"{name}_png"], outputs[f"{name}_pdf"], comparison)
