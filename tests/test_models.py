"""Every network builds for any dataset shape, trains one step and yields the features it declares."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dnn_topology.networks.datasets import DatasetSpec, get_spec
from dnn_topology.networks.models import DEFAULT_DATASETS, NETWORKS, build_network, feature_shapes, node_counts

# total nodes of each network on its default dataset (MNIST 1x28x28 or CIFAR-10 3x32x32)
EXPECTED_TOTAL = {
    "lenet": 1820,
    "lenet_300_100": 410,
    "conv_2": 13066,
    "conv_4": 19338,
    "conv_6": 15370,
    "alexnet": 4618,
    "vgg16": 31242,
    "resnet18": 25098,
    "resnet34": 25098,
    "resnet50": 100362,
}


@pytest.fixture(autouse=True)
def _one_thread():
    """The test machine is shared: keep torch to one thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_every_network_is_registered_with_a_default_dataset():
    assert set(NETWORKS) == set(EXPECTED_TOTAL) == set(DEFAULT_DATASETS)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_network_trains_one_step_and_yields_declared_features(name):
    torch.manual_seed(0)
    spec = get_spec(DEFAULT_DATASETS[name])
    net = build_network(name, spec)
    counts = node_counts(net, spec)
    assert list(counts) == list(net.feature_layers)
    assert sum(counts.values()) == EXPECTED_TOTAL[name]
    assert net.training  # node_counts restores the mode

    x = torch.randn(2, spec.in_channels, spec.input_size, spec.input_size)
    y = torch.tensor([0, 1])
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    before = [p.detach().clone() for p in net.parameters()]
    logp = net(x)
    assert logp.shape == (2, spec.num_classes)
    assert torch.allclose(logp.exp().sum(1), torch.ones(2), atol=1e-5)  # log-probabilities
    loss = F.nll_loss(logp, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(b, p) for b, p in zip(before, net.parameters()))

    net.eval()
    with torch.no_grad():
        feats = net.forward_features(x)
    shapes = feature_shapes(net, spec)
    assert len(feats) == len(net.feature_layers)
    for layer, f in zip(net.feature_layers, feats):
        assert f.shape[0] == 2
        assert tuple(f.shape[1:]) == shapes[layer]
        assert f[0].numel() == counts[layer]
    assert feats[-1].shape == (2, spec.num_classes)


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize(
    "spec", [DatasetSpec("gray28", 1, 28, 2), DatasetSpec("rgb32", 3, 32, 7)], ids=lambda s: s.name
)
def test_network_builds_for_any_dataset_shape(name, spec):
    net = build_network(name, spec)
    counts = node_counts(net, spec)
    assert counts[net.feature_layers[-1]] == spec.num_classes
    net.eval()
    with torch.no_grad():
        assert net(torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size)).shape == (1, spec.num_classes)


def test_lenet_parameters_match_the_original_checkpoints():
    net = build_network("lenet", get_spec("mnist"))
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes == {
        "conv1.weight": (10, 1, 5, 5),
        "conv1.bias": (10,),
        "conv2.weight": (20, 10, 5, 5),
        "conv2.bias": (20,),
        "fc1.weight": (50, 320),
        "fc1.bias": (50,),
        "fc2.weight": (10, 50),
        "fc2.bias": (10,),
    }


@pytest.mark.parametrize(
    "name, keys",
    [
        ("lenet_300_100", {"fc1.weight": (300, 784), "fc3.weight": (10, 100)}),
        ("conv_6", {"conv6.weight": (256, 256, 3, 3), "fc1.weight": (256, 2304)}),
        (
            "alexnet",
            {
                "features.0.weight": (64, 3, 7, 7),
                "features.10.weight": (256, 256, 3, 3),
                "classifier.weight": (10, 256),
            },
        ),
        (
            "vgg16",
            {"features.0.weight": (64, 3, 3, 3), "features.41.running_var": (512,), "classifier.weight": (10, 512)},
        ),
    ],
)
def test_parameter_names_follow_the_original(name, keys):
    state = build_network(name, get_spec(DEFAULT_DATASETS[name])).state_dict()
    for key, shape in keys.items():
        assert tuple(state[key].shape) == shape


def test_unknown_network_names_the_config_key():
    with pytest.raises(ValueError, match="'network'"):
        build_network("densenet", get_spec("mnist"))


@pytest.mark.parametrize("name", ["lenet", "conv_6", "alexnet"])
def test_too_small_inputs_are_rejected(name):
    with pytest.raises(ValueError, match="too small"):
        build_network(name, DatasetSpec("tiny", 1, 2, 10))
