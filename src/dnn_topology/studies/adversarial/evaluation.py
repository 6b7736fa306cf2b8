"""How well a detector separates clean from attacked inputs, with intervals that respect what was sampled: the
metrics, splits and resampling that the batch detector (:mod:`~dnn_topology.studies.adversarial.detection`) and
the per-input detectors (:mod:`~dnn_topology.studies.adversarial.per_input`) share.

Conventions
-----------
* Label 1 = attacked (the positive class), 0 = clean. A detector's score is higher for "more likely attacked".
* **ROC AUC** = P(score of an attacked example > score of a clean one), ties counting one half (the
  Mann-Whitney statistic); 0.5 = chance.
* **Detection rate at a false-positive rate** ``fpr`` (5% by default): the threshold is the smallest clean score
  above which at most ``fpr`` of the clean examples lie (:func:`flag_threshold`); scores strictly above it are
  flagged; the detection rate is the fraction of attacked examples flagged.
* A **group** is what must stay on one side of every split: a batch (the batch detector), an input together
  with its attacked copy (the per-input detectors, :func:`pair_folds`). Folds, bootstrap resamples and
  permutations move whole groups.
* The **detector** fitted on features: logistic regression (L2, C = 1) on standardised features (scikit-learn),
  :func:`logistic_detector`.

Two kinds of interval
---------------------
* :func:`refit_bootstrap` (the batch detector, a few dozen examples): each bootstrap resample of the groups is
  cross-validated again (copies of one group always in the same fold), so the interval covers the variation
  of the fitted detector as well as that of the finite test set. The earlier interval, a bootstrap of the
  out-of-fold scores alone, left the former out and was too narrow.
* :func:`pair_bootstrap` (the per-input detectors, hundreds of input pairs): the out-of-fold scores are
  resampled by input pair; a fitted detector with a handful of features on hundreds of pairs varies little
  between folds (the tables report the spread of the per-fold AUCs).

Permutation tests (one-sided, H0: the detector does no better than chance):
:func:`refit_permutation_pvalue` permutes the groups' labels and cross-validates again;
:func:`pair_permutation_pvalue` swaps the two members of random pairs of out-of-fold scores (valid because an
out-of-fold score comes from a detector fitted without that pair).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ROW_KEYS",
    "NULL_ATTACK",
    "NULL_CONTROL",
    "role_of",
    "flag_threshold",
    "detection_rate",
    "roc_auc",
    "pair_auc",
    "logistic_detector",
    "group_folds",
    "pair_folds",
    "fold_splits",
    "out_of_fold_scores",
    "refit_bootstrap",
    "refit_permutation_pvalue",
    "pair_bootstrap",
    "pair_permutation_pvalue",
]


# ------------------------------------------------------------------------------------------- table rows

ROW_KEYS = ["trial", "epoch", "attack", "role", "method", "epsilon"]
"""The first columns of every detection table (batch and per-input): what a row is about."""
NULL_ATTACK = "clean-vs-clean"
"""The ``attack`` of a detection table's null-control rows (clean inputs on both sides)."""
NULL_CONTROL = "null_control"
"""The ``role`` of the null-control rows; the others are ``attack`` and ``noise_control`` (:func:`role_of`)."""


def role_of(spec) -> str:
    """The ``role`` column of a detection table's rows of an attack spec: ``attack`` or ``noise_control``.

    Examples
    --------
    >>> from dnn_topology.studies.adversarial.config import AttackSpec
    >>> role_of(AttackSpec("noise", "noise", 0.1)), role_of(AttackSpec("pgd", "pgd", 0.1))
    ('noise_control', 'attack')
    """
    return "noise_control" if spec.is_control else "attack"


# ------------------------------------------------------------------------------------------- metrics


def roc_auc(labels, scores) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count one half): P(score of an attacked > score of a clean).

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    from scipy.stats import rankdata

    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs examples of both classes")
    ranks = rankdata(scores)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pair_auc(clean, attacked) -> float:
    """ROC AUC of ``attacked`` scores (positives) against ``clean`` scores (negatives).

    Examples
    --------
    >>> pair_auc([0.1, 0.4], [0.35, 0.8])
    0.75
    """
    clean, attacked = np.asarray(clean, dtype=float), np.asarray(attacked, dtype=float)
    return roc_auc(np.r_[np.zeros(len(clean)), np.ones(len(attacked))], np.r_[clean, attacked])


def flag_threshold(clean_scores, fpr: float = 0.05) -> float:
    """The smallest clean score t with at most ``fpr`` of the clean scores strictly above it.

    Examples
    --------
    >>> flag_threshold(np.arange(100.0), fpr=0.05)  # 95..99 lie above 94: 5 of 100
    94.0
    """
    s = np.sort(np.asarray(clean_scores, dtype=float))
    if len(s) == 0:
        raise ValueError("a threshold needs clean scores")
    k = int(np.ceil((1.0 - fpr) * len(s) - 1e-9))
    return float(s[max(k, 1) - 1])


def detection_rate(labels, scores, fpr: float = 0.05) -> tuple[float, float]:
    """(detection rate, threshold): the fraction of attacked examples scored above :func:`flag_threshold` of the
    clean ones.

    Examples
    --------
    >>> detection_rate([0] * 20 + [1] * 4, list(range(20)) + [17.5, 19.5, 30, 40])
    (0.75, 18.0)
    """
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    threshold = flag_threshold(scores[labels == 0], fpr)
    return float((scores[labels == 1] > threshold).mean()), threshold


# ------------------------------------------------------------------------------------------- the detector


def logistic_detector():
    """The detector fitted on features: standardised features, logistic regression (L2, C = 1), scikit-learn."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))


# ------------------------------------------------------------------------------------------- splits


def group_folds(groups, labels, folds: int, seed: int = 0) -> np.ndarray:
    """Fold (0..k-1) of each example: whole groups are dealt to folds, stratified by the group's mean label.

    Within each stratum the groups are shuffled (``seed``) and dealt round-robin, so the folds have nearly equal
    numbers of groups of each kind; k is ``folds``, or fewer when a stratum has fewer groups (at least 2).

    Examples
    --------
    >>> f = group_folds([0, 0, 1, 1, 2, 2, 3, 3], [0, 1, 0, 1, 0, 1, 0, 1], folds=2)
    >>> bool((f[0::2] == f[1::2]).all())  # an input and its attacked copy share a fold
    True
    """
    groups, labels = np.asarray(groups), np.asarray(labels, dtype=float)
    ids, inverse = np.unique(groups, return_inverse=True)
    kind = np.round(np.bincount(inverse, weights=labels) / np.bincount(inverse), 6)
    strata = np.unique(kind)
    k = min(int(folds), *(int((kind == s).sum()) for s in strata))
    if k < 2:
        counts = {float(s): int((kind == s).sum()) for s in strata}
        raise ValueError(f"cross-validation needs at least 2 groups of each kind (mean label: groups), got {counts}")
    rng = np.random.default_rng(seed)
    fold_of_group = np.empty(len(ids), dtype=int)
    start = 0
    for s in strata:
        members = rng.permutation(np.flatnonzero(kind == s))
        fold_of_group[members] = (start + np.arange(len(members))) % k
        start += len(members)
    return fold_of_group[inverse]


def pair_folds(n_pairs: int, folds: int, seed: int = 0) -> np.ndarray:
    """Fold of each of ``n_pairs`` input pairs (clean input, attacked copy): shuffled, dealt round-robin.

    Examples
    --------
    >>> sorted(np.bincount(pair_folds(10, 5)).tolist())
    [2, 2, 2, 2, 2]
    """
    if n_pairs < folds or folds < 2:
        raise ValueError(f"{folds}-fold cross-validation needs at least {max(folds, 2)} input pairs, got {n_pairs}")
    fold = np.empty(n_pairs, dtype=int)
    fold[np.random.default_rng(seed).permutation(n_pairs)] = np.arange(n_pairs) % folds
    return fold


def fold_splits(fold_ids) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) positions of each fold."""
    fold_ids = np.asarray(fold_ids)
    return [(np.flatnonzero(fold_ids != f), np.flatnonzero(fold_ids == f)) for f in np.unique(fold_ids)]


def out_of_fold_scores(X: np.ndarray, labels: np.ndarray, splits) -> np.ndarray:
    """Detector scores (probability of 'attacked') of each example from the detector fitted without its fold."""
    X, labels = np.asarray(X, dtype=float), np.asarray(labels)
    scores = np.full(len(labels), np.nan)
    for train, test in splits:
        model = logistic_detector().fit(X[train], labels[train])
        scores[test] = model.predict_proba(X[test])[:, 1]
    return scores


# The resampling methods below cross-validate the detector once per resample: thousands of fits of a logistic
# regression on a few dozen examples. scikit-learn spends milliseconds on each; the same fit (the same objective:
# C * sum of log-losses + |w|^2 / 2, intercept not penalised, features standardised on the training rows) is
# solved here for all resamples at once by Newton's method in its kernel form (w = X_train^T alpha, exact for an
# L2 penalty), which needs one (n+1) x (n+1) linear system per resample and step. tests/test_detection.py checks
# it against scikit-learn's LogisticRegression.


def _standardized(X: np.ndarray, train: np.ndarray) -> np.ndarray:
    """X (B, n, p) standardised with the mean and std of each resample's training rows (``train``: (B, n) 0/1);
    a feature constant on the training rows is centred only (scikit-learn's StandardScaler)."""
    w = train[..., None]
    count = w.sum(axis=1, keepdims=True)
    mean = (X * w).sum(axis=1, keepdims=True) / count
    std = np.sqrt((((X - mean) ** 2) * w).sum(axis=1, keepdims=True) / count)
    std = np.where(std < 10 * np.finfo(float).eps * np.maximum(np.abs(mean), 1.0), 1.0, std)
    return (X - mean) / std


def batched_logistic_scores(
    X: np.ndarray, labels: np.ndarray, train: np.ndarray, C: float = 1.0, max_iter: int = 50, tol: float = 1e-10
) -> np.ndarray:
    """Decision values (B, n) of :func:`logistic_detector` fitted, for each of B problems at once, on the rows
    where ``train`` (B, n) is 1: ``X`` (B, n, p) features, ``labels`` (B, n) in {0, 1}.

    Newton's method in kernel form (see the comment above); the result equals scikit-learn's up to its tolerance.
    """
    X, labels, train = np.asarray(X, float), np.asarray(labels, float), np.asarray(train, float)
    Xs = _standardized(X, train)
    K = np.einsum("bip,bjp->bij", Xs * train[..., None], Xs)  # K[b, i, j] = x_i . x_j (i a training row)
    K = np.einsum("bij->bji", K) * train[:, None, :]  # columns: training rows only (alpha is 0 elsewhere)
    B, n = labels.shape
    y = 2 * labels - 1
    alpha, b = np.zeros((B, n)), np.zeros(B)
    eye = np.eye(n)
    for _ in range(max_iter):
        z = y * (np.einsum("bij,bj->bi", K, alpha) + b[:, None])
        sig = 1.0 / (1.0 + np.exp(np.clip(z, -500, 500)))  # -loss'(z) = sigmoid(-z)
        r = -C * train * sig * y
        d = C * train * sig * (1 - sig)
        top = np.concatenate([d[..., None] * K + eye, d[..., None]], axis=2)
        bottom = np.concatenate([np.einsum("bi,bij->bj", d, K), d.sum(axis=1, keepdims=True)], axis=1)[:, None, :]
        rhs = -np.concatenate([r + alpha, r.sum(axis=1, keepdims=True)], axis=1)
        step = np.linalg.solve(np.concatenate([top, bottom], axis=1), rhs[..., None])[..., 0]
        alpha += step[:, :n] * train
        b += step[:, n]
        if np.abs(step).max() < tol:
            break
    return np.einsum("bij,bj->bi", K, alpha) + b[:, None]


def _batched_cv_aucs(X: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Cross-validated AUC of each of B problems: X (B, n, p), labels and folds (B, n)."""
    scores = np.full(labels.shape, np.nan)
    for f in np.unique(folds):
        test = folds == f
        s = batched_logistic_scores(X, labels, ~test)
        scores[test] = s[test]
    return _aucs_by_row(labels, scores)


def _aucs_by_row(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    pos = labels == 1
    n_pos, n_neg = pos.sum(axis=1), (~pos).sum(axis=1)
    ranks = rankdata(scores, axis=1)
    return ((ranks * pos).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


# ------------------------------------------------------------------------------------------- resampling


def refit_bootstrap(
    X, labels, groups, folds: int, n_bootstrap: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of the cross-validated AUC over bootstrap resamples of the groups, each resample
    cross-validated again with every copy of a group in the same fold (so no group is both fitted and tested).

    Groups are resampled within their stratum (their mean label), so every resample keeps the class sizes. A
    resample that holds fewer than 2 distinct groups of a stratum cannot be cross-validated; it is drawn again
    (with 10 groups a stratum that happens once in 10^9 draws; with 4, once in 64).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (15, 2)), rng.normal(3, 1, (15, 2))]
    >>> low, high = refit_bootstrap(X, [0] * 15 + [1] * 15, np.arange(30), folds=5, n_bootstrap=200)
    >>> 0.8 < low <= high <= 1.0
    True
    """
    X, labels, groups = np.asarray(X, dtype=float), np.asarray(labels), np.asarray(groups)
    ids, inverse = np.unique(groups, return_inverse=True)
    rows = [np.flatnonzero(inverse == g) for g in range(len(ids))]
    kind = np.array([labels[r].mean() for r in rows])
    rng = np.random.default_rng(seed)
    draws, fold_ids = [], []
    strata = [np.flatnonzero(kind == s) for s in np.unique(kind)]
    if min(len(members) for members in strata) < 2:
        raise ValueError(f"the bootstrap needs at least 2 groups of each kind, got {[len(m) for m in strata]}")
    for b in range(n_bootstrap):
        draw = [rng.choice(members, len(members)) for members in strata]
        while any(len(np.unique(d)) < 2 for d in draw):
            draw = [rng.choice(members, len(members)) for members in strata]
        idx = np.concatenate([rows[g] for g in np.concatenate(draw)])
        draws.append(idx)
        fold_ids.append(group_folds(inverse[idx], labels[idx], folds, seed + 1 + b))
    idx = np.array(draws)
    aucs = _batched_cv_aucs(X[idx], labels[idx], np.array(fold_ids))
    alpha = (1 - level) / 2
    return float(np.quantile(aucs, alpha)), float(np.quantile(aucs, 1 - alpha))


def refit_permutation_pvalue(
    X, labels, groups, folds: int, observed: float, n_permutations: int = 200, seed: int = 0
) -> float:
    """One-sided permutation p-value of a cross-validated AUC: the groups' labels are permuted and the whole
    cross-validation is run again; p = (1 + #{permuted AUC >= observed}) / (1 + n_permutations).

    Every example of a group carries the group's label (batches: one label each).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (15, 2)), rng.normal(3, 1, (15, 2))]
    >>> refit_permutation_pvalue(X, [0] * 15 + [1] * 15, np.arange(30), 5, observed=0.99, n_permutations=99)
    0.01
    """
    X, labels, groups = np.asarray(X, dtype=float), np.asarray(labels), np.asarray(groups)
    ids, inverse = np.unique(groups, return_inverse=True)
    group_label = np.zeros(len(ids), dtype=labels.dtype)
    group_label[inverse] = labels
    if not (group_label[inverse] == labels).all():
        raise ValueError("refit_permutation_pvalue: every example of a group must carry the same label")
    rng = np.random.default_rng(seed)
    permuted = np.array([rng.permutation(group_label)[inverse] for _ in range(n_permutations)])
    fold_ids = np.array([group_folds(groups, permuted[p], folds, seed + 1 + p) for p in range(n_permutations)])
    aucs = _batched_cv_aucs(np.broadcast_to(X, (n_permutations, *X.shape)), permuted, fold_ids)
    return float((1 + (aucs >= observed - 1e-12).sum()) / (1 + n_permutations))


def _pair_aucs(clean: np.ndarray, attacked: np.ndarray) -> np.ndarray:
    """AUC of each row: ``attacked[b]`` (positives) against ``clean[b]`` (negatives), arrays (B, n)."""
    from scipy.stats import rankdata

    n_neg, n_pos = clean.shape[1], attacked.shape[1]
    ranks = rankdata(np.concatenate([clean, attacked], axis=1), axis=1)
    return (ranks[:, n_neg:].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _pair_rates(clean: np.ndarray, attacked: np.ndarray, fpr: float) -> np.ndarray:
    """Detection rate at ``fpr`` of each row (see :func:`detection_rate`), arrays (B, n)."""
    n = clean.shape[1]
    k = max(int(np.ceil((1.0 - fpr) * n - 1e-9)), 1)
    threshold = np.sort(clean, axis=1)[:, k - 1]
    return (attacked > threshold[:, None]).mean(axis=1)


def pair_bootstrap(
    clean, attacked, n_bootstrap: int = 1000, seed: int = 0, fpr: float = 0.05, level: float = 0.95
) -> dict[str, float]:
    """Percentile intervals of the AUC and of the detection rate at ``fpr`` over bootstrap resamples of the
    input pairs: ``clean[i]`` and ``attacked[i]`` are the out-of-fold scores of input i and its attacked copy.

    Returns ``auc_low``, ``auc_high``, ``rate_low``, ``rate_high``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ci = pair_bootstrap(rng.normal(0, 1, 200), rng.normal(1, 1, 200), n_bootstrap=200)
    >>> bool(ci["auc_low"] < pair_auc(rng.normal(0, 1, 10**5), rng.normal(1, 1, 10**5)) < ci["auc_high"])
    True
    """
    clean, attacked = np.asarray(clean, dtype=float), np.asarray(attacked, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(clean), (n_bootstrap, len(clean)))
    aucs = _pair_aucs(clean[idx], attacked[idx])
    rates = _pair_rates(clean[idx], attacked[idx], fpr)
    alpha = (1 - level) / 2
    return {
        "auc_low": float(np.quantile(aucs, alpha)),
        "auc_high": float(np.quantile(aucs, 1 - alpha)),
        "rate_low": float(np.quantile(rates, alpha)),
        "rate_high": float(np.quantile(rates, 1 - alpha)),
    }


def pair_permutation_pvalue(clean, attacked, n_permutations: int = 1000, seed: int = 0) -> float:
    """One-sided p-value of the pairs' AUC under H0 "within a pair, clean and attacked are exchangeable": the two
    scores of each pair are swapped with probability 1/2; p = (1 + #{AUC >= observed}) / (1 + n_permutations).

    Examples
    --------
    >>> pair_permutation_pvalue(np.arange(50.0), np.arange(50.0) + 100, n_permutations=99)
    0.01
    """
    clean, attacked = np.asarray(clean, dtype=float), np.asarray(attacked, dtype=float)
    observed = pair_auc(clean, attacked)
    swap = np.random.default_rng(seed).random((n_permutations, len(clean))) < 0.5
    aucs = _pair_aucs(np.where(swap, attacked, clean), np.where(swap, clean, attacked))
    return float((1 + (aucs >= observed - 1e-12).sum()) / (1 + n_permutations))
