"""Memorization controls are deterministic and recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from dnn_topology.networks.datasets import DatasetSpec, dataset_labels, get_spec
from dnn_topology.networks.labels import (
    RelabelledDataset,
    apply_memorization_controls,
    binarize_labels,
    effective_spec,
    subset_indices,
    training_pool,
    validation_positions,
)

RNG = np.random.default_rng(0)


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
    assert list(rec.columns) == ["index", "original_label", "new_label", "permuted", "validation"]
    assert not rec["validation"].any()
    assert rec["permuted"].sum() == round(fraction * 1000)
    kept = rec[~rec["permuted"]]
    assert (kept["new_label"] == kept["original_label"]).all()
    moved = rec[rec["permuted"]]
    assert sorted(moved["new_label"]) == sorted(moved["original_label"])  # shuffled among themselves
    assert (moved["new_label"] != moved["original_label"]).mean() > 0.5  # and really moved
    np.testing.assert_array_equal(
        ctl.labels, apply_memorization_controls(labels, permute_fraction=fraction, seed=3).labels
    )
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
        apply_memorization_controls(labels, permute_fraction=2)


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
    np.testing.assert_array_equal(apply_memorization_controls(labels, binarize_class=3).labels, [0, 1, 1, 0, 0])
    spec = get_spec("cifar10")
    assert effective_spec(spec, 3) == DatasetSpec("cifar10", 3, 32, 2)
    assert effective_spec(spec, None) is spec
    for bad in (10, -1, 1.5, True):
        with pytest.raises(ValueError, match="binarize_class"):
            effective_spec(spec, bad)
    with pytest.raises(ValueError, match="binarize_class"):
        apply_memorization_controls(labels, binarize_class=5)  # absent class: every label would be 0


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


def test_validation_split_is_a_seeded_part_of_the_subset_disjoint_from_training():
    trained, held = training_pool(4000, subset=0.1, validation=0.2, seed=5)
    assert len(trained) == 320 and len(held) == 80 and not set(trained) & set(held)
    np.testing.assert_array_equal(np.sort(np.r_[trained, held]), subset_indices(4000, 0.1, seed=5))
    again = training_pool(4000, subset=0.1, validation=0.2, seed=5)
    np.testing.assert_array_equal(held, again[1])
    assert not np.array_equal(held, training_pool(4000, subset=0.1, validation=0.2, seed=6)[1])
    # no split: the subset itself
    np.testing.assert_array_equal(training_pool(4000, 0.1, 0.0, seed=5)[0], subset_indices(4000, 0.1, seed=5))
    assert len(validation_positions(3, 0.01)) == 1  # a split asked for holds at least one sample
    with pytest.raises(ValueError, match="'validation'.*none to train on"):
        validation_positions(1, 0.5)


def test_validation_split_is_drawn_after_the_permutation_and_recorded():
    labels = RNG.integers(0, 10, size=1000)
    ctl = apply_memorization_controls(
        labels, subset_fraction=0.4, permute_fraction=0.5, seed=2, validation_fraction=0.25
    )
    no_split = apply_memorization_controls(labels, subset_fraction=0.4, permute_fraction=0.5, seed=2)
    # the same subset and the same (noisy) labels: the split only marks samples
    np.testing.assert_array_equal(ctl.indices, no_split.indices)
    np.testing.assert_array_equal(ctl.labels, no_split.labels)
    assert ctl.record["validation"].sum() == 100 and ctl.validation.sum() == 100
    np.testing.assert_array_equal(ctl.record["validation"], ctl.validation)
    np.testing.assert_array_equal(ctl.indices[ctl.validation], training_pool(1000, 0.4, 0.25, seed=2)[1])
    assert ctl.record.loc[ctl.validation, "permuted"].any()  # the held-out labels are as noisy as the others
