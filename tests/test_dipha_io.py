"""DIPHA file formats: round trips, full_to_sparse, and every malformed-file error.

The reference files in tests/data/dipha were written by the real DIPHA (see its README.md).
Helpers without a ``test_`` prefix are imported by test_persistence.py and test_cli.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dnn_topology.topology import dipha_files as dio
from dnn_topology.topology.dipha_files import Diagram, DiphaFormatError, SparseDistanceMatrix

FIXTURE_DIR = Path(__file__).parent / "data" / "dipha"
MANIFEST = json.loads((FIXTURE_DIR / "MANIFEST.json").read_text())["files"]


# --------------------------------------------------------------------------- shared helpers


def manifest_entries(type_name: str) -> list[dict]:
    return [f for f in MANIFEST if f["type"] == type_name]


def diagram_cases() -> list[tuple[str, str, int]]:
    """(input file, DIPHA output file, upper_dim) for every DIPHA output in the fixtures."""
    return [(f["input"], f["file"], f["upper_dim"]) for f in manifest_entries("PERSISTENCE_DIAGRAM")]


def sparse_cases() -> list[tuple[str, str, str]]:
    """(full input, sparse output, max_eps as typed on DIPHA's command line) for every sparse fixture."""
    cases = []
    for f in manifest_entries("SPARSE_DISTANCE_MATRIX"):
        eps = re.fullmatch(r".*\.sparse_eps(.+)\.bin", f["file"]).group(1)
        cases.append((f"{f['fixture']}.full.bin", f["file"], eps))
    return cases


def fresh_seed() -> int:
    """A new seed on every run; tests print it in their assertion messages."""
    return int(np.random.SeedSequence().entropy % 2**63)


def random_distance_matrix(rng: np.random.Generator, n: int, kind: str = "uniform") -> np.ndarray:
    """Symmetric, zero diagonal. kinds: uniform, ties (few integer values, zeros included), points."""
    if kind == "uniform":
        A = rng.random((n, n))
    elif kind == "ties":
        A = rng.integers(0, 4, (n, n)).astype(float)
    elif kind == "points":
        X = rng.standard_normal((n, 3))
        A = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    else:
        raise ValueError(kind)
    D = np.triu(A, 1)
    return D + D.T


def corr_distance_matrix(
    rng: np.random.Generator, n: int, m: int = 300, k: int = 10, noise: float = 0.95
) -> np.ndarray:
    """1 - |corr| of low-rank signals + noise (like the workflow's functional graph)."""
    F = rng.standard_normal((k, m))
    W = rng.standard_normal((n, k)) * (rng.random((n, k)) < 0.15)
    X = W @ F + noise * rng.standard_normal((n, m))
    D = np.triu(1.0 - np.abs(np.corrcoef(X)), 1)
    return np.clip(D + D.T, 0.0, None)


def assert_error_names(excinfo, path: Path) -> None:
    assert str(path) in str(excinfo.value), str(excinfo.value)


# --------------------------------------------------------------------------- fixtures are intact


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda f: f["file"])
def test_fixture_copy_matches_manifest(entry):
    data = (FIXTURE_DIR / entry["file"]).read_bytes()
    assert len(data) == entry["bytes"]
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]


# --------------------------------------------------------------------------- round trips of the real files


@pytest.mark.parametrize("entry", manifest_entries("DISTANCE_MATRIX"), ids=lambda f: f["file"])
def test_distance_matrix_round_trip_is_byte_identical(entry, tmp_path):
    src = FIXTURE_DIR / entry["file"]
    D = dio.read_distance_matrix(src)
    assert D.shape == (entry["n"], entry["n"]) and D.dtype == np.float64
    assert dio.read_file_type(src) == dio.DISTANCE_MATRIX
    dio.write_distance_matrix(tmp_path / "out.bin", D)
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("entry", manifest_entries("SPARSE_DISTANCE_MATRIX"), ids=lambda f: f["file"])
def test_sparse_round_trip_is_byte_identical(entry, tmp_path):
    src = FIXTURE_DIR / entry["file"]
    S = dio.read_sparse_distance_matrix(src)
    assert S.n == entry["n"]
    dio.write_sparse_distance_matrix(tmp_path / "out.bin", S)
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("entry", manifest_entries("PERSISTENCE_DIAGRAM"), ids=lambda f: f["file"])
def test_diagram_round_trip_and_manifest_counts(entry, tmp_path):
    src = FIXTURE_DIR / entry["file"]
    d = dio.read_persistence_diagram(src)
    assert len(d) == entry["num_pairs"]
    frame = d.to_frame()
    for dim, counts in entry["pairs_per_dim"].items():
        sel = frame[frame["dim"] == int(dim)]
        assert (~sel["essential"]).sum() == counts["finite"]
        assert sel["essential"].sum() == counts["essential"]
    ess = [
        [int(a), float(b), float(c)] for a, b, c in zip(d.dims[d.dims < 0], d.births[d.dims < 0], d.deaths[d.dims < 0])
    ]
    assert ess == entry["essential"]
    dio.write_persistence_diagram(tmp_path / "out.diagram", d)
    assert (tmp_path / "out.diagram").read_bytes() == src.read_bytes()
    assert d.sorted().equals(d)  # DIPHA's order is (dim, birth, death)


# --------------------------------------------------------------------------- full_to_sparse


@pytest.mark.parametrize("full,sparse,eps", sparse_cases(), ids=lambda v: str(v))
def test_full_to_sparse_reproduces_dipha_byte_for_byte(full, sparse, eps, tmp_path):
    D = dio.read_distance_matrix(FIXTURE_DIR / full)
    S = dio.full_to_sparse(D, float(eps))
    assert S.equals(dio.read_sparse_distance_matrix(FIXTURE_DIR / sparse))
    dio.write_sparse_distance_matrix(tmp_path / "s.bin", S)
    assert (tmp_path / "s.bin").read_bytes() == (FIXTURE_DIR / sparse).read_bytes()


def test_full_to_sparse_threshold_is_inclusive_and_in_halved_units():
    # unit square: sides 1, diagonals sqrt(2) (the README's hand-made case)
    s = np.sqrt(2.0)
    D = np.array([[0, 1, s, 1], [1, 0, 1, s], [s, 1, 0, 1], [1, s, 1, 0]], dtype=float)
    assert dio.full_to_sparse(D, 0.5).nnz == 8  # d = 1 <= 2*0.5 kept
    assert dio.full_to_sparse(D, 0.70).nnz == 8  # sqrt(2) > 1.4 dropped
    assert dio.full_to_sparse(D, 0.71).nnz == 12  # sqrt(2) <= 1.42 kept
    assert dio.full_to_sparse(D, 0.49).nnz == 0


def test_zero_off_diagonal_distances_are_edges(tmp_path):
    D = np.array([[0, 0, 3], [0, 0, 1], [3, 1, 0]], dtype=float)
    S = dio.full_to_sparse(D, 0.5)
    assert S.indptr.tolist() == [0, 1, 3, 4]
    assert S.indices.tolist() == [1, 0, 2, 1] and S.values.tolist() == [0, 0, 1, 1]
    dio.write_sparse_distance_matrix(tmp_path / "z.bin", S)
    assert dio.read_sparse_distance_matrix(tmp_path / "z.bin").equals(S)
    assert np.array_equal(S.to_dense(), np.array([[0, 0, np.inf], [0, 0, 1], [np.inf, 1, 0]]))
    i, j, d = S.edges()
    assert (i.tolist(), j.tolist(), d.tolist()) == ([0, 1], [1, 2], [0.0, 1.0])


def test_sparse_from_edges_matches_full_to_sparse():
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    D = random_distance_matrix(rng, 30, "ties")
    S = dio.full_to_sparse(D, 1.0)
    i, j, d = S.edges()
    perm = rng.permutation(len(i))
    assert dio.sparse_from_edges(30, i[perm], j[perm], d[perm]).equals(S), f"seed {seed}"


# --------------------------------------------------------------------------- random round trips


def test_random_round_trips(tmp_path):
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    for trial in range(5):
        n = int(rng.integers(0, 40))
        D = random_distance_matrix(rng, n, ["uniform", "ties", "points"][trial % 3])
        dio.write_distance_matrix(tmp_path / "d.bin", D)
        assert np.array_equal(dio.read_distance_matrix(tmp_path / "d.bin"), D), f"seed {seed}"
        S = dio.full_to_sparse(D, float(rng.random()))
        dio.write_sparse_distance_matrix(tmp_path / "s.bin", S)
        assert dio.read_sparse_distance_matrix(tmp_path / "s.bin").equals(S), f"seed {seed}"
        p = int(rng.integers(0, 20))
        births = rng.random(p)
        diag = Diagram(rng.integers(-3, 3, p), births, births + rng.random(p)).sorted()
        dio.write_persistence_diagram(tmp_path / "p.diagram", diag)
        assert dio.read_persistence_diagram(tmp_path / "p.diagram").equals(diag), f"seed {seed}"


def test_large_matrix_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    D = random_distance_matrix(rng, 1500)
    dio.write_distance_matrix(tmp_path / "big.bin", D)
    assert (tmp_path / "big.bin").stat().st_size == 24 + 8 * 1500 * 1500
    assert np.array_equal(dio.read_distance_matrix(tmp_path / "big.bin"), D)


def test_diagram_frame():
    d = Diagram([-2, -1, 0, 1], [0.5, 0.0, 0.0, 0.25], [1.0, 1.0, 0.5, 0.75])
    frame = d.to_frame()
    assert list(frame.columns) == ["dim", "birth", "death", "essential"]
    pd.testing.assert_frame_equal(
        frame,
        pd.DataFrame(
            {
                "dim": np.array([1, 0, 0, 1], dtype=np.int64),
                "birth": [0.5, 0.0, 0.0, 0.25],
                "death": [1.0, 1.0, 0.5, 0.75],
                "essential": [True, True, False, False],
            }
        ),
    )
    assert len(Diagram([], [], []).to_frame()) == 0


# --------------------------------------------------------------------------- writers are atomic and validate


def test_writer_replaces_atomically_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "m.bin"
    target.write_bytes(b"old")
    D = np.array([[0, 1.0], [1.0, 0]])
    dio.write_distance_matrix(target, D)
    assert np.array_equal(dio.read_distance_matrix(target), D)
    bad = np.array([[0, 1.0], [2.0, 0]])
    with pytest.raises(DiphaFormatError, match="asymmetric") as excinfo:
        dio.write_distance_matrix(target, bad)
    assert_error_names(excinfo, target)
    assert np.array_equal(dio.read_distance_matrix(target), D)  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin"]


def test_writer_creates_parent_directories(tmp_path):
    out = tmp_path / "a" / "b" / "d.diagram"
    dio.write_persistence_diagram(out, Diagram([0], [0.0], [1.0]))
    assert dio.read_persistence_diagram(out).equals(Diagram([0], [0.0], [1.0]))


def test_interrupted_write_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "m.bin"
    dio.write_distance_matrix(target, np.zeros((2, 2)))
    before = target.read_bytes()

    def header_then_interrupt(f, *args):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(dio, "_write_header", header_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        dio.write_distance_matrix(target, np.ones((3, 3)) - np.eye(3))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin"]


@pytest.mark.parametrize(
    "D,match",
    [
        (np.zeros((2, 3)), "square"),
        (np.array([[0, np.nan], [np.nan, 0]]), "non-finite"),
        (np.array([[0, -1.0], [-1.0, 0]]), "negative"),
        (np.array([[1.0, 2], [2, 0]]), "nonzero diagonal"),
    ],
)
def test_writer_rejects_invalid_matrices(D, match, tmp_path):
    with pytest.raises(DiphaFormatError, match=match) as excinfo:
        dio.write_distance_matrix(tmp_path / "x.bin", D)
    assert_error_names(excinfo, tmp_path / "x.bin")


def test_writer_rejects_invalid_diagram(tmp_path):
    with pytest.raises(DiphaFormatError, match="dies before"):
        dio.write_persistence_diagram(tmp_path / "x.diagram", Diagram([0], [1.0], [0.5]))


# --------------------------------------------------------------------------- malformed files


def _i8(*values: int) -> bytes:
    return np.array(values, dtype="<i8").tobytes()


def _f8(*values: float) -> bytes:
    return np.array(values, dtype="<f8").tobytes()


def _full(n: int, values) -> bytes:
    return _i8(dio.MAGIC, dio.DISTANCE_MATRIX, n) + _f8(*values)


def _sparse(n: int, counts, indices, values) -> bytes:
    return _i8(dio.MAGIC, dio.SPARSE_DISTANCE_MATRIX, n, *counts, *indices) + _f8(*values)


def _diagram(p: int, records) -> bytes:
    body = b"".join(_i8(d) + _f8(b, e) for d, b, e in records)
    return _i8(dio.MAGIC, dio.PERSISTENCE_DIAGRAM, p) + body


GOOD_FULL = _full(2, [0, 1, 1, 0])
GOOD_SPARSE = _sparse(3, [1, 2, 1], [1, 0, 2, 1], [0.5, 0.5, 0.25, 0.25])
GOOD_DIAGRAM = _diagram(2, [(-1, 0.0, 1.0), (0, 0.0, 0.5)])

MALFORMED = {
    # name: (reader, bytes, expected message fragment)
    "empty": ("full", b"", "truncated"),
    "half_header": ("full", _i8(dio.MAGIC), "truncated"),
    "no_size": ("full", _i8(dio.MAGIC, dio.DISTANCE_MATRIX), "truncated"),
    "bad_magic": ("full", _i8(1234, dio.DISTANCE_MATRIX, 1) + _f8(0), "magic"),
    "text_file": ("full", b"this is not a DIPHA file at all\n", "magic"),
    "wrong_type_full": ("full", GOOD_DIAGRAM, "wrong DIPHA file type"),
    "wrong_type_sparse": ("sparse", GOOD_FULL, "wrong DIPHA file type"),
    "wrong_type_diagram": ("diagram", GOOD_SPARSE, "wrong DIPHA file type"),
    "unknown_type": ("full", _i8(dio.MAGIC, 99, 1) + _f8(0), "unknown type 99"),
    "negative_n": ("full", _i8(dio.MAGIC, dio.DISTANCE_MATRIX, -2), "negative"),
    "truncated_full": ("full", GOOD_FULL[:-4], "truncated"),
    "huge_n": ("full", _i8(dio.MAGIC, dio.DISTANCE_MATRIX, 2**40) + _f8(0), "truncated"),
    "trailing_full": ("full", GOOD_FULL + b"\0", "trailing"),
    "nan_full": ("full", _full(2, [0, np.nan, np.nan, 0]), "non-finite"),
    "inf_full": ("full", _full(2, [0, np.inf, np.inf, 0]), "non-finite"),
    "negative_full": ("full", _full(2, [0, -1, -1, 0]), "negative"),
    "asymmetric_full": ("full", _full(2, [0, 1, 2, 0]), "asymmetric"),
    "diagonal_full": ("full", _full(2, [1, 1, 1, 0]), "nonzero diagonal"),
    "truncated_counts": ("sparse", _i8(dio.MAGIC, dio.SPARSE_DISTANCE_MATRIX, 3, 1), "truncated"),
    "truncated_values": ("sparse", GOOD_SPARSE[:-8], "truncated"),
    "trailing_sparse": ("sparse", GOOD_SPARSE + _f8(0), "trailing"),
    "negative_count": ("sparse", _sparse(2, [-1, 1], [0], [1.0]), "negative"),
    "count_too_large": ("sparse", _sparse(2, [5, 0], [1] * 5, [1.0] * 5), "claims 5 entries"),
    "index_out_of_range": ("sparse", _sparse(2, [1, 1], [2, 0], [1.0, 1.0]), "out of range"),
    "negative_index": ("sparse", _sparse(2, [1, 1], [-1, 0], [1.0, 1.0]), "out of range"),
    "diagonal_entry": ("sparse", _sparse(2, [1, 1], [0, 0], [1.0, 1.0]), "diagonal entry"),
    "unsorted_row": ("sparse", _sparse(3, [2, 1, 1], [2, 1, 0, 0], [1.0, 1, 1, 1]), "ascending"),
    "duplicate_entry": ("sparse", _sparse(3, [2, 1, 0], [1, 1, 0], [1.0, 1, 1]), "ascending"),
    "missing_symmetric": ("sparse", _sparse(3, [1, 0, 0], [1], [1.0]), "no symmetric entry"),
    "asymmetric_sparse": ("sparse", _sparse(2, [1, 1], [1, 0], [1.0, 2.0]), "asymmetric"),
    "nan_sparse": ("sparse", _sparse(2, [1, 1], [1, 0], [np.nan, np.nan]), "non-finite"),
    "negative_sparse": ("sparse", _sparse(2, [1, 1], [1, 0], [-1.0, -1.0]), "negative"),
    "negative_pairs": ("diagram", _i8(dio.MAGIC, dio.PERSISTENCE_DIAGRAM, -1), "negative"),
    "truncated_diagram": ("diagram", GOOD_DIAGRAM[:-1], "truncated"),
    "more_pairs_claimed": ("diagram", _diagram(3, [(0, 0.0, 1.0)]), "truncated"),
    "trailing_diagram": ("diagram", GOOD_DIAGRAM + b"\0" * 24, "trailing"),
    "nan_birth": ("diagram", _diagram(1, [(0, np.nan, 1.0)]), "non-finite birth"),
    "inf_death": ("diagram", _diagram(1, [(0, 0.0, np.inf)]), "non-finite death"),
    "death_before_birth": ("diagram", _diagram(1, [(1, 0.5, 0.25)]), "dies before"),
}

READERS = {
    "full": dio.read_distance_matrix,
    "sparse": dio.read_sparse_distance_matrix,
    "diagram": dio.read_persistence_diagram,
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_file_gives_clear_error_naming_the_file(name, tmp_path):
    reader, data, fragment = MALFORMED[name]
    path = tmp_path / f"{name}.bin"
    path.write_bytes(data)
    with pytest.raises(DiphaFormatError) as excinfo:
        READERS[reader](path)
    message = str(excinfo.value)
    assert message.startswith(str(path)), message
    assert fragment in message, message
    assert excinfo.value.path == str(path)


def test_good_hand_made_files_read(tmp_path):
    for reader, data in (("full", GOOD_FULL), ("sparse", GOOD_SPARSE), ("diagram", GOOD_DIAGRAM)):
        path = tmp_path / f"{reader}.bin"
        path.write_bytes(data)
        READERS[reader](path)


def test_lenient_read_gives_what_dipha_reads(tmp_path):
    # DIPHA reads only d[i][j] with i > j: the original code wrote 1 on the diagonal of dead nodes
    path = tmp_path / "orig.bin"
    path.write_bytes(_full(3, [1, 9, 9, 0.5, 0, 9, 0.25, 0.75, 1]))
    with pytest.raises(DiphaFormatError):
        dio.read_distance_matrix(path)
    D = dio.read_distance_matrix(path, strict=False)
    assert np.array_equal(D, np.array([[0, 0.5, 0.25], [0.5, 0, 0.75], [0.25, 0.75, 0]]))
    path.write_bytes(_full(2, [0, 9, np.nan, 0]))
    with pytest.raises(DiphaFormatError, match="non-finite"):
        dio.read_distance_matrix(path, strict=False)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError) as excinfo:
        dio.read_distance_matrix(tmp_path / "nope.bin")
    assert "nope.bin" in str(excinfo.value)


def test_error_is_a_value_error():
    assert issubclass(DiphaFormatError, ValueError)
    err = DiphaFormatError("some/file.bin", "broken")
    assert str(err) == "some/file.bin: broken" and err.reason == "broken"


def test_sparse_validation_of_in_memory_objects():
    S = SparseDistanceMatrix(2, np.array([0, 1, 2]), np.array([1, 0]), np.array([1.0, 2.0]))
    with pytest.raises(DiphaFormatError, match="<array>: asymmetric"):
        dio.validate_sparse(S)
    with pytest.raises(DiphaFormatError, match="row pointer"):
        dio.validate_sparse(SparseDistanceMatrix(2, np.array([0, 2, 1]), np.array([1]), np.array([1.0])))


def test_os_error_is_not_swallowed(tmp_path):
    d = tmp_path / "dir.bin"
    os.mkdir(d)
    with pytest.raises(OSError):
        dio.read_distance_matrix(d)
