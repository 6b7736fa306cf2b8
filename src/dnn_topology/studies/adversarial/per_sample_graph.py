"""The original repository's per-sample graph (``build_graph_functional_persample.py``), done correctly: the
activation-graph feature of one input that the CVPR 2019 code meant to compute and never ran.

What the original does (research notes): one input at a time, the concatenated activations ``a`` of the
network's nodes (its ``forward_features``); the graph on the nodes with ``|a_i - a_j|`` between two nodes,
min-max scaled to [0, 1]; binarised at thresholds t = 0, 0.05, ..., 1; the Betti numbers 0..2 of each binary
graph (its clique complex) summed. As wired it cannot run (a missing binary), and it binarises ``entries > t``,
so its edges join *dissimilar* nodes.

Done correctly (:func:`per_sample_betti_curve`):

* edges join nodes at scaled distance ``<= t`` (similar nodes), the Vietoris-Rips convention of the rest of
  this package;
* the nodes are those of the run's ``activations.node_selection`` (LeNet in ``config/adversarial.yaml``: all
  1,820, conv1 and conv2 included, as the original's ``forward_features``), scaled together as one vector (as
  the original); no LDA node selection (the original's optional step, trained on correct vs wrong predictions);
* the features are the Betti numbers at the 21 thresholds (``gap_b0_<t>``), not only their sum.

What it computes, exactly. The nodes are points on a line (their scalar activations), and the graph at
threshold t is the unit-interval graph of those points. Its clique complex has no homology above dimension 0:
an interval graph is chordal, and each connected component of a chordal graph's clique complex is
contractible. So beta_1 = beta_2 = 0 at every t (tests/test_per_input.py checks it with the persistence
engine), the original's sum is beta_0, and beta_0(t) = 1 + #{gaps between consecutive sorted scaled activations
that exceed t}: the Vietoris-Rips H0 diagram of the points (deaths = gaps / 2 in DIPHA's units,
:func:`per_sample_diagram`). The "topology" of one input's per-sample graph is the spacing of its sorted
activations, a statistic of their distribution.
"""

from __future__ import annotations

import numpy as np

__all__ = ["THRESHOLDS", "scaled_activations", "per_sample_betti_curve", "per_sample_diagram"]

THRESHOLDS = np.round(np.linspace(0.0, 1.0, 21), 2)
"""The original's thresholds: 0, 0.05, ..., 1 (scaled distance)."""


def scaled_activations(acts: np.ndarray) -> np.ndarray:
    """Each row (one input's node activations) min-max scaled to [0, 1]; a constant row becomes 0."""
    acts = np.atleast_2d(np.asarray(acts, dtype=float))
    low = acts.min(axis=1, keepdims=True)
    span = acts.max(axis=1, keepdims=True) - low
    return (acts - low) / np.where(span > 0, span, 1.0)


def per_sample_betti_curve(acts: np.ndarray, thresholds: np.ndarray = THRESHOLDS) -> np.ndarray:
    """beta_0 of each input's per-sample graph at each threshold: (n_inputs, n_thresholds).

    beta_0(t) = 1 + the number of gaps between consecutive sorted scaled activations larger than t (an edge
    joins two nodes at scaled distance <= t); beta_1 and beta_2 are 0 (see the module docstring).

    Parameters
    ----------
    acts : ndarray (n_inputs, n_nodes)
        Node activations, one row per input.
    thresholds : ndarray
        Scaled distances in [0, 1].

    Examples
    --------
    Activations 0, 0.1, 0.5, 1 (already in [0, 1]): gaps 0.1, 0.4, 0.5.

    >>> per_sample_betti_curve(np.array([[0.0, 0.1, 0.5, 1.0]]), np.array([0.0, 0.1, 0.45, 0.5])).tolist()
    [[4.0, 3.0, 2.0, 1.0]]
    """
    gaps = np.diff(np.sort(scaled_activations(acts), axis=1), axis=1)
    return 1.0 + (gaps[:, :, None] > np.asarray(thresholds, float)[None, None, :]).sum(axis=1)


def per_sample_diagram(acts_row: np.ndarray) -> np.ndarray:
    """The finite H0 pairs (birth, death) of one input's per-sample graph in DIPHA's units (filtration value =
    distance / 2): every point born at 0, one death per positive gap between consecutive sorted scaled
    activations, at gap / 2; sorted by death.

    Examples
    --------
    >>> per_sample_diagram(np.array([0.0, 0.1, 0.5, 1.0])).tolist()
    [[0.0, 0.05], [0.0, 0.2], [0.0, 0.25]]
    """
    gaps = np.diff(np.sort(scaled_activations(acts_row)[0]))
    deaths = np.sort(gaps[gaps > 0]) / 2
    return np.stack([np.zeros_like(deaths), deaths], axis=1)
