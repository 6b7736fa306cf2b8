"""Resource requests of the workflow's jobs, sized without torch.

Snakemake parses the workflow for every command, and on a cluster once more inside every job, so
sizing must cost nothing: no torch import, no network built, no dataset read. What the requests
scale with -- the number of functional-graph nodes of a run and the multiply-accumulates (MACs) of
one forward pass -- comes from :data:`NETWORK_COSTS`, a table of every network on the input shapes
of the built-in datasets (1 x 28 x 28: MNIST, Fashion-MNIST, mnist5k; 3 x 32 x 32: CIFAR-10, SVHN).
``tests/test_resources.py`` builds each network and checks the table against it, layer by layer.
An input shape outside the table (an ImageFolder of another size) is measured once with a dummy
forward pass (:func:`dnn_topology.networks.models.forward_cost`, which imports torch).

Units: ``mem_mb`` in MB (10^6 bytes), ``runtime`` in minutes, MACs per sample.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..networks.datasets import DatasetSpec, split_size
from ..networks.nodes import plan_selection
from ..networks.refs import BUILTIN_NETWORKS

# Conservative sustained multiply-accumulates per second of one training job.
MACS_PER_SECOND = {"cpu_thread": 5e9, "gpu": 5e11}

Shape = tuple[int, ...]


@dataclass(frozen=True)
class NetworkCost:
    """A network on one input shape: its feature layers and the cost of one forward pass.

    The last feature layer is the class scores, ``(num_classes,)``, computed by a linear classifier
    with ``classifier_inputs`` inputs; the other layers do not depend on the number of classes.
    """

    layers: tuple[tuple[str, Shape], ...]  # (name, per-sample shape) of every feature layer but the last
    scores: str  # name of the last feature layer (the class scores)
    classifier_inputs: int
    macs: int  # multiply-accumulates of one forward pass, the classifier excluded

    def shapes(self, num_classes: int) -> dict[str, Shape]:
        """Per-sample shape of every feature layer, in order."""
        return {**dict(self.layers), self.scores: (num_classes,)}

    def total_macs(self, num_classes: int) -> int:
        return self.macs + self.classifier_inputs * num_classes


def _cost(scores: str, classifier_inputs: int, macs: int, *layers: tuple[str, Shape]) -> NetworkCost:
    return NetworkCost(tuple(layers), scores, classifier_inputs, macs)


NETWORK_COSTS: dict[tuple[str, int, int], NetworkCost] = {
    # (network, in_channels, input_size): feature layers, classifier inputs, MACs without the classifier
    ("lenet", 1, 28): _cost("fc2", 50, 480_000, ("conv1", (10, 12, 12)), ("conv2", (20, 4, 4)), ("fc1", (50,))),
    ("lenet", 3, 32): _cost("fc2", 50, 1_113_000, ("conv1", (10, 14, 14)), ("conv2", (20, 5, 5)), ("fc1", (50,))),
    ("lenet_300_100", 1, 28): _cost("fc3", 100, 265_200, ("fc1", (300,)), ("fc2", (100,))),
    ("lenet_300_100", 3, 32): _cost("fc3", 100, 951_600, ("fc1", (300,)), ("fc2", (100,))),
    ("conv_2", 1, 28): _cost("fc3", 256, 32_629_760, ("conv2", (64, 14, 14)), ("fc1", (256,)), ("fc2", (256,))),
    ("conv_2", 3, 32): _cost("fc3", 256, 43_778_048, ("conv2", (64, 16, 16)), ("fc1", (256,)), ("fc2", (256,))),
    ("conv_4", 1, 28): _cost(
        "fc3", 256, 74_376_192, ("conv2", (64, 14, 14)), ("conv4", (128, 7, 7)), ("fc1", (256,)), ("fc2", (256,))
    ),
    ("conv_4", 3, 32): _cost(
        "fc3", 256, 98_304_000, ("conv2", (64, 16, 16)), ("conv4", (128, 8, 8)), ("fc1", (256,)), ("fc2", (256,))
    ),
    ("conv_6", 1, 28): _cost(
        "fc3", 256, 116_712_448, ("conv5", (256, 7, 7)), ("conv6", (256, 3, 3)), ("fc1", (256,)), ("fc2", (256,))
    ),
    ("conv_6", 3, 32): _cost(
        "fc3", 256, 153_878_528, ("conv5", (256, 8, 8)), ("conv6", (256, 4, 4)), ("fc1", (256,)), ("fc2", (256,))
    ),
    ("alexnet", 1, 28): _cost(
        "logits",
        256,
        13_621_312,
        ("pool1", (64, 4, 4)),
        ("pool2", (192, 2, 2)),
        ("conv3", (384, 2, 2)),
        ("conv4", (256, 2, 2)),
        ("pool5", (256, 1, 1)),
    ),
    ("alexnet", 3, 32): _cost(
        "logits",
        256,
        14_069_760,
        ("pool1", (64, 4, 4)),
        ("pool2", (192, 2, 2)),
        ("conv3", (384, 2, 2)),
        ("conv4", (256, 2, 2)),
        ("pool5", (256, 1, 1)),
    ),
    ("vgg16", 1, 28): _cost(
        "logits",
        512,
        267_641_856,
        ("pool1", (64, 14, 14)),
        ("pool2", (128, 7, 7)),
        ("pool3", (256, 4, 4)),
        ("pool4", (512, 2, 2)),
        ("pool5", (512, 1, 1)),
    ),
    ("vgg16", 3, 32): _cost(
        "logits",
        512,
        313_196_544,
        ("pool1", (64, 16, 16)),
        ("pool2", (128, 8, 8)),
        ("pool3", (256, 4, 4)),
        ("pool4", (512, 2, 2)),
        ("pool5", (512, 1, 1)),
    ),
    ("resnet18", 1, 28): _cost(
        "logits", 512, 455_795_712, ("layer3", (256, 7, 7)), ("layer4", (512, 4, 4)), ("avgpool", (512,))
    ),
    ("resnet18", 3, 32): _cost(
        "logits", 512, 555_417_600, ("layer3", (256, 8, 8)), ("layer4", (512, 4, 4)), ("avgpool", (512,))
    ),
    ("resnet34", 1, 28): _cost(
        "logits", 512, 935_912_448, ("layer3", (256, 7, 7)), ("layer4", (512, 4, 4)), ("avgpool", (512,))
    ),
    ("resnet34", 3, 32): _cost(
        "logits", 512, 1_159_397_376, ("layer3", (256, 8, 8)), ("layer4", (512, 4, 4)), ("avgpool", (512,))
    ),
    ("resnet50", 1, 28): _cost(
        "logits", 2048, 1_046_799_360, ("layer3", (1024, 7, 7)), ("layer4", (2048, 4, 4)), ("avgpool", (2048,))
    ),
    ("resnet50", 3, 32): _cost(
        "logits", 2048, 1_297_809_408, ("layer3", (1024, 8, 8)), ("layer4", (2048, 4, 4)), ("avgpool", (2048,))
    ),
}
"""Every network on the input shapes of the built-in datasets (checked against the real networks by
``tests/test_resources.py``)."""

NETWORK_NAMES: tuple[str, ...] = BUILTIN_NETWORKS
"""The built-in networks (the keys of :data:`dnn_topology.networks.models.NETWORKS`), known without torch; every one
has its costs in :data:`NETWORK_COSTS`."""

UNBUILT_NODES = 10_000
UNBUILT_MACS = 10**9
"""What the requests of a torchvision or user network assume (it is not built while the workflow parses: that would
run the user's code at every start-up): ``node_selection.n_nodes`` nodes, else :data:`UNBUILT_NODES`, and
:data:`UNBUILT_MACS` multiply-accumulates per sample. Override with ``--set-resources``."""


@dataclass(frozen=True)
class RunSize:
    """What a run's resource requests scale with."""

    n_nodes: int  # functional-graph nodes after node selection
    macs_per_sample: int  # multiply-accumulates of one forward pass


@functools.cache
def network_cost(network: str, spec: DatasetSpec) -> tuple[dict[str, Shape], int]:
    """Per-sample shapes of the feature layers of ``network`` on inputs of ``spec``, and its MACs per sample.

    From :data:`NETWORK_COSTS` when the input shape is there; otherwise from one dummy forward pass
    (imports torch), once per network and input shape (the start-up checks and the run table both ask).
    The shapes are shared: read them, do not change them.
    """
    if network not in NETWORK_NAMES:
        raise ValueError(f"unknown network {network!r} (config key 'network'); choose one of {list(NETWORK_NAMES)}")
    cost = NETWORK_COSTS.get((network, spec.in_channels, spec.input_size))
    if cost is not None:
        return cost.shapes(spec.num_classes), cost.total_macs(spec.num_classes)
    from ..networks.models import build_network, forward_cost

    return forward_cost(build_network(network, spec), spec)


def run_size(network: str, spec: DatasetSpec, node_selection: dict) -> RunSize:
    """Node count (after ``node_selection``) and forward cost of ``network`` on a dataset of shape ``spec``
    (for a network that is not built in, the assumptions of :data:`UNBUILT_MACS`)."""
    if network not in NETWORK_NAMES:
        return RunSize(n_nodes=int(node_selection.get("n_nodes") or UNBUILT_NODES), macs_per_sample=UNBUILT_MACS)
    shapes, macs = network_cost(network, spec)
    n_nodes = plan_selection(list(shapes.values()), list(shapes), **node_selection).n_nodes
    return RunSize(n_nodes=int(n_nodes), macs_per_sample=int(macs))


def resources(
    size: RunSize, dataset: str, n_samples: int, epochs: int, max_dim: int, max_epsilon: float, threads: int, gpus: int
) -> dict:
    """Resource requests (mem_mb in MB, runtime in minutes) that scale with the job.

    Training: forward + backward ~ 3x the forward multiply-accumulates, per training sample and epoch,
    at a conservative throughput (``MACS_PER_SECOND``), doubled as a margin; evaluating a checkpoint (rule
    ``evaluate``): one forward pass over both splits, at the same throughput. Correlation and
    persistence: the N x N float64 distance matrix, and a persistence cost growing with N^2, the
    dimension and the cut (an ImageFolder's training set counts as 50,000 images). Override any of
    them with ``--set-resources RULE:mem_mb=...``.
    """
    matrix_mb = size.n_nodes**2 * 8 / 1e6
    throughput = MACS_PER_SECOND["gpu"] * gpus if gpus else MACS_PER_SECOND["cpu_thread"] * threads
    n_train, n_test = split_size(dataset, "train") or 50000, split_size(dataset, "test") or 10000
    train_seconds = 2 * 3 * size.macs_per_sample * n_train * epochs / throughput
    evaluate_seconds = 2 * size.macs_per_sample * (n_train + n_test) / throughput  # one forward pass over both splits
    scale = (size.n_nodes / 1000) ** 2 * 2 ** max(0, max_dim - 1) * (max_epsilon / 0.3) ** 2
    return {
        "n_nodes": size.n_nodes,
        "train_mem_mb": 4000 if size.macs_per_sample < 1e8 else 8000,
        "train_runtime": int(10 + train_seconds / 60),
        "evaluate_runtime": int(10 + evaluate_seconds / 60),
        "activations_mem_mb": int(1500 + 3 * n_samples * size.n_nodes * 4 / 1e6),
        "graph_mem_mb": int(1000 + 3 * matrix_mb),
        "persistence_mem_mb": int(1000 + 2 * matrix_mb * max(1, max_dim) * max(1.0, (max_epsilon / 0.3) ** 2)),
        "persistence_runtime": int(10 + scale),
    }
