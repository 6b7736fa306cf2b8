"""A tiny generalization study through the real workflow: Snakemake, training, topology, study stage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import run_config, snakemake, write_config

from dnn_topology.studies.generalization import model as gen

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

STUDY = "results/generalization/tiny"
TINY_STUDY = {
    "runs": [
        {"name": "mlp_base", "network": "lenet_300_100", "dataset": "mnist5k"},
        {"name": "mlp_perm50", "network": "lenet_300_100", "dataset": "mnist5k", "training": {"permute_labels": 0.5}},
        {"name": "lenet_sub10", "network": "lenet", "dataset": "mnist5k", "training": {"subset": 0.1}},
    ],
    "generalization": [{"name": "tiny", "min_persistence": 0.0, "bootstrap": 200}],
    "trials": [0],
    "training": {"epochs": 2, "lr": 0.01, "batch_size": 64, "seed": 0, "threads": 1},
    "activations": {
        "n_samples": 100,
        "split": "train",
        "node_selection": {"method": "random", "n_nodes": 100, "allocation": "proportional", "seed": 0},
    },
    "topology": {"epochs": [1, 2], "max_dim": 1, "max_epsilon": 0.3, "engine": "giotto", "threads": 1},
    "betti_curves": {"n_points": 31},
}


@pytest.fixture(scope="module")
def study_run(tmp_path_factory):
    """One run of the tiny study, shared by the tests that read it."""
    root = tmp_path_factory.mktemp("study")
    return root, run_config(root, TINY_STUDY)


def test_study_outputs_make_sense(study_run):
    root, _ = study_run
    table = pd.read_csv(root / STUDY / "table.csv")
    assert len(table) == 3 * 2 and set(table["run"]) == {"mlp_base", "mlp_perm50", "lenet_sub10"}
    training = pd.concat([pd.read_csv(root / f"results/{r}/training.csv") for r in table["run"].unique()])
    merged = table.merge(training, on=["run", "trial", "epoch"], suffixes=("", "_log"))
    np.testing.assert_allclose(merged["test_acc_pct"], merged["test_acc_pct_log"])  # percent, as in the training log
    assert merged["test_acc_pct"].between(0, 100).all() and merged["test_acc_pct"].max() > 1  # percent, no fraction
    np.testing.assert_allclose(table["gap_pp"], table["train_acc_pct"] - table["test_acc_pct"])
    assert (table["n_pairs_h1"] > 0).all() and table["life_h1"].between(0, 0.3).all()
    # min_persistence 0: the study's life equals the Betti summary's mean life of every finite pair
    summary = pd.concat([pd.read_csv(root / f"results/{r}/betti_summary.csv") for r in table["run"].unique()])
    h1 = summary[summary["dim"] == 1].merge(table, on=["run", "trial", "epoch"])
    np.testing.assert_allclose(h1["life_h1"], h1["mean_life"])
    np.testing.assert_allclose(h1["midlife_h1"], h1["mean_midlife"])
    # permuted labels: a lower train accuracy than the clean run (measured against the permuted labels)
    last = table[table["epoch"] == 2].set_index("run")
    assert last.loc["mlp_perm50", "train_acc_pct"] < last.loc["mlp_base", "train_acc_pct"]
    # the graph came from training samples the network trained on: 100 of lenet_sub10's 400
    samples = pd.read_csv(root / "results/lenet_sub10/trial_0/epoch_1/samples.csv")
    labels = pd.read_csv(root / "results/lenet_sub10/trial_0/labels.csv")
    assert (samples["split"] == "train").all() and len(samples) == 100
    assert set(samples["index"]) <= set(labels["index"]) and len(labels) == 400


def test_study_metrics_model_and_figures(study_run):
    root, _ = study_run
    metrics = pd.read_csv(root / STUDY / "metrics.csv")
    assert set(metrics["cv"]) == {"leave_one_run_out", "leave_one_network_out"}
    assert set(metrics["model"]) == {"topology", "mean_gap", "train_acc", "train_loss"}
    assert (metrics["n_runs"][metrics["cv"] == "leave_one_run_out"] == 3).all()
    mae = metrics[metrics["metric"] == "mae_pp"]
    assert (
        (mae["value"] >= 0).all() and (mae["ci_low"] <= mae["value"]).all() and (mae["value"] <= mae["ci_high"]).all()
    )
    pred = pd.read_csv(root / STUDY / "predictions.csv")
    loro = pred[(pred["cv"] == "leave_one_run_out") & (pred["model"] == "topology")]
    assert len(loro) == 6 and np.allclose(loro["error_pp"], loro["test_acc_est_pct"] - loro["test_acc_pct"])
    model = gen.read_model(root / STUDY / "model.json")
    assert model["features"] == ["life_h1", "midlife_h1"] and model["fitted_on"]["rows"] == 6
    assert model["topology"] == {
        "split": "train",
        "n_samples": 100,
        "max_dim": 1,
        "max_epsilon": 0.3,
        "node_selection": TINY_STUDY["activations"]["node_selection"],
        "min_persistence": 0.0,
        "feature_max_dim": 1,
    }
    assert "| leave_one_run_out | topology |" in (root / STUDY / "metrics.md").read_text()
    for figure in gen.STUDY_FIGURES:
        for ext in ("png", "pdf"):
            assert (root / STUDY / f"figures/{figure}.{ext}").stat().st_size > 1000
    # the run's diagrams carry their parameters: the model accepts them
    params = json.loads((root / "results/mlp_base/topology.json").read_text())
    gen.check_topology(model, params)


def test_a_study_on_test_split_graphs_is_refused(tmp_path):
    config = {**TINY_STUDY, "activations": {**TINY_STUDY["activations"], "split": "test"}}
    proc = snakemake(tmp_path, "-n", config=write_config(tmp_path, config), check=False)
    assert proc.returncode != 0 and "activations.split: train" in proc.stdout + proc.stderr
    bad = {**TINY_STUDY, "generalization": [{"name": "../escape"}]}
    proc = snakemake(tmp_path, "-n", config=write_config(tmp_path, bad), check=False)
    assert proc.returncode != 0 and "generalization" in proc.stdout + proc.stderr
