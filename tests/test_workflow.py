"""Real Snakemake runs of the whole workflow on a tiny configuration."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import TINY_CONFIG, planned_jobs, snakemake, write_config

from dnn_topology.studies.claims import VERDICTS
from dnn_topology.topology.dipha_files import read_persistence_diagram

pytestmark = pytest.mark.workflow

RUN = "results/lenet_mnist5k"
# kept per epoch; the full distance.bin is not written by default (topology.keep_distance_matrix)
EPOCH_FILES = [
    "activations.npy",
    "nodes.csv",
    "samples.csv",
    "distance_sparse.bin",
    "diagram.bin",
    "betti_curves.csv",
    "betti_summary.csv",
]
PLOTS = ["betti_curves_density", "betti_curves_epsilon", "persistence_diagrams", "summaries", "claims"]
TABLES = ["betti_curves", "betti_summary", "training", "claims", "claims_replicates", "claims_evidence"]
PAGES = ["claims.md", "claims.html", "plots/epochs.html"]  # the readable copies (the report embeds the HTML)


def expected_files(config):
    files = [f"{RUN}/{t}.csv" for t in TABLES] + [f"{RUN}/{p}" for p in PAGES]
    files += [f"{RUN}/plots/{p}.{ext}" for p in PLOTS for ext in ("png", "pdf")]
    for trial in config["trials"]:
        base = f"{RUN}/trial_{trial}"
        files += [f"{base}/checkpoints/epoch_{e}.pt" for e in range(config["training"]["epochs"] + 1)]
        files += [f"{base}/training.csv", f"{base}/labels.csv"]
        files += [f"{base}/epoch_{e}/{f}" for e in config["topology"]["epochs"] for f in EPOCH_FILES]
    return files


def mtimes(root: Path) -> dict[str, int]:
    return {
        p.relative_to(root).as_posix(): p.stat().st_mtime_ns
        for p in (root / "results").rglob("*")
        if p.is_file() and ".train_state" not in p.parts
    }


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One complete run of the tiny configuration, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("wf")
    cfg = write_config(root, TINY_CONFIG)
    proc = snakemake(root, config=cfg)
    (root / "terminal.txt").write_text(proc.stdout + proc.stderr)  # what the user saw
    return root, cfg


@pytest.mark.slow
def test_full_run_produces_every_expected_file(full_run):
    root, _ = full_run
    missing = [f for f in expected_files(TINY_CONFIG) if not (root / f).is_file()]
    assert not missing, missing
    assert not list((root / "results").rglob("distance.bin"))  # temp(): removed once the sparse matrix is made
    curves = pd.read_csv(root / RUN / "betti_curves.csv")
    assert set(curves["epoch"]) == {0, 1, 2} and set(curves["dim"]) == {0, 1, 2, 3}
    # beta_0 at epsilon 0 counts every node (300 selected nodes)
    b0 = curves[(curves["dim"] == 0) & (curves["epsilon"] == 0)]
    assert (b0["betti"] == 300).all()
    training = pd.read_csv(root / RUN / "training.csv")
    assert list(training["epoch"]) == [0, 1, 2]
    diag = read_persistence_diagram(root / RUN / "trial_0/epoch_2/diagram.bin")
    assert np.all(diag.deaths <= 0.3) and np.all(np.diff(diag.dims) >= 0)


@pytest.mark.slow
def test_nothing_to_do_after_full_run(full_run):
    root, cfg = full_run
    assert planned_jobs(snakemake(root, "-n", config=cfg)) == {}


@pytest.mark.slow
def test_a_run_ends_saying_where_its_figures_are_in_whole_lines(full_run):
    root, _ = full_run
    out = (root / "terminal.txt").read_text()
    assert "Figures (PNG, and PDF next to each):" in out, out
    assert f"{RUN}/plots/  (5 figures)" in out and f"{RUN}/claims.md" in out and "make report" in out, out
    assert "Shell command: None" not in out  # no rule has a shell command: none is printed per job
    # training reports whole lines naming the run and trial: no progress bar for parallel jobs to garble
    assert "lenet_mnist5k trial 0: epoch 1/2: train loss" in out, out
    assert "it/s]" not in out and "\r" not in out


@pytest.mark.slow
def test_a_config_override_on_the_command_line_takes_effect(run_copy):
    """``--config`` overrides a key of the configuration file: here the persistence engine, a string inside
    the ``topology`` section, so only persistence and what is made from it rerun, and the diagrams stay
    identical (every engine gives DIPHA's diagram). Overrides of numbers and lists (``--config
    trials='[0,1]'``) are tested in test_bad_input.py."""
    root, cfg = run_copy
    before = (root / RUN / "trial_0/epoch_2/diagram.bin").read_bytes()
    override = ("--config", "topology={'engine': 'ripser'}")
    jobs = planned_jobs(snakemake(root, "-n", *override, config=cfg))
    assert jobs["persistence"] == 3 and "activations" not in jobs and "functional_graph" not in jobs, jobs
    snakemake(root, *override, config=cfg)
    assert "engine ripser" in (root / "logs/lenet_mnist5k/trial_0/epoch_2/persistence.log").read_text()
    assert (root / RUN / "trial_0/epoch_2/diagram.bin").read_bytes() == before
    assert planned_jobs(snakemake(root, "-n", *override, config=cfg)) == {}


@pytest.mark.slow
def test_report_lists_categories_in_reading_order_and_embeds_the_tables(run_copy):
    root, cfg = run_copy
    snakemake(root, "--report", "report.html", config=cfg)
    page = (root / "report.html").read_text()
    order = ["1. Training", "2. Betti curves", "3. Persistence diagrams", "4. Summaries", "5. Claims"]
    assert all(name in page for name in order), [name for name in order if name not in page]
    assert sorted(order) == order  # the report sorts categories by name: the numbers keep the reading order
    for page_name in ("epochs.html", "claims.html"):
        assert page_name in page, page_name  # the tables as HTML pages: shown inline, not only for download


@pytest.mark.slow
def test_lint_reports_nothing(full_run):
    root, cfg = full_run
    proc = snakemake(root, "--lint", config=cfg, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Congratulations" in out, out


@pytest.fixture
def run_copy(full_run, tmp_path):
    """A private copy of the full run (results and Snakemake's metadata) that a test may change."""
    root, _ = full_run
    work = tmp_path / "wf"
    shutil.copytree(root, work, symlinks=True)
    return work, write_config(work, TINY_CONFIG)


@pytest.mark.slow
def test_changed_checkpoint_reruns_only_that_epoch_and_aggregates(run_copy):
    root, cfg = run_copy
    ckpt = root / RUN / "trial_0/checkpoints/epoch_1.pt"
    replacement = root / RUN / "trial_0/checkpoints/epoch_2.pt"
    ckpt.unlink()  # a checkpoint is a hard link into the training state: replace the file, not its content
    shutil.copyfile(replacement, ckpt)
    assert planned_jobs(snakemake(root, "-n", config=cfg)) == {
        "activations": 1,
        "functional_graph": 1,
        "persistence": 1,
        "betti_curves": 1,
        "aggregate": 1,
        "plot": 1,
        "claims": 1,
        "all": 1,
    }
    before = mtimes(root)
    snakemake(root, config=cfg)
    after = mtimes(root)
    changed = {f for f in before if after.get(f) != before[f]}
    epoch1 = {f"{RUN}/trial_0/epoch_1/{f}" for f in EPOCH_FILES}
    aggregates = {f"{RUN}/{t}.csv" for t in TABLES}
    plots = {f"{RUN}/plots/{p}.{e}" for p in PLOTS for e in ("png", "pdf")}
    pages = {f"{RUN}/{p}" for p in PAGES}
    assert changed == epoch1 | aggregates | plots | pages
    # the epoch-1 analysis now equals the epoch-2 analysis (same weights)
    a1 = np.load(root / RUN / "trial_0/epoch_1/activations.npy")
    a2 = np.load(root / RUN / "trial_0/epoch_2/activations.npy")
    np.testing.assert_array_equal(a1, a2)


@pytest.mark.slow
def test_topology_parameter_change_reruns_topology_not_training(run_copy):
    root, _ = run_copy
    config = copy.deepcopy(TINY_CONFIG)
    config["topology"]["max_epsilon"] = 0.25
    cfg = write_config(root, config)
    jobs = planned_jobs(snakemake(root, "-n", config=cfg))
    # the cut needs the full matrix, a temp() file that is gone: it is recomputed from the kept activations
    assert jobs == {
        "functional_graph": 3,
        "persistence": 3,
        "betti_curves": 3,
        "aggregate": 1,
        "plot": 1,
        "claims": 1,
        "all": 1,
    }
    snakemake(root, config=cfg)
    diag = read_persistence_diagram(root / RUN / "trial_0/epoch_2/diagram.bin")
    assert diag.deaths.max() <= 0.25


@pytest.mark.slow
@pytest.mark.parametrize("keep", [False, True], ids=["distance-not-written", "distance-kept"])
def test_one_epoch_target_runs_only_what_it_needs(tmp_path, keep):
    config = copy.deepcopy(TINY_CONFIG)
    config["topology"]["keep_distance_matrix"] = keep
    cfg = write_config(tmp_path, config)
    target = f"{RUN}/trial_0/epoch_1/diagram.bin"
    jobs = planned_jobs(snakemake(tmp_path, target, "-n", config=cfg))
    assert jobs == {"train": 1, "activations": 1, "functional_graph": 1, "persistence": 1}
    snakemake(tmp_path, target, config=cfg)
    made = {
        p.relative_to(tmp_path).as_posix()
        for p in (tmp_path / "results").rglob("*")
        if p.is_file() and ".train_state" not in p.parts
    }
    epoch1 = {
        f"{RUN}/trial_0/epoch_1/{f}"
        for f in ("activations.npy", "nodes.csv", "samples.csv", "distance_sparse.bin", "diagram.bin")
    }
    assert epoch1 <= made
    assert (f"{RUN}/trial_0/epoch_1/distance.bin" in made) == keep
    assert not any("/epoch_0/" in f or "/epoch_2/" in f or "plots" in f for f in made)
    # the next epoch as a target: only its own chain runs, whether or not epoch 1's full matrix is still there
    jobs = planned_jobs(snakemake(tmp_path, f"{RUN}/trial_0/epoch_2/betti_curves.csv", "-n", config=cfg))
    assert jobs == {"activations": 1, "functional_graph": 1, "persistence": 1, "betti_curves": 1}
    assert planned_jobs(snakemake(tmp_path, target, "-n", config=cfg)) == {}


@pytest.mark.slow
def test_deleted_epoch_output_is_rebuilt_with_what_depends_on_it(run_copy):
    root, cfg = run_copy
    target = f"{RUN}/trial_0/epoch_2/diagram.bin"
    original = (root / target).read_bytes()
    (root / target).unlink()
    # every kept file is a target: a missing one is rebuilt, and what was made from it is redone
    assert planned_jobs(snakemake(root, "-n", config=cfg)) == {
        "persistence": 1,
        "betti_curves": 1,
        "aggregate": 1,
        "plot": 1,
        "claims": 1,
        "all": 1,
    }
    snakemake(root, config=cfg)
    assert (root / target).read_bytes() == original


@pytest.mark.slow
def test_a_run_ends_when_its_last_job_ends(run_copy):
    """Snakemake's job rate limiter leaves a timer of one timespan (default 1 s) that Python waits for at
    exit; the workflow's onsuccess/onerror handlers cancel it. With a one-hour timespan the run would
    otherwise sit idle for an hour after its job, and hit the timeout."""
    root, cfg = run_copy
    target = f"{RUN}/trial_0/epoch_2/betti_summary.csv"
    (root / target).unlink()
    proc = snakemake(root, target, "--max-jobs-per-timespan", "100/1h", config=cfg, timeout=300)
    assert planned_jobs(proc) == {"betti_curves": 1}
    assert (root / target).is_file()
    # and after a failed job (onerror)
    (root / target).unlink()
    _corrupt(root / f"{RUN}/trial_0/epoch_2/diagram.bin")
    proc = snakemake(root, target, "--max-jobs-per-timespan", "100/1h", config=cfg, check=False, timeout=300)
    assert proc.returncode != 0
    assert not (root / target).exists()


def _corrupt(path: Path) -> bytes:
    """Replace ``path`` by its first 1000 bytes (a new file, newer than everything made from the old one)."""
    content = path.read_bytes()
    path.unlink()
    path.write_bytes(content[:1000])
    return content


@pytest.mark.slow
def test_a_failed_job_is_retried_on_every_run_until_its_input_is_fixed(run_copy):
    """A truncated checkpoint: the activations job fails and Snakemake removes its outputs. The next
    run must not report 'Nothing to be done' on the old epoch-1 results: it retries, and fails again,
    until the checkpoint is replaced; then the whole epoch-1 chain and the aggregates are redone."""
    root, cfg = run_copy
    ckpt = root / RUN / "trial_0/checkpoints/epoch_1.pt"
    _corrupt(ckpt)
    curves = root / RUN / "trial_0/epoch_1/betti_curves.csv"
    old_curves = curves.stat().st_mtime_ns
    for attempt in range(2):
        proc = snakemake(root, config=cfg, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, f"attempt {attempt}: a run after a failure reported success:\n{out}"
        assert "Nothing to be done" not in out
        assert f"checkpoint {RUN}/trial_0/checkpoints/epoch_1.pt: the file is truncated" in out, out
        assert not (root / RUN / "trial_0/epoch_1/activations.npy").exists()
    assert curves.stat().st_mtime_ns == old_curves  # the failing chain never ran past activations
    ckpt.unlink()
    shutil.copyfile(root / RUN / "trial_0/checkpoints/epoch_2.pt", ckpt)
    jobs = planned_jobs(snakemake(root, "-n", config=cfg))
    assert jobs == {
        "activations": 1,
        "functional_graph": 1,
        "persistence": 1,
        "betti_curves": 1,
        "aggregate": 1,
        "plot": 1,
        "claims": 1,
        "all": 1,
    }
    snakemake(root, config=cfg)
    assert curves.stat().st_mtime_ns != old_curves
    assert curves.read_bytes() == (root / RUN / "trial_0/epoch_2/betti_curves.csv").read_bytes()  # same weights
    assert planned_jobs(snakemake(root, "-n", config=cfg)) == {}


@pytest.mark.slow
def test_a_failure_downstream_of_a_bad_intermediate_file_is_retried(run_copy):
    """A truncated activations.npy (a small file, so Snakemake compares checksums): the functional
    graph job fails, and keeps failing on every run until activations.npy is rebuilt."""
    root, cfg = run_copy
    acts = root / RUN / "trial_0/epoch_1/activations.npy"
    good = _corrupt(acts)
    for attempt in range(2):
        proc = snakemake(root, config=cfg, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "Nothing to be done" not in out, f"attempt {attempt}:\n{out}"
        assert "functional_graph" in out and "activations.npy" in out, out
    acts.unlink()
    jobs = planned_jobs(snakemake(root, "-n", config=cfg))
    assert jobs["activations"] == 1 and jobs["functional_graph"] == 1 and jobs["aggregate"] == 1
    snakemake(root, config=cfg)
    assert acts.read_bytes() == good


@pytest.mark.slow
@pytest.mark.parametrize(
    "change, key",
    [
        ({"topology": {"max_epsilonn": 0.3}}, "max_epsilonn"),
        ({"topology": {"max_dim": 7}}, "max_dim"),
        ({"training": {"epochs": 0}}, "epochs"),
        ({"runs": [{"network": "lenet", "dataset": "mnist5k", "colour": "red"}]}, "colour"),
        ({"trials": [0, 10**12]}, "trials"),
    ],
)
def test_bad_config_names_the_key(tmp_path, change, key):
    config = copy.deepcopy(TINY_CONFIG)
    for section, value in change.items():
        if isinstance(value, dict):
            config[section] = {**config[section], **value}
        else:
            config[section] = value
    proc = snakemake(tmp_path, "-n", config=write_config(tmp_path, config), check=False)
    assert proc.returncode != 0
    assert key in proc.stdout + proc.stderr


@pytest.mark.slow
def test_semantic_config_errors_name_the_key(tmp_path):
    config = copy.deepcopy(TINY_CONFIG)
    config["topology"]["epochs"] = [0, 5]
    proc = snakemake(tmp_path, "-n", config=write_config(tmp_path, config), check=False)
    assert proc.returncode != 0 and "topology.epochs" in proc.stderr + proc.stdout
    config = copy.deepcopy(TINY_CONFIG)
    config["runs"][0]["network"] = "lenet5000"
    proc = snakemake(tmp_path, "-n", config=write_config(tmp_path, config), check=False)
    assert proc.returncode != 0 and "runs[0].network" in proc.stderr + proc.stdout


def tiny_memorization_config() -> dict:
    """config/memorization.yaml with its training exactly as shipped (what makes the permuted network
    memorize), cheaper elsewhere: the true-label and the 100%-permuted runs only, one trial, 300 random
    nodes on 300 samples, topology at the first and the last epoch."""
    import yaml
    from workflow_helpers import REPO

    config = yaml.safe_load((REPO / "config" / "memorization.yaml").read_text())
    runs = ["lenet_mnist5k_perm0", "lenet_mnist5k_perm100"]
    config["runs"] = [run for run in config["runs"] if run["name"] in runs]
    config["comparisons"][0]["runs"] = runs
    config["trials"] = [0]
    config["activations"].update(n_samples=300, node_selection=TINY_CONFIG["activations"]["node_selection"])
    config["topology"].update(epochs=[0, config["training"]["epochs"]], threads=1)
    config["betti_curves"] = {"n_points": 61}
    return config


@pytest.mark.slow
def test_memorization_config_reaches_the_memorizing_regime(tmp_path):
    """config/memorization.yaml's training: the 100%-permuted network fits its random labels (train
    accuracy >= 0.95) while its test accuracy stays near chance (0.1); the true-label network learns;
    the comparison's figures and claims table are written."""
    config = tiny_memorization_config()
    snakemake(tmp_path, config=write_config(tmp_path, config), timeout=1800)  # 100 epochs: slow on a busy machine
    out = tmp_path / "results"
    last = config["training"]["epochs"]
    final = {
        run: pd.read_csv(out / run / "training.csv").set_index("epoch").loc[last]
        for run in config["comparisons"][0]["runs"]
    }
    perm0, perm100 = final["lenet_mnist5k_perm0"], final["lenet_mnist5k_perm100"]
    assert perm100["train_acc_pct"] >= 95, perm100  # memorized its permuted labels ...
    assert perm100["test_acc_pct"] < 20, perm100  # ... and learned nothing that holds on the test set
    assert perm0["train_acc_pct"] >= 95 and perm0["test_acc_pct"] > 80, perm0
    labels = pd.read_csv(out / "lenet_mnist5k_perm100/trial_0/labels.csv")
    assert len(labels) == 200 and labels["permuted"].all()
    assert (labels["original_label"] != labels["new_label"]).mean() > 0.8
    for ext in ("png", "pdf"):
        assert (out / f"comparisons/learning_vs_memorizing/betti_curves_density.{ext}").stat().st_size > 0
        assert (out / f"comparisons/learning_vs_memorizing/claims.{ext}").stat().st_size > 0
    claims = pd.read_csv(out / "comparisons/learning_vs_memorizing/claims.csv")
    paired = claims[claims["claim"] == "memorizing_higher_density"]
    assert list(paired["subject"]) == ["lenet_mnist5k_perm100 vs lenet_mnist5k_perm0"] * 3  # beta_1..beta_3
    assert (paired["n_replicates"] <= 1).all()  # one trial: one replicate
    # one trial can never decide a claim: no verdict says supported or contradicted
    assert set(claims["verdict"]) <= set(VERDICTS) - {"supported", "contradicted"}
    assert (paired["run"] == "lenet_mnist5k_perm100").all() and (paired["reference"] == "lenet_mnist5k_perm0").all()
    assert (paired["train_acc_pct"] >= 95).all() and (paired["reference_test_acc_pct"] > 80).all()  # at epoch {last}
    assert (paired["last_epoch"] == last).all()
    curves = pd.read_csv(out / "lenet_mnist5k_perm100/betti_curves.csv")
    assert set(curves["epoch"]) == {0, last} and set(curves["dim"]) == {0, 1, 2, 3}


@pytest.mark.slow
def test_interrupted_training_resumes_when_the_workflow_is_rerun(tmp_path):
    """Kill the whole Snakemake process group in the middle of training, then run the same command
    again: training resumes from its last complete epoch and ends with the uninterrupted weights."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import torch
    from workflow_helpers import REPO, SNAKEFILE

    from dnn_topology.networks.training import TrainConfig, train

    config = copy.deepcopy(TINY_CONFIG)
    config["training"].update(epochs=5, batch_size=8)  # ~1-3 s per epoch: time to interrupt it
    config["topology"]["epochs"] = [5]
    cfg = write_config(tmp_path, config)
    state = tmp_path / RUN / "trial_0/.train_state"
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(SNAKEFILE),
        "-d",
        str(tmp_path),
        "--cores",
        "2",
        "--workflow-profile",
        str(REPO / "profiles" / "default"),
        "--configfile",
        str(cfg),
    ]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.time() + 300
        while not list(state.glob("*/epoch_2.pt")):
            assert proc.poll() is None, "the workflow ended before it could be interrupted"
            assert time.time() < deadline, "training did not reach epoch 2"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = {p.name for p in state.glob("*/epoch_*.pt")}
    assert "epoch_5.pt" not in done_before
    snakemake(tmp_path, "--unlock", config=cfg)
    snakemake(tmp_path, config=cfg)
    log = (tmp_path / "logs/lenet_mnist5k/trial_0/train.log").read_text()
    assert "resuming" in log, log
    # the resumed job appends: the log still has the epochs done before the kill
    before, after = log.split("resuming", 1)
    assert "epoch 0 (initial weights)" in before and "epoch 1/5: train loss" in before, log
    assert "epoch 5/5: train loss" in after, log
    assert "lenet_mnist5k trial 0: epoch 5/5" in after, log  # the run and trial start each line
    reference = tmp_path / "reference"
    train(
        TrainConfig(network="lenet", dataset="mnist5k", epochs=5, lr=0.01, batch_size=8, seed=0),
        [reference / f"epoch_{e}.pt" for e in range(6)],
        reference / "m.csv",
        reference / "state",
        progress=False,
    )
    for e in range(6):
        ours = torch.load(tmp_path / RUN / f"trial_0/checkpoints/epoch_{e}.pt", weights_only=True)["net"]
        ref = torch.load(reference / f"epoch_{e}.pt", weights_only=True)["net"]
        assert all(torch.equal(ours[k], ref[k]) for k in ref), f"epoch {e} differs"


@pytest.mark.slow
def test_a_study_config_is_not_merged_with_the_default(tmp_path):
    """--configfile replaces config/config.yaml: keys the study leaves out take the schema defaults
    (trials: [0]), not the embedded default's values (trials: [0, 1])."""
    config = copy.deepcopy(TINY_CONFIG)
    del config["trials"]
    jobs = planned_jobs(snakemake(tmp_path, "-n", config=write_config(tmp_path, config)))
    assert jobs["train"] == 1


@pytest.mark.slow
def test_no_configured_name_can_make_the_workflow_write_outside_the_project(tmp_path):
    """An ImageFolder dataset name is not bound by the run-name pattern, but it becomes the default run
    name <network>_<dataset>, hence results/<run>/ and logs/<run>/: '..' in it must be refused, naming
    the key, before anything is written."""
    from test_datasets import write_imagefolder

    project = tmp_path / "project"
    project.mkdir()
    write_imagefolder(tmp_path / "images", classes=("ant", "bee"), per_class=4)
    escape = "x/../../../escaped"
    config = copy.deepcopy(TINY_CONFIG)
    config["imagefolders"] = {escape: {"root": str(tmp_path / "images"), "input_size": 28, "in_channels": 1}}
    config["runs"] = [{"network": "lenet", "dataset": escape}]
    config["training"]["epochs"] = 1
    config["topology"]["epochs"] = [1]
    config["activations"] = {"n_samples": 8, "node_selection": {"method": "random", "n_nodes": 20}}
    proc = snakemake(project, config=write_config(project, config), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f"imagefolders: dataset name {escape!r}" in out, out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "project"]
    assert not (project / "results").exists() and not (project / "logs").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "section, key, value, named",
    [
        ("training", "lr", float("nan"), "training.lr"),
        ("training", "lr", float("inf"), "training.lr"),
        ("topology", "max_epsilon", float("nan"), "topology.max_epsilon"),
    ],
)
def test_nan_or_infinite_numbers_are_refused_naming_the_key(tmp_path, section, key, value, named):
    """YAML's .nan and .inf are numbers that pass every JSON-schema bound (comparisons with NaN are false)."""
    config = copy.deepcopy(TINY_CONFIG)
    config[section][key] = value
    path = write_config(tmp_path, config)
    assert (".nan" if value != value else ".inf") in path.read_text()
    proc = snakemake(tmp_path, "-n", config=path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f"{named}: {value!r} is not a finite number" in out, out
    assert "Traceback" not in out


@pytest.mark.slow
def test_divergence_fails_the_train_job_and_every_rerun(run_copy):
    """lr = 50 (real training): the train job stops at the first NaN loss naming the epoch and
    training.lr; no later stage runs on its weights, and the next run retries instead of keeping the
    previous learning rate's results."""
    root, _ = run_copy
    config = copy.deepcopy(TINY_CONFIG)
    config["training"]["lr"] = 50.0
    cfg = write_config(root, config)
    for attempt in range(2):
        proc = snakemake(root, config=cfg, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "Nothing to be done" not in out, f"attempt {attempt}:\n{out}"
        assert "training diverged in epoch 1" in out and "Lower training.lr (now 50.0)" in out, out
        assert "rule activations" not in out
    assert "training diverged in epoch 1" in (root / "logs/lenet_mnist5k/trial_0/train.log").read_text()
    assert not (root / RUN / "trial_0/checkpoints/epoch_0.pt").exists()


@pytest.mark.slow
def test_a_crafted_checkpoint_is_refused_and_its_code_never_runs(run_copy):
    """A checkpoint in results/ that carries, next to real weights, an object whose unpickling creates a
    file: the activations job refuses it naming the file, and the payload never runs."""
    import torch
    from workflow_helpers import write_malicious_checkpoint

    root, cfg = run_copy
    ckpt = root / RUN / "trial_0/checkpoints/epoch_1.pt"
    state = torch.load(root / RUN / "trial_0/checkpoints/epoch_2.pt", weights_only=True)
    ckpt.unlink()
    marker = root / "payload_ran"
    write_malicious_checkpoint(ckpt, marker, state)
    proc = snakemake(root, config=cfg, check=False)
    out = proc.stdout + proc.stderr
    assert not marker.exists(), "the checkpoint's payload ran inside the workflow"
    assert proc.returncode != 0, out
    assert f"checkpoint {RUN}/trial_0/checkpoints/epoch_1.pt: refused" in out, out
    assert "GLOBAL io.open" in (root / "logs/lenet_mnist5k/trial_0/epoch_1/activations.log").read_text()
