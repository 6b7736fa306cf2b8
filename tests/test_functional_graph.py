"""Functional graph: |Pearson correlation| distances between nodes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dnn_topology.networks import datasets, models
from dnn_topology.networks.nodes import select_nodes
from dnn_topology.topology.dipha_files import full_to_sparse
from dnn_topology.topology.graph import (
    abs_correlation,
    distance_matrix,
    edge_density,
    functional_graph_stage,
    load_activations,
    sparse_distance_stage,
)


@pytest.fixture
def acts():
    rng = np.random.default_rng()
    a = rng.standard_normal((200, 37)).astype(np.float32)
    a[:, 5] = a[:, 3] * -2.0 + 1.0  # perfectly anti-correlated with node 3
    a[:, 7] = 0.25  # a dead node
    return a


def test_matches_numpy_corrcoef(acts):
    d = distance_matrix(acts)
    live = [i for i in range(acts.shape[1]) if i != 7]
    ref = 1 - np.abs(np.corrcoef(acts[:, live].T.astype(np.float64)))
    np.fill_diagonal(ref, 0)
    np.testing.assert_allclose(d[np.ix_(live, live)], ref, atol=1e-12)
    assert d[3, 5] == pytest.approx(0.0, abs=1e-12)


def test_dead_node_has_correlation_zero_never_nan(acts):
    d = distance_matrix(acts)
    assert np.isfinite(d).all()
    others = np.arange(acts.shape[1]) != 7
    assert (d[7, others] == 1.0).all() and (d[others, 7] == 1.0).all()


def test_exact_symmetry_zero_diagonal_and_range(acts):
    d = distance_matrix(acts, block=8)
    assert (d == d.T).all()
    assert (np.diag(d) == 0).all()
    assert d.min() >= 0 and d.max() <= 1


@pytest.mark.parametrize("block", [1, 5, 16, 1000])
def test_blocked_equals_unblocked(acts, block):
    np.testing.assert_allclose(abs_correlation(acts, block=block), abs_correlation(acts, block=10_000), atol=1e-14)


def test_constant_float_column_with_rounding_mean_is_dead():
    a = np.random.default_rng(1).standard_normal((1000, 3))
    a[:, 1] = 0.1  # mean() of 1000 x 0.1 is not exactly 0.1 in floating point
    assert (distance_matrix(a)[1, [0, 2]] == 1.0).all()


def test_bad_shapes_are_errors():
    with pytest.raises(ValueError, match="2-D"):
        distance_matrix(np.zeros(5))
    with pytest.raises(ValueError, match="at least 2 samples"):
        distance_matrix(np.zeros((1, 5)))


def test_edge_density():
    sorted_d = np.array([0.1, 0.2, 0.2, 0.5])
    dens = edge_density(sorted_d, n_nodes=4, thresholds=np.array([0.0, 0.2, 0.6]))
    np.testing.assert_allclose(dens, [0, 3 / 6, 4 / 6])


def test_load_activations_names_the_file(tmp_path):
    bad = tmp_path / "activations.npy"
    np.save(bad, np.array([1.0, np.nan]).reshape(1, 2))
    with pytest.raises(ValueError, match="activations.npy"):
        load_activations(bad)
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="activations.npy"):
        load_activations(bad)


@pytest.mark.parametrize("network", sorted(models.NETWORKS))
def test_every_network_yields_a_functional_graph(network):
    """Tiny inputs through each network: activations -> node selection -> distances -> sparse graph."""
    torch.manual_seed(0)
    spec = datasets.DatasetSpec(
        "tiny",
        3 if network not in ("lenet", "lenet_300_100") else 1,
        32 if network not in ("lenet", "lenet_300_100") else 28,
        10,
    )
    net = models.build_network(network, spec).eval()
    with torch.no_grad():
        feats = [
            f.numpy() for f in net.forward_features(torch.randn(12, spec.in_channels, spec.input_size, spec.input_size))
        ]
    acts, nodes = select_nodes(feats, list(net.feature_layers), method="random", n_nodes=64, seed=0)
    assert acts.shape == (12, 64) and len(nodes) == 64
    d = distance_matrix(acts)
    assert d.shape == (64, 64) and np.isfinite(d).all() and (d == d.T).all()
    sparse = full_to_sparse(d, 0.3)
    assert sparse.n == 64


@pytest.mark.parametrize("max_epsilon", [0.0, 0.2, 0.3, 0.5])
def test_the_stage_cuts_in_memory_exactly_as_dipha_cuts_the_full_file(acts, tmp_path, max_epsilon):
    """Rule functional_graph writes the sparse matrix directly; it is the file that DIPHA's
    full_to_sparse_distance_matrix (sparse_distance_stage) makes from the full matrix, byte for byte."""
    np.save(tmp_path / "acts.npy", acts)
    functional_graph_stage(activations=tmp_path / "acts.npy", sparse=tmp_path / "direct.bin", max_epsilon=max_epsilon)
    assert not (tmp_path / "full.bin").exists()
    functional_graph_stage(
        activations=tmp_path / "acts.npy",
        sparse=tmp_path / "also.bin",
        max_epsilon=max_epsilon,
        distance=tmp_path / "full.bin",
    )
    sparse_distance_stage(distance=tmp_path / "full.bin", sparse=tmp_path / "cut.bin", max_epsilon=max_epsilon)
    direct = (tmp_path / "direct.bin").read_bytes()
    assert direct == (tmp_path / "cut.bin").read_bytes() == (tmp_path / "also.bin").read_bytes()
    assert len(direct) > 32  # a header and at least the row offsets
