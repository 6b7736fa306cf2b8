"""The house style of every figure: axis labels, units, fonts, and how a figure is saved.

Matplotlib runs on its non-interactive Agg backend (jobs run without a display). Every figure is
written twice, as PNG (200 dpi) and PDF, each atomically (a failed job leaves no half-written file).
Edge density is in percent of node pairs in every table (``density_pct``) and figure. Epochs are
told apart by :func:`epoch_styles`: epoch 0 (the initial weights) dashed grey, the trained epochs
along a sequential colour map.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..io_utils import atomic_path  # noqa: E402

__all__ = ["AXIS_LABELS", "STYLE", "epoch_styles", "plt", "save_figure"]

AXIS_LABELS = {
    "density_pct": "edge density (% of node pairs)",
    "epsilon": r"filtration value $\varepsilon$ (= (1 - |corr|) / 2)",
    "corr_threshold": "|corr| threshold",
}
STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
}


def epoch_styles(epochs) -> dict[int, dict]:
    """Line style per epoch: epoch 0 (the initial weights) dashed grey, the others along viridis from dark
    purple to yellow, so that neighbouring epochs (0 and 1 above all) stay apart."""
    trained = [e for e in sorted(epochs) if e != 0]
    cmap = plt.get_cmap("viridis")
    styles = {0: {"color": "0.45", "linestyle": "--"}} if 0 in epochs else {}
    for i, e in enumerate(trained):
        styles[e] = {"color": cmap(0.05 + 0.9 * i / max(len(trained) - 1, 1)), "linestyle": "-"}
    return styles


def save_figure(fig, png: str | Path, pdf: str | Path) -> None:
    """Write ``fig`` as PNG and PDF (atomically) and close it."""
    for path, fmt in ((png, "png"), (pdf, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=200, bbox_inches="tight")
    plt.close(fig)
