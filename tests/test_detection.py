"""The adversarial-input detector: disjoint halves and batches, honest cross-validation, real features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from dnn_topology.networks import datasets as dsets
from dnn_topology.networks import models
from dnn_topology.networks.samples import SampleSet
from dnn_topology.studies.adversarial.config import AttackSpec
from dnn_topology.studies.adversarial.detection import (
    auc_interval,
    baseline_features,
    cut_batches,
    detection_features,
    detection_table,
    evaluate_detector,
    out_of_fold_scores,
    pool_halves,
    roc_auc,
    stratified_folds,
    topological_features,
)


def test_pool_halves_are_disjoint_and_batches_do_not_overlap():
    clean, attacked = pool_halves(101, seed=3)
    assert len(clean) == len(attacked) == 50
    assert not set(clean) & set(attacked) and set(clean) | set(attacked) <= set(range(101))
    batches = cut_batches(len(clean), 12)
    assert len(batches) == 4
    seen = np.concatenate(batches)
    assert len(seen) == len(set(seen)) == 48
    assert len(cut_batches(50, 10, n_batches=3)) == 3
    with pytest.raises(ValueError, match="adversarial.detection"):
        cut_batches(50, 10, n_batches=6)


def test_no_batch_is_in_both_train_and_test_folds():
    labels = np.array([0] * 12 + [1] * 12)
    splits = stratified_folds(labels, folds=5, seed=0)
    assert len(splits) == 5
    tested = np.concatenate([test for _, test in splits])
    assert sorted(tested) == list(range(24))  # every batch is tested exactly once
    for train, test in splits:
        assert not set(train) & set(test)
        assert set(train) | set(test) == set(range(24))
        assert set(labels[test]) == {0, 1}  # stratified
    # fewer batches of a class than folds: as many folds as that class has batches
    assert len(stratified_folds(np.array([0] * 3 + [1] * 10), folds=5)) == 3


def test_out_of_fold_scores_never_see_their_own_batch():
    # features that identify each batch: a detector fitted on a batch would score it perfectly, one that
    # never saw it can only guess (labels are independent of the features)
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 20)
    X = np.eye(40) * 5 + rng.normal(0, 0.01, (40, 40))
    scores = out_of_fold_scores(X, labels, stratified_folds(labels, 5))
    assert 0.2 < roc_auc(labels, scores) < 0.8
    insample = out_of_fold_scores(X, labels, [(np.arange(40), np.arange(40))])
    assert roc_auc(labels, insample) == 1.0


def test_auc_matches_scikit_learn_and_its_interval_covers_it():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 40)
    scores = rng.integers(0, 6, 40).astype(float)  # ties
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))
    auc, low, high = auc_interval(labels, scores, n_bootstrap=500)
    assert low <= auc <= high and 0 <= low and high <= 1


def test_detector_separates_separable_batches_and_not_random_ones():
    rng = np.random.default_rng(2)
    clean = pd.DataFrame({"label": 0, "topo_x": rng.normal(0, 1, 15), "base_x": rng.normal(0, 1, 15)})
    attacked = pd.DataFrame({"label": 1, "topo_x": rng.normal(5, 1, 15), "base_x": rng.normal(0, 1, 15)})
    topo = evaluate_detector(clean, attacked, "topology", n_bootstrap=300)
    base = evaluate_detector(clean, attacked, "baseline", n_bootstrap=300)
    assert topo["auc"] > 0.95 and topo["n_features"] == 1 and topo["n_clean"] == topo["n_attacked"] == 15
    assert base["auc_low"] < 0.5 < base["auc_high"]
    assert evaluate_detector(clean, attacked, "combined", n_bootstrap=300)["n_features"] == 2


def test_topological_and_baseline_features_of_real_activations():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(30, 20)).astype(np.float32)
    acts[:, 10:] = acts[:, :10] + 0.1 * rng.normal(size=(30, 10))  # 10 strongly correlated pairs
    f = topological_features(acts, max_dim=1, max_epsilon=0.3, n_points=11)
    assert f["topo_b0_000"] == 20  # every node is a component at epsilon 0
    assert f["topo_b0_010"] <= 10  # each correlated pair has merged by the cut
    assert {"topo_max_betti_h1", "topo_auc_density_pct_h0", "topo_mean_life_h1"} <= set(f)
    layers = np.array(["a"] * 5 + ["b"] * 15)
    logits = np.zeros((30, 10))
    b = baseline_features(acts, layers, logits)
    assert b["base_mean_a"] == pytest.approx(acts[:, :5].mean()) and b["base_var_b"] == pytest.approx(acts[:, 5:].var())
    assert b["base_confidence_mean"] == pytest.approx(0.1) and b["base_entropy_mean"] == pytest.approx(np.log(10))


@pytest.mark.slow
def test_detection_features_on_a_real_checkpoint(tmp_path):
    torch.manual_seed(0)
    net = models.build_network("lenet", dsets.get_spec("mnist5k"))
    torch.save({"net": net.state_dict()}, tmp_path / "epoch_0.pt")
    detection = {
        "n_pool": 90,
        "seed": 0,
        "batch_size": 10,
        "n_batches": None,
        "node_selection": {"method": "random", "n_nodes": 30, "seed": 0},
        "max_dim": 1,
        "max_epsilon": 0.3,
        "n_points": 11,
    }
    common = dict(
        checkpoint=tmp_path / "epoch_0.pt",
        network="lenet",
        sample_set=SampleSet("mnist5k", n_samples=90, split="test"),
        detection=detection,
        device="cpu",
    )
    clean = detection_features(attack_spec=None, **common)
    attacked = detection_features(attack_spec=AttackSpec("fgsm", "fgsm", 0.2).to_dict(), **common)
    assert len(clean) == len(attacked) == 4 and set(clean["label"]) == {0} and set(attacked["label"]) == {1}
    clean_half, attacked_half = pool_halves(90, 0)
    assert set(clean["first_sample"]) <= set(clean_half) and set(attacked["first_sample"]) <= set(attacked_half)
    # components at epsilon 0: the 30 nodes, less those at distance 0 (|corr| = 1) of another one
    assert clean["topo_b0_000"].between(20, 30).all()
    for name, df in (("clean", clean), ("attacked", attacked)):
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    table = detection_table(
        {(0, 0): tmp_path / "clean.csv"},
        {(0, 0, "adv_fgsm_eps0.2"): tmp_path / "attacked.csv"},
        {"adv_fgsm_eps0.2": AttackSpec("fgsm", "fgsm", 0.2).to_dict()},
        batch_size=10,
        n_bootstrap=200,
    )
    assert list(table["features"]) == ["topology", "baseline", "combined"]
    assert (table["folds"] == 4).all() and table["auc"].between(0, 1).all()
