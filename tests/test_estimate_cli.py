"""`dnn-topology estimate-test-error` through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_generalization import synthetic_table

from dnn_topology.studies.generalization import model as gen
from dnn_topology.topology.dipha_files import Diagram, write_persistence_diagram
from dnn_topology.topology.features import life_midlife

SRC = Path(__file__).resolve().parents[1] / "src"
TOPOLOGY = {
    "split": "train",
    "n_samples": 100,
    "node_selection": {"method": "random", "n_nodes": 100, "seed": 0},
    "max_dim": 1,
    "max_epsilon": 0.3,
}
DIAGRAM = Diagram([0, 0, 1, 1, 1, -2], [0, 0, 0.1, 0.2, 0.15, 0.12], [0.2, 0.25, 0.16, 0.3, 0.16, 0.3])


def cli(*argv) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "dnn_topology.cli", "estimate-test-error", *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture
def study(tmp_path):
    """A fitted model, and a workflow-like run folder with one diagram and its topology.json."""
    model = gen.fit_model(
        synthetic_table(noise=1.0), gen.DEFAULT_FEATURES, {**TOPOLOGY, "min_persistence": 0.02}, "toy"
    )
    gen.write_model(model, tmp_path / "model.json")
    diagram = tmp_path / "results/run_a/trial_0/epoch_4/diagram.bin"
    diagram.parent.mkdir(parents=True)
    write_persistence_diagram(diagram, DIAGRAM)
    gen.write_topology_parameters(tmp_path / "results/run_a/topology.json", {**TOPOLOGY, "run": "run_a"})
    return model, tmp_path / "model.json", diagram


def test_estimate_from_a_diagram(study):
    model, model_json, diagram = study
    proc = cli("--model", model_json, "--diagram", diagram, "--train-acc", 97.5, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    # by hand: H1 pairs (.1,.16) (.2,.3) (.15,.16); .01 <= 0.02 is dropped, the essential one is out
    assert out["features"] == pytest.approx({"life_h1": (0.06 + 0.1) / 2, "midlife_h1": (0.13 + 0.25) / 2})
    gap = model["intercept"] + sum(model["coefficients"][f] * v for f, v in out["features"].items())
    assert out["test_acc_pct"] == pytest.approx(97.5 - gap) and out["train_acc_pct"] == 97.5
    pi = model["prediction_interval"]
    # the errors are estimated - true: the true accuracy is the estimate minus an error, so the high error
    # quantile gives the low end (an accuracy: clipped to 0..100)
    assert out["low_pct"] == pytest.approx(max(0, 97.5 - gap - pi["error_high_pp"]))
    assert out["high_pct"] == pytest.approx(min(100, 97.5 - gap - pi["error_low_pp"]))
    assert out["extrapolated"] is False and out["raw_test_acc_pct"] == pytest.approx(out["test_acc_pct"])
    text = cli("--model", model_json, "--diagram", diagram, "--train-acc", 97.5)
    assert text.returncode == 0 and f"estimated test accuracy: {97.5 - gap:.2f} %" in text.stdout
    assert "95% prediction interval" in text.stdout


def test_a_diagram_of_other_topology_parameters_is_refused(study, tmp_path):
    _, model_json, diagram = study
    other = tmp_path / "other.json"
    gen.write_topology_parameters(other, {**TOPOLOGY, "max_epsilon": 0.4, "n_samples": 1000})
    proc = cli("--model", model_json, "--diagram", diagram, "--train-acc", 97.5, "--topology", other)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "computed under other topology parameters than the model" in proc.stderr
    assert "max_epsilon = 0.4, but the model was fitted with 0.3" in proc.stderr
    assert "n_samples = 1000, but the model was fitted with 100" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.slow
def test_a_diagram_without_recorded_parameters_is_refused(study, tmp_path):
    _, model_json, _ = study
    lone = tmp_path / "elsewhere/diagram.bin"
    lone.parent.mkdir()
    write_persistence_diagram(lone, DIAGRAM)
    proc = cli("--model", model_json, "--diagram", lone, "--train-acc", 97.5)
    assert (
        proc.returncode == 2 and "no record of the topology parameters" in proc.stderr and "--topology" in proc.stderr
    )
    bad = cli("--model", model_json, "--diagram", lone, "--train-acc", 120)
    assert bad.returncode == 2
    notmodel = cli("--model", lone, "--diagram", lone, "--train-acc", 90)
    assert notmodel.returncode == 2 and "Traceback" not in notmodel.stderr


@pytest.mark.slow
def test_estimate_from_a_checkpoint(study, tmp_path):
    """A really trained network: its diagram is computed under the model's parameters, from its training samples."""
    from dnn_topology.networks.activations import compute_activations
    from dnn_topology.networks.samples import SampleSet
    from dnn_topology.networks.training import TrainConfig, train
    from dnn_topology.topology.dipha_files import full_to_sparse
    from dnn_topology.topology.graph import distance_matrix
    from dnn_topology.topology.persistence import compute_persistence

    _, model_json, _ = study
    cfg = TrainConfig(network="lenet_300_100", dataset="mnist5k", epochs=1, subset=0.5, seed=3)
    ckpts = [tmp_path / "e0.pt", tmp_path / "e1.pt"]
    metrics = train(cfg, ckpts, tmp_path / "training.csv", tmp_path / "state", progress=False)
    train_acc = metrics["train_acc_pct"].iloc[-1]  # percent, as the CLI takes it
    proc = cli("--model", model_json, "--checkpoint", ckpts[1], "--train-acc", train_acc, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    # the same features by the workflow's stages, with the subset and seed the network trained with
    acts, _, samples = compute_activations(
        ckpts[1],
        "lenet_300_100",
        SampleSet("mnist5k", 100, split="train", subset=0.5, seed=3),
        TOPOLOGY["node_selection"],
    )
    d = compute_persistence(full_to_sparse(distance_matrix(acts), 0.3), 2)
    expected = life_midlife(d.dims, d.births, d.deaths, 1, 0.02)
    assert out["features"] == pytest.approx({f: expected[f] for f in gen.DEFAULT_FEATURES})
    assert np.isfinite(out["test_acc_pct"]) and out["low_pct"] < out["test_acc_pct"] < out["high_pct"]
    refused = cli("--model", model_json, "--checkpoint", ckpts[1], "--train-acc", 90, "--topology", model_json)
    assert refused.returncode == 2 and "--topology goes with --diagram" in refused.stderr
