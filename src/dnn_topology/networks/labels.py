"""Memorization controls: training subsets, permuted labels and one-vs-rest labels.

The original code's ``--permute_labels`` and ``--binarize_labels``, and training on a subset:

* :func:`subset_indices` keeps a uniformly random fraction of the training set;
* a random fraction of the kept samples have their labels shuffled among themselves (so some keep
  their label by chance), deterministically from the seed;
* with ``binarize_class`` set, that class becomes 1 and every other class 0 (this commutes with the
  permutation), and the network is built for 2 classes (:func:`effective_spec`);
* a random fraction of the kept samples (:func:`validation_positions`, config key ``training.validation``)
  is held out as a validation split: the network never trains on it, and its loss and accuracy are
  measured after every epoch. It is drawn after the permutation, so its labels are as noisy as the
  training labels; :func:`training_pool` gives the samples trained on and the validation samples.

:func:`apply_memorization_controls` returns the kept indices, their new labels and a record table
(``index, original_label, new_label, permuted, validation``) that training saves; :class:`RelabelledDataset`
serves them; :func:`controlled_datasets` applies all of it to a train/test pair. This module
does not import torch, nor pandas until a record table is made (the workflow checks ``binarize_class``
with it while it parses).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .datasets import DatasetSpec, dataset_labels

if TYPE_CHECKING:
    import pandas as pd
    from torch.utils.data import Dataset

# independent random streams for the subset, the permutation and the validation split, all from the one seed
# (stream 3 is the activations' draw of training samples)
_SUBSET_STREAM, _PERMUTE_STREAM, _VALIDATION_STREAM = 1, 2, 4


def trial_seed(seed: int, trial: int) -> int:
    """The seed of trial ``trial``: ``seed + trial`` (config key ``training.seed``).

    Everything random about a trial derives from it: initial weights, batch order, the training
    subset, the permuted labels, and the training samples the activations are taken on.
    """
    return int(seed) + int(trial)


def _check_fraction(value: float, key: str) -> float:
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"config key {key!r} must be a number in [0, 1], not {value!r}") from None
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"config key {key!r} must be in [0, 1], not {value!r}")
    return fraction


def check_binarize_class(binarize_class: int | None, spec: DatasetSpec | None = None) -> int | None:
    """Config key ``binarize_class``: None, or a class index (below ``spec.num_classes`` when given).

    Returns it as an ``int`` (or None); raises ``ValueError`` naming the key otherwise.
    """
    if binarize_class is None:
        return None
    upper = spec.num_classes if spec is not None else None
    if (
        isinstance(binarize_class, bool)
        or not isinstance(binarize_class, (int, np.integer))
        or binarize_class < 0
        or (upper is not None and binarize_class >= upper)
    ):
        allowed = ">= 0" if spec is None else f"in [0, {upper - 1}] for dataset {spec.name!r}"
        raise ValueError(f"config key 'binarize_class' must be a class index {allowed}, not {binarize_class!r}")
    return int(binarize_class)


def subset_indices(n: int, fraction: float, seed: int = 0) -> np.ndarray:
    """Sorted indices of a uniformly random ``fraction`` of ``n`` training samples.

    ``round(fraction * n)`` samples (at least one), chosen deterministically from ``seed``.
    ``fraction == 1`` returns all indices.
    """
    fraction = _check_fraction(fraction, "subset_fraction")
    if fraction == 0.0:
        raise ValueError("config key 'subset_fraction' must be greater than 0")
    k = max(1, int(round(fraction * n)))
    if k >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng([_SUBSET_STREAM, int(seed)])
    return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)


def validation_positions(n_kept: int, fraction: float, seed: int = 0) -> np.ndarray:
    """Sorted positions, among the ``n_kept`` samples of the training subset, held out for validation.

    ``round(fraction * n_kept)`` positions (at least one when ``fraction > 0``), drawn deterministically
    from ``seed``; none when ``fraction == 0``. At least one sample must remain to train on.

    Examples
    --------
    >>> validation_positions(10, 0.0).tolist()
    []
    >>> len(validation_positions(400, 0.2, seed=3))
    80
    """
    fraction = _check_fraction(fraction, "validation")
    if fraction == 0.0:
        return np.empty(0, dtype=np.int64)
    k = max(1, int(round(fraction * n_kept)))
    if k >= n_kept:
        raise ValueError(
            f"config key 'validation': {fraction} of the {n_kept} training samples leaves none to train on"
        )
    rng = np.random.default_rng([_VALIDATION_STREAM, int(seed)])
    return np.sort(rng.choice(n_kept, size=k, replace=False)).astype(np.int64)


def training_pool(n: int, subset: float = 1.0, validation: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices into the training split of the samples trained on, and of the validation samples.

    The subset (:func:`subset_indices`) split by :func:`validation_positions`; both sorted, disjoint,
    together the subset. Deterministic from ``seed`` (the trial's training seed).
    """
    kept = subset_indices(n, subset, seed)
    held = _held_out(len(kept), validation, seed)
    return kept[~held], kept[held]


def _held_out(n_kept: int, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask over the kept samples: True for those of :func:`validation_positions`."""
    held = np.zeros(n_kept, dtype=bool)
    held[validation_positions(n_kept, fraction, seed)] = True
    return held


def _permute(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle the labels of a random ``fraction`` of the samples among themselves.

    Returns the new labels and the (sorted) positions whose labels were shuffled.
    """
    fraction = _check_fraction(fraction, "permute_fraction")
    n = len(labels)
    k = int(round(fraction * n))
    new = labels.copy()
    if k < 2:
        return new, np.empty(0, dtype=np.int64)
    rng = np.random.default_rng([_PERMUTE_STREAM, int(seed)])
    chosen = np.sort(rng.choice(n, size=k, replace=False))
    new[chosen] = labels[chosen[rng.permutation(k)]]
    return new, chosen.astype(np.int64)


def binarize_labels(labels: np.ndarray, positive_class: int) -> np.ndarray:
    """One class vs rest, as the original: ``positive_class`` becomes 1, every other class 0."""
    return (np.asarray(labels) == positive_class).astype(np.int64)


@dataclass(frozen=True)
class ControlledLabels:
    """The training set after memorization controls.

    ``indices`` index the original training set, ``labels`` are their new labels (aligned with
    ``indices``), ``validation`` flags the samples held out for validation (aligned too), and ``record``
    is a table with one row per kept sample: ``index``, ``original_label``, ``new_label``, ``permuted``
    (whether its label took part in the shuffle), ``validation``.
    """

    indices: np.ndarray
    labels: np.ndarray
    record: pd.DataFrame
    validation: np.ndarray


def label_record(
    indices: np.ndarray,
    original: np.ndarray,
    new: np.ndarray,
    permuted: np.ndarray | None = None,
    validation: np.ndarray | None = None,
) -> pd.DataFrame:
    """Table ``index, original_label, new_label, permuted, validation`` to save for reproducibility."""
    import pandas as pd  # deferred: see the module docstring

    indices = np.asarray(indices, dtype=np.int64)
    no = np.zeros(len(indices), dtype=bool)
    return pd.DataFrame(
        {
            "index": indices,
            "original_label": np.asarray(original, dtype=np.int64),
            "new_label": np.asarray(new, dtype=np.int64),
            "permuted": no if permuted is None else np.asarray(permuted, dtype=bool),
            "validation": no if validation is None else np.asarray(validation, dtype=bool),
        }
    )


def apply_memorization_controls(
    labels: np.ndarray,
    *,
    subset_fraction: float = 1.0,
    permute_fraction: float = 0.0,
    binarize_class: int | None = None,
    seed: int = 0,
    validation_fraction: float = 0.0,
) -> ControlledLabels:
    """Subset the training set, permute and/or binarize the labels of the kept samples, and hold out a
    validation split among them.

    Parameters
    ----------
    labels : numpy.ndarray
        The whole training set's labels (not modified).
    subset_fraction : float
        Fraction of the training set kept (config key ``subset``), in (0, 1].
    permute_fraction : float
        Fraction of the kept samples whose labels are shuffled among themselves (``permute_labels``).
    binarize_class : int, optional
        This class becomes 1 and every other class 0; it must occur among the kept labels.
    seed : int
        Everything is deterministic from it.
    validation_fraction : float
        Fraction of the kept samples held out for validation (``training.validation``), in [0, 1).

    Returns
    -------
    ControlledLabels
        Kept indices, their new labels and the record table. Use as::

            ctl = apply_memorization_controls(dataset_labels(train), permute_fraction=0.5, seed=1)
            ctl.record.to_csv("labels.csv", index=False)
            train = RelabelledDataset(train, ctl.labels, ctl.indices)
    """
    labels = np.asarray(labels, dtype=np.int64)
    indices = subset_indices(len(labels), subset_fraction, seed)
    kept = labels[indices]
    binarize_class = check_binarize_class(binarize_class)
    if binarize_class is not None and len(kept) and not np.any(kept == binarize_class):
        raise ValueError(f"config key 'binarize_class': class {binarize_class} does not occur in the labels")
    permuted_labels, chosen = _permute(kept, permute_fraction, seed)
    new = permuted_labels if binarize_class is None else binarize_labels(permuted_labels, binarize_class)
    permuted = np.zeros(len(kept), dtype=bool)
    permuted[chosen] = True
    held = _held_out(len(kept), validation_fraction, seed)
    return ControlledLabels(indices, new, label_record(indices, kept, new, permuted, held), held)


def effective_spec(spec: DatasetSpec, binarize_class: int | None = None) -> DatasetSpec:
    """The spec a network must be built for: ``num_classes == 2`` when labels are binarized."""
    if check_binarize_class(binarize_class, spec) is None:
        return spec
    return dataclasses.replace(spec, num_classes=2)


class RelabelledDataset:
    """``base`` restricted to ``indices`` (all when ``None``), with ``labels[i]`` as the label of item i.

    ``labels`` are aligned with ``indices``; ``targets`` exposes them (for :func:`dataset_labels`).
    A map-style dataset (``len`` and ``[i]``, what ``torch.utils.data.DataLoader`` reads); it does
    not derive from torch's ``Dataset`` so that this module, which the configuration checks use,
    does not import torch.
    """

    def __init__(self, base: Dataset, labels: np.ndarray, indices: np.ndarray | None = None):
        self.base = base
        n_base = len(base)  # type: ignore[arg-type]
        self.indices = np.arange(n_base, dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
        self.targets = np.asarray(labels, dtype=np.int64)
        if self.targets.shape != self.indices.shape:
            raise ValueError(f"RelabelledDataset: {len(self.targets)} labels for {len(self.indices)} indices")
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= n_base):
            raise ValueError(f"RelabelledDataset: indices out of range for a dataset of {n_base} samples")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        x, _ = self.base[int(self.indices[i])]
        return x, int(self.targets[i])


def controlled_datasets(
    train: Dataset,
    test: Dataset,
    spec: DatasetSpec,
    *,
    subset_fraction: float = 1.0,
    permute_fraction: float = 0.0,
    binarize_class: int | None = None,
    seed: int = 0,
    validation_fraction: float = 0.0,
) -> tuple[Dataset, Dataset, DatasetSpec, pd.DataFrame | None, Dataset | None]:
    """Apply the memorization controls (and the validation split) to a train/test pair.

    Returns ``(train, test, spec, record, validation)``: ``spec`` is the one the network is built for
    (2 classes when labels are binarized; the test labels are binarized too), ``record`` lists every
    kept training sample with its original and new label and whether it is held out for validation (None
    when no control is active), and ``validation`` holds the held-out samples with their (controlled)
    labels (None without a validation split); ``train`` holds the others.
    """
    if permute_fraction == 0 and subset_fraction == 1.0 and binarize_class is None and validation_fraction == 0:
        return train, test, spec, None, None
    spec = effective_spec(spec, binarize_class)
    controlled = apply_memorization_controls(
        dataset_labels(train),
        subset_fraction=subset_fraction,
        permute_fraction=permute_fraction,
        binarize_class=binarize_class,
        seed=seed,
        validation_fraction=validation_fraction,
    )
    held = controlled.validation
    validation = RelabelledDataset(train, controlled.labels[held], controlled.indices[held]) if held.any() else None
    train = RelabelledDataset(train, controlled.labels[~held], controlled.indices[~held])
    if binarize_class is not None:
        test = RelabelledDataset(test, binarize_labels(dataset_labels(test), binarize_class))
    return train, test, spec, controlled.record, validation
