"""Real Snakemake runs of the adversarial study on a tiny configuration: attacked inputs go through the same
per-epoch stages under their own paths, clean paths stay as they are, one attacked epoch is a target of its own."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import REPO, planned_jobs, snakemake, write_config

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

RUN = "results/lenet_mnist5k"
ATTACK_IDS = ["adv_fgsm_eps0.1", "adv_pgd_eps0.1"]
TINY_ADVERSARIAL = yaml.safe_load((REPO / "tests" / "config" / "adversarial_tiny.yaml").read_text())
ATTACKED_FILES = [
    "activations.npy",
    "nodes.csv",
    "attack.csv",
    "inputs.npy",
    "distance_sparse.bin",  # distance.bin: temp()
    "diagram.bin",
    "betti_curves.csv",
    "betti_summary.csv",
    "detection_features.csv",
]
ADV_PLOTS = [
    "betti_curves_density",
    "betti_curves_epsilon",
    "summaries_vs_epsilon",
    "accuracy_under_attack",
    "detection_auc",
]


def summary_files(root: Path, config: Path) -> dict[str, str]:
    """Every file of the workflow's DAG and the rule that makes it (snakemake --detailed-summary)."""
    proc = snakemake(root, "--detailed-summary", config=config)
    lines = [line.split("\t") for line in proc.stdout.splitlines() if line.startswith("results/")]
    files = [parts[0] for parts in lines]
    assert len(files) == len(set(files)), "a file is made twice"
    return {parts[0]: parts[2] for parts in lines}


@pytest.fixture(scope="module")
def adversarial_run(tmp_path_factory):
    """One complete run of the tiny adversarial study (its directory), shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("adv")
    snakemake(root, config=write_config(root, TINY_ADVERSARIAL))
    return root


def test_tiny_adversarial_study_runs_end_to_end(adversarial_run):
    root = adversarial_run
    for attack in ATTACK_IDS:
        missing = [f for f in ATTACKED_FILES if not (root / RUN / "trial_0/epoch_1" / attack / f).is_file()]
        assert not missing, (attack, missing)
    assert (root / RUN / "trial_0/epoch_1/detection_features.csv").is_file()  # the clean half
    for table in ("attacks", "betti_curves", "betti_summary", "detection"):
        assert (root / RUN / "adversarial" / f"{table}.csv").is_file()
    for plot in ADV_PLOTS:
        for ext in ("png", "pdf"):
            assert (root / RUN / "adversarial/plots" / f"{plot}.{ext}").stat().st_size > 1000
    page = (root / RUN / "adversarial/tables.html").read_text()  # the report's readable copy of the tables
    assert "accuracy under attack (%)" in page and "topology AUC [95%]" in page
    records = pd.read_csv(root / RUN / "adversarial/attacks.csv")
    assert sorted(records["attack"]) == ATTACK_IDS
    assert (records["max_linf"] <= 0.1 + 1e-6).all() and (
        records["adversarial_acc_pct"] < records["clean_acc_pct"]
    ).all()
    summary = pd.read_csv(root / RUN / "adversarial/betti_summary.csv")
    assert set(summary["attack"]) == {"clean", *ATTACK_IDS}
    detection = pd.read_csv(root / RUN / "adversarial/detection.csv")
    assert len(detection) == 2 * 3 and set(detection["features"]) == {"topology", "baseline", "combined"}
    assert (detection["n_clean"] == 5).all() and (detection["n_attacked"] == 5).all()
    # attacked activations are the attacked samples', not the clean ones
    clean = np.load(root / RUN / "trial_0/epoch_1/activations.npy")
    attacked = np.load(root / RUN / "trial_0/epoch_1/adv_fgsm_eps0.1/activations.npy")
    assert clean.shape == attacked.shape and not np.array_equal(clean, attacked)


def test_attacked_and_clean_paths_never_collide(tmp_path):
    clean_cfg = copy.deepcopy(TINY_ADVERSARIAL)
    del clean_cfg["adversarial"]
    (tmp_path / "clean").mkdir()
    (tmp_path / "adv").mkdir()
    clean = summary_files(tmp_path / "clean", write_config(tmp_path / "clean", clean_cfg))
    adv = summary_files(tmp_path / "adv", write_config(tmp_path / "adv", TINY_ADVERSARIAL))
    # every clean file keeps its path and its rule; the attack adds files only under its own paths
    assert {f: adv[f] for f in clean} == clean
    added = set(adv) - set(clean)
    pattern = re.compile(
        r"results/lenet_mnist5k/(trial_0/epoch_1/((adv_(fgsm|pgd)_eps0\.1)/)?detection_features\.csv"
        r"|trial_0/epoch_1/adv_(fgsm|pgd)_eps0\.1/[^/]+|adversarial/.+)$"
    )
    assert all(pattern.match(f) for f in added), sorted(f for f in added if not pattern.match(f))
    per_epoch_rules = {
        "activations",
        "attack",
        "functional_graph",
        "sparse_distance",
        "persistence",
        "betti_curves",
        "detection_features",
    }
    for f, rule in adv.items():
        if "/adv_" in f:
            assert rule in per_epoch_rules - {"activations"}, (f, rule)
        elif "/epoch_" in f and "/checkpoints/" not in f:
            assert rule in per_epoch_rules - {"attack"}, (f, rule)
    # the same per-epoch rules make both: the attacked diagram by rule persistence
    assert adv[f"{RUN}/trial_0/epoch_1/adv_pgd_eps0.1/diagram.bin"] == adv[f"{RUN}/trial_0/epoch_1/diagram.bin"]


def test_one_attacked_epoch_is_rebuilt_alone(tmp_path):
    cfg = write_config(tmp_path, TINY_ADVERSARIAL)
    target = f"{RUN}/trial_0/epoch_1/adv_fgsm_eps0.1/betti_curves.csv"
    snakemake(tmp_path, target, config=cfg)
    assert (tmp_path / target).is_file()
    assert not (tmp_path / RUN / "trial_0/epoch_1/activations.npy").exists()  # no clean stage was needed
    assert not (tmp_path / RUN / "trial_0/epoch_1/adv_pgd_eps0.1").exists()  # nor the other attack
    # only stale stages rerun (Snakemake compares contents, not only times): a changed sparse matrix reruns persistence and the curves, not the attack or the graph
    sparse = tmp_path / RUN / "trial_0/epoch_1/adv_fgsm_eps0.1/distance_sparse.bin"
    data = bytearray(sparse.read_bytes())
    data[-1] ^= 1
    sparse.write_bytes(bytes(data))
    assert planned_jobs(snakemake(tmp_path, "-n", target, config=cfg)) == {"persistence": 1, "betti_curves": 1}
    # a changed attack budget is another attack id: new paths, the old ones untouched
    other = copy.deepcopy(TINY_ADVERSARIAL)
    other["adversarial"]["attacks"][0]["epsilons"] = [0.2]
    jobs = planned_jobs(
        snakemake(
            tmp_path,
            "-n",
            f"{RUN}/trial_0/epoch_1/adv_fgsm_eps0.2/betti_curves.csv",
            config=write_config(tmp_path, other),
        )
    )
    assert jobs == {"attack": 1, "functional_graph": 1, "persistence": 1, "betti_curves": 1}
