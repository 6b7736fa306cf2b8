"""Your network, your checkpoints: a user's model, trained by a plain PyTorch loop outside the workflow, its
state dicts saved per epoch, analysed end to end by the real workflow (figures, claims, the adversarial and the
generalization study); a changed checkpoint reruns its epoch only; a mismatched one is refused naming the keys."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from workflow_helpers import planned_jobs, snakemake, write_config

from dnn_topology.networks.datasets import load_split
from dnn_topology.networks.refs import load_callable
from dnn_topology.networks.training import METRIC_COLUMNS

pytestmark = [pytest.mark.slow, pytest.mark.workflow]

# the user's model: defined here, written as the user's own file into the test's project folder
MODEL_SOURCE = '''
import torch.nn as nn
import torch.nn.functional as F


class TinyNet(nn.Module):
    """Outputs logits, has no forward_features: nothing of dnn-topology's conventions."""

    def __init__(self, width=16, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, kernel_size=5, stride=2)
        self.fc1 = nn.Linear(4 * 12 * 12, width)
        self.fc2 = nn.Linear(width, num_classes)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)
'''
WIDTHS = {"tiny_w12": 12, "tiny_w24": 24}
EPOCHS = [0, 1, 2]


def train_outside(project: Path, run: str, width: int, seed: int) -> None:
    """A plain PyTorch loop, as a user writes one: its state_dict saved after each epoch (0 = initial)."""
    TinyNet = load_callable(f"{project / 'user_model.py'}:TinyNet")
    torch.manual_seed(seed)
    net = TinyNet(width=width)
    train = load_split("mnist5k", "train")
    subset = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:1500].tolist()  # all classes
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(train, subset), batch_size=50, shuffle=True)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    out = project / "ckpt" / run
    out.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out / "epoch_0.pt")
    for epoch in EPOCHS[1:]:
        net.train()
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        torch.save({"model_state_dict": net.state_dict(), "epoch": epoch}, out / f"epoch_{epoch}.pt")  # a wrapper


def project_config(project: Path) -> dict:
    return {
        "runs": [
            {
                "name": run,
                "network": "user_model.py:TinyNet",
                "network_kwargs": {"width": width},
                "layers": ["relu", "fc1", "fc2"],  # a graph node (the first functional relu) and two modules
                "checkpoints": f"ckpt/{run}/epoch_{{epoch}}.pt",
                "dataset": "mnist5k",
            }
            for run, width in WIDTHS.items()
        ],
        "trials": [0],
        "activations": {
            "n_samples": 100,
            "split": "train",
            "node_selection": {"method": "random", "n_nodes": 80, "allocation": "proportional", "seed": 0},
        },
        "topology": {"epochs": EPOCHS, "max_dim": 1, "max_epsilon": 0.3, "engine": "giotto", "threads": 1},
        "betti_curves": {"n_points": 31},
        "adversarial": {
            "attacks": [{"method": "fgsm", "epsilons": [0.1]}],
            "epochs": [2],
            "detection": {"enabled": False},  # the detector reads checkpoints as the attack does; off for time
            "per_input": {"enabled": False},  # evaluated on test samples only; these graphs are of training samples
        },
        # H0 features: finite at every epoch of these small graphs (H1 may have no finite class)
        "generalization": [
            {"name": "own", "runs": list(WIDTHS), "features": ["life_h0", "midlife_h0"], "bootstrap": 100}
        ],
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A user's project folder: the model file, checkpoints trained outside the workflow, a config; analysed once."""
    root = tmp_path_factory.mktemp("own")
    (root / "user_model.py").write_text(MODEL_SOURCE)
    for seed, (run, width) in enumerate(WIDTHS.items()):
        train_outside(root, run, width, seed)
    cfg = write_config(root, project_config(root))
    snakemake(root, config=cfg, timeout=2400)
    return root, cfg


def test_every_figure_and_table_of_a_trained_run(project):
    root, _ = project
    for run in WIDTHS:
        base = root / "results" / run
        for f in ["betti_curves.csv", "betti_summary.csv", "training.csv", "claims.csv", "claims_evidence.csv"]:
            assert (base / f).is_file(), f
        for plot in ["betti_curves_density", "betti_curves_epsilon", "persistence_diagrams", "summaries", "claims"]:
            assert (base / "plots" / f"{plot}.png").is_file(), plot
        for f in ["attacks.csv", "betti_curves.csv", "betti_summary.csv"]:
            assert (base / "adversarial" / f).is_file(), f
        assert not (base / "trial_0" / "checkpoints").exists()  # nothing was trained
        nodes = pd.read_csv(base / "trial_0/epoch_2/nodes.csv")
        assert list(dict.fromkeys(nodes["layer"])) == ["relu", "fc1", "fc2"] and len(nodes) == 80
        assert np.load(base / "trial_0/epoch_0/activations.npy").shape == (100, 80)
    for f in ["table.csv", "metrics.csv", "model.json"]:
        assert (root / "results/generalization/own" / f).is_file(), f


def test_evaluation_is_the_accuracy_of_the_checkpoint(project):
    """The evaluate rule's training.csv: the same columns as a training log, the checkpoint's real accuracy."""
    root, _ = project
    log = pd.read_csv(root / "results/tiny_w12/training.csv")
    assert list(log.columns) == ["run", "trial", *METRIC_COLUMNS]
    assert list(log["epoch"]) == EPOCHS and log["lr"].isna().all()
    TinyNet = load_callable(f"{root / 'user_model.py'}:TinyNet")
    net = TinyNet(width=12)
    net.load_state_dict(torch.load(root / "ckpt/tiny_w12/epoch_2.pt", weights_only=True)["model_state_dict"])
    net.eval()
    test = load_split("mnist5k", "test")
    x, y = test.tensors
    with torch.no_grad():
        acc = (net(x).argmax(1) == y).double().mean().item()
    assert log.loc[log["epoch"] == 2, "test_acc_pct"].item() == pytest.approx(100 * acc, abs=1e-8)  # percent
    assert 100 * acc > 60 > log.loc[log["epoch"] == 0, "test_acc_pct"].item()  # trained vs initial weights


def test_nothing_to_do_after_the_run(project):
    root, cfg = project
    assert planned_jobs(snakemake(root, "-n", config=cfg)) == {}


@pytest.fixture
def project_copy(project, tmp_path):
    root, _ = project
    work = tmp_path / "own"
    shutil.copytree(root, work, symlinks=True)
    return work, write_config(work, project_config(work))


def test_changed_checkpoint_reruns_only_its_epoch(project_copy):
    root, cfg = project_copy
    ckpt = root / "ckpt/tiny_w12/epoch_1.pt"
    state = torch.load(ckpt, weights_only=True)
    state["model_state_dict"] = {k: v * 0.5 for k, v in state["model_state_dict"].items()}
    torch.save(state, ckpt)
    before = (root / "results/tiny_w12/trial_0/epoch_2/diagram.bin").read_bytes()
    jobs = planned_jobs(snakemake(root, "-n", config=cfg))
    assert jobs == {
        "activations": 1,
        "functional_graph": 1,
        "persistence": 1,
        "betti_curves": 1,
        "evaluate": 1,
        "aggregate": 1,
        "plot": 1,
        "claims": 1,
        "diagram_topology": 1,
        "weight_norms": 1,  # the study's weight-norm baseline reads the checkpoints
        "generalization_table": 1,
        "generalization_fit": 1,
        "generalization_plots": 1,
        "all": 1,
    }
    snakemake(root, config=cfg, timeout=1800)
    assert (root / "results/tiny_w12/trial_0/epoch_2/diagram.bin").read_bytes() == before
    assert planned_jobs(snakemake(root, "-n", config=cfg)) == {}


def test_mismatched_checkpoint_is_refused_naming_the_keys(project_copy):
    root, cfg = project_copy
    ckpt = root / "ckpt/tiny_w24/epoch_2.pt"
    state = torch.load(ckpt, weights_only=True)["model_state_dict"]
    state["hidden.weight"] = state.pop("fc1.weight")  # a renamed layer
    torch.save(state, ckpt)
    proc = snakemake(root, config=cfg, check=False, timeout=1800)
    assert proc.returncode != 0
    log = (root / "logs/tiny_w24/trial_0/epoch_2/activations.log").read_text()
    assert "missing keys (1): fc1.weight" in log and "unexpected keys (1): hidden.weight" in log, log
    assert "does not fit network 'user_model.py:TinyNet'" in log


def test_missing_checkpoint_is_named_at_start_up(project_copy):
    root, _ = project_copy
    config = copy.deepcopy(project_config(root))
    config["topology"]["epochs"] = [0, 1, 2, 3]
    config["adversarial"]["epochs"] = [2]
    proc = snakemake(root, "-n", config=write_config(root, config), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "runs[0].checkpoints: checkpoint files not found" in out and "ckpt/tiny_w12/epoch_3.pt" in out, out
