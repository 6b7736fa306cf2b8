"""Figures of a run and of a comparison of runs, and the house style every figure shares.

* :mod:`~dnn_topology.plots.style`       -- axis labels, units, fonts; saving as PNG and PDF
* :mod:`~dnn_topology.plots.run_figures` -- Betti curves, persistence diagrams and summaries of a run; comparisons

A study's own figures live with the study (:mod:`dnn_topology.studies`).
"""

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "STYLE": "style",
        "save_figure": "style",
        "plot_betti_curves": "run_figures",
        "plot_persistence_diagrams": "run_figures",
        "plot_summaries": "run_figures",
        "plot_comparison": "run_figures",
    },
)
