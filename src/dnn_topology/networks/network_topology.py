"""The topology of a network's activations in one call, for notebooks: :func:`network_topology`.

The same code as the workflow's rules, in memory: the activations of the selected nodes recorded layer by layer
(:func:`dnn_topology.networks.activations.node_activations`, rule ``activations``), the functional graph cut at
``max_epsilon`` (:func:`dnn_topology.topology.graph.distance_matrix` and
:func:`~dnn_topology.topology.dipha_files.full_to_sparse`, rule ``functional_graph``), its Vietoris-Rips persistence
(:func:`dnn_topology.topology.persistence.compute_persistence`, rule ``persistence``) and the Betti curves and
summaries (:func:`dnn_topology.topology.betti.betti_tables`, rule ``betti_curves``). Given the same network,
samples and options, the diagram is the one the workflow writes, byte for byte.

Units: distances 1 - |corr|; the diagram, the cut and the curves' ``epsilon`` in DIPHA's units (distance / 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, TensorDataset

from ..topology.betti import betti_tables
from ..topology.dipha_files import Diagram, SparseDistanceMatrix, full_to_sparse
from ..topology.graph import distance_matrix
from ..topology.persistence import DEFAULT_ENGINE, compute_persistence
from .activations import node_activations
from .checkpoints import resolve_device
from .nodes import plan_selection
from .recording import LayerRecorder, set_recorded_layers


@dataclass(frozen=True)
class NetworkTopology:
    """What :func:`network_topology` computed.

    Attributes
    ----------
    diagram : Diagram
        The persistence diagram (DIPHA's conventions; write it with
        :func:`dnn_topology.topology.dipha_files.write_persistence_diagram`).
    curves, summary : pandas.DataFrame
        Betti curves (``dim``, ``epsilon``, ``density``, ``betti``) and their summaries per dimension.
    activations : numpy.ndarray
        (n_samples, n_nodes) float32 activations of the selected nodes.
    nodes : pandas.DataFrame
        One row per node (layer, index within the layer, ...), see :mod:`dnn_topology.networks.nodes`.
    graph : SparseDistanceMatrix
        The functional graph: distances 1 - |corr| <= 2 * max_epsilon.
    """

    diagram: Diagram
    curves: pd.DataFrame
    summary: pd.DataFrame
    activations: np.ndarray
    nodes: pd.DataFrame
    graph: SparseDistanceMatrix


def _as_dataset(samples: Any) -> Dataset:
    """``samples`` as a Dataset of ``(input, label)`` pairs: a tensor or array of inputs, or a Dataset of pairs."""
    if isinstance(samples, np.ndarray):
        samples = torch.from_numpy(samples)
    if isinstance(samples, torch.Tensor):
        return TensorDataset(samples, torch.zeros(len(samples), dtype=torch.long))
    if hasattr(samples, "__getitem__") and hasattr(samples, "__len__"):
        return samples
    raise TypeError(f"samples must be a tensor, an array or a Dataset of (input, label) pairs, not {type(samples)}")


def network_topology(
    model: torch.nn.Module,
    samples: Any,
    layers: Sequence[str] | None = None,
    max_dim: int = 3,
    max_epsilon: float = 0.3,
    node_selection: Mapping[str, Any] | None = None,
    n_points: int = 301,
    engine: str = DEFAULT_ENGINE,
    device: str = "auto",
    threads: int = 1,
    batch_size: int = 250,
) -> NetworkTopology:
    """The persistence diagram and Betti curves of ``model``'s functional graph on ``samples``.

    Parameters
    ----------
    model : torch.nn.Module
        Any network, with its weights (it is run in evaluation mode, without gradients).
    samples : torch.Tensor, numpy.ndarray or Dataset
        The inputs (n_samples, ...) as the network takes them (normalised), or a Dataset of ``(input, label)``.
    layers : sequence of str, optional
        Module names or torchvision feature-extraction node names whose outputs become nodes (see
        :mod:`dnn_topology.networks.recording`; ``dnn-topology layers`` lists them). None: a built-in network's
        feature layers.
    max_dim : int
        Highest homology dimension (H0..H``max_dim``).
    max_epsilon : float
        The cut of the filtration, in DIPHA's units (distance / 2).
    node_selection : mapping, optional
        As config key ``activations.node_selection`` (default: every node), e.g.
        ``{"method": "random", "n_nodes": 2000, "seed": 0}``.
    n_points : int
        Points of the epsilon grid of the Betti curves.
    engine : str
        Persistence engine (``giotto``, ``ripser``, ``dipha``).
    device : str
        ``auto`` (CUDA when present), ``cpu`` or ``cuda[:i]``: where the network and the correlation run.
    threads : int
        Threads of the persistence engine.
    batch_size : int
        Samples per forward pass.

    Returns
    -------
    NetworkTopology
        The diagram, the Betti curves and summaries, the activations, the node table and the graph.

    Examples
    --------
    >>> import torch
    >>> import dnn_topology as dt
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> result = dt.network_topology(net, torch.randn(50, 4), layers=["1", "2"], max_dim=1, n_points=11)
    >>> result.activations.shape
    (50, 11)
    >>> sorted(result.curves["dim"].unique().tolist())
    [0, 1]
    """
    dev = resolve_device(device)
    net = set_recorded_layers(model.to(dev).eval(), layers)
    dataset = _as_dataset(samples)
    x0 = torch.as_tensor(dataset[0][0]).unsqueeze(0).to(dev)
    shapes = LayerRecorder(net).shapes(x0)
    selection = plan_selection(list(shapes.values()), list(shapes), **dict(node_selection or {}))
    acts = node_activations(net, dataset, selection, dev, batch_size)
    graph = full_to_sparse(distance_matrix(acts, device=device), max_epsilon)
    diagram = compute_persistence(graph, max_dim + 1, engine=engine, n_threads=threads)
    curves, summary = betti_tables(diagram, graph, max_dim, max_epsilon, n_points)
    return NetworkTopology(diagram, curves, summary, acts, selection.table, graph)
