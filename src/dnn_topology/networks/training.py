"""Training stage: deterministic SGD with a checkpoint after every epoch, resumable.

Epoch 0 is the initial weights. After each epoch a complete training state (weights, optimizer,
RNG states, metrics so far) is written atomically to a *state directory* that the workflow does
not declare as an output, so that Snakemake never deletes it: if a job is interrupted, running
it again resumes from the last complete epoch, with the same result as an uninterrupted run.
States live in a sub-directory named after the fingerprint of the training configuration, so
states of different configurations never mix and only the state resumed from is read. When
every epoch is done, a checkpoint per epoch (weights and metadata, no optimizer state) is
written to the declared output paths, and the metrics as a CSV. Train metrics are measured in
evaluation mode after each epoch, like the test metrics, so that epoch 0 and later epochs compare.

One trainer at a time per state directory: a trainer holds an exclusive lock (``flock``) on
``<state dir>/trainer.lock`` while it runs, and a second one (a rerun while a trainer orphaned by a killed
Snakemake still runs, say) stops at once with :class:`TrainingLockedError`, naming the first one's process.
The operating system releases the lock when its process ends, however it ends.

With a validation split (``training.validation``, see :mod:`dnn_topology.networks.labels`) the
held-out training samples are never trained on, and their loss and accuracy (``val_loss``,
``val_acc``) are measured like the others; without one those columns are empty.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import random
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..io_utils import atomic_path, get_logger
from . import datasets as dsets
from .architectures import build, log_probabilities
from .checkpoints import (
    CheckpointError,
    CheckpointRefusedError,
    cpu_state_dict,
    read_checkpoint,
    save_checkpoint,
    torch_setup,
)
from .labels import controlled_datasets, trial_seed
from .refs import NetworkRef

METRIC_COLUMNS = [
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
# the training states keep each epoch's accuracies as fractions (train_acc, val_acc, test_acc); the table gives percent
PROGRESS_SECONDS = 30.0  # progress="log": a line about this often within an epoch


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite: the weights from then on are meaningless."""


class TrainingLockedError(RuntimeError):
    """Another trainer is running on the same training state directory."""


LOCK_FILE = "trainer.lock"


@contextlib.contextmanager
def trainer_lock(state_dir: Path) -> Iterator[Path]:
    """Hold the exclusive lock of training state directory ``state_dir`` (see the module docstring).

    Raises :class:`TrainingLockedError` at once, naming the holder (its process id, host and start time,
    written in the lock file), when another process holds it.
    """
    path = Path(state_dir) / LOCK_FILE
    fh = open(path, "a+", encoding="utf-8")  # held open for the whole block: the lock is the open file's
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "a process that did not say which"
            raise TrainingLockedError(
                f"the training state {state_dir} is in use by another trainer ({holder}): two trainers on one "
                "state would overwrite each other's epochs. Let that one finish, or stop it (kill <pid>), then run "
                "the same command again; it resumes from the last complete epoch"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        fh.flush()
        yield path
    finally:
        fh.close()  # closing the file releases the lock


@dataclass
class TrainConfig:
    """Everything that determines a training run (and so its checkpoints)."""

    network: str
    dataset: str
    epochs: int
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 64
    seed: int = 0
    permute_labels: float = 0.0
    subset: float = 1.0
    binarize_class: int | None = None
    validation: float = 0.0
    data_dir: str = "data"
    download: bool = False
    network_kwargs: dict = field(default_factory=dict)

    @property
    def network_ref(self) -> NetworkRef:
        """The network trained (config keys ``runs[].network`` and ``runs[].network_kwargs``)."""
        return NetworkRef(self.network, self.network_kwargs)

    def fingerprint(self) -> str:
        """Hash of the fields that determine the weights of every epoch.

        ``epochs`` is left out so that a run can be extended, and the data location too; ``network_kwargs``
        when empty (so that the fingerprints of the built-in networks are those of earlier versions), and
        ``validation`` when it is 0, so that the states of runs made before the key existed are still found."""
        d = asdict(self)
        for key in ("epochs", "data_dir", "download"):
            d.pop(key)
        if not d["network_kwargs"]:
            d.pop("network_kwargs")
        if not d["validation"]:
            d.pop("validation")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def seed_everything(seed: int) -> None:
    """Seed every generator, and ask cuDNN for deterministic kernels (same result on a GPU rerun)."""
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    """Every generator's state as tensors, numbers and strings: what ``torch.load(weights_only=True)`` reads."""
    numpy_state = np.random.get_state(legacy=False)
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["bit_generator"],
            numpy_state["key"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["gauss"],
        )
    )
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def training_data(
    cfg: TrainConfig, registry: dsets.DatasetRegistry = dsets.BUILTIN
) -> tuple[Dataset, Dataset, dsets.DatasetSpec, pd.DataFrame | None, Dataset | None]:
    """Train and test sets with the memorization controls of ``cfg`` applied, and the validation split.

    Returns ``(train, test, spec, label_record, validation)``, see
    :func:`dnn_topology.networks.labels.controlled_datasets`.
    """
    return controlled_datasets(
        dsets.load_split(cfg.dataset, "train", cfg.data_dir, cfg.download, registry=registry),
        dsets.load_split(cfg.dataset, "test", cfg.data_dir, cfg.download, registry=registry),
        registry.spec(cfg.dataset),
        subset_fraction=cfg.subset,
        permute_fraction=cfg.permute_labels,
        binarize_class=cfg.binarize_class,
        seed=cfg.seed,
        validation_fraction=cfg.validation,
    )


def evaluate(
    net: torch.nn.Module, loader: DataLoader, device: torch.device, network: NetworkRef | str = "lenet"
) -> tuple[float, float]:
    """Mean NLL loss and accuracy of ``net`` (in eval mode) over ``loader``; ``network`` says whether ``net``
    outputs log-probabilities (built-in networks) or logits (:func:`~dnn_topology.networks.architectures.log_probabilities`)."""
    net.eval()
    total, loss_sum, correct = 0, 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = log_probabilities(network, net(x))
            loss_sum += F.nll_loss(out, y, reduction="sum").item()
            correct += (out.argmax(1) == y).sum().item()
            total += len(y)
    return loss_sum / max(total, 1), correct / max(total, 1)


def metrics_table(history: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The ``training.csv`` table of a training history: one row per epoch, accuracies in percent."""
    table = pd.DataFrame(list(history))
    for name in ("train_acc", "val_acc", "test_acc"):
        fraction = table[name] if name in table else float("nan")  # val_*: absent from states of earlier versions
        table[f"{name}_pct"] = (100.0 * fraction).round(10)  # 7.25, not 7.249999999999999
    return table.reindex(columns=METRIC_COLUMNS)


def _state_path(state_dir: Path, epoch: int) -> Path:
    return state_dir / f"epoch_{epoch}.pt"


def _save_state(path: Path, net, optimizer, epoch: int, history: list[dict], cfg: TrainConfig) -> None:
    state = {
        "net": cpu_state_dict(net),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "history": history,
        "rng": _rng_state(),
        "config": asdict(cfg),
        "fingerprint": cfg.fingerprint(),
    }
    save_checkpoint(path, state)


def _last_complete_state(state_dir: Path, cfg: TrainConfig) -> tuple[int, dict | None]:
    """Highest epoch e such that the states of epochs 0..e all exist, and the state of e."""
    last = -1
    while last < cfg.epochs and _state_path(state_dir, last + 1).exists():
        last += 1
    while last >= 0:
        path = _state_path(state_dir, last)
        try:
            return last, read_checkpoint(path)
        except CheckpointRefusedError:  # e.g. written before the RNG state was stored as tensors and numbers
            get_logger().warning(
                "training state %s holds more than tensors and numbers (an older format?) and is "
                "not read: training goes back to the last state that can be read",
                path,
            )
            last -= 1
        except CheckpointError as err:  # our writes are atomic, but a disk can still fail
            get_logger().warning("ignoring unreadable training state %s (%s)", path, err)
            last -= 1
    return -1, None


def _diverged(cfg: TrainConfig, epoch: int, what: str, state_dir: Path) -> None:
    raise TrainingDivergedError(
        f"training diverged in epoch {epoch} of {cfg.network} on {cfg.dataset} (seed {cfg.seed}): {what}. "
        f"Lower training.lr (now {cfg.lr}). The training states of epochs 0..{epoch - 1} are kept in {state_dir}"
    )


def _write_checkpoint(state_path: Path, out: Path) -> None:
    """The published checkpoint of one epoch: weights and metadata (the original's keys too)."""
    state = read_checkpoint(state_path)
    metrics = state["history"][-1]
    checkpoint = {
        "net": state["net"],
        "epoch": state["epoch"],
        "test_acc": metrics["test_acc"],
        "acc": 100.0 * metrics["test_acc"],
        "config": state["config"],
    }
    save_checkpoint(out, checkpoint)


def train(
    cfg: TrainConfig,
    checkpoint_paths: Sequence[str | Path],
    metrics_csv: str | Path,
    state_dir: str | Path,
    device: str = "auto",
    threads: int = 1,
    labels_csv: str | Path | None = None,
    progress: bool | str = True,
    registry: dsets.DatasetRegistry = dsets.BUILTIN,
    label: str = "",
) -> pd.DataFrame:
    """Train ``cfg.network`` on ``cfg.dataset`` (a dataset of ``registry``) for ``cfg.epochs`` epochs.

    ``checkpoint_paths[e]`` receives the checkpoint of epoch ``e`` (0..epochs).
    Returns the metrics table (one row per epoch). ``progress``: ``True`` draws a progress bar of each
    epoch's batches, ``"log"`` logs a line about every :data:`PROGRESS_SECONDS` seconds instead (whole
    lines, which jobs running side by side cannot garble), ``False`` neither. ``label`` starts every
    log line (e.g. the run and trial, to tell parallel jobs apart). A second trainer on the same state
    directory stops with :class:`TrainingLockedError` (see the module docstring).
    """
    if len(checkpoint_paths) != cfg.epochs + 1:
        raise ValueError(
            f"need {cfg.epochs + 1} checkpoint paths (epochs 0..{cfg.epochs}), got {len(checkpoint_paths)}"
        )
    state_dir = Path(state_dir) / cfg.fingerprint()
    state_dir.mkdir(parents=True, exist_ok=True)
    with trainer_lock(state_dir):
        return _train(
            cfg, checkpoint_paths, metrics_csv, state_dir, device, threads, labels_csv, progress, registry, label
        )


def _train(
    cfg: TrainConfig,
    checkpoint_paths: Sequence[str | Path],
    metrics_csv: str | Path,
    state_dir: Path,
    device: str,
    threads: int,
    labels_csv: str | Path | None,
    progress: bool | str,
    registry: dsets.DatasetRegistry,
    label: str,
) -> pd.DataFrame:
    """:func:`train` in ``state_dir`` (its configuration's own), with the trainer's lock held."""
    log = get_logger()
    tag = f"{label}: " if label else ""
    dev = torch_setup(device, threads)
    log.info(
        "%straining %s on %s, seed %d, lr %g, %d epochs (states in %s)",
        tag,
        cfg.network,
        cfg.dataset,
        cfg.seed,
        cfg.lr,
        cfg.epochs,
        state_dir,
    )

    train_set, test_set, spec, label_record, validation_set = training_data(cfg, registry)
    if labels_csv is not None:
        with atomic_path(labels_csv) as tmp:
            (
                label_record
                if label_record is not None
                else pd.DataFrame(columns=["index", "original_label", "new_label"])
            ).to_csv(tmp, index=False)

    seed_everything(cfg.seed)
    ref = cfg.network_ref
    net = build(ref, spec).to(dev)
    optimizer = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    pin = dev.type == "cuda"
    test_loader = DataLoader(test_set, batch_size=256, shuffle=False, pin_memory=pin)
    train_eval_loader = DataLoader(train_set, batch_size=256, shuffle=False, pin_memory=pin)
    val_loader = None if validation_set is None else DataLoader(validation_set, batch_size=256, pin_memory=pin)

    def validation_metrics() -> dict[str, float]:
        if val_loader is None:
            return {"val_loss": float("nan"), "val_acc": float("nan")}
        val_loss, val_acc = evaluate(net, val_loader, dev, ref)
        return {"val_loss": val_loss, "val_acc": val_acc}

    last, state = _last_complete_state(state_dir, cfg)
    if state is not None:
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        _set_rng_state(state["rng"])
        history = list(state["history"])
        log.info("resuming %s/%s seed %d from epoch %d (%s)", cfg.network, cfg.dataset, cfg.seed, last, state_dir)
    else:
        t0 = time.perf_counter()
        train_loss, train_acc = evaluate(net, train_eval_loader, dev, ref)
        test_loss, test_acc = evaluate(net, test_loader, dev, ref)
        history = [
            dict(
                epoch=0,
                train_loss=train_loss,
                train_acc=train_acc,
                **validation_metrics(),
                test_loss=test_loss,
                test_acc=test_acc,
                lr=cfg.lr,
                seconds=time.perf_counter() - t0,
            )
        ]
        _save_state(_state_path(state_dir, 0), net, optimizer, 0, history, cfg)
        last = 0
        log.info("%sepoch 0 (initial weights): test acc %.2f%%", tag, 100 * test_acc)

    for epoch in range(last + 1, cfg.epochs + 1):
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, generator=gen, pin_memory=pin)
        net.train()
        reported = time.monotonic()
        for batch, (x, y) in enumerate(
            tqdm(loader, desc=f"{tag}epoch {epoch}/{cfg.epochs}", disable=progress is not True, leave=False)
        ):
            if progress == "log" and time.monotonic() - reported >= PROGRESS_SECONDS:
                reported = time.monotonic()
                log.info("%sepoch %d/%d: batch %d of %d", tag, epoch, cfg.epochs, batch, len(loader))
            x, y = x.to(dev), y.to(dev)
            optimizer.zero_grad(set_to_none=True)
            loss = F.nll_loss(log_probabilities(ref, net(x)), y)
            if not torch.isfinite(loss):
                _diverged(cfg, epoch, f"the loss is {loss.item()} at batch {batch + 1} of {len(loader)}", state_dir)
            loss.backward()
            optimizer.step()
        train_loss, train_acc = evaluate(net, train_eval_loader, dev, ref)
        test_loss, test_acc = evaluate(net, test_loader, dev, ref)
        if not (np.isfinite(train_loss) and np.isfinite(test_loss)):
            _diverged(cfg, epoch, f"the loss after the epoch is {train_loss} (train), {test_loss} (test)", state_dir)
        history.append(
            dict(
                epoch=epoch,
                train_loss=train_loss,
                train_acc=train_acc,
                **validation_metrics(),
                test_loss=test_loss,
                test_acc=test_acc,
                lr=cfg.lr,
                seconds=time.perf_counter() - t0,
            )
        )
        _save_state(_state_path(state_dir, epoch), net, optimizer, epoch, history, cfg)
        log.info(
            "%sepoch %d/%d: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% (%.1f s)",
            tag,
            epoch,
            cfg.epochs,
            history[-1]["train_loss"],
            100 * history[-1]["train_acc"],
            test_loss,
            100 * test_acc,
            history[-1]["seconds"],
        )

    for epoch, out in enumerate(checkpoint_paths):
        _write_checkpoint(_state_path(state_dir, epoch), Path(out))
    metrics = metrics_table(history)
    with atomic_path(metrics_csv) as tmp:
        metrics.to_csv(tmp, index=False)
    return metrics


def train_stage(
    *,
    network: NetworkRef | Mapping[str, Any] | str,
    dataset: str,
    training: Mapping[str, Any],
    trial: int,
    checkpoints: Sequence[str | Path],
    metrics: str | Path,
    labels: str | Path,
    state_dir: str | Path,
    data_dir: str | Path = "data",
    download: bool = False,
    device: str = "auto",
    threads: int = 1,
    imagefolders: dict | None = None,
    datasets: dict | None = None,
    progress: bool | str = "log",
    label: str = "",
) -> pd.DataFrame:
    """Stage ``train``: train one network on one dataset for one trial, a checkpoint per epoch.

    Parameters
    ----------
    network : NetworkRef, mapping or str
        Config keys ``runs[].network`` and ``runs[].network_kwargs`` (a
        :class:`~dnn_topology.networks.refs.NetworkRef`, its params, or a built-in name).
    dataset : str
        Config key ``runs[].dataset``.
    training : mapping
        The run's ``training`` section (``epochs``, ``lr``, ..., ``seed``, ``validation``; see
        :class:`TrainConfig`).
    trial : int
        The trial; it trains with seed ``training["seed"] + trial``.
    checkpoints : sequence of paths
        One per epoch 0..epochs (0 is the initial weights).
    metrics, labels : str or Path
        CSV files to write: one row of metrics per epoch; the label record of the memorization
        controls (empty when none is active).
    state_dir : str or Path
        Where resumable training states are kept (see the module docstring).
    data_dir, download, device, threads
        Config keys ``data_dir``, ``download``, ``device``; torch threads.
    imagefolders, datasets : dict, optional
        Config keys ``imagefolders`` and ``datasets`` (see :func:`dnn_topology.networks.datasets.dataset_registry`).
    progress, label
        See :func:`train`; by default whole log lines, which parallel jobs cannot garble.

    Returns
    -------
    pandas.DataFrame
        The metrics table.
    """
    options = {**training, "seed": trial_seed(training["seed"], trial)}
    ref = NetworkRef.of(network)
    cfg = TrainConfig(
        network=ref.name,
        dataset=dataset,
        **options,
        data_dir=str(data_dir),
        download=download,
        network_kwargs=dict(ref.kwargs),
    )
    return train(
        cfg,
        checkpoints,
        metrics,
        state_dir,
        device=device,
        threads=threads,
        labels_csv=labels,
        progress=progress,
        registry=dsets.dataset_registry(imagefolders, datasets),
        label=label,
    )
