"""Atomic outputs: all or nothing, with ordinary permissions."""
import os
import stat

import pytest

from dnn_topology.io_utils import atomic_path


def test_output_appears_whole_with_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "sub" / "out.csv") as tmp:
            tmp.write_text("a,b\n")
            assert not (tmp_path / "sub" / "out.csv").exists()
    finally:
        os.umask(old)
    out = tmp_path / "sub" / "out.csv"
    assert out.read_text() == "a,b\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_failure_keeps_the_previous_output_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("previous")
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert out.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
