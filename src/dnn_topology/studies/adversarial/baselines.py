"""Per-input detection baselines of the period, on the same inputs and layers as the topological features.

* **Maximum softmax probability** (Hendrycks & Gimpel, ICLR 2017) and **predictive entropy** of the network's
  output (:func:`softmax`, :func:`max_softmax`, :func:`predictive_entropy`). The networks here output
  log-probabilities (LeNet) or logits; the softmax of either is the predicted distribution.
* **Mahalanobis distance to the class means** (Lee, Lee, Lee, Shin, NeurIPS 2018): on each representation
  layer, class-conditional Gaussians with one shared covariance fitted on training inputs (class means by the
  training labels; covariance of the class-centred features, scikit-learn's ``EmpiricalCovariance``, whose
  precision is a pseudo-inverse, as Lee et al.'s code); an input's score on a layer is its smallest Mahalanobis
  distance (squared) to a class mean (:class:`MahalanobisModel`). As in the paper, the per-layer scores are the
  features of a logistic regression. Deviations: no input pre-processing (the paper's small gradient step
  towards higher confidence, tuned on adversarial data), and no spatial averaging: the layers are the inputs of
  the dense layers (LeNet: conv2's pooled output, 320 values, and fc1's, 50) and the network's output.
* **Local intrinsic dimensionality** (Ma, Li, Wang, Erfani, Wijewickrema, Schoenebeck, Song, Houle, Bailey,
  ICLR 2018): the maximum-likelihood estimate from the distances r_1 <= ... <= r_k of an input's
  representation to its k nearest neighbours among a reference set of clean inputs,
  ``LID = -(mean_i log(r_i / r_k))^-1`` (:func:`lid_scores`), per layer, the features of a logistic
  regression. Ma et al. take the reference from the same minibatch of 100 clean inputs (k = 20 on MNIST); here
  it is a fixed set of ``lid_reference`` clean *training* inputs, so one input is scored on its own.

Units: Mahalanobis distances are squared, in the layer's units whitened; LID is a dimension (unitless).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["softmax", "max_softmax", "predictive_entropy", "MahalanobisModel", "fit_mahalanobis", "lid_scores"]


def softmax(outputs: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits or log-probabilities (n_inputs, n_classes).

    Examples
    --------
    >>> softmax(np.log([[0.2, 0.8]])).round(6).tolist()
    [[0.2, 0.8]]
    """
    z = np.asarray(outputs, dtype=float)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def max_softmax(outputs: np.ndarray) -> np.ndarray:
    """The largest predicted probability of each input (Hendrycks & Gimpel's score; low = suspicious)."""
    return softmax(outputs).max(axis=1)


def predictive_entropy(outputs: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each input's predicted distribution.

    Examples
    --------
    >>> predictive_entropy(np.zeros((1, 4))).round(6).tolist()  # uniform over 4 classes: log 4
    [1.386294]
    """
    p = softmax(outputs)
    return -(p * np.log(np.clip(p, 1e-300, None))).sum(axis=1)


@dataclass(frozen=True)
class MahalanobisModel:
    """Class means (n_classes, d) and the shared precision matrix (d, d) of one layer (Lee et al. 2018)."""

    means: np.ndarray
    precision: np.ndarray

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each input (rows of ``features``) to each class mean: (n, n_classes)."""
        diff = np.asarray(features, float)[:, None, :] - self.means[None, :, :]
        return np.einsum("ncd,de,nce->nc", diff, self.precision, diff)

    def score(self, features: np.ndarray) -> np.ndarray:
        """The smallest squared distance to a class mean, per input (high = far from every class)."""
        return self.distances(features).min(axis=1)


def fit_mahalanobis(features: np.ndarray, labels: np.ndarray, n_classes: int) -> MahalanobisModel:
    """Class means and the shared covariance's precision from training features and labels (scikit-learn's
    ``EmpiricalCovariance`` of the class-centred features). A class with no training input gets the overall mean.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 1.0], [12.0, 1.0]])
    >>> model = fit_mahalanobis(X, np.array([0, 0, 1, 1]), 2)
    >>> model.means.tolist()
    [[1.0, 0.0], [11.0, 1.0]]
    """
    from sklearn.covariance import EmpiricalCovariance

    X, labels = np.asarray(features, float), np.asarray(labels)
    overall = X.mean(axis=0)
    means = np.stack([X[labels == c].mean(axis=0) if (labels == c).any() else overall for c in range(n_classes)])
    centred = X - means[labels]
    cov = EmpiricalCovariance(assume_centered=True).fit(centred)
    return MahalanobisModel(means=means, precision=cov.precision_)


def lid_scores(features: np.ndarray, reference: np.ndarray, k: int = 20) -> np.ndarray:
    """Maximum-likelihood LID estimate of each input (rows of ``features``) from its ``k`` nearest neighbours
    among the rows of ``reference`` (Euclidean), ``-1 / mean_i log(r_i / r_k)`` (Ma et al. 2018).

    A reference row identical to the input (distance 0) is skipped: an input is never its own neighbour.

    Examples
    --------
    Points spread evenly in a plane around the origin have an LID near 2:

    >>> rng = np.random.default_rng(0)
    >>> ref = rng.uniform(-1, 1, (20000, 2))
    >>> 1.6 < float(lid_scores(np.zeros((1, 2)), ref, k=100)[0]) < 2.4
    True
    """
    from sklearn.metrics import pairwise_distances

    d = pairwise_distances(np.asarray(features, float), np.asarray(reference, float))
    d = np.where(d <= 1e-12, np.inf, d)
    if k >= d.shape[1]:
        raise ValueError(f"LID: k = {k} neighbours asked for among {d.shape[1]} reference inputs")
    r = np.sort(d, axis=1)[:, :k]
    ratio = np.log(np.clip(r / r[:, -1:], 1e-300, None))
    return -1.0 / np.minimum(ratio.mean(axis=1), -1e-12)  # all k distances equal: capped at 1e12
