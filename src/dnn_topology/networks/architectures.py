"""Build any network of a :class:`~dnn_topology.networks.refs.NetworkRef`: built-in, torchvision's, or a user's.

* built-in names: :func:`dnn_topology.networks.models.build_network` for the dataset's shape;
* ``torchvision:<name>``: ``torchvision.models.get_model(name, weights=None, num_classes=<the dataset's>,
  **network_kwargs)``: no weights are downloaded;
* ``<module>:<callable>`` / ``<file.py>:<callable>``: ``callable(**network_kwargs)`` (importing the module or
  file runs its code, see :mod:`dnn_topology.networks.refs`), which must return a ``torch.nn.Module``.

Built-in networks output log-probabilities; every other network is taken to output logits (or
log-probabilities: :func:`log_probabilities` applies ``log_softmax``, which leaves log-probabilities unchanged),
so losses are the cross-entropy either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from .datasets import DatasetSpec
from .models import build_network
from .refs import NetworkRef, load_callable


def build(network: NetworkRef | Mapping[str, Any] | str, spec: DatasetSpec) -> torch.nn.Module:
    """A freshly initialised network of ``network`` for a dataset of shape ``spec``.

    Parameters
    ----------
    network : NetworkRef, mapping or str
        The network (a :class:`NetworkRef`, its :meth:`~NetworkRef.params`, or a built-in name).
    spec : DatasetSpec
        The dataset's shape; built-in and torchvision networks take its number of classes.

    Returns
    -------
    torch.nn.Module
        In training mode, on the CPU. Errors name config key ``runs[].network`` (or ``network_kwargs``).

    Examples
    --------
    >>> from dnn_topology.networks.datasets import get_spec
    >>> net = build("torchvision:resnet18", get_spec("cifar10"))
    >>> net.fc.out_features
    10
    """
    ref = NetworkRef.of(network)
    if ref.kind == "builtin":
        return build_network(ref.name, spec)
    if ref.kind == "torchvision":
        import torchvision  # deferred: torchvision costs ~2 s of CPU and 170 MB, which built-in networks never need

        name = ref.torchvision_name
        if name not in torchvision.models.list_models():
            raise ValueError(
                f"runs[].network: torchvision has no architecture {name!r} (torchvision.models.list_models() "
                f"lists {len(torchvision.models.list_models())}, e.g. resnet18, vgg11, vit_b_16)"
            )
        try:
            return torchvision.models.get_model(name, weights=None, **{"num_classes": spec.num_classes, **ref.kwargs})
        except (TypeError, ValueError) as err:
            raise ValueError(f"runs[].network_kwargs: cannot build {ref.name} with {dict(ref.kwargs)}: {err}") from err
    factory = load_callable(ref.callable_ref(), "runs[].network")
    try:
        net = factory(**ref.kwargs)
    except TypeError as err:
        raise ValueError(f"runs[].network_kwargs: {ref.name}(**{dict(ref.kwargs)}) failed: {err}") from err
    if not isinstance(net, torch.nn.Module):
        raise ValueError(f"runs[].network: {ref.name} returned a {type(net).__name__}, not a torch.nn.Module")
    return net


def log_probabilities(network: NetworkRef | Mapping[str, Any] | str, outputs: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of a network's ``outputs``: as they are for a built-in network (which outputs them),
    ``log_softmax`` of them otherwise (logits; log-probabilities are left unchanged up to rounding)."""
    return outputs if NetworkRef.of(network).is_builtin else F.log_softmax(outputs, dim=1)
