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


def test_a_full_device_is_named_with_the_callers_path(tmp_path):
    """/dev/full fails every write with ENOSPC, like a full disk."""
    import errno

    out = tmp_path / "out.bin"
    with pytest.raises(
        OSError, match=r"no space left on the device .* while writing .*out\.bin; free some space"
    ) as err:
        with atomic_path(out), open("/dev/full", "wb", buffering=0) as full:
            full.write(b"x" * 10)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(out)
    assert list(tmp_path.iterdir()) == []


def test_errors_about_the_temporary_file_name_the_callers_path(tmp_path):
    out = tmp_path / "out.bin"
    with pytest.raises(FileExistsError) as err:
        with atomic_path(out) as tmp:
            open(tmp, "xb")  # fails naming the temporary file .out.bin.XXXX.tmp
    assert err.value.filename == str(out) and ".tmp" not in str(err.value), err.value
    assert f"cannot write {out}" in str(err.value)
    assert list(tmp_path.iterdir()) == []
