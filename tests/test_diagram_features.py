"""Diagram features (life, midlife, Ballester et al.'s statistics) of a small hand-made diagram against values
computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dnn_topology.topology.dipha_files import Diagram, write_persistence_diagram
from dnn_topology.topology.features import (
    diagram_features,
    diagram_file_features,
    feature_unit,
    life_midlife,
    pair_statistics,
    parse_feature_name,
    persistent_entropy,
    required_dims,
)

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
        diagram_features(DIMS, BIRTHS, DEATHS, 2, 0.02), nan_ok=True
    )


def test_bad_min_persistence_and_names():
    with pytest.raises(ValueError, match="min_persistence"):
        life_midlife(DIMS, BIRTHS, DEATHS, 1, -0.1)
    assert parse_feature_name("midlife_h1") == ("midlife", 1)
    assert parse_feature_name("train_acc") is None
    assert required_dims(["life_h1", "train_acc", "midlife_h2"]) == 2


def test_ballester_statistics_of_h1_by_hand():
    f = diagram_features(DIMS, BIRTHS, DEATHS, max_dim=2, min_persistence=0.0)
    # H1 finite pairs (.10, .15), (.20, .40), (.05, .06); the essential (.30, .50) is left out.
    # births .10 .20 .05: mean .35/3; deviations -.016667 .083333 -.066667, squares sum .0116667, /3 -> std .0623610
    assert f["birth_h1"] == pytest.approx(0.116667, abs=1e-6)
    assert f["birth_std_h1"] == pytest.approx(0.0623610, abs=1e-7)
    # deaths .15 .40 .06: mean .61/3; squares of deviations sum .0620667, /3 -> std .1438363
    assert f["death_h1"] == pytest.approx(0.203333, abs=1e-6)
    assert f["death_std_h1"] == pytest.approx(0.1438363, abs=1e-7)
    # lives .05 .20 .01: squares of deviations from .086667 sum .0200667, /3 -> std .0817856
    assert f["life_std_h1"] == pytest.approx(0.0817856, abs=1e-7)
    # midlives .125 .30 .055: mean .16, deviations -.035 .14 -.105, squares sum .03185, /3 -> std .1030372
    assert f["midlife_std_h1"] == pytest.approx(0.1030372, abs=1e-7)
    # p = .05/.26, .20/.26, .01/.26 = .192308 .769231 .038462; -sum p ln p = .317050 + .201819 + .125311
    assert f["entropy_h1"] == pytest.approx(0.644180, abs=1e-6)
    # the paper's lambda and mu are the same numbers as life_midlife's
    assert f["life_h1"] == pytest.approx(0.26 / 3) and f["midlife_h1"] == pytest.approx(0.48 / 3)


def test_ballester_statistics_of_h0_h2_and_after_min_persistence():
    f = diagram_features(DIMS, BIRTHS, DEATHS, max_dim=2, min_persistence=0.0)
    # H0 finite pairs (0, .1), (0, .3): births all 0; deaths .1 .3 -> mean .2, std .1; midlives .05 .15 -> std .05
    assert (f["birth_h0"], f["birth_std_h0"]) == (0.0, 0.0)
    assert f["death_h0"] == pytest.approx(0.2) and f["death_std_h0"] == pytest.approx(0.1)
    assert f["life_std_h0"] == pytest.approx(0.1) and f["midlife_std_h0"] == pytest.approx(0.05)
    # p = .25, .75: .25 ln 4 + .75 ln(4/3) = .346574 + .215762
    assert f["entropy_h0"] == pytest.approx(0.562335, abs=1e-6)
    assert f["n_essential_h0"] == 1
    # H2: one pair (.25, .265): no spread, entropy 0
    assert (f["life_std_h2"], f["birth_std_h2"], f["entropy_h2"]) == (0.0, 0.0, 0.0)
    # min_persistence .02 drops H1's (.05, .06): lives .05 .20, p = .2 .8 -> .2 ln 5 + .8 ln 1.25 = .321888 + .178515
    g = diagram_features(DIMS, BIRTHS, DEATHS, max_dim=2, min_persistence=0.02)
    assert g["entropy_h1"] == pytest.approx(0.500402, abs=1e-6)
    assert g["birth_h1"] == pytest.approx(0.15) and g["birth_std_h1"] == pytest.approx(0.05)
    # H2 has nothing left: every statistic NaN, never 0
    assert all(math.isnan(g[f"{k}_h2"]) for k in ("birth", "death", "life_std", "birth_std", "entropy"))
    # life_midlife is the paper's subset of the same numbers
    sub = life_midlife(DIMS, BIRTHS, DEATHS, 2, 0.02)
    assert set(sub) == {f"{k}_h{d}" for k in ("life", "midlife", "n_pairs", "n_essential") for d in range(3)}
    assert sub == pytest.approx({k: g[k] for k in sub}, nan_ok=True)


def test_persistent_entropy_and_pair_statistics_edge_cases():
    assert persistent_entropy([0.2] * 4) == pytest.approx(math.log(4))  # n equal lives: log n
    assert persistent_entropy([0.7]) == 0.0
    assert math.isnan(persistent_entropy([]))
    with pytest.raises(ValueError, match="positive lives"):
        persistent_entropy([0.1, 0.0])
    empty = pair_statistics([], [])
    assert all(math.isnan(v) for v in empty.values())
    assert parse_feature_name("birth_std_h1") == ("birth_std", 1)
    assert parse_feature_name("entropy_h0") == ("entropy", 0)
    assert feature_unit("entropy_h1").startswith("nats")
    assert required_dims(["death_std_h2", "weight_l2"]) == 2
