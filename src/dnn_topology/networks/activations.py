"""Activations stage: pass a fixed sample set through one epoch's checkpoint and record the
activations of the nodes that feed the functional graph.

The samples (config ``activations.split``, ``activations.n_samples``):

* ``test`` (default, the CVPR 2019 reproduction): the first ``n_samples`` of the test split;
* ``train`` (the CVPR 2020 generalization study, where no test sample may be touched):
  ``n_samples`` drawn uniformly without replacement from the training samples the network was
  actually trained on (``training.subset`` applied with the trial's training seed, less the
  validation split of ``training.validation``: never a validation sample), with a generator seeded
  by that training seed. Label permutation does not matter: activations do not read labels.

Either way the set is the same at every epoch of a trial, and it is recorded in ``samples.csv``
(``split``, ``index`` into that split, ``label``: the dataset's own label).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from ..io_utils import atomic_path, get_logger
from . import datasets as dsets
from .checkpoints import load_checkpoint, torch_setup
from .labels import training_pool
from .nodes import NodeSelection, plan_selection
from .recording import LayerRecorder, set_recorded_layers
from .refs import NetworkRef
from .samples import SampleSet

_TRAIN_SAMPLES_STREAM = 3  # generator stream of the train-split draw (labels.py uses 1, 2 and 4)


def sample_indices(
    split_size: int,
    n_samples: int,
    split: str = "test",
    subset: float = 1.0,
    training_seed: int = 0,
    validation: float = 0.0,
) -> np.ndarray:
    """Indices into ``split`` of the fixed samples (see the module docstring), sorted.

    Parameters
    ----------
    split_size : int
        Number of samples in the split.
    n_samples : int
        Samples wanted.
    split : {"test", "train"}
    subset, training_seed, validation : float, int, float
        ``training.subset``, the trial's training seed and ``training.validation``: which training
        samples the network trained on (used for ``split == "train"`` only).
    """
    if split == "test":
        pool = np.arange(split_size, dtype=np.int64)
        if n_samples > len(pool):
            raise ValueError(f"activations.n_samples = {n_samples} but the test split has only {split_size} samples")
        return pool[:n_samples]
    if split != "train":
        raise ValueError(f"activations.split must be 'train' or 'test', not {split!r}")
    pool, _ = training_pool(split_size, subset, validation, training_seed)
    if n_samples > len(pool):
        raise ValueError(
            f"activations.n_samples = {n_samples} but the network was trained on {len(pool)} samples "
            f"(training.subset = {subset} of {split_size}, less training.validation = {validation} of them)"
        )
    rng = np.random.default_rng([_TRAIN_SAMPLES_STREAM, int(training_seed)])
    return np.sort(rng.choice(pool, size=n_samples, replace=False)).astype(np.int64)


def fixed_samples(sample_set: SampleSet) -> tuple[Dataset, pd.DataFrame]:
    """The fixed samples of the module docstring, and their record (``split``, ``index``, ``label``)."""
    ds = dsets.load_split(
        sample_set.dataset, sample_set.split, sample_set.data_dir, sample_set.download, registry=sample_set.registry
    )
    try:
        indices = sample_indices(
            len(ds), sample_set.n_samples, sample_set.split, sample_set.subset, sample_set.seed, sample_set.validation
        )
    except ValueError as err:
        raise ValueError(f"dataset {sample_set.dataset!r}: {err}") from None
    labels = dsets.dataset_labels(ds)[indices]
    return Subset(ds, indices.tolist()), pd.DataFrame({"split": sample_set.split, "index": indices, "label": labels})


def example_batch(sample_set: SampleSet, device: torch.device | str = "cpu") -> torch.Tensor:
    """One input of the sample set's shape (zeros when the dataset declares its shape, else its first sample)."""
    spec = sample_set.network_spec
    if spec.in_channels and spec.input_size:
        return torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size, device=device)
    x, _ = fixed_samples(sample_set)[0][0]
    return torch.as_tensor(x).unsqueeze(0).to(device)


def load_network(
    checkpoint: str | Path,
    network: NetworkRef | dict | str,
    sample_set: SampleSet,
    node_selection: dict | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.nn.Module, NodeSelection]:
    """The checkpoint's network (built for ``sample_set``'s classes, recording the layers of ``network``) and the
    nodes ``node_selection`` selects (planned from one pass on an example input)."""
    ref = NetworkRef.of(network)
    net, _ = load_checkpoint(checkpoint, ref, sample_set.network_spec, device)
    set_recorded_layers(net, ref.layers)
    shapes = LayerRecorder(net).shapes(example_batch(sample_set, device))
    return net, plan_selection(list(shapes.values()), list(shapes), **dict(node_selection or {}))


def node_activations(
    net: torch.nn.Module, samples: Dataset, selection: NodeSelection, device: torch.device, batch_size: int = 250
) -> np.ndarray:
    """Activations (n_samples, N) of the selected nodes of ``net`` in eval mode, float32.

    Each layer's selected nodes are taken as soon as the layer is computed (see
    :mod:`dnn_topology.networks.recording`): besides the network's own forward pass on one batch, memory holds
    the (n_samples, N) result only.
    """
    net.eval()
    recorder = LayerRecorder(net)
    out = np.empty((len(samples), selection.n_nodes), dtype=np.float32)
    start = 0
    for x, _ in DataLoader(samples, batch_size=batch_size, shuffle=False):
        recorder.record(x.to(device), selection, out[start : start + len(x)])
        start += len(x)
    return out


def compute_activations(
    checkpoint: str | Path,
    network: NetworkRef | dict | str,
    sample_set: SampleSet,
    node_selection: dict | None = None,
    device: str = "auto",
    threads: int = 1,
    batch_size: int = 250,
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Node activations (n_samples, N) of ``checkpoint`` on ``sample_set``, the table describing each node, and
    the record of the samples (see :func:`fixed_samples`).

    Parameters
    ----------
    checkpoint : str or Path
        The checkpoint of one epoch (see :mod:`dnn_topology.networks.checkpoints`).
    network : NetworkRef, dict or str
        Config keys ``runs[].network``, ``runs[].network_kwargs`` and ``runs[].layers``
        (:class:`~dnn_topology.networks.refs.NetworkRef` or its params; a bare built-in name).
    sample_set : SampleSet
        The samples shown to the network (see the module docstring).
    node_selection : dict, optional
        Config key ``activations.node_selection`` (see :mod:`dnn_topology.networks.nodes`).
    device, threads
        Config key ``device``; torch threads.
    batch_size : int
        Config key ``activations.batch_size``: samples per forward pass.
    """
    dev = torch_setup(device, threads)
    net, selection = load_network(checkpoint, network, sample_set, node_selection, dev)
    samples, record = fixed_samples(sample_set)
    acts = node_activations(net, samples, selection, dev, batch_size)
    if not np.isfinite(acts).all():
        bad = np.unique(np.nonzero(~np.isfinite(acts))[1])
        raise ValueError(
            f"checkpoint {checkpoint} gives NaN or infinite activations at {len(bad)} of {acts.shape[1]} "
            "nodes: its weights are not usable (did the training diverge? try a lower training.lr)"
        )
    nodes = selection.table
    get_logger().info(
        "%s: %d samples x %d nodes (%s)",
        checkpoint,
        acts.shape[0],
        acts.shape[1],
        ", ".join(f"{k}: {v}" for k, v in nodes.groupby("layer", sort=False).size().items()),
    )
    return acts, nodes, record


def save_activations(
    acts: np.ndarray,
    nodes: pd.DataFrame,
    npy_path: str | Path,
    nodes_csv: str | Path,
    samples: pd.DataFrame | None = None,
    samples_csv: str | Path | None = None,
) -> None:
    with atomic_path(npy_path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(acts, dtype=np.float32))
    with atomic_path(nodes_csv) as tmp:
        nodes.to_csv(tmp, index=False)
    if samples_csv is not None:
        with atomic_path(samples_csv) as tmp:
            samples.to_csv(tmp, index=False)


def activations_stage(*, activations: str | Path, nodes: str | Path, samples: str | Path, **options) -> None:
    """Stage ``activations``: the activations of one checkpoint's selected nodes on the fixed samples.

    Parameters
    ----------
    activations, nodes, samples : str or Path
        Files to write (atomically): the (n_samples, N) float32 ``.npy``, the node table and the
        sample record (CSV).
    **options
        The arguments of :func:`compute_activations`, by keyword: ``checkpoint`` (the checkpoint of one epoch),
        ``network`` (config keys ``runs[].network``, ``network_kwargs`` and ``layers``), ``sample_set`` (the fixed samples of the run's trial,
        :func:`dnn_topology.networks.samples.run_sample_set`), ``node_selection`` (config key
        ``activations.node_selection``), ``device`` (config key ``device``), ``threads`` (torch threads) and
        ``batch_size`` (config key ``activations.batch_size``).
    """
    acts, node_table, record = compute_activations(**options)
    save_activations(acts, node_table, activations, nodes, record, samples)
