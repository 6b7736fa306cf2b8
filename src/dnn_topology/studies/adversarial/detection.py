"""Does the functional graph's topology detect adversarial inputs? A batch-level detector, evaluated honestly.

Protocol
--------
1. A held-out *pool* (the first ``n_pool`` samples of the test split, never trained on) is split with ``seed``
   into two **disjoint halves, stratified by class** (:func:`pool_halves`): half A stays clean, half B is
   attacked (every sample of it, whether or not the attack succeeds on it).
2. Each half is put in a **class-mixed order** and cut into consecutive batches of ``batch_size`` (m) samples
   (``n_batches`` of them, or as many as fit): every batch holds the classes in about the proportions of the
   pool. (The mnist5k test split is ordered by class; consecutive batches of a sorted half were each almost one
   digit, and the detector then told digits apart, not clean from attacked inputs.) A batch is one example for
   the detector: label 0 (clean) or 1 (attacked).
3. Features of a batch, from the activations of the detection node set (``node_selection``) on its m samples:

   * **topology** (``topo_*``): the functional graph of the batch (distance 1 - |corr| over its m samples),
     Vietoris-Rips persistence H0..H``max_dim`` cut at ``max_epsilon`` (DIPHA units), the Betti curves at
     ``n_points`` epsilons and their summaries (max beta_k, density at the peak, areas, finite classes,
     mean life and midlife; see :mod:`dnn_topology.topology.betti`);
   * **baseline** (``base_*``): non-topological statistics of the same activations: per layer the mean and
     the variance of the batch's activations, and the softmax confidence (mean and std of the top-class
     probability, mean entropy) of the network's outputs;
   * **combined**: both.

4. A logistic regression (standardised features, L2, C = 1) is evaluated with stratified k-fold
   cross-validation over the batches (every batch is in exactly one test fold, never in its own training
   folds). ROC AUC of the out-of-fold scores; its 95% interval from bootstrap resamples of the batches, each
   cross-validated again (:func:`~dnn_topology.studies.adversarial.evaluation.refit_bootstrap`: the interval
   covers the variation of the fitted detector, which the earlier bootstrap of the out-of-fold scores left out);
   a one-sided permutation p-value (labels of the batches permuted, cross-validation run again).

Controls, in every table (column ``role``; the others are ``attack``):

* ``null_control`` (attack ``clean-vs-clean``): clean vs clean: half A against half B *not attacked*. The AUC should be near 0.5 and its interval
  should cover 0.5; anything else is a flaw of the protocol, not a detection.
* ``noise_control``: half A against half B moved by random +-epsilon noise of the attacks' L-infinity size (the noise
  control, attack id ``adv_noise_eps<epsilon>``, see :mod:`dnn_topology.studies.adversarial.config`). A feature
  set that separates these detects perturbation, not adversarial perturbation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ...io_utils import get_logger, write_csv
from ...layout import parse_epoch_path
from ...networks.samples import SampleSet
from ...topology.betti import betti_curves, summarize
from ...topology.dipha_files import full_to_sparse
from ...topology.graph import distance_matrix
from ...topology.persistence import compute_persistence
from .config import AttackSpec, detection_pool
from .evaluation import (
    NULL_ATTACK,
    NULL_CONTROL,
    ROW_KEYS,
    fold_splits,
    group_folds,
    out_of_fold_scores,
    refit_bootstrap,
    refit_permutation_pvalue,
    roc_auc,
    role_of,
)

FEATURE_SETS = {"topology": ("topo_",), "baseline": ("base_",), "combined": ("topo_", "base_")}
SUMMARY_FEATURES = [
    "max_betti",
    "epsilon_at_max",
    "density_pct_at_max",
    "auc_epsilon",
    "auc_density_pct",
    "n_finite",
    "mean_life",
    "mean_midlife",
]
TABLE_COLUMNS = [
    *ROW_KEYS,
    "features",
    "n_features",
    "batch_size",
    "n_clean",
    "n_attacked",
    "folds",
    "auc",
    "auc_low",
    "auc_high",
    "p_value",
    "fold_auc_mean",
    "fold_auc_std",
]


# ------------------------------------------------------------------------------------------- batches


def class_mixed_order(positions: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``positions`` reordered so that every stretch of consecutive ones holds the classes in about their overall
    proportions: each class's members (shuffled) are spread evenly over the order.

    Examples
    --------
    >>> order = class_mixed_order(np.arange(8), np.array([0, 0, 0, 0, 1, 1, 1, 1]), np.random.default_rng(0))
    >>> [sorted(np.array([0, 0, 0, 0, 1, 1, 1, 1])[order[i : i + 2]].tolist()) for i in (0, 2, 4, 6)]
    [[0, 1], [0, 1], [0, 1], [0, 1]]
    """
    positions, labels = np.asarray(positions), np.asarray(labels)
    keys = np.empty(len(positions))
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        # evenly spaced slots in [0, 1) with a random phase per class, so no class always comes first
        keys[members] = (np.arange(len(members)) + rng.random()) / len(members)
    return positions[np.lexsort((rng.random(len(positions)), keys))]


def pool_halves(labels, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positions 0..n-1 of the pool split with ``seed`` into two disjoint halves of equal size, stratified by class
    (``labels``: the pool's labels), each in :func:`class_mixed_order`: (clean half A, attacked half B).

    Examples
    --------
    >>> a, b = pool_halves([0] * 6 + [1] * 6, seed=1)
    >>> len(a), len(b), sorted(np.r_[a, b].tolist()) == list(range(12))
    (6, 6, True)
    """
    labels = np.asarray(labels)
    if len(labels) < 2:
        raise ValueError(f"adversarial.detection.n_pool must be >= 2, got {len(labels)}")
    rng = np.random.default_rng(seed)
    halves: tuple[list, list] = ([], [])
    turn = 0
    for c in np.unique(labels):  # deal each class's members alternately, continuing the turn across classes
        for p in rng.permutation(np.flatnonzero(labels == c)):
            halves[turn].append(p)
            turn = 1 - turn
    size = len(labels) // 2
    a, b = (np.asarray(h[:size], dtype=int) for h in halves)
    return class_mixed_order(a, labels[a], rng), class_mixed_order(b, labels[b], rng)


def cut_batches(n: int, batch_size: int, n_batches: int | None = None) -> list[np.ndarray]:
    """Consecutive, disjoint batches of ``batch_size`` positions out of ``n`` (the remainder is dropped)."""
    fit = n // batch_size
    if fit < 2 or (n_batches is not None and n_batches > fit):
        want = n_batches if n_batches is not None else 2
        raise ValueError(
            f"adversarial.detection: a half of the pool holds {n} samples, {fit} batches of "
            f"batch_size {batch_size}, but {want} are needed (increase n_pool or lower batch_size)"
        )
    return [np.arange(i * batch_size, (i + 1) * batch_size) for i in range(n_batches or fit)]


# ------------------------------------------------------------------------------------------- features


def topological_features(
    acts: np.ndarray, max_dim: int, max_epsilon: float, n_points: int, engine: str = "giotto", threads: int = 1
) -> dict[str, float]:
    """Betti-curve and summary features of the functional graph of one batch (samples x nodes)."""
    sparse = full_to_sparse(distance_matrix(acts), max_epsilon)
    diagram = compute_persistence(sparse, max_dim + 1, engine=engine, n_threads=threads)
    curves = betti_curves(diagram, sparse, max_dim=max_dim, max_epsilon=max_epsilon, n_points=n_points)
    summary = summarize(curves, diagram, max_dim=max_dim)
    out: dict[str, float] = {}
    for k in range(max_dim + 1):
        beta = curves.loc[curves["dim"] == k, "betti"].to_numpy()
        out.update({f"topo_b{k}_{i:03d}": float(b) for i, b in enumerate(beta)})
        row = summary[summary["dim"] == k].iloc[0]
        out.update({f"topo_{c}_h{k}": float(np.nan_to_num(row[c])) for c in SUMMARY_FEATURES})
    return out


def baseline_features(acts: np.ndarray, layers: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Per-layer mean and variance of the batch's activations, and its softmax confidence."""
    out: dict[str, float] = {}
    for layer in dict.fromkeys(layers):  # in network order
        values = acts[:, layers == layer]
        out[f"base_mean_{layer}"] = float(values.mean())
        out[f"base_var_{layer}"] = float(values.var())
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    top = p.max(axis=1)
    out["base_confidence_mean"] = float(top.mean())
    out["base_confidence_std"] = float(top.std())
    out["base_entropy_mean"] = float(-(p * np.log(np.clip(p, 1e-30, None))).sum(axis=1).mean())
    return out


def batch_features(
    acts: np.ndarray,
    layers: np.ndarray,
    logits: np.ndarray,
    batches: list[np.ndarray],
    label: int,
    max_dim: int,
    max_epsilon: float,
    n_points: int,
    engine: str = "giotto",
    threads: int = 1,
) -> pd.DataFrame:
    """One row per batch: ``batch``, ``label``, ``first_sample`` (position of its first sample in ``acts``) and
    the ``topo_*`` and ``base_*`` features."""
    rows = []
    for b, idx in enumerate(batches):
        row = {"batch": b, "label": int(label), "first_sample": int(idx[0])}
        row.update(topological_features(acts[idx], max_dim, max_epsilon, n_points, engine, threads))
        row.update(baseline_features(acts[idx], layers, logits[idx]))
        rows.append(row)
    return pd.DataFrame(rows)


def detection_features(
    *,
    checkpoint,
    network: str,
    sample_set: SampleSet,
    attack_spec: dict | None,
    detection: dict,
    device: str = "auto",
    threads: int = 1,
) -> pd.DataFrame:
    """Per-batch features of the detection pool at one checkpoint (see the module docstring).

    Parameters
    ----------
    checkpoint : str or Path
        The checkpoint of one epoch: the network whose nodes describe each batch.
    network : str
        Config key ``runs[].network``.
    sample_set : SampleSet
        The run's samples: their dataset, labels and data location; the pool is :func:`detection_pool` of it.
    attack_spec : dict or None
        The attack (or noise control) applied to half B (fields of :class:`AttackSpec`); None for the clean
        inputs: then both halves, A and B, clean (B clean is the null control's other side).
    detection : dict
        Config section ``adversarial.detection``.
    device, threads
        Config key ``device``; torch threads.

    Returns
    -------
    pandas.DataFrame
        One row per batch (see :func:`batch_features`), with its ``half`` (A or B), the ``accuracy`` of the
        network on it and the number of classes it holds (``n_classes``).
    """
    # torch: the features need it, the detector's evaluation (detection_stage, in its own job) does not
    from torch.utils.data import Subset

    from ...networks.activations import fixed_samples, load_network
    from ...networks.checkpoints import torch_setup
    from .attacks import attack, logits_of, pixel_activations, sample_pixels

    dev = torch_setup(device, threads)
    mean, std = sample_set.normalization
    net, selection = load_network(checkpoint, network, sample_set, detection["node_selection"], dev)
    pool, record = fixed_samples(detection_pool(sample_set, detection))
    halves = dict(zip("AB", pool_halves(record["label"].to_numpy(), detection["seed"])))
    layers = selection.table["layer"].to_numpy()
    tables = []
    for half in ("A", "B") if attack_spec is None else ("B",):
        order = halves[half]
        batches = cut_batches(len(order), detection["batch_size"], detection.get("n_batches"))
        x, y = sample_pixels(Subset(pool, order.tolist()), mean, std, sample_set.binarize_class)
        if attack_spec is not None:
            x = attack(net, x, y, AttackSpec(**attack_spec), mean, std, dev)
        acts = pixel_activations(net, x, selection, mean, std, dev)
        logits = logits_of(net, x, mean, std, dev).numpy()
        features = batch_features(
            acts,
            layers,
            logits,
            batches,
            int(attack_spec is not None),
            detection["max_dim"],
            detection["max_epsilon"],
            detection["n_points"],
            threads=threads,
        )
        features["first_sample"] = [int(order[i[0]]) for i in batches]  # position in the pool
        features.insert(2, "half", half)
        features.insert(3, "accuracy", [float((logits[i].argmax(1) == y.numpy()[i]).mean()) for i in batches])
        features.insert(4, "n_classes", [len(np.unique(record["label"].to_numpy()[order[i]])) for i in batches])
        tables.append(features)
        get_logger().info(
            "%s: half %s of the pool (%s), %d batches of %d samples x %d nodes, %.1f classes per batch",
            checkpoint,
            half,
            "clean" if attack_spec is None else AttackSpec(**attack_spec).attack_id,
            len(batches),
            detection["batch_size"],
            acts.shape[1],
            features["n_classes"].mean(),
        )
    return pd.concat(tables, ignore_index=True)


def detection_features_stage(*, features, **options) -> pd.DataFrame:
    """Stage ``detection_features``: the per-batch features of one half of the detection pool, to CSV.

    Parameters
    ----------
    features : str or Path
        The CSV to write (atomically): one row per batch (see :func:`batch_features`).
    **options
        The keyword arguments of :func:`detection_features`: ``checkpoint``, ``network``, ``sample_set`` (the
        run's samples: their dataset, labels and data location; the pool is :func:`detection_pool` of it),
        ``attack_spec`` (None for the clean half), ``detection`` (config section ``adversarial.detection``),
        ``device`` and ``threads``.

    Returns
    -------
    pandas.DataFrame
        The features written.
    """
    table = detection_features(**options)
    write_csv(table, features)
    return table


# ------------------------------------------------------------------------------------------- evaluation


def evaluate_detector(
    clean: pd.DataFrame,
    attacked: pd.DataFrame,
    features: str,
    folds: int = 5,
    seed: int = 0,
    n_bootstrap: int = 500,
    n_permutations: int = 200,
) -> dict:
    """Cross-validated ROC AUC of the logistic-regression detector on one feature set (see FEATURE_SETS), its
    interval (:func:`~dnn_topology.studies.adversarial.evaluation.refit_bootstrap`) and permutation p-value.

    ``clean`` rows are the negatives, ``attacked`` rows the positives (their ``label`` column is not read, so
    the null control passes two clean tables). Each row (batch) is its own group.
    """
    data = pd.concat([clean, attacked], ignore_index=True)
    columns = [c for c in data.columns if c.startswith(FEATURE_SETS[features])]
    X = data[columns].to_numpy(dtype=float)
    labels = np.r_[np.zeros(len(clean), dtype=int), np.ones(len(attacked), dtype=int)]
    groups = np.arange(len(labels))
    splits = fold_splits(group_folds(groups, labels, folds, seed))
    scores = out_of_fold_scores(X, labels, splits)
    auc = roc_auc(labels, scores)
    low, high = refit_bootstrap(X, labels, groups, folds, n_bootstrap, seed)
    per_fold = [roc_auc(labels[test], scores[test]) for _, test in splits]
    return {
        "features": features,
        "n_features": len(columns),
        "n_clean": int((labels == 0).sum()),
        "n_attacked": int((labels == 1).sum()),
        "folds": len(splits),
        "auc": auc,
        "auc_low": low,
        "auc_high": high,
        "p_value": refit_permutation_pvalue(X, labels, groups, folds, auc, n_permutations, seed),
        "fold_auc_mean": float(np.mean(per_fold)),
        "fold_auc_std": float(np.std(per_fold)),
    }


def detection_table(
    clean_csvs: Mapping[tuple[int, int], str | Path],
    attacked_csvs: Mapping[tuple[int, int, str], str | Path],
    attacks: Mapping[str, dict],
    batch_size: int,
    folds: int = 5,
    seed: int = 0,
    n_bootstrap: int = 500,
    n_permutations: int = 200,
) -> pd.DataFrame:
    """One row per trial, epoch, attack (or control) and feature set (:data:`TABLE_COLUMNS`).

    ``clean_csvs[(trial, epoch)]`` (both halves clean) and ``attacked_csvs[(trial, epoch, attack_id)]`` (half B
    attacked) are per-batch feature tables written by :func:`detection_features_stage`; ``attacks[attack_id]``
    is the attack's spec. Each trial and epoch also gets the null control (half A vs half B, both clean; attack
    :data:`~dnn_topology.studies.adversarial.evaluation.NULL_ATTACK`); the noise control's rows come with its
    attack ids.
    """
    rows = []

    def add(trial, epoch, attack_id, role, method, epsilon, clean, other):
        for features in FEATURE_SETS:
            result = evaluate_detector(clean, other, features, folds, seed, n_bootstrap, n_permutations)
            rows.append(
                {
                    "trial": trial,
                    "epoch": epoch,
                    "attack": attack_id,
                    "role": role,
                    "method": method,
                    "epsilon": epsilon,
                    "batch_size": batch_size,
                    **result,
                }
            )

    for (trial, epoch), path in sorted(clean_csvs.items()):
        both = pd.read_csv(path)
        add(trial, epoch, NULL_ATTACK, NULL_CONTROL, "none", 0.0, both[both["half"] == "A"], both[both["half"] == "B"])
    for (trial, epoch, attack_id), path in sorted(attacked_csvs.items()):
        both = pd.read_csv(clean_csvs[(trial, epoch)])
        spec = AttackSpec(**attacks[attack_id])
        add(
            trial,
            epoch,
            attack_id,
            role_of(spec),
            spec.method,
            spec.epsilon,
            both[both["half"] == "A"],
            pd.read_csv(path),
        )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS).sort_values(["trial", "epoch"], kind="stable", ignore_index=True)


def detection_stage(*, clean_csvs, attacked_csvs, table, attacks: Mapping[str, dict], detection: dict) -> pd.DataFrame:
    """Stage ``detection``: the detection table of a run (:func:`detection_table`, :data:`TABLE_COLUMNS`).

    Parameters
    ----------
    clean_csvs, attacked_csvs : sequence of paths
        Per-batch feature files of the clean and attacked halves; trial, epoch and attack are read from their
        paths (``trial_<T>/epoch_<E>/[<attack id>/]detection_features.csv``).
    table : str or Path
        The CSV to write (atomically).
    attacks : mapping
        attack id -> attack spec (dict).
    detection : dict
        Config section ``adversarial.detection`` (``batch_size``, ``folds``, ``seed``, ``n_bootstrap``,
        ``n_permutations``).
    """
    clean = [parse_epoch_path(p) for p in clean_csvs]
    attacked = [parse_epoch_path(p) for p in attacked_csvs]
    result = detection_table(
        {(c.trial, c.epoch): p for c, p in zip(clean, clean_csvs)},
        {(a.trial, a.epoch, a.attack): p for a, p in zip(attacked, attacked_csvs)},
        attacks,
        detection["batch_size"],
        detection["folds"],
        detection["seed"],
        detection["n_bootstrap"],
        detection["n_permutations"],
    )
    write_csv(result, table)
    return result
