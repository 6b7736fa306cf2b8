"""Record the selected nodes of a network's layers while it runs: memory bounded by the selected nodes.

Which layers (config key ``runs[].layers``):

* none configured, a built-in network: its declared feature layers (``forward_features``, see
  :mod:`dnn_topology.networks.models`);
* names of modules (as ``named_modules()`` gives them, e.g. ``layer3`` or ``features.4``): a forward hook on
  each module records its output;
* any other name: a node of the network's graph as torchvision's feature extraction names it
  (:mod:`torchvision.models.feature_extraction`: ``relu_1`` for the second functional ``relu``, ``flatten``,
  ``layer3`` for the last node of module ``layer3``, ...). The network is traced with torch.fx by that library
  and a recording step is inserted after each named node. A network that cannot be traced can still be
  recorded by module names (hooks).

A layer's output is recorded *as soon as it is computed*: its selected nodes (:mod:`dnn_topology.networks.nodes`)
are picked on the device that computed it (``random``: only the selected values leave it) and written into
the (n_samples, n_selected) float32 result, so that no layer is ever kept whole beyond the batch being
computed. ``dnn-topology layers NETWORK`` lists the candidate names (:func:`candidate_layers`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .nodes import NodeSelection

RECORDED_LAYERS = "recorded_layers"
"""Attribute of a network that names its configured layers (:func:`set_recorded_layers`)."""


class LayerError(ValueError):
    """A configured layer that the network does not have, or whose output cannot be recorded."""


def set_recorded_layers(net: torch.nn.Module, layers: Sequence[str] | None) -> torch.nn.Module:
    """Record ``layers`` of ``net`` (config key ``runs[].layers``); None keeps a built-in network's feature layers."""
    if layers is not None:
        setattr(net, RECORDED_LAYERS, tuple(layers))
        return net
    if hasattr(net, RECORDED_LAYERS):
        delattr(net, RECORDED_LAYERS)
    if not hasattr(net, "forward_features"):
        raise LayerError(
            "runs[].layers: the network is not built in, so name the layers whose outputs become nodes "
            "(`dnn-topology layers NETWORK` lists them)"
        )
    return net


def recorded_layers(net: torch.nn.Module) -> tuple[str, ...]:
    """The names of the layers recorded from ``net``, in order."""
    layers = getattr(net, RECORDED_LAYERS, None)
    return tuple(layers) if layers is not None else tuple(net.feature_layers)


def _as_tensor(name: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise LayerError(
            f"runs[].layers: the output of layer {name!r} is a {type(value).__name__}, not a tensor; name a layer "
            "that outputs one tensor (`dnn-topology layers` lists them)"
        )
    return value


class _Tap(torch.nn.Module):
    """A step inserted into a traced graph after a recorded node: calls the recorder, returns nothing."""

    def __init__(self, callback: Callable[[int, torch.Tensor], None], index: int):
        super().__init__()
        self.callback, self.index = callback, index

    def forward(self, x):  # noqa: D102
        self.callback(self.index, x)


@dataclass
class _Modes:
    hooks: bool  # module names: forward hooks
    traced: torch.nn.Module | None  # graph node names: the traced network with taps


class LayerRecorder:
    """Runs a network and hands each recorded layer's output to a callback as soon as it is computed.

    Parameters
    ----------
    net : torch.nn.Module
        The network (see :func:`set_recorded_layers` for which layers are recorded).
    """

    def __init__(self, net: torch.nn.Module):
        self.net = net
        self.layers = recorded_layers(net)
        self._callback: Callable[[int, torch.Tensor], None] | None = None
        self._calls = [0] * len(self.layers)
        configured = getattr(net, RECORDED_LAYERS, None) is not None
        modules = dict(net.named_modules())
        if not configured:
            self._modes = _Modes(False, None)
        elif all(name in modules and name != "" for name in self.layers):
            self._modes = _Modes(True, None)
        else:
            self._modes = _Modes(False, self._trace())

    def _tap(self, index: int, value) -> None:
        self._calls[index] += 1
        assert self._callback is not None
        self._callback(index, _as_tensor(self.layers[index], value))

    def _trace(self) -> torch.nn.Module:
        """The network traced by torchvision's feature extraction, with a :class:`_Tap` after each layer."""
        from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

        was_training = self.net.training
        self.net.eval()
        modules = dict(self.net.named_modules())
        unknown = [n for n in self.layers if n not in modules]
        try:
            try:
                _, nodes = get_graph_node_names(self.net)
            except Exception as err:  # torch.fx raises many types for code it cannot trace
                raise LayerError(
                    f"runs[].layers: {unknown} are not modules of the network, and torchvision's feature extraction "
                    f"cannot trace it to find them as graph nodes ({type(err).__name__}: {err}); name modules "
                    "instead (recorded with forward hooks; `dnn-topology layers` lists them)"
                ) from err
            try:
                graph = create_feature_extractor(self.net, return_nodes={n: n for n in self.layers})
            except ValueError as err:
                raise LayerError(
                    f"runs[].layers: the network has no layer {unknown[0]!r}: neither a module nor a graph node of "
                    f"torchvision's feature extraction (`dnn-topology layers` lists them; graph nodes include "
                    f"{', '.join(nodes[1:6])}, ...)"
                ) from err
        finally:
            self.net.train(was_training)
        graph.eval()
        fx_graph = graph.graph
        output = next(n for n in fx_graph.nodes if n.op == "output")
        returned = output.args[0]
        taps = []
        with fx_graph.inserting_before(output):
            for index, name in enumerate(self.layers):
                tap_name = f"_dnn_topology_tap_{index}"
                graph.add_submodule(tap_name, _Tap(self._tap, index))
                taps.append(fx_graph.call_module(tap_name, (returned[name],)))
        output.args = (tuple(taps),)
        fx_graph.lint()
        graph.recompile()
        return graph

    def run(self, x: torch.Tensor, callback: Callable[[int, torch.Tensor], None]) -> None:
        """Run the network (in its current mode, without gradients) on ``x``; ``callback(i, output)`` receives the
        output of layer ``i`` once per batch."""
        self._callback = callback
        self._calls = [0] * len(self.layers)
        handles = []
        try:
            with torch.no_grad():
                if self._modes.hooks:
                    modules = dict(self.net.named_modules())
                    for index, name in enumerate(self.layers):
                        handles.append(
                            modules[name].register_forward_hook(lambda _m, _in, out, i=index: self._tap(i, out))
                        )
                    self.net(x)
                elif self._modes.traced is not None:
                    self._modes.traced(x)
                else:
                    for index, value in enumerate(self.net.forward_features(x)):
                        self._tap(index, value)
        finally:
            for handle in handles:
                handle.remove()
            self._callback = None
        for name, calls in zip(self.layers, self._calls):
            if calls != 1:
                raise LayerError(
                    f"runs[].layers: module {name!r} ran {calls} times in one forward pass; name one of its calls by "
                    f"its graph node name instead ({name}, {name}_1, ...: `dnn-topology layers` lists them)"
                )

    def shapes(self, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
        """Per-sample output shape of each recorded layer, from one pass (evaluation mode) on the batch ``x``."""
        shapes: dict[str, tuple[int, ...]] = {}

        def keep(index: int, value: torch.Tensor) -> None:
            shapes[self.layers[index]] = tuple(value.shape[1:])

        was_training = self.net.training
        self.net.eval()
        try:
            self.run(x, keep)
        finally:
            self.net.train(was_training)
        return shapes

    def record(self, x: torch.Tensor, selection: NodeSelection, out: np.ndarray) -> None:
        """Write the selected nodes of every recorded layer for the batch ``x`` into ``out`` (len(x), n_nodes)."""
        if selection.layer_names != self.layers:
            raise ValueError(
                f"node selection planned for layers {selection.layer_names}, network records {self.layers}"
            )

        def select(index: int, value: torch.Tensor) -> None:
            flat = value.detach().reshape(value.shape[0], -1)
            take = selection.gather_indices(index)
            if take is not None:
                flat = flat[:, torch.as_tensor(take, device=flat.device)]
            selection.apply_layer(index, flat.float().cpu().numpy(), out, gathered=take is not None)

        self.run(x, select)


def candidate_layers(net: torch.nn.Module, x: torch.Tensor) -> list[dict]:
    """The layers of ``net`` that ``runs[].layers`` may name, with their per-sample output shape and node count.

    One pass (evaluation mode) on the example batch ``x`` with a forward hook on every module, then, when the
    network can be traced, every node of torchvision's feature-extraction graph. Rows: ``name``, ``kind``
    (``module``, ``node``, or ``module+node``), ``shape`` (tuple; None when the output is not a tensor),
    ``nodes`` and ``calls`` (for modules: how many times the module ran; a module that runs more than once
    cannot be named, its graph nodes can).

    Returns
    -------
    list of dict
        In the graph's order (a module that is no graph node, such as a block, after the last node inside it); when
        the network cannot be traced, its modules in the order they finished, then ``{"error": ...}``.
    """
    rows: dict[str, dict] = {}
    handles = []

    def hook(name: str):
        def record(_module, _inputs, output) -> None:
            row = rows.setdefault(name, {"name": name, "kind": "module", "shape": None, "nodes": None, "calls": 0})
            row["calls"] += 1
            if isinstance(output, torch.Tensor) and row["shape"] is None:
                row["shape"] = tuple(output.shape[1:])
                row["nodes"] = int(np.prod(row["shape"]))

        return record

    was_training = net.training
    net.eval()
    try:
        for name, module in net.named_modules():
            if name:
                handles.append(module.register_forward_hook(hook(name)))
        with torch.no_grad():
            net(x)
    finally:
        for handle in handles:
            handle.remove()
        net.train(was_training)
    result = list(rows.values())
    try:
        from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

        net.eval()
        _, names = get_graph_node_names(net)
        inputs = set(inspect.signature(net.forward).parameters)
        names = [n for n in names if n not in inputs]
        with torch.no_grad():
            outputs = create_feature_extractor(net, return_nodes=names)(x)
    except Exception as err:  # torch.fx cannot trace every network
        result.append({"error": f"not traceable by torchvision's feature extraction ({type(err).__name__}: {err})"})
        return result
    finally:
        net.train(was_training)
    ordered: list[dict] = []  # graph order; a module that is no graph node after the last node inside it
    for name in names:
        value = outputs.get(name)
        if name in rows:
            rows[name]["kind"] = "module+node"
            ordered.append(rows[name])
        elif isinstance(value, torch.Tensor):  # other outputs (sizes, tuples) cannot be recorded
            shape = tuple(value.shape[1:])
            ordered.append({"name": name, "kind": "node", "shape": shape, "nodes": int(np.prod(shape))})
    for row in rows.values():
        if row["kind"] == "module":
            inside = [i for i, r in enumerate(ordered) if r["name"].startswith(row["name"] + ".")]
            ordered.insert(inside[-1] + 1 if inside else len(ordered), row)
    return ordered
