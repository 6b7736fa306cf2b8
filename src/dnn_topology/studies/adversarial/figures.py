"""Figures of a run's adversarial study (PNG and PDF, in ``results/<run>/adversarial/plots/``).

* ``betti_curves_density`` / ``betti_curves_epsilon``: one row per attacked epoch, one column per homology
  dimension; the clean inputs' Betti curve (black) next to each attack and epsilon (FGSM blues, PGD reds,
  darker = larger epsilon). Mean over trials.
* ``summaries_vs_epsilon``: max beta_k, the edge density where it peaks and the area under the curve
  against density, against epsilon (pixel units; epsilon 0 = clean inputs), one line per method and epoch.
* ``accuracy_under_attack``: accuracy of the fixed sample set, clean and under each attack, against the epoch.
* ``detection_auc``: the detector's cross-validated ROC AUC (95% interval) against epsilon, per feature set,
  one panel per method (the noise control's among them) and epoch; the clean-vs-clean control is in the table.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ...plots.style import AXIS_LABELS, STYLE, save_figure  # noqa: E402

_CMAPS = {"fgsm": "Blues", "pgd": "Reds"}
_FEATURE_COLORS = {"topology": "tab:purple", "baseline": "tab:gray", "combined": "tab:green"}


def attack_colors(attacks: pd.DataFrame) -> dict[str, tuple]:
    """attack id -> colour: a colour map per method, darker for larger epsilon; the clean inputs are black."""
    colors: dict[str, tuple] = {"clean": (0.0, 0.0, 0.0, 1.0)}
    attacked = attacks[attacks["attack"] != "clean"]
    for method, group in attacked.drop_duplicates("attack").groupby("method"):
        cmap = plt.get_cmap(_CMAPS.get(method, "Greens"))
        group = group.sort_values("epsilon")
        for i, attack in enumerate(group["attack"]):
            colors[attack] = cmap(0.45 + 0.5 * (i + 1) / len(group))
    return colors


def _finish(fig, legend_axis, png, pdf, title: str = "", legend_title: str | None = None) -> None:
    """Legend of ``legend_axis``'s lines right of the panels, the title, and the PNG and PDF files."""
    handles, labels = legend_axis.get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, title=legend_title)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, png, pdf)


def _label(row) -> str:
    return "clean" if row["attack"] == "clean" else f"{row['method'].upper()} $\\varepsilon$={row['epsilon']:g}"


def plot_attacked_betti_curves(curves: pd.DataFrame, x: str, png, pdf, title: str = "") -> None:
    """Betti curves of clean and attacked inputs: rows = epochs, columns = dimensions (mean over trials)."""
    epochs, dims = sorted(curves["epoch"].unique()), sorted(curves["dim"].unique())
    attacks = (
        curves[["attack", "method", "attack_epsilon"]]
        .drop_duplicates()
        .rename(columns={"attack_epsilon": "epsilon"})
        .sort_values(["epsilon", "method"])
    )
    colors = attack_colors(attacks)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(epochs), len(dims), figsize=(2.4 * len(dims), 1.9 * len(epochs)), squeeze=False)
        for r, epoch in enumerate(epochs):
            for c, k in enumerate(dims):
                ax = axes[r][c]
                sel = curves[(curves["epoch"] == epoch) & (curves["dim"] == k)]
                for _, a in attacks.iterrows():
                    sub = sel[sel["attack"] == a["attack"]]
                    if sub.empty:
                        continue
                    g = sub.groupby("epsilon")
                    xs, ys = g[x].mean().to_numpy(), g["betti"].mean().to_numpy()
                    order = np.argsort(xs)
                    ax.plot(
                        xs[order],
                        ys[order],
                        color=colors[a["attack"]],
                        label=_label(a),
                        linewidth=1.6 if a["attack"] == "clean" else 1.0,
                    )
                ax.set_title(rf"epoch {epoch}, $\beta_{k}$")
                if r == len(epochs) - 1:
                    ax.set_xlabel(AXIS_LABELS[x])
                if c == 0:
                    ax.set_ylabel("Betti number")
                if x == "density":
                    ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
        _finish(fig, axes[0][0], png, pdf, title, f"mean of {curves['trial'].nunique()} trial(s)")


def plot_summaries_vs_epsilon(summary: pd.DataFrame, png, pdf, title: str = "") -> None:
    """max beta_k, density at the peak and area against density, against the attack's epsilon."""
    dims, epochs = sorted(summary["dim"].unique()), sorted(summary["epoch"].unique())
    methods = sorted(m for m in summary["method"].unique() if m != "none")
    rows = [("max_betti", r"max $\beta_k$"), ("density_at_max", "density at max"), ("auc_density", "area (density)")]
    styles = ["-", "--", ":", "-."]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(rows), len(dims), figsize=(2.4 * len(dims), 1.9 * len(rows)), squeeze=False)
        for c, k in enumerate(dims):
            for r, (col, label) in enumerate(rows):
                ax = axes[r][c]
                for i, epoch in enumerate(epochs):
                    sel = summary[(summary["dim"] == k) & (summary["epoch"] == epoch)]
                    clean = sel[sel["method"] == "none"]
                    for method in methods:
                        line = pd.concat([clean, sel[sel["method"] == method]]).groupby("attack_epsilon")[col].mean()
                        ax.plot(
                            line.index,
                            line.to_numpy(),
                            styles[i % len(styles)],
                            marker="o",
                            markersize=2.5,
                            color=plt.get_cmap(_CMAPS.get(method, "Greens"))(0.8),
                            label=f"{method.upper()}, epoch {epoch}",
                        )
                if r == 0:
                    ax.set_title(rf"$\beta_{k}$")
                if r == len(rows) - 1:
                    ax.set_xlabel(r"attack $\varepsilon$ (pixel units; 0 = clean)")
                if c == 0:
                    ax.set_ylabel(label)
        _finish(fig, axes[0][0], png, pdf, title)


def plot_accuracy_under_attack(records: pd.DataFrame, png, pdf, title: str = "") -> None:
    """Accuracy of the fixed sample set against the epoch: clean, and under each attack and epsilon."""
    colors = attack_colors(records)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(4.2, 2.6))
        clean = records.groupby("epoch")["clean_accuracy"].mean()
        ax.plot(clean.index, clean.to_numpy(), "o-", color=colors["clean"], label="clean", linewidth=1.6)
        for (method, eps, attack), g in records.groupby(["method", "epsilon", "attack"]):
            acc = g.groupby("epoch")["adversarial_accuracy"].mean()
            ax.plot(
                acc.index,
                acc.to_numpy(),
                "o-",
                markersize=3,
                color=colors[attack],
                label=f"{method.upper()} $\\varepsilon$={eps:g}",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
        if title:
            ax.set_title(title)
        fig.tight_layout()
        save_figure(fig, png, pdf)


def plot_detection_auc(table: pd.DataFrame, png, pdf, title: str = "") -> None:
    """Cross-validated ROC AUC with its 95% interval against epsilon: panels = (epoch, method), lines = features."""
    if "role" in table:
        table = table[table["role"] != "null_control"]
    epochs, methods = sorted(table["epoch"].unique()), sorted(table["method"].unique())
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            len(epochs), len(methods), figsize=(2.6 * len(methods), 1.9 * len(epochs)), squeeze=False, sharey=True
        )
        for r, epoch in enumerate(epochs):
            for c, method in enumerate(methods):
                ax = axes[r][c]
                sel = table[(table["epoch"] == epoch) & (table["method"] == method)]
                for features, g in sel.groupby("features", sort=False):
                    g = g.groupby("epsilon")[["auc", "auc_low", "auc_high"]].mean()
                    ax.errorbar(
                        g.index,
                        g["auc"],
                        yerr=[g["auc"] - g["auc_low"], g["auc_high"] - g["auc"]],
                        marker="o",
                        markersize=3,
                        capsize=2,
                        color=_FEATURE_COLORS.get(features),
                        label=features,
                    )
                ax.axhline(0.5, color="0.6", linewidth=0.8, linestyle=":")
                ax.set_ylim(0.0, 1.05)
                ax.set_title(f"{method.upper()}, epoch {epoch}")
                if r == len(epochs) - 1:
                    ax.set_xlabel(r"attack $\varepsilon$ (pixel units)")
                if c == 0:
                    ax.set_ylabel("ROC AUC (CV)")
        _finish(fig, axes[0][0], png, pdf, title, "detector features")


def adversarial_plot_stage(
    *, run: str, curves_csv, summary_csv, records_csv, detection_csv, outputs: Mapping[str, str]
) -> None:
    """Stage ``adversarial_plot``: the figures of a run's adversarial study.

    Parameters
    ----------
    run : str
        Run name (figure titles).
    curves_csv, summary_csv, records_csv : str or Path
        The tables of :func:`dnn_topology.studies.aggregate.adversarial_aggregate_stage`.
    detection_csv : str or Path or None
        The detection table (:func:`dnn_topology.studies.adversarial.detection.detection_stage`); None when detection is off.
    outputs : mapping
        ``<plot>_png`` / ``<plot>_pdf`` -> path, for the figures of :data:`dnn_topology.layout.ADVERSARIAL_PLOTS` to draw.
    """
    curves, summary = pd.read_csv(curves_csv), pd.read_csv(summary_csv)
    title = f"{run}: clean vs adversarial inputs"
    jobs = {
        "betti_curves_density": lambda png, pdf: plot_attacked_betti_curves(curves, "density", png, pdf, title),
        "betti_curves_epsilon": lambda png, pdf: plot_attacked_betti_curves(curves, "epsilon", png, pdf, title),
        "summaries_vs_epsilon": lambda png, pdf: plot_summaries_vs_epsilon(summary, png, pdf, title),
        "accuracy_under_attack": lambda png, pdf: plot_accuracy_under_attack(pd.read_csv(records_csv), png, pdf, run),
        "detection_auc": lambda png, pdf: plot_detection_auc(pd.read_csv(detection_csv), png, pdf, title),
    }
    for plot, draw in jobs.items():
        if f"{plot}_png" in outputs:
            draw(outputs[f"{plot}_png"], outputs[f"{plot}_pdf"])
