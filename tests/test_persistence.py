"""Persistence engines against the real DIPHA's outputs, a textbook reduction, and each other."""

from __future__ import annotations

import json
import os
import stat
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from test_dipha_io import FIXTURE_DIR, corr_distance_matrix, diagram_cases, fresh_seed, random_distance_matrix

from dnn_topology.topology import dipha_files as dio
from dnn_topology.topology import persistence as pers
from dnn_topology.topology.dipha_files import Diagram, SparseDistanceMatrix

HAVE_GUDHI = pers._gudhi_reduce_graph() is not None
PY_ENGINES = {
    "giotto": {},  # default: edge collapse by GUDHI when installed (sparse input), else by giotto-ph
    "giotto-collapse-giotto": {"collapser": "giotto"},
    "giotto-no-collapse": {"collapse_edges": False},
    "ripser": {},
}
if HAVE_GUDHI:  # gudhi is optional: these variants run where it is installed
    PY_ENGINES["giotto-collapse-gudhi"] = {"collapser": "gudhi"}


def run_engine(name: str, matrix, upper_dim: int) -> Diagram:
    engine = name.split("-")[0]
    return pers.compute_persistence(matrix, upper_dim, engine, **PY_ENGINES[name])


def describe(d: Diagram) -> str:
    return "\n".join(f"({a}, {b!r}, {c!r})" for a, b, c in zip(d.dims, d.births, d.deaths))


# --------------------------------------------------------------------------- an independent reference


def reference_persistence(matrix, upper_dim: int) -> Diagram:
    """Textbook Z/2 reduction of the whole Rips boundary matrix in float64, with DIPHA's conventions.

    Independent of every engine (no ranks, no float32, no clearing or collapses); small inputs only.
    """
    D = matrix.to_dense(np.inf) if isinstance(matrix, SparseDistanceMatrix) else np.asarray(matrix, float)
    n = D.shape[0]
    simplices = []
    for size in range(1, upper_dim + 2):
        for s in combinations(range(n), size):
            pairs = list(combinations(s, 2))
            if all(np.isfinite(D[a, b]) for a, b in pairs):
                simplices.append((max((D[a, b] for a, b in pairs), default=0.0), size, s))
    simplices.sort()
    index = {s: k for k, (_, _, s) in enumerate(simplices)}
    reduced: list[set[int]] = []
    killer: dict[int, int] = {}  # lowest one -> column that has it
    for _value, size, s in simplices:
        col = {index[f] for f in combinations(s, size - 1)} if size > 1 else set()
        while col and max(col) in killer:
            col ^= reduced[killer[max(col)]]
        if col:
            killer[max(col)] = len(reduced)
        reduced.append(col)
    top = max((v for v, _, _ in simplices), default=0.0)
    records = []
    for k, (value, size, _s) in enumerate(simplices):
        dim = size - 1
        if dim >= upper_dim:
            continue
        if k in killer:
            death = simplices[killer[k]][0]
            if value != death:
                records.append((dim, value / 2, death / 2))
        elif not reduced[k]:
            records.append((-dim - 1, value / 2, top / 2))
    records.sort()
    return Diagram([r[0] for r in records], [r[1] for r in records], [r[2] for r in records])


def test_reference_reproduces_small_dipha_fixtures():
    # the reference itself is checked against the real DIPHA on the fixtures small enough for it
    checked = 0
    for inp, out, upper_dim in diagram_cases():
        if not inp.startswith("ties10"):
            continue
        matrix = pers.load_distance_input(FIXTURE_DIR / inp)
        assert reference_persistence(matrix, upper_dim).equals(dio.read_persistence_diagram(FIXTURE_DIR / out)), out
        checked += 1
    assert checked == 6


# --------------------------------------------------------------------------- the real DIPHA's outputs


@pytest.mark.parametrize("engine", sorted(PY_ENGINES))
@pytest.mark.parametrize("inp,out,upper_dim", diagram_cases(), ids=lambda v: str(v))
def test_engine_output_is_byte_identical_to_dipha(engine, inp, out, upper_dim, tmp_path):
    target = tmp_path / "out.diagram"
    pers.compute_persistence_file(FIXTURE_DIR / inp, target, upper_dim, engine.split("-")[0], **PY_ENGINES[engine])
    assert target.read_bytes() == (FIXTURE_DIR / out).read_bytes()


def test_every_fixture_and_upper_dim_is_covered():
    manifest = json.loads((FIXTURE_DIR / "MANIFEST.json").read_text())["files"]
    inputs = {f["file"] for f in manifest if f["type"] in ("DISTANCE_MATRIX", "SPARSE_DISTANCE_MATRIX")}
    cases = diagram_cases()
    assert {(i, u) for i, _, u in cases} == {(i, u) for i in inputs for u in (1, 2, 3)}


# --------------------------------------------------------------------------- random inputs


def _random_input(rng: np.random.Generator, n: int):
    kind = ["uniform", "ties", "points"][int(rng.integers(3))]
    D = random_distance_matrix(rng, n, kind)
    if kind == "points" and rng.random() < 0.5:
        D = np.round(D, 1)  # ties in Euclidean data
    if rng.random() < 0.4:
        return D, kind
    eps = float(np.quantile(D[np.triu_indices(n, 1)], rng.uniform(0.2, 1.0))) / 2 if n > 1 else 0.0
    return dio.full_to_sparse(D, eps), kind + "-sparse"


def test_engines_match_textbook_reduction_on_small_random_inputs():
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    for trial in range(25):
        n = int(rng.integers(1, 10))
        upper_dim = int(rng.integers(1, 4))
        matrix, kind = _random_input(rng, n)
        expected = reference_persistence(matrix, upper_dim)
        for name in PY_ENGINES:
            got = run_engine(name, matrix, upper_dim)
            assert got.equals(expected), (
                f"seed {seed} trial {trial} ({kind}, n={n}, upper_dim={upper_dim}) engine {name}:\n"
                f"{describe(got)}\n!=\n{describe(expected)}"
            )


def test_engines_agree_on_random_inputs():
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    for trial in range(12):
        n = int(rng.integers(10, 70))
        upper_dim = int(rng.integers(1, 4))
        matrix, kind = _random_input(rng, n)
        results = {name: run_engine(name, matrix, upper_dim) for name in PY_ENGINES}
        first = results["giotto-no-collapse"]
        for name, got in results.items():
            assert got.equals(first), (
                f"seed {seed} trial {trial} ({kind}, n={n}, upper_dim={upper_dim}): {name} differs"
            )


def test_engines_agree_on_correlation_distances_as_in_the_workflow():
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    D = corr_distance_matrix(rng, 250)
    S = dio.full_to_sparse(D, 0.3)
    results = {name: run_engine(name, S, 3) for name in PY_ENGINES}
    for name, got in results.items():
        assert got.equals(results["giotto-no-collapse"]), f"seed {seed}: {name} differs"
    dense = {name: run_engine(name, D, 2) for name in PY_ENGINES}
    for name, got in dense.items():
        assert got.equals(dense["giotto-no-collapse"]), f"seed {seed}: {name} differs on the full matrix"


@pytest.mark.parametrize("collapse_edges", [True, False])
def test_direct_giotto_calls_equal_ripser_parallel(collapse_edges):
    """The sparse path calls giotto-ph's compiled modules itself (no scikit-learn import): same diagrams."""
    from gph import ripser_parallel

    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    ranked = pers.rank_input(dio.full_to_sparse(corr_distance_matrix(rng, 300), 0.3))
    coo = ranked.coo()
    direct = pers._giotto_sparse(coo, 2, 1, collapse_edges)
    assert direct is not None, "giotto-ph's compiled modules were not found"
    reference = ripser_parallel(coo, maxdim=2, metric="precomputed", n_threads=1, collapse_edges=collapse_edges)["dgms"]
    assert len(direct) == len(reference) == 3
    for got, expected in zip(direct, reference):
        assert np.array_equal(np.sort(got, axis=0), np.sort(expected, axis=0)), f"seed {seed}"


def test_sparse_with_every_edge_equals_full():
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    D = random_distance_matrix(rng, 30, "points")
    S = dio.full_to_sparse(D, float(D.max()))
    for upper_dim in (1, 2, 3):
        assert pers.compute_persistence(S, upper_dim).equals(pers.compute_persistence(D, upper_dim)), f"seed {seed}"


def test_sparse_finite_pairs_are_full_pairs_up_to_max_eps():
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    D = random_distance_matrix(rng, 40, "points")
    eps = float(np.median(D)) / 2
    full = pers.compute_persistence(D, 2)
    sparse = pers.compute_persistence(dio.full_to_sparse(D, eps), 2)
    keep = (full.dims >= 0) & (full.deaths <= eps)
    want = Diagram(full.dims[keep], full.births[keep], full.deaths[keep])
    fin = sparse.dims >= 0
    assert Diagram(sparse.dims[fin], sparse.births[fin], sparse.deaths[fin]).equals(want), f"seed {seed}"


# --------------------------------------------------------------------------- DIPHA's conventions, explicitly


def test_square_gives_readme_values_and_top_dimension_essential():
    s = np.sqrt(2.0)
    D = np.array([[0, 1, s, 1], [1, 0, 1, s], [s, 1, 0, 1], [1, s, 1, 0]], dtype=float)
    full = pers.compute_persistence(D, 2)
    assert full.equals(Diagram([-1, 0, 0, 0, 1], [0, 0, 0, 0, 0.5], [s / 2, 0.5, 0.5, 0.5, s / 2]))
    # the 4-cycle alone: an essential H1 class born at the largest value, written with birth == death
    cycle = pers.compute_persistence(dio.full_to_sparse(D, 0.5), 2)
    assert cycle.equals(Diagram([-2, -1, 0, 0, 0], [0.5, 0, 0, 0, 0], [0.5, 0.5, 0.5, 0.5, 0.5]))


def test_isolated_vertices_and_no_edges():
    D = np.array([[0, 1, 5], [1, 0, 5], [5, 5, 0]], dtype=float)
    S = dio.full_to_sparse(D, 0.5)  # vertex 2 isolated
    assert pers.compute_persistence(S, 1).equals(Diagram([-1, -1, 0], [0, 0, 0], [0.5, 0.5, 0.5]))
    empty = dio.full_to_sparse(D, 0.1)
    assert pers.compute_persistence(empty, 2).equals(Diagram([-1] * 3, [0.0] * 3, [0.0] * 3))
    assert pers.compute_persistence(np.zeros((1, 1)), 3).equals(Diagram([-1], [0.0], [0.0]))
    assert len(pers.compute_persistence(np.zeros((0, 0)), 3)) == 0


def test_zero_distances_give_no_zero_length_pairs():
    D = np.array([[0, 0, 1], [0, 0, 1], [1, 1, 0]], dtype=float)
    for name in PY_ENGINES:
        assert run_engine(name, D, 2).equals(Diagram([-1, 0], [0, 0], [0.5, 0.5])), name


def test_rank_limit_is_checked(monkeypatch):
    monkeypatch.setattr(pers, "MAX_EXACT_RANK", 8)
    D = random_distance_matrix(np.random.default_rng(1), 10)
    with pytest.raises(pers.PersistenceError, match="cannot be ranked exactly"):
        pers.compute_persistence(dio.full_to_sparse(D, 1.0), 2)
    with pytest.raises(pers.PersistenceError, match="enclosing radius"):
        pers.compute_persistence(D, 2)


def test_full_matrix_only_ranks_up_to_the_enclosing_radius():
    D = random_distance_matrix(np.random.default_rng(2), 50)
    ranked = pers.rank_dense(D)
    radius = pers.enclosing_radius(D)
    assert ranked.values[-1] == D.max() and ranked.values[-2] == radius
    assert ranked.values.size - 2 == np.unique(D[np.triu_indices(50, 1)][D[np.triu_indices(50, 1)] <= radius]).size


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"upper_dim": 0}, "upper_dim"),
        ({"upper_dim": 1.5}, "upper_dim"),
        ({"upper_dim": 2, "engine": "javaplex"}, "unknown persistence engine"),
        ({"upper_dim": 2, "engine": "giotto", "bogus": 1}, "unknown option"),
        ({"upper_dim": 2, "engine": "ripser", "collapse_edges": True}, "unknown option"),
        ({"upper_dim": 2, "engine": "giotto", "collapser": "magic"}, "unknown collapser"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pers.compute_persistence(np.zeros((2, 2)), **kwargs)


@pytest.mark.skipif(HAVE_GUDHI, reason="gudhi is installed")
def test_gudhi_collapser_needs_gudhi():
    S = dio.full_to_sparse(random_distance_matrix(np.random.default_rng(0), 6), 1.0)
    with pytest.raises(pers.PersistenceError, match="needs the gudhi package"):
        pers.compute_persistence(S, 2, collapser="gudhi")


def test_invalid_matrix_is_rejected():
    with pytest.raises(dio.DiphaFormatError, match="asymmetric"):
        pers.compute_persistence(np.array([[0, 1.0], [2.0, 0]]), 1)


def test_compute_persistence_file_rejects_a_diagram_input(tmp_path):
    src = FIXTURE_DIR / "circle.full.upper_dim1.diagram"
    with pytest.raises(dio.DiphaFormatError, match="not a distance matrix") as excinfo:
        pers.compute_persistence_file(src, tmp_path / "out", 2)
    assert str(src) in str(excinfo.value)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- engine "dipha" with a stand-in


STAND_IN = """#!{python}
# Stand-in for the DIPHA binary: DIPHA cannot be built in the test environment, so this script
# answers with the real DIPHA's output for the same input file (from tests/data/dipha).
import hashlib, json, pathlib, shutil, sys
args = sys.argv[1:]
log = pathlib.Path({log!r})
log.open("a").write(json.dumps(args) + "\\n")
if {fail!r}:
    sys.stderr.write("stand-in DIPHA: simulated failure\\n"); sys.exit(3)
fixtures = pathlib.Path({fixtures!r})
upper_dim = int(args[args.index("--upper_dim") + 1])
inp, out = pathlib.Path(args[-2]), pathlib.Path(args[-1])
digest = hashlib.sha256(inp.read_bytes()).hexdigest()
files = json.loads((fixtures / "MANIFEST.json").read_text())["files"]
name = next(f["file"] for f in files if f["sha256"] == digest)
answer = next(f["file"] for f in files if f.get("input") == name and f.get("upper_dim") == upper_dim)
shutil.copyfile(fixtures / answer, out)
if {garbage!r}:
    out.write_bytes(b"garbage")
"""

MPIEXEC = """#!{python}
# Stand-in for mpiexec: checks "-n P", records the call and runs the command once.
import json, os, pathlib, sys
args = sys.argv[1:]
pathlib.Path({log!r}).open("a").write(json.dumps(["mpiexec"] + args) + "\\n")
assert args[0] == "-n" and int(args[1]) >= 1
os.execv(args[2], args[2:])
"""


def make_executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def stand_in_dipha(directory: Path, fail: bool = False, garbage: bool = False, name: str = "dipha") -> Path:
    """A stand-in DIPHA executable (DIPHA itself cannot be built here); its calls go to calls.log."""
    directory.mkdir(parents=True, exist_ok=True)
    return make_executable(
        directory / name,
        STAND_IN.format(
            python=sys.executable,
            log=str(directory / "calls.log"),
            fixtures=str(FIXTURE_DIR.resolve()),
            fail=fail,
            garbage=garbage,
        ),
    )


def logged_calls(directory: Path) -> list[list[str]]:
    return [json.loads(line) for line in (directory / "calls.log").read_text().splitlines()]


@pytest.mark.parametrize(
    "inp,out,upper_dim", [c for c in diagram_cases() if c[0].startswith(("ties10", "circle"))], ids=lambda v: str(v)
)
def test_dipha_engine_runs_the_binary_and_keeps_its_output(inp, out, upper_dim, tmp_path):
    exe = stand_in_dipha(tmp_path / "bin")
    target = tmp_path / "res" / "out.diagram"
    d = pers.compute_persistence_file(FIXTURE_DIR / inp, target, upper_dim, engine="dipha", binary=exe, dual=True)
    assert target.read_bytes() == (FIXTURE_DIR / out).read_bytes()
    assert d.equals(dio.read_persistence_diagram(FIXTURE_DIR / out))
    (call,) = logged_calls(tmp_path / "bin")
    assert call[:3] == ["--upper_dim", str(upper_dim), "--dual"] and call[3] == str(FIXTURE_DIR / inp)
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.diagram"]


def test_dipha_engine_in_memory_and_with_mpiexec(tmp_path):
    exe = stand_in_dipha(tmp_path / "bin")
    mpiexec = make_executable(
        tmp_path / "bin" / "mpiexec", MPIEXEC.format(python=sys.executable, log=str(tmp_path / "bin" / "calls.log"))
    )
    D = dio.read_distance_matrix(FIXTURE_DIR / "ties10.full.bin")
    got = pers.compute_persistence(D, 3, engine="dipha", n_threads=2, binary=exe, mpiexec=str(mpiexec))
    assert got.equals(dio.read_persistence_diagram(FIXTURE_DIR / "ties10.full.upper_dim3.diagram"))
    calls = logged_calls(tmp_path / "bin")
    assert calls[0][:3] == ["mpiexec", "-n", "2"] and calls[0][3] == str(exe)
    assert calls[1][:2] == ["--upper_dim", "3"] and "--dual" not in calls[1]


def test_dipha_command_line():
    assert pers.dipha_command("d", "in", "out", 3) == ["d", "--upper_dim", "3", "in", "out"]
    assert pers.dipha_command("d", "in", "out", 2, mpi_procs=4, dual=True, mpiexec_args=["--allow-run-as-root"]) == [
        "mpiexec",
        "--allow-run-as-root",
        "-n",
        "4",
        "d",
        "--upper_dim",
        "2",
        "--dual",
        "in",
        "out",
    ]
    assert pers.dipha_command("d", "i", "o", 1, mpiexec="/opt/mpi/bin/mpirun")[:3] == ["/opt/mpi/bin/mpirun", "-n", "1"]


def test_dipha_binary_lookup(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "on_path"))
    with pytest.raises(pers.PersistenceError, match="DIPHA binary not found"):
        pers.find_dipha_binary()
    on_path = stand_in_dipha(tmp_path / "on_path")
    assert pers.find_dipha_binary() == on_path
    built = stand_in_dipha(tmp_path / "dipha" / "build")
    assert pers.find_dipha_binary().resolve() == built.resolve()  # dipha/build/dipha comes first
    with pytest.raises(pers.PersistenceError, match="nowhere/dipha"):
        pers.find_dipha_binary("nowhere/dipha")


def test_dipha_failure_names_the_binary(tmp_path):
    exe = stand_in_dipha(tmp_path / "bin", fail=True)
    target = tmp_path / "out.diagram"
    with pytest.raises(pers.PersistenceError) as excinfo:
        pers.compute_persistence_file(FIXTURE_DIR / "ties10.full.bin", target, 2, engine="dipha", binary=exe)
    message = str(excinfo.value)
    assert str(exe) in message and "exit code 3" in message and "simulated failure" in message
    assert not target.exists()


def test_dipha_invalid_output_is_an_error(tmp_path):
    exe = stand_in_dipha(tmp_path / "bin", garbage=True)
    with pytest.raises(pers.PersistenceError, match="invalid diagram"):
        pers.compute_persistence_file(FIXTURE_DIR / "ties10.full.bin", tmp_path / "o", 2, engine="dipha", binary=exe)
    assert not (tmp_path / "o").exists()


def test_dipha_missing_mpiexec(tmp_path):
    exe = stand_in_dipha(tmp_path / "bin")
    with pytest.raises(pers.PersistenceError, match="no-such-mpiexec not found"):
        pers.compute_persistence_file(
            FIXTURE_DIR / "ties10.full.bin",
            tmp_path / "o",
            2,
            engine="dipha",
            binary=exe,
            mpi_procs=2,
            mpiexec="no-such-mpiexec",
        )


def test_dipha_input_is_validated_before_running(tmp_path):
    exe = stand_in_dipha(tmp_path / "bin")
    bad = tmp_path / "bad.bin"
    bad.write_bytes((FIXTURE_DIR / "ties10.full.bin").read_bytes()[:-3])
    with pytest.raises(dio.DiphaFormatError, match="truncated"):
        pers.compute_persistence_file(bad, tmp_path / "o", 2, engine="dipha", binary=exe)
    assert not (tmp_path / "bin" / "calls.log").exists()


def test_stand_in_is_executable_here():
    # the stand-in needs a POSIX exec of a script with a shebang
    assert os.name == "posix"
