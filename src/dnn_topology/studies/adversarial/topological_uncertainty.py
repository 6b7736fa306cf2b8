"""Topological Uncertainty (Lacombe, Ike, Carriere, Chazal, Glisse, Umeda, IJCAI 2021, arXiv 2105.04404): a
per-input score from the 0-dimensional persistence of each dense layer's activation graph.

Construction
------------
As the paper and its code (tlacombe/topologicalUncertainty, which handles dense layers only):

* For one input and one fully connected layer with weight matrix W (``out x in``, PyTorch's layout) and input
  activations x (the layer's input: the previous layer's output after its non-linearity), the **activation
  graph** is the complete bipartite graph between the ``in`` input units and the ``out`` output units, the edge
  (i, j) weighted by ``|W[j, i] * x[i]|`` (the bias plays no part). Edges of weight 0 (an inactive input) are
  edges too, as in the paper's code: the graph is connected.
* Its **0-dimensional diagram** in the superlevel filtration of the edge weights (edges enter from the heaviest
  down, each vertex with its heaviest edge) has one finite point per edge of a **maximum spanning tree**: the
  weight at which that edge merges two components. The diagram is this multiset of ``in + out - 1`` weights
  (:func:`bipartite_diagram`; the paper keeps only these death values, all points being born at the top). Its
  size is the same for every input, so diagrams are vectors once sorted.
* The distance between two such diagrams is the 2-Wasserstein distance of the sorted vectors, divided by their
  size (the code's ``average=True``): ``|sort(a) - sort(b)|_2 / n`` (:func:`diagram_distance`). The Frechet
  mean of a set of diagrams under it is the mean of the sorted vectors (:func:`frechet_mean`).
* **Topological Uncertainty** of an input: for each layer, the distance of its diagram to the Frechet mean of
  the diagrams of the training inputs that the network assigns to the class it predicts for the input
  (:func:`class_frechet_means`, :func:`distance_to_class_mean`); the paper's score is the mean over layers. Here
  each layer's distance is a feature (``tu_<layer>``) of the per-input detector
  (:mod:`dnn_topology.studies.adversarial.per_input`), as Lee et al. feed per-layer Mahalanobis scores to a
  logistic regression; the mean over layers is the paper's unsupervised score.

Layers: every ``torch.nn.Linear`` of the network, in order (LeNet: fc1 with 320 inputs (conv2's pooled output)
and 50 outputs, fc2 with 50 and 10; LeNet-300-100: fc1, fc2, fc3; Conv-2/4/6: fc1, fc2, fc3). Convolutional
layers are left out as in the paper (a convolution's bipartite graph, unrolled, has one edge per weight use:
LeNet's conv2 alone 320,000, and the paper defines none).

Deviation: the paper's class means use the training observations of each class; we use the reference training
inputs that the network *predicts* as each class (the class an input is compared with is the predicted one
too); a class that no reference input is predicted as falls back to the mean over all reference inputs.

Weights are in the layer's units (activation times weight); distances in the same units.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "bipartite_diagram",
    "bipartite_diagrams",
    "maximum_spanning_tree",
    "diagram_distance",
    "frechet_mean",
    "class_frechet_means",
    "distance_to_class_mean",
]


def maximum_spanning_tree(n_vertices: int, rows, cols, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges (rows, cols, weights) of a maximum spanning forest of the graph on ``n_vertices`` vertices with the
    given undirected edges (every weight >= 0, zero weights included); scipy's minimum spanning tree on
    ``max + 1 - weight``, which orders the edges the other way round and keeps every weight positive (scipy reads a
    stored 0 as no edge). The weights returned are the original ones.

    Examples
    --------
    >>> r, c, w = maximum_spanning_tree(3, [0, 0, 1], [1, 2, 2], [1.0, 5.0, 3.0])
    >>> sorted(w.tolist())
    [3.0, 5.0]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    rows, cols, weights = np.asarray(rows), np.asarray(cols), np.asarray(weights, dtype=float)
    if len(weights) == 0:
        return rows[:0], cols[:0], weights[:0]
    flipped = weights.max() + 1.0 - weights
    graph = coo_matrix((flipped, (rows, cols)), shape=(n_vertices, n_vertices)).tocsr()
    tree = minimum_spanning_tree(graph).tocoo()
    # the tree's edges keep the orientation of the stored ones: find each by its (row, col) key, so the original
    # weight comes back exactly (no rounding from the flip)
    keys = rows.astype(np.int64) * n_vertices + cols
    order = np.argsort(keys, kind="stable")
    edge = order[np.searchsorted(keys[order], tree.row.astype(np.int64) * n_vertices + tree.col)]
    return rows[edge], cols[edge], weights[edge]


def bipartite_diagrams(weight: np.ndarray, X: np.ndarray, chunk: int = 256) -> np.ndarray:
    """0-dimensional diagrams of many inputs' activation graphs at one dense layer: row b holds the weights of a
    maximum spanning tree of the complete bipartite graph with edge (i, j) weighted ``|weight[j, i] * X[b, i]|``,
    sorted from the largest down (``in + out - 1`` values per row).

    Prim's algorithm on all inputs at once (``chunk`` at a time): the tree grows from output unit 0, each step adding
    the vertex with the heaviest edge to the tree. The multiset of a maximum spanning tree's weights does not
    depend on which tree (ties), so neither does the diagram. :func:`maximum_spanning_tree` (scipy) gives the same
    (tested), one input at a time and more slowly.

    Parameters
    ----------
    weight : ndarray (out, in)
        The layer's weight matrix (PyTorch's ``nn.Linear.weight``).
    X : ndarray (n_inputs, in)
        The layer's input for each input.
    """
    weight, X = np.abs(np.asarray(weight, dtype=float)), np.abs(np.atleast_2d(np.asarray(X, dtype=float)))
    n_out, n_in = weight.shape
    out = np.empty((len(X), n_in + n_out - 1))
    for s in range(0, len(X), chunk):
        W = weight[None, :, :] * X[s : s + chunk, None, :]  # (B, out, in): edge weights
        B = len(W)
        rows = np.arange(B)
        best_in = W[:, 0, :].copy()  # heaviest edge from the tree (output 0) to each input unit
        best_out = np.full((B, n_out), -np.inf)
        done_in = np.zeros((B, n_in), dtype=bool)
        done_out = np.zeros((B, n_out), dtype=bool)
        done_out[:, 0] = True
        for step in range(n_in + n_out - 1):
            cand = np.concatenate([np.where(done_in, -np.inf, best_in), np.where(done_out, -np.inf, best_out)], axis=1)
            v = cand.argmax(axis=1)
            out[s + rows, step] = cand[rows, v]
            is_in = v < n_in
            i, j = np.where(is_in, v, 0), np.where(is_in, 0, v - n_in)
            done_in[rows[is_in], i[is_in]] = True
            done_out[rows[~is_in], j[~is_in]] = True
            # an added input unit i offers its edges W[:, :, i] to the outputs; an added output j, W[:, j, :] to inputs
            best_out = np.where(is_in[:, None], np.maximum(best_out, W[rows, :, i]), best_out)
            best_in = np.where(is_in[:, None], best_in, np.maximum(best_in, W[rows, j, :]))
    return -np.sort(-out, axis=1)


def bipartite_diagram(weight: np.ndarray, x: np.ndarray) -> np.ndarray:
    """0-dimensional diagram of one input's activation graph at one dense layer: the weights of a maximum
    spanning tree of the complete bipartite graph with edge (i, j) weighted ``|weight[j, i] * x[i]|``, sorted
    from the largest down (``in + out - 1`` values); one row of :func:`bipartite_diagrams`.

    Parameters
    ----------
    weight : ndarray (out, in)
        The layer's weight matrix (PyTorch's ``nn.Linear.weight``).
    x : ndarray (in,)
        The layer's input for one input.

    Examples
    --------
    Two inputs, two outputs: edges (in 0, out 0) = 1, (in 1, out 0) = 4, (in 0, out 1) = 3, (in 1, out 1) = 1;
    the spanning tree takes 4 and 3, then one of the two edges of weight 1:

    >>> bipartite_diagram(np.array([[1.0, 2.0], [3.0, 0.5]]), np.array([1.0, 2.0])).tolist()
    [4.0, 3.0, 1.0]
    """
    return bipartite_diagrams(weight, np.asarray(x, dtype=float)[None, :])[0]


def diagram_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """2-Wasserstein distance between diagrams of equal size given as vectors, divided by their size:
    ``|sort(a) - sort(b)|_2 / n`` over the last axis (broadcasts).

    Examples
    --------
    >>> float(diagram_distance(np.array([3.0, 1.0]), np.array([1.0, 2.0])))  # |[1, 3] - [1, 2]| / 2
    0.5
    """
    a, b = np.sort(np.asarray(a, float), axis=-1), np.sort(np.asarray(b, float), axis=-1)
    return np.sqrt(((a - b) ** 2).sum(axis=-1)) / a.shape[-1]


def frechet_mean(diagrams: np.ndarray) -> np.ndarray:
    """Frechet mean of diagrams (rows of equal size) under :func:`diagram_distance`: the mean of the sorted rows,
    sorted from the largest down.

    Examples
    --------
    >>> frechet_mean(np.array([[3.0, 1.0], [1.0, 2.0]])).tolist()  # mean of [1, 3] and [1, 2]
    [2.5, 1.0]
    """
    return np.sort(np.asarray(diagrams, float), axis=1).mean(axis=0)[::-1]


def class_frechet_means(diagrams: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, size) Frechet means of the diagrams (rows) of the inputs predicted as each class; a class
    with no input takes the mean of all of them."""
    diagrams, predicted = np.asarray(diagrams, float), np.asarray(predicted)
    overall = frechet_mean(diagrams)
    return np.stack(
        [frechet_mean(diagrams[predicted == c]) if (predicted == c).any() else overall for c in range(n_classes)]
    )


def distance_to_class_mean(diagrams: np.ndarray, predicted: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Each diagram's (row's) :func:`diagram_distance` to the Frechet mean of its predicted class (``means``
    from :func:`class_frechet_means`): one layer's Topological Uncertainty of each input."""
    return diagram_distance(np.asarray(diagrams, float), np.asarray(means, float)[np.asarray(predicted)])
