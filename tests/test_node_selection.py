"""Node selection/reduction: shapes, values, determinism, allocation and parameter errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from dnn_topology.networks.nodes import TABLE_COLUMNS, allocate, plan_selection, select_nodes

NAMES = ["conv1", "conv2", "fc1", "fc2"]
SHAPES = [(10, 12, 12), (20, 4, 4), (50,), (10,)]  # LeNet: 1,440 + 320 + 50 + 10 = 1,820
N_SAMPLES = 7


def lenet_features(seed: int = 0, dtype=np.float32) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((N_SAMPLES, *s)).astype(dtype) for s in SHAPES]


def flat(features: list[np.ndarray]) -> list[np.ndarray]:
    return [f.reshape(N_SAMPLES, -1).astype(np.float64) for f in features]


def test_all_concatenates_every_node():
    feats = lenet_features()
    x, table = select_nodes(feats, NAMES)
    assert x.shape == (N_SAMPLES, 1820) and x.dtype == np.float32
    np.testing.assert_array_equal(x, np.concatenate(flat(feats), axis=1).astype(np.float32))
    assert list(table.columns) == list(TABLE_COLUMNS) and len(table) == 1820
    assert table.groupby("layer", sort=False).size().to_dict() == {"conv1": 1440, "conv2": 320, "fc1": 50, "fc2": 10}
    assert (table["n_source"] == 1).all() and (table["method"] == "all").all()
    np.testing.assert_array_equal(table.loc[table.layer == "conv2", "source_start"], np.arange(320))


def _check_random_values(x: np.ndarray, table: pd.DataFrame, feats: list[np.ndarray]) -> None:
    sources = flat(feats)
    for col, row in enumerate(table.itertuples()):
        np.testing.assert_allclose(x[:, col], sources[row.layer_index][:, row.source_start], rtol=1e-6)


def test_random_takes_n_nodes_proportionally_and_deterministically():
    feats = lenet_features()
    x, table = select_nodes(feats, NAMES, "random", n_nodes=100, seed=1)
    assert x.shape == (N_SAMPLES, 100) and len(table) == 100
    assert table.groupby("layer", sort=False).size().to_list() == [79, 17, 3, 1]
    _check_random_values(x, table, feats)
    for _, layer in table.groupby("layer"):  # distinct, sorted, in range
        assert np.all(np.diff(layer["node"]) > 0)
    # the same seed picks the same nodes whatever the activations (i.e. at every epoch)
    x2, table2 = select_nodes(lenet_features(seed=9), NAMES, "random", n_nodes=100, seed=1)
    pd.testing.assert_frame_equal(table, table2)
    _, table3 = select_nodes(feats, NAMES, "random", n_nodes=100, seed=2)
    assert not table["source_start"].equals(table3["source_start"])


def test_random_equal_allocation():
    feats = lenet_features()
    x, table = select_nodes(feats, NAMES, "random", n_nodes=100, allocation="equal")
    assert table.groupby("layer", sort=False).size().to_list() == [30, 30, 30, 10]  # fc2 has only 10
    _check_random_values(x, table, feats)


def test_asking_for_more_nodes_than_exist_keeps_all():
    feats = lenet_features()
    with pytest.warns(UserWarning, match="n_nodes"):
        x, table = select_nodes(feats, NAMES, "random", n_nodes=5000)
    np.testing.assert_array_equal(x, select_nodes(feats, NAMES)[0])
    assert len(table) == 1820


@pytest.mark.parametrize(
    "sizes, total, allocation, expected",
    [
        ([1000, 1, 1], 3, "proportional", [1, 1, 1]),  # every layer keeps one node
        ([1000, 10, 10], 2, "proportional", [2, 0, 0]),  # fewer nodes than layers
        ([100, 100], 51, "proportional", [26, 25]),
        ([5, 100, 100], 60, "equal", [5, 28, 27]),
        ([3, 4], 10, "equal", [3, 4]),
    ],
)
def test_allocate(sizes, total, allocation, expected):
    counts = allocate(sizes, total, allocation)
    assert counts.tolist() == expected
    assert counts.sum() == min(total, sum(sizes))


def test_chunk_mean_with_chunk_size_equals_numpy_means():
    feats = lenet_features()
    x, table = select_nodes(feats, NAMES, "chunk_mean", chunk_size=16)
    expected = [
        np.stack([c.mean(axis=1) for c in np.array_split(f, max(1, f.shape[1] // 16), axis=1)], axis=1)
        for f in flat(feats)
    ]
    np.testing.assert_allclose(x, np.concatenate(expected, axis=1), rtol=1e-5, atol=1e-6)
    assert table.groupby("layer", sort=False).size().to_list() == [90, 20, 3, 1]
    assert table.groupby("layer", sort=False)["n_source"].sum().to_list() == [1440, 320, 50, 10]
    fc1 = table[table.layer == "fc1"]
    assert fc1["n_source"].to_list() == [17, 17, 16] and fc1["source_start"].to_list() == [0, 17, 34]


def test_chunk_mean_with_n_nodes_gives_exactly_n_nodes():
    feats = lenet_features()
    x, table = select_nodes(feats, NAMES, "chunk_mean", n_nodes=100)
    assert x.shape == (N_SAMPLES, 100)
    sources = flat(feats)
    for col, row in enumerate(table.itertuples()):
        src = sources[row.layer_index][:, row.source_start : row.source_start + row.n_source]
        np.testing.assert_allclose(x[:, col], src.mean(axis=1), rtol=1e-5, atol=1e-6)


def test_channel_mean_averages_conv_channels_and_keeps_fc():
    feats = lenet_features()
    x, table = select_nodes(feats, NAMES, "channel_mean")
    expected = np.concatenate([feats[0].mean((2, 3)), feats[1].mean((2, 3)), feats[2], feats[3]], axis=1)
    assert x.shape == (N_SAMPLES, 10 + 20 + 50 + 10)
    np.testing.assert_allclose(x, expected, rtol=1e-5, atol=1e-6)
    conv2 = table[table.layer == "conv2"]
    assert conv2["n_source"].eq(16).all() and conv2["source_start"].to_list() == list(range(0, 320, 16))


@pytest.mark.parametrize(
    "method, kw", [("all", {}), ("random", {"n_nodes": 50}), ("chunk_mean", {"chunk_size": 8}), ("channel_mean", {})]
)
def test_inputs_may_be_float16_memmap_or_torch(tmp_path, method, kw):
    feats = lenet_features()
    ref, ref_table = select_nodes(feats, NAMES, method, **kw)
    half, _ = select_nodes([f.astype(np.float16) for f in feats], NAMES, method, **kw)
    np.testing.assert_allclose(half, ref, atol=5e-3)
    maps = []
    for i, f in enumerate(feats):
        np.save(tmp_path / f"{i}.npy", f)
        maps.append(np.load(tmp_path / f"{i}.npy", mmap_mode="r"))
    np.testing.assert_array_equal(select_nodes(maps, NAMES, method, **kw)[0], ref)
    np.testing.assert_array_equal(select_nodes([torch.from_numpy(f) for f in feats], NAMES, method, **kw)[0], ref)


def test_a_plan_applied_batch_by_batch_equals_the_whole():
    feats = lenet_features()
    plan = plan_selection(SHAPES, NAMES, "chunk_mean", n_nodes=64, seed=3)
    whole = plan.apply(feats)
    parts = np.concatenate([plan.apply([f[:3] for f in feats]), plan.apply([f[3:] for f in feats])])
    np.testing.assert_array_equal(whole, parts)
    assert plan.n_nodes == 64
    with pytest.raises(ValueError, match="conv2"):
        plan.apply([feats[0], feats[0], feats[2], feats[3]])


@pytest.mark.parametrize(
    "kw, key",
    [
        ({"method": "pca"}, "node_selection.method"),
        ({"method": "random"}, "node_selection.n_nodes"),
        ({"method": "random", "n_nodes": 0}, "node_selection.n_nodes"),
        ({"method": "random", "n_nodes": 10, "chunk_size": 3}, "node_selection.chunk_size"),
        ({"method": "random", "n_nodes": 10, "allocation": "greedy"}, "node_selection.allocation"),
        ({"method": "chunk_mean"}, "node_selection.chunk_size"),
        ({"method": "chunk_mean", "chunk_size": 4, "n_nodes": 10}, "node_selection.n_nodes"),
        ({"method": "chunk_mean", "chunk_size": 2.5}, "node_selection.chunk_size"),
        ({"method": "all", "n_nodes": 10}, "node_selection.n_nodes"),
        ({"method": "random", "n_nodes": 10, "seed": "x"}, "node_selection.seed"),
    ],
)
def test_bad_parameters_name_the_config_key(kw, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        select_nodes(lenet_features(), NAMES, **kw)


def test_features_and_names_must_match():
    with pytest.raises(ValueError, match="layer names"):
        select_nodes(lenet_features(), NAMES[:3])
