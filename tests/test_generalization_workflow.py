"""A tiny version of config/generalization_gap.yaml through the real workflow: Snakemake, training, topology,
weight norms, the study stages and the held-out evaluation through `dnn-topology estimate-test-error`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import REPO, run_config, snakemake, write_config

from dnn_topology.studies.generalization import model as gen

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

FIT = ["lenet_n100", "lenet_n250", "mlp_n100", "mlp_n250"]
HELD_OUT = {"unseen_size": ["lenet_n500"], "permuted_labels": ["mlp_n1000_perm50"]}


def tiny_study() -> dict:
    """The shipped study, reduced: 4 fitted runs and 2 held-out ones (of its own), 1 trial, 2 epochs, 60 nodes.

    Derived from config/generalization_gap.yaml so that the test runs the shipped design, not a copy of it."""
    config = yaml.safe_load((REPO / "config" / "generalization_gap.yaml").read_text())
    keep = set(FIT) | {r for runs in HELD_OUT.values() for r in runs}
    config["runs"] = [r for r in config["runs"] if r["name"] in keep]
    for study in config["generalization"]:
        study.update(runs=list(FIT), held_out={k: list(v) for k, v in HELD_OUT.items()}, bootstrap=200)
    config["trials"] = [0]
    config["training"]["epochs"] = 2
    config["topology"]["epochs"] = [1, 2]
    config["activations"]["node_selection"]["n_nodes"] = 60
    config["betti_curves"]["n_points"] = 31
    return config


@pytest.fixture(scope="module")
def study_run(tmp_path_factory):
    """One run of the tiny study, shared by the tests that read it."""
    root = tmp_path_factory.mktemp("study")
    return root, run_config(root, tiny_study())


def test_study_tables_make_sense(study_run):
    root, _ = study_run
    for study in ("gap_lambda_mu", "gap_births_deaths"):
        table = pd.read_csv(root / f"results/generalization/{study}/table.csv")
        assert len(table) == 4 * 2 and set(table["run"]) == set(FIT)
        np.testing.assert_allclose(table["gap_pp"], table["train_acc_pct"] - table["test_acc_pct"])
        assert (table["n_pairs_h1"] > 0).all() and table["life_h1"].between(0, 0.4).all()
    training = pd.concat([pd.read_csv(root / f"results/{r}/training.csv") for r in FIT])
    merged = table.merge(training, on=["run", "trial", "epoch"], suffixes=("", "_log"))
    np.testing.assert_allclose(merged["test_acc_pct"], merged["test_acc_pct_log"])  # percent, as in the training log
    assert merged["test_acc_pct"].between(0, 100).all() and merged["test_acc_pct"].max() > 1  # percent, no fraction
    # min_persistence 0 (gap_births_deaths): the table's life equals the Betti summary's mean life of every pair
    summary = pd.concat([pd.read_csv(root / f"results/{r}/betti_summary.csv") for r in FIT])
    h1 = summary[summary["dim"] == 1].merge(table, on=["run", "trial", "epoch"])
    np.testing.assert_allclose(h1["life_h1"], h1["mean_life"])
    np.testing.assert_allclose(h1["midlife_h1"], h1["mean_midlife"])
    # Ballester et al.'s statistics are columns too; weight norms come from the checkpoints
    assert {"birth_std_h1", "death_h1", "entropy_h1", "entropy_h0", "weight_l2"} <= set(table.columns)
    norms = pd.read_csv(root / "results/lenet_n100/weight_norms.csv")
    assert list(norms["epoch"]) == [1, 2] and (norms["n_parameters"] == 21840).all()  # LeNet's parameters
    lenet = table[table["run"] == "lenet_n100"].sort_values("epoch")
    np.testing.assert_allclose(lenet["weight_l2"], norms["weight_l2"])
    # the graph came from training samples the network trained on: all 100 of lenet_n100's digits
    samples = pd.read_csv(root / "results/lenet_n100/trial_0/epoch_1/samples.csv")
    labels = pd.read_csv(root / "results/lenet_n100/trial_0/labels.csv")
    assert (samples["split"] == "train").all() and set(samples["index"]) == set(labels["index"])


def test_no_held_out_run_is_in_the_fit(study_run):
    root, _ = study_run
    held = {r for runs in HELD_OUT.values() for r in runs}
    for study in ("gap_lambda_mu", "gap_births_deaths"):
        folder = root / "results/generalization" / study
        model = gen.read_model(folder / "model.json")
        assert set(model["fitted_on"]["runs"]) == set(FIT) and not held & set(model["fitted_on"]["runs"])
        assert not held & set(pd.read_csv(folder / "table.csv")["run"])
        assert not held & set(pd.read_csv(folder / "predictions.csv")["run"])  # nor in the cross-validation
        estimates = pd.read_csv(folder / "held_out_predictions.csv")
        assert set(estimates["run"]) == held
        assert set(estimates["set"]) == set(HELD_OUT)


def test_held_out_estimates_come_from_the_command_line_tool(study_run):
    root, _ = study_run
    folder = root / "results/generalization/gap_lambda_mu"
    estimates = pd.read_csv(folder / "held_out_predictions.csv")
    assert set(estimates["model"]) == {"topology", *gen.BASELINES}
    row = estimates[(estimates["model"] == "topology") & (estimates["run"] == "lenet_n500")].iloc[-1]
    diagram = root / f"results/lenet_n500/trial_{row['trial']}/epoch_{row['epoch']}/diagram.bin"
    # what a user gets for that network is what the study recorded
    train_acc = repr(float(row["train_acc_pct"]))
    proc = _cli("--model", str(folder / "model.json"), "--diagram", str(diagram), "--train-acc", train_acc)
    answer = json.loads(proc.stdout)
    assert answer["test_acc_pct"] == pytest.approx(row["test_acc_est_pct"], abs=1e-9)
    assert (answer["low_pct"], answer["high_pct"]) == pytest.approx((row["low_pct"], row["high_pct"]), abs=1e-9)
    topo = estimates[estimates["model"] == "topology"]
    inside = (topo["low_pct"] <= topo["test_acc_pct"]) & (topo["test_acc_pct"] <= topo["high_pct"])
    assert (topo["covered"] == inside).all()
    # the interval is the corrected one (issue 22): the estimate minus the error quantiles, around the estimate
    pi = gen.read_model(folder / "model.json")["prediction_interval"]
    raw = topo["test_acc_est_pct"]
    unclipped = ~topo["extrapolated"].astype(bool)
    low = np.minimum((raw - pi["error_high_pp"]).clip(0, 100), raw)
    high = np.maximum((raw - pi["error_low_pp"]).clip(0, 100), raw)
    np.testing.assert_allclose(topo["low_pct"][unclipped], low[unclipped])
    np.testing.assert_allclose(topo["high_pct"][unclipped], high[unclipped])
    metrics = pd.read_csv(folder / "held_out_metrics.csv")
    assert set(metrics["set"]) == set(HELD_OUT) and set(metrics["epochs"]) == {"all", "last"}
    coverage = metrics[metrics["metric"] == "coverage"]
    assert len(coverage) == 4 and coverage["value"].between(0, 1).all()
    diffs = metrics[metrics["metric"] == "mae_difference_pp"]
    assert set(diffs["model"]) == set(gen.BASELINES) and (diffs["ci_low"] <= diffs["ci_high"]).all()
    report = (folder / "held_out.md").read_text()
    assert "unseen_size: lenet_n500" in report and "topology - weight_l2" in report
    page = (folder / "held_out.html").read_text()  # the report's copy
    assert "<td>unseen_size</td>" in page and "topology - weight_l2" in page and "Coverage" in page
    # a run with permuted labels trains on labels it partly cannot learn from the images
    perm = estimates[(estimates["run"] == "mlp_n1000_perm50") & (estimates["model"] == "topology")]
    assert len(perm) == 2


def _cli(*args):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "dnn_topology.cli", "estimate-test-error", *args, "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_study_metrics_model_and_figures(study_run):
    root, _ = study_run
    folder = root / "results/generalization/gap_births_deaths"
    metrics = pd.read_csv(folder / "metrics.csv")
    assert set(metrics["cv"]) == {"leave_one_run_out", "leave_one_network_out"}
    assert set(metrics["model"]) == {"topology", *gen.BASELINES}
    assert (metrics["n_runs"][metrics["cv"] == "leave_one_run_out"] == 4).all()
    mae = metrics[metrics["metric"] == "mae_pp"]
    assert (
        (mae["value"] >= 0).all() and (mae["ci_low"] <= mae["value"]).all() and (mae["value"] <= mae["ci_high"]).all()
    )
    pred = pd.read_csv(folder / "predictions.csv")
    loro = pred[(pred["cv"] == "leave_one_run_out") & (pred["model"] == "topology")]
    assert len(loro) == 8 and np.allclose(loro["error_pp"], loro["test_acc_est_pct"] - loro["test_acc_pct"])
    model = gen.read_model(folder / "model.json")
    assert model["features"] == ["birth_h1", "death_h1", "birth_std_h1", "death_std_h1"]
    assert model["fitted_on"]["rows"] == 8
    assert "<td>leave_one_run_out</td>" in (folder / "metrics.html").read_text()
    assert model["topology"] == {
        "split": "train",
        "n_samples": 100,
        "max_dim": 1,
        "max_epsilon": 0.4,
        "node_selection": tiny_study()["activations"]["node_selection"],
        "min_persistence": 0.0,
        "feature_max_dim": 1,
    }
    assert "| leave_one_run_out | topology |" in (folder / "metrics.md").read_text()
    for figure in gen.STUDY_FIGURES:
        for ext in ("png", "pdf"):
            assert (folder / f"figures/{figure}.{ext}").stat().st_size > 1000
    # the held-out runs' diagrams carry their parameters: the model accepts them
    params = json.loads((root / "results/lenet_n500/topology.json").read_text())
    gen.check_topology(model, params)


def test_a_study_on_test_split_graphs_or_with_a_fitted_held_out_run_is_refused(tmp_path):
    config = tiny_study()
    config["activations"]["split"] = "test"
    proc = snakemake(tmp_path, "-n", config=write_config(tmp_path, config), check=False)
    assert proc.returncode != 0 and "activations.split: train" in proc.stdout + proc.stderr
    config = tiny_study()
    config["generalization"][0]["held_out"]["unseen_size"].append("lenet_n100")
    proc = snakemake(tmp_path, "-n", config=write_config(tmp_path, config), check=False)
    assert proc.returncode != 0
    assert "generalization[0].held_out.unseen_size: ['lenet_n100'] are also in the fit" in proc.stdout + proc.stderr
    bad = {**tiny_study(), "generalization": [{"name": "../escape"}]}
    proc = snakemake(tmp_path, "-n", config=write_config(tmp_path, bad), check=False)
    assert proc.returncode != 0 and "generalization" in proc.stdout + proc.stderr
