"""A persistence diagram in the layouts other TDA libraries hold: ripser.py/persim, GUDHI and giotto-tda.

A :class:`~dnn_topology.topology.dipha_files.Diagram` keeps DIPHA's conventions: values in filtration
units epsilon = distance / 2, essential classes of H_k written with dim -k-1 and, as death, the largest
value of the complex. The libraries below compute Vietoris-Rips persistence on the *distances*
themselves and mark an essential class with an infinite death, so the converters

* give values in distance units by default (``units="distance"``: birth and death times 2, what
  ``ripser(D, distance_matrix=True)`` or ``gudhi.RipsComplex(distance_matrix=D)`` give for the same
  matrix ``D``), or in DIPHA's units with ``units="epsilon"``;
* give essential classes the death ``inf``.

Layouts:

* :func:`to_ripser` -- ripser.py's ``dgms`` (persim's input): a list indexed by dimension of
  ``(n_k, 2)`` float arrays ``[birth, death]``;
* :func:`to_gudhi` -- ``SimplexTree.persistence()``'s list of ``(dim, (birth, death))``;
* :func:`to_giotto_tda` -- giotto-tda's ``(n_samples, n_points, 3)`` array of ``[birth, death, dim]``
  triples (``VietorisRipsPersistence.transform``): with ``reduced_homology`` (giotto-tda's default) one
  infinite H0 bar is left out, infinite deaths are replaced by ``infinity_values`` and bars with
  birth >= death then dropped, and every sample is padded per dimension with ``[b, b, dim]`` triples
  (b the smallest birth of that dimension over the samples) to the same number of points.

The converters import none of those libraries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .dipha_files import Diagram

UNITS = {"distance": 2.0, "epsilon": 1.0}


def _scale(units: str) -> float:
    if units not in UNITS:
        raise ValueError(f"units must be one of {sorted(UNITS)}, got {units!r}")
    return UNITS[units]


def _pairs(diagram: Diagram, dim: int, units: str) -> np.ndarray:
    """``(n, 2)`` [birth, death] of the classes of ``dim`` in ``units``, essential ones with death inf;
    finite pairs first, each part in DIPHA's order."""
    scale = _scale(units)
    hom, ess = diagram.homology_dims, diagram.essential
    fin = (hom == dim) & ~ess
    inf = (hom == dim) & ess
    births = np.concatenate([diagram.births[fin], diagram.births[inf]]) * scale
    deaths = np.concatenate([diagram.deaths[fin] * scale, np.full(int(inf.sum()), np.inf)])
    return np.column_stack([births, deaths]).astype(np.float64).reshape(-1, 2)


def _max_dim(diagram: Diagram, max_dim: int | None) -> int:
    if max_dim is not None:
        return int(max_dim)
    return int(diagram.homology_dims.max()) if len(diagram) else 0


def to_ripser(diagram: Diagram, *, max_dim: int | None = None, units: str = "distance") -> list[np.ndarray]:
    """ripser.py's ``dgms`` layout (what persim's plots and distances take).

    Parameters
    ----------
    diagram : Diagram
        In DIPHA's conventions.
    max_dim : int, optional
        Highest dimension (default: the diagram's highest); an empty dimension is a ``(0, 2)`` array.
    units : {"distance", "epsilon"}
        ``distance`` (default): birth and death times 2, as ripser computes on the distance matrix.

    Returns
    -------
    list of numpy.ndarray
        Item k: ``(n_k, 2)`` float64 ``[birth, death]`` of H_k; essential classes have death ``inf``.

    Examples
    --------
    >>> from dnn_topology import Diagram
    >>> d = Diagram(dims=[-1, 0, 1], births=[0.0, 0.0, 0.1], deaths=[0.3, 0.05, 0.2])
    >>> to_ripser(d)
    [array([[0. , 0.1],
           [0. , inf]]), array([[0.2, 0.4]])]
    """
    return [_pairs(diagram, k, units) for k in range(_max_dim(diagram, max_dim) + 1)]


def to_gudhi(diagram: Diagram, *, units: str = "distance") -> list[tuple[int, tuple[float, float]]]:
    """GUDHI's ``SimplexTree.persistence()`` layout: ``(dim, (birth, death))``, essential deaths ``inf``.

    Ordered as GUDHI orders it: by dimension, highest first, then by persistence (death - birth),
    longest first.

    Examples
    --------
    >>> from dnn_topology import Diagram
    >>> to_gudhi(Diagram(dims=[-1, 0, 1], births=[0.0, 0.0, 0.1], deaths=[0.3, 0.05, 0.2]))
    [(1, (0.2, 0.4)), (0, (0.0, inf)), (0, (0.0, 0.1))]
    """
    out = []
    for k in range(_max_dim(diagram, None), -1, -1):
        pairs = _pairs(diagram, k, units)
        order = np.argsort(-(pairs[:, 1] - pairs[:, 0]), kind="stable")
        out += [(k, (float(b), float(d))) for b, d in pairs[order]]
    return out


def to_giotto_tda(
    diagrams: Diagram | Sequence[Diagram],
    *,
    homology_dimensions: Sequence[int] | None = None,
    units: str = "distance",
    infinity_values: float | None = None,
    reduced_homology: bool = True,
) -> np.ndarray:
    """giotto-tda's layout of a collection of diagrams: ``(n_samples, n_points, 3)`` ``[birth, death, dim]``.

    Parameters
    ----------
    diagrams : Diagram or sequence of Diagram
        One diagram (one sample) or several.
    homology_dimensions : sequence of int, optional
        The dimensions kept (default: 0 up to the highest of the diagrams).
    units : {"distance", "epsilon"}
        As for :func:`to_ripser`.
    infinity_values : float, optional
        The death given to essential classes (giotto-tda's parameter; its default is its
        ``max_edge_length``: pass ``2 * max_epsilon`` for a graph cut at ``max_epsilon``). Default: inf.
    reduced_homology : bool
        Leave out one infinite H0 bar per diagram (giotto-tda's default).

    Returns
    -------
    numpy.ndarray
        ``(n_samples, n_points, 3)``, each dimension padded to the same number of points in every sample
        with ``[b, b, dim]`` triples (b: the smallest birth of that dimension over the samples, 0 when none).

    Examples
    --------
    >>> from dnn_topology import Diagram
    >>> to_giotto_tda(Diagram(dims=[-1, 0, 1], births=[0.0, 0.0, 0.1], deaths=[0.3, 0.05, 0.2]))
    array([[[0. , 0.1, 0. ],
            [0.2, 0.4, 1. ]]])
    """
    if isinstance(diagrams, Diagram):
        diagrams = [diagrams]
    if homology_dimensions is None:
        homology_dimensions = range(max((_max_dim(d, None) for d in diagrams), default=0) + 1)
    dims = [int(k) for k in homology_dimensions]
    fill = np.inf if infinity_values is None else float(infinity_values)
    per_sample = []
    for diagram in diagrams:
        parts = {}
        for k in dims:
            pairs = _pairs(diagram, k, units)
            if k == 0 and reduced_homology:
                essential = np.flatnonzero(np.isinf(pairs[:, 1]))
                if len(essential):
                    pairs = np.delete(pairs, essential[-1], axis=0)
            pairs = np.where(np.isinf(pairs), fill, pairs)
            parts[k] = pairs[pairs[:, 0] < pairs[:, 1]]
        per_sample.append(parts)
    most = {k: max([len(p[k]) for p in per_sample] + [1]) for k in dims}
    lowest = {k: min((float(p[k][:, 0].min()) for p in per_sample if len(p[k])), default=0.0) for k in dims}
    out = []
    for parts in per_sample:
        rows = []
        for k in dims:
            pad = np.full((most[k] - len(parts[k]), 2), lowest[k])
            block = np.vstack([parts[k], pad])
            rows.append(np.column_stack([block, np.full(len(block), float(k))]))
        out.append(np.vstack(rows))
    return np.stack(out)
