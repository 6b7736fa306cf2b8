"""Any network, any layers, checkpoints trained elsewhere, datasets of code: the parts, on real networks and files."""

from __future__ import annotations

import copy
import io
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import dnn_topology as dt
from dnn_topology.cli import main
from dnn_topology.networks import models
from dnn_topology.networks.activations import compute_activations
from dnn_topology.networks.architectures import build
from dnn_topology.networks.checkpoints import CheckpointError, CheckpointRefusedError, load_checkpoint, read_weights
from dnn_topology.networks.datasets import dataset_registry, get_spec, load_split, normalization
from dnn_topology.networks.recording import LayerError, LayerRecorder, candidate_layers, set_recorded_layers
from dnn_topology.networks.refs import BUILTIN_NETWORKS, NetworkRef, load_callable, parse_callable_ref
from dnn_topology.networks.samples import SampleSet
from dnn_topology.topology import graph
from dnn_topology.topology.dipha_files import full_to_sparse
from dnn_topology.topology.persistence import compute_persistence
from dnn_topology.workflow.config import ConfigError, check_config
from dnn_topology.workflow.resources import NETWORK_COSTS, NETWORK_NAMES

# ------------------------------------------------------------------------------------------------ references


def test_builtin_names_known_without_torch_are_the_networks():
    assert BUILTIN_NETWORKS == tuple(sorted(models.NETWORKS)) == NETWORK_NAMES
    assert {network for network, _, _ in NETWORK_COSTS} == set(BUILTIN_NETWORKS)


def test_network_references():
    assert NetworkRef("lenet").kind == "builtin"
    assert NetworkRef("torchvision:vit_b_16").torchvision_name == "vit_b_16"
    assert NetworkRef("my.models:build").kind == "callable"
    assert NetworkRef.of(NetworkRef("a.py:f", {"w": 2}, ["x"]).params()) == NetworkRef("a.py:f", {"w": 2}, ["x"])
    with pytest.raises(ValueError, match="runs\\[0\\].network: unknown network 'densenet'"):
        NetworkRef("densenet").check("runs[0].network")
    with pytest.raises(ValueError, match="file nowhere.py"):
        NetworkRef("nowhere.py:Net").check("runs[0].network")
    with pytest.raises(ValueError, match="module 'no_such_module_xyz'"):
        NetworkRef("no_such_module_xyz:Net").check("runs[0].network")
    with pytest.raises(ValueError, match="not a reference to a callable"):
        parse_callable_ref("model.py:", "k")


def test_a_users_file_is_imported_with_its_neighbours(tmp_path):
    (tmp_path / "blocks.py").write_text("import torch.nn as nn\nWIDTH = 7\n")
    (tmp_path / "net.py").write_text(
        "import torch.nn as nn\nfrom blocks import WIDTH\n\ndef make(n=3):\n    return nn.Linear(WIDTH, n)\n"
    )
    net = build(NetworkRef(f"{tmp_path / 'net.py'}:make", {"n": 5}), get_spec("mnist5k"))
    assert (net.in_features, net.out_features) == (7, 5)
    with pytest.raises(ValueError, match="defines no 'other'"):
        load_callable(f"{tmp_path / 'net.py'}:other")
    with pytest.raises(ValueError, match="network_kwargs"):
        build(NetworkRef(f"{tmp_path / 'net.py'}:make", {"depth": 5}), get_spec("mnist5k"))


@pytest.mark.slow
def test_torchvision_networks_are_built_without_weights_for_the_classes():
    net = build("torchvision:resnet18", get_spec("cifar10"))
    assert net.fc.out_features == 10
    with pytest.raises(ValueError, match="no architecture 'resnet7'"):
        build("torchvision:resnet7", get_spec("cifar10"))


# ------------------------------------------------------------------------------------------------ layers


class Untraceable(nn.Module):
    """Control flow on values: torch.fx cannot trace it; its modules can still be recorded by hooks."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(6, 5), nn.Linear(5, 4)

    def forward(self, x):
        h = F.relu(self.a(x))
        if h.sum() > 0:
            h = h * 2
        return self.b(h)


def test_module_names_are_recorded_by_hooks_even_where_tracing_fails():
    net = set_recorded_layers(Untraceable().eval(), ["a", "b"])
    assert LayerRecorder(net).shapes(torch.randn(2, 6)) == {"a": (5,), "b": (4,)}
    with pytest.raises(LayerError, match="cannot trace it"):
        LayerRecorder(set_recorded_layers(Untraceable(), ["a", "relu"]))
    rows = candidate_layers(Untraceable(), torch.randn(1, 6))
    assert [r["name"] for r in rows[:2]] == ["a", "b"] and "not traceable" in rows[-1]["error"]


def test_a_module_that_runs_twice_must_be_named_by_its_graph_node():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.relu, self.fc = nn.ReLU(), nn.Linear(4, 4)

        def forward(self, x):
            return self.relu(self.fc(self.relu(x)))

    with pytest.raises(LayerError, match="module 'relu' ran 2 times"):
        LayerRecorder(set_recorded_layers(Twice(), ["relu"])).shapes(torch.randn(2, 4))
    shapes = LayerRecorder(set_recorded_layers(Twice(), ["relu", "relu_1"])).shapes(torch.randn(2, 4))
    assert shapes == {"relu": (4,), "relu_1": (4,)}


def test_unknown_layer_is_named():
    with pytest.raises(LayerError, match="no layer 'conv9'"):
        LayerRecorder(set_recorded_layers(models.LeNet(), ["conv1", "conv9"]))


@pytest.mark.parametrize("method", ["random", "chunk_mean", "channel_mean", "all"])
def test_selection_in_the_tap_equals_selection_of_whole_layers(method):
    """Hooks and the traced graph record exactly what selecting from the whole layers gives."""
    torch.manual_seed(0)
    net = models.LeNet().eval()
    x = torch.randn(30, 1, 28, 28)
    options = {"random": {"n_nodes": 200}, "chunk_mean": {"chunk_size": 7}}.get(method, {})
    with torch.no_grad():
        whole = [f.numpy() for f in net.forward_features(x)]
    expected = dt.network_topology(net, x, max_dim=0, n_points=3, node_selection={"method": method, **options})
    from dnn_topology.networks.nodes import select_nodes

    acts, _ = select_nodes(whole, list(net.feature_layers), method, **options)
    np.testing.assert_array_equal(expected.activations, acts)
    generic = dt.network_topology(
        net, x, layers=["relu", "relu_1", "relu_2", "log_softmax"], max_dim=0, n_points=3,
        node_selection={"method": method, **options},
    )  # fmt: skip
    np.testing.assert_array_equal(generic.activations, acts)


@pytest.mark.slow
def test_lenet_generic_and_builtin_give_the_same_diagram_bytes(tmp_path):
    """A real checkpoint through both paths of the activations stage, then the persistence of both."""
    torch.manual_seed(3)
    path = tmp_path / "epoch_0.pt"
    torch.save({"net": models.LeNet().state_dict()}, path)
    samples = SampleSet("mnist5k", 200)
    selection = {"method": "random", "n_nodes": 150, "seed": 1}
    builtin, _, _ = compute_activations(path, "lenet", samples, selection, device="cpu")
    generic_ref = NetworkRef("dnn_topology.networks.models:LeNet", layers=["relu", "relu_1", "relu_2", "log_softmax"])
    generic, _, _ = compute_activations(path, generic_ref, samples, selection, device="cpu")
    assert builtin.tobytes() == generic.tobytes()
    out = []
    for acts in (builtin, generic):
        diagram = compute_persistence(full_to_sparse(graph.distance_matrix(acts), 0.3), 2)
        target = tmp_path / f"d{len(out)}.bin"
        dt.write_persistence_diagram(target, diagram)
        out.append(target.read_bytes())
    assert out[0] == out[1]


# ------------------------------------------------------------------------------------------------ checkpoints


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,
        lambda sd: {"state_dict": sd, "epoch": 3},
        lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}},
        lambda sd: {"model_state_dict": sd, "optimizer_state_dict": {"state": {}, "param_groups": []}},
        lambda sd: {"net": {f"_orig_mod.{k}": v for k, v in sd.items()}},
    ],
    ids=["plain", "state_dict", "model+module.", "model_state_dict", "net+_orig_mod."],
)
def test_checkpoint_wrappers_and_prefixes(tmp_path, wrap):
    net = models.LeNet300100()
    path = tmp_path / "c.pt"
    torch.save(wrap(net.state_dict()), path)
    loaded, _ = load_checkpoint(path, "lenet_300_100", get_spec("mnist5k"))
    for k, v in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)


def test_mismatched_checkpoint_names_missing_unexpected_and_shapes(tmp_path):
    sd = models.LeNet300100().state_dict()
    sd["extra.weight"] = sd.pop("fc3.weight")
    sd["fc1.bias"] = torch.zeros(7)
    path = tmp_path / "c.pt"
    torch.save(sd, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, "lenet_300_100", get_spec("mnist5k"))
    message = str(err.value)
    assert "missing keys (1): fc3.weight" in message and "unexpected keys (1): extra.weight" in message
    assert "fc1.bias (7,) vs (300,)" in message


def test_whole_pickled_model_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(models.LeNet300100(), path)
    with pytest.raises(CheckpointRefusedError, match="only weights are read"):
        read_weights(path)


def test_safetensors_checkpoints(tmp_path):
    from safetensors.torch import save_file

    net = models.LeNet300100()
    path = tmp_path / "epoch_1.safetensors"
    save_file({f"module.{k}": v.contiguous() for k, v in net.state_dict().items()}, str(path))
    loaded, _ = load_checkpoint(path, "lenet_300_100", get_spec("mnist5k"))
    assert torch.equal(loaded.fc3.weight, net.fc3.weight)


# ------------------------------------------------------------------------------------------------ data


DATA_SOURCE = """
import torch
from torch.utils.data import TensorDataset


def load(n=40, scale=1.0):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, 8, 8, generator=g) * scale
    y = torch.arange(n) % 4
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    norm = lambda t: (t - 0.5) / 0.25
    return TensorDataset(norm(x), y), TensorDataset(norm(x[:20]), y[:20]), (mean, std)
"""


def test_a_dataset_of_code(tmp_path):
    (tmp_path / "data.py").write_text(DATA_SOURCE)
    registry = dataset_registry(datasets={"toy": {"loader": f"{tmp_path / 'data.py'}:load", "num_classes": 4}})
    assert len(load_split("toy", "train", registry=registry)) == 40
    assert len(load_split("toy", "test", registry=registry)) == 20
    assert normalization("toy", registry) == ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert registry.spec("toy").num_classes == 4
    with pytest.raises(ValueError, match="datasets.bad.loader: file missing.py"):
        dataset_registry(datasets={"bad": {"loader": "missing.py:load", "num_classes": 3}})


# ------------------------------------------------------------------------------------------------ configuration


BASE = {
    "runs": [{"network": "lenet", "dataset": "mnist5k"}],
    "trials": [0],
    "training": {"epochs": 2, "subset": 1.0, "binarize_class": None},
    "activations": {"n_samples": 100, "split": "test", "node_selection": {"method": "all"}},
    "topology": {"epochs": [0, 1]},
}


def _config(**run):
    config = copy.deepcopy(BASE)
    config["runs"][0].update(run)
    return config


def test_config_checks_of_networks_and_checkpoints(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text("import torch.nn as nn\ndef make():\n    return nn.Linear(784, 10)\n")
    with pytest.raises(ConfigError, match="runs\\[0\\].layers: network 'net.py:make' is not built in"):
        check_config(_config(network="net.py:make"))
    with pytest.raises(ConfigError, match="checkpoint files not found .*ck/epoch_0.pt, ck/epoch_1.pt"):
        check_config(_config(network="net.py:make", layers=["x"], checkpoints="ck/epoch_{epoch}.pt"))
    (tmp_path / "ck").mkdir()
    for epoch in (0, 1, 7):  # topology.epochs beyond training.epochs: nothing is trained
        torch.save({}, tmp_path / f"ck/epoch_{epoch}.pt")
    config = _config(network="net.py:make", layers=["x"], checkpoints="ck/epoch_{epoch}.pt")
    config["topology"]["epochs"] = [0, 1, 7]
    check_config(config)
    with pytest.raises(ConfigError, match="has no \\{trial\\} but trials lists 2"):
        check_config({**config, "trials": [0, 1]})
    with pytest.raises(ConfigError, match="may hold \\{epoch\\} \\(required\\) and \\{trial\\} only"):
        check_config(_config(network="net.py:make", layers=["x"], checkpoints="ck/{run}_{epoch}.pt"))
    with pytest.raises(ConfigError, match="training.subset"):
        check_config(
            _config(network="net.py:make", layers=["x"], checkpoints="ck/epoch_{epoch}.pt", training={"subset": 0.5})
        )
    with pytest.raises(ConfigError, match="built-in network 'lenet' takes no keyword arguments"):
        check_config(_config(network_kwargs={"width": 3}))


# ------------------------------------------------------------------------------------------------ correlation


def test_correlation_with_torch_equals_numpy_to_1e12():
    """The GPU code path (torch, float64, blocks) run on the CPU's torch: the same result as NumPy's to 1e-12."""
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(300, 700)).astype(np.float32)
    acts[:, 5] = 1.5  # a dead node
    acts[:, 6] = acts[:, 7] * -2  # perfectly anti-correlated
    expected = graph.abs_correlation(acts, block=256)
    got = graph._abs_correlation_torch(acts, 256, torch.device("cpu"))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert np.array_equal(got, got.T) and got[5].max() == 0.0
    if torch.cuda.is_available():  # on a machine with a GPU: the GPU itself
        np.testing.assert_allclose(graph.abs_correlation(acts, device="cuda"), expected, rtol=0, atol=1e-12)


def test_auto_device_without_cuda_is_numpy():
    assert graph.correlation_device("cpu") is None
    if not torch.cuda.is_available():
        assert graph.correlation_device("auto") is None


# ------------------------------------------------------------------------------------------------ the layers command


@pytest.mark.slow
def test_layers_command_lists_names_shapes_and_node_counts():
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["layers", "lenet", "--dataset", "mnist5k"]) == 0
    text = out.getvalue()
    assert "relu_1" in text and "(20, 4, 4)" in text and "320" in text
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["layers", "torchvision:resnet18", "--input-shape", "3", "32", "32", "--num-classes", "5"]) == 0
    text = out.getvalue()
    assert "layer3" in text and "(256, 2, 2)" in text and "1024" in text and "ran 2 times" in text
