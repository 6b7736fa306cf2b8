"""Node selection and reduction: which activations become the vertices of the functional graph.

A network's feature layers give, per sample, ``(C, H, W)`` (convolutional) or ``(F,)`` (fully
connected) activations. Flattened row-major and concatenated they are the *source nodes*
(LeNet: 1,820). Big networks have far too many for a dense correlation matrix, so a method
maps them to fewer *output nodes* (config section ``node_selection``):

``all``
    every source node (the default; the original code for small networks).
``random``
    ``n_nodes`` source nodes sampled uniformly without replacement, per layer, with a fixed
    ``seed``: the same seed selects the same nodes at every epoch (the choice depends only
    on the seed and the layer shapes, never on the activations).
``chunk_mean``
    each layer's flattened nodes are split into contiguous chunks and each chunk's mean
    activation is one node, as the original's ``build_graph_functional_big_networks.py``
    (``signal_splitting``): with ``chunk_size`` a layer of ``m`` nodes gives
    ``max(1, m // chunk_size)`` chunks, of sizes differing by at most one
    (``numpy.array_split``); with ``n_nodes`` the chunks are allotted to layers as for
    ``random`` so that there are exactly ``n_nodes``.
``channel_mean``
    convolutional layers give one node per channel (mean over ``H, W``); fully connected
    layers are kept whole.

``allocation`` (``random``, and ``chunk_mean`` with ``n_nodes``) splits ``n_nodes`` between
layers: ``proportional`` to layer size (largest remainders; every layer keeps at least one
node when ``n_nodes`` >= number of layers) or ``equal`` (layers smaller than their share give
the surplus to the others). Asking for more nodes than exist keeps every node (with a warning).

Memory: :meth:`NodeSelection.apply` writes straight into the ``(n_samples, N)`` float32 output;
beyond the inputs it holds at most one layer's *selected* values (chunk sums in float64). Inputs
may be ``numpy.memmap`` (only what is needed is read) or torch tensors (moved to the CPU). As
every method works per sample, :func:`plan_selection` can also be built once from the layer
shapes and applied batch by batch, so that full activations never need to be stored.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("all", "random", "chunk_mean", "channel_mean")
ALLOCATIONS = ("proportional", "equal")
CONFIG_SECTION = "node_selection"

TABLE_COLUMNS = ("layer", "layer_index", "method", "node", "source_start", "n_source")
"""Columns of the node table, one row per output node (= column of the activation matrix):
``layer`` name and ``layer_index``; ``method``; ``node``, the id within the layer (source node
index for ``all``/``random``, chunk id for ``chunk_mean``, channel id for conv layers under
``channel_mean``); ``source_start``, the first flat source index it covers; ``n_source``, how
many consecutive source nodes it averages (1 when it is a single source node)."""


def _key(name: str) -> str:
    return f"config key '{CONFIG_SECTION}.{name}'"


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{_key(name)} must be a positive integer, not {value!r}")
    return int(value)


def allocate(sizes: Sequence[int], total: int, allocation: str = "proportional") -> np.ndarray:
    """Split ``total`` nodes between layers of the given ``sizes``; never more than a layer has.

    ``proportional``: largest-remainder apportionment of ``total * size / sum(sizes)``, with at
    least one node per layer when ``total >= len(sizes)``. ``equal``: the same number per layer,
    the surplus of layers smaller than their share going to the others. When ``total`` is at
    least ``sum(sizes)`` every node is kept.
    """
    if allocation not in ALLOCATIONS:
        raise ValueError(f"{_key('allocation')} must be one of {list(ALLOCATIONS)}, not {allocation!r}")
    sizes_a = np.asarray(sizes, dtype=np.int64)
    if total >= sizes_a.sum():
        return sizes_a.copy()
    n_layers = len(sizes_a)
    if allocation == "equal":
        counts = np.zeros(n_layers, dtype=np.int64)
        remaining = total
        while remaining > 0:
            open_layers = np.flatnonzero(counts < sizes_a)
            share, extra = divmod(remaining, len(open_layers))
            for rank, layer in enumerate(open_layers):
                give = min(share + (1 if rank < extra else 0), sizes_a[layer] - counts[layer])
                counts[layer] += give
                remaining -= give
        return counts
    ideal = total * sizes_a / sizes_a.sum()
    counts = np.floor(ideal).astype(np.int64)
    if total >= n_layers:
        counts = np.maximum(counts, 1)
    by_remainder = np.argsort(-(ideal - np.floor(ideal)), kind="stable")
    while counts.sum() < total:
        for layer in by_remainder:
            if counts.sum() == total:
                break
            if counts[layer] < sizes_a[layer]:
                counts[layer] += 1
    while counts.sum() > total:  # the at-least-one rule overshot: take from the most over-served
        excess = np.where(counts > 1, counts - ideal, -np.inf)
        counts[np.argmax(excess)] -= 1
    return counts


@dataclass(frozen=True)
class _LayerPlan:
    """How one layer's flattened source nodes become output nodes.

    Either ``take`` (indices into the flattened layer; ``None`` means all of them, in order) or
    ``starts``/``sizes`` of contiguous chunks to average.
    """

    take: np.ndarray | None
    starts: np.ndarray | None = None
    sizes: np.ndarray | None = None

    @property
    def is_mean(self) -> bool:
        return self.starts is not None


def _chunks(n_source: int, n_chunks: int) -> tuple[np.ndarray, np.ndarray]:
    """Starts and sizes of ``numpy.array_split(range(n_source), n_chunks)``."""
    q, r = divmod(n_source, n_chunks)
    sizes = np.full(n_chunks, q, dtype=np.int64)
    sizes[:r] += 1
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    return starts, sizes


@dataclass(frozen=True)
class NodeSelection:
    """A node selection planned from layer shapes; apply it to activations of those shapes."""

    method: str
    layer_names: tuple[str, ...]
    layer_shapes: tuple[tuple[int, ...], ...]
    columns: dict[str, np.ndarray]  # the node table's columns (TABLE_COLUMNS), one entry per output node
    layers: tuple[_LayerPlan, ...]

    @property
    def n_nodes(self) -> int:
        """Number of output nodes (columns of the activation matrix)."""
        return len(self.columns["node"])

    @cached_property
    def table(self) -> pd.DataFrame:
        """One row per output node, columns :data:`TABLE_COLUMNS`."""
        import pandas as pd  # deferred: the workflow plans selections while it parses, to count nodes

        return pd.DataFrame({c: self.columns[c] for c in TABLE_COLUMNS})

    def apply(self, features: Sequence[Any]) -> np.ndarray:
        """The ``(n_samples, n_nodes)`` float32 matrix of selected/reduced activations."""
        if len(features) != len(self.layer_names):
            raise ValueError(
                f"{len(features)} feature arrays for {len(self.layer_names)} layers {list(self.layer_names)}"
            )
        arrays = [_as_numpy(f) for f in features]
        n_samples = arrays[0].shape[0]
        for name, shape, arr in zip(self.layer_names, self.layer_shapes, arrays):
            if tuple(arr.shape[1:]) != shape or arr.shape[0] != n_samples:
                raise ValueError(
                    f"layer {name!r}: activations of shape {tuple(arr.shape)}, expected "
                    f"({n_samples}, {', '.join(map(str, shape))})"
                )
        out = np.empty((n_samples, self.n_nodes), dtype=np.float32)
        for i, arr in enumerate(arrays):
            self.apply_layer(i, arr.reshape(n_samples, -1), out)
        return out

    @cached_property
    def column_ranges(self) -> tuple[tuple[int, int], ...]:
        """``(start, stop)`` of each layer's output nodes among the columns of the activation matrix."""
        counts = np.bincount(self.columns["layer_index"], minlength=len(self.layer_names))
        stops = np.cumsum(counts)
        return tuple((int(stop - count), int(stop)) for count, stop in zip(counts, stops))

    def gather_indices(self, layer: int) -> np.ndarray | None:
        """The flat source indices that layer ``layer`` keeps as they are (``random``), else None.

        A caller may pick them from the layer's values before :meth:`apply_layer` (e.g. on the device that
        computed them, so that only the selected values leave it) and pass ``gathered=True``.
        """
        plan = self.layers[layer]
        return None if plan.is_mean else plan.take

    def apply_layer(self, layer: int, flat: np.ndarray, out: np.ndarray, gathered: bool = False) -> None:
        """Write layer ``layer``'s selected/reduced nodes of ``flat`` (n_samples, layer size), float32, into its
        columns of ``out`` (n_samples, n_nodes): the same values as :meth:`apply`, one layer at a time.

        ``gathered``: ``flat`` holds only the :meth:`gather_indices` of the layer, in their order.
        """
        plan = self.layers[layer]
        start, stop = self.column_ranges[layer]
        if plan.is_mean:
            assert plan.starts is not None and plan.sizes is not None
            sums = np.add.reduceat(flat, plan.starts, axis=1, dtype=np.float64)
            out[:, start:stop] = sums / plan.sizes
        elif plan.take is None or gathered:
            out[:, start:stop] = flat
        else:
            out[:, start:stop] = flat[:, plan.take]


def _as_numpy(f: Any) -> np.ndarray:
    if isinstance(f, np.ndarray):
        return f
    if hasattr(f, "detach"):  # torch.Tensor
        return f.detach().cpu().numpy()
    return np.asarray(f)


def _validate(method: str, n_nodes: int | None, allocation: str, chunk_size: int | None, seed: int) -> None:
    if method not in METHODS:
        raise ValueError(f"{_key('method')} must be one of {list(METHODS)}, not {method!r}")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"{_key('allocation')} must be one of {list(ALLOCATIONS)}, not {allocation!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{_key('seed')} must be an integer, not {seed!r}")
    if n_nodes is not None:
        _positive_int(n_nodes, "n_nodes")
    if chunk_size is not None:
        _positive_int(chunk_size, "chunk_size")
    if method in ("all", "channel_mean") and (n_nodes is not None or chunk_size is not None):
        raise ValueError(
            f"{_key('n_nodes')} and {_key('chunk_size')} are not used by method {method!r}; leave them unset"
        )
    if method == "random":
        if n_nodes is None:
            raise ValueError(f"method 'random' needs {_key('n_nodes')} (the total number of nodes to keep)")
        if chunk_size is not None:
            raise ValueError(f"{_key('chunk_size')} is not used by method 'random'; leave it unset")
    if method == "chunk_mean" and (n_nodes is None) == (chunk_size is None):
        raise ValueError(
            f"method 'chunk_mean' needs exactly one of {_key('chunk_size')} (nodes per chunk) "
            f"and {_key('n_nodes')} (total number of chunks)"
        )


def plan_selection(
    layer_shapes: Sequence[Sequence[int]],
    layer_names: Sequence[str],
    method: str = "all",
    n_nodes: int | None = None,
    allocation: str = "proportional",
    chunk_size: int | None = None,
    seed: int = 0,
) -> NodeSelection:
    """Plan a node selection from per-sample layer shapes alone (see the module docstring)."""
    _validate(method, n_nodes, allocation, chunk_size, seed)
    shapes = tuple(tuple(int(d) for d in s) for s in layer_shapes)
    names = tuple(str(n) for n in layer_names)
    if len(shapes) != len(names) or not shapes:
        raise ValueError(f"{len(shapes)} layer shapes for {len(names)} layer names; need one per layer, at least one")
    sizes = [int(np.prod(s)) for s in shapes]
    if min(sizes) < 1:
        raise ValueError(f"empty feature layer in {dict(zip(names, shapes))}")
    if n_nodes is not None and n_nodes > sum(sizes):
        warnings.warn(
            f"{_key('n_nodes')} = {n_nodes} exceeds the {sum(sizes)} nodes of layers {list(names)}; keeping all",
            stacklevel=3,
        )
    counts = allocate(sizes, n_nodes, allocation) if n_nodes is not None else None

    plans: list[_LayerPlan] = []
    rows: list[dict[str, np.ndarray]] = []
    for i, (name, shape, size) in enumerate(zip(names, shapes, sizes)):
        if method == "all":
            plan, node, start, n_src = _LayerPlan(None), np.arange(size), np.arange(size), np.ones(size, np.int64)
        elif method == "random":
            assert counts is not None
            k = int(counts[i])
            if k == size:
                idx = np.arange(size, dtype=np.int64)
            else:
                rng = np.random.default_rng([int(seed), i])
                idx = np.sort(rng.choice(size, size=k, replace=False)).astype(np.int64)
            plan, node, start, n_src = _LayerPlan(None if k == size else idx), idx, idx, np.ones(k, np.int64)
        else:
            if method == "channel_mean":
                n_chunks = shape[0] if len(shape) > 1 else size
            elif chunk_size is not None:
                n_chunks = max(1, size // chunk_size)
            else:
                assert counts is not None
                n_chunks = int(counts[i])
            node = np.arange(n_chunks)
            if n_chunks == 0:  # fewer nodes asked for than layers: this layer gets none
                start, n_src = node, node
                plan = _LayerPlan(np.empty(0, dtype=np.int64))
            else:
                start, n_src = _chunks(size, n_chunks)
                plan = _LayerPlan(None) if n_chunks == size else _LayerPlan(None, start, n_src)
        plans.append(plan)
        k = len(node)
        rows.append(
            {
                "layer": np.full(k, name, dtype=object),
                "layer_index": np.full(k, i, dtype=np.int64),
                "method": np.full(k, method, dtype=object),
                "node": np.asarray(node, dtype=np.int64),
                "source_start": np.asarray(start, dtype=np.int64),
                "n_source": np.asarray(n_src, dtype=np.int64),
            }
        )
    columns = {c: np.concatenate([r[c] for r in rows]) for c in TABLE_COLUMNS}
    return NodeSelection(method, names, shapes, columns, tuple(plans))


def select_nodes(
    features: Sequence[Any],
    layer_names: Sequence[str],
    method: str = "all",
    n_nodes: int | None = None,
    allocation: str = "proportional",
    chunk_size: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Select or reduce the nodes of a network's feature layers.

    ``features[k]`` is ``(n_samples, *layer_shape)`` for layer ``layer_names[k]``. Returns the
    ``(n_samples, N)`` float32 activation matrix and a table with one row per column (see
    :data:`TABLE_COLUMNS`). Raises ``ValueError`` naming the config key for bad parameters.
    """
    if len(features) != len(layer_names):
        raise ValueError(f"{len(features)} feature arrays for {len(layer_names)} layer names {list(layer_names)}")
    arrays = [_as_numpy(f) for f in features]
    for name, arr in zip(layer_names, arrays):
        if arr.ndim < 2:
            raise ValueError(f"layer {name!r}: activations must be (n_samples, ...), got shape {arr.shape}")
    selection = plan_selection(
        [a.shape[1:] for a in arrays], layer_names, method, n_nodes, allocation, chunk_size, seed
    )
    return selection.apply(arrays), selection.table
