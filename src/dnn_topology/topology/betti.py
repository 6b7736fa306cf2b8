"""Betti curves and their summaries, from a persistence diagram in DIPHA's conventions.

Units and axes. A diagram holds (dim, birth, death) in DIPHA's filtration units
epsilon = distance / 2, where distance = 1 - |corr|. Each curve is reported against three axes:

* ``epsilon``        -- DIPHA's filtration value;
* ``corr_threshold`` -- the |corr| threshold 1 - 2*epsilon (edges with |corr| >= it are present);
* ``density``        -- the fraction of the n(n-1)/2 node pairs connected at that threshold.

Betti numbers. beta_k(eps) counts the classes of dimension k alive at eps: finite pairs with
birth <= eps < death, plus *essential* classes (DIPHA dim -k-1) with birth <= eps. Essential
classes are those still alive where the filtration was cut (max_epsilon): they are counted as alive
up to the end of every curve, because their true death lies beyond the computed range.

Summaries per dimension: ``max_betti`` and the epsilon/density/corr at which it is first reached,
the areas under the curve against epsilon and against density (trapezoid rule), the number of
classes (``n_classes`` = ``n_finite`` + ``n_essential``), and the mean life (death - birth) and mean
midlife ((birth + death) / 2) over the *finite* classes only: an essential class has no death, and
the value DIPHA writes in its place is the cut-off, not a property of the class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..io_utils import atomic_path
from .dipha_files import PathLike, read_persistence_diagram, read_sparse_distance_matrix
from .graph import edge_density

if TYPE_CHECKING:  # pandas is imported by the functions that build tables: `import dnn_topology` stays light
    import pandas as pd

CURVE_COLUMNS = ["dim", "epsilon", "corr_threshold", "density", "betti"]
SUMMARY_COLUMNS = [
    "dim",
    "max_betti",
    "epsilon_at_max",
    "corr_at_max",
    "density_at_max",
    "auc_epsilon",
    "auc_density",
    "n_classes",
    "n_finite",
    "n_essential",
    "mean_life",
    "mean_midlife",
]


def epsilon_grid(max_epsilon: float, n_points: int) -> np.ndarray:
    """``n_points`` evenly spaced filtration values from 0 to ``max_epsilon`` inclusive.

    Parameters
    ----------
    max_epsilon : float
        The last value (the cut of the filtration, DIPHA units).
    n_points : int
        At least 2.

    Returns
    -------
    numpy.ndarray
        The grid.
    """
    if n_points < 2:
        raise ValueError(f"betti_curves.n_points must be >= 2, got {n_points}")
    return np.linspace(0.0, float(max_epsilon), int(n_points))


def split_diagram(dims: np.ndarray, births: np.ndarray, deaths: np.ndarray):
    """Homology dimension, birth, death and an 'essential' flag from DIPHA-coded records."""
    dims = np.asarray(dims, dtype=np.int64)
    essential = dims < 0
    hom_dim = np.where(essential, -dims - 1, dims)
    return hom_dim, np.asarray(births, dtype=np.float64), np.asarray(deaths, dtype=np.float64), essential


def betti_numbers(births: np.ndarray, deaths: np.ndarray, essential: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """beta(eps) on ``grid`` for the classes of one dimension (see the module docstring)."""
    b = np.sort(births)
    born = np.searchsorted(b, grid, side="right")
    d = np.sort(deaths[~essential])
    died = np.searchsorted(d, grid, side="right")
    return (born - died).astype(np.int64)


def betti_curves(
    dims, births, deaths, max_dim: int, grid: np.ndarray, sorted_distances: np.ndarray, n_nodes: int
) -> pd.DataFrame:
    """Tidy table of beta_k for k = 0..max_dim on ``grid`` (epsilon), with the three axes.

    Parameters
    ----------
    dims, births, deaths : array_like
        A diagram's records in DIPHA's conventions (e.g. ``Diagram.dims``, ``.births``, ``.deaths``).
    max_dim : int
        Highest homology dimension reported.
    grid : numpy.ndarray
        Filtration values (see :func:`epsilon_grid`).
    sorted_distances : numpy.ndarray
        Every node pair's distance within the cut, each pair once, sorted (for the density axis).
    n_nodes : int
        Number of nodes of the graph.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CURVE_COLUMNS`: ``dim``, ``epsilon``, ``corr_threshold``, ``density``, ``betti``.
    """
    import pandas as pd  # deferred: see the imports

    hom_dim, b, d, ess = split_diagram(dims, births, deaths)
    density = edge_density(sorted_distances, n_nodes, 2.0 * grid)
    frames = []
    for k in range(max_dim + 1):
        sel = hom_dim == k
        frames.append(
            pd.DataFrame(
                {
                    "dim": k,
                    "epsilon": grid,
                    "corr_threshold": 1.0 - 2.0 * grid,
                    "density": density,
                    "betti": betti_numbers(b[sel], d[sel], ess[sel], grid),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]


def summarize(curves: pd.DataFrame, dims, births, deaths, max_dim: int) -> pd.DataFrame:
    """One row of summaries per homology dimension (see the module docstring).

    Parameters
    ----------
    curves : pandas.DataFrame
        The table of :func:`betti_curves`.
    dims, births, deaths : array_like
        The diagram it was computed from.
    max_dim : int
        Highest homology dimension reported.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`, one row per dimension 0..max_dim.
    """
    import pandas as pd  # deferred: see the imports

    hom_dim, b, d, ess = split_diagram(dims, births, deaths)
    rows = []
    for k in range(max_dim + 1):
        c = curves[curves["dim"] == k]
        beta = c["betti"].to_numpy(dtype=float)
        i = int(np.argmax(beta)) if len(beta) else 0
        sel = hom_dim == k
        fin = sel & ~ess
        life = d[fin] - b[fin]
        mid = (d[fin] + b[fin]) / 2
        rows.append(
            {
                "dim": k,
                "max_betti": int(beta[i]) if len(beta) else 0,
                "epsilon_at_max": float(c["epsilon"].iloc[i]),
                "corr_at_max": float(c["corr_threshold"].iloc[i]),
                "density_at_max": float(c["density"].iloc[i]),
                "auc_epsilon": float(np.trapezoid(beta, c["epsilon"].to_numpy())),
                "auc_density": float(np.trapezoid(beta, c["density"].to_numpy())),
                "n_classes": int(sel.sum()),
                "n_finite": int(fin.sum()),
                "n_essential": int((sel & ess).sum()),
                "mean_life": float(life.mean()) if len(life) else float("nan"),
                "mean_midlife": float(mid.mean()) if len(mid) else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def diagram_curves(
    diagram, matrix, max_dim: int, max_epsilon: float, n_points: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Betti curves and their summaries of ``diagram``, computed from the sparse distance ``matrix``.

    Parameters
    ----------
    diagram : Diagram
        A persistence diagram in DIPHA's conventions.
    matrix : SparseDistanceMatrix
        The matrix it was computed from (its pairs give the edge-density axis).
    max_dim, max_epsilon, n_points
        As for :func:`betti_curves_stage`.

    Returns
    -------
    curves, summary : pandas.DataFrame
        Columns :data:`CURVE_COLUMNS` and :data:`SUMMARY_COLUMNS`.
    """
    _, _, upper = matrix.edges()  # each pair once
    grid = epsilon_grid(max_epsilon, n_points)
    curves = betti_curves(diagram.dims, diagram.births, diagram.deaths, max_dim, grid, np.sort(upper), matrix.n)
    return curves, summarize(curves, diagram.dims, diagram.births, diagram.deaths, max_dim)


def betti_curves_stage(
    *,
    diagram: PathLike,
    sparse: PathLike,
    curves: PathLike,
    summary: PathLike,
    max_dim: int,
    max_epsilon: float,
    n_points: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage ``betti_curves``: Betti curves and summaries of a DIPHA diagram, as CSV files.

    Parameters
    ----------
    diagram : str or Path
        DIPHA PERSISTENCE_DIAGRAM file.
    sparse : str or Path
        The SPARSE_DISTANCE_MATRIX it was computed from (for the edge-density axis).
    curves, summary : str or Path
        CSV files to write (atomically): columns :data:`CURVE_COLUMNS` and :data:`SUMMARY_COLUMNS`.
    max_dim : int
        Highest homology dimension reported.
    max_epsilon : float
        End of the epsilon grid (the cut of the filtration).
    n_points : int
        Points of the epsilon grid.

    Returns
    -------
    curves, summary : pandas.DataFrame
        The tables written.
    """
    curve_table, summary_table = diagram_curves(
        read_persistence_diagram(diagram), read_sparse_distance_matrix(sparse), max_dim, max_epsilon, n_points
    )
    for df, path in ((curve_table, curves), (summary_table, summary)):
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False)
    return curve_table, summary_table
