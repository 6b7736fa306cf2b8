"""Bad input, round two (issue 22, and the configuration items of issue 21): each case as a user meets it.

Every error is in the documented form: ``dnn-topology: error: ...`` with exit status 2 for the command line, a
message that starts with the config key (or names the file) for the workflow, and no traceback. The numbered
cases follow the issue.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_estimate_cli import TOPOLOGY, study  # noqa: F401 (a fixture)
from test_generalization import synthetic_table
from test_original_import import original_root  # noqa: F401 (a fixture)
from workflow_helpers import REPO, TINY_CONFIG, planned_jobs, snakemake, write_config

from dnn_topology.cli import main
from dnn_topology.studies.generalization import model as gen
from dnn_topology.topology.graph import functional_graph_stage, min_samples, null_correlation_tail, too_few_samples
from dnn_topology.workflow import config as wc

SCHEMA = REPO / "schemas" / "config.schema.yaml"
SRC = REPO / "src"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_clean_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert err.startswith("dnn-topology: error: ") or "\ndnn-topology: error: " in err, err
    assert "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def tiny_config(**changes) -> dict:
    config = copy.deepcopy(TINY_CONFIG)
    for section, values in changes.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    return config


def checked(config: dict) -> dict:
    """``config`` through the schema (defaults) and the start-up checks, as the workflow does."""
    wc.validate_config(config, SCHEMA)
    wc.check_config(config)
    return config


# ------------------------------------------------------------------------------------------------------------
# 1. too few samples for a correlation: refused at start-up and by the functional-graph stage


def test_min_samples_is_the_bonferroni_bound_of_the_exact_null_distribution():
    """The smallest s with m P(|corr| >= 0.5) <= 0.05 over m = n(n-1)/2 pairs; the null tail checked against
    Student's t (scipy), and Fisher's z approximation close to it."""
    from scipy import stats

    for s in (3, 4, 5, 16, 47, 101, 160):
        t = 0.5 * math.sqrt((s - 2) / 0.75)
        assert null_correlation_tail(0.5, s) == pytest.approx(2 * stats.t.sf(t, s - 2), rel=1e-6)
    assert null_correlation_tail(0.5, 2) == 1.0
    assert [min_samples(n) for n in (2, 20, 100, 1000, 10_000)] == [16, 49, 71, 102, 133]
    assert all(min_samples(n) <= min_samples(n + 1) for n in range(2, 200))
    for n in (2, 20, 300, 5000):
        m, s = n * (n - 1) // 2, min_samples(n)
        assert m * null_correlation_tail(0.5, s) <= 0.05 < m * null_correlation_tail(0.5, s - 1)
        fisher = 3 + (stats.norm.isf(0.05 / (2 * m)) / math.atanh(0.5)) ** 2
        assert abs(s - fisher) <= 6
    assert too_few_samples(16, 2) is None and "at least 16 samples" in too_few_samples(15, 2)


def test_at_the_minimum_chance_seldom_reaches_the_correlation_that_must_stand_out():
    """Independent nodes, s = min_samples(n): some pair reaches |corr| 0.5 in about 5% of draws at most
    (Bonferroni is conservative); at a third of it, in most draws; at 2 samples every |corr| is 1."""
    rng = np.random.default_rng(0)
    n = 20

    def share_reaching(s: int, draws: int = 2000) -> float:
        hits = 0
        for _ in range(draws):
            r = np.corrcoef(rng.standard_normal((s, n)), rowvar=False)
            hits += np.abs(r[np.triu_indices(n, 1)]).max() >= 0.5
        return hits / draws

    assert share_reaching(min_samples(n)) <= 0.065  # 0.05 and three Monte Carlo standard errors (0.005)
    assert share_reaching(min_samples(n) // 3) >= 0.5
    two = np.corrcoef(rng.standard_normal((2, n)), rowvar=False)
    assert np.allclose(np.abs(two), 1.0)  # why n_samples: 2 made every |corr| 0 or 1


def test_the_functional_graph_stage_refuses_too_few_samples(tmp_path):
    np.save(tmp_path / "acts.npy", np.random.default_rng(1).standard_normal((2, 30)).astype(np.float32))
    with pytest.raises(ValueError, match=r"2 samples are too few to correlate 30 nodes.*activations\.n_samples"):
        functional_graph_stage(activations=tmp_path / "acts.npy", sparse=tmp_path / "cut.bin", max_epsilon=0.3)
    assert not (tmp_path / "cut.bin").exists()


def test_check_config_refuses_too_few_samples_naming_the_key():
    with pytest.raises(wc.ConfigError, match=r"^runs\[0\] activations\.n_samples \(run 'lenet_mnist5k'\): 2 samples"):
        checked(tiny_config(activations={"n_samples": 2}))
    # the minimum grows with the node count: 300 nodes need 85, the tiny config's 300 samples are enough
    assert min_samples(300) == 85
    checked(tiny_config(activations={"n_samples": 85}))
    with pytest.raises(wc.ConfigError, match="84 samples are too few to correlate 300 nodes"):
        checked(tiny_config(activations={"n_samples": 84}))


@pytest.mark.slow
def test_the_workflow_refuses_n_samples_2_before_anything_runs(tmp_path):
    """Issue 22 case 1: `activations.n_samples: 2` ran to the end and the claims table gave verdicts."""
    config = write_config(tmp_path, tiny_config(activations={"n_samples": 2}))
    proc = snakemake(tmp_path, config=config, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "runs[0] activations.n_samples (run 'lenet_mnist5k'): 2 samples are too few to correlate 300 nodes" in out
    assert "Use at least 85 samples" in out, out
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


# ------------------------------------------------------------------------------------------------------------
# 2-4. estimate-test-error: validated model files, no impossible estimate, errors in the documented form


@pytest.fixture
def model_file(study):  # noqa: F811
    """A fitted model and a diagram with its topology.json: (model dict, model path, diagram path)."""
    return study


def edited_model(path: Path, model: dict, **changes) -> Path:
    """``model`` with ``changes`` written as JSON text (values given as text go in verbatim: NaN, 1e400)."""
    text = json.dumps({**model, **{k: v for k, v in changes.items() if not isinstance(v, str)}}, indent=2)
    for key, raw in ((k, v) for k, v in changes.items() if isinstance(v, str)):
        text = re.sub(rf'"{key}": [^,\n]+', f'"{key}": {raw}', text)
    path.write_text(text)
    return path


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_model_with_a_non_finite_intercept_is_refused_naming_the_file_and_key(model_file, tmp_path, capsys, raw):
    """Case 2: an intercept of NaN or inf gave `nan %` (and `--json` printed NaN, which is not JSON)."""
    model, _, diagram = model_file
    bad = edited_model(tmp_path / "bad.json", model, intercept=raw)
    code, out, err = run_cli(capsys, "estimate-test-error", "--model", bad, "--diagram", diagram, "--train-acc", 97)
    assert_clean_error(code, err, f"{bad}: key 'intercept':", "is not a finite number")
    assert out == ""


def test_an_estimate_outside_0_100_is_clipped_and_flagged_with_an_interval_that_holds_it(model_file, tmp_path, capsys):
    """Case 2: 1e308 gave `-2.9e305 %`; a real model gave `111.02 %` with the interval `101.51 .. 100.00 %`."""
    model, _, diagram = model_file
    for intercept, clipped in ((1e308, 0.0), (-40.0, 100.0)):
        path = edited_model(tmp_path / "far.json", model, intercept=intercept)
        argv = ("estimate-test-error", "--model", path, "--diagram", diagram, "--train-acc", 97.5)
        code, out, err = run_cli(capsys, *argv, "--json")
        assert code == 0, err
        result = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in --json output"))
        assert result["test_acc_pct"] == clipped and result["extrapolated"] is True
        assert 0 <= result["low_pct"] <= result["test_acc_pct"] <= result["high_pct"] <= 100
        assert (result["raw_test_acc_pct"] > 100) == (clipped == 100.0)
        code, out, _ = run_cli(capsys, *argv)
        assert code == 0 and f"estimated test accuracy: {clipped:.2f} %" in out
        assert "extrapolation: the model's linear fit gives" in out and "outside 0..100 %" in out


def test_a_fractional_train_accuracy_is_warned_about_naming_both_readings(model_file, capsys):
    """Case 3: `--train-acc 0.9015` (a fraction, as training.csv stores it) was read as 0.90 % silently."""
    _, path, diagram = model_file
    code, out, err = run_cli(
        capsys, "estimate-test-error", "--model", path, "--diagram", diagram, "--train-acc", 0.9015
    )
    assert code == 0, err
    assert "dnn-topology: warning: --train-acc 0.9015 is read as 0.9015 %" in err
    assert "the percentage is 90.15" in err and "estimated test accuracy" in out
    code, _, err = run_cli(capsys, "estimate-test-error", "--model", path, "--diagram", diagram, "--train-acc", 90.15)
    assert code == 0 and "warning" not in err


@pytest.mark.parametrize(
    "change, key, what",
    [
        (lambda m: m.pop("coefficients"), "coefficients", "missing"),
        (lambda m: m["coefficients"].pop("midlife_h1"), "coefficients.midlife_h1", "missing"),
        (lambda m: m.update(intercept="2.0"), "intercept", "'2.0' is not a finite number"),
        (lambda m: m.update(features="life_h1"), "features", "'life_h1' is not a list of feature names"),
        (lambda m: m["prediction_interval"].update(level=95), "prediction_interval.level", "95 is not in (0, 1)"),
        (lambda m: m["topology"].pop("max_epsilon"), "topology.max_epsilon", "missing"),
        (lambda m: m["fitted_on"].update(runs=3), "fitted_on.runs", "3 is not a list"),
    ],
)
def test_a_model_with_a_missing_or_wrong_typed_key_names_the_file_and_key(
    model_file, tmp_path, capsys, change, key, what
):
    """Case 4: a missing or wrong-typed key gave a KeyError traceback, exit 1."""
    model, _, diagram = model_file
    bad = copy.deepcopy(model)
    change(bad)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    code, _, err = run_cli(capsys, "estimate-test-error", "--model", path, "--diagram", diagram, "--train-acc", 97)
    assert_clean_error(code, err, f"{path}: key {key!r}: {what}")


def test_a_binary_file_as_model_is_named(model_file, tmp_path, capsys):
    """Case 4: a binary file as --model gave a UTF-8 decode error naming no file."""
    _, _, diagram = model_file
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    code, _, err = run_cli(capsys, "estimate-test-error", "--model", binary, "--diagram", diagram, "--train-acc", 97)
    assert_clean_error(code, err, f"{binary}: not a model JSON file (not UTF-8 text")


def test_estimate_without_a_model_says_how_to_make_one(model_file, tmp_path, capsys):
    """Issue 21: `estimate-test-error` without a model says how to make one."""
    _, _, diagram = model_file
    code, _, err = run_cli(capsys, "estimate-test-error", "--diagram", diagram, "--train-acc", 97)
    assert_clean_error(code, err, "--model MODEL.json is required", "config/generalization_gap.yaml", "model.json")
    code, _, err = run_cli(
        capsys, "estimate-test-error", "--model", tmp_path / "nope.json", "--diagram", diagram, "--train-acc", 97
    )
    assert_clean_error(code, err, f"--model {tmp_path / 'nope.json'}: no such file", "generalization study")


def test_estimate_from_a_checkpoint_whose_dataset_is_missing_is_a_clean_error(model_file, tmp_path, capsys):
    """Case 4: `--checkpoint` with the dataset missing gave a DatasetUnavailableError traceback."""
    import torch

    from dnn_topology.networks.datasets import SPECS
    from dnn_topology.networks.models import build_network

    _, path, _ = model_file
    checkpoint = tmp_path / "epoch_1.pt"
    net = build_network("lenet", SPECS["mnist"])
    torch.save({"net": net.state_dict(), "config": {"network": "lenet", "dataset": "mnist"}}, checkpoint)
    code, out, err = run_cli(
        capsys,
        "estimate-test-error",
        "--model",
        path,
        "--checkpoint",
        checkpoint,
        "--train-acc",
        97,
        "--data-dir",
        tmp_path / "data",
    )
    assert_clean_error(code, err, f"--checkpoint {checkpoint}: dataset 'mnist' not found under", "--data-dir")
    assert out == ""


# ------------------------------------------------------------------------------------------------------------
# 5. import-original writes only under --results


def test_import_original_refuses_a_run_name_that_leaves_results(original_root, tmp_path, capsys):  # noqa: F811
    """Case 5: `import-original --run ../ESCAPE_run` wrote outside --results."""
    results = tmp_path / "project" / "results"
    results.mkdir(parents=True)
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = ["import-original", "--original-root", original_root, "--net", "lenet", "--dataset", "mnist", "--trial", 1]
    code, _, err = run_cli(capsys, *argv, "--results", results, "--run", "../ESCAPE_run")
    assert_clean_error(code, err, "--run: '../ESCAPE_run' becomes part of a file path")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list(results.iterdir()) == [] and not (tmp_path / "project" / "ESCAPE_run").exists()
    code, _, err = run_cli(capsys, *argv, "--results", results, "--run", "generalization")
    assert_clean_error(code, err, "run name 'generalization' is reserved")
    code, _, err = run_cli(capsys, *argv, "--results", results, "--run", "orig")  # a good name still imports
    assert code == 0, err
    assert (results / "orig" / "trial_1" / "checkpoints").is_dir()


# ------------------------------------------------------------------------------------------------------------
# 6. a truncated or random checkpoint is said to be so


@pytest.fixture
def checkpoint_bytes(tmp_path) -> bytes:
    import torch

    torch.save({"net": {"w": torch.zeros(2000)}, "epoch": 1}, tmp_path / "good.pt")
    return (tmp_path / "good.pt").read_bytes()


def test_a_truncated_checkpoint_is_said_to_be_truncated(checkpoint_bytes, tmp_path):
    """Case 6: a truncated checkpoint gave `[Errno 22] Invalid argument`."""
    from dnn_topology.networks.checkpoints import CheckpointError, CheckpointRefusedError, read_checkpoint

    path = tmp_path / "epoch_1.pt"
    for cut in (100, len(checkpoint_bytes) // 2, len(checkpoint_bytes) - 30):
        path.write_bytes(checkpoint_bytes[:cut])
        with pytest.raises(CheckpointError, match=rf"^checkpoint {re.escape(str(path))}: the file is truncated") as err:
            read_checkpoint(path)
        assert not isinstance(err.value, CheckpointRefusedError) and "Errno" not in str(err.value)
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="the file is empty"):
        read_checkpoint(path)


def test_random_bytes_are_not_a_checkpoint_not_code(tmp_path):
    """Case 6: random bytes were refused as "could run code", the wrong diagnosis."""
    from dnn_topology.networks.checkpoints import CheckpointError, CheckpointRefusedError, read_checkpoint

    rng = np.random.default_rng(0)
    for i in range(5):
        path = tmp_path / f"random_{i}.pt"
        path.write_bytes(rng.bytes(5000))
        with pytest.raises(CheckpointError, match="not a checkpoint, or a truncated or corrupted one") as err:
            read_checkpoint(path)
        assert not isinstance(err.value, CheckpointRefusedError) and "could run code" not in str(err.value)


def test_a_crafted_checkpoint_is_still_refused_as_code(tmp_path):
    """The good case stays good: a pickle that would run code is refused, and its code never runs."""
    from workflow_helpers import write_malicious_checkpoint

    from dnn_topology.networks.checkpoints import CheckpointRefusedError, read_checkpoint

    for legacy in (False, True):
        path, marker = tmp_path / f"crafted_{legacy}.pt", tmp_path / "marker"
        write_malicious_checkpoint(path, marker, legacy=legacy)
        with pytest.raises(CheckpointRefusedError, match="could run code.*GLOBAL io.open"):
            read_checkpoint(path)
        assert not marker.exists()


# ------------------------------------------------------------------------------------------------------------
# 7. ImageFolder datasets: errors that name the key the user wrote, checked at start-up


def imagefolder_config(root: Path, n_samples: int = 100, **options) -> dict:
    return tiny_config(
        imagefolders={"shapes": {"root": str(root), "input_size": 28, "in_channels": 1, **options}},
        runs=[{"network": "lenet", "dataset": "shapes"}],
        activations={"n_samples": n_samples, "node_selection": {"method": "random", "n_nodes": 20}},
    )


def test_an_imagefolder_with_one_class_names_its_root_not_a_key_never_written(tmp_path):
    """Case 7: one class folder named `imagefolders.X.num_classes`, a key the user never wrote."""
    from test_datasets import write_imagefolder

    write_imagefolder(tmp_path / "images", classes=("ant",), per_class=2)
    with pytest.raises(wc.ConfigError, match=r"imagefolders\.shapes\.root'\): .*train has one class folder \('ant'\)"):
        checked(imagefolder_config(tmp_path / "images"))


def test_more_samples_than_an_imagefolder_holds_are_refused_at_start_up(tmp_path):
    """Case 7: `n_samples` larger than the folder's test split was found only after training."""
    from test_datasets import write_imagefolder

    write_imagefolder(tmp_path / "images", classes=("ant", "bee"), per_class=40)  # 80 test images
    (tmp_path / "images" / "test" / "ant" / "notes.txt").write_text("not an image: not counted")
    with pytest.raises(wc.ConfigError, match=r"runs\[0\] activations\.n_samples: 100 samples asked for, .* has 80"):
        checked(imagefolder_config(tmp_path / "images", n_samples=100))
    checked(imagefolder_config(tmp_path / "images", n_samples=80))


def test_imagefolder_split_sizes_count_what_torchvision_reads(tmp_path):
    import torchvision
    from test_datasets import write_imagefolder

    from dnn_topology.networks import datasets as dsets

    assert set(dsets.IMAGE_EXTENSIONS) == set(torchvision.datasets.folder.IMG_EXTENSIONS)
    write_imagefolder(tmp_path / "images", classes=("ant", "bee"), per_class=3)
    (tmp_path / "images" / "train" / "bee" / "deeper").mkdir()
    (tmp_path / "images" / "train" / "bee" / "deeper" / "x.PNG").write_bytes(b"")
    (tmp_path / "images" / "train" / "readme.md").write_text("beside the classes")
    registry = dsets.dataset_registry({"shapes": {"root": str(tmp_path / "images"), "input_size": 28}})
    for split in ("train", "test"):
        ds = torchvision.datasets.ImageFolder(str(tmp_path / "images" / split))
        assert registry.split_size("shapes", split) == len(ds)


def test_imagefolder_splits_with_other_classes_are_refused_at_start_up(tmp_path):
    """torchvision numbers each split's classes on its own: a class missing from one split shifts the labels."""
    from test_datasets import write_imagefolder

    write_imagefolder(tmp_path / "images", splits=("train",), classes=("ant", "bee", "cat"), per_class=40)
    write_imagefolder(tmp_path / "images", splits=("test",), classes=("ant", "cat"), per_class=40)
    with pytest.raises(wc.ConfigError, match=r"imagefolders\.shapes\.root'\): the splits hold other classes .*'bee'"):
        checked(imagefolder_config(tmp_path / "images", n_samples=80))


def test_a_corrupt_image_is_named_with_the_key(tmp_path):
    """Case 7: a corrupt image ended in a raw PIL.UnidentifiedImageError inside the train job."""
    from test_datasets import write_imagefolder

    from dnn_topology.networks import datasets as dsets

    write_imagefolder(tmp_path / "images", classes=("ant", "bee"), per_class=2)
    broken = tmp_path / "images" / "train" / "bee" / "1.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    registry = dsets.dataset_registry({"shapes": {"root": str(tmp_path / "images"), "input_size": 28}})
    ds = dsets.load_split("shapes", "train", registry=registry)
    ds[0]  # a good image reads
    index = [Path(p).name for p, _ in ds.samples].index("1.png", 2)
    with pytest.raises(dsets.DatasetUnavailableError, match=r"imagefolders\.shapes\.root'\): cannot read image") as err:
        ds[index]
    assert f"cannot read image {broken} (UnidentifiedImageError" in str(err.value)


# ------------------------------------------------------------------------------------------------------------
# 8. configuration files and --config overrides


def test_command_line_values_in_lists_and_mappings_are_read_as_yaml():
    """Case 8: Snakemake reads --config trials=[0,1,2] as ['0', '1', '2'] (PyYAML's BaseLoader)."""
    from snakemake.cli import parse_config
    from snakemake.utils import update_config

    overrides = parse_config(
        [
            "trials=[0,1,2]",
            "topology={max_dim: 1, max_epsilon: 0.25}",
            "data_dir=/x/y",
            "adversarial={attacks: [{method: fgsm, epsilons: [0.1, 0.2]}]}",
        ]
    )
    assert overrides["trials"] == ["0", "1", "2"] and overrides["topology"]["max_dim"] == "1"  # what Snakemake gives
    config = copy.deepcopy(TINY_CONFIG)
    update_config(config, overrides)  # Snakemake's merge
    wc.apply_command_line_config(config, overrides)
    assert config["trials"] == [0, 1, 2] and config["data_dir"] == "/x/y"
    assert config["topology"] == {**TINY_CONFIG["topology"], "max_dim": 1, "max_epsilon": 0.25}
    assert config["adversarial"] == {"attacks": [{"method": "fgsm", "epsilons": [0.1, 0.2]}]}  # a new section
    checked(config)


@pytest.mark.slow
def test_config_overrides_of_lists_and_numbers_reach_the_workflow(tmp_path):
    """Case 8 / issue 21: `--config 'trials=[0,1,2]'` and `--config 'topology={max_dim: 1}'` failed the schema."""
    config = write_config(tmp_path, TINY_CONFIG)
    proc = snakemake(
        tmp_path, "-n", "--config", "trials=[0,1,2]", "topology={max_dim: 1, epochs: [0, 2]}", config=config
    )
    jobs = planned_jobs(proc)
    assert jobs["train"] == 3 and jobs["activations"] == 6 and jobs["persistence"] == 6, jobs
    # a number inside a mapping is a number: the start-up check compares it (and refuses this one)
    proc = snakemake(tmp_path, "-n", "--config", "activations={n_samples: 40}", config=config, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "40 samples are too few to correlate 300 nodes" in out, out


def test_an_unknown_key_names_the_nearest_valid_one_in_a_line():
    """Issue 21: an unknown key printed the whole schema."""
    config = tiny_config(training={"lrr": 0.1})
    with pytest.raises(wc.ConfigError) as err:
        wc.validate_config(config, SCHEMA)
    message = str(err.value)
    assert message.startswith("training.lrr: unknown key; did you mean 'lr'? (the keys of training: batch_size,")
    assert "\n" not in message and len(message) < 300 and "description" not in message
    config = tiny_config(runs=[{"network": "lenet", "dataset": "mnist5k", "activation": {}}])
    with pytest.raises(wc.ConfigError, match=r"^runs\[0\]\.activation: unknown key; did you mean 'activations'\?"):
        wc.validate_config(config, SCHEMA)
    with pytest.raises(wc.ConfigError, match=r"^topology\.max_dim: 7 is greater than the maximum of 3$"):
        wc.validate_config(tiny_config(topology={"max_dim": 7}), SCHEMA)


@pytest.mark.slow
def test_the_workflow_reports_an_unknown_key_in_a_few_lines(tmp_path):
    config = write_config(tmp_path, tiny_config(training={"lrr": 0.1}))
    proc = snakemake(tmp_path, "-n", config=config, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "training.lrr: unknown key; did you mean 'lr'?" in out, out
    assert "On schema" not in out and "'description'" not in out and len(out.splitlines()) < 12, out


@pytest.mark.slow
def test_a_yaml_error_in_a_configfile_is_located_as_the_docs_say(tmp_path):
    """Case 8: Snakemake reads --configfile before the workflow's code runs, and reports a YAML syntax error
    without its file or line (no hook exists to run the project's reader first). docs/usage.md says how to
    locate it: `dnn-topology check-config FILE` (where the problem starts, then where it was noticed) or
    Snakemake's --verbose. This test keeps that statement true."""
    bad = tmp_path / "study.yaml"
    bad.write_text("runs: [{network: lenet, dataset: mnist5k}\ntopology:\n  epochs: [0, 1]\ntrials: [0]\n")
    proc = snakemake(tmp_path, "-n", config=bad, check=False)
    assert proc.returncode != 0 and "Config file is not valid JSON or YAML" in proc.stdout + proc.stderr
    verbose = snakemake(tmp_path, "-n", "--verbose", config=bad, check=False)
    assert f'in "{bad}", line 1, column 7' in verbose.stdout + verbose.stderr
    check = subprocess.run(
        [sys.executable, "-m", "dnn_topology.cli", "check-config", str(bad)], capture_output=True, text=True
    )
    assert check.returncode == 2
    assert f"{bad}, line 1, column 7: not valid YAML: while parsing a flow sequence" in check.stderr
    assert (
        "check-config" in (REPO / "docs" / "usage.md").read_text()
        and "--verbose" in (REPO / "docs" / "usage.md").read_text()
    )


# ------------------------------------------------------------------------------------------------------------
# 9. what does not apply is said, or refused


def test_a_study_of_one_network_says_leave_one_network_out_was_not_computed(tmp_path, caplog):
    """Case 9: a generalization study with one network silently omitted leave-one-network-out."""
    import pandas as pd

    table = synthetic_table(networks=("lenet",), runs_per_network=4, noise=1.0)
    table.to_csv(tmp_path / "table.csv", index=False)
    out = {k: tmp_path / f"{k}.x" for k in ("predictions", "metrics", "model", "md")}
    with caplog.at_level("WARNING", logger="dnn_topology"):
        gen.generalization_fit_stage(
            table=tmp_path / "table.csv",
            study="one_net",
            features=gen.DEFAULT_FEATURES,
            topology={**TOPOLOGY, "min_persistence": 0.02},
            predictions=out["predictions"],
            metrics_csv=out["metrics"],
            model=out["model"],
            metrics_md=out["md"],
            bootstrap=200,
        )
    metrics = pd.read_csv(out["metrics"])
    lono = metrics[metrics["cv"] == "leave_one_network_out"]
    assert (
        len(lono) == (1 + len(gen.BASELINES)) * len(gen.METRICS) and lono["value"].isna().all()
    )  # topology + baselines
    assert lono["note"].str.contains(r"every run of the study is of one network \(lenet\)").all()
    assert metrics.loc[metrics["cv"] == "leave_one_run_out", "value"].notna().all()
    md = out["md"].read_text()
    assert "leave_one_network_out: not computed: every run of the study is of one network (lenet)" in md
    assert "| leave_one_network_out |" not in md
    assert "leave_one_network_out not computed: every run of the study is of one network" in caplog.text


def test_pgd_keys_on_an_fgsm_attack_are_refused_naming_the_key():
    """Case 9: `steps: 7` on an FGSM attack was silently ignored."""
    config = tiny_config(adversarial={"attacks": [{"method": "fgsm", "epsilons": [0.1], "steps": 7}]})
    with pytest.raises(wc.ConfigError, match=r"^adversarial\.attacks\[0\]\.steps: applies to PGD only"):
        checked(config)
    config["adversarial"]["attacks"][0].update(method="pgd")
    checked(config)


# ------------------------------------------------------------------------------------------------------------
# 10. the documentation's single-target examples: the target first


def documented_snakemake_commands() -> list[tuple[Path, list[str]]]:
    """Every `snakemake ...` command of a shell block in README.md and docs/ (continuation lines joined)."""
    commands = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        for lang, block in re.findall(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", page.read_text(), re.S | re.M):
            if lang not in ("", "bash", "sh", "shell", "console"):
                continue
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split("  #")[0].strip()
                if re.match(r"^(\.venv/bin/)?snakemake\b", line):
                    commands.append((page, shlex.split(line)))
    return commands


def test_documented_targets_come_before_options_that_take_several_values():
    """Case 10: `snakemake --configfile F TARGET` reads TARGET as a second config file (and --allowed-rules as a
    rule): every documented target comes first, right after the options that take one value."""
    takes_several = {"--configfile", "--configfiles", "--config", "-C", "--allowed-rules", "--forcerun", "-R"}
    documented = documented_snakemake_commands()
    with_targets = [(page, argv) for page, argv in documented if any(a.startswith("results/") for a in argv)]
    assert len(with_targets) >= 4, documented
    for page, argv in with_targets:
        first_target = next(i for i, a in enumerate(argv) if a.startswith("results/"))
        several = [a for a in argv[:first_target] if a in takes_several]
        assert not several, f"{page.relative_to(REPO)}: {' '.join(argv)}: the target follows {several}"


@pytest.mark.slow
def test_the_documented_single_attacked_epoch_target_plans_that_file(tmp_path):
    """Case 10: the docs' example, run as written (with -n, in an empty folder): it asks for one attacked epoch."""
    page = REPO / "docs" / "studies" / "adversarial.md"
    (argv,) = [
        a
        for p, a in documented_snakemake_commands()
        if p == page and any(x.startswith("results/") and x.endswith("/betti_curves.csv") for x in a)
    ]
    argv = [a if not a.startswith("config/") else str(REPO / a) for a in argv[1:]]
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n", *argv]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    target = next(a for a in argv if a.startswith("results/"))
    jobs = planned_jobs(proc)
    assert jobs["betti_curves"] == 1 and "all" not in jobs, jobs  # that file's chain, not the whole study
    assert f"output: {target}" in out


# ------------------------------------------------------------------------------------------------------------
# 11. one trainer per training state


TRAINER = """
import sys
from dnn_topology.networks.training import train_stage
out = sys.argv[1]
train_stage(
    network="lenet_300_100", dataset="mnist5k", trial=0, state_dir=out + "/state", progress=False,
    training={"epochs": 3, "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 64, "seed": 0,
              "permute_labels": 0.0, "subset": 1.0, "binarize_class": None},
    checkpoints=[f"{out}/{sys.argv[2]}_epoch_{e}.pt" for e in range(4)],
    metrics=f"{out}/{sys.argv[2]}_training.csv", labels=f"{out}/{sys.argv[2]}_labels.csv",
)
"""


@pytest.mark.slow
def test_a_second_trainer_on_one_training_state_stops_with_a_clear_message(tmp_path):
    """Case 11: a trainer left running by a killed Snakemake, and a rerun after --unlock: two trainers on one
    state folder. Two real processes: the second stops at once, naming the first; the first finishes."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    first = subprocess.Popen(
        [sys.executable, "-c", TRAINER, str(tmp_path), "first"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 300
        locks = []
        while not locks or not locks[0].read_text().strip():
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline, "the first trainer never took its lock"
            time.sleep(0.05)
            locks = list((tmp_path / "state").glob("*/trainer.lock"))
        assert f"pid {first.pid} on " in locks[0].read_text()
        second = subprocess.run(
            [sys.executable, "-c", TRAINER, str(tmp_path), "second"], env=env, capture_output=True, text=True
        )
        assert first.poll() is None, "the first trainer ended before the second started: the test proves nothing"
        assert second.returncode != 0
        assert (
            "TrainingLockedError" in second.stderr
            and f"is in use by another trainer (pid {first.pid} on" in second.stderr
        )
        assert not list(tmp_path.glob("second_*"))  # it wrote nothing
        assert first.wait(timeout=900) == 0, first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
    assert len(list(tmp_path.glob("first_epoch_*.pt"))) == 4
    # the lock went with its process: the same command now resumes at the last epoch and publishes its checkpoints
    again = subprocess.run(
        [sys.executable, "-c", TRAINER, str(tmp_path), "second"], env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    import torch

    first_weights, second_weights = (torch.load(tmp_path / f"{w}_epoch_3.pt")["net"] for w in ("first", "second"))
    assert all(torch.equal(first_weights[k], second_weights[k]) for k in first_weights)
