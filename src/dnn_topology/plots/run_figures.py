"""Figures of a run: Betti curves per dimension (one line per epoch, against edge density and
against epsilon), persistence diagrams per epoch, and summaries next to train/test accuracy.

Every figure is written as PNG and PDF, sized for a paper (column width about 7 in for a row
of panels), with labelled axes and legends. With several trials, curves show the mean over
trials and a band from the minimum to the maximum.

Edge density is shown in percent of the n(n - 1)/2 node pairs, on one axis shared by every panel of
a figure. A Betti curve ends where the filtration was cut (``topology.max_epsilon``, i.e. |corr| >=
1 - 2 max_epsilon): against density, that end lies at the density of the graph at the cut, which
differs between epochs and runs, so each curve's end is marked (a triangle) and the cut is stated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..topology.betti import split_diagram
from ..topology.dipha_files import PathLike, read_persistence_diagram
from .style import AXIS_LABELS, AXIS_SCALE, STYLE, plt, save_figure


def cut_note(curves: pd.DataFrame) -> str:
    """What limits the right end of each curve against density: the filtration cut of ``curves``."""
    eps = float(curves["epsilon"].max())
    return (
        rf"each curve ends at the cut $\varepsilon$ = {eps:g} (|corr| $\geq$ {1 - 2 * eps:g}), "
        r"at its own edge density there ($\blacktriangleright$)"
    )


def _curve(ax, g, x: str, color, label: str, band: bool) -> None:
    """Mean Betti curve of the groups ``g`` (by epsilon) against axis ``x``, its min-max band, and,
    against density, a marker at its right end (the density at the cut)."""
    xs = g[x].mean().to_numpy() * AXIS_SCALE.get(x, 1.0)
    ys = g["betti"]
    order = np.argsort(xs, kind="stable")
    mean = ys.mean().to_numpy()[order]
    ax.plot(xs[order], mean, color=color, label=label)
    if band:
        ax.fill_between(
            xs[order], ys.min().to_numpy()[order], ys.max().to_numpy()[order], color=color, alpha=0.15, linewidth=0
        )
    if x == "density" and len(xs):
        ax.plot(xs[order][-1], mean[-1], marker=">", markersize=3, color=color, linestyle="")


def _epoch_colors(epochs: Sequence[int]):
    cmap = plt.get_cmap("viridis")
    n = max(len(epochs) - 1, 1)
    return {e: cmap(i / n) for i, e in enumerate(sorted(epochs))}


def plot_betti_curves(curves: pd.DataFrame, x: str, png, pdf, title: str = "") -> None:
    """One panel per homology dimension; one line per epoch (mean over trials, min-max band)."""
    dims = sorted(curves["dim"].unique())
    epochs = sorted(curves["epoch"].unique())
    colors = _epoch_colors(epochs)
    n_trials = curves["trial"].nunique()
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(dims), figsize=(2.4 * len(dims), 2.2), squeeze=False, sharex=True)
        for ax, k in zip(axes[0], dims):
            ck = curves[curves["dim"] == k]
            for e in epochs:
                _curve(ax, ck[ck["epoch"] == e].groupby("epsilon", sort=True), x, colors[e], f"epoch {e}", n_trials > 1)
            ax.set_title(rf"$\beta_{k}$")
            ax.set_xlabel(AXIS_LABELS[x])
            ax.set_ylabel(f"number of {k}-cavities" if k else "number of components")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(
            handles,
            labels,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            frameon=False,
            title=f"mean of {n_trials} trials" if n_trials > 1 else None,
        )
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        if x == "density":
            fig.text(0.5, -0.02, cut_note(curves), ha="center", va="top", fontsize=6)
        save_figure(fig, png, pdf)


def plot_persistence_diagrams(diagrams: Mapping[int, tuple], max_epsilon: float, png, pdf, title: str = "") -> None:
    """One panel per epoch: (birth, death) in epsilon units, colour by dimension; essential
    classes (alive at the cut) are drawn as triangles on the top edge."""
    epochs = sorted(diagrams)
    ncol = min(len(epochs), 5)
    nrow = int(np.ceil(len(epochs) / ncol))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrow, ncol, figsize=(1.9 * ncol, 1.9 * nrow), squeeze=False)
        top = max_epsilon * 1.04
        dim_colors = plt.get_cmap("tab10")
        for ax in axes.flat[len(epochs) :]:
            ax.axis("off")
        for ax, e in zip(axes.flat, epochs):
            hom, b, d, ess = split_diagram(*diagrams[e])
            for k in sorted(set(hom.tolist())):
                fin = (hom == k) & ~ess
                ax.scatter(b[fin], d[fin], s=4, color=dim_colors(k), label=rf"$H_{k}$", alpha=0.7, linewidths=0)
                es = (hom == k) & ess
                if es.any():
                    ax.scatter(b[es], np.full(es.sum(), top), s=10, marker="^", color=dim_colors(k), linewidths=0)
            ax.plot([0, top], [0, top], color="0.6", linewidth=0.6)
            ax.axhline(top, color="0.8", linewidth=0.5, linestyle=":")
            ax.set_xlim(0, top)
            ax.set_ylim(0, top * 1.03)
            ax.set_title(f"epoch {e}")
            ax.set_xlabel(r"birth $\varepsilon$")
            ax.set_ylabel(r"death $\varepsilon$")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        handles.append(plt.Line2D([], [], marker="^", linestyle="", color="0.3"))
        labels.append("essential (alive at cut)")
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, markerscale=2)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        save_figure(fig, png, pdf)


def plot_summaries(summary: pd.DataFrame, training: pd.DataFrame, png, pdf, title: str = "") -> None:
    """Accuracy, max Betti number, density at the maximum, and area under the curve vs epoch."""
    panels = [
        ("max_betti", r"max $\beta_k$"),
        ("density_at_max", r"edge density at max $\beta_k$ (%)"),
        ("auc_density", r"area under $\beta_k$ (density)"),
    ]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 1 + len(panels), figsize=(9.0, 2.2), squeeze=False)
        ax = axes[0][0]
        tr = training.groupby("epoch")
        for col, label, style in (("train_acc", "train", "--"), ("test_acc", "test", "-")):
            m = tr[col].mean()
            ax.plot(m.index, m.to_numpy(), style, color="k", label=label)
            if training["trial"].nunique() > 1:
                ax.fill_between(m.index, tr[col].min(), tr[col].max(), color="k", alpha=0.1, linewidth=0)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
        ax.legend(frameon=False)
        dim_colors = plt.get_cmap("tab10")
        for ax, (col, label) in zip(axes[0][1:], panels):
            for k in sorted(summary["dim"].unique()):
                g = (summary[summary["dim"] == k][col] * (100.0 if col == "density_at_max" else 1.0)).groupby(
                    summary["epoch"]
                )
                m = g.mean()
                ax.plot(m.index, m.to_numpy(), "o-", markersize=2.5, color=dim_colors(k), label=rf"$\beta_{k}$")
                if summary["trial"].nunique() > 1:
                    ax.fill_between(m.index, g.min(), g.max(), color=dim_colors(k), alpha=0.15, linewidth=0)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            if col != "density_at_max":
                ax.set_yscale("symlog", linthresh=1)
        axes[0][1].legend(frameon=False)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        save_figure(fig, png, pdf)


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
        ``betti_curves_epsilon``, ``persistence_diagrams`` and ``summaries``.
    trial : int
        The trial the diagrams belong to.
    """
    curve_table = pd.read_csv(curves)
    summary_table = pd.read_csv(summary)
    training_table = pd.read_csv(training)
    n_trials = curve_table["trial"].nunique()
    label = f"{run} ({n_trials} trial{'s' if n_trials > 1 else ''})"
    for x in ("density", "epsilon"):
        plot_betti_curves(curve_table, x, outputs[f"betti_curves_{x}_png"], outputs[f"betti_curves_{x}_pdf"], label)
    per_epoch = {}
    for epoch, path in zip(epochs, diagrams, strict=True):
        d = read_persistence_diagram(path)
        per_epoch[int(epoch)] = (d.dims, d.births, d.deaths)
    plot_persistence_diagrams(
        per_epoch,
        max_epsilon,
        outputs["persistence_diagrams_png"],
        outputs["persistence_diagrams_pdf"],
        f"{run}, trial {trial}",
    )
    plot_summaries(summary_table, training_table, outputs["summaries_png"], outputs["summaries_pdf"], label)


def plot_comparison(
    curves: Mapping[str, pd.DataFrame], epochs: Sequence[int], x: str, png, pdf, title: str = ""
) -> None:
    """Betti curves of several runs side by side: one row per dimension, one column per epoch,
    one line per run (mean over trials, min-max band) -- e.g. learning vs memorizing."""
    dims = sorted(set().union(*(set(c["dim"].unique()) for c in curves.values())))
    colors = plt.get_cmap("tab10")
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            len(dims),
            len(epochs),
            figsize=(1.9 * len(epochs), 1.6 * len(dims)),
            squeeze=False,
            sharex=True,
            sharey="row",
        )
        for j, e in enumerate(epochs):
            for i, k in enumerate(dims):
                ax = axes[i][j]
                for r, (run, c) in enumerate(curves.items()):
                    g = c[(c["dim"] == k) & (c["epoch"] == e)].groupby("epsilon", sort=True)
                    if len(g):
                        _curve(ax, g, x, colors(r), run, c["trial"].nunique() > 1)
                if i == 0:
                    ax.set_title(f"epoch {e}")
                if j == 0:
                    ax.set_ylabel(rf"$\beta_{k}$")
                if i == len(dims) - 1:
                    ax.set_xlabel(AXIS_LABELS[x])
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=len(curves),
            frameon=False,
            title=cut_note(pd.concat(curves.values())) if x == "density" else None,
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
    for x in ("density", "epsilon"):
        plot_comparison(tables, epochs, x, outputs[f"{x}_png"], outputs[f"{x}_pdf"], comparison)
