"""Evaluation stage: the train and test loss and accuracy of a checkpoint trained elsewhere.

A run whose checkpoints were trained outside the workflow (config key ``runs[].checkpoints``) has no training log;
rule ``evaluate`` measures, for each analysed epoch, what training measures after each epoch
(:mod:`dnn_topology.networks.training`), in the same columns (:data:`~dnn_topology.networks.training.METRIC_COLUMNS`):
the mean negative log-likelihood (nats) and the accuracy (a fraction) of the network in evaluation mode on the
**whole** train split and the whole test split of the run's dataset, with the dataset's own labels (one-vs-rest with
``training.binarize_class``). ``lr`` is unknown (empty); ``seconds`` is the time the evaluation took. The aggregate
rule gathers these rows into the run's ``training.csv``, so that figures, claims and the studies read imported runs
as they read trained ones.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ..io_utils import get_logger, write_csv
from . import datasets as dsets
from .checkpoints import load_checkpoint, torch_setup
from .labels import binarize_labels
from .refs import NetworkRef
from .samples import SampleSet
from .training import METRIC_COLUMNS, evaluate


def _with_labels(ds: Dataset, binarize_class: int | None) -> Dataset:
    """``ds`` with one-vs-rest labels when ``binarize_class`` is set (as training relabels them)."""
    if binarize_class is None:
        return ds
    xs, ys = zip(*((x, y) for x, y in DataLoader(ds, batch_size=1000, shuffle=False)))
    y = torch.from_numpy(binarize_labels(torch.cat(ys).numpy(), binarize_class)).long()
    return TensorDataset(torch.cat(xs), y)


def evaluate_checkpoint(
    checkpoint: str | Path,
    network: NetworkRef | Mapping[str, Any] | str,
    sample_set: SampleSet,
    epoch: int,
    device: str = "auto",
    threads: int = 1,
    batch_size: int = 256,
) -> pd.DataFrame:
    """One row of :data:`~dnn_topology.networks.training.METRIC_COLUMNS` for ``checkpoint`` (see the module docstring).

    Parameters
    ----------
    checkpoint : str or Path
        The checkpoint of epoch ``epoch``.
    network : NetworkRef, mapping or str
        Config keys ``runs[].network`` and ``runs[].network_kwargs``.
    sample_set : SampleSet
        The run's samples: its dataset, ``binarize_class`` and data location are used (both splits are evaluated
        whole).
    epoch : int
        Written in the ``epoch`` column.
    device, threads
        Config key ``device``; torch threads.
    batch_size : int
        Samples per forward pass.
    """
    dev = torch_setup(device, threads)
    ref = NetworkRef.of(network)
    t0 = time.perf_counter()
    net, _ = load_checkpoint(checkpoint, ref, sample_set.network_spec, dev)
    row: dict[str, float] = {"epoch": int(epoch)}
    for split in ("train", "test"):
        ds = dsets.load_split(
            sample_set.dataset, split, sample_set.data_dir, sample_set.download, registry=sample_set.registry
        )
        loader = DataLoader(_with_labels(ds, sample_set.binarize_class), batch_size=batch_size, shuffle=False)
        row[f"{split}_loss"], row[f"{split}_acc"] = evaluate(net, loader, dev, ref)
    row.update(lr=np.nan, seconds=time.perf_counter() - t0)
    get_logger().info(
        "%s: train loss %.4f acc %.4f | test loss %.4f acc %.4f",
        checkpoint,
        row["train_loss"],
        row["train_acc"],
        row["test_loss"],
        row["test_acc"],
    )
    return pd.DataFrame([row], columns=METRIC_COLUMNS)


def evaluate_stage(*, evaluation: str | Path, **options) -> pd.DataFrame:
    """Stage ``evaluate``: the train and test loss and accuracy of one epoch's checkpoint, as a one-row CSV.

    Parameters
    ----------
    evaluation : str or Path
        CSV file to write (atomically), columns :data:`~dnn_topology.networks.training.METRIC_COLUMNS`.
    **options
        The arguments of :func:`evaluate_checkpoint`, by keyword: ``checkpoint``, ``network``, ``sample_set``,
        ``epoch``, ``device`` (config key ``device``) and ``threads``.

    Returns
    -------
    pandas.DataFrame
        The row written.
    """
    table = evaluate_checkpoint(**options)
    write_csv(table, evaluation)
    return table
