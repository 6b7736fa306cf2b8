"""Networks, and the layers of each that feed the functional graph.

Every network implements ``forward(x)`` (log-probabilities, as the original code) and
``forward_features(x)``, which returns the list of activation tensors whose nodes become the
vertices of the functional graph (the original's ``forward_features``). ``feature_layers``
names those tensors, in order.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .datasets import DatasetSpec


class LeNet(nn.Module):
    """LeNet as in the original code: 1,440 + 320 + 50 + 10 = 1,820 nodes on 28x28 inputs.

    Parameter names match the original (``conv1``, ``conv2``, ``fc1``, ``fc2``) so that its
    checkpoints load unchanged.
    """

    feature_layers = ("conv1", "conv2", "fc1", "fc2")

    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size: int = 28):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        side = ((input_size - 4) // 2 - 4) // 2
        self.feat_size = 20 * side * side
        self.fc1 = nn.Linear(self.feat_size, 50)
        self.fc2 = nn.Linear(50, num_classes)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x1 = F.relu(F.max_pool2d(self.conv1(x), 2))
        x2 = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x1)), 2))
        x2 = x2.reshape(x2.shape[0], -1)
        x3 = F.relu(self.fc1(x2))
        x4 = F.log_softmax(self.fc2(F.dropout(x3, training=self.training)), dim=1)
        return [x1, x2, x3, x4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[-1]


class LeNet300100(nn.Module):
    """The LeNet-300-100 multilayer perceptron: 300 + 100 + 10 = 410 nodes."""

    feature_layers = ("fc1", "fc2", "fc3")

    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size: int = 28):
        super().__init__()
        self.feat_size = in_channels * input_size * input_size
        self.fc1 = nn.Linear(self.feat_size, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, num_classes)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x1 = F.relu(self.fc1(x.reshape(x.shape[0], -1)))
        x2 = F.relu(self.fc2(x1))
        x3 = F.log_softmax(self.fc3(x2), dim=1)
        return [x1, x2, x3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[-1]


NETWORKS: dict[str, Callable[..., nn.Module]] = {
    "lenet": LeNet,
    "lenet_300_100": LeNet300100,
}


def build_network(name: str, spec: DatasetSpec) -> nn.Module:
    """Build network ``name`` for a dataset of the given shape."""
    try:
        factory = NETWORKS[name]
    except KeyError:
        raise ValueError(
            f"unknown network {name!r} (config key 'network'); choose one of {sorted(NETWORKS)}"
        ) from None
    return factory(in_channels=spec.in_channels, num_classes=spec.num_classes, input_size=spec.input_size)


def node_counts(net: nn.Module, spec: DatasetSpec) -> dict[str, int]:
    """Number of nodes of each feature layer, from one dummy forward pass."""
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    with torch.no_grad():
        x = torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size, device=device)
        feats = net.forward_features(x)
    net.train(was_training)
    return {name: int(f[0].numel()) for name, f in zip(net.feature_layers, feats)}
