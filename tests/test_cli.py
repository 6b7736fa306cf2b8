"""The ``dnn-topology`` command line: DIPHA drop-ins byte for byte, and clean errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from test_dipha_io import FIXTURE_DIR, diagram_cases, sparse_cases
from test_persistence import logged_calls, stand_in_dipha

from dnn_topology.cli import CliError, main, resolve_threads
from dnn_topology.topology import dipha_files as dio


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert "dnn-topology: error: " in err, err
    assert "Traceback" not in err, err
    for fragment in fragments:
        assert str(fragment) in err, err


# --------------------------------------------------------------------------- byte identity with DIPHA


@pytest.mark.parametrize("full,sparse,eps", sparse_cases(), ids=lambda v: str(v))
def test_full_to_sparse_is_byte_identical(full, sparse, eps, tmp_path, capsys):
    out = tmp_path / "s.bin"
    code, _, err = run_cli(capsys, "full-to-sparse", eps, FIXTURE_DIR / full, out)
    assert code == 0, err
    assert out.read_bytes() == (FIXTURE_DIR / sparse).read_bytes()


@pytest.mark.parametrize("engine", ["giotto", "ripser"])
@pytest.mark.parametrize("inp,out,upper_dim", diagram_cases(), ids=lambda v: str(v))
def test_dipha_is_byte_identical(engine, inp, out, upper_dim, tmp_path, capsys):
    target = tmp_path / "out.diagram"
    code, _, err = run_cli(
        capsys, "dipha", "--upper_dim", upper_dim, "--dual", "--engine", engine, FIXTURE_DIR / inp, target
    )
    assert code == 0, err
    assert target.read_bytes() == (FIXTURE_DIR / out).read_bytes()


def test_dipha_without_collapse_and_with_threads(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DNN_TOPOLOGY_THREADS", "2")
    target = tmp_path / "o"
    for option in (["--no-collapse"], ["--collapser", "giotto"]):
        code, _, err = run_cli(
            capsys, "dipha", "--upper-dim", 3, *option, FIXTURE_DIR / "corr80.sparse_eps0.3.bin", target
        )
        assert code == 0, err
        assert target.read_bytes() == (FIXTURE_DIR / "corr80.sparse_eps0.3.upper_dim3.diagram").read_bytes()


def test_dipha_engine_uses_the_given_binary(tmp_path, capsys):
    exe = stand_in_dipha(tmp_path / "bin")  # a stand-in: DIPHA cannot be built here
    target = tmp_path / "o.diagram"
    code, _, err = run_cli(
        capsys,
        "dipha",
        "--upper_dim",
        2,
        "--engine",
        "dipha",
        "--dipha-binary",
        exe,
        "--threads",
        1,
        FIXTURE_DIR / "circle.sparse_eps1.0.bin",
        target,
    )
    assert code == 0, err
    assert target.read_bytes() == (FIXTURE_DIR / "circle.sparse_eps1.0.upper_dim2.diagram").read_bytes()
    assert logged_calls(tmp_path / "bin")[0][:2] == ["--upper_dim", "2"]


def test_benchmark_prints_timings(tmp_path, capsys):
    code, out, err = run_cli(
        capsys, "dipha", "--benchmark", "--upper_dim", 2, FIXTURE_DIR / "circle.full.bin", tmp_path / "o"
    )
    assert code == 0, err
    for label in ("read", "compute", "write", "total"):
        assert any(line.startswith(label) and line.endswith(" s") for line in out.splitlines()), out


# --------------------------------------------------------------------------- threads


def test_thread_resolution():
    assert resolve_threads(3, {"DNN_TOPOLOGY_THREADS": "5"}) == 3
    assert resolve_threads(None, {"DNN_TOPOLOGY_THREADS": "5", "OMP_NUM_THREADS": "7"}) == 5
    assert resolve_threads(None, {"OMP_NUM_THREADS": "7"}) == 7
    assert resolve_threads(None, {}) == 1
    with pytest.raises(CliError, match="OMP_NUM_THREADS"):
        resolve_threads(None, {"OMP_NUM_THREADS": "many"})
    with pytest.raises(CliError, match="--threads"):
        resolve_threads(0, {})


# --------------------------------------------------------------------------- errors


def test_upper_dim_is_mandatory(tmp_path, capsys):
    code, _, err = run_cli(capsys, "dipha", FIXTURE_DIR / "circle.full.bin", tmp_path / "o")
    assert_clean_error(code, err, "--upper_dim is required", "circle.full.bin")
    assert not (tmp_path / "o").exists()


def test_missing_input(tmp_path, capsys):
    code, _, err = run_cli(capsys, "dipha", "--upper_dim", 2, tmp_path / "nope.bin", tmp_path / "o")
    assert_clean_error(code, err, tmp_path / "nope.bin")
    code, _, err = run_cli(capsys, "full-to-sparse", "0.3", tmp_path / "nope.bin", tmp_path / "o")
    assert_clean_error(code, err, tmp_path / "nope.bin")


@pytest.mark.parametrize(
    "data,fragment",
    [
        (b"", "truncated"),
        (b"not a dipha file, clearly", "magic"),
        ((FIXTURE_DIR / "circle.full.bin").read_bytes()[:-1], "truncated"),
        ((FIXTURE_DIR / "circle.full.bin").read_bytes() + b"\0", "trailing"),
        ((FIXTURE_DIR / "circle.full.upper_dim1.diagram").read_bytes(), "not a distance matrix"),
    ],
)
def test_malformed_input_gives_clean_error(data, fragment, tmp_path, capsys):
    bad = tmp_path / "bad input.bin"
    bad.write_bytes(data)
    code, _, err = run_cli(capsys, "dipha", "--upper_dim", 2, bad, tmp_path / "o")
    assert_clean_error(code, err, bad, fragment)
    assert not (tmp_path / "o").exists()


def test_full_to_sparse_rejects_sparse_input_and_bad_eps(tmp_path, capsys):
    sparse = FIXTURE_DIR / "circle.sparse_eps1.0.bin"
    code, _, err = run_cli(capsys, "full-to-sparse", "1.0", sparse, tmp_path / "o")
    assert_clean_error(code, err, sparse, "wrong DIPHA file type")
    for eps in ("abc", "nan", "1_0", " 1"):
        code, _, err = run_cli(capsys, "full-to-sparse", eps, FIXTURE_DIR / "circle.full.bin", tmp_path / "o")
        assert_clean_error(code, err, "MAX_EPS")
    assert not (tmp_path / "o").exists()


def test_asymmetric_input(tmp_path, capsys):
    bad = tmp_path / "asym.bin"
    bad.write_bytes(
        np.array([dio.MAGIC, dio.DISTANCE_MATRIX, 2], "<i8").tobytes() + np.array([0, 1, 2, 0], "<f8").tobytes()
    )
    code, _, err = run_cli(capsys, "full-to-sparse", "1", bad, tmp_path / "o")
    assert_clean_error(code, err, bad, "asymmetric")


def test_failing_dipha_binary(tmp_path, capsys):
    exe = stand_in_dipha(tmp_path / "bin", fail=True)
    code, _, err = run_cli(
        capsys,
        "dipha",
        "--upper_dim",
        2,
        "--engine",
        "dipha",
        "--dipha-binary",
        exe,
        FIXTURE_DIR / "ties10.full.bin",
        tmp_path / "o",
    )
    assert_clean_error(code, err, exe, "exit code 3")
    code, _, err = run_cli(
        capsys,
        "dipha",
        "--upper_dim",
        2,
        "--engine",
        "dipha",
        "--dipha-binary",
        tmp_path / "none" / "dipha",
        FIXTURE_DIR / "ties10.full.bin",
        tmp_path / "o",
    )
    assert_clean_error(code, err, tmp_path / "none" / "dipha")


def test_usage_errors(capsys):
    code, _, err = run_cli(capsys, "bogus")
    assert_clean_error(code, err, "invalid choice")
    code, _, err = run_cli(capsys, "dipha", "--upper_dim", "two", "a", "b")
    assert_clean_error(code, err, "--upper_dim")
    code, _, err = run_cli(capsys, "dipha", "--upper_dim", "0", "a", "b")
    assert_clean_error(code, err, "--upper_dim must be >= 1")
    code, _, err = run_cli(capsys)
    assert code == 2
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "full-to-sparse" in out and "import-original" in out


def test_version():
    proc = subprocess.run([sys.executable, "-m", "dnn_topology.cli", "--version"], capture_output=True, text=True)
    from dnn_topology import __version__

    assert proc.returncode == 0 and proc.stdout.strip() == f"dnn-topology {__version__}", proc


def test_upper_dim_of_the_default_workflow(tmp_path, capsys):
    """The workflow's default topology.max_dim 3 (H0..H3) is DIPHA's --upper_dim 4: the help says so, and
    `dipha --upper_dim 4` gives the workflow's dimensions."""
    code, out, _ = run_cli(capsys, "dipha", "--help")
    assert code == 0 and "--upper_dim 4" in " ".join(out.split())
    code, out, err = run_cli(
        capsys, "dipha", "--benchmark", "--upper_dim", 4, FIXTURE_DIR / "circle.full.bin", tmp_path / "o"
    )
    assert code == 0, err
    assert "upper_dim 4 (H0..H3)" in out
    assert set(dio.read_persistence_diagram(tmp_path / "o").homology_dims.tolist()) <= {0, 1, 2, 3}


def test_console_script_exit_status(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dnn_topology.cli",
            "dipha",
            "--upper_dim",
            "2",
            str(tmp_path / "missing.bin"),
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("dnn-topology: error: ") and "missing.bin" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli(capsys, "dipha", "--upper_dim", 1, FIXTURE_DIR / "ties10.full.bin", blocker / "o.diagram")
    assert_clean_error(code, err, blocker)


def test_an_output_in_a_missing_directory_is_refused_not_created(tmp_path, capsys):
    out = tmp_path / "typo" / "sparse.bin"
    code, _, err = run_cli(capsys, "full-to-sparse", "0.3", FIXTURE_DIR / "ties10.full.bin", out)
    assert_clean_error(code, err, f"{out}: directory {out.parent} does not exist")
    assert not out.parent.exists()
    code, _, err = run_cli(capsys, "dipha", "--upper_dim", 1, FIXTURE_DIR / "ties10.full.bin", out)
    assert_clean_error(code, err, f"directory {out.parent} does not exist")
    assert not out.parent.exists()


def test_errors_name_the_users_output_not_a_temporary_file(tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()  # an existing directory: the finished temporary file cannot replace it
    code, _, err = run_cli(capsys, "full-to-sparse", "0.3", FIXTURE_DIR / "ties10.full.bin", out)
    assert_clean_error(code, err, f"cannot write {out}")
    assert ".tmp" not in err
    assert list(out.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_check_config_names_the_file_and_line_of_a_yaml_error(tmp_path, capsys):
    from workflow_helpers import REPO

    bad = tmp_path / "study.yaml"
    bad.write_text("runs:\n  - {network: lenet, dataset: mnist5k}\ntopology:\n  epochs: [0, 1\ntrials: [0]\n")
    code, _, err = run_cli(capsys, "check-config", bad)
    # where the problem starts (the bracket left open on line 4), then where PyYAML noticed it
    assert_clean_error(
        code,
        err,
        f"{bad}, line 4, column 11: not valid YAML: while parsing a flow sequence; expected ',' or ']', "
        "but got ':' (line 5, column 7)",
    )
    nan = tmp_path / "nan.yaml"
    nan.write_text("runs: [{network: lenet, dataset: mnist5k}]\ntopology: {epochs: [0], max_epsilon: .nan}\n")
    code, _, err = run_cli(capsys, "check-config", nan)
    assert_clean_error(code, err, f"{nan}: topology.max_epsilon: nan is not a finite number")
    code, out, _ = run_cli(capsys, "check-config", REPO / "config" / "config.yaml")
    assert code == 0 and out.strip().endswith("config.yaml: ok")
