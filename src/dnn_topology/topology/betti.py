"""Betti curves and their summaries, from a persistence diagram in DIPHA's conventions.

Units and axes. A diagram holds (dim, birth, death) in DIPHA's filtration units
epsilon = distance / 2, where distance = 1 - |corr|. Each curve is reported against three axes:

* ``epsilon``        -- DIPHA's filtration value (grid values are written exactly: 0.009, not
  0.009000000000000001, so that a filter on a grid value works);
* ``corr_threshold`` -- the |corr| threshold 1 - 2*epsilon (edges with |corr| >= it are present);
* ``density_pct``    -- the edge density: the percentage of the n(n-1)/2 node pairs connected at that
  threshold (0-100; every table and figure of the package gives edge density in percent).

Betti numbers. beta_k(eps) counts the classes of dimension k alive at eps: finite pairs with
birth <= eps < death, plus *essential* classes (DIPHA dim -k-1) with birth <= eps. Essential
classes are those still alive where the filtration was cut (max_epsilon): they are counted as alive
up to the end of every curve, because their true death lies beyond the computed range.

Summaries per dimension: ``max_betti`` and the epsilon/density/corr at which it is first reached,
the areas under the curve against epsilon and against density in percent (trapezoid rule), the number of
classes (``n_classes`` = ``n_finite`` + ``n_essential``), and the mean life (death - birth) and mean
midlife ((birth + death) / 2) over the *finite* classes only: an essential class has no death, and
the value DIPHA writes in its place is the cut-off, not a property of the class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..io_utils import atomic_path
from .dipha_files import Diagram, PathLike, SparseDistanceMatrix, read_persistence_diagram, read_sparse_distance_matrix
from .graph import edge_density

if TYPE_CHECKING:  # pandas is imported by the functions that build tables: `import dnn_topology` stays light
    import pandas as pd

CURVE_COLUMNS = ["dim", "epsilon", "corr_threshold", "density_pct", "betti"]
SUMMARY_COLUMNS = [
    "dim",
    "max_betti",
    "epsilon_at_max",
    "corr_at_max",
    "density_pct_at_max",
    "auc_epsilon",
    "auc_density_pct",
    "n_classes",
    "n_finite",
    "n_essential",
    "mean_life",
    "mean_midlife",
]
DEFAULT_N_POINTS = 301
GRID_DECIMALS = 12  # grid values are rounded to this many decimals: linspace's last-bit noise is not written


def epsilon_grid(max_epsilon: float, n_points: int = DEFAULT_N_POINTS) -> np.ndarray:
    """``n_points`` evenly spaced filtration values from 0 to ``max_epsilon`` inclusive.

    Each value is the decimal it stands for (rounded to 12 decimals), so ``0.009`` is written and
    matched as ``0.009``, not ``0.009000000000000001``.

    Parameters
    ----------
    max_epsilon : float
        The last value (the cut of the filtration, DIPHA units: distance / 2, at most 0.5).
    n_points : int
        At least 2.

    Returns
    -------
    numpy.ndarray
        The grid.

    Examples
    --------
    >>> epsilon_grid(0.3, 4).tolist()
    [0.0, 0.1, 0.2, 0.3]
    >>> float(epsilon_grid(0.3, 301)[9])
    0.009
    """
    if n_points < 2:
        raise ValueError(f"betti_curves.n_points must be >= 2, got {n_points}")
    return np.round(np.linspace(0.0, float(max_epsilon), int(n_points)), GRID_DECIMALS)


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


DiagramLike = Diagram | tuple  # a Diagram, or its (dims, births, deaths) arrays in DIPHA's conventions
DistancesLike = SparseDistanceMatrix | np.ndarray  # the graph: a DIPHA sparse matrix or a square (n, n) array

_TOLERANCE = 1e-9  # relative: a diagram value and half a distance match within it (both are float64)


class UnitsError(ValueError):
    """Filtration values (epsilon = distance / 2) given where distances (1 - |corr|) are expected, or the reverse."""


def _as_diagram(diagram: DiagramLike) -> Diagram:
    if isinstance(diagram, Diagram):
        return diagram
    try:
        dims, births, deaths = diagram
    except (TypeError, ValueError):
        raise TypeError(
            f"diagram must be a Diagram or its (dims, births, deaths) arrays, got {type(diagram).__name__}"
        ) from None
    return Diagram(dims, births, deaths)


def pair_distances(distances: DistancesLike) -> tuple[np.ndarray, int]:
    """Every node pair's distance once, sorted, and the number of nodes, from a sparse or a square matrix.

    A sparse matrix holds the pairs within its cut; a square array holds every pair (its upper triangle)."""
    if isinstance(distances, SparseDistanceMatrix):
        _, _, upper = distances.edges()
        return np.sort(upper), int(distances.n)
    D = np.asarray(distances, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ValueError(
            f"distances must be a SparseDistanceMatrix or a square (n, n) matrix of 1 - |corr|, got shape {D.shape}"
        )
    return np.sort(D[np.triu_indices(D.shape[0], 1)]), int(D.shape[0])


def check_units(diagram: Diagram, sorted_pairs: np.ndarray) -> None:
    """Raise :class:`UnitsError` unless ``diagram`` is in filtration units (distance / 2) of ``sorted_pairs`` (distances).

    In a Vietoris-Rips filtration every finite H0 class dies when an edge joins two components, so
    each H0 death is exactly half of one of the graph's distances (DIPHA's units). A diagram given in
    distance units, or distances given in filtration units, breaks that (and would silently put every
    curve at the wrong edge density). Only the deaths within the graph's range are checked: a diagram
    of the full matrix may go with the graph cut at ``max_epsilon`` (as the original code's imported
    diagrams do). The check holds for any distance, not only 1 - |corr|."""
    hint = (
        "betti_curves takes the diagram in DIPHA's filtration units epsilon = distance / 2 (as compute_persistence "
        "and read_persistence_diagram give it) and the graph's distances, e.g. 1 - |corr| (a SparseDistanceMatrix "
        "or the square matrix of distance_matrix)"
    )
    h0 = diagram.deaths[diagram.dims == 0]
    if not len(h0):
        return
    if not len(sorted_pairs):
        raise UnitsError("the diagram has finite H0 classes but the graph has no edge: " + hint)
    top = sorted_pairs[-1]
    inside = h0[2.0 * h0 <= top + _TOLERANCE * max(1.0, top)]
    if not len(inside):
        raise UnitsError(
            f"every H0 death of the diagram (the smallest {h0.min():g}) lies beyond half the graph's largest "
            f"distance {top:g}: the diagram and the distances are not in matching units. " + hint
        )
    wanted = 2.0 * inside
    idx = np.searchsorted(sorted_pairs, wanted)
    below = sorted_pairs[np.clip(idx - 1, 0, len(sorted_pairs) - 1)]
    above = sorted_pairs[np.clip(idx, 0, len(sorted_pairs) - 1)]
    nearest = np.where(np.abs(below - wanted) <= np.abs(above - wanted), below, above)
    off = np.abs(nearest - wanted) > _TOLERANCE * np.maximum(1.0, np.abs(wanted))
    if off.any():
        k = int(np.argmax(off))
        d = inside[k]
        j = min(int(np.searchsorted(sorted_pairs, d)), len(sorted_pairs) - 1)
        same = abs(sorted_pairs[j] - d) <= _TOLERANCE * max(1.0, d)
        why = (
            f" but has a distance {d:g} itself: the diagram and the distances are in the same units (were "
            "filtration values passed as distances, or distances as the diagram?)"
            if same
            else ""
        )
        raise UnitsError(
            f"{int(off.sum())} of {len(inside)} H0 deaths of the diagram are not half a distance of the graph: e.g. "
            f"death {d:g} has no distance {2.0 * d:g}{why}. " + hint
        )


def betti_curves(
    diagram: DiagramLike,
    distances: DistancesLike,
    *,
    max_dim: int | None = None,
    max_epsilon: float | None = None,
    n_points: int = DEFAULT_N_POINTS,
    grid: np.ndarray | None = None,
) -> pd.DataFrame:
    """Tidy table of beta_k for k = 0..max_dim on a grid of filtration values, with the three axes.

    Parameters
    ----------
    diagram : Diagram or (dims, births, deaths)
        A persistence diagram in DIPHA's conventions and units (epsilon = distance / 2), as
        :func:`~dnn_topology.compute_persistence` and :func:`~dnn_topology.read_persistence_diagram` give it.
    distances : SparseDistanceMatrix or numpy.ndarray
        The graph it was computed from, in distance units 1 - |corr|: the sparse matrix (cut at
        ``max_epsilon``) or the full square matrix of :func:`~dnn_topology.distance_matrix`. It gives the
        edge-density axis. The units are checked (:class:`UnitsError` for filtration values given as
        distances, or a diagram given in distance units).
    max_dim : int, optional
        Highest homology dimension reported (default: the diagram's highest).
    max_epsilon : float, optional
        End of the grid: the cut of the filtration (default: the diagram's largest value, which for a
        diagram with essential classes is the largest value of the complex, as DIPHA writes it).
    n_points : int
        Points of the grid (default 301).
    grid : numpy.ndarray, optional
        The filtration values themselves, instead of ``max_epsilon`` and ``n_points``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CURVE_COLUMNS`: ``dim``, ``epsilon``, ``corr_threshold``, ``density_pct``, ``betti``.

    Raises
    ------
    UnitsError
        When the diagram's H0 deaths are not half of the graph's distances (see :func:`check_units`).

    Examples
    --------
    From activations (samples x nodes) to Betti curves: the functional graph (distance 1 - |corr|),
    its cut at epsilon 0.3 (|corr| >= 0.4), the diagram H0..H1, and beta_0, beta_1 on 7 filtration values.

    >>> import numpy as np
    >>> import dnn_topology as dt
    >>> rng = np.random.default_rng(0)
    >>> activations = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 30)) + rng.normal(size=(200, 30))
    >>> graph = dt.full_to_sparse(dt.distance_matrix(activations), 0.3)
    >>> diagram = dt.compute_persistence(graph, upper_dim=2)
    >>> curves = dt.betti_curves(diagram, graph, max_epsilon=0.3, n_points=7)
    >>> print(curves[curves["dim"] == 1].round(2).to_string(index=False))
     dim  epsilon  corr_threshold  density_pct  betti
       1     0.00             1.0         0.00      0
       1     0.05             0.9         0.00      0
       1     0.10             0.8         0.69      0
       1     0.15             0.7         4.37      0
       1     0.20             0.6        12.41      1
       1     0.25             0.5        23.22      1
       1     0.30             0.4        34.25      2

    Filtration values given where distances are expected are refused:

    >>> dt.betti_curves(diagram, dt.distance_matrix(activations) / 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dnn_topology.topology.betti.UnitsError: ... H0 deaths of the diagram are not half a distance of the graph: ...
    """
    import pandas as pd  # deferred: see the imports

    dgm = _as_diagram(diagram)
    pairs, n_nodes = pair_distances(distances)
    hom_dim, b, d, ess = split_diagram(dgm.dims, dgm.births, dgm.deaths)
    if max_dim is None:
        max_dim = int(hom_dim.max()) if len(hom_dim) else 0
    if grid is None:
        if max_epsilon is None:
            max_epsilon = float(np.concatenate([b, d]).max()) if len(b) else float(pairs[-1] / 2 if len(pairs) else 0)
        grid = epsilon_grid(max_epsilon, n_points)
    grid = np.asarray(grid, dtype=np.float64)
    check_units(dgm, pairs)
    density = np.round(100.0 * edge_density(pairs, n_nodes, 2.0 * grid), GRID_DECIMALS)
    frames = []
    for k in range(max_dim + 1):
        sel = hom_dim == k
        frames.append(
            pd.DataFrame(
                {
                    "dim": k,
                    "epsilon": grid,
                    "corr_threshold": np.round(1.0 - 2.0 * grid, GRID_DECIMALS),
                    "density_pct": density,
                    "betti": betti_numbers(b[sel], d[sel], ess[sel], grid),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]


def summarize(curves: pd.DataFrame, diagram: DiagramLike, *, max_dim: int | None = None) -> pd.DataFrame:
    """One row of summaries per homology dimension (see the module docstring).

    Parameters
    ----------
    curves : pandas.DataFrame
        The table of :func:`betti_curves`.
    diagram : Diagram or (dims, births, deaths)
        The diagram it was computed from.
    max_dim : int, optional
        Highest homology dimension reported (default: the highest of ``curves``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`, one row per dimension 0..max_dim.

    Examples
    --------
    Four nodes in a cycle whose diagonals are far: one loop (H1) from epsilon 0.13 to 0.3.

    >>> import numpy as np
    >>> import dnn_topology as dt
    >>> D = np.array([[0, .2, .6, .26], [.2, 0, .22, .62], [.6, .22, 0, .24], [.26, .62, .24, 0]])
    >>> diagram = dt.compute_persistence(D, upper_dim=2)
    >>> curves = dt.betti_curves(diagram, D, n_points=7)
    >>> table = dt.summarize(curves, diagram)
    >>> print(table[["dim", "max_betti", "epsilon_at_max", "n_finite", "mean_life"]].to_string(index=False))
     dim  max_betti  epsilon_at_max  n_finite  mean_life
       0          4           0.000         3       0.11
       1          1           0.155         1       0.17
    """
    import pandas as pd  # deferred: see the imports

    dgm = _as_diagram(diagram)
    if max_dim is None:
        max_dim = int(curves["dim"].max()) if len(curves) else 0
    hom_dim, b, d, ess = split_diagram(dgm.dims, dgm.births, dgm.deaths)
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
                "density_pct_at_max": float(c["density_pct"].iloc[i]),
                "auc_epsilon": float(np.trapezoid(beta, c["epsilon"].to_numpy())),
                "auc_density_pct": float(np.trapezoid(beta, c["density_pct"].to_numpy())),
                "n_classes": int(sel.sum()),
                "n_finite": int(fin.sum()),
                "n_essential": int((sel & ess).sum()),
                "mean_life": float(life.mean()) if len(life) else float("nan"),
                "mean_midlife": float(mid.mean()) if len(mid) else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def betti_tables(
    diagram: Diagram, matrix: SparseDistanceMatrix, max_dim: int, max_epsilon: float, n_points: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Betti curves (:data:`CURVE_COLUMNS`) and their summaries (:data:`SUMMARY_COLUMNS`) of ``diagram``, computed
    from the sparse distance matrix ``matrix`` (its edges give the edge-density axis), on
    ``epsilon_grid(max_epsilon, n_points)`` for dimensions 0..``max_dim``.

    Examples
    --------
    >>> import numpy as np
    >>> from dnn_topology.topology.dipha_files import Diagram, full_to_sparse
    >>> matrix = full_to_sparse(np.array([[0.0, 0.2], [0.2, 0.0]]), 0.3)
    >>> diagram = Diagram(np.array([0, -1]), np.array([0.0, 0.0]), np.array([0.1, 0.3]))
    >>> curves, summary = betti_tables(diagram, matrix, max_dim=0, max_epsilon=0.3, n_points=4)
    >>> curves["betti"].tolist()
    [2, 1, 1, 1]
    """
    curves = betti_curves(diagram, matrix, max_dim=max_dim, max_epsilon=max_epsilon, n_points=n_points)
    return curves, summarize(curves, diagram, max_dim=max_dim)


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
    dgm = read_persistence_diagram(diagram)
    curve_table, summary_table = betti_tables(dgm, read_sparse_distance_matrix(sparse), max_dim, max_epsilon, n_points)
    for df, path in ((curve_table, curves), (summary_table, summary)):
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False)
    return curve_table, summary_table
