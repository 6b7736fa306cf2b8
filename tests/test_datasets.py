"""Datasets load from small files in each real format through torchvision's loaders;
memorization controls are deterministic and recorded."""
from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision

from dnn_topology import datasets as ds
from dnn_topology.datasets import (
    CIFAR_MEAN,
    CIFAR_STD,
    DatasetSpec,
    DatasetUnavailableError,
    RelabelledDataset,
    apply_memorization_controls,
    binarize_labels,
    check_available,
    dataset_labels,
    effective_spec,
    expected_files,
    get_spec,
    label_controls,
    load_split,
    register_imagefolder,
    subset_indices,
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


@pytest.fixture
def registry(monkeypatch):
    """Undo register_imagefolder after each test."""
    monkeypatch.setattr(ds, "SPECS", dict(ds.SPECS))
    monkeypatch.setattr(ds, "_IMAGEFOLDERS", dict(ds._IMAGEFOLDERS))


# ------------------------------------------------------------------------------------------
# loading


@pytest.mark.parametrize("name, folder, mean, std", [
    ("mnist", "MNIST", ds.MNIST_MEAN, ds.MNIST_STD),
    ("fashion_mnist", "FashionMNIST", ds.FASHION_MNIST_MEAN, ds.FASHION_MNIST_STD),
])
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
    expected = (x[1].reshape(3, 32, 32) / 255.0 - np.array(CIFAR_MEAN)[:, None, None]) / np.array(CIFAR_STD)[:, None, None]
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
    expected = (x[:, :, :, 2].transpose(2, 0, 1) / 255.0 - np.array(CIFAR_MEAN)[:, None, None]) / np.array(CIFAR_STD)[:, None, None]
    np.testing.assert_allclose(img.numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("channels", [3, 1])
def test_imagefolder_loads_pngs(tmp_path, registry, channels):
    write_imagefolder(tmp_path / "imgs", splits=("train", "val"))
    spec = register_imagefolder(tmp_path / "imgs", input_size=16, in_channels=channels)
    assert spec == DatasetSpec("imagefolder", channels, 16, 3) == get_spec("imagefolder")
    check_available("imagefolder")
    train, test = load_split("imagefolder", "train"), load_split("imagefolder", "test")  # test falls back to val/
    assert len(train) == len(test) == 6
    img, label = train[5]
    assert img.shape == (channels, 16, 16) and label == 2
    np.testing.assert_array_equal(dataset_labels(train), [0, 0, 1, 1, 2, 2])


def test_imagefolder_must_be_registered_and_exist(tmp_path, registry):
    with pytest.raises(ValueError, match="register_imagefolder"):
        get_spec("imagefolder")
    with pytest.raises(DatasetUnavailableError, match="train"):
        register_imagefolder(tmp_path / "nowhere", input_size=32)
    write_imagefolder(tmp_path / "imgs", splits=("train",))
    register_imagefolder(tmp_path / "imgs", input_size=32, name="mine")
    with pytest.raises(DatasetUnavailableError, match=r"imgs/test/<class>"):
        check_available("mine")
    with pytest.raises(DatasetUnavailableError):
        load_split("mine", "test")
    with pytest.raises(ValueError, match="built-in"):
        register_imagefolder(tmp_path / "imgs", input_size=32, name="cifar10")
    with pytest.raises(ValueError, match="in_channels"):
        register_imagefolder(tmp_path / "imgs", input_size=32, in_channels=2)


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


# ------------------------------------------------------------------------------------------
# memorization controls


def test_subset_indices_are_deterministic_sorted_and_sized():
    a = subset_indices(1000, 0.3, seed=4)
    assert len(a) == 300 and np.all(np.diff(a) > 0) and a.min() >= 0 and a.max() < 1000
    np.testing.assert_array_equal(a, subset_indices(1000, 0.3, seed=4))
    assert not np.array_equal(a, subset_indices(1000, 0.3, seed=5))
    np.testing.assert_array_equal(subset_indices(10, 1.0), np.arange(10))
    for bad in (0, 1.5, -0.1, "half"):
        with pytest.raises(ValueError, match="subset_fraction"):
            subset_indices(10, bad)


@pytest.mark.parametrize("fraction", [0.1, 0.29, 0.5, 1.0])
def test_permutation_shuffles_exactly_the_fraction_among_itself(fraction):
    labels = RNG.integers(0, 10, size=1000)
    original = labels.copy()
    ctl = apply_memorization_controls(labels, permute_fraction=fraction, seed=3)
    np.testing.assert_array_equal(labels, original)  # input untouched
    rec = ctl.record
    assert list(rec.columns) == ["index", "original_label", "new_label", "permuted"]
    assert rec["permuted"].sum() == round(fraction * 1000)
    kept = rec[~rec["permuted"]]
    assert (kept["new_label"] == kept["original_label"]).all()
    moved = rec[rec["permuted"]]
    assert sorted(moved["new_label"]) == sorted(moved["original_label"])  # shuffled among themselves
    assert (moved["new_label"] != moved["original_label"]).mean() > 0.5  # and really moved
    np.testing.assert_array_equal(ctl.labels, label_controls(labels, permute_fraction=fraction, seed=3))
    again = apply_memorization_controls(labels, permute_fraction=fraction, seed=3)
    pd.testing.assert_frame_equal(rec, again.record)
    other = apply_memorization_controls(labels, permute_fraction=fraction, seed=4)
    assert not np.array_equal(ctl.labels, other.labels)


def test_no_control_is_the_identity():
    labels = RNG.integers(0, 10, size=50)
    ctl = apply_memorization_controls(labels)
    np.testing.assert_array_equal(ctl.indices, np.arange(50))
    np.testing.assert_array_equal(ctl.labels, labels)
    assert not ctl.record["permuted"].any()
    with pytest.raises(ValueError, match="permute_fraction"):
        label_controls(labels, permute_fraction=2)


def test_subset_then_permute_and_binarize_record():
    labels = RNG.integers(0, 10, size=400)
    ctl = apply_memorization_controls(labels, subset_fraction=0.5, permute_fraction=0.4, binarize_class=3, seed=7)
    np.testing.assert_array_equal(ctl.indices, subset_indices(400, 0.5, seed=7))
    rec = ctl.record
    assert len(rec) == 200 and rec["permuted"].sum() == 80
    np.testing.assert_array_equal(rec["index"], ctl.indices)
    np.testing.assert_array_equal(rec["original_label"], labels[ctl.indices])
    np.testing.assert_array_equal(rec["new_label"], ctl.labels)
    assert set(ctl.labels) <= {0, 1}
    # binarizing commutes with the permutation
    permuted_only = apply_memorization_controls(labels, subset_fraction=0.5, permute_fraction=0.4, seed=7)
    np.testing.assert_array_equal(ctl.labels, binarize_labels(permuted_only.labels, 3))


def test_binarize_one_vs_rest_and_effective_spec():
    labels = np.array([0, 3, 3, 9, 1])
    np.testing.assert_array_equal(label_controls(labels, binarize_class=3), [0, 1, 1, 0, 0])
    spec = get_spec("cifar10")
    assert effective_spec(spec, 3) == DatasetSpec("cifar10", 3, 32, 2)
    assert effective_spec(spec, None) is spec
    for bad in (10, -1, 1.5, True):
        with pytest.raises(ValueError, match="binarize_class"):
            effective_spec(spec, bad)
    with pytest.raises(ValueError, match="binarize_class"):
        label_controls(labels, binarize_class=5)  # absent class: every label would be 0


def test_relabelled_dataset_serves_new_labels_at_indices():
    base = torch.utils.data.TensorDataset(torch.arange(10.0).reshape(10, 1), torch.zeros(10, dtype=torch.long))
    d = RelabelledDataset(base, np.array([5, 6, 7]), indices=np.array([2, 4, 9]))
    assert len(d) == 3
    x, y = d[1]
    assert float(x[0]) == 4.0 and y == 6 and isinstance(y, int)
    np.testing.assert_array_equal(dataset_labels(d), [5, 6, 7])
    assert len(RelabelledDataset(base, np.ones(10, dtype=int))) == 10
    with pytest.raises(ValueError, match="labels"):
        RelabelledDataset(base, np.array([1, 2]), indices=np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="out of range"):
        RelabelledDataset(base, np.array([1]), indices=np.array([10]))
