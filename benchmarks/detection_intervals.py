#!/usr/bin/env python
"""Check: how often does a detector's 95% AUC interval exclude 0.5 when there is nothing to detect?

The batch detector's situation (config/adversarial.yaml): 10 clean and 10 attacked batches, 78 topological or 11
baseline features, 5-fold cross-validated logistic regression. Here the two classes are drawn from the same
distribution (Gaussian features, or the heavy-tailed, correlated features of a Student-t with 3 degrees of
freedom), so every exclusion of 0.5 is a false one; a 95% interval should exclude 0.5 in about 5% of the
repetitions, a 5% test reject in about 5%. Compared, on the same data:

* ``oof``: the interval the shipped detector used (a stratified bootstrap of the out-of-fold scores, the fitted
  detectors held fixed);
* ``refit``: :func:`dnn_topology.studies.adversarial.evaluation.refit_bootstrap` (each resample cross-validated
  again, copies of a batch in one fold);
* ``perm``: :func:`dnn_topology.studies.adversarial.evaluation.refit_permutation_pvalue` < 0.05.

Prints a table; not a test.

    python benchmarks/detection_intervals.py                       # 200 repetitions per case
    python benchmarks/detection_intervals.py --repetitions 50 --bootstrap 300 --permutations 200
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dnn_topology.studies.adversarial.evaluation import (
    fold_splits,
    group_folds,
    out_of_fold_scores,
    refit_bootstrap,
    refit_permutation_pvalue,
    roc_auc,
)


def oof_interval(labels, scores, n_bootstrap, rng):
    """The shipped interval: stratified bootstrap of (label, out-of-fold score) pairs."""
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    boot = []
    for _ in range(n_bootstrap):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        boot.append(roc_auc(labels[idx], scores[idx]))
    return np.quantile(boot, [0.025, 0.975])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument("--per-class", type=int, default=10, help="batches per class (config/adversarial.yaml: 10)")
    parser.add_argument("--bootstrap", type=int, default=500)
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    labels = np.r_[np.zeros(a.per_class, int), np.ones(a.per_class, int)]
    groups = np.arange(len(labels))
    print(f"{a.repetitions} repetitions, {a.per_class} + {a.per_class} batches, 5 folds, no signal")
    print(
        f"{'features':>22} {'oof excl. 0.5':>14} {'refit excl. 0.5':>16} {'perm p<0.05':>12} {'mean AUC':>9} {'s':>6}"
    )
    for name, p in (("gaussian, 11", 11), ("gaussian, 78", 78), ("student-t corr., 78", -78)):
        rng = np.random.default_rng(a.seed)
        start = time.time()
        oof = refit = perm = 0
        aucs = []
        for r in range(a.repetitions):
            if p > 0:
                X = rng.normal(size=(len(labels), p))
            else:
                base = rng.standard_t(3, size=(len(labels), 8))
                X = base @ rng.normal(size=(8, -p)) + 0.3 * rng.standard_t(3, size=(len(labels), -p))
            scores = out_of_fold_scores(X, labels, fold_splits(group_folds(groups, labels, 5, r)))
            auc = roc_auc(labels, scores)
            aucs.append(auc)
            low, high = oof_interval(labels, scores, a.bootstrap, rng)
            oof += not low <= 0.5 <= high
            low, high = refit_bootstrap(X, labels, groups, 5, a.bootstrap, r)
            refit += not low <= 0.5 <= high
            perm += refit_permutation_pvalue(X, labels, groups, 5, auc, a.permutations, r) < 0.05
        n = a.repetitions
        print(
            f"{name:>22} {oof / n:>14.3f} {refit / n:>16.3f} {perm / n:>12.3f} {np.mean(aucs):>9.3f} "
            f"{time.time() - start:>6.0f}"
        )


if __name__ == "__main__":
    main()
