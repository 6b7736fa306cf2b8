"""A diagram in the layouts of ripser.py/persim, GUDHI and giotto-tda, checked against those libraries.

ripser.py (and persim), GUDHI and giotto-ph are installed with the test environment; each computes the
Vietoris-Rips persistence of the same distance matrix, and our converted diagram must equal theirs.
giotto-tda itself cannot be installed next to this project (it pins numpy 1.26 and an older
scikit-learn): its layout is checked against its documented format (``VietorisRipsPersistence``:
``(n_samples, n_points, 3)`` triples ``[birth, death, dim]``, one infinite H0 bar left out, infinite
deaths replaced by ``infinity_values``, each dimension padded with ``[b, b, dim]``), applied to giotto-ph's
``ripser_parallel`` output, which is what giotto-tda post-processes.
"""

from __future__ import annotations

import numpy as np
import pytest

import dnn_topology as dt

MAX_EPS = 0.3  # DIPHA units: the libraries get the distance threshold 2 * MAX_EPS


@pytest.fixture(scope="module")
def case():
    """A small point cloud's distance matrix (scaled to [0, 1]) and its diagram H0..H2 cut at MAX_EPS."""
    rng = np.random.default_rng(3)
    angles = rng.uniform(0, 2 * np.pi, 24)
    points = np.column_stack([np.cos(angles), np.sin(angles)]) + 0.15 * rng.normal(size=(24, 2))
    D = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    D /= D.max()
    diagram = dt.compute_persistence(dt.full_to_sparse(D, MAX_EPS), upper_dim=3)
    assert (diagram.dims == 1).any() and (diagram.dims == -1).any()  # finite H1 classes and an essential H0
    return D, diagram


def _rows(pairs) -> np.ndarray:
    """[birth, death] rows in a canonical order (inf sorts last)."""
    pairs = np.asarray(pairs, dtype=float).reshape(-1, 2)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def test_ripser_layout_equals_ripser(case):
    ripser = pytest.importorskip("ripser").ripser
    D, diagram = case
    theirs = ripser(D, distance_matrix=True, maxdim=2, thresh=2 * MAX_EPS)["dgms"]
    ours = dt.to_ripser(diagram, max_dim=2)
    assert len(ours) == len(theirs) == 3
    for k in range(3):
        assert ours[k].dtype == np.float64 and ours[k].shape[1] == 2
        np.testing.assert_allclose(_rows(ours[k]), _rows(theirs[k]), rtol=1e-6)  # inf == inf for essentials
    assert np.isinf(ours[0][:, 1]).sum() == np.isinf(theirs[0][:, 1]).sum() >= 1


def test_persim_reads_the_ripser_layout(case):
    persim = pytest.importorskip("persim")
    ripser = pytest.importorskip("ripser").ripser
    D, diagram = case
    theirs = ripser(D, distance_matrix=True, maxdim=1, thresh=2 * MAX_EPS)["dgms"]
    ours = dt.to_ripser(diagram, max_dim=1)
    assert persim.bottleneck(ours[1], theirs[1]) == pytest.approx(0.0, abs=1e-6)  # ripser computes in float32
    assert persim.bottleneck(ours[1], ours[1] * 1.1) > 0  # a different diagram is at a distance


def test_gudhi_layout_equals_gudhi(case):
    gudhi = pytest.importorskip("gudhi")
    D, diagram = case
    tree = gudhi.RipsComplex(distance_matrix=D, max_edge_length=2 * MAX_EPS).create_simplex_tree(max_dimension=3)
    theirs = [(k, bd) for k, bd in tree.persistence() if k <= 2]
    ours = dt.to_gudhi(diagram)
    assert all(isinstance(k, int) and len(bd) == 2 for k, bd in ours)
    for k in range(3):
        mine = [bd for d, bd in ours if d == k]
        other = [bd for d, bd in theirs if d == k]
        np.testing.assert_allclose(_rows(mine), _rows(other), rtol=1e-6)
    assert [k for k, _ in ours] == sorted((k for k, _ in ours), reverse=True)  # GUDHI's order: highest dim first


def _giotto_tda_documented(dgms_per_sample, dims, infinity_values):
    """giotto-tda's post-processing of ripser-format diagrams, as its documentation states it."""
    samples = []
    for dgms in dgms_per_sample:
        parts = {}
        for k in dims:
            bars = np.asarray(dgms[k], dtype=float).reshape(-1, 2)
            if k == 0:
                bars = bars[:-1]  # the one infinite H0 bar (ripser lists it last)
            bars = np.where(np.isinf(bars), infinity_values, bars)
            parts[k] = bars[bars[:, 0] < bars[:, 1]]
        samples.append(parts)
    most = {k: max([len(p[k]) for p in samples] + [1]) for k in dims}
    low = {k: min((p[k][:, 0].min() for p in samples if len(p[k])), default=0.0) for k in dims}
    out = []
    for parts in samples:
        blocks = []
        for k in dims:
            block = np.vstack([parts[k], np.full((most[k] - len(parts[k]), 2), low[k])])
            blocks.append(np.column_stack([block, np.full(len(block), k)]))
        out.append(np.vstack(blocks))
    return np.stack(out)


def test_giotto_tda_layout_follows_its_documented_format(case):
    gph = pytest.importorskip("gph")
    D, diagram = case
    other = dt.compute_persistence(dt.full_to_sparse(D[:12, :12], MAX_EPS), upper_dim=3)  # a second sample
    ours = dt.to_giotto_tda([diagram, other], infinity_values=2 * MAX_EPS)
    theirs = [
        gph.ripser_parallel(m, metric="precomputed", maxdim=2, thresh=2 * MAX_EPS)["dgms"] for m in (D, D[:12, :12])
    ]
    expected = _giotto_tda_documented(theirs, [0, 1, 2], 2 * MAX_EPS)
    assert ours.shape == expected.shape and ours.shape[0] == 2 and ours.shape[2] == 3
    for s in range(2):
        for k in range(3):
            mine, doc = ours[s][ours[s][:, 2] == k], expected[s][expected[s][:, 2] == k]
            np.testing.assert_allclose(_rows(mine[:, :2]), _rows(doc[:, :2]), rtol=1e-6)
    # one sample: a 3-D array all the same; with giotto-tda's default the essential classes stay infinite
    single = dt.to_giotto_tda(diagram)
    assert single.ndim == 3 and single.shape[0] == 1 and np.isinf(single[0, :, 1]).sum() == (diagram.dims < -1).sum()


def test_units_and_errors(case):
    _, diagram = case
    eps = dt.to_ripser(diagram, units="epsilon")
    dist = dt.to_ripser(diagram)
    np.testing.assert_allclose(dist[1], 2 * eps[1])
    finite = eps[0][np.isfinite(eps[0][:, 1])]
    assert set(finite[:, 1]) == set(diagram.deaths[diagram.dims == 0])  # DIPHA's values, unchanged
    with pytest.raises(ValueError, match="units must be one of"):
        dt.to_ripser(diagram, units="percent")
