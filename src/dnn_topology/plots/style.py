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

__all__ = ["AXIS_LABELS", "STYLE", "count_axis", "epoch_styles", "log_axis", "plt", "save_figure"]

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


def _plain(value, _pos=None) -> str:
    return f"{value:g}"


def log_axis(ax) -> None:
    """A log y axis with ticks at 1, 2, 5 x 10^k written as plain numbers (50, 100, 200, not 5 x 10^1)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))
    ax.yaxis.set_minor_formatter(NullFormatter())


def count_axis(ax, values) -> str:
    """The y scale for counts (e.g. Betti numbers) that may span decades and be 0: symlog (linear below 1,
    so that 0 is drawn) with plain-number ticks at 1, 2, 3, 5 x 10^k when the positive values span a
    decade or more, else linear. Returns the scale's name for the axis label ("symlog scale" or "")."""
    from matplotlib.ticker import FuncFormatter, SymmetricalLogLocator

    v = [float(x) for x in values if x == x and x > 0]
    if not v or max(v) / min(v) < 10:
        return ""
    ax.set_yscale("symlog", linthresh=1)
    ax.yaxis.set_major_locator(SymmetricalLogLocator(base=10, linthresh=1, subs=[1.0, 2.0, 3.0, 5.0]))
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))
    return "symlog scale"


def save_figure(fig, png: str | Path, pdf: str | Path) -> None:
    """Write ``fig`` as PNG and PDF (atomically) and close it."""
    for path, fmt in ((png, "png"), (pdf, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=200, bbox_inches="tight")
    plt.close(fig)
