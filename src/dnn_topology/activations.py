"""Activations stage: pass a fixed sample set through one epoch's checkpoint and record the
activations of the nodes that feed the functional graph."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from . import datasets as dsets
from .io_utils import atomic_path, get_logger
from .training import load_checkpoint, resolve_device


def fixed_samples(dataset: str, n_samples: int, split: str = "test", data_dir: str | Path = "data",
                  download: bool = False) -> Dataset:
    """The first ``n_samples`` samples of ``split``: the same set at every epoch and every run."""
    ds = dsets.load_split(dataset, split, data_dir, download)
    if n_samples > len(ds):
        raise ValueError(
            f"activations.n_samples = {n_samples} but the {split} split of {dataset!r} has only {len(ds)} samples")
    return Subset(ds, range(n_samples))


def layer_activations(net: torch.nn.Module, samples: Dataset, device: torch.device,
                      batch_size: int = 250) -> list[np.ndarray]:
    """Activations of every feature layer of ``net`` (eval mode), one array per layer,
    shape ``(n_samples, *layer_shape)``, float32."""
    net.eval()
    chunks: list[list[np.ndarray]] = []
    with torch.no_grad():
        for x, _ in DataLoader(samples, batch_size=batch_size, shuffle=False):
            feats = net.forward_features(x.to(device))
            if not chunks:
                chunks = [[] for _ in feats]
            for k, f in enumerate(feats):
                chunks[k].append(f.detach().float().cpu().numpy())
    return [np.concatenate(c, axis=0) for c in chunks]


def compute_activations(checkpoint: str | Path, network: str, dataset: str, n_samples: int,
                        node_selection: dict | None = None, split: str = "test",
                        data_dir: str | Path = "data", download: bool = False, device: str = "auto",
                        threads: int = 1) -> tuple[np.ndarray, pd.DataFrame]:
    """Node activations (n_samples, N) of ``checkpoint`` and the table describing each node."""
    from .node_selection import select_nodes

    torch.set_num_threads(max(1, int(threads)))
    dev = resolve_device(device)
    spec = dsets.get_spec(dataset)
    net, _ = load_checkpoint(checkpoint, network, spec, dev)
    samples = fixed_samples(dataset, n_samples, split, data_dir, download)
    feats = layer_activations(net, samples, dev)
    opts = dict(node_selection or {})
    acts, nodes = select_nodes(feats, list(net.feature_layers), **opts)
    get_logger().info("%s: %d samples x %d nodes (%s)", checkpoint, acts.shape[0], acts.shape[1],
                      ", ".join(f"{k}: {v}" for k, v in nodes.groupby("layer", sort=False).size().items()))
    return acts, nodes


def save_activations(acts: np.ndarray, nodes: pd.DataFrame, npy_path: str | Path, nodes_csv: str | Path) -> None:
    with atomic_path(npy_path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(acts, dtype=np.float32))
    with atomic_path(nodes_csv) as tmp:
        nodes.to_csv(tmp, index=False)


def load_activations(path: str | Path) -> np.ndarray:
    """Read an activations .npy, checking it is a finite 2-D float matrix."""
    path = Path(path)
    try:
        acts = np.load(path, allow_pickle=False)
    except Exception as err:
        raise ValueError(f"cannot read activations file {path}: {err}") from err
    if acts.ndim != 2:
        raise ValueError(f"activations file {path} must hold a 2-D (samples x nodes) array, got shape {acts.shape}")
    if not np.isfinite(acts).all():
        raise ValueError(f"activations file {path} contains NaN or infinite values")
    return acts
