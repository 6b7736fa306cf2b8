"""Early stopping (issue 23): the rules on hand-made series whose stopping epoch is known, neural persistence on
hand-made layers, the check that no topological rule reads a test or validation sample, the study's tables and
its configuration."""

from __future__ import annotations

import doctest
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from dnn_topology.networks.models import LeNet, LeNet300100
from dnn_topology.studies.early_stopping import config as es_config
from dnn_topology.studies.early_stopping import monitor, neural_persistence, rules, study
from dnn_topology.studies.early_stopping.neural_persistence import (
    layer_persistences,
    linear_weights,
    model_neural_persistence,
)
from dnn_topology.studies.early_stopping.neural_persistence import neural_persistence as np_of
from dnn_topology.studies.early_stopping.rules import PatienceCounter, stopping_check
from dnn_topology.workflow import config as workflow_config

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module", [rules, neural_persistence, study, monitor], ids=lambda m: m.__name__)
def test_docstring_examples_hold(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------------------------------------------ the rules

CHECKS = [2, 4, 6, 8, 10, 12, 14, 16]


@pytest.mark.parametrize(
    ("rule", "values", "patience", "stop_epoch", "best_epoch"),
    [
        # validation loss: lowest at epoch 6, then up: patience 2 stops two checks later
        ("validation_loss", [1.0, 0.7, 0.5, 0.6, 0.9, 0.4, 0.3, 0.2], 2, 10, 6),
        # the same with patience 3: the dip at epoch 12 comes in time, and the rule never fires
        ("validation_loss", [1.0, 0.7, 0.5, 0.6, 0.9, 0.4, 0.3, 0.2], 3, None, 16),
        # beta_1 peak density: moves down until epoch 8, then back up (memorizing)
        ("beta1_peak_density", [0.03, 0.02, 0.015, 0.01, 0.012, 0.011, 0.02, 0.03], 2, 12, 8),
        # max beta_2: grows to 60 at epoch 6, then a plateau: equal values are no improvement
        ("max_beta2", [10, 40, 60, 60, 60, 60, 61, 62], 3, 12, 6),
        # neural persistence: grows until epoch 4, then falls
        ("neural_persistence", [0.40, 0.45, 0.44, 0.43, 0.42, 0.41, 0.40, 0.39], 1, 6, 4),
    ],
)
def test_each_rule_stops_where_the_hand_made_series_says(rule, values, patience, stop_epoch, best_epoch):
    spec = rules.RULES[rule]
    decision = stopping_check(values, spec.better, patience)
    assert decision.fired == (stop_epoch is not None)
    assert CHECKS[decision.stop_index] == (stop_epoch if stop_epoch is not None else CHECKS[-1])
    assert CHECKS[decision.best_index] == best_epoch
    # online, one check at a time, the counter says stop at the same check and not before
    counter = PatienceCounter(spec.better, patience)
    said = [counter.update(v) for v in values]
    first = said.index(True) if True in said else None
    assert first == (decision.stop_index if decision.fired else None)
    assert all(said[first:]) if first is not None else not any(said)


def test_min_delta_and_nan():
    # improvements of 0.001 do not count with min_delta 0.01: the rule stops two checks after the first value
    assert stopping_check([1.0, 0.999, 0.998, 0.5], "lower", 2, min_delta=0.01) == rules.StopDecision(2, True, 0)
    # a NaN (no beta_1 class: no peak) never improves, not even as the first value
    assert stopping_check([math.nan, math.nan, 0.3, 0.2], "lower", 2) == rules.StopDecision(1, True, None)
    assert stopping_check([math.nan, 0.3, 0.2, 0.25, 0.3], "lower", 2) == rules.StopDecision(4, True, 2)
    with pytest.raises(ValueError, match="patience"):
        PatienceCounter("lower", patience=0)
    with pytest.raises(ValueError, match="better"):
        PatienceCounter("down", patience=1)


def _series(run: str, trial: int, test_acc, val_loss, beta1, beta2, np_values, check_epochs=CHECKS) -> pd.DataFrame:
    epochs = list(range(len(test_acc)))
    return pd.DataFrame(
        {
            "run": run,
            "trial": trial,
            "epoch": epochs,
            "check": [e in check_epochs for e in epochs],
            "test_acc_pct": test_acc,
            "val_loss": val_loss,
            "beta1_peak_density": beta1,
            "max_beta2": beta2,
            "neural_persistence": np_values,
        }
    )


def test_rule_stops_reports_the_epoch_the_accuracy_there_and_what_is_saved():
    n = 17  # epochs 0..16, checks every second epoch from 2
    test_acc = [10, 50, 60, 70, 80, 85, 90, 88, 86, 84, 82, 80, 78, 76, 74, 72, 70]
    val_loss = [np.nan] * n
    for e, v in zip(CHECKS, [1.0, 0.8, 0.6, 0.5, 0.55, 0.6, 0.7, 0.8]):  # lowest at epoch 8
        val_loss[e] = v
    beta1 = [np.nan] * n
    for e, v in zip(CHECKS, [0.03, 0.02, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06]):  # lowest at epoch 6
        beta1[e] = v
    beta2 = [np.nan] * n
    for e, v in zip(CHECKS, [1, 2, 3, 4, 5, 6, 7, 8]):  # grows to the end: never fires
        beta2[e] = v
    np_values = np.linspace(0.3, 0.5, n)  # grows at every epoch: never fires
    series = _series("r", 0, test_acc, val_loss, beta1, beta2, np_values)
    stops = study.rule_stops(series, list(rules.RULES), patience=2, min_delta={}, last_epoch=16).set_index("rule")
    assert stops.loc["validation_loss", "stop_epoch"] == 12 and stops.loc["validation_loss", "restored_epoch"] == 8
    assert stops.loc["beta1_peak_density", "stop_epoch"] == 10
    assert stops.loc["max_beta2", "stop_epoch"] == 16 and not stops.loc["max_beta2", "fired"]
    assert stops.loc["neural_persistence", "stop_epoch"] == 16
    assert stops.loc["last_epoch", "stop_epoch"] == 16
    assert stops.loc["validation_loss", "test_acc_at_stop_pct"] == 78  # the accuracy at epoch 12
    assert stops.loc["validation_loss", "test_acc_restored_pct"] == 86  # at its best check, epoch 8
    assert (stops["best_test_acc_pct"] == 90).all() and (stops["best_test_epoch"] == 6).all()
    assert stops.loc["validation_loss", "regret_pp"] == 12 and stops.loc["beta1_peak_density", "regret_pp"] == 8
    assert stops.loc["validation_loss", "epochs_saved"] == 4 and stops.loc["last_epoch", "epochs_saved"] == 0


def test_intervals_differences_and_verdicts():
    mean, low, high = study.t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert mean == 3.0 and low == pytest.approx(3 - 2.776445 * math.sqrt(2.5) / math.sqrt(5), abs=1e-5)
    assert math.isnan(study.t_interval([2.0])[1])
    assert study.verdict([1.0, 2.0, 1.5], 0.5, 2.5) == "better"
    assert study.verdict([-1.0, -2.0], -3.0, -0.1) == "worse"
    assert study.verdict([-1.0, 2.0], -5.0, 6.0) == "not distinguishable"
    assert study.verdict([0.0, 0.0], 0.0, 0.0) == "same in every trial"
    assert study.verdict([1.0], math.nan, math.nan) == "too few trials"
    # per trial: the rule stops at 80% and 70%, the validation loss at 90% and 80%: the rule is 10 pp worse
    stops = pd.DataFrame(
        {
            "run": "r",
            "trial": [0, 0, 0, 1, 1, 1],
            "rule": ["validation_loss", "beta1_peak_density", "last_epoch"] * 2,
            "test_acc_at_stop_pct": [90.0, 80.0, 70.0, 80.0, 70.0, 75.0],
            "stop_epoch": [10, 6, 20, 12, 8, 20],
        }
    )
    diff = study.paired_differences(stops).set_index(["rule", "baseline", "metric"])
    row = diff.loc[("beta1_peak_density", "validation_loss", "test_acc_at_stop_pct")]
    assert row["mean"] == -10.0 and row["ci_low"] == row["ci_high"] == -10.0 and row["verdict"] == "worse"
    assert diff.loc[("beta1_peak_density", "validation_loss", "stop_epoch"), "mean"] == -4.0
    assert diff.loc[("validation_loss", "last_epoch", "test_acc_at_stop_pct"), "mean"] == 12.5


def test_patience_is_chosen_by_the_stated_criterion_ties_to_the_smaller():
    sweep = pd.DataFrame(
        {
            "patience": [2, 3, 4, 5],
            "run": "all",
            "rule": "all",
            "mean_test_acc_at_stop_pct": [80.0, 82.0, 82.05, 81.0],
        }
    )
    assert study.choose_patience(sweep) == 3  # 82.05 is within 0.1 pp of 82.0: the smaller wins
    sweep.loc[2, "mean_test_acc_at_stop_pct"] = 82.5
    assert study.choose_patience(sweep) == 4


# ------------------------------------------------------------------------------------- neural persistence


def test_neural_persistence_of_a_hand_made_layer():
    # inputs i0, i1; outputs o0, o1; |w| / w_max: o0-i0 1.0, o0-i1 0.5, o1-i0 0.25, o1-i1 0.8. From the largest
    # weight down: 1.0 joins o0-i0 (persistence 1 - 1 = 0), 0.8 joins o1-i1 (0.2), 0.5 joins the two components
    # (0.5); 0.25 closes a cycle and kills nothing. NP = sqrt(0^2 + 0.2^2 + 0.5^2); the bound is sqrt(4 - 1).
    w = np.array([[1.0, 0.5], [0.25, 0.8]])
    np.testing.assert_allclose(layer_persistences(w), [0.5, 0.2, 0.0], atol=1e-15)
    result = np_of([w])
    layer = result.layers[0]
    assert (layer.n_in, layer.n_out) == (2, 2)
    assert layer.total_persistence == pytest.approx(math.sqrt(0.29), abs=1e-12)
    assert layer.normalized == pytest.approx(math.sqrt(0.29) / math.sqrt(3), abs=1e-12)
    assert result.mean_normalized == pytest.approx(math.sqrt(0.29) / math.sqrt(3), abs=1e-12)
    # the authors' code counts the essential class as a pair (1, 0), of persistence 1
    with_essential = np_of([w], include_essential=True).layers[0]
    assert with_essential.total_persistence == pytest.approx(math.sqrt(1.29), abs=1e-12)
    # signs do not matter, a global scale does not matter
    assert np_of([-3.0 * w]).mean_normalized == pytest.approx(result.mean_normalized, abs=1e-12)


def test_neural_persistence_normalizes_by_the_largest_weight_of_the_whole_network():
    # layer 2 (1 output, 2 inputs) has weights 0.5 and 0.1 of the network's largest, 1.0 (in layer 1): its
    # spanning tree takes both edges, persistences 0.5 and 0.9 -> NP sqrt(0.25 + 0.81), bound sqrt(3 - 1)
    layer1 = np.array([[1.0, 0.5], [0.25, 0.8]])
    layer2 = np.array([[0.5, -0.1]])
    result = np_of({"fc1": layer1, "fc2": layer2})
    fc2 = result.layers[1]
    assert fc2.layer == "fc2" and fc2.total_persistence == pytest.approx(math.sqrt(1.06), abs=1e-12)
    assert fc2.normalized == pytest.approx(math.sqrt(1.06) / math.sqrt(2), abs=1e-12)
    assert result.mean_normalized == pytest.approx((math.sqrt(0.29 / 3) + math.sqrt(1.06 / 2)) / 2, abs=1e-12)
    # alone, the same layer is normalized by its own largest weight: 0.5 -> 1.0, 0.1 -> 0.2
    assert np_of([layer2]).layers[0].total_persistence == pytest.approx(0.8, abs=1e-12)


def test_neural_persistence_equals_gudhi_zero_dimensional_persistence():
    gudhi = pytest.importorskip("gudhi")
    rng = np.random.default_rng(1)
    w = np.abs(rng.normal(size=(7, 11)))
    w /= w.max()
    tree = gudhi.SimplexTree()
    n_out, n_in = w.shape
    for v in range(n_out + n_in):
        tree.insert([v], filtration=0.0)  # every vertex at the start (w' = 1)
    for o in range(n_out):
        for i in range(n_in):
            tree.insert([o, n_out + i], filtration=1.0 - w[o, i])  # the largest weight first
    tree.compute_persistence(min_persistence=-1)
    deaths = np.sort([d for dim, (b, d) in tree.persistence() if dim == 0 and np.isfinite(d)])[::-1]
    # gudhi leaves out the pairs of length 0 (here the edge of the largest weight, born and dead at 0)
    deaths = np.r_[deaths, np.zeros(n_out + n_in - 1 - len(deaths))]
    np.testing.assert_allclose(layer_persistences(w), deaths, atol=1e-12)


def test_linear_weights_are_the_fully_connected_layers_only():
    assert list(linear_weights(LeNet().state_dict())) == ["fc1", "fc2"]  # the convolutions are left out
    mlp = LeNet300100()
    weights = linear_weights(mlp.state_dict())
    assert {k: v.shape for k, v in weights.items()} == {"fc1": (300, 784), "fc2": (100, 300), "fc3": (10, 100)}
    result = model_neural_persistence(mlp)
    assert [layer.layer for layer in result.layers] == ["fc1", "fc2", "fc3"]
    assert all(0 < layer.normalized < 1 for layer in result.layers)
    with pytest.raises(ValueError, match="no fully connected layer"):
        linear_weights({"conv.weight": torch.zeros(2, 1, 3, 3)})


def test_the_monitor_says_stop_from_a_model_and_a_batch():
    torch.manual_seed(0)
    model, batch = LeNet300100(), torch.rand(120, 1, 28, 28)
    stopper = monitor.TopologicalEarlyStopping("max_beta2", patience=1, max_epsilon=0.3, n_points=31)
    assert stopper(model, batch) is False and len(stopper.history) == 1
    assert stopper(model, batch) is True  # the same model again: no growth of max beta_2
    assert model.training  # the model's mode is restored
    value = monitor.monitored_value("beta1_peak_density", model, (batch, torch.zeros(120)), n_points=31)
    assert math.isnan(value) or 0 <= value <= 1
    with pytest.raises(ValueError, match="validation_loss is the baseline"):
        monitor.TopologicalEarlyStopping("validation_loss")
    with pytest.raises(ValueError, match="needs a batch of training samples"):
        monitor.monitored_value("max_beta2", model)


# ------------------------------------------------------------------------- no test or validation sample


def _write(path: Path, df: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def test_a_topological_rule_may_read_training_samples_only(tmp_path):
    labels = _write(
        tmp_path / "r/trial_0/labels.csv",
        pd.DataFrame({"index": [1, 2, 3, 4, 5], "validation": [False, False, False, True, True]}),
    )
    ok = _write(tmp_path / "r/trial_0/epoch_2/samples.csv", pd.DataFrame({"split": "train", "index": [1, 2, 3]}))
    assert study.check_training_samples([ok], {0: labels}) == 1
    leak = _write(tmp_path / "r/trial_0/epoch_4/samples.csv", pd.DataFrame({"split": "train", "index": [1, 4]}))
    with pytest.raises(study.SampleLeakError, match=r"epoch_4/samples.csv: validation samples \[4\]"):
        study.check_training_samples([ok, leak], {0: labels})
    outside = _write(tmp_path / "r/trial_0/epoch_6/samples.csv", pd.DataFrame({"split": "train", "index": [9]}))
    with pytest.raises(study.SampleLeakError, match=r"samples \[9\] are not among those the network trained on"):
        study.check_training_samples([outside], {0: labels})
    test = _write(tmp_path / "r/trial_0/epoch_8/samples.csv", pd.DataFrame({"split": "test", "index": [1]}))
    with pytest.raises(study.SampleLeakError, match=r"built from \['test'\] samples"):
        study.check_training_samples([test], {0: labels})


# ------------------------------------------------------------------------------------------- configuration


def _config(**study_options) -> dict:
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config" / "early_stopping.yaml").read_text())
    config["early_stopping"] = [{"name": "s", **study_options}]
    validate(config, str(REPO / "schemas" / "config.schema.yaml"), set_default=True)
    return config


def test_options_default_to_every_rule_and_the_topology_epochs_after_0():
    config = _config()
    config["topology"]["epochs"] = [0, 2, 4]
    options = es_config.early_stopping_options(config)["s"]
    assert options["epochs"] == [2, 4] and options["rules"] == list(rules.RULES)
    assert options["min_delta"] == dict.fromkeys(rules.RULES, 0.0) and options["last_epoch"] == 30
    assert options["runs"] == ["mlp_clean", "mlp_noisy40"] and options["patience"] == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["activations"].update(split="test"), "activations.split = 'test'.*training samples only"),
        (lambda c: c["training"].update(validation=0.0), "no validation split"),
        (lambda c: c["topology"].update(max_dim=1), "max_beta2 reads beta_2"),
        (lambda c: c["early_stopping"][0].update(epochs=[3]), r"epochs: \[3\] are not in topology.epochs"),
        (lambda c: c["early_stopping"][0].update(runs=["nope"]), r"runs: \['nope'\] are not run names"),
        (lambda c: c["early_stopping"][0].update(patience=99), "no rule could ever stop"),
        (lambda c: c["early_stopping"][0].update(min_delta={"max_beta2": 1}, rules=["validation_loss"]), "min_delta"),
        (lambda c: c["early_stopping"][0].update(name="../x"), r"early_stopping\[0\].name: .* becomes part of a file"),
    ],
)
def test_config_errors_name_the_key(change, message, monkeypatch):
    config = _config()
    change(config)
    with pytest.raises(workflow_config.ConfigError, match=message):
        workflow_config.check_config(config)


def test_without_topological_rules_a_test_split_run_is_accepted():
    config = _config(rules=["validation_loss", "neural_persistence"])
    config["activations"]["split"] = "test"
    workflow_config.check_config(config)


def test_the_pilot_is_the_reported_design_with_other_seeds():
    shipped = yaml.safe_load((REPO / "config" / "early_stopping.yaml").read_text())
    pilot = yaml.safe_load((REPO / "config" / "early_stopping_pilot.yaml").read_text())
    seeds = {c["training"]["seed"] + t for c in (shipped,) for t in c["trials"]}
    pilot_seeds = {pilot["training"]["seed"] + t for t in pilot["trials"]}
    assert not seeds & pilot_seeds  # no reported run is a pilot run
    for key in ("runs", "activations", "topology", "betti_curves"):
        assert shipped[key] == pilot[key], key
    assert {k: v for k, v in shipped["training"].items() if k != "seed"} == {
        k: v for k, v in pilot["training"].items() if k != "seed"
    }
    assert shipped["early_stopping"][0]["patience"] in pilot["early_stopping"][0]["patience_candidates"]
