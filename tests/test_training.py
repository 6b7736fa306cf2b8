"""Training: real torch training on mnist5k, checkpoints, metrics and resumption."""

import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from dnn_topology.networks import datasets
from dnn_topology.networks.checkpoints import load_checkpoint
from dnn_topology.networks.training import TrainConfig, TrainingDivergedError, train, training_data

CFG = dict(network="lenet", dataset="mnist5k", lr=0.01, batch_size=64, seed=3)


def _paths(root, epochs):
    return [root / "checkpoints" / f"epoch_{e}.pt" for e in range(epochs + 1)]


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)["net"]


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 4-epoch run."""
    root = tmp_path_factory.mktemp("ref")
    metrics = train(
        TrainConfig(epochs=4, **CFG), _paths(root, 4), root / "training.csv", root / "state", progress=False
    )
    return root, metrics


@pytest.mark.slow
def test_checkpoints_and_metrics(reference):
    root, metrics = reference
    assert list(metrics["epoch"]) == [0, 1, 2, 3, 4]
    csv = pd.read_csv(root / "training.csv")
    assert list(csv.columns) == [
        "epoch",
        "train_loss",
        "train_acc_pct",
        "val_loss",
        "val_acc_pct",
        "test_loss",
        "test_acc_pct",
        "lr",
        "seconds",
    ]
    assert csv[["val_loss", "val_acc_pct"]].isna().all().all()  # no validation split asked for
    # LeNet learns real digits: far above chance after 4 epochs, near chance at initialisation (percent)
    assert csv["test_acc_pct"].iloc[0] < 30
    assert csv["test_acc_pct"].iloc[-1] > 80
    # every epoch's checkpoint loads into the network and differs from the previous one
    spec = datasets.get_spec("mnist5k")
    prev = None
    for e, path in enumerate(_paths(root, 4)):
        net, state = load_checkpoint(path, "lenet", spec)
        assert state["epoch"] == e
        w = _weights(path)
        assert prev is None or not _same(prev, w)
        prev = w


@pytest.mark.slow
def test_training_is_deterministic_per_seed(reference, tmp_path):
    root, _ = reference
    train(TrainConfig(epochs=1, **CFG), _paths(tmp_path, 1), tmp_path / "m.csv", tmp_path / "state", progress=False)
    assert _same(_weights(tmp_path / "checkpoints/epoch_1.pt"), _weights(root / "checkpoints/epoch_1.pt"))
    other = tmp_path / "other"
    train(
        TrainConfig(epochs=1, **{**CFG, "seed": 4}), _paths(other, 1), other / "m.csv", other / "state", progress=False
    )
    assert not _same(_weights(other / "checkpoints/epoch_1.pt"), _weights(root / "checkpoints/epoch_1.pt"))


@pytest.mark.slow
def test_resume_after_kill_matches_uninterrupted_run(reference, tmp_path):
    """Kill a training process after its second epoch, then run it again: it resumes from the last
    complete epoch (no epoch redone, none lost) and ends with the uninterrupted run's weights."""
    root, ref_metrics = reference
    state = tmp_path / "state" / TrainConfig(epochs=4, **CFG).fingerprint()  # one folder per configuration
    code = (
        "from pathlib import Path\n"
        "from dnn_topology.networks.training import TrainConfig, train\n"
        f"root = Path({str(tmp_path)!r})\n"
        f"cfg = TrainConfig(epochs=4, **{CFG!r})\n"
        "import time, dnn_topology.networks.training as t\n"
        "orig = t._save_state\n"
        "def slow(*a, **k):\n"
        "    orig(*a, **k); time.sleep(1.0)\n"  # give the test time to kill between epochs
        "t._save_state = slow\n"
        "train(cfg, [root / 'checkpoints' / f'epoch_{e}.pt' for e in range(5)], root / 'training.csv',"
        " root / 'state', progress=False)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 120
    while not (state / "epoch_2.pt").exists():
        assert proc.poll() is None, "training exited before it could be interrupted"
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "training.csv").exists()
    done = sorted(p.name for p in state.glob("epoch_*.pt"))
    mtimes = {p.name: p.stat().st_mtime_ns for p in state.glob("epoch_*.pt")}
    assert "epoch_4.pt" not in done and "epoch_2.pt" in done

    metrics = train(
        TrainConfig(epochs=4, **CFG), _paths(tmp_path, 4), tmp_path / "training.csv", tmp_path / "state", progress=False
    )
    for name, mtime in mtimes.items():  # the epochs already done were not redone
        assert (state / name).stat().st_mtime_ns == mtime
    for e in range(5):
        assert _same(_weights(tmp_path / f"checkpoints/epoch_{e}.pt"), _weights(root / f"checkpoints/epoch_{e}.pt"))
    pd.testing.assert_frame_equal(metrics.drop(columns="seconds"), ref_metrics.drop(columns="seconds"))


@pytest.mark.slow
def test_state_of_another_configuration_is_not_resumed(reference, tmp_path):
    root, _ = reference
    state = tmp_path / "state"
    train(
        TrainConfig(epochs=1, **{**CFG, "lr": 0.05}),
        _paths(tmp_path / "a", 1),
        tmp_path / "a.csv",
        state,
        progress=False,
    )
    train(TrainConfig(epochs=1, **CFG), _paths(tmp_path / "b", 1), tmp_path / "b.csv", state, progress=False)
    assert _same(_weights(tmp_path / "b/checkpoints/epoch_1.pt"), _weights(root / "checkpoints/epoch_1.pt"))
    assert len(list(state.iterdir())) == 2  # each configuration keeps its own states


@pytest.mark.slow
def test_published_checkpoint_is_not_the_training_state(reference, tmp_path):
    """Overwriting a published checkpoint (as a user may, to rerun one epoch) leaves training intact."""
    train(TrainConfig(epochs=1, **CFG), _paths(tmp_path, 1), tmp_path / "m.csv", tmp_path / "state", progress=False)
    (tmp_path / "checkpoints/epoch_1.pt").write_bytes(b"overwritten in place")
    train(TrainConfig(epochs=1, **CFG), _paths(tmp_path, 1), tmp_path / "m.csv", tmp_path / "state", progress=False)
    assert _same(_weights(tmp_path / "checkpoints/epoch_1.pt"), _weights(reference[0] / "checkpoints/epoch_1.pt"))


def test_bad_checkpoint_names_the_file(tmp_path):
    bad = tmp_path / "epoch_3.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="epoch_3.pt"):
        load_checkpoint(bad, "lenet", datasets.get_spec("mnist5k"))


@pytest.mark.slow
def test_divergence_stops_training_at_the_first_nonfinite_loss(tmp_path):
    """lr = 50 makes the loss NaN within epoch 1: training stops there, naming the epoch and the key to
    change, and writes no checkpoint, no metrics and no state for the diverged epoch."""
    paths = _paths(tmp_path, 3)
    with pytest.raises(TrainingDivergedError, match=r"diverged in epoch 1 .*loss is nan.*Lower training\.lr \(now 50"):
        train(
            TrainConfig(epochs=3, **{**CFG, "lr": 50.0}),
            paths,
            tmp_path / "training.csv",
            tmp_path / "state",
            progress=False,
        )
    assert not any(p.exists() for p in paths) and not (tmp_path / "training.csv").exists()
    # the state of epoch 0, written before the divergence, is kept; nothing after it
    assert sorted(p.name for p in (tmp_path / "state").glob("*/*.pt")) == ["epoch_0.pt"]


def _private_mount_prefix() -> list[str] | None:
    """A command prefix that runs in a private mount namespace (root: unshare -m; else a user namespace)."""
    import shutil

    if shutil.which("unshare") is None:
        return None
    for prefix in (["unshare", "-m"], ["unshare", "-rm"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return None


@pytest.mark.slow
def test_a_full_disk_during_training_says_so_and_names_the_file(tmp_path):
    """A real full disk: the training states go to a 256 kB tmpfs (mounted in a private mount namespace,
    so nothing outside the test sees it). The initial state (105 kB) fits, epoch 1's (194 kB) does not:
    the error says the disk is full and names the state file, not torch's 'iostream error'."""
    prefix = _private_mount_prefix()
    if prefix is None:
        pytest.skip("needs unshare and a private mount namespace to mount a small tmpfs")
    disk = tmp_path / "small_disk"
    disk.mkdir()
    code = (
        "from pathlib import Path\n"
        "from dnn_topology.networks.training import TrainConfig, train\n"
        f"root = Path({str(tmp_path)!r})\n"
        f"train(TrainConfig(epochs=1, **{CFG!r}), [root / 'e0.pt', root / 'e1.pt'], root / 'm.csv',\n"
        f"      Path({str(disk)!r}) / 'state', progress=False)\n"
    )
    script = f'mount -t tmpfs -o size=256k tmpfs {disk} && exec {sys.executable} -c "$0"'
    proc = subprocess.run([*prefix, "sh", "-c", script, code], capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0, proc.stderr
    assert "No space left" not in proc.stderr or "no space left on the device" in proc.stderr
    assert "no space left on the device (or disk quota exceeded) while writing" in proc.stderr, proc.stderr
    assert "/state/" in proc.stderr and "epoch_1.pt; free some space" in proc.stderr, proc.stderr
    assert "iostream" not in proc.stderr and ".tmp" not in proc.stderr.splitlines()[-1]
    assert not list(disk.iterdir())  # the tmpfs lived only in the child's namespace


@pytest.mark.slow
def test_a_training_state_of_the_older_format_is_not_read_and_training_starts_again(tmp_path):
    """States written before the RNG state was stored as tensors and numbers hold NumPy's state as a
    pickled array: they are not read (weights_only=True); training says so and starts again, with the
    same result as a fresh run."""
    import numpy as np

    from dnn_topology.networks.checkpoints import read_checkpoint

    cfg = TrainConfig(epochs=1, **CFG)
    fresh = tmp_path / "fresh"
    train(cfg, _paths(fresh, 1), fresh / "training.csv", fresh / "state", progress=False)
    old = tmp_path / "old"
    (old / "state" / cfg.fingerprint()).mkdir(parents=True)
    for epoch in (0, 1):
        state = read_checkpoint(fresh / "state" / cfg.fingerprint() / f"epoch_{epoch}.pt")
        state["rng"]["numpy"] = np.random.get_state()  # the older format: a tuple holding an ndarray
        torch.save(state, old / "state" / cfg.fingerprint() / f"epoch_{epoch}.pt")
    import logging

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("dnn_topology")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        train(cfg, _paths(old, 1), old / "training.csv", old / "state", progress=False)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert any("holds more than tensors and numbers (an older format?)" in w and "epoch_1.pt" in w for w in warnings)
    assert not any("resuming" in r.getMessage() for r in records)
    for e in (0, 1):
        assert _same(_weights(_paths(old, 1)[e]), _weights(_paths(fresh, 1)[e]))


@pytest.mark.slow
def test_a_validation_split_is_held_out_of_training_and_measured_every_epoch(tmp_path):
    cfg = TrainConfig(
        epochs=2, **{**CFG, "network": "lenet_300_100", "subset": 0.1, "validation": 0.2, "batch_size": 16}
    )
    train_set, _, _, record, validation_set = training_data(cfg)
    # 400 digits kept, 80 held out: disjoint, together the subset, flagged in the label record
    assert len(train_set) == 320 and len(validation_set) == 80
    assert not set(train_set.indices) & set(validation_set.indices)
    assert sorted([*train_set.indices, *validation_set.indices]) == sorted(record["index"])
    assert set(record.loc[record["validation"], "index"]) == set(validation_set.indices)
    metrics = train(
        cfg,
        _paths(tmp_path, 2),
        tmp_path / "m.csv",
        tmp_path / "state",
        labels_csv=tmp_path / "labels.csv",
        progress=False,
    )
    assert metrics["val_loss"].notna().all() and metrics["val_acc"].between(0, 1).all()
    assert metrics["val_acc"].iloc[-1] > 0.5  # the held-out digits are real digits of the same classes
    assert pd.read_csv(tmp_path / "labels.csv")["validation"].sum() == 80
    # the split is part of the configuration: states of runs without it are not resumed
    assert (
        cfg.fingerprint() != TrainConfig(epochs=2, **{**CFG, "network": "lenet_300_100", "subset": 0.1}).fingerprint()
    )
    # and a run without a validation split keeps the fingerprint it had before the key existed (value of ff1a142)
    assert TrainConfig(epochs=1, **CFG).fingerprint() == "2fe296e5e875b640"
