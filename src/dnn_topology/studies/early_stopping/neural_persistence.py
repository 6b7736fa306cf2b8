"""Neural persistence of a network's weights (Rieck et al., *Neural Persistence: A Complexity Measure for Deep
Neural Networks Using Algebraic Topology*, ICLR 2019), weights only: no sample is read.

Definitions (the paper's Definitions 1-4 and Algorithm 1, as its authors' code computes them):

* Every fully connected layer k, with weight matrix W_k (``n_out x n_in``, a 2-D ``*.weight`` tensor of a
  state dict; biases are not edges, convolutions are not covered), is a complete bipartite graph on its
  n_k = n_in + n_out neurons.
* Weights are normalised **over the whole network**: ``w' = |w| / w_max``, w_max the largest absolute weight of
  all the fully connected layers given, so w' is in [0, 1].
* The filtration of a layer starts with every vertex (value 1) and adds the edges from the largest w' down.
  Its 0-dimensional diagram holds n_k - 1 pairs (1, w'_e), one per edge e of a maximum spanning tree (an
  edge that merges two components kills one), and one essential class (the component that never dies).
* ``NP(G_k) = ||D_k||_p``: the p-norm of the persistences 1 - w'_e. The paper's upper bound for a layer is
  (n_k - 1)^(1/p) (every persistence is at most 1); the **normalized** neural persistence divides by it, so
  it is in [0, 1]. The **mean normalized** neural persistence of the network is the mean over its layers.
* The essential class is not a pair of the diagram by default. The authors' code (``src/tda.py``, Aleph with
  ``unpairedData = 0``) adds it as a pair (1, 0), of persistence 1; ``include_essential=True`` does the same
  (and still divides by (n_k - 1)^(1/p), as that code does).

Units: weights are dimensionless after the normalisation; every value here is in [0, 1] (normalized) or in
units of w' (total persistence). The maximum spanning tree is computed by scipy's minimum spanning tree on
the distances 2 - w' (all >= 1, so that no edge is mistaken for a missing one); its persistences are those
distances minus 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...io_utils import atomic_path, get_logger

if TYPE_CHECKING:
    import pandas as pd

TABLE_COLUMNS = ["epoch", "layer", "n_in", "n_out", "total_persistence", "normalized"]


@dataclass(frozen=True)
class LayerPersistence:
    """Neural persistence of one fully connected layer: its name, size, NP and normalized NP."""

    layer: str
    n_in: int
    n_out: int
    total_persistence: float
    normalized: float


@dataclass(frozen=True)
class NeuralPersistence:
    """Neural persistence of a network: one :class:`LayerPersistence` per layer and their mean normalized NP."""

    layers: tuple[LayerPersistence, ...]

    @property
    def mean_normalized(self) -> float:
        """The mean normalized neural persistence (the paper's Definition 4)."""
        return float(np.mean([layer.normalized for layer in self.layers]))


def layer_persistences(normalized_weights: np.ndarray, include_essential: bool = False) -> np.ndarray:
    """The persistences 1 - w'_e of a layer's 0-dimensional diagram (one per maximum-spanning-tree edge).

    Parameters
    ----------
    normalized_weights : numpy.ndarray
        (n_out, n_in) absolute weights already divided by the network's largest one (values in [0, 1]).
    include_essential : bool
        Append the essential class as persistence 1 (the authors' code).

    Returns
    -------
    numpy.ndarray
        n_in + n_out - 1 persistences (one more with ``include_essential``), sorted descending.

    Examples
    --------
    >>> layer_persistences(np.array([[1.0, 0.5], [0.25, 0.8]])).round(3).tolist()
    [0.5, 0.2, 0.0]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    w = np.asarray(normalized_weights, dtype=np.float64)
    if w.ndim != 2 or min(w.shape) < 1:
        raise ValueError(f"a layer's weights must be a non-empty 2-D matrix, got shape {w.shape}")
    if not np.isfinite(w).all() or w.min() < 0 or w.max() > 1:
        raise ValueError("normalized weights must be finite and in [0, 1] (|w| / w_max)")
    n_out, n_in = w.shape
    rows = np.repeat(np.arange(n_out), n_in)
    cols = n_out + np.tile(np.arange(n_in), n_out)
    n = n_out + n_in
    graph = coo_matrix((2.0 - w.ravel(), (rows, cols)), shape=(n, n)).tocsr()
    tree = minimum_spanning_tree(graph)
    persistences = np.sort(tree.data - 1.0)[::-1]
    if len(persistences) != n - 1:  # a complete bipartite graph is connected
        raise AssertionError(f"spanning tree of {len(persistences)} edges on {n} vertices")
    persistences = np.clip(persistences, 0.0, 1.0)  # 2 - w' - 1 may round below 0 by one ulp
    return np.r_[1.0, persistences] if include_essential else persistences


def neural_persistence(
    weights: Sequence[np.ndarray] | Mapping[str, np.ndarray], p: float = 2.0, include_essential: bool = False
) -> NeuralPersistence:
    """Neural persistence of every fully connected layer (see the module docstring).

    Parameters
    ----------
    weights : sequence or mapping of numpy.ndarray
        The layers' (n_out, n_in) weight matrices, in order (a mapping: layer name -> matrix), e.g.
        :func:`linear_weights` of a state dict.
    p : float
        The norm of the diagram (the paper uses 2).
    include_essential : bool
        Count the essential class as a pair (1, 0), as the authors' code does.

    Returns
    -------
    NeuralPersistence
        Per layer NP and normalized NP, and their mean (``.mean_normalized``).

    Examples
    --------
    A single layer: the maximum spanning tree takes the weights 1, 0.8 and 0.5, so the persistences are 0,
    0.2 and 0.5, NP = sqrt(0.04 + 0.25) and the normalized NP divides it by sqrt(4 - 1).

    >>> result = neural_persistence([np.array([[1.0, 0.5], [0.25, 0.8]])])
    >>> round(result.layers[0].total_persistence, 4), round(result.mean_normalized, 4)
    (0.5385, 0.3109)
    """
    named = dict(weights) if isinstance(weights, Mapping) else {f"layer_{i}": w for i, w in enumerate(weights)}
    if not named:
        raise ValueError("neural persistence needs at least one fully connected layer")
    if p < 1:
        raise ValueError(f"p must be >= 1, got {p}")
    mats = {name: np.abs(np.asarray(w, dtype=np.float64)) for name, w in named.items()}
    w_max = max(float(m.max()) if m.size else 0.0 for m in mats.values())
    if not np.isfinite(w_max) or w_max <= 0:
        raise ValueError("neural persistence needs finite weights, not all zero")
    layers = []
    for name, m in mats.items():
        pers = layer_persistences(m / w_max, include_essential)
        total = float(np.sum(pers**p) ** (1.0 / p))
        n = m.shape[0] + m.shape[1]
        layers.append(LayerPersistence(name, int(m.shape[1]), int(m.shape[0]), total, total / (n - 1) ** (1.0 / p)))
    return NeuralPersistence(tuple(layers))


def linear_weights(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The fully connected layers' weight matrices of a state dict, in its order: every 2-D ``<layer>.weight``.

    Convolutions (4-D) and normalisation layers (1-D) are left out; the layer name is the key without
    ``.weight``.
    """
    out = {}
    for key, value in state_dict.items():
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if key.endswith(".weight") and array.ndim == 2:
            out[key[: -len(".weight")]] = array
    if not out:
        raise ValueError("the network has no fully connected layer (no 2-D '<layer>.weight'): no neural persistence")
    return out


def model_neural_persistence(model, p: float = 2.0, include_essential: bool = False) -> NeuralPersistence:
    """Neural persistence of a torch module's fully connected layers (see :func:`linear_weights`)."""
    return neural_persistence(linear_weights(model.state_dict()), p, include_essential)


def neural_persistence_table(checkpoints: Sequence[str | Path], p: float = 2.0) -> pd.DataFrame:
    """One row per checkpoint (its ``epoch``) and fully connected layer: columns :data:`TABLE_COLUMNS`."""
    import pandas as pd

    from ...networks.checkpoints import read_checkpoint

    rows = []
    for path in checkpoints:
        state = read_checkpoint(path)
        try:
            result = neural_persistence(linear_weights(state["net"]), p)
        except ValueError as err:
            raise ValueError(f"checkpoint {path}: {err}") from None
        rows += [
            {
                "epoch": int(state["epoch"]),
                "layer": layer.layer,
                "n_in": layer.n_in,
                "n_out": layer.n_out,
                "total_persistence": layer.total_persistence,
                "normalized": layer.normalized,
            }
            for layer in result.layers
        ]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS).sort_values(["epoch"], kind="stable", ignore_index=True)


def mean_normalized_by_epoch(table: pd.DataFrame) -> pd.Series:
    """The mean normalized neural persistence per epoch of a :func:`neural_persistence_table`."""
    return table.groupby("epoch")["normalized"].mean()


def neural_persistence_stage(*, checkpoints: Sequence[str | Path], table: str | Path, p: float = 2.0) -> pd.DataFrame:
    """Stage ``neural_persistence``: the neural persistence of every epoch's weights of one trial.

    Parameters
    ----------
    checkpoints : sequence of paths
        The trial's checkpoints (``trial_<T>/checkpoints/epoch_<E>.pt``), read with ``weights_only=True``.
    table : str or Path
        CSV to write (atomically): columns :data:`TABLE_COLUMNS`, one row per epoch and layer.
    p : float
        The norm of the diagrams.

    Returns
    -------
    pandas.DataFrame
        The table written.
    """
    result = neural_persistence_table(checkpoints, p)
    with atomic_path(table) as tmp:
        result.to_csv(tmp, index=False)
    means = mean_normalized_by_epoch(result)
    get_logger().info(
        "neural persistence of %d epochs, %d layers: mean normalized %.4f (epoch %d) .. %.4f (epoch %d)",
        len(means),
        result["layer"].nunique(),
        means.iloc[0],
        means.index[0],
        means.iloc[-1],
        means.index[-1],
    )
    return result
