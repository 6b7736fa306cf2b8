"""The generic path against the built-in one, end to end with real Snakemake: LeNet built from
``dnn_topology.networks.models:LeNet`` (a ``<module>:<callable>``) with its layers named as torchvision's feature
extraction names them, on the built-in run's checkpoints, gives the same diagram bytes; and ``torchvision:resnet18``
trained by the workflow on a small ImageFolder of real PNG files runs end to end with node sampling."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from workflow_helpers import TINY_CONFIG, planned_jobs, snakemake, write_config

from dnn_topology.networks.datasets import mnist5k_arrays
from dnn_topology.networks.nodes import allocate

pytestmark = [pytest.mark.slow, pytest.mark.workflow]

GENERIC_LENET = {
    "name": "lenet_generic",
    "network": "dnn_topology.networks.models:LeNet",
    # relu(max_pool(conv1)), relu(max_pool(conv2)), relu(fc1), log_softmax(fc2): the built-in feature layers
    "layers": ["relu", "relu_1", "relu_2", "log_softmax"],
    "checkpoints": "results/lenet_mnist5k/trial_{trial}/checkpoints/epoch_{epoch}.pt",
    "dataset": "mnist5k",
}


def test_lenet_through_the_generic_path_gives_the_same_diagram_bytes(tmp_path):
    config = copy.deepcopy(TINY_CONFIG)
    config["runs"].append(GENERIC_LENET)
    cfg = write_config(tmp_path, config)
    snakemake(tmp_path, config=cfg)
    for epoch in config["topology"]["epochs"]:
        builtin = tmp_path / f"results/lenet_mnist5k/trial_0/epoch_{epoch}"
        generic = tmp_path / f"results/lenet_generic/trial_0/epoch_{epoch}"
        for name in ["activations.npy", "distance_sparse.bin", "diagram.bin", "betti_curves.csv"]:
            assert (builtin / name).read_bytes() == (generic / name).read_bytes(), (epoch, name)
    # its accuracy measured by rule evaluate is the training log's
    trained = pd.read_csv(tmp_path / "results/lenet_mnist5k/training.csv")
    evaluated = pd.read_csv(tmp_path / "results/lenet_generic/training.csv")
    merged = trained.merge(evaluated, on=["trial", "epoch"], suffixes=("", "_eval"))
    assert len(merged) == 3
    for col in ["train_acc", "test_acc"]:
        np.testing.assert_array_equal(merged[col], merged[f"{col}_eval"])
    for col in ["train_loss", "test_loss"]:  # log_softmax once more: LeNet's outputs taken for logits
        np.testing.assert_allclose(merged[col], merged[f"{col}_eval"], rtol=0, atol=1e-5)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """3 classes of real digit images as 16 x 16 RGB PNG files: 8 per class to train on, 4 per class to test."""
    root = tmp_path_factory.mktemp("images")
    x_train, y_train, _, _ = mnist5k_arrays()
    for cls in range(3):
        digits = x_train[y_train == cls][:12]
        for i, digit in enumerate(digits):
            split = "train" if i < 8 else "test"
            folder = root / split / f"digit{cls}"
            folder.mkdir(parents=True, exist_ok=True)
            pixels = (digit * 255).astype(np.uint8)
            Image.fromarray(pixels).convert("RGB").resize((16, 16)).save(folder / f"{i}.png")
    return root


def test_torchvision_resnet18_on_an_image_folder_end_to_end(tmp_path, image_folder):
    config = {
        "runs": [
            {
                "name": "resnet18_digits",
                "network": "torchvision:resnet18",
                # modules and a graph node (flatten): traced by torchvision's feature extraction
                "layers": ["layer1", "layer3", "flatten", "fc"],
                "dataset": "digits",
            }
        ],
        "imagefolders": {"digits": {"root": str(image_folder), "input_size": 16}},
        "trials": [0],
        "training": {"epochs": 1, "batch_size": 8, "lr": 0.01},
        "activations": {
            "n_samples": 12,
            "split": "test",
            "node_selection": {"method": "random", "n_nodes": 60, "allocation": "proportional", "seed": 0},
        },
        "topology": {"epochs": [0, 1], "max_dim": 1, "engine": "giotto", "threads": 1},
        "betti_curves": {"n_points": 11},
    }
    cfg = write_config(tmp_path, config)
    snakemake(tmp_path, config=cfg)
    base = tmp_path / "results/resnet18_digits"
    nodes = pd.read_csv(base / "trial_0/epoch_1/nodes.csv")
    # 16 px, a quarter after the stem: layer1 64 x 4 x 4 = 1,024 candidates, layer3 256 x 1 x 1, flatten 512, fc 3
    counts = nodes.groupby("layer", sort=False).size()
    assert list(counts.index) == ["layer1", "layer3", "flatten", "fc"]
    assert counts.tolist() == allocate([1024, 256, 512, 3], 60).tolist()
    assert np.load(base / "trial_0/epoch_1/activations.npy").shape == (12, 60)
    assert list(pd.read_csv(base / "training.csv")["epoch"]) == [0, 1]
    assert (base / "plots/betti_curves_density.png").is_file()
    assert planned_jobs(snakemake(tmp_path, "-n", config=cfg)) == {}
