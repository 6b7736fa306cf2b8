"""Activations stage: pass a fixed sample set through one epoch's checkpoint and record the
activations of the nodes that feed the functional graph."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from . import datasets as dsets
from .checkpoints import load_checkpoint, resolve_device
from .io_utils import atomic_path, get_logger
from .models import feature_shapes
from .node_selection import NodeSelection, plan_selection


def fixed_samples(dataset: str, n_samples: int, split: str = "test", data_dir: str | Path = "data",
                  download: bool = False) -> Dataset:
    """The first ``n_samples`` samples of ``split``: the same set at every epoch and every run."""
    ds = dsets.load_split(dataset, split, data_dir, download)
    if n_samples > len(ds):
        raise ValueError(
            f"activations.n_samples = {n_samples} but the {split} split of {dataset!r} has only {len(ds)} samples")
    return Subset(ds, range(n_samples))


def node_activations(net: torch.nn.Module, samples: Dataset, selection: NodeSelection, device: torch.device,
                     batch_size: int = 250) -> np.ndarray:
    """Activations (n_samples, N) of the selected nodes of ``net`` in eval mode, float32.

    The selection is applied batch by batch, so whole layers are never held for all samples.
    """
    net.eval()
    out = []
    with torch.no_grad():
        for x, _ in DataLoader(samples, batch_size=batch_size, shuffle=False):
            feats = [f.detach().float().cpu().numpy() for f in net.forward_features(x.to(device))]
            out.append(selection.apply(feats))
    return np.concatenate(out, axis=0)


def compute_activations(checkpoint: str | Path, network: str, dataset: str, n_samples: int,
                        node_selection: dict | None = None, split: str = "test",
                        data_dir: str | Path = "data", download: bool = False, device: str = "auto",
                        threads: int = 1, binarize_class: int | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Node activations (n_samples, N) of ``checkpoint`` and the table describing each node."""
    torch.set_num_threads(max(1, int(threads)))
    dev = resolve_device(device)
    spec = dsets.effective_spec(dsets.get_spec(dataset), binarize_class)
    net, _ = load_checkpoint(checkpoint, network, spec, dev)
    shapes = feature_shapes(net, spec)
    selection = plan_selection(list(shapes.values()), list(shapes), **dict(node_selection or {}))
    acts = node_activations(net, fixed_samples(dataset, n_samples, split, data_dir, download), selection, dev)
    nodes = selection.table
    get_logger().info("%s: %d samples x %d nodes (%s)", checkpoint, acts.shape[0], acts.shape[1],
                      ", ".join(f"{k}: {v}" for k, v in nodes.groupby("layer", sort=False).size().items()))
    return acts, nodes


def save_activations(acts: np.ndarray, nodes: pd.DataFrame, npy_path: str | Path, nodes_csv: str | Path) -> None:
    with atomic_path(npy_path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(acts, dtype=np.float32))
    with atomic_path(nodes_csv) as tmp:
        nodes.to_csv(tmp, index=False)
