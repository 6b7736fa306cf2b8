"""Datasets load from small files in each real format through torchvision's loaders."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from dnn_topology.networks import datasets as ds
from dnn_topology.networks.datasets import (
    CIFAR_MEAN,
    CIFAR_STD,
    DatasetSpec,
    DatasetUnavailableError,
    check_available,
    dataset_labels,
    dataset_registry,
    expected_files,
    get_spec,
    load_split,
)

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------------------------------
# writers of the real formats


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> None:
    """An IDX (ubyte) file, as MNIST's: magic 0x000008<ndim>, big-endian dims, then the bytes."""
    payload = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)


def write_mnist(root: Path, folder: str, n_train: int = 6, n_test: int = 4, gz: bool = False) -> dict:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = RNG.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = RNG.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", x, gz)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", y, gz)
        data[prefix] = (x, y)
    return data


def write_cifar10(root: Path, n_per_batch: int = 2) -> dict:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    data = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = RNG.integers(0, 256, size=(n_per_batch, 3 * 32 * 32), dtype=np.uint8)
        y = [int(v) for v in RNG.integers(0, 10, size=n_per_batch)]
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "data": x, "labels": y}, f)
        data[name] = (x, y)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072}, f)
    return data


def write_svhn(root: Path, n: int = 3) -> dict:
    from scipy.io import savemat

    root.mkdir(parents=True, exist_ok=True)
    data = {}
    for split in ("train", "test"):
        x = RNG.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        y = np.array([[10], [1], [7]][:n], dtype=np.uint8)  # SVHN writes digit 0 as 10
        savemat(root / f"{split}_32x32.mat", {"X": x, "y": y})
        data[split] = (x, y)
    return data


def write_imagefolder(root: Path, splits=("train", "test"), classes=("ant", "bee", "cat"), per_class: int = 2) -> None:
    from PIL import Image

    for split in splits:
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                pixels = RNG.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / c / f"{i}.png")


@pytest.fixture
def no_checksums(monkeypatch):
    """Our small files cannot match the real CIFAR-10/SVHN md5 sums: let torchvision skip them."""
    cifar = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cifar, "train_list", [[f, None] for f, _ in cifar.train_list])
    monkeypatch.setattr(cifar, "test_list", [[f, None] for f, _ in cifar.test_list])
    monkeypatch.setattr(cifar, "meta", {**cifar.meta, "md5": None})
    svhn = torchvision.datasets.SVHN
    monkeypatch.setattr(svhn, "split_list", {k: [url, f, None] for k, (url, f, _) in svhn.split_list.items()})


# ------------------------------------------------------------------------------------------
# loading


@pytest.mark.parametrize(
    "name, folder, mean, std",
    [
        ("mnist", "MNIST", ds.MNIST_MEAN, ds.MNIST_STD),
        ("fashion_mnist", "FashionMNIST", ds.FASHION_MNIST_MEAN, ds.FASHION_MNIST_STD),
    ],
)
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_mnist_family_loads_idx_files(tmp_path, name, folder, mean, std, gz):
    data = write_mnist(tmp_path, folder, gz=gz)
    check_available(name, tmp_path)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x, y = data[prefix]
        d = load_split(name, split, tmp_path)
        assert len(d) == len(y)
        img, label = d[1]
        assert img.shape == (1, 28, 28) and img.dtype == torch.float32
        assert label == y[1]
        np.testing.assert_allclose(img[0].numpy(), (x[1] / 255.0 - mean) / std, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(dataset_labels(d), y)


def test_cifar10_loads_pickle_batches(tmp_path, no_checksums):
    data = write_cifar10(tmp_path)
    check_available("cifar10", tmp_path)
    train, test = load_split("cifar10", "train", tmp_path), load_split("cifar10", "test", tmp_path)
    assert len(train) == 10 and len(test) == 2
    img, label = test[1]
    x, y = data["test_batch"]
    assert img.shape == (3, 32, 32) and label == y[1]
    expected = (x[1].reshape(3, 32, 32) / 255.0 - np.array(CIFAR_MEAN)[:, None, None]) / np.array(CIFAR_STD)[
        :, None, None
    ]
    np.testing.assert_allclose(img.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(dataset_labels(train), sum((data[f"data_batch_{i}"][1] for i in range(1, 6)), []))
    assert load_split("cifar10", "train", tmp_path, augment=True)[0][0].shape == (3, 32, 32)


def test_cifar10_with_wrong_checksums_is_reported_as_corrupted(tmp_path):
    write_cifar10(tmp_path)
    check_available("cifar10", tmp_path)  # cheap: existence only
    with pytest.raises(DatasetUnavailableError, match="corrupted"):
        load_split("cifar10", "test", tmp_path)


def test_svhn_loads_mat_files(tmp_path, no_checksums):
    data = write_svhn(tmp_path)
    check_available("svhn", tmp_path)
    d = load_split("svhn", "test", tmp_path)
    assert len(d) == 3
    np.testing.assert_array_equal(dataset_labels(d), [0, 1, 7])  # 10 -> 0, as torchvision
    img, label = d[2]
    x = data["test"][0]
    assert img.shape == (3, 32, 32) and label == 7
    expected = (x[:, :, :, 2].transpose(2, 0, 1) / 255.0 - np.array(CIFAR_MEAN)[:, None, None]) / np.array(CIFAR_STD)[
        :, None, None
    ]
    np.testing.assert_allclose(img.numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("channels", [3, 1])
def test_imagefolder_loads_pngs(tmp_path, channels):
    write_imagefolder(tmp_path / "imgs", splits=("train", "val"))
    registry = dataset_registry({"imagefolder": {"root": tmp_path / "imgs", "input_size": 16, "in_channels": channels}})
    spec = registry.spec("imagefolder")
    assert spec == DatasetSpec("imagefolder", channels, 16, 3) == get_spec("imagefolder", registry)
    check_available("imagefolder", registry=registry)
    train = load_split("imagefolder", "train", registry=registry)
    test = load_split("imagefolder", "test", registry=registry)  # test falls back to val/
    assert len(train) == len(test) == 6
    img, label = train[5]
    assert img.shape == (channels, 16, 16) and label == 2
    np.testing.assert_array_equal(dataset_labels(train), [0, 0, 1, 1, 2, 2])


def test_imagefolder_must_be_registered_and_exist(tmp_path):
    with pytest.raises(ValueError, match="dataset_registry"):
        get_spec("imagefolder")
    with pytest.raises(DatasetUnavailableError, match="train"):
        dataset_registry({"imagefolder": {"root": tmp_path / "nowhere", "input_size": 32}})
    write_imagefolder(tmp_path / "imgs", splits=("train",))
    registry = dataset_registry({"mine": {"root": tmp_path / "imgs", "input_size": 32}})
    with pytest.raises(DatasetUnavailableError, match=r"imgs/test/<class>"):
        check_available("mine", registry=registry)
    with pytest.raises(DatasetUnavailableError):
        load_split("mine", "test", registry=registry)
    with pytest.raises(ValueError, match="built-in"):
        dataset_registry({"cifar10": {"root": tmp_path / "imgs", "input_size": 32}})
    with pytest.raises(ValueError, match="in_channels"):
        dataset_registry({"imagefolder": {"root": tmp_path / "imgs", "input_size": 32, "in_channels": 2}})


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "svhn"])
def test_missing_dataset_names_directory_and_files(tmp_path, name):
    files = expected_files(name, tmp_path)
    assert files and all(str(p).startswith(str(tmp_path)) for p in files)
    with pytest.raises(DatasetUnavailableError) as err:
        check_available(name, tmp_path)
    message = str(err.value)
    assert str(files[0].parent) in message
    assert all(p.name in message for p in files)
    assert "download" in message
    with pytest.raises(DatasetUnavailableError) as err:
        load_split(name, "test", tmp_path)
    assert all(p.name in str(err.value) for p in expected_files(name, tmp_path, "test"))
    check_available(name, tmp_path, download=True)  # would be fetched


def test_download_flag_is_passed_to_torchvision(tmp_path, monkeypatch):
    calls = []

    class FakeMNIST(torch.utils.data.Dataset):
        def __init__(self, root, train, download, transform):
            calls.append(download)

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    load_split("mnist", "train", tmp_path)
    load_split("mnist", "train", tmp_path, download=True)
    assert calls == [False, True]


def test_unknown_dataset_and_split():
    with pytest.raises(ValueError, match="'dataset'"):
        get_spec("imagenet")
    with pytest.raises(ValueError, match="split"):
        load_split("mnist", "validation")
    assert {"mnist5k", "mnist", "fashion_mnist", "cifar10", "svhn"} <= set(ds.SPECS)
    check_available("mnist5k", "/nonexistent")  # embedded: always there
