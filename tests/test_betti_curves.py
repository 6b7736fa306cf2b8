"""Betti curves and summaries from DIPHA-convention diagrams."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dnn_topology.topology.betti import betti_curves, betti_curves_stage, epsilon_grid, summarize

FIXTURES = Path(__file__).parent / "data" / "dipha"

# H0: an essential component and two finite ones; H1: a finite class and an essential one
DIMS = np.array([-2, -1, 0, 0, 1])
BIRTHS = np.array([0.2, 0.0, 0.0, 0.0, 0.1])
DEATHS = np.array([0.3, 0.3, 0.1, 0.2, 0.25])
GRID = np.array([0.0, 0.1, 0.2, 0.3])
DISTANCES = np.sort(np.array([0.2, 0.4, 0.5, 0.6]))  # the kept pairs of a 4-node graph (6 pairs in all)


def test_betti_numbers_count_finite_and_essential_classes():
    curves = betti_curves(DIMS, BIRTHS, DEATHS, 2, GRID, DISTANCES, n_nodes=4)
    b = {k: curves[curves["dim"] == k]["betti"].tolist() for k in range(3)}
    assert b[0] == [3, 2, 1, 1]  # deaths at 0.1 and 0.2 are exclusive: b <= eps < d
    assert b[1] == [0, 1, 2, 1]  # the essential class stays alive to the end of the curve
    assert b[2] == [0, 0, 0, 0]
    first = curves[curves["dim"] == 0]
    np.testing.assert_allclose(first["corr_threshold"], 1 - 2 * GRID)
    np.testing.assert_allclose(first["density"], [0, 1 / 6, 2 / 6, 4 / 6])  # pairs with d <= 2*eps over n(n-1)/2


def test_summary():
    curves = betti_curves(DIMS, BIRTHS, DEATHS, 1, GRID, DISTANCES, n_nodes=4)
    s = summarize(curves, DIMS, BIRTHS, DEATHS, 1).set_index("dim")
    assert s.loc[1, "max_betti"] == 2 and s.loc[1, "epsilon_at_max"] == pytest.approx(0.2)
    assert s.loc[1, "corr_at_max"] == pytest.approx(0.6)
    assert (s.loc[1, "n_classes"], s.loc[1, "n_finite"], s.loc[1, "n_essential"]) == (2, 1, 1)
    assert s.loc[1, "mean_life"] == pytest.approx(0.15)  # finite classes only
    assert s.loc[1, "mean_midlife"] == pytest.approx(0.175)  # (b + d) / 2
    assert s.loc[0, "mean_life"] == pytest.approx(0.15)
    assert s.loc[1, "auc_epsilon"] == pytest.approx(np.trapezoid([0, 1, 2, 1], GRID))


def test_grid_validation():
    assert epsilon_grid(0.3, 4).tolist() == pytest.approx([0, 0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="n_points"):
        epsilon_grid(0.3, 1)


def test_curves_from_real_dipha_files(tmp_path):
    """circle (40 noisy points on a circle): DIPHA's diagram has one H1 bar (0.3125, 0.8170)."""
    curves, summary = betti_curves_stage(
        diagram=FIXTURES / "circle.full.upper_dim2.diagram",
        sparse=FIXTURES / "circle.sparse_eps1.0.bin",
        max_dim=1,
        max_epsilon=1.0,
        n_points=201,
        curves=tmp_path / "c.csv",
        summary=tmp_path / "s.csv",
    )
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "c.csv"), curves, check_dtype=False)
    b1 = curves[curves["dim"] == 1].set_index("epsilon")["betti"]
    assert b1.loc[b1.index < 0.3125].eq(0).all()
    assert b1.loc[(b1.index > 0.32) & (b1.index < 0.81)].eq(1).all()
    b0 = curves[curves["dim"] == 0]
    assert b0["betti"].iloc[0] == 40 and b0["betti"].iloc[-1] == 1
    assert summary.set_index("dim").loc[1, "max_betti"] == 1
