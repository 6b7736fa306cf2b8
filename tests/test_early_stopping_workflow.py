"""A tiny early-stopping study through the real workflow: Snakemake, training with a validation split, topology of
training samples, neural persistence, the study stage and its figure; and the training-loop monitor agrees with it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from workflow_helpers import snakemake, write_config

from dnn_topology.networks.activations import fixed_samples
from dnn_topology.networks.checkpoints import load_checkpoint
from dnn_topology.networks.datasets import get_spec
from dnn_topology.networks.labels import training_pool
from dnn_topology.networks.samples import SampleSet
from dnn_topology.studies.early_stopping.monitor import TopologicalEarlyStopping
from dnn_topology.studies.early_stopping.neural_persistence import model_neural_persistence
from dnn_topology.studies.early_stopping.rules import RULES

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

STUDY = "results/early_stopping/tiny"
RUN = "mlp_noisy"
CHECKS = [1, 2, 3]
NODES = {"method": "random", "n_nodes": 100, "allocation": "proportional", "seed": 0}
TINY = {
    "runs": [{"name": RUN, "network": "lenet_300_100", "dataset": "mnist5k", "training": {"permute_labels": 0.4}}],
    "early_stopping": [{"name": "tiny", "patience": 1, "patience_candidates": [1, 2]}],
    "trials": [0, 1],
    "training": {"epochs": 3, "subset": 0.05, "validation": 0.2, "lr": 0.01, "batch_size": 16, "seed": 0},
    "activations": {"n_samples": 100, "split": "train", "node_selection": NODES},
    "topology": {"epochs": CHECKS, "max_dim": 2, "max_epsilon": 0.3, "engine": "giotto", "threads": 1},
    "betti_curves": {"n_points": 31},
}
TARGETS = [f"{STUDY}/summary.md", f"{STUDY}/figures/{RUN}.png", f"{STUDY}/figures/{RUN}.pdf"]


@pytest.fixture(scope="module")
def study_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("stop")
    snakemake(root, *TARGETS, config=write_config(root, TINY))
    return root


def test_every_rule_stops_at_a_check_with_the_accuracy_of_that_epoch(study_run):
    root = study_run
    stops = pd.read_csv(root / STUDY / "stops.csv")
    assert set(stops["rule"]) == {*RULES, "last_epoch"} and len(stops) == 2 * 5
    training = pd.read_csv(root / f"results/{RUN}/training.csv").set_index(["trial", "epoch"])
    for _, row in stops.iterrows():
        assert row["stop_epoch"] in CHECKS
        assert row["test_acc_at_stop_pct"] == pytest.approx(
            100 * training.loc[(row["trial"], row["stop_epoch"]), "test_acc"]
        )
        assert row["epochs_saved"] == 3 - row["stop_epoch"] and row["regret_pp"] >= 0
    assert (stops.loc[stops["rule"] == "last_epoch", "stop_epoch"] == 3).all()
    # the validation loss comes from the held-out digits, measured every epoch
    assert training["val_loss"].notna().all()
    summary = pd.read_csv(root / STUDY / "summary.csv")
    assert set(summary["n_trials"]) == {2}
    differences = pd.read_csv(root / STUDY / "differences.csv")
    assert set(differences["baseline"]) == {"validation_loss", "last_epoch"}
    assert "## mlp_noisy (2 trials)" in (root / STUDY / "summary.md").read_text()
    sweep = pd.read_csv(root / STUDY / "patience_sweep.csv")
    assert sweep["chosen"].sum() == 1 and set(sweep["patience"]) == {1, 2}
    assert (root / STUDY / "figures" / f"{RUN}.png").stat().st_size > 10_000


def test_no_topological_rule_reads_a_test_or_validation_sample(study_run):
    root = study_run
    for trial in (0, 1):
        labels = pd.read_csv(root / f"results/{RUN}/trial_{trial}/labels.csv")
        held = set(labels.loc[labels["validation"], "index"])
        trained = set(labels.loc[~labels["validation"], "index"])
        assert len(held) == 40 and len(trained) == 160  # 200 digits, 20% held out
        # the split is the one the configuration asks for, drawn from the trial's seed
        expected_trained, expected_held = training_pool(4000, 0.05, 0.2, seed=trial)
        assert held == set(expected_held.tolist()) and trained == set(expected_trained.tolist())
        for epoch in CHECKS:
            samples = pd.read_csv(root / f"results/{RUN}/trial_{trial}/epoch_{epoch}/samples.csv")
            assert (samples["split"] == "train").all() and len(samples) == 100
            assert set(samples["index"]) <= trained and not set(samples["index"]) & held


def test_the_series_are_the_workflow_results_and_the_monitor_agrees(study_run):
    root = study_run
    series = pd.read_csv(root / STUDY / "series.csv").set_index(["trial", "epoch"])
    summary = pd.read_csv(root / f"results/{RUN}/betti_summary.csv")
    beta2 = summary[summary["dim"] == 2].set_index(["trial", "epoch"])["max_betti"]
    assert series.loc[beta2.index, "max_beta2"].tolist() == beta2.tolist()
    stops = pd.read_csv(root / STUDY / "stops.csv").set_index(["trial", "rule"])
    spec = get_spec("mnist5k")
    for trial in (0, 1):
        samples, record = fixed_samples(SampleSet("mnist5k", 100, "train", subset=0.05, seed=trial, validation=0.2))
        recorded = pd.read_csv(root / f"results/{RUN}/trial_{trial}/epoch_1/samples.csv")
        assert record["index"].tolist() == recorded["index"].tolist()
        batch = torch.stack([samples[i][0] for i in range(len(samples))])
        monitors = {
            "neural_persistence": TopologicalEarlyStopping("neural_persistence", patience=1),
            "beta1_peak_density": TopologicalEarlyStopping(
                "beta1_peak_density", patience=1, n_points=31, node_selection=NODES
            ),
        }
        stopped = dict.fromkeys(monitors)
        for epoch in CHECKS:
            net, _ = load_checkpoint(
                root / f"results/{RUN}/trial_{trial}/checkpoints/epoch_{epoch}.pt", "lenet_300_100", spec
            )
            assert model_neural_persistence(net).mean_normalized == pytest.approx(
                series.loc[(trial, epoch), "neural_persistence"], abs=1e-12
            )
            for rule, stopper in monitors.items():
                if stopper(net, batch) and stopped[rule] is None:
                    stopped[rule] = epoch
                np.testing.assert_allclose(stopper.history[-1], series.loc[(trial, epoch), rule], atol=1e-12)
        for rule, epoch in stopped.items():  # the loop stops where the post hoc study says (or runs to the end)
            assert (epoch or 3) == stops.loc[(trial, rule), "stop_epoch"]
