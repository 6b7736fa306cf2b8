"""Life and midlife of a small hand-made diagram against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dnn_topology.topology.dipha_files import Diagram, write_persistence_diagram
from dnn_topology.topology.features import diagram_file_features, life_midlife, parse_feature_name, required_dims

# DIPHA coding: dim -k-1 = essential class of H_k (its "death" is the cut-off, not a property of the class)
DIMS = np.array([0, 0, -1, 1, 1, 1, -2, 2])
BIRTHS = np.array([0.0, 0.0, 0.0, 0.10, 0.20, 0.05, 0.30, 0.25])
DEATHS = np.array([0.1, 0.3, 0.5, 0.15, 0.40, 0.06, 0.50, 0.265])


def test_every_finite_pair_with_zero_min_persistence():
    f = life_midlife(DIMS, BIRTHS, DEATHS, max_dim=2, min_persistence=0.0)
    # H0: pairs (0, .1), (0, .3); the essential (0, .5) is left out
    assert f["life_h0"] == pytest.approx((0.1 + 0.3) / 2)
    assert f["midlife_h0"] == pytest.approx((0.05 + 0.15) / 2)
    # H1: lives .05, .20, .01; midlives .125, .30, .055; the essential (.3, .5) is left out
    assert f["life_h1"] == pytest.approx(0.26 / 3)
    assert f["midlife_h1"] == pytest.approx(0.48 / 3)
    assert (f["n_pairs_h1"], f["n_essential_h1"]) == (3, 1)
    assert f["life_h2"] == pytest.approx(0.015)
    assert f["midlife_h2"] == pytest.approx(0.2575)


def test_min_persistence_drops_short_pairs_as_the_original():
    f = life_midlife(DIMS, BIRTHS, DEATHS, max_dim=2, min_persistence=0.02)
    # H1 (.05, .06) has life .01 <= .02: dropped; the two others stay
    assert f["life_h1"] == pytest.approx((0.05 + 0.20) / 2)
    assert f["midlife_h1"] == pytest.approx((0.125 + 0.30) / 2)  # (b + d)/2, not the original's d + b/2
    assert f["n_pairs_h1"] == 2
    # H2's only pair has life .015: nothing left, NaN rather than 0
    assert f["n_pairs_h2"] == 0 and math.isnan(f["life_h2"]) and math.isnan(f["midlife_h2"])
    assert f["n_essential_h2"] == 0


def test_a_pair_exactly_at_min_persistence_is_dropped():
    # binary-exact values: life 0.25 - 0.125 = 0.125 exactly
    f = life_midlife([1, 1], [0.125, 0.0], [0.25, 0.5], max_dim=1, min_persistence=0.125)
    assert f["n_pairs_h1"] == 1 and f["life_h1"] == 0.5 and f["midlife_h1"] == 0.25
    assert f["n_pairs_h0"] == 0 and math.isnan(f["life_h0"])


def test_file_features_equal_array_features(tmp_path):
    path = tmp_path / "diagram.bin"
    write_persistence_diagram(path, Diagram(DIMS, BIRTHS, DEATHS))
    assert diagram_file_features(path, 2, 0.02) == pytest.approx(
        life_midlife(DIMS, BIRTHS, DEATHS, 2, 0.02), nan_ok=True
    )


def test_bad_min_persistence_and_names():
    with pytest.raises(ValueError, match="min_persistence"):
        life_midlife(DIMS, BIRTHS, DEATHS, 1, -0.1)
    assert parse_feature_name("midlife_h1") == ("midlife", 1)
    assert parse_feature_name("train_acc") is None
    assert required_dims(["life_h1", "train_acc", "midlife_h2"]) == 2
