"""Figures of a run's adversarial study (PNG and PDF, in ``results/<run>/adversarial/plots/``).

* ``betti_curves_density`` / ``betti_curves_epsilon``: one row per attacked epoch, one column per homology
  dimension; the clean inputs' Betti curve (black) next to each attack and epsilon (FGSM blues, PGD reds,
  darker = larger epsilon). Mean over trials (against density, on a common density grid:
  :func:`dnn_topology.plots.run_figures.curve_on_density_grid`); beta_0 on a log scale.
* ``summaries_vs_epsilon``: max beta_k, the edge density where it peaks (% of node pairs) and the area under
  the curve against density, against epsilon (pixel units; epsilon 0 = clean inputs), one line per method
  and epoch, for beta_1 and up (beta_0's maximum is the node count, at density 0).
* ``accuracy_under_attack``: accuracy (%) of the fixed sample set, clean and under each attack, against the epoch.
* ``detection_auc``: the detector's cross-validated ROC AUC (95% interval) against epsilon, per feature set,
  one panel per method and epoch.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ...plots.run_figures import curve_on_density_grid, curve_on_epsilon_grid  # noqa: E402
from ...plots.style import AXIS_LABELS, STYLE, log_axis, save_figure  # noqa: E402

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
                    mean = curve_on_density_grid(sub) if x == "density_pct" else curve_on_epsilon_grid(sub)
                    ax.plot(
                        mean[x],
                        mean["mean"],
                        color=colors[a["attack"]],
                        label=_label(a),
                        linewidth=1.6 if a["attack"] == "clean" else 1.0,
                    )
                ax.set_title(rf"epoch {epoch}, $\beta_{k}$")
                if k == 0:
                    log_axis(ax)
                if r == len(epochs) - 1:
                    ax.set_xlabel(AXIS_LABELS[x])
                if c == 0:
                    ax.set_ylabel("Betti number")
        n = curves["trial"].nunique()
        _finish(fig, axes[0][0], png, pdf, title, f"mean of {n} trials" if n > 1 else "1 trial")


def plot_summaries_vs_epsilon(summary: pd.DataFrame, png, pdf, title: str = "") -> None:
    """max beta_k, density at the peak and area against density, against the attack's epsilon."""
    summary = summary[summary["dim"] >= 1]  # beta_0: its maximum is the node count, at density 0
    dims, epochs = sorted(summary["dim"].unique()), sorted(summary["epoch"].unique())
    methods = sorted(m for m in summary["method"].unique() if m != "none")
    rows = [
        ("max_betti", "max (classes)"),
        ("density_pct_at_max", "edge density at max\n(% of node pairs)"),
        ("auc_density_pct", "area against density\n(classes x % of pairs)"),
    ]
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
        clean = records.groupby("epoch")["clean_acc_pct"].mean()
        ax.plot(clean.index, clean.to_numpy(), "o-", color=colors["clean"], label="clean", linewidth=1.6)
        for (method, eps, attack), g in records.groupby(["method", "epsilon", "attack"]):
            acc = g.groupby("epoch")["adversarial_acc_pct"].mean()
            ax.plot(
                acc.index,
                acc.to_numpy(),
                "o-",
                markersize=3,
                color=colors[attack],
                label=f"{method.upper()} $\\varepsilon$={eps:g}",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
        if title:
            ax.set_title(title)
        fig.tight_layout()
        save_figure(fig, png, pdf)


def plot_detection_auc(table: pd.DataFrame, png, pdf, title: str = "") -> None:
    """Cross-validated ROC AUC with its 95% interval against epsilon: panels = (epoch, method), lines = features."""
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
        _finish(fig, axes[0][0], png, pdf, title, "detector features\n(bars: 95% bootstrap\ninterval)")


def attack_table(records: pd.DataFrame) -> pd.DataFrame:
    """The attack record per epoch and attack, mean over trials, columns in words with their units."""
    cols = {
        "clean_acc_pct": "clean accuracy (%)",
        "adversarial_acc_pct": "accuracy under attack (%)",
        "success_rate_pct": "success rate (%)",
        "mean_linf": "mean L-inf (pixels)",
        "mean_l2": "mean L2 (pixels)",
    }
    table = records.groupby(["epoch", "method", "epsilon"], as_index=False)[list(cols)].mean()
    table["method"] = table["method"].str.upper()
    return table.rename(columns={**cols, "epsilon": "attack epsilon (pixels)"})


def detection_table(detection: pd.DataFrame) -> pd.DataFrame:
    """ROC AUC [95% interval] per epoch and attack (rows) and feature set (columns), mean over trials."""
    g = detection.groupby(["epoch", "method", "epsilon", "features"], sort=False)[["auc", "auc_low", "auc_high"]].mean()
    cells = g.apply(lambda r: f"{r['auc']:.2f} [{r['auc_low']:.2f}, {r['auc_high']:.2f}]", axis=1).rename("cell")
    table = cells.reset_index().pivot(index=["epoch", "method", "epsilon"], columns="features", values="cell")
    table = table.reset_index().rename(columns={"epsilon": "attack epsilon (pixels)"})
    table["method"] = table["method"].str.upper()
    table.columns = [f"{c} AUC [95%]" if c in FEATURE_SETS else c for c in table.columns]
    return table


FEATURE_SETS = ("topology", "baseline", "combined")


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
        Optionally ``tables_html``, the attack and detection tables as a page for the report.
    """
    curves, summary = pd.read_csv(curves_csv), pd.read_csv(summary_csv)
    title = f"{run}: clean vs adversarial inputs"
    jobs = {
        "betti_curves_density": lambda png, pdf: plot_attacked_betti_curves(curves, "density_pct", png, pdf, title),
        "betti_curves_epsilon": lambda png, pdf: plot_attacked_betti_curves(curves, "epsilon", png, pdf, title),
        "summaries_vs_epsilon": lambda png, pdf: plot_summaries_vs_epsilon(summary, png, pdf, title),
        "accuracy_under_attack": lambda png, pdf: plot_accuracy_under_attack(pd.read_csv(records_csv), png, pdf, run),
        "detection_auc": lambda png, pdf: plot_detection_auc(pd.read_csv(detection_csv), png, pdf, title),
    }
    for plot, draw in jobs.items():
        if f"{plot}_png" in outputs:
            draw(outputs[f"{plot}_png"], outputs[f"{plot}_pdf"])
    if "tables_html" in outputs:
        from ...plots.tables import write_html

        sections = [("attacks", attack_table(pd.read_csv(records_csv)))]
        if detection_csv is not None:
            sections.append(
                (
                    "batch-level detection: cross-validated ROC AUC (0.5 = chance)",
                    detection_table(pd.read_csv(detection_csv)),
                )
            )
        write_html(
            outputs["tables_html"],
            f"{run}: adversarial inputs",
            sections,
            note="Means over trials. Success rate: the percentage of the correctly classified samples that the "
            "attack makes misclassified. Tables: adversarial/attacks.csv, adversarial/detection.csv.",
        )
