"""Which samples feed the activations: the test split's first N, or N drawn from the samples trained on."""

from __future__ import annotations

import numpy as np
import pytest

from dnn_topology.networks.activations import fixed_samples, sample_indices
from dnn_topology.networks.labels import subset_indices, training_pool
from dnn_topology.networks.samples import SampleSet


def test_test_split_is_the_first_n():
    np.testing.assert_array_equal(sample_indices(1000, 300, "test"), np.arange(300))


def test_train_split_draws_from_the_trained_samples_deterministically():
    trained = set(subset_indices(4000, 0.1, seed=3).tolist())
    a = sample_indices(4000, 300, "train", subset=0.1, training_seed=3)
    assert len(a) == len(set(a.tolist())) == 300 and set(a.tolist()) <= trained
    np.testing.assert_array_equal(a, sample_indices(4000, 300, "train", subset=0.1, training_seed=3))
    other = sample_indices(4000, 300, "train", subset=0.1, training_seed=4)  # another trial trains on other samples
    assert not set(other.tolist()) <= trained
    full = sample_indices(4000, 300, "train")
    assert full.max() > 2000  # a uniform draw, not the first 300 (mnist5k's train split is sorted by class)


def test_too_many_samples_for_the_trained_subset():
    with pytest.raises(ValueError, match=r"trained on 400 samples \(training.subset = 0.1 of 4000, less"):
        sample_indices(4000, 500, "train", subset=0.1)


@pytest.mark.slow
def test_fixed_samples_record_the_split_indices_and_labels():
    samples, record = fixed_samples(SampleSet("mnist5k", 50, "train", subset=0.5, seed=1))
    assert list(record.columns) == ["split", "index", "label"] and (record["split"] == "train").all()
    np.testing.assert_array_equal(record["index"], sample_indices(4000, 50, "train", 0.5, 1))
    assert [int(samples[i][1]) for i in range(5)] == record["label"].tolist()[:5]
    assert record["label"].nunique() > 5


def test_train_split_never_draws_a_validation_sample():
    trained, held = training_pool(4000, subset=0.1, validation=0.2, seed=3)
    a = sample_indices(4000, 320, "train", subset=0.1, training_seed=3, validation=0.2)  # all that is left
    np.testing.assert_array_equal(a, trained)
    assert not set(a.tolist()) & set(held.tolist())
    with pytest.raises(ValueError, match="trained on 320 samples"):
        sample_indices(4000, 321, "train", subset=0.1, training_seed=3, validation=0.2)
    # without a split the draw is the one it always was
    np.testing.assert_array_equal(
        sample_indices(4000, 300, "train", 0.1, 3, validation=0.0), sample_indices(4000, 300, "train", 0.1, 3)
    )


@pytest.mark.slow
def test_a_sample_set_with_a_validation_split_draws_none_of_it():
    _, record = fixed_samples(SampleSet("mnist5k", 320, "train", subset=0.1, seed=3, validation=0.2))
    trained, held = training_pool(4000, 0.1, 0.2, seed=3)
    assert record["index"].tolist() == trained.tolist()
