"""DIPHA's binary file formats: distance matrices, sparse distance matrices, persistence diagrams.

Every file starts with two little-endian int64: the magic number ``8067171840`` and a type id
(``include/dipha/file_types.h``). The bodies used here are (all little-endian):

=========================  ==  ===============================================================
type                       id  body
=========================  ==  ===============================================================
PERSISTENCE_DIAGRAM         2  ``int64 p``, then p x (``int64 dim``, ``f64 birth``, ``f64 death``)
DISTANCE_MATRIX             7  ``int64 n``, then n*n ``f64`` row-major
SPARSE_DISTANCE_MATRIX      8  ``int64 n``, n x ``int64 count_i``, all ``int64`` column indices
                               (row by row), then all ``f64`` values (row by row)
=========================  ==  ===============================================================

Readers validate everything they read and raise :class:`DiphaFormatError` (a ``ValueError``)
whose message starts with the file name; writers write atomically (a temporary file in the
target's directory, then :func:`os.replace`), so an interrupted job never leaves half a file.

Persistence diagrams stay in DIPHA's own conventions (see :class:`Diagram`): filtration value =
distance / 2, essential classes of H_k written with ``dim = -k-1`` and ``death`` = the largest
filtration value of the complex that was built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from ..io_utils import atomic_path

if TYPE_CHECKING:  # pandas is imported by Diagram.to_frame only: the per-epoch jobs start without it
    import pandas as pd

MAGIC = 8067171840
WEIGHTED_BOUNDARY_MATRIX = 0
IMAGE_DATA = 1
PERSISTENCE_DIAGRAM = 2
DISTANCE_MATRIX = 7
SPARSE_DISTANCE_MATRIX = 8

TYPE_NAMES = {
    WEIGHTED_BOUNDARY_MATRIX: "WEIGHTED_BOUNDARY_MATRIX",
    IMAGE_DATA: "IMAGE_DATA",
    PERSISTENCE_DIAGRAM: "PERSISTENCE_DIAGRAM",
    DISTANCE_MATRIX: "DISTANCE_MATRIX",
    SPARSE_DISTANCE_MATRIX: "SPARSE_DISTANCE_MATRIX",
}

HEADER_BYTES = 16
_I8 = np.dtype("<i8")
_F8 = np.dtype("<f8")
_RECORD = np.dtype([("dim", "<i8"), ("birth", "<f8"), ("death", "<f8")])

PathLike = str | os.PathLike


class DiphaFormatError(ValueError):
    """A DIPHA file (or an array about to be written as one) is malformed.

    The message always starts with the file's name; the path is kept in :attr:`path`.
    """

    def __init__(self, path: PathLike, message: str):
        self.path = str(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}")


def _type_name(type_id: int) -> str:
    return TYPE_NAMES.get(type_id, f"unknown type {type_id}")


# --------------------------------------------------------------------------- atomic writes


# one implementation for the whole package: see io_utils.atomic_path
atomic_output = atomic_path


def _write_header(f: BinaryIO, type_id: int, *counts: int) -> None:
    f.write(np.array([MAGIC, type_id, *counts], dtype=_I8).tobytes())


# --------------------------------------------------------------------------- low-level reading


class _Reader:
    """Reads a whole DIPHA file and hands out typed slices, with errors that name the file."""

    def __init__(self, path: PathLike, expected_type: int | None):
        self.path = Path(path)
        self.size = os.path.getsize(self.path)
        self.offset = 0
        self._fh = open(self.path, "rb")
        try:
            self.type_id = self._read_header(expected_type)
        except BaseException:
            self._fh.close()
            raise

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()

    def error(self, message: str) -> DiphaFormatError:
        return DiphaFormatError(self.path, message)

    def _read_header(self, expected_type: int | None) -> int:
        if self.size < HEADER_BYTES:
            raise self.error(f"truncated: {self.size} bytes, too short for a DIPHA header (16 bytes)")
        magic, type_id = self.ints(2, "header")
        if magic != MAGIC:
            raise self.error(f"not a DIPHA file (magic number {magic}, expected {MAGIC})")
        if expected_type is not None and type_id != expected_type:
            raise self.error(
                f"wrong DIPHA file type: {_type_name(type_id)} (id {type_id}), "
                f"expected {_type_name(expected_type)} (id {expected_type})"
            )
        return int(type_id)

    def _need(self, nbytes: int, what: str) -> None:
        if nbytes < 0 or self.offset + nbytes > self.size:
            raise self.error(
                f"truncated: {what} needs {nbytes} bytes at offset {self.offset}, but the file has {self.size} bytes"
            )

    def _array(self, dtype: np.dtype, count: int, what: str) -> np.ndarray:
        self._need(count * dtype.itemsize, what)
        self._fh.seek(self.offset)
        arr = np.fromfile(self._fh, dtype=dtype, count=count)
        if arr.size != count:  # the file changed under us
            raise self.error(f"truncated while reading {what}")
        self.offset += count * dtype.itemsize
        return arr

    def ints(self, count: int, what: str) -> np.ndarray:
        return self._array(_I8, count, what)

    def floats(self, count: int, what: str) -> np.ndarray:
        return self._array(_F8, count, what)

    def records(self, count: int) -> np.ndarray:
        return self._array(_RECORD, count, "persistence pairs")

    def count(self, what: str) -> int:
        value = int(self.ints(1, what)[0])
        if value < 0:
            raise self.error(f"negative {what}: {value}")
        return value

    def finish(self) -> None:
        if self.offset != self.size:
            raise self.error(f"{self.size - self.offset} trailing bytes after the {_type_name(self.type_id)} body")


def read_file_type(path: PathLike) -> int:
    """Type id of a DIPHA file (after checking its magic number)."""
    with _Reader(path, None) as r:
        return r.type_id


# --------------------------------------------------------------------------- distance matrices


def _check_values(path: PathLike, values: np.ndarray, what: str) -> None:
    if values.size == 0:
        return
    if not np.isfinite(values).all():
        bad = np.flatnonzero(~np.isfinite(values))
        raise DiphaFormatError(path, f"{len(bad)} non-finite {what} (first at flat index {bad[0]})")
    if values.min() < 0:
        bad = np.flatnonzero(values < 0)
        raise DiphaFormatError(
            path, f"{len(bad)} negative {what} (first at flat index {bad[0]}: {values.flat[bad[0]]!r})"
        )


def validate_distance_matrix(D: np.ndarray, path: PathLike = "<array>") -> np.ndarray:
    """Check that ``D`` is a square, finite, non-negative, exactly symmetric matrix with a zero diagonal.

    Returns ``D`` as C-contiguous float64; raises :class:`DiphaFormatError` naming ``path``.
    """
    D = np.asarray(D)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise DiphaFormatError(path, f"distance matrix must be square, got shape {D.shape}")
    if not np.issubdtype(D.dtype, np.number) or np.iscomplexobj(D):
        raise DiphaFormatError(path, f"distance matrix must be real, got dtype {D.dtype}")
    D = np.ascontiguousarray(D, dtype=np.float64)
    _check_values(path, D, "distances")
    diag = np.diagonal(D)
    if np.any(diag != 0):
        i = int(np.flatnonzero(diag)[0])
        raise DiphaFormatError(path, f"nonzero diagonal: d[{i},{i}] = {diag[i]!r}")
    if not np.array_equal(D, D.T):
        i, j = np.argwhere(D != D.T)[0]
        raise DiphaFormatError(
            path, f"asymmetric distance matrix: d[{i},{j}] = {D[i, j]!r} but d[{j},{i}] = {D[j, i]!r}"
        )
    return D


def dipha_view(D: np.ndarray) -> np.ndarray:
    """The matrix DIPHA actually uses: its strict lower triangle mirrored, zero diagonal.

    DIPHA reads only ``d[i][j]`` with ``i > j``; this turns a slightly asymmetric matrix or one with
    a nonzero diagonal (the original code wrote ``1 - 0 = 1`` on the diagonal of dead neurons) into
    the exactly symmetric matrix DIPHA computed on.
    """
    low = np.tril(np.asarray(D, dtype=np.float64), -1)
    return low + low.T


def write_distance_matrix(path: PathLike, D: np.ndarray) -> None:
    """Write ``D`` as a DIPHA DISTANCE_MATRIX (validated first; atomic).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    D : numpy.ndarray
        (n, n) distances: finite, non-negative, exactly symmetric, zero diagonal
        (see :func:`validate_distance_matrix`).
    """
    D = validate_distance_matrix(D, path)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        _write_header(f, DISTANCE_MATRIX, D.shape[0])
        D.astype(_F8, copy=False).tofile(f)


def read_distance_matrix(path: PathLike, *, strict: bool = True) -> np.ndarray:
    """Read a DIPHA DISTANCE_MATRIX as an (n, n) float64 array.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    strict : bool
        With ``strict`` (default) the matrix must be finite, non-negative, exactly symmetric and
        have a zero diagonal. With ``strict=False`` only the entries DIPHA reads (strict lower
        triangle) are checked, and :func:`dipha_view` of the matrix is returned.

    Returns
    -------
    numpy.ndarray
        The (n, n) float64 distances. A malformed file raises :class:`DiphaFormatError` naming it.
    """
    with _Reader(path, DISTANCE_MATRIX) as r:
        n = r.count("matrix size n")
        D = r.floats(n * n, f"{n}x{n} distances").reshape(n, n)
        r.finish()
    if strict:
        return validate_distance_matrix(D, path)
    _check_values(path, D[np.tril_indices(n, -1)], "distances")
    return dipha_view(D)


# --------------------------------------------------------------------------- sparse distance matrices


@dataclass(frozen=True, eq=False)
class SparseDistanceMatrix:
    """A symmetric sparse distance matrix in CSR layout, exactly as DIPHA stores it.

    Row ``i`` holds the columns ``indices[indptr[i]:indptr[i+1]]`` (strictly ascending, never ``i``)
    and their distances ``values[...]``. Both ``(i, j)`` and ``(j, i)`` are stored with the same value.
    An absent off-diagonal entry means *no edge*; a stored zero is a legitimate zero distance.
    """

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray

    @property
    def nnz(self) -> int:
        """Number of stored entries (twice the number of edges)."""
        return int(self.indices.size)

    def row_of_entries(self) -> np.ndarray:
        """Row index of every stored entry."""
        return np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.indptr))

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(i, j, d)`` of every edge once, with ``i < j``, in row-major order."""
        rows = self.row_of_entries()
        upper = rows < self.indices
        return rows[upper], self.indices[upper], self.values[upper]

    def to_dense(self, fill: float = np.inf) -> np.ndarray:
        """Dense (n, n) matrix: zero diagonal, ``fill`` where there is no edge."""
        D = np.full((self.n, self.n), fill, dtype=np.float64)
        D[self.row_of_entries(), self.indices] = self.values
        np.fill_diagonal(D, 0.0)
        return D

    def equals(self, other: SparseDistanceMatrix) -> bool:
        """Exact equality of structure and values."""
        return (
            self.n == other.n
            and np.array_equal(self.indptr, other.indptr)
            and np.array_equal(self.indices, other.indices)
            and np.array_equal(self.values, other.values)
        )


def validate_sparse(S: SparseDistanceMatrix, path: PathLike = "<array>") -> SparseDistanceMatrix:
    """Check structure, ordering, values and symmetry of ``S``; return it with canonical dtypes."""
    n = int(S.n)
    indptr = np.asarray(S.indptr, dtype=np.int64)
    indices = np.asarray(S.indices, dtype=np.int64)
    values = np.asarray(S.values, dtype=np.float64)
    if n < 0:
        raise DiphaFormatError(path, f"negative matrix size n = {n}")
    if indptr.shape != (n + 1,) or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise DiphaFormatError(path, "malformed row pointer (indptr)")
    nnz = int(indptr[-1])
    if indices.shape != (nnz,) or values.shape != (nnz,):
        raise DiphaFormatError(
            path, f"row counts say {nnz} entries but there are {indices.size} indices and {values.size} values"
        )
    _check_values(path, values, "distances")
    if nnz:
        if indices.min() < 0 or indices.max() >= n:
            k = int(np.flatnonzero((indices < 0) | (indices >= n))[0])
            raise DiphaFormatError(path, f"column index {indices[k]} out of range [0, {n}) (entry {k})")
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        if np.any(rows == indices):
            i = int(rows[rows == indices][0])
            raise DiphaFormatError(path, f"diagonal entry stored in row {i}")
        same_row = rows[1:] == rows[:-1]
        if np.any(same_row & (indices[1:] <= indices[:-1])):
            i = int(rows[1:][same_row & (indices[1:] <= indices[:-1])][0])
            raise DiphaFormatError(path, f"column indices of row {i} are not strictly ascending")
        _check_symmetric(path, rows, indices, values)
    return SparseDistanceMatrix(n, indptr, indices, values)


def _check_symmetric(path: PathLike, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
    """Entries are sorted by (row, col); symmetric iff sorting the transpose gives the same arrays."""
    order = np.lexsort((rows, cols))  # sort the transposed entries (col, row) by (col, row)
    t_rows, t_cols, t_vals = cols[order], rows[order], values[order]
    mismatch = (t_rows != rows) | (t_cols != cols)
    if np.any(mismatch):
        k = int(np.flatnonzero(mismatch)[0])
        i, j = (rows[k], cols[k]) if (rows[k], cols[k]) < (t_rows[k], t_cols[k]) else (t_rows[k], t_cols[k])
        raise DiphaFormatError(path, f"entry ({i},{j}) has no symmetric entry ({j},{i})")
    if not np.array_equal(t_vals, values):
        k = int(np.flatnonzero(t_vals != values)[0])
        raise DiphaFormatError(
            path,
            f"asymmetric values: d[{rows[k]},{cols[k]}] = {values[k]!r} but d[{cols[k]},{rows[k]}] = {t_vals[k]!r}",
        )


def write_sparse_distance_matrix(path: PathLike, S: SparseDistanceMatrix) -> None:
    """Write ``S`` as a DIPHA SPARSE_DISTANCE_MATRIX (validated first; atomic).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    S : SparseDistanceMatrix
        Both ``(i, j)`` and ``(j, i)`` of every edge, columns ascending within each row.
    """
    S = validate_sparse(S, path)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        _write_header(f, SPARSE_DISTANCE_MATRIX, S.n)
        np.diff(S.indptr).astype(_I8).tofile(f)
        S.indices.astype(_I8).tofile(f)
        S.values.astype(_F8).tofile(f)


def read_sparse_distance_matrix(path: PathLike) -> SparseDistanceMatrix:
    """Read and validate a DIPHA SPARSE_DISTANCE_MATRIX.

    Parameters
    ----------
    path : str or os.PathLike
        A SPARSE_DISTANCE_MATRIX file (e.g. written by ``full_to_sparse_distance_matrix``).

    Returns
    -------
    SparseDistanceMatrix
        The matrix (CSR-like rows). A malformed file raises :class:`DiphaFormatError` naming it.
    """
    with _Reader(path, SPARSE_DISTANCE_MATRIX) as r:
        n = r.count("matrix size n")
        counts = r.ints(n, "row counts")
        if np.any(counts < 0):
            i = int(np.flatnonzero(counts < 0)[0])
            raise r.error(f"negative entry count {counts[i]} for row {i}")
        if np.any(counts > max(n - 1, 0)):
            i = int(np.flatnonzero(counts > max(n - 1, 0))[0])
            raise r.error(f"row {i} claims {counts[i]} entries but n = {n}")
        nnz = int(counts.sum())
        indices = r.ints(nnz, f"{nnz} column indices")
        values = r.floats(nnz, f"{nnz} distances")
        r.finish()
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return validate_sparse(SparseDistanceMatrix(n, indptr, indices, values), path)


def full_to_sparse(D: np.ndarray, max_eps: float, path: PathLike = "<array>") -> SparseDistanceMatrix:
    """DIPHA's ``full_to_sparse_distance_matrix max_eps``: keep off-diagonal ``d <= 2*max_eps``.

    Parameters
    ----------
    D : numpy.ndarray
        (n, n) distances; must pass :func:`validate_distance_matrix`.
    max_eps : float
        The cut, in DIPHA's halved filtration units (distance / 2).
    path : str or os.PathLike
        Names ``D`` in error messages.

    Returns
    -------
    SparseDistanceMatrix
        Each row lists its kept columns in ascending order; both ``(i, j)`` and ``(j, i)`` are kept.
    """
    max_eps = float(max_eps)
    if np.isnan(max_eps):
        raise ValueError("max_eps must be a number, got nan")
    D = validate_distance_matrix(D, path)
    keep = D <= 2.0 * max_eps  # DIPHA: distance <= 2 * upper_value, in double
    np.fill_diagonal(keep, False)
    rows, cols = np.nonzero(keep)  # row-major: rows ascending, columns ascending within a row
    indptr = np.zeros(D.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=D.shape[0]), out=indptr[1:])
    return SparseDistanceMatrix(D.shape[0], indptr, cols.astype(np.int64), D[rows, cols])


def sparse_from_edges(n: int, i: np.ndarray, j: np.ndarray, d: np.ndarray) -> SparseDistanceMatrix:
    """Build a :class:`SparseDistanceMatrix` from undirected edges ``(i, j, d)`` (each edge once)."""
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    d = np.asarray(d, dtype=np.float64)
    rows = np.concatenate([i, j])
    cols = np.concatenate([j, i])
    vals = np.concatenate([d, d])
    order = np.lexsort((cols, rows))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return validate_sparse(SparseDistanceMatrix(n, indptr, cols[order], vals[order]))


# --------------------------------------------------------------------------- persistence diagrams


@dataclass(frozen=True, eq=False)
class Diagram:
    """A persistence diagram in DIPHA's units and conventions.

    ``dims[k] >= 0``: a finite pair of homology dimension ``dims[k]``;
    ``dims[k] = -h-1``: an essential class of H_h, whose ``death`` is the largest filtration value
    of the complex that was built (DIPHA's convention). Values are distance / 2.
    """

    dims: np.ndarray
    births: np.ndarray
    deaths: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", np.asarray(self.dims, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "births", np.asarray(self.births, dtype=np.float64).reshape(-1))
        object.__setattr__(self, "deaths", np.asarray(self.deaths, dtype=np.float64).reshape(-1))
        if not (self.dims.size == self.births.size == self.deaths.size):
            raise ValueError(
                f"dims, births and deaths differ in length: {self.dims.size}, {self.births.size}, {self.deaths.size}"
            )

    def __len__(self) -> int:
        return int(self.dims.size)

    @property
    def homology_dims(self) -> np.ndarray:
        """Homology dimension of each record (``-dim-1`` for essentials)."""
        return np.where(self.dims < 0, -self.dims - 1, self.dims)

    @property
    def essential(self) -> np.ndarray:
        return self.dims < 0

    def sorted(self) -> Diagram:
        """Records in DIPHA's order: ascending (dim, birth, death)."""
        order = np.lexsort((self.deaths, self.births, self.dims))
        return Diagram(self.dims[order], self.births[order], self.deaths[order])

    def equals(self, other: Diagram) -> bool:
        """Exact (bitwise-value) equality, record by record."""
        return (
            np.array_equal(self.dims, other.dims)
            and np.array_equal(self.births, other.births)
            and np.array_equal(self.deaths, other.deaths)
        )

    def to_records(self) -> np.ndarray:
        rec = np.empty(len(self), dtype=_RECORD)
        rec["dim"], rec["birth"], rec["death"] = self.dims, self.births, self.deaths
        return rec

    def summary(self) -> str:
        """Number of records per homology dimension, e.g. ``H0: 1819, H0 essential: 1, H1: 52``."""
        keys, counts = np.unique(np.stack([self.homology_dims, self.essential]), axis=1, return_counts=True)
        return ", ".join(f"H{d}{' essential' if e else ''}: {n}" for (d, e), n in zip(keys.T, counts))

    def to_frame(self) -> pd.DataFrame:
        """Columns ``dim`` (homology dimension >= 0), ``birth``, ``death``, ``essential`` (bool).

        Values stay in DIPHA units; an essential class keeps DIPHA's death (the largest
        filtration value of the complex), flagged by ``essential``.
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "dim": self.homology_dims.astype(np.int64),
                "birth": self.births.copy(),
                "death": self.deaths.copy(),
                "essential": self.essential.copy(),
            }
        )


def validate_diagram(diagram: Diagram, path: PathLike = "<diagram>") -> Diagram:
    """Check that all values are finite and that no record dies before it is born."""
    for name, arr in (("birth", diagram.births), ("death", diagram.deaths)):
        if not np.isfinite(arr).all():
            k = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise DiphaFormatError(path, f"non-finite {name} in record {k}: {arr[k]!r}")
    bad = diagram.deaths < diagram.births
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise DiphaFormatError(
            path,
            f"record {k} dies before it is born: ({diagram.dims[k]}, {diagram.births[k]!r}, {diagram.deaths[k]!r})",
        )
    return diagram


def write_persistence_diagram(path: PathLike, diagram: Diagram) -> None:
    """Write ``diagram`` as a DIPHA PERSISTENCE_DIAGRAM, records in the given order (atomic).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    diagram : Diagram
        Records ``(dim, birth, death)`` in DIPHA's conventions (see :class:`Diagram`).
    """
    validate_diagram(diagram, path)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        _write_header(f, PERSISTENCE_DIAGRAM, len(diagram))
        diagram.to_records().tofile(f)


def read_persistence_diagram(path: PathLike) -> Diagram:
    """Read and validate a DIPHA PERSISTENCE_DIAGRAM.

    Parameters
    ----------
    path : str or os.PathLike
        A PERSISTENCE_DIAGRAM file, e.g. DIPHA's output.

    Returns
    -------
    Diagram
        Its records, in file order. A malformed file raises :class:`DiphaFormatError` naming it.
    """
    with _Reader(path, PERSISTENCE_DIAGRAM) as r:
        p = r.count("number of pairs")
        rec = r.records(p)
        r.finish()
    return validate_diagram(Diagram(rec["dim"], rec["birth"], rec["death"]), path)
