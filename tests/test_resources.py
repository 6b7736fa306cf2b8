"""The torch-free sizing table agrees with the real networks, and resource requests scale with the job."""

from __future__ import annotations

import pytest
from test_models import _one_thread  # noqa: F401 (autouse: torch on one thread)

from dnn_topology.networks import models
from dnn_topology.networks.datasets import DatasetSpec, get_spec
from dnn_topology.workflow import resources


def test_the_table_names_every_network_and_each_on_every_built_in_shape():
    assert set(resources.NETWORK_NAMES) == set(models.NETWORKS)
    shapes = {(spec.in_channels, spec.input_size) for spec in map(get_spec, ["mnist5k", "mnist", "cifar10", "svhn"])}
    assert shapes == {(1, 28), (3, 32)}
    assert set(resources.NETWORK_COSTS) == {(n, c, s) for n in models.NETWORKS for c, s in shapes}


@pytest.mark.parametrize("key", sorted(resources.NETWORK_COSTS), ids=lambda k: f"{k[0]}-{k[1]}x{k[2]}")
@pytest.mark.parametrize("num_classes", [10, 2])
def test_table_matches_the_built_network(key, num_classes):
    network, channels, size = key
    spec = DatasetSpec("x", channels, size, num_classes)
    shapes, macs = models.forward_cost(models.build_network(network, spec), spec)
    assert resources.network_cost(network, spec) == (shapes, macs)  # names, order, shapes and MACs
    assert list(shapes) == list(models.NETWORKS[network](channels, num_classes, size).feature_layers)


def test_an_input_shape_outside_the_table_is_measured_on_the_network():
    spec = DatasetSpec("folder", 3, 40, 7)
    assert ("lenet", 3, 40) not in resources.NETWORK_COSTS
    shapes, macs = resources.network_cost("lenet", spec)
    assert (shapes, macs) == models.forward_cost(models.build_network("lenet", spec), spec)
    assert shapes["conv1"] == (10, 18, 18) and shapes["fc2"] == (7,)


def test_run_size_counts_selected_nodes():
    spec = get_spec("mnist5k")
    assert resources.run_size("lenet", spec, {"method": "all"}) == resources.RunSize(1820, 480_500)
    assert resources.run_size("conv_2", spec, {"method": "random", "n_nodes": 1000}).n_nodes == 1000
    # networks that are not built in are not built while the workflow parses: the stated assumptions
    unbuilt = resources.run_size("torchvision:resnet50", spec, {"method": "random", "n_nodes": 3000})
    assert unbuilt == resources.RunSize(3000, resources.UNBUILT_MACS)
    assert resources.run_size("net.py:make", spec, {"method": "all"}).n_nodes == resources.UNBUILT_NODES
    with pytest.raises(ValueError, match="unknown network 'nope'"):
        resources.network_cost("nope", spec)


def test_requests_grow_with_the_graph_and_the_network():
    small = resources.resources(resources.RunSize(1820, 480_500), "mnist5k", 1000, 8, 2, 0.3, 1, 0)
    big = resources.resources(resources.RunSize(6000, 313_196_544), "cifar10", 1000, 8, 2, 0.3, 1, 0)
    for key in ("graph_mem_mb", "persistence_mem_mb", "persistence_runtime", "activations_mem_mb", "train_runtime"):
        assert big[key] > small[key], key
    assert small["graph_mem_mb"] == int(1000 + 3 * 1820**2 * 8 / 1e6)
    assert (small["train_mem_mb"], big["train_mem_mb"]) == (4000, 8000)
