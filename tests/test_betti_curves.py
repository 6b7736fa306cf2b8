"""Betti curves and summaries from DIPHA-convention diagrams."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dnn_topology.topology.betti import UnitsError, betti_curves, betti_curves_stage, epsilon_grid, summarize
from dnn_topology.topology.dipha_files import Diagram, full_to_sparse

FIXTURES = Path(__file__).parent / "data" / "dipha"

# H0: an essential component and two finite ones; H1: a finite class and an essential one
DIMS = np.array([-2, -1, 0, 0, 1])
BIRTHS = np.array([0.2, 0.0, 0.0, 0.0, 0.1])
DEATHS = np.array([0.3, 0.3, 0.1, 0.2, 0.25])
DIAGRAM = Diagram(DIMS, BIRTHS, DEATHS)
GRID = np.array([0.0, 0.1, 0.2, 0.3])
# a 4-node graph (6 pairs): 4 pairs within the cut epsilon 0.3 (distance 0.6), 2 beyond it
D = np.zeros((4, 4))
for (i, j), d in {(0, 1): 0.2, (1, 2): 0.4, (0, 2): 0.5, (2, 3): 0.6, (0, 3): 0.9, (1, 3): 1.0}.items():
    D[i, j] = D[j, i] = d


def test_betti_numbers_count_finite_and_essential_classes():
    curves = betti_curves(DIAGRAM, D, max_dim=2, grid=GRID)
    b = {k: curves[curves["dim"] == k]["betti"].tolist() for k in range(3)}
    assert b[0] == [3, 2, 1, 1]  # deaths at 0.1 and 0.2 are exclusive: b <= eps < d
    assert b[1] == [0, 1, 2, 1]  # the essential class stays alive to the end of the curve
    assert b[2] == [0, 0, 0, 0]
    first = curves[curves["dim"] == 0]
    np.testing.assert_allclose(first["corr_threshold"], 1 - 2 * GRID)
    # percent of the pairs with d <= 2*eps among the n(n-1)/2
    np.testing.assert_allclose(first["density_pct"], [0, 100 / 6, 200 / 6, 400 / 6])


def test_defaults_and_inputs_in_every_accepted_form():
    """A diagram as arrays or a Diagram, the graph as a square or a sparse matrix; defaults from the diagram."""
    sparse = full_to_sparse(D, 0.3)
    reference = betti_curves(DIAGRAM, D, max_dim=1, grid=GRID)
    pd.testing.assert_frame_equal(betti_curves((DIMS, BIRTHS, DEATHS), sparse, max_dim=1, grid=GRID), reference)
    default = betti_curves(DIAGRAM, sparse, n_points=4)  # max_dim 1 and the cut 0.3 from the diagram
    pd.testing.assert_frame_equal(default, reference)
    with pytest.raises(TypeError):
        betti_curves(DIAGRAM, D, 1)  # the options are keyword-only


def test_filtration_values_given_as_distances_are_refused():
    with pytest.raises(
        UnitsError, match=r"1 of 2 H0 deaths .* not half a distance .* death 0.2 has no distance 0.4 .* same units"
    ):
        betti_curves(DIAGRAM, D / 2)  # the matrix in filtration units
    as_distances = Diagram(DIMS, 2 * BIRTHS, 2 * DEATHS)
    with pytest.raises(UnitsError, match=r"death 0.4 has no distance 0.8 but has a distance 0.4 itself: .* same units"):
        betti_curves(as_distances, D)  # the diagram in distance units
    with pytest.raises(UnitsError, match="every H0 death .* beyond half the graph's largest distance"):
        betti_curves(Diagram([0, -1], [0, 0], [0.45, 0.5]), full_to_sparse(D, 0.15))


def test_summary():
    curves = betti_curves(DIAGRAM, D, max_dim=1, grid=GRID)
    s = summarize(curves, DIAGRAM, max_dim=1).set_index("dim")
    assert s.loc[1, "max_betti"] == 2 and s.loc[1, "epsilon_at_max"] == pytest.approx(0.2)
    assert s.loc[1, "corr_at_max"] == pytest.approx(0.6)
    assert s.loc[1, "density_pct_at_max"] == pytest.approx(200 / 6)
    assert (s.loc[1, "n_classes"], s.loc[1, "n_finite"], s.loc[1, "n_essential"]) == (2, 1, 1)
    assert s.loc[1, "mean_life"] == pytest.approx(0.15)  # finite classes only
    assert s.loc[1, "mean_midlife"] == pytest.approx(0.175)  # (b + d) / 2
    assert s.loc[0, "mean_life"] == pytest.approx(0.15)
    assert s.loc[1, "auc_epsilon"] == pytest.approx(np.trapezoid([0, 1, 2, 1], GRID))
    assert s.loc[1, "auc_density_pct"] == pytest.approx(np.trapezoid([0, 1, 2, 1], [0, 100 / 6, 200 / 6, 400 / 6]))


def test_grid_validation_and_exact_values(tmp_path):
    assert epsilon_grid(0.3, 4).tolist() == pytest.approx([0, 0.1, 0.2, 0.3])
    grid = epsilon_grid(0.3, 301)
    assert np.linspace(0, 0.3, 301)[9] != 0.009 and grid[9] == 0.009  # the decimal, not linspace's last bit
    curves = betti_curves(DIAGRAM, D, max_dim=0, grid=grid)
    curves.to_csv(tmp_path / "c.csv", index=False)
    text = (tmp_path / "c.csv").read_text()
    assert "\n0,0.009,0.982," in text and "0.009000000000000001" not in text  # written exactly
    back = pd.read_csv(tmp_path / "c.csv")
    assert len(back[back["epsilon"] == 0.009]) == 1  # so a filter on a grid value works
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
