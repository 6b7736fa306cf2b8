"""Weight norms of a run's checkpoints: the norm-based baseline of the generalization study.

Tan, Chen, Hoffman, Xie (2024, arXiv 2406.02234) found that the L2 norm of a network's weights
correlates with its generalization gap better than the persistent-homology dimensions proposed as
generalization measures. The study uses it as a baseline: a linear fit of the gap on ``weight_l2``.

Units and conventions
---------------------
* ``weight_l2`` = sqrt(sum of the squares of every trainable parameter), weights and biases of every
  layer, as the network of :mod:`dnn_topology.networks.models` declares them (``named_parameters``);
  buffers (batch-norm running statistics) are not parameters and are left out. Unitless (the
  parameters' own scale).
* ``n_parameters``: how many numbers that norm is over.

The stage reads checkpoints only (torch, no pandas): one job per run reads every checkpoint that
the study analyses.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from ...io_utils import atomic_path, get_logger

COLUMNS = ("trial", "epoch", "weight_l2", "n_parameters")


def parameter_norm(net) -> tuple[float, int]:
    """L2 norm of every trainable parameter of ``net`` (a ``torch.nn.Module``), and their count.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(2, 1)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[3.0, 0.0]])), net.bias.fill_(4.0)
    >>> parameter_norm(net)
    (5.0, 3)
    """
    import torch

    with torch.no_grad():
        squares = sum(float(p.double().pow(2).sum()) for p in net.parameters())
        count = sum(p.numel() for p in net.parameters())
    return squares**0.5, int(count)


def weight_norms_stage(
    *,
    checkpoints: Sequence[str | Path],
    network: Mapping | str,
    dataset: str,
    trial_epochs: Sequence[Sequence[int]],
    norms: str | Path,
    binarize_class: int | None = None,
    imagefolders: Mapping | None = None,
    datasets: Mapping | None = None,
) -> list[dict]:
    """Stage ``weight_norms``: the L2 norm of the weights of each checkpoint of a run.

    Parameters
    ----------
    checkpoints : sequence of paths
        The run's checkpoints of its trials and analysed epochs (``results/<run>/trial_<T>/checkpoints/epoch_<E>.pt``,
        or the files of ``runs[].checkpoints``).
    network : mapping or str
        The run's network (config keys ``runs[].network`` and ``runs[].network_kwargs``; ``NetworkRef.params()``).
    dataset : str
        The run's dataset (config key ``runs[].dataset``).
    norms : str or Path
        CSV to write: ``trial, epoch, weight_l2, n_parameters``, sorted by trial and epoch.
    trial_epochs : sequence of (trial, epoch)
        The trial and epoch of each checkpoint, in the order of ``checkpoints``.
    binarize_class : int, optional
        ``training.binarize_class`` (the network then has 2 outputs).
    imagefolders, datasets : mapping, optional
        Config keys ``imagefolders`` and ``datasets``.

    Returns
    -------
    list of dict
        The rows written.
    """
    # deferred: the workflow imports this package's config modules while it parses
    from ...networks import datasets as dsets
    from ...networks.checkpoints import load_checkpoint
    from ...networks.labels import effective_spec
    from ...networks.refs import NetworkRef

    ref = NetworkRef.of(network)
    spec = effective_spec(dsets.dataset_registry(imagefolders, datasets).spec(dataset), binarize_class)
    if len(trial_epochs) != len(checkpoints):
        raise ValueError(f"{len(checkpoints)} checkpoints but {len(trial_epochs)} (trial, epoch) pairs")
    rows = []
    for path, (trial, epoch) in zip(checkpoints, trial_epochs):
        net, _ = load_checkpoint(path, ref, spec)
        norm, count = parameter_norm(net)
        rows.append({"trial": int(trial), "epoch": int(epoch), "weight_l2": norm, "n_parameters": count})
    rows.sort(key=lambda r: (r["trial"], r["epoch"]))
    with atomic_path(norms) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "weight_l2": repr(row["weight_l2"])})
    get_logger().info("%s: weight norms of %d checkpoints of %s", norms, len(rows), ref)
    return rows
