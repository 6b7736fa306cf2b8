"""examples/own_network: its training script, then the workflow on its configuration (lightened: two epochs, H0..H1),
in a copy of the example laid out as in the repository. Data of code (``datasets:``) end to end."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from workflow_helpers import REPO, snakemake, write_config

pytestmark = [pytest.mark.slow, pytest.mark.workflow]


def test_the_example_trains_outside_and_the_workflow_analyses_it(tmp_path):
    example = tmp_path / "examples" / "own_network"
    shutil.copytree(REPO / "examples" / "own_network", example, ignore=shutil.ignore_patterns("checkpoints"))
    subprocess.run([sys.executable, "examples/own_network/train.py"], cwd=tmp_path, check=True, capture_output=True)
    assert sorted(p.name for p in (example / "checkpoints").iterdir()) == [f"epoch_{e}.pt" for e in range(7)]
    config = yaml.safe_load((example / "config.yaml").read_text())
    config["topology"].update(epochs=[0, 6], max_dim=1)
    config["activations"]["node_selection"]["n_nodes"] = 200
    snakemake(tmp_path, config=write_config(tmp_path, config))
    log = pd.read_csv(tmp_path / "results/digitnet/training.csv")
    assert list(log["epoch"]) == [0, 6]
    assert (
        log["test_acc_pct"].iloc[1] > 90 > log["test_acc_pct"].iloc[0]
    )  # the trained checkpoint, measured by evaluate
    assert (tmp_path / "results/digitnet/plots/betti_curves_density.png").is_file()
    assert (tmp_path / "results/digitnet/claims.csv").is_file()
