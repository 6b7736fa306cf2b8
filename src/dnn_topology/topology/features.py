"""Life and midlife features of a persistence diagram (Corneanu et al., CVPR 2020).

The CVPR 2020 paper summarises a network's diagram by its **life** lambda = mean(death - birth) and
**midlife** mu = mean((birth + death) / 2) over the pairs of one homology dimension (H1 in the
paper), and regresses the generalization gap on them.

Units and conventions
---------------------
* Births and deaths are DIPHA filtration values epsilon = distance / 2, distance = 1 - |corr|
  (see :mod:`dnn_topology.topology.betti`), so life and midlife are in the same epsilon units.
* **Essential classes are excluded.** An essential class (DIPHA dim -k-1) is still alive where the
  filtration was cut (``topology.max_epsilon``): it has no death, and the value DIPHA writes in its
  place is the cut-off, not a property of the class. They are counted in ``n_essential_h<k>``.
* **Minimum persistence.** With ``min_persistence > 0``, pairs with ``death - birth <=
  min_persistence`` are dropped, as the original code did with 0.02. ``min_persistence = 0`` keeps
  every finite pair (the ``mean_life``/``mean_midlife`` of ``betti_summary.csv``).
* A dimension without any kept pair has life and midlife NaN (never 0: 0 would be a real value).
* Midlife is (birth + death) / 2. (The original code computed mean(d + b/2), a bug.)

Feature names are ``life_h<k>``, ``midlife_h<k>``, ``n_pairs_h<k>`` (kept finite pairs) and
``n_essential_h<k>``, for k = 0..max_dim.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .betti import split_diagram
from .dipha_files import read_persistence_diagram

FEATURE_KINDS = ("life", "midlife", "n_pairs", "n_essential")
FEATURE_UNITS = {
    "life": "DIPHA epsilon (distance/2, distance = 1 - |corr|)",
    "midlife": "DIPHA epsilon (distance/2, distance = 1 - |corr|)",
    "n_pairs": "count of finite pairs kept",
    "n_essential": "count of essential classes (excluded from life and midlife)",
}


def feature_name(kind: str, dim: int) -> str:
    """Column name of feature ``kind`` (one of :data:`FEATURE_KINDS`) of dimension ``dim``."""
    if kind not in FEATURE_KINDS:
        raise ValueError(f"unknown diagram feature {kind!r}; choose one of {FEATURE_KINDS}")
    return f"{kind}_h{int(dim)}"


def parse_feature_name(name: str) -> tuple[str, int] | None:
    """``(kind, dim)`` of a diagram feature name like ``life_h1``; None for any other name."""
    kind, sep, dim = name.rpartition("_h")
    if sep and kind in FEATURE_KINDS and dim.isdigit():
        return kind, int(dim)
    return None


def feature_unit(name: str) -> str:
    """Unit of a diagram feature name (e.g. ``life_h1``)."""
    parsed = parse_feature_name(name)
    if parsed is None:
        raise ValueError(f"{name!r} is not a diagram feature name (life_h<k>, midlife_h<k>, ...)")
    return FEATURE_UNITS[parsed[0]]


def life_midlife(dims, births, deaths, max_dim: int, min_persistence: float = 0.0) -> dict[str, float]:
    """Life, midlife and pair counts of each homology dimension 0..``max_dim`` of a diagram.

    Parameters
    ----------
    dims, births, deaths : array_like
        The diagram in DIPHA's coding: ``dims[i] < 0`` marks an essential class of dimension
        ``-dims[i] - 1``; births and deaths in DIPHA's epsilon units.
    max_dim : int
        Highest homology dimension reported.
    min_persistence : float, optional
        Pairs with ``death - birth <= min_persistence`` are dropped when it is > 0; 0 keeps every
        finite pair.

    Returns
    -------
    dict
        ``{"life_h0": ..., "midlife_h0": ..., "n_pairs_h0": ..., "n_essential_h0": ..., ...}``; life
        and midlife are NaN where no pair is kept.
    """
    min_persistence = float(min_persistence)
    if not min_persistence >= 0:
        raise ValueError(f"min_persistence must be >= 0, got {min_persistence}")
    hom_dim, b, d, essential = split_diagram(dims, births, deaths)
    out: dict[str, float] = {}
    for k in range(int(max_dim) + 1):
        finite = (hom_dim == k) & ~essential
        life = d[finite] - b[finite]
        mid = (d[finite] + b[finite]) / 2
        if min_persistence > 0:
            keep = life > min_persistence
            life, mid = life[keep], mid[keep]
        out[feature_name("life", k)] = float(life.mean()) if len(life) else float("nan")
        out[feature_name("midlife", k)] = float(mid.mean()) if len(mid) else float("nan")
        out[feature_name("n_pairs", k)] = int(len(life))
        out[feature_name("n_essential", k)] = int(((hom_dim == k) & essential).sum())
    return out


def diagram_file_features(path: str | Path, max_dim: int, min_persistence: float = 0.0) -> dict[str, float]:
    """:func:`life_midlife` of a DIPHA ``PERSISTENCE_DIAGRAM`` file."""
    diagram = read_persistence_diagram(path)
    return life_midlife(diagram.dims, diagram.births, diagram.deaths, max_dim, min_persistence)


def required_dims(features) -> int:
    """Highest homology dimension that a list of feature names needs (-1 when none is a diagram feature)."""
    dims = [p[1] for p in (parse_feature_name(f) for f in features) if p is not None]
    return max(dims, default=-1)


def diagram_features_array(values: dict[str, float], features) -> np.ndarray:
    """The values of ``features`` (in that order) from a :func:`life_midlife` dict, as float64."""
    missing = [f for f in features if f not in values]
    if missing:
        raise ValueError(f"features {missing} are not computed from a diagram (available: {sorted(values)})")
    return np.array([values[f] for f in features], dtype=np.float64)
