"""Functional-graph stage: nodes are units, edge (i, j) has weight |Pearson corr(a_i, a_j)|
over the fixed sample set, and distance 1 - |corr|. Stages :func:`functional_graph_stage` (from an
activations file to the distance matrix cut at ``max_epsilon``, DIPHA's sparse input, and optionally the
full DIPHA distance matrix) and :func:`sparse_distance_stage` (the cut of a full distance-matrix file, as
DIPHA's ``full_to_sparse_distance_matrix``; for imported original results and ``dnn-topology full-to-sparse``).
The sparse file is the same, byte for byte, whether the cut is made in memory or from the full file.

Nodes whose activation is constant over the samples ("dead" nodes) have correlation 0 with
every other node (distance 1), never NaN. The distance matrix is exactly symmetric with an
exact 0 diagonal. The correlation is computed in blocks of columns, so that besides the N x N
result (and the activations themselves) only two blocks of standardised activations are held.

Too few samples make a meaningless graph (over 2 samples every |corr| is 0 or 1): the stage refuses
fewer than :func:`min_samples` of the node count, and so does the workflow at start-up.

Where CUDA is present (config key ``device``: ``auto``, or ``cuda``), the correlation runs on the GPU with torch,
in float64, block by block as on the CPU (:func:`abs_correlation`, ``device``); it agrees with the CPU's to
1e-12 (``tests/test_functional_graph.py``). Without CUDA it runs blockwise with NumPy, and torch is not even
imported (``auto`` looks for the NVIDIA driver first).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..io_utils import get_logger
from . import dipha_files as dio

DEFAULT_BLOCK = 1024
GPU_BLOCK = 8192  # columns per block on a GPU: two 8192-column blocks and one 8192^2 float64 block, ~0.6 GB


def correlation_device(device: str = "cpu") -> Any:
    """The torch device that computes correlations for config key ``device``, or None for NumPy on the CPU.

    ``cpu``: None. ``auto``: CUDA when present, else None; torch is imported only when the NVIDIA driver is there
    (or torch is already loaded), so that a CPU job does not pay for it. ``cuda``/``cuda:<i>``: that GPU (an error
    when there is none).
    """
    if device == "cpu":
        return None
    if device == "auto":
        if "torch" not in sys.modules and not os.path.exists("/proc/driver/nvidia/version"):
            return None
        import torch  # deferred: see the docstring

        return torch.device("cuda") if torch.cuda.is_available() else None
    import torch  # deferred: see the docstring

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"config asks for device {device!r} but CUDA is not available")
    return dev


def _column_stats(acts: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-node mean and 1/(sqrt(n) * std) (0 for constant nodes), in float64, column block by block."""
    n, N = acts.shape
    mean = np.empty(N)
    scale = np.empty(N)
    for s in range(0, N, block):
        x = np.asarray(acts[:, s : s + block], dtype=np.float64)
        m = x.mean(axis=0)
        c = x - m
        norm = np.sqrt(np.einsum("ij,ij->j", c, c))
        constant = (x.max(axis=0) == x.min(axis=0)) | (norm == 0)
        mean[s : s + block] = m
        scale[s : s + block] = np.where(constant, 0.0, 1.0 / np.where(constant, 1.0, norm))
    return mean, scale


def abs_correlation(acts: np.ndarray, block: int = DEFAULT_BLOCK, device: str = "cpu") -> np.ndarray:
    """|Pearson correlation| between the columns of ``acts`` (samples x nodes), float64, N x N.

    Parameters
    ----------
    acts : numpy.ndarray
        (n_samples, N) activations, n_samples >= 2.
    block : int
        Columns per block (memory: two blocks of standardised activations besides the result; on a GPU
        :data:`GPU_BLOCK` unless given).
    device : str
        Config key ``device`` (``cpu``, ``auto``, ``cuda``, ``cuda:<i>``), see :func:`correlation_device`.

    Returns
    -------
    numpy.ndarray
        (N, N) exactly symmetric, in [0, 1]. Constant columns get correlation 0 with everything
        (including a 0 diagonal entry; callers that want distances set the diagonal explicitly).
    """
    acts = np.asarray(acts)
    if acts.ndim != 2:
        raise ValueError(f"activations must be 2-D (samples x nodes), got shape {acts.shape}")
    n, N = acts.shape
    if n < 2:
        raise ValueError(f"need at least 2 samples to correlate nodes, got {n}")
    torch_device = correlation_device(device)
    if torch_device is not None:
        return _abs_correlation_torch(acts, GPU_BLOCK if block == DEFAULT_BLOCK else block, torch_device)
    mean, scale = _column_stats(acts, block)
    out = np.empty((N, N), dtype=np.float64)

    def standardised(s: int) -> np.ndarray:
        x = np.asarray(acts[:, s : s + block], dtype=np.float64)
        return (x - mean[s : s + block]) * scale[s : s + block]

    for i in range(0, N, block):
        zi = standardised(i)
        for j in range(i, N, block):
            zj = zi if j == i else standardised(j)
            c = np.abs(zi.T @ zj)
            np.minimum(c, 1.0, out=c)
            if j == i:  # make the diagonal block exactly symmetric (mirror its upper triangle)
                c = np.triu(c) + np.triu(c, 1).T
            out[i : i + block, j : j + block] = c
            if j != i:
                out[j : j + block, i : i + block] = c.T
    return out


def _abs_correlation_torch(acts: np.ndarray, block: int, device: Any) -> np.ndarray:
    """:func:`abs_correlation` with torch on ``device``, float64: the same steps, the same result to 1e-12."""
    import torch  # deferred: see correlation_device

    x = torch.as_tensor(np.ascontiguousarray(acts), device=device).to(torch.float64)
    mean = x.mean(dim=0)
    centred = x - mean
    norm = torch.sqrt((centred * centred).sum(dim=0))
    constant = (x.amax(dim=0) == x.amin(dim=0)) | (norm == 0)
    z = centred * torch.where(
        constant, torch.zeros_like(norm), 1.0 / torch.where(constant, torch.ones_like(norm), norm)
    )
    del x, centred
    N = z.shape[1]
    out = np.empty((N, N), dtype=np.float64)
    for i in range(0, N, block):
        zi = z[:, i : i + block]
        for j in range(i, N, block):
            c = (zi.T @ z[:, j : j + block]).abs_().clamp_(max=1.0)
            if j == i:  # exactly symmetric, as on the CPU
                c = torch.triu(c) + torch.triu(c, 1).T
            c = c.cpu().numpy()
            out[i : i + block, j : j + block] = c
            if j != i:
                out[j : j + block, i : i + block] = c.T
    return out


def distance_matrix(acts: np.ndarray, block: int = DEFAULT_BLOCK, device: str = "cpu") -> np.ndarray:
    """1 - |corr| between nodes: symmetric, exact 0 diagonal, values in [0, 1].

    Parameters
    ----------
    acts : numpy.ndarray
        (n_samples, N) activations.
    block, device
        As for :func:`abs_correlation`.

    Returns
    -------
    numpy.ndarray
        (N, N) float64 distances, ready for :func:`dnn_topology.topology.dipha_files.write_distance_matrix`.
    """
    d = abs_correlation(acts, block, device)  # exactly symmetric already
    np.subtract(1.0, d, out=d)
    np.fill_diagonal(d, 0.0)
    return d


def edge_density(sorted_distances: np.ndarray, n_nodes: int, thresholds: np.ndarray) -> np.ndarray:
    """Fraction of the n(n-1)/2 node pairs whose distance is <= each threshold.

    Parameters
    ----------
    sorted_distances : numpy.ndarray
        The pairs' distances (each pair once), sorted ascending.
    n_nodes : int
        Number of nodes.
    thresholds : numpy.ndarray
        Distances (not epsilon: distance = 2 * epsilon).

    Returns
    -------
    numpy.ndarray
        One density per threshold.
    """
    pairs = n_nodes * (n_nodes - 1) / 2
    if pairs == 0:
        return np.zeros(len(thresholds))
    return np.searchsorted(sorted_distances, thresholds, side="right") / pairs


CORRELATION_THAT_MUST_STAND_OUT = 0.5
"""The |corr| that must stand out of chance for a graph to be more than noise (see :func:`min_samples`)."""


def null_correlation_tail(r: float, n_samples: int) -> float:
    """P(|corr| >= ``r``) for the Pearson correlation of ``n_samples`` samples of two independent normal variables.

    Exact: ``corr * sqrt((s - 2) / (1 - corr^2))`` follows Student's t with ``s - 2`` degrees of freedom
    (Fisher 1915), whose distribution function has a closed form for an integer number of degrees of freedom
    (Abramowitz & Stegun 26.7.3-4) in ``theta = arctan(t / sqrt(s - 2))``, which is ``arcsin(r)`` here.

    Examples
    --------
    >>> round(null_correlation_tail(0.5, 16), 4)
    0.0487
    """
    nu = n_samples - 2
    if nu < 1:
        return 1.0  # 2 samples: every |corr| is 1
    theta = math.asin(r)
    sin, cos2 = math.sin(theta), math.cos(theta) ** 2
    if nu % 2 == 0:  # sin(theta) (1 + 1/2 cos^2 + 1.3/2.4 cos^4 + ... up to cos^(nu-2))
        term = total = 1.0
        for k in range(1, nu // 2):
            term *= (2 * k - 1) / (2 * k) * cos2
            total += term
        inside = sin * total
    else:  # 2/pi (theta + sin(theta) (cos + 2/3 cos^3 + ... up to cos^(nu-2)))
        total = 0.0
        if nu > 1:
            term = total = math.sqrt(cos2)
            for k in range(1, (nu - 1) // 2):
                term *= (2 * k) / (2 * k + 1) * cos2
                total += term
        inside = 2 / math.pi * (theta + sin * total)
    return max(0.0, 1.0 - inside)


def min_samples(n_nodes: int, r: float = CORRELATION_THAT_MUST_STAND_OUT, alpha: float = 0.05) -> int:
    """Fewest samples over which the |Pearson correlation| of ``n_nodes`` nodes is more than noise.

    The graph has ``m = n(n-1)/2`` pairs of nodes. For chance alone (independent nodes) to give none of them
    ``|corr| >= r`` with probability at least ``1 - alpha`` (family-wise, Bonferroni: each pair at level
    ``alpha / m``), the samples ``s`` must satisfy ``m * P(|corr| >= r) <= alpha``, with the exact null
    distribution of a correlation (:func:`null_correlation_tail`). Fisher's z (standard error ``1 / sqrt(s - 3)``)
    gives about the same, ``s ~ 3 + (z_(1 - alpha / (2 m)) / atanh(r))^2``, a few samples fewer.

    With ``r = 0.5`` (a "large" correlation, Cohen 1988; distance 0.5, epsilon 0.25, the middle of the
    filtration's range) the first half of the filtration holds no edge of chance alone: 16 samples for 2 nodes,
    49 for 20, 71 for 100, 102 for 1,000, 133 for 10,000 (``m`` grows fast, its tail quantile slowly). Below
    it the edges are mostly noise (2 samples give every pair |corr| 1): the Betti curves of such a graph say
    nothing about the network.

    Parameters
    ----------
    n_nodes : int
        Nodes of the graph.
    r : float
        The correlation that must stand out of chance, in (0, 1).
    alpha : float
        Family-wise level over all pairs.

    Returns
    -------
    int
        The minimum number of samples.

    Examples
    --------
    >>> min_samples(2), min_samples(100), min_samples(1000)
    (16, 71, 102)
    """
    pairs = max(1, n_nodes * (n_nodes - 1) // 2)
    s = 4
    while pairs * null_correlation_tail(r, s) > alpha:
        s += 1
    return s


def too_few_samples(n_samples: int, n_nodes: int) -> str | None:
    """Why ``n_samples`` are too few to correlate ``n_nodes`` nodes (:func:`min_samples`), or None when enough."""
    needed = min_samples(n_nodes)
    if n_samples >= needed:
        return None
    return (
        f"{n_samples} samples are too few to correlate {n_nodes} nodes: with fewer than {needed}, chance alone "
        f"gives some of their {n_nodes * (n_nodes - 1) // 2} pairs a |corr| of {CORRELATION_THAT_MUST_STAND_OUT} "
        f"or more (family-wise 5%, Bonferroni), and the graph is noise. Use at least {needed} samples "
        "(see docs/usage.md, 'How many samples')"
    )


def load_activations(path: str | Path) -> np.ndarray:
    """Read an activations .npy, checking it is a finite 2-D float matrix."""
    path = Path(path)
    try:
        acts = np.load(path, allow_pickle=False)
    except Exception as err:
        raise ValueError(f"cannot read activations file {path}: {err}") from err
    if acts.ndim != 2:
        raise ValueError(f"activations file {path} must hold a 2-D (samples x nodes) array, got shape {acts.shape}")
    if not np.isfinite(acts).all():
        raise ValueError(f"activations file {path} contains NaN or infinite values")
    return acts


def functional_graph_stage(
    *,
    activations: str | Path,
    sparse: str | Path,
    max_epsilon: float,
    distance: str | Path | None = None,
    device: str = "cpu",
) -> dio.SparseDistanceMatrix:
    """Stage ``functional_graph``: the distance matrix 1 - |corr| of an activations file, cut at ``max_epsilon``.

    One job instead of two (the full matrix written, read back and cut): what is written is the same as
    :func:`sparse_distance_stage` writes from the full file.

    Parameters
    ----------
    activations : str or Path
        ``.npy`` file of shape (samples, nodes), see :func:`load_activations`.
    sparse : str or Path
        DIPHA SPARSE_DISTANCE_MATRIX file to write (atomically): the off-diagonal distances
        ``d <= 2 * max_epsilon``.
    max_epsilon : float
        The cut, in DIPHA's filtration units (distance / 2).
    distance : str or Path, optional
        DIPHA DISTANCE_MATRIX file to write (atomically) as well: the full (nodes, nodes) matrix.
    device : str
        Config key ``device``: where the correlation runs (see :func:`correlation_device`).

    Returns
    -------
    SparseDistanceMatrix
        The sparse matrix written. Fewer samples than :func:`min_samples` of the node count are refused
        (``ValueError``).
    """
    acts = load_activations(activations)
    too_few = too_few_samples(*acts.shape)
    if too_few:
        raise ValueError(f"activations file {activations}: {too_few} (config key activations.n_samples)")
    distances = distance_matrix(acts, device=device)
    if distance is not None:
        dio.write_distance_matrix(distance, distances)
        get_logger().info("%d x %d distance matrix -> %s", *distances.shape, distance)
    return _write_cut(distances, sparse, max_epsilon, activations)


def sparse_distance_stage(*, distance: str | Path, sparse: str | Path, max_epsilon: float) -> dio.SparseDistanceMatrix:
    """Stage ``sparse_distance`` (imported runs, and ``dnn-topology full-to-sparse``): DIPHA's
    ``full_to_sparse_distance_matrix``, byte for byte.

    Parameters
    ----------
    distance : str or Path
        DIPHA DISTANCE_MATRIX file.
    sparse : str or Path
        DIPHA SPARSE_DISTANCE_MATRIX file to write (atomically): the off-diagonal distances
        ``d <= 2 * max_epsilon``.
    max_epsilon : float
        The cut, in DIPHA's filtration units (distance / 2).

    Returns
    -------
    SparseDistanceMatrix
        The matrix written.
    """
    return _write_cut(dio.read_distance_matrix(distance), sparse, max_epsilon, distance)


def _write_cut(distances: np.ndarray, sparse: str | Path, max_epsilon: float, source: str | Path):
    """Cut ``distances`` (read from, or made from, ``source``: named in errors) and write the sparse matrix."""
    result = dio.full_to_sparse(distances, max_epsilon, source)
    dio.write_sparse_distance_matrix(sparse, result)
    get_logger().info("kept %d directed entries with distance <= %g -> %s", len(result.values), 2 * max_epsilon, sparse)
    return result
