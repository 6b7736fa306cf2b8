"""Aggregation of per-epoch tables and the figures of a run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from dnn_topology.plots.run_figures import compare_stage, plot_stage
from dnn_topology.studies.aggregate import aggregate_stage
from dnn_topology.topology.betti import betti_curves_stage

FIXTURES = Path(__file__).parent / "data" / "dipha"
PLOTS = ["betti_curves_density", "betti_curves_epsilon", "persistence_diagrams", "summaries"]


@pytest.fixture
def run_dir(tmp_path):
    """A run with 2 trials x 2 epochs whose per-epoch files come from real DIPHA fixtures."""
    root = tmp_path / "results" / "demo"
    for trial in (0, 1):
        pd.DataFrame(
            {
                "epoch": [0, 1, 2],
                "train_loss": [2.3, 1.0, 0.5],
                "train_acc_pct": [10.0, 70.0, 90.0],
                "test_loss": [2.3, 1.1, 0.6],
                "test_acc_pct": [10.0, 65.0, 85.0],
                "lr": 0.01,
                "seconds": 1.0,
            }
        ).to_csv(_mk(root / f"trial_{trial}/training.csv"), index=False)
        for epoch, fixture in ((0, "corr80.sparse_eps0.3"), (2, "corr80.sparse_eps0.6")):
            e = root / f"trial_{trial}/epoch_{epoch}"
            shutil.copyfile(FIXTURES / f"{fixture}.upper_dim3.diagram", _mk(e / "diagram.bin"))
            betti_curves_stage(
                diagram=e / "diagram.bin",
                sparse=FIXTURES / f"{fixture}.bin",
                max_dim=2,
                max_epsilon=0.3,
                n_points=31,
                curves=e / "betti_curves.csv",
                summary=e / "betti_summary.csv",
            )
    return root


def _mk(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _aggregate(root):
    per_epoch = [root / f"trial_{t}/epoch_{e}" for t in (0, 1) for e in (0, 2)]
    aggregate_stage(
        run="demo",
        curve_csvs=[p / "betti_curves.csv" for p in per_epoch],
        summary_csvs=[p / "betti_summary.csv" for p in per_epoch],
        training_csvs=[root / f"trial_{t}/training.csv" for t in (0, 1)],
        curves=root / "betti_curves.csv",
        summary=root / "betti_summary.csv",
        training=root / "training.csv",
    )


def test_aggregate_adds_run_trial_epoch(run_dir):
    _aggregate(run_dir)
    curves = pd.read_csv(run_dir / "betti_curves.csv")
    assert list(curves.columns[:4]) == ["run", "trial", "epoch", "dim"]
    assert len(curves) == 2 * 2 * 3 * 31
    assert set(zip(curves["trial"], curves["epoch"])) == {(0, 0), (0, 2), (1, 0), (1, 2)}
    summary = pd.read_csv(run_dir / "betti_summary.csv")
    assert len(summary) == 2 * 2 * 3
    training = pd.read_csv(run_dir / "training.csv")
    assert len(training) == 6 and set(training["trial"]) == {0, 1}


def test_aggregate_rejects_paths_without_trial_and_epoch(tmp_path):
    bad = tmp_path / "curves.csv"
    pd.DataFrame({"dim": [0], "betti": [1]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="curves.csv"):
        aggregate_stage(
            run="x",
            curve_csvs=[bad],
            summary_csvs=[bad],
            training_csvs=[bad],
            curves=tmp_path / "a",
            summary=tmp_path / "b",
            training=tmp_path / "c",
        )


@pytest.mark.slow
def test_plots_are_written_as_png_and_pdf(run_dir):
    _aggregate(run_dir)
    outputs = {f"{p}_{ext}": run_dir / "plots" / f"{p}.{ext}" for p in PLOTS for ext in ("png", "pdf")}
    plot_stage(
        run="demo",
        curves=run_dir / "betti_curves.csv",
        summary=run_dir / "betti_summary.csv",
        training=run_dir / "training.csv",
        epochs=[0, 2],
        diagrams=[run_dir / "trial_0/epoch_0/diagram.bin", run_dir / "trial_0/epoch_2/diagram.bin"],
        max_epsilon=0.3,
        outputs=outputs,
    )
    for path in outputs.values():
        data = path.read_bytes()
        assert data[:4] in (b"\x89PNG", b"%PDF") and len(data) > 5000, path
    comparison = {f"{x}_{ext}": run_dir / f"cmp_{x}.{ext}" for x in ("density", "epsilon") for ext in ("png", "pdf")}
    compare_stage(
        comparison="cmp", runs=["a", "b"], curves=[run_dir / "betti_curves.csv"] * 2, epochs=[0, 2], outputs=comparison
    )
    assert all(p.stat().st_size > 5000 for p in comparison.values())
    assert not list(run_dir.rglob("*.tmp"))  # atomic writes leave nothing behind
