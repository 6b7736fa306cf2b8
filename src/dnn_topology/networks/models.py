"""Networks, and the layers of each that feed the functional graph.

Every network implements ``forward(x)`` (log-probabilities, as the original code) and
``forward_features(x)``, which returns the list of activation tensors whose nodes become the
vertices of the functional graph (the original's ``forward_features``). ``feature_layers``
names those tensors, in order. Convolutional features keep their ``(N, C, H, W)`` shape;
fully connected ones are ``(N, F)``. Flattening a tensor row-major gives the node order.

All networks are built by ``build_network(name, spec)`` for any :class:`DatasetSpec`
(input channels, square input size, number of classes). The feature layers follow the
original repository (cipriancorneanu/dnn-topology):

==============  ===========================================================================
network         feature layers
==============  ===========================================================================
lenet           conv1 (pooled), conv2 (pooled), fc1, fc2 (log-probabilities)
lenet_300_100   fc1, fc2, fc3 (log-probabilities)
conv_2          conv2 (pooled), fc1, fc2, fc3 (log-probabilities)
conv_4          conv2 (pooled), conv4 (pooled), fc1, fc2, fc3 (log-probabilities)
conv_6          conv5, conv6 (pooled), fc1, fc2, fc3 (log-probabilities)
alexnet         pool1, pool2, conv3, conv4, pool5, logits
vgg16           pool1 ... pool5 (the output of each conv block), logits
resnet18/34/50  layer3, layer4, avgpool (flattened), logits
==============  ===========================================================================

Parameter names follow the original code for LeNet, LeNet-300-100, the Conv-x networks,
AlexNet and VGG16, so that its checkpoints load. The ResNets are torchvision's, with the
usual CIFAR stem (3x3 stride-1 first convolution, no max-pooling); their parameter names are
torchvision's (``fc``, ``downsample``), not the original's (``linear``, ``shortcut``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .datasets import DatasetSpec


def _too_small(network: str, input_size: int) -> ValueError:
    return ValueError(
        f"input size {input_size} is too small for network {network!r} "
        "(config keys 'network' and 'dataset'/'input_size')"
    )


def _flat_output_size(module: nn.Module, in_channels: int, input_size: int, network: str) -> int:
    """Number of values ``module`` outputs for one ``in_channels x input_size x input_size`` input."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, in_channels, input_size, input_size))
    except RuntimeError as err:
        raise _too_small(network, input_size) from err
    finally:
        module.train(was_training)
    if out.numel() == 0:
        raise _too_small(network, input_size)
    return int(out.numel())


class LeNet(nn.Module):
    """LeNet as in the original code: 1,440 + 320 + 50 + 10 = 1,820 nodes on 28x28 inputs.

    Parameter names match the original (``conv1``, ``conv2``, ``fc1``, ``fc2``) so that its
    checkpoints load unchanged.
    """

    feature_layers = ("conv1", "conv2", "fc1", "fc2")

    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size: int = 28):
        super().__init__()
        side = ((input_size - 4) // 2 - 4) // 2
        if side < 1:
            raise _too_small("lenet", input_size)
        self.conv1 = nn.Conv2d(in_channels, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.feat_size = 20 * side * side
        self.fc1 = nn.Linear(self.feat_size, 50)
        self.fc2 = nn.Linear(50, num_classes)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x1 = F.relu(F.max_pool2d(self.conv1(x), 2))
        x2 = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x1)), 2))
        x3 = F.relu(self.fc1(x2.reshape(x2.shape[0], -1)))
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


class _ConvX(nn.Module):
    """The Conv-2/4/6 networks of Frankle & Carbin (2019), as in the original code.

    ``n_conv`` 3x3 convolutions of widths 64, 64, 128, 128, 256, 256 (ReLU; 2x2 max-pooling
    after every second one), then fully connected layers of 256, 256 and ``num_classes`` units.
    ``conv_taps`` lists the (1-based) convolutions whose activations are features.
    """

    n_conv: int = 0
    conv_taps: tuple[int, ...] = ()
    widths = (64, 64, 128, 128, 256, 256)

    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size: int = 28):
        super().__init__()
        channels, side = in_channels, input_size
        for i, width in enumerate(self.widths[: self.n_conv], start=1):
            setattr(self, f"conv{i}", nn.Conv2d(channels, width, kernel_size=3, padding=1))
            channels = width
            if i % 2 == 0:
                side //= 2
        if side < 1:
            raise _too_small(f"conv_{self.n_conv}", input_size)
        self.feat_size = channels * side * side
        self.fc1 = nn.Linear(self.feat_size, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, num_classes)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i in range(1, self.n_conv + 1):
            x = getattr(self, f"conv{i}")(x)
            if i % 2 == 0:
                x = F.max_pool2d(x, 2)
            x = F.relu(x)
            if i in self.conv_taps:
                feats.append(x)
        x = F.relu(self.fc1(x.reshape(x.shape[0], -1)))
        feats.append(x)
        x = F.relu(self.fc2(x))
        feats.append(x)
        feats.append(F.log_softmax(self.fc3(x), dim=1))
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[-1]


class Conv2(_ConvX):
    """Conv-2: 12,544 + 256 + 256 + 10 = 13,066 nodes on 28x28 inputs."""

    n_conv = 2
    conv_taps = (2,)
    feature_layers = ("conv2", "fc1", "fc2", "fc3")


class Conv4(_ConvX):
    """Conv-4: 12,544 + 6,272 + 256 + 256 + 10 = 19,338 nodes on 28x28 inputs."""

    n_conv = 4
    conv_taps = (2, 4)
    feature_layers = ("conv2", "conv4", "fc1", "fc2", "fc3")


class Conv6(_ConvX):
    """Conv-6: 12,544 + 2,304 + 256 + 256 + 10 = 15,370 nodes on 28x28 inputs."""

    n_conv = 6
    conv_taps = (5, 6)
    feature_layers = ("conv5", "conv6", "fc1", "fc2", "fc3")


class _TappedSequential(nn.Module):
    """A ``features`` stack plus a linear ``classifier``; features are taken after given modules.

    Subclasses set ``feature_layers`` (the names of the taps, then ``"logits"``) and build
    ``self.features`` and ``self.taps`` (indices into ``self.features``). ``forward`` returns
    log-probabilities; the last feature is the raw logits, as in the original code.
    """

    features: nn.Sequential
    classifier: nn.Linear
    taps: tuple[int, ...]

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                feats.append(x)
        feats.append(self.classifier(x.reshape(x.shape[0], -1)))
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.forward_features(x)[-1], dim=1)


class AlexNet(_TappedSequential):
    """The small AlexNet of the original code (for 32x32 inputs).

    1,024 + 768 + 1,536 + 1,024 + 256 + 10 = 4,618 nodes on 32x32 inputs. Module indices
    match the original so that its checkpoints load; max-pooling rounds up (``ceil_mode``),
    which changes nothing for 32x32 inputs and lets 28x28 inputs through.
    """

    feature_layers = ("pool1", "pool2", "conv3", "conv4", "pool5", "logits")

    def __init__(self, in_channels: int = 3, num_classes: int = 10, input_size: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=7, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True),
        )
        self.taps = (2, 5, 7, 9, 12)
        n_flat = _flat_output_size(self.features, in_channels, input_size, "alexnet")
        self.classifier = nn.Linear(n_flat, num_classes)


VGG16_CONFIG: tuple[int | str, ...] = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    "M",
)


class VGG16(_TappedSequential):
    """VGG16 with batch normalisation and a single linear classifier (the CIFAR variant).

    Features: the output of each of the five conv blocks (after its max-pooling) and the
    logits: 16,384 + 8,192 + 4,096 + 2,048 + 512 + 10 = 31,242 nodes on 32x32 inputs.
    ``features``/``classifier`` indices match the original so its checkpoints load. Pooling
    rounds up (``ceil_mode``): identical for 32x32 inputs, and 28x28 inputs work too.
    """

    feature_layers = ("pool1", "pool2", "pool3", "pool4", "pool5", "logits")

    def __init__(self, in_channels: int = 3, num_classes: int = 10, input_size: int = 32):
        super().__init__()
        layers: list[nn.Module] = []
        taps = []
        channels = in_channels
        for item in VGG16_CONFIG:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True))
                taps.append(len(layers) - 1)
            else:
                layers += [
                    nn.Conv2d(channels, int(item), kernel_size=3, padding=1),
                    nn.BatchNorm2d(int(item)),
                    nn.ReLU(inplace=True),
                ]
                channels = int(item)
        self.features = nn.Sequential(*layers)
        self.taps = tuple(taps)
        n_flat = _flat_output_size(self.features, in_channels, input_size, "vgg16")
        self.classifier = nn.Linear(n_flat, num_classes)


@functools.cache
def cifar_resnet_class() -> type[nn.Module]:
    """The class ``CifarResNet``: torchvision's ResNet with the CIFAR stem (3x3 stride-1 ``conv1``, no max-pooling).

    Features: ``layer3``, ``layer4``, the global average pooling (flattened) and the logits,
    as the original code (which also repeated the pooling output once more, flattened).
    Built on first use: importing torchvision costs every training and activations job about 2 s of CPU
    and 170 MB, which only the ResNets need.
    """
    from torchvision.models.resnet import ResNet  # deferred: see the docstring

    class CifarResNet(ResNet):
        feature_layers = ("layer3", "layer4", "avgpool", "logits")

        def __init__(
            self,
            block: type[nn.Module],
            layers: list[int],
            in_channels: int = 3,
            num_classes: int = 10,
            input_size: int = 32,
        ):
            super().__init__(block, layers, num_classes=num_classes)
            self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
            nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
            self.maxpool = nn.Identity()

        def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer2(self.layer1(x))
            x3 = self.layer3(x)
            x4 = self.layer4(x3)
            pooled = torch.flatten(self.avgpool(x4), 1)
            return [x3, x4, pooled, self.fc(pooled)]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.log_softmax(self.forward_features(x)[-1], dim=1)

    return CifarResNet


def _resnet(block: str, layers: list[int]) -> Callable[..., nn.Module]:
    """Factory of a CIFAR ResNet with torchvision's ``block`` (``BasicBlock`` or ``Bottleneck``)."""

    def factory(in_channels: int = 3, num_classes: int = 10, input_size: int = 32) -> nn.Module:
        from torchvision.models import resnet  # deferred: see cifar_resnet_class

        return cifar_resnet_class()(
            getattr(resnet, block), layers, in_channels=in_channels, num_classes=num_classes, input_size=input_size
        )

    return factory


NETWORKS: dict[str, Callable[..., nn.Module]] = {
    "lenet": LeNet,
    "lenet_300_100": LeNet300100,
    "conv_2": Conv2,
    "conv_4": Conv4,
    "conv_6": Conv6,
    "alexnet": AlexNet,
    "vgg16": VGG16,
    "resnet18": _resnet("BasicBlock", [2, 2, 2, 2]),
    "resnet34": _resnet("BasicBlock", [3, 4, 6, 3]),
    "resnet50": _resnet("Bottleneck", [3, 4, 6, 3]),
}
"""Network factories, each called as ``factory(in_channels=, num_classes=, input_size=)``."""

DEFAULT_DATASETS: dict[str, str] = {
    "lenet": "mnist",
    "lenet_300_100": "mnist",
    "conv_2": "mnist",
    "conv_4": "mnist",
    "conv_6": "mnist",
    "alexnet": "cifar10",
    "vgg16": "cifar10",
    "resnet18": "cifar10",
    "resnet34": "cifar10",
    "resnet50": "cifar10",
}
"""The dataset each network was used with in the original code."""


def build_network(name: str, spec: DatasetSpec) -> nn.Module:
    """Build network ``name`` for a dataset of the given shape (channels, input size, classes)."""
    try:
        factory = NETWORKS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r} (config key 'network'); choose one of {sorted(NETWORKS)}") from None
    return factory(in_channels=spec.in_channels, num_classes=spec.num_classes, input_size=spec.input_size)


def feature_shapes(net: nn.Module, spec: DatasetSpec) -> dict[str, tuple[int, ...]]:
    """Shape of one sample's activations (batch dimension dropped) for each feature layer.

    Computed with one dummy forward pass in evaluation mode on the network's device.
    """
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    try:
        with torch.no_grad():
            x = torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size, device=device)
            feats = net.forward_features(x)
    finally:
        net.train(was_training)
    return {name: tuple(f.shape[1:]) for name, f in zip(net.feature_layers, feats)}


def forward_cost(net: nn.Module, spec: DatasetSpec) -> tuple[dict[str, tuple[int, ...]], int]:
    """Per-sample shape of each feature layer and the multiply-accumulates of one forward pass.

    MACs count the convolutions (output values x input channels per group x kernel area) and the
    linear layers (inputs x outputs), from one dummy forward pass in evaluation mode.
    """
    macs = 0

    def count(module: nn.Module, inputs, output: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            macs += output[0].numel() * module.in_channels // module.groups * kernel
        elif isinstance(module, nn.Linear):
            macs += module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        shapes = feature_shapes(net, spec)
    finally:
        for hook in hooks:
            hook.remove()
    return shapes, macs


def node_counts(net: nn.Module, spec: DatasetSpec) -> dict[str, int]:
    """Number of nodes of each feature layer, from one dummy forward pass."""
    counts = {}
    for name, shape in feature_shapes(net, spec).items():
        n = 1
        for d in shape:
            n *= d
        counts[name] = n
    return counts
