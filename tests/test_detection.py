"""The batch-level adversarial-input detector: disjoint, class-mixed halves and batches, honest cross-validation
and intervals, the controls, real features."""

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
    baseline_features,
    cut_batches,
    detection_features,
    detection_table,
    evaluate_detector,
    pool_halves,
    topological_features,
)
from dnn_topology.studies.adversarial.evaluation import (
    batched_logistic_scores,
    fold_splits,
    group_folds,
    logistic_detector,
    out_of_fold_scores,
    refit_bootstrap,
    refit_permutation_pvalue,
    roc_auc,
)


def test_pool_halves_are_disjoint_and_batches_do_not_overlap():
    labels = np.repeat(np.arange(4), [30, 25, 26, 20])  # 101 samples, sorted by class
    clean, attacked = pool_halves(labels, seed=3)
    assert len(clean) == len(attacked) == 50
    assert not set(clean) & set(attacked) and set(clean) | set(attacked) <= set(range(101))
    for c in range(4):  # stratified: each class split evenly between the halves
        assert abs((labels[clean] == c).sum() - (labels[attacked] == c).sum()) <= 1
    batches = cut_batches(len(clean), 12)
    assert len(batches) == 4
    seen = np.concatenate(batches)
    assert len(seen) == len(set(seen)) == 48
    assert len(cut_batches(50, 10, n_batches=3)) == 3
    with pytest.raises(ValueError, match="adversarial.detection"):
        cut_batches(50, 10, n_batches=6)


def test_batches_mix_classes():
    """The mnist5k test split is ordered by class; every batch of 50 of a half must hold all ten digits in about
    equal numbers (the shipped detector's batches were each almost one digit)."""
    labels = dsets.mnist5k_arrays()[3]
    assert (np.diff(labels) >= 0).all()  # sorted by class: what made consecutive batches single-digit
    for half in pool_halves(labels, seed=0):
        for idx in cut_batches(len(half), 50):
            counts = np.bincount(labels[half[idx]], minlength=10)
            assert counts.min() >= 4 and counts.max() <= 6, counts
    # small batches still mix: every batch of 5 of a 10-class pool holds 5 different classes
    for idx in cut_batches(500, 5):
        assert len(set(labels[pool_halves(labels, seed=1)[0][idx]])) == 5


def test_no_batch_is_in_both_train_and_test_folds():
    labels = np.array([0] * 12 + [1] * 12)
    splits = fold_splits(group_folds(np.arange(24), labels, folds=5, seed=0))
    assert len(splits) == 5
    tested = np.concatenate([test for _, test in splits])
    assert sorted(tested) == list(range(24))  # every batch is tested exactly once
    for train, test in splits:
        assert not set(train) & set(test)
        assert set(train) | set(test) == set(range(24))
        assert set(labels[test]) == {0, 1}  # stratified
    # fewer batches of a class than folds: as many folds as that class has batches
    assert len(np.unique(group_folds(np.arange(13), np.array([0] * 3 + [1] * 10), folds=5))) == 3
    # copies of one group (a bootstrap resample) always share a fold
    groups = np.array([0, 0, 1, 2, 2, 2, 3, 4, 5, 5])
    folds = group_folds(groups, (groups >= 3).astype(int), folds=2)
    assert all(len(set(folds[groups == g])) == 1 for g in np.unique(groups))


def test_out_of_fold_scores_never_see_their_own_batch():
    # features that identify each batch: a detector fitted on a batch would score it perfectly, one that
    # never saw it can only guess (labels are independent of the features)
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 20)
    X = np.eye(40) * 5 + rng.normal(0, 0.01, (40, 40))
    scores = out_of_fold_scores(X, labels, fold_splits(group_folds(np.arange(40), labels, 5)))
    assert 0.2 < roc_auc(labels, scores) < 0.8
    insample = out_of_fold_scores(X, labels, [(np.arange(40), np.arange(40))])
    assert roc_auc(labels, insample) == 1.0


def test_auc_matches_scikit_learn():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 40)
    scores = rng.integers(0, 6, 40).astype(float)  # ties
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))


@pytest.mark.parametrize("n, p", [(20, 78), (20, 11), (40, 3)])
def test_batched_logistic_regression_is_scikit_learns(n, p):
    """The resampling's fast fit (Newton, kernel form) solves scikit-learn's problem: same decision values."""
    rng = np.random.default_rng(n + p)
    X = rng.normal(size=(n, p))
    X[:, 0] *= 100  # scales differ: standardisation matters
    X[:, 1] = 3.0  # a constant feature
    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    X[y == 1, 2] += 1.5
    train = np.ones(n, bool)
    train[::4] = False
    model = logistic_detector()
    model.steps[-1][1].set_params(tol=1e-12, max_iter=100000)
    expected = model.fit(X[train], y[train]).decision_function(X)
    np.testing.assert_allclose(batched_logistic_scores(X[None], y[None], train[None])[0], expected, atol=1e-5)


def test_refit_intervals_and_permutation_test_under_the_null_and_not():
    rng = np.random.default_rng(2)
    labels = np.r_[np.zeros(10, int), np.ones(10, int)]
    null = rng.normal(size=(20, 30))
    low, high = refit_bootstrap(null, labels, np.arange(20), 5, n_bootstrap=300)
    assert low < 0.5 < high  # no signal: the interval covers chance
    auc = roc_auc(labels, out_of_fold_scores(null, labels, fold_splits(group_folds(np.arange(20), labels, 5))))
    assert refit_permutation_pvalue(null, labels, np.arange(20), 5, auc, n_permutations=99) > 0.05
    signal = null.copy()
    signal[labels == 1, :3] += 2.0
    low, high = refit_bootstrap(signal, labels, np.arange(20), 5, n_bootstrap=300)
    assert low > 0.5
    auc = roc_auc(labels, out_of_fold_scores(signal, labels, fold_splits(group_folds(np.arange(20), labels, 5))))
    assert auc > 0.8 and refit_permutation_pvalue(signal, labels, np.arange(20), 5, auc, n_permutations=99) < 0.05


def test_refit_bootstrap_with_few_groups_redraws_resamples_it_cannot_cross_validate():
    """4 groups a side (2 rows each): about 1 resample in 64 holds a single distinct group of a side, which
    cross-validation cannot split; those are drawn again instead of failing, and 1 group a side is refused."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 0, 0, 0, 1, 1, 1, 1], 2)
    groups = np.repeat(np.arange(8), 2)
    X = rng.normal(size=(16, 3)) + 2.0 * labels[:, None]
    low, high = refit_bootstrap(X, labels, groups, 4, n_bootstrap=400)
    assert 0.5 < low <= high <= 1.0
    with pytest.raises(ValueError, match="at least 2 groups of each kind"):
        refit_bootstrap(X[[0, 1, 8, 9]], labels[[0, 1, 8, 9]], groups[[0, 1, 8, 9]], 2, n_bootstrap=10)


def test_detector_separates_separable_batches_and_not_random_ones():
    rng = np.random.default_rng(2)
    clean = pd.DataFrame({"label": 0, "topo_x": rng.normal(0, 1, 15), "base_x": rng.normal(0, 1, 15)})
    attacked = pd.DataFrame({"label": 1, "topo_x": rng.normal(5, 1, 15), "base_x": rng.normal(0, 1, 15)})
    topo = evaluate_detector(clean, attacked, "topology", n_bootstrap=300, n_permutations=99)
    base = evaluate_detector(clean, attacked, "baseline", n_bootstrap=300, n_permutations=99)
    assert topo["auc"] > 0.95 and topo["n_features"] == 1 and topo["n_clean"] == topo["n_attacked"] == 15
    assert topo["p_value"] == 0.01
    assert base["auc_low"] < 0.5 < base["auc_high"] and base["p_value"] > 0.05
    assert evaluate_detector(clean, attacked, "combined", n_bootstrap=300, n_permutations=99)["n_features"] == 2


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
    # the clean job describes both halves (B clean is the null control's other side), the attack job half B
    assert len(clean) == 8 and list(clean["half"]) == ["A"] * 4 + ["B"] * 4 and set(clean["label"]) == {0}
    assert len(attacked) == 4 and set(attacked["half"]) == {"B"} and set(attacked["label"]) == {1}
    halves = dict(zip("AB", pool_halves(dsets.mnist5k_arrays()[3][:90], 0)))
    assert set(clean.loc[clean["half"] == "A", "first_sample"]) <= set(halves["A"])
    assert set(attacked["first_sample"]) <= set(halves["B"])
    assert (clean["n_classes"] == 1).all()  # the first 90 test digits of mnist5k (sorted by class) are all zeros
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
        n_permutations=50,
    )
    assert list(table["features"]) == ["topology", "baseline", "combined"] * 2
    assert list(table["role"]) == ["null_control"] * 3 + ["attack"] * 3
    assert list(table["attack"])[:3] == ["clean-vs-clean"] * 3
    assert (table["folds"] == 4).all() and table["auc"].between(0, 1).all() and table["p_value"].between(0, 1).all()
