"""Does the functional graph's topology detect adversarial inputs? A batch-level detector, evaluated honestly.

Protocol
--------
1. A held-out *pool* (the first ``n_pool`` samples of the test split, never trained on) is
   shuffled with ``seed`` and split into two **disjoint halves**: the first half stays clean, the second is
   attacked (every sample of it, whether or not the attack succeeds on it).
2. Each half is cut into consecutive batches of ``batch_size`` (m) samples (``n_batches`` of them, or as many as
   fit). A batch is one example for the detector: label 0 (clean) or 1 (attacked).
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
   folds). ROC AUC of the out-of-fold scores, with a 95% percentile interval from a stratified bootstrap of
   those scores (``n_bootstrap`` resamples; it reflects the finite number of test batches, not the variation
   of the fitted detector, so it is optimistic for small pools).
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
    "trial",
    "epoch",
    "attack",
    "method",
    "epsilon",
    "features",
    "n_features",
    "batch_size",
    "n_clean",
    "n_attacked",
    "folds",
    "auc",
    "auc_low",
    "auc_high",
    "fold_auc_mean",
    "fold_auc_std",
]


# ------------------------------------------------------------------------------------------- batches


def pool_halves(n_pool: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices 0..n_pool-1 shuffled with ``seed`` and split into two disjoint halves (clean, attacked)."""
    if n_pool < 2:
        raise ValueError(f"adversarial.detection.n_pool must be >= 2, got {n_pool}")
    order = np.random.default_rng(seed).permutation(n_pool)
    half = n_pool // 2
    return np.sort(order[:half]), np.sort(order[half : 2 * half])


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
    """Per-batch features of one half of the detection pool at one checkpoint (see the module docstring).

    Parameters
    ----------
    checkpoint : str or Path
        The checkpoint of one epoch: the network whose nodes describe each batch.
    network : str
        Config key ``runs[].network``.
    sample_set : SampleSet
        The run's samples: their dataset, labels and data location; the pool is :func:`detection_pool` of it.
    attack_spec : dict or None
        The attack of the attacked half (fields of :class:`AttackSpec`); None for the clean half.
    detection : dict
        Config section ``adversarial.detection``.
    device, threads
        Config key ``device``; torch threads.

    Returns
    -------
    pandas.DataFrame
        One row per batch (see :func:`batch_features`), with the batch's ``accuracy``.
    """
    # torch: the features need it, the detector's evaluation (detection_stage, in its own job) does not
    from torch.utils.data import Subset

    from ...networks.activations import fixed_samples, load_network
    from ...networks.checkpoints import torch_setup
    from .attacks import attack, logits_of, pixel_activations, sample_pixels

    dev = torch_setup(device, threads)
    mean, std = sample_set.normalization
    net, selection = load_network(checkpoint, network, sample_set, detection["node_selection"], dev)
    pool, _ = fixed_samples(detection_pool(sample_set, detection))
    clean_idx, attacked_idx = pool_halves(len(pool), detection["seed"])
    half = clean_idx if attack_spec is None else attacked_idx
    batches = cut_batches(len(half), detection["batch_size"], detection.get("n_batches"))
    x, y = sample_pixels(Subset(pool, half.tolist()), mean, std, sample_set.binarize_class)
    if attack_spec is not None:
        x = attack(net, x, y, AttackSpec(**attack_spec), mean, std, dev)
    acts = pixel_activations(net, x, selection, mean, std, dev)
    logits = logits_of(net, x, mean, std, dev).numpy()
    layers = selection.table["layer"].to_numpy()
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
    features["first_sample"] = [int(half[i[0]]) for i in batches]  # index in the pool
    features.insert(2, "accuracy", [float((logits[i].argmax(1) == y.numpy()[i]).mean()) for i in batches])
    get_logger().info(
        "%s: %s half of the pool, %d batches of %d samples x %d nodes",
        checkpoint,
        "clean" if attack_spec is None else f"attacked ({AttackSpec(**attack_spec).attack_id})",
        len(batches),
        detection["batch_size"],
        acts.shape[1],
    )
    return features


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


def stratified_folds(labels: np.ndarray, folds: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) batch positions of stratified k-fold CV; each batch is in exactly one test fold."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    k = min(int(folds), int(np.bincount(labels).min()))
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 batches of each class, got {np.bincount(labels).tolist()}")
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels))


def out_of_fold_scores(X: np.ndarray, labels: np.ndarray, splits) -> np.ndarray:
    """Detector scores (probability of 'attacked') of each batch from the model fitted without its fold."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores = np.full(len(labels), np.nan)
    for train, test in splits:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
        model.fit(X[train], labels[train])
        scores[test] = model.predict_proba(X[test])[:, 1]
    return scores


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count one half): P(score of an attacked > score of a clean)."""
    from scipy.stats import rankdata

    labels = np.asarray(labels)
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs batches of both classes")
    ranks = rankdata(scores)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_interval(
    labels: np.ndarray, scores: np.ndarray, n_bootstrap: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """ROC AUC and its percentile interval from a stratified bootstrap of (label, score) pairs."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    auc = roc_auc(labels, scores)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    boot = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        boot[b] = roc_auc(labels[idx], scores[idx])
    alpha = (1 - level) / 2
    return auc, float(np.quantile(boot, alpha)), float(np.quantile(boot, 1 - alpha))


def evaluate_detector(
    clean: pd.DataFrame, attacked: pd.DataFrame, features: str, folds: int = 5, seed: int = 0, n_bootstrap: int = 2000
) -> dict:
    """Cross-validated ROC AUC of the logistic-regression detector on one feature set (see FEATURE_SETS)."""
    data = pd.concat([clean, attacked], ignore_index=True)
    columns = [c for c in data.columns if c.startswith(FEATURE_SETS[features])]
    X = data[columns].to_numpy(dtype=float)
    labels = data["label"].to_numpy(dtype=int)
    splits = stratified_folds(labels, folds, seed)
    scores = out_of_fold_scores(X, labels, splits)
    auc, low, high = auc_interval(labels, scores, n_bootstrap, seed)
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
    n_bootstrap: int = 2000,
) -> pd.DataFrame:
    """One row per trial, epoch, attack and feature set (:data:`TABLE_COLUMNS`).

    ``clean_csvs[(trial, epoch)]`` and ``attacked_csvs[(trial, epoch, attack_id)]`` are per-batch feature tables
    written by :func:`detection_features_stage`; ``attacks[attack_id]`` is the attack's spec.
    """
    rows = []
    for (trial, epoch, attack_id), path in sorted(attacked_csvs.items()):
        clean, attacked = pd.read_csv(clean_csvs[(trial, epoch)]), pd.read_csv(path)
        for features in FEATURE_SETS:
            result = evaluate_detector(clean, attacked, features, folds, seed, n_bootstrap)
            rows.append(
                {
                    "trial": trial,
                    "epoch": epoch,
                    "attack": attack_id,
                    "method": attacks[attack_id]["method"],
                    "epsilon": attacks[attack_id]["epsilon"],
                    "batch_size": batch_size,
                    **result,
                }
            )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


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
        Config section ``adversarial.detection`` (``batch_size``, ``folds``, ``seed``, ``n_bootstrap``).
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
    )
    write_csv(result, table)
    return result
