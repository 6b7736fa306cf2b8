"""Features of a persistence diagram: the CVPR 2020 paper's life and midlife, and Ballester et al.'s statistics.

The CVPR 2020 paper summarises a network's diagram by its **life** lambda = mean(death - birth) and
**midlife** mu = mean((birth + death) / 2) over the pairs of one homology dimension (H1 in the
paper), and regresses the generalization gap on them. Ballester, Clemente, Casacuberta
(Neurocomputing 2024, "Predicting the generalization gap in neural networks using topological data
analysis") add, per dimension, the mean and standard deviation of the births, deaths, lives and
midlives, and the **persistent entropy** of the lives.

Units and conventions
---------------------
* Births and deaths are DIPHA filtration values epsilon = distance / 2, distance = 1 - |corr|
  (see :mod:`dnn_topology.topology.betti`), so births, deaths, lives, midlives and their standard
  deviations are in the same epsilon units. Persistent entropy is in nats (natural logarithm).
* **Essential classes are excluded.** An essential class (DIPHA dim -k-1) is still alive where the
  filtration was cut (``topology.max_epsilon``): it has no death, and the value DIPHA writes in its
  place is the cut-off, not a property of the class. They are counted in ``n_essential_h<k>``.
  (Ballester et al.'s code drops infinite pairs the same way.)
* **Minimum persistence.** With ``min_persistence > 0``, pairs with ``death - birth <=
  min_persistence`` are dropped, as the original code did with 0.02. ``min_persistence = 0`` keeps
  every finite pair (the ``mean_life``/``mean_midlife`` of ``betti_summary.csv``).
* Standard deviations are population standard deviations (ddof = 0, as ``numpy.std`` and Ballester
  et al.'s code).
* **Persistent entropy** of the kept pairs' lives l_i: ``-sum(p_i log p_i)`` with ``p_i = l_i / sum(l)``
  (0 for a single pair; DIPHA drops zero-length pairs, so every l_i > 0).
* A dimension without any kept pair has every statistic NaN (never 0: 0 would be a real value).
* Midlife is (birth + death) / 2. (The original code computed mean(d + b/2), a bug.)

Feature names are ``<kind>_h<k>`` for k = 0..max_dim and the kinds of :data:`FEATURE_KINDS`:
``life`` and ``midlife`` (the means, the paper's lambda and mu), ``birth`` and ``death`` (means),
``life_std``, ``midlife_std``, ``birth_std``, ``death_std``, ``entropy``, ``n_pairs`` (kept finite
pairs) and ``n_essential``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .betti import split_diagram
from .dipha_files import read_persistence_diagram

_EPSILON = "DIPHA epsilon (distance/2, distance = 1 - |corr|)"
FEATURE_UNITS = {
    "life": _EPSILON,
    "midlife": _EPSILON,
    "birth": _EPSILON,
    "death": _EPSILON,
    "life_std": _EPSILON,
    "midlife_std": _EPSILON,
    "birth_std": _EPSILON,
    "death_std": _EPSILON,
    "entropy": "nats (persistent entropy of the lives)",
    "n_pairs": "count of finite pairs kept",
    "n_essential": "count of essential classes (excluded from every other feature)",
}
FEATURE_KINDS = tuple(FEATURE_UNITS)
# the statistics of Ballester et al. (2024) besides the paper's life and midlife
STATISTIC_KINDS = ("birth", "death", "life_std", "midlife_std", "birth_std", "death_std", "entropy")


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


def persistent_entropy(lives) -> float:
    """Persistent entropy ``-sum(p log p)``, ``p = lives / sum(lives)``, in nats; NaN without any life.

    Parameters
    ----------
    lives : array_like
        Positive lifetimes death - birth of finite pairs.

    Returns
    -------
    float
        0 for one pair, log(n) for n pairs of equal life, NaN for none.

    Examples
    --------
    >>> round(persistent_entropy([0.1, 0.1]), 6)  # log 2
    0.693147
    >>> persistent_entropy([0.3])
    0.0
    """
    lives = np.asarray(lives, dtype=np.float64)
    if len(lives) == 0:
        return float("nan")
    if not (lives > 0).all():
        raise ValueError("persistent entropy needs positive lives (death > birth)")
    p = lives / lives.sum()
    return float(0.0 - (p * np.log(p)).sum())  # 0.0 - : one pair gives 0.0, not -0.0


def pair_statistics(births, deaths) -> dict[str, float]:
    """Means and standard deviations of births, deaths, lives and midlives, and persistent entropy.

    Parameters
    ----------
    births, deaths : array_like
        Finite pairs of one homology dimension (epsilon units).

    Returns
    -------
    dict
        Keys ``life``, ``midlife``, ``birth``, ``death`` (means), ``life_std``, ``midlife_std``,
        ``birth_std``, ``death_std`` (population standard deviations) and ``entropy``; every value
        NaN when there is no pair.

    Examples
    --------
    >>> s = pair_statistics([0.0, 0.1], [0.2, 0.5])
    >>> round(s["life"], 6), round(s["midlife"], 6), round(s["death_std"], 6)
    (0.3, 0.2, 0.15)
    """
    b = np.asarray(births, dtype=np.float64)
    d = np.asarray(deaths, dtype=np.float64)
    if len(b) == 0:
        return {kind: float("nan") for kind in ("life", "midlife", *STATISTIC_KINDS)}
    life, mid = d - b, (b + d) / 2
    return {
        "life": float(life.mean()),
        "midlife": float(mid.mean()),
        "birth": float(b.mean()),
        "death": float(d.mean()),
        "life_std": float(life.std()),
        "midlife_std": float(mid.std()),
        "birth_std": float(b.std()),
        "death_std": float(d.std()),
        "entropy": persistent_entropy(life),
    }


def _kept_pairs(hom_dim, b, d, essential, k: int, min_persistence: float):
    finite = (hom_dim == k) & ~essential
    births, deaths = b[finite], d[finite]
    if min_persistence > 0:
        keep = deaths - births > min_persistence
        births, deaths = births[keep], deaths[keep]
    return births, deaths


def _check_min_persistence(min_persistence: float) -> float:
    min_persistence = float(min_persistence)
    if not min_persistence >= 0:
        raise ValueError(f"min_persistence must be >= 0, got {min_persistence}")
    return min_persistence


def diagram_features(dims, births, deaths, max_dim: int, min_persistence: float = 0.0) -> dict[str, float]:
    """Every feature of :data:`FEATURE_KINDS` for each homology dimension 0..``max_dim`` of a diagram.

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
        ``{"life_h0": ..., "birth_std_h0": ..., "entropy_h0": ..., "n_pairs_h0": ..., ...}``: the
        statistics of :func:`pair_statistics` of the kept pairs, and the counts.

    Examples
    --------
    >>> f = diagram_features([0, -1, 1, 1], [0.0, 0.0, 0.1, 0.2], [0.1, 0.4, 0.2, 0.4], max_dim=1)
    >>> round(f["life_h1"], 6), round(f["birth_h1"], 6), f["n_pairs_h1"], f["n_essential_h0"]
    (0.15, 0.15, 2, 1)
    """
    min_persistence = _check_min_persistence(min_persistence)
    hom_dim, b, d, essential = split_diagram(dims, births, deaths)
    out: dict[str, float] = {}
    for k in range(int(max_dim) + 1):
        kb, kd = _kept_pairs(hom_dim, b, d, essential, k, min_persistence)
        for kind, value in pair_statistics(kb, kd).items():
            out[feature_name(kind, k)] = value
        out[feature_name("n_pairs", k)] = int(len(kb))
        out[feature_name("n_essential", k)] = int(((hom_dim == k) & essential).sum())
    return out


def life_midlife(dims, births, deaths, max_dim: int, min_persistence: float = 0.0) -> dict[str, float]:
    """Life, midlife and pair counts of each homology dimension 0..``max_dim`` of a diagram.

    The CVPR 2020 paper's features: the subset ``life_h<k>``, ``midlife_h<k>``, ``n_pairs_h<k>`` and
    ``n_essential_h<k>`` of :func:`diagram_features` (same arguments); life and midlife are NaN where
    no pair is kept.
    """
    kinds = ("life", "midlife", "n_pairs", "n_essential")
    features = diagram_features(dims, births, deaths, max_dim, min_persistence)
    return {name: value for name, value in features.items() if parse_feature_name(name)[0] in kinds}


def diagram_file_features(path: str | Path, max_dim: int, min_persistence: float = 0.0) -> dict[str, float]:
    """:func:`diagram_features` of a DIPHA ``PERSISTENCE_DIAGRAM`` file."""
    diagram = read_persistence_diagram(path)
    return diagram_features(diagram.dims, diagram.births, diagram.deaths, max_dim, min_persistence)


def required_dims(features) -> int:
    """Highest homology dimension that a list of feature names needs (-1 when none is a diagram feature)."""
    dims = [p[1] for p in (parse_feature_name(f) for f in features) if p is not None]
    return max(dims, default=-1)


def diagram_features_array(values: dict[str, float], features) -> np.ndarray:
    """The values of ``features`` (in that order) from a :func:`diagram_features` dict, as float64."""
    missing = [f for f in features if f not in values]
    if missing:
        raise ValueError(f"features {missing} are not computed from a diagram (available: {sorted(values)})")
    return np.array([values[f] for f in features], dtype=np.float64)
