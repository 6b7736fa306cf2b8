"""The house style of every figure: axis labels, units, fonts, and how a figure is saved.

Matplotlib runs on its non-interactive Agg backend (jobs run without a display). Every figure is
written twice, as PNG (200 dpi) and PDF, each atomically (a failed job leaves no half-written file).
Edge density is plotted in percent of node pairs (:data:`AXIS_SCALE`).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..io_utils import atomic_path  # noqa: E402

__all__ = ["AXIS_LABELS", "AXIS_SCALE", "STYLE", "plt", "save_figure"]

AXIS_LABELS = {
    "density": "edge density (% of node pairs)",
    "epsilon": r"filtration value $\varepsilon$ (= (1 - |corr|) / 2)",
    "corr_threshold": "|corr| threshold",
}
AXIS_SCALE = {"density": 100.0}  # density is plotted in percent
STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
}


def save_figure(fig, png: str | Path, pdf: str | Path) -> None:
    """Write ``fig`` as PNG and PDF (atomically) and close it."""
    for path, fmt in ((png, "png"), (pdf, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=200, bbox_inches="tight")
    plt.close(fig)
