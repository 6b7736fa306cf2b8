"""Vietoris-Rips persistence with DIPHA's exact conventions, from three interchangeable engines.

``compute_persistence(matrix, upper_dim)`` returns exactly what
``dipha --upper_dim <upper_dim> IN OUT`` writes for the same distance matrix (full or sparse):

* filtration value = distance / 2;
* H0 .. H(upper_dim-1) are reported (simplices up to dimension ``upper_dim`` are built);
* finite pairs with birth == death are dropped;
* an essential class of H_k is written as ``dim = -k-1`` with ``death`` = the largest filtration
  value of the complex built (the largest kept distance / 2; 0 if there is no edge);
* records are sorted by (dim, birth, death).

Engines
-------
``giotto`` (default)
    ``gph.ripser_parallel`` (for sparse input, the same calls to giotto-ph's compiled modules, made
    directly: ``ripser_parallel``'s module imports scikit-learn, which would double a job's start-up
    time and memory). Ripser-family code computes in float32, so the kept distances are
    replaced by their dense ranks (the Rips filtration only depends on the order of the edge
    values; ranks below 2**24 are exact in float32); every birth/death rank is mapped back to the
    exact float64 distance. Edge collapse (``collapse_edges``, on by default) preserves the
    persistence diagram (Boissonnat & Pritam, SoCG 2020) and is checked against DIPHA's outputs,
    a textbook reduction and the plain computation by the tests. GUDHI's collapser
    (``collapser="gudhi"``, used by ``auto`` when the optional gudhi package is installed) is
    about three times faster than giotto-ph's on 6,000-node inputs.
``ripser``
    ``ripser.ripser(..., distance_matrix=True)`` with the same rank mapping.
``dipha``
    Runs a real DIPHA binary (``[mpiexec -n P] dipha --upper_dim D [--dual] IN OUT``), see
    :func:`run_dipha`.

For a full matrix only the edges up to the enclosing radius (min over vertices of the largest
distance to another vertex) can change a finite pair with nonzero persistence: at that value one
vertex is joined to every other, so every cycle of dimension < upper_dim is a boundary of its cone.
Larger distances are therefore folded into one rank, which keeps the number of ranks small.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io_utils import get_logger
from . import dipha_files as dio
from .dipha_files import Diagram, DiphaFormatError, SparseDistanceMatrix

if TYPE_CHECKING:  # scipy is imported where it is used: Snakemake imports this module to parse the workflow
    import scipy.sparse as sps

ENGINES = ("giotto", "ripser", "dipha")
DEFAULT_ENGINE = "giotto"
MAX_EXACT_RANK = 2**24  # every integer up to 2**24 is exactly representable in float32
_BLOCK_ROWS = 512
DEFAULT_DIPHA_BINARY = Path("dipha") / "build" / "dipha"

DistanceInput = np.ndarray | SparseDistanceMatrix


class PersistenceError(RuntimeError):
    """A persistence computation could not be done (engine missing or failing, input too large)."""


# --------------------------------------------------------------------------- ranked complexes


@dataclass(frozen=True)
class RankedComplex:
    """A Rips input whose edge values are replaced by exact integer ranks.

    ``values[r]`` is the distance of rank ``r``; rank 0 is the vertices' value 0.0 and every
    edge has rank >= 1 (an edge of distance 0 gets a rank >= 1 as well; mapped back, its pairs
    have length 0 and are dropped like DIPHA drops them). Exactly one of ``dense`` (an (n, n)
    float32 rank matrix, zero diagonal) and ``edges`` (``(i, j, rank)`` with ``i < j``) is set.
    ``max_value`` is the largest distance of the complex DIPHA builds (for essential deaths).
    ``folded_rank`` (full matrices only) is the one rank given to every distance above the
    enclosing radius; no pair of nonzero length may end there.
    """

    n: int
    values: np.ndarray
    max_value: float
    dense: np.ndarray | None = None
    edges: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    folded_rank: int | None = None

    def coo(self) -> sps.coo_matrix:
        """Upper-triangular sparse rank matrix (absent entries = no edge; vertices at 0)."""
        if self.edges is None:
            raise ValueError("RankedComplex.coo() needs an edge list")
        import scipy.sparse as sps  # deferred: see the imports

        i, j, r = self.edges
        return sps.coo_matrix((r, (i, j)), shape=(self.n, self.n))


def _ranks(d: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``(values, ranks)``: values[0] = 0.0, ranks of ``d`` in 1..len(unique(d)) as float32."""
    uniq, inv = np.unique(d, return_inverse=True)
    if uniq.size >= MAX_EXACT_RANK:
        raise PersistenceError(
            f"{what} has {uniq.size:,} distinct distances; more than {MAX_EXACT_RANK - 1:,} cannot be ranked "
            "exactly in float32 (use a sparse matrix, e.g. full-to-sparse with a smaller max_eps, or engine 'dipha')"
        )
    values = np.concatenate([[0.0], uniq])
    return values, (inv.reshape(-1) + 1).astype(np.float32)


def rank_sparse(S: SparseDistanceMatrix) -> RankedComplex:
    """Rank the edges of a sparse distance matrix (every stored edge is in the complex)."""
    i, j, d = S.edges()
    values, ranks = _ranks(d, "sparse distance matrix")
    max_value = float(d.max()) if d.size else 0.0
    return RankedComplex(S.n, values, max_value, edges=(i, j, ranks))


def enclosing_radius(D: np.ndarray) -> float:
    """min over vertices of the largest distance to another vertex (0 for n <= 1)."""
    if D.shape[0] <= 1:
        return 0.0
    return float(D.max(axis=1).min())


def rank_dense(D: np.ndarray) -> RankedComplex:
    """Rank a full distance matrix; distances above the enclosing radius share one top rank."""
    n = D.shape[0]
    if n <= 1:
        return RankedComplex(n, np.zeros(1), 0.0, dense=np.zeros((n, n), dtype=np.float32))
    radius = enclosing_radius(D)
    from scipy.spatial.distance import squareform  # deferred: see the imports

    condensed = squareform(D, checks=False)  # strict upper triangle, row by row
    max_value = float(condensed.max())
    kept = np.unique(condensed[condensed <= radius])
    del condensed
    if kept.size + 1 >= MAX_EXACT_RANK:
        raise PersistenceError(
            f"full distance matrix has {kept.size:,} distinct distances up to its enclosing radius; more than "
            f"{MAX_EXACT_RANK - 2:,} cannot be ranked exactly in float32 (sparsify it with full-to-sparse, "
            "or use engine 'dipha')"
        )
    folded = kept.size + 1
    values = np.concatenate([[0.0], kept, [max_value]])
    R = np.empty((n, n), dtype=np.float32)
    for start in range(0, n, _BLOCK_ROWS):  # row blocks keep the temporaries small
        block = D[start : start + _BLOCK_ROWS]
        R[start : start + _BLOCK_ROWS] = np.where(block <= radius, np.searchsorted(kept, block) + 1, folded)
    np.fill_diagonal(R, 0.0)
    return RankedComplex(n, values, max_value, dense=R, folded_rank=folded)


def rank_input(matrix: DistanceInput) -> RankedComplex:
    """Validate ``matrix`` (dense array or :class:`SparseDistanceMatrix`) and rank it."""
    if isinstance(matrix, SparseDistanceMatrix):
        return rank_sparse(dio.validate_sparse(matrix))
    return rank_dense(dio.validate_distance_matrix(matrix))


def diagram_from_ranks(dgms: Sequence[np.ndarray], ranked: RankedComplex) -> Diagram:
    """Turn per-dimension (birth, death) rank arrays (death = inf: essential) into DIPHA's diagram."""
    dims, births, deaths = [], [], []
    top = ranked.values.size - 1
    for k, dgm in enumerate(dgms):
        dgm = np.asarray(dgm, dtype=np.float64).reshape(-1, 2)
        essential = ~np.isfinite(dgm[:, 1])
        b_rank = dgm[:, 0]
        d_rank = np.where(essential, 0.0, dgm[:, 1])
        for name, r in (("birth", b_rank), ("death", d_rank)):
            if np.any(r != np.rint(r)) or np.any(r < 0) or np.any(r > top):
                raise PersistenceError(f"engine returned a {name} that is not an exact rank in H{k}")
        b = ranked.values[b_rank.astype(np.int64)] / 2.0
        d = np.where(essential, ranked.max_value / 2.0, ranked.values[d_rank.astype(np.int64)] / 2.0)
        keep = essential | (b != d)
        if ranked.folded_rank is not None and np.any(keep & ~essential & (d_rank == ranked.folded_rank)):
            raise PersistenceError(f"internal error: an H{k} pair dies above the enclosing radius")
        dims.append(np.where(essential, -k - 1, k)[keep])
        births.append(b[keep])
        deaths.append(d[keep])
    if not dims:
        return Diagram(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    return Diagram(np.concatenate(dims), np.concatenate(births), np.concatenate(deaths)).sorted()


# --------------------------------------------------------------------------- engines


COLLAPSERS = ("auto", "giotto", "gudhi")


def _gudhi_reduce_graph():
    """GUDHI's edge collapser (``gudhi.flag_filtration.edge_collapse.reduce_graph``), or None."""
    try:  # deferred: optional, and only the giotto engine on sparse input uses it
        from gudhi.flag_filtration.edge_collapse import reduce_graph
    except ImportError:
        return None
    return reduce_graph


def _collapse_with_gudhi(ranked: RankedComplex, reduce_graph) -> sps.coo_matrix:
    """Collapse the ranked edge list with GUDHI (same persistence, fewer edges)."""
    import scipy.sparse as sps  # deferred: see the imports

    i, j, r = ranked.edges
    reduced = reduce_graph(sps.coo_matrix((r.astype(np.float64), (i, j)), shape=(ranked.n, ranked.n)))
    return sps.coo_matrix((reduced.data.astype(np.float32), (reduced.row, reduced.col)), shape=reduced.shape)


def _gph_module(name: str):
    """giotto-ph's compiled module ``gph.modules.<name>``, loaded without running ``gph/__init__.py``
    (whose ``ripser_parallel`` imports scikit-learn: about a second and 100 MB more per job);
    None when it cannot be found this way."""
    try:
        package = importlib.util.find_spec("gph")  # locates the package without importing it
    except (ImportError, ValueError):
        return None
    for folder in (package.submodule_search_locations or []) if package else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder, "modules", name + suffix)
            if path.is_file():
                loader = importlib.machinery.ExtensionFileLoader(f"gph.modules.{name}", str(path))
                module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
                loader.exec_module(module)
                return module
    return None


def _giotto_sparse(coo: sps.coo_matrix, maxdim: int, n_threads: int, collapse_edges: bool) -> list[np.ndarray] | None:
    """``gph.ripser_parallel(coo, maxdim, metric="precomputed", ...)`` on a sparse edge list, calling
    giotto-ph's compiled modules directly (the same calls, with Z/2 coefficients and no threshold);
    None when they cannot be loaded (then ``ripser_parallel`` itself is used)."""
    ripser = _gph_module("gph_ripser")
    collapser = _gph_module("gph_collapser") if collapse_edges else None
    if ripser is None or (collapse_edges and collapser is None):
        return None
    # every edge once, as (min, max): what ripser_parallel's _sanitize_coo keeps of a symmetric edge list
    row, col = np.minimum(coo.row, coo.col), np.maximum(coo.row, coo.col)
    data = np.asarray(coo.data, dtype=np.float32)
    if collapse_edges:
        row, col, data = collapser.flag_complex_collapse_edges_coo(row, col, data, np.inf)
    row, col = np.ascontiguousarray(row, dtype=np.int64), np.ascontiguousarray(col, dtype=np.int64)
    result = ripser.rips_dm_sparse(
        row,
        col,
        np.ascontiguousarray(data, dtype=np.float32),
        row.size,
        coo.shape[0],
        2,
        maxdim,
        np.inf,
        n_threads,
        False,
    )
    return [np.reshape(np.array(d), (-1, 2)) for d in result.births_and_deaths_by_dim()]


def _giotto(
    ranked: RankedComplex, maxdim: int, n_threads: int, collapse_edges: bool = True, collapser: str = "auto"
) -> list[np.ndarray]:
    """giotto-ph on the rank matrix. With ``collapse_edges``, edges are first collapsed by
    ``collapser``: ``giotto`` (giotto-ph's own), ``gudhi`` (GUDHI's faster one, for sparse input;
    needs the gudhi package) or ``auto`` (gudhi when installed and the input is sparse, else giotto)."""
    if collapser not in COLLAPSERS:
        raise ValueError(f"unknown collapser {collapser!r}; choose one of {', '.join(COLLAPSERS)}")
    X = ranked.dense if ranked.dense is not None else ranked.coo()
    if collapse_edges and ranked.edges is not None and collapser != "giotto":
        reduce_graph = _gudhi_reduce_graph()
        if reduce_graph is None and collapser == "gudhi":
            raise PersistenceError("collapser 'gudhi' needs the gudhi package (pip install gudhi)")
        if reduce_graph is not None:
            X, collapse_edges = _collapse_with_gudhi(ranked, reduce_graph), False
    if X is not ranked.dense:  # a sparse edge list
        dgms = _giotto_sparse(X, maxdim, n_threads, collapse_edges)
        if dgms is not None:
            return dgms
    from gph import ripser_parallel  # deferred: imports scikit-learn (see _gph_module); only this case needs it

    res = ripser_parallel(X, maxdim=maxdim, metric="precomputed", n_threads=n_threads, collapse_edges=collapse_edges)
    return res["dgms"]


def _ripser(ranked: RankedComplex, maxdim: int, n_threads: int) -> list[np.ndarray]:
    try:  # deferred: optional dependency, only this engine needs it
        from ripser import ripser
    except ImportError as err:  # optional dependency (extra "ripser")
        raise PersistenceError("engine 'ripser' needs the ripser package (pip install 'dnn-topology[ripser]')") from err
    X = ranked.dense if ranked.dense is not None else ranked.coo()
    return ripser(X, maxdim=maxdim, distance_matrix=True)["dgms"]


def _check_upper_dim(upper_dim: int) -> int:
    if isinstance(upper_dim, bool) or int(upper_dim) != upper_dim or upper_dim < 1:
        raise ValueError(f"upper_dim must be an integer >= 1 (H0..H(upper_dim-1) are reported), got {upper_dim!r}")
    return int(upper_dim)


def _check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ValueError(f"unknown persistence engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return engine


def _python_engine(engine: str, ranked: RankedComplex, upper_dim: int, n_threads: int, opts: dict) -> Diagram:
    allowed = {"giotto": {"collapse_edges", "collapser"}, "ripser": set()}[engine]
    unknown = set(opts) - allowed
    if unknown:
        raise ValueError(f"unknown option(s) for engine {engine!r}: {sorted(unknown)}")
    if ranked.n == 0:
        dgms: list[np.ndarray] = []
    elif engine == "giotto":
        dgms = _giotto(ranked, upper_dim - 1, n_threads, **opts)
    else:
        dgms = _ripser(ranked, upper_dim - 1, n_threads)
    return diagram_from_ranks(dgms, ranked)


def compute_persistence(
    matrix: DistanceInput, upper_dim: int, engine: str = DEFAULT_ENGINE, n_threads: int = 1, **engine_opts: Any
) -> Diagram:
    """Persistence diagram of the Rips filtration of ``matrix``, exactly as DIPHA computes it.

    Parameters
    ----------
    matrix : numpy.ndarray or SparseDistanceMatrix
        A dense (n, n) distance matrix (every pair is an edge) or a sparse one (stored pairs only).
    upper_dim : int
        DIPHA's ``--upper_dim``: H0..H(upper_dim-1) are reported.
    engine : {"giotto", "ripser", "dipha"}
        See the module docstring; all give the same diagram.
    n_threads : int
        Threads (giotto) or MPI processes (dipha).
    **engine_opts
        giotto: ``collapse_edges`` (default True) and ``collapser`` (``auto``/``giotto``/``gudhi``);
        dipha: see :func:`run_dipha`.

    Returns
    -------
    Diagram
        In DIPHA's conventions (see the module docstring), sorted by (dim, birth, death).
    """
    upper_dim = _check_upper_dim(upper_dim)
    engine = _check_engine(engine)
    if engine == "dipha":
        return _dipha_in_memory(matrix, upper_dim, n_threads, engine_opts)
    return _python_engine(engine, rank_input(matrix), upper_dim, max(1, int(n_threads)), engine_opts)


def load_distance_input(path: dio.PathLike) -> DistanceInput:
    """Read a DISTANCE_MATRIX or SPARSE_DISTANCE_MATRIX file, dispatching on its type id."""
    type_id = dio.read_file_type(path)
    if type_id == dio.DISTANCE_MATRIX:
        return dio.read_distance_matrix(path)
    if type_id == dio.SPARSE_DISTANCE_MATRIX:
        return dio.read_sparse_distance_matrix(path)
    raise DiphaFormatError(
        path,
        f"{dio.TYPE_NAMES.get(type_id, f'unknown type {type_id}')} (id {type_id}) is not a distance matrix; "
        f"expected DISTANCE_MATRIX ({dio.DISTANCE_MATRIX}) or SPARSE_DISTANCE_MATRIX ({dio.SPARSE_DISTANCE_MATRIX})",
    )


def _timed(timings: dict[str, float] | None, label: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, adding its wall time in seconds to ``timings[label]`` (when given)."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    if timings is not None:
        timings[label] = timings.get(label, 0.0) + time.perf_counter() - start
    return result


def compute_persistence_file(
    input_path: dio.PathLike,
    output_path: dio.PathLike,
    upper_dim: int,
    engine: str = DEFAULT_ENGINE,
    n_threads: int = 1,
    *,
    timings: dict[str, float] | None = None,
    **engine_opts: Any,
) -> Diagram:
    """``dipha --upper_dim D INPUT OUTPUT``: read either distance-matrix type, write the diagram atomically.

    Parameters
    ----------
    input_path : str or os.PathLike
        DISTANCE_MATRIX or SPARSE_DISTANCE_MATRIX file.
    output_path : str or os.PathLike
        PERSISTENCE_DIAGRAM file to write, identical to DIPHA's.
    upper_dim, engine, n_threads, **engine_opts
        As for :func:`compute_persistence`.
    timings : dict, optional
        Receives the seconds spent on ``read``, ``compute`` and ``write`` (``read`` and ``dipha``
        for engine dipha, which validates the input before running DIPHA).

    Returns
    -------
    Diagram
        The diagram written.
    """
    upper_dim = _check_upper_dim(upper_dim)
    engine = _check_engine(engine)
    matrix = _timed(timings, "read", load_distance_input, input_path)  # validates the input for every engine
    if engine == "dipha":
        return _timed(
            timings, "dipha", run_dipha, input_path, output_path, upper_dim, n_threads=n_threads, **engine_opts
        )
    diagram = _timed(
        timings, "compute", _python_engine, engine, rank_input(matrix), upper_dim, max(1, int(n_threads)), engine_opts
    )
    _timed(timings, "write", dio.write_persistence_diagram, output_path, diagram)
    return diagram


def persistence_stage(
    *,
    distance: dio.PathLike,
    diagram: dio.PathLike,
    upper_dim: int,
    engine: str = DEFAULT_ENGINE,
    threads: int = 1,
    engine_options: Mapping[str, Any] | None = None,
    search_dirs: Sequence[dio.PathLike] = (),
    timings: dict[str, float] | None = None,
) -> Diagram:
    """Stage ``persistence`` (and ``dnn-topology dipha``): the diagram of a distance-matrix file.

    Parameters
    ----------
    distance : str or Path
        DISTANCE_MATRIX or SPARSE_DISTANCE_MATRIX file.
    diagram : str or Path
        PERSISTENCE_DIAGRAM file to write (atomically), identical to DIPHA's.
    upper_dim : int
        DIPHA's ``--upper_dim``: H0..H(upper_dim-1) are reported.
    engine : {"giotto", "ripser", "dipha"}
        See the module docstring; :func:`engine_from_config` maps config key ``topology.engine``.
    threads : int
        Threads (giotto) or MPI processes (dipha, unless ``engine_options`` sets ``mpi_procs``).
    engine_options : mapping, optional
        Options of the engine (see :func:`compute_persistence` and :func:`run_dipha`).
    search_dirs : sequence of paths
        Engine dipha: where to look for ``dipha/build/dipha`` before the working directory.
    timings : dict, optional
        Receives the seconds of each step (see :func:`compute_persistence_file`).

    Returns
    -------
    Diagram
        The diagram written; its class counts are logged.
    """
    opts = dict(engine_options or {})
    if engine == "dipha" and search_dirs:
        opts.setdefault("search_dirs", list(search_dirs))
    timings = {} if timings is None else timings
    result = compute_persistence_file(distance, diagram, upper_dim, engine, threads, timings=timings, **opts)
    get_logger().info("engine %s, %d threads, %.2f s: %s", engine, threads, sum(timings.values()), result.summary())
    return result


def engine_from_config(topology: Mapping[str, Any]) -> tuple[str, dict]:
    """The engine named by config key ``topology.engine`` and its options.

    ``auto`` is the default engine, giotto-ph: DIPHA runs only when asked for by name
    (``engine: dipha``), with the ``topology.dipha`` options (``binary``, ``mpi_procs``, ``mpiexec``).
    """
    engine = topology.get("engine", "auto")
    if engine == "auto":
        return DEFAULT_ENGINE, {}
    if engine == "dipha":
        dipha = topology.get("dipha", {})
        return "dipha", {k: dipha[k] for k in ("binary", "mpi_procs", "mpiexec") if k in dipha}
    return engine, {}


# --------------------------------------------------------------------------- the real DIPHA


def find_dipha_binary(binary: dio.PathLike | None = None, search_dirs: Sequence[dio.PathLike] = ()) -> Path:
    """Locate DIPHA: ``binary`` if given (a path, or a name on PATH), else ``dipha/build/dipha``
    under ``search_dirs`` and the working directory, else ``dipha`` on PATH."""
    if binary is not None:
        candidate = Path(binary)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
        found = shutil.which(str(binary)) if candidate.parent == Path(".") else None
        if found:
            return Path(found)
        raise PersistenceError(f"DIPHA binary {binary} not found or not executable (see dipha/README.md)")
    for base in [*search_dirs, Path.cwd()]:
        candidate = Path(base) / DEFAULT_DIPHA_BINARY
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("dipha")
    if found:
        return Path(found)
    raise PersistenceError(
        f"DIPHA binary not found: looked for {DEFAULT_DIPHA_BINARY} and for 'dipha' on PATH "
        "(build it as described in dipha/README.md, or choose engine 'giotto')"
    )


def dipha_command(
    binary: dio.PathLike,
    input_path: dio.PathLike,
    output_path: dio.PathLike,
    upper_dim: int,
    mpi_procs: int = 1,
    dual: bool = False,
    mpiexec: str | None = None,
    mpiexec_args: Sequence[str] = (),
) -> list[str]:
    """The command line: ``[mpiexec [args] -n P] binary --upper_dim D [--dual] IN OUT``.

    ``mpiexec`` is used when ``mpi_procs > 1`` or when ``mpiexec`` is given explicitly.
    """
    cmd: list[str] = []
    if mpiexec is not None or mpi_procs > 1:
        cmd += [mpiexec or "mpiexec", *mpiexec_args, "-n", str(int(mpi_procs))]
    cmd += [str(binary), "--upper_dim", str(int(upper_dim))]
    if dual:
        cmd.append("--dual")
    cmd += [str(input_path), str(output_path)]
    return cmd


def run_dipha(
    input_path: dio.PathLike,
    output_path: dio.PathLike,
    upper_dim: int,
    n_threads: int = 1,
    *,
    binary: dio.PathLike | None = None,
    mpi_procs: int | None = None,
    dual: bool = False,
    mpiexec: str | None = None,
    mpiexec_args: Sequence[str] = (),
    timeout: float | None = None,
    search_dirs: Sequence[dio.PathLike] = (),
) -> Diagram:
    """Run a real DIPHA on ``input_path``; validate its output and move it to ``output_path`` atomically.

    ``mpi_procs`` defaults to ``n_threads``. Raises :class:`PersistenceError` naming the binary if it
    is missing, fails or writes no valid diagram.
    """
    upper_dim = _check_upper_dim(upper_dim)
    exe = find_dipha_binary(binary, search_dirs)
    procs = max(1, int(mpi_procs if mpi_procs is not None else n_threads))
    if mpiexec is not None or procs > 1:
        launcher = mpiexec or "mpiexec"
        if shutil.which(launcher) is None and not Path(launcher).is_file():
            raise PersistenceError(f"{launcher} not found: needed to run DIPHA {exe} with {procs} MPI processes")
    with dio.atomic_output(output_path) as tmp:
        cmd = dipha_command(exe, input_path, tmp, upper_dim, procs, dual, mpiexec, mpiexec_args)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_mpi_environment())
        except OSError as err:
            raise PersistenceError(f"cannot run DIPHA {exe}: {err}") from err
        except subprocess.TimeoutExpired as err:
            raise PersistenceError(f"DIPHA {exe} timed out after {timeout} s on {input_path}") from err
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout or "").strip()[-2000:]
            raise PersistenceError(
                f"DIPHA {exe} failed on {input_path} (exit code {proc.returncode}): {shlex.join(cmd)}\n{tail}"
            )
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise PersistenceError(f"DIPHA {exe} wrote no output for {input_path} ({shlex.join(cmd)})")
        try:
            diagram = dio.read_persistence_diagram(tmp)
        except DiphaFormatError as err:
            raise PersistenceError(f"DIPHA {exe} wrote an invalid diagram for {input_path}: {err.reason}") from err
    return diagram


def _mpi_environment() -> dict[str, str]:
    """The environment for DIPHA: Open MPI refuses to run as root unless told it may."""
    env = dict(os.environ)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    return env


def _dipha_in_memory(matrix: DistanceInput, upper_dim: int, n_threads: int, opts: dict) -> Diagram:
    """Write ``matrix`` to a temporary DIPHA file and run the real DIPHA on it."""
    with tempfile.TemporaryDirectory(prefix="dnn_topology_dipha_") as tmpdir:
        inp = Path(tmpdir) / "input.bin"
        if isinstance(matrix, SparseDistanceMatrix):
            dio.write_sparse_distance_matrix(inp, matrix)
        else:
            dio.write_distance_matrix(inp, matrix)
        opts = {"search_dirs": (Path.cwd(),), **opts}
        return run_dipha(inp, Path(tmpdir) / "output.diagram", upper_dim, n_threads, **opts)
