"""Atomic writes: whole or nothing, with the permissions of a new file."""

from __future__ import annotations

import os
import stat

import pytest

from skyfence.errors import InputError, WriteError
from skyfence.files import (
    atomic_path,
    check_output_dir,
    check_output_file,
    new_file_mode,
    write_bytes_atomic,
    write_text_atomic,
)


def test_a_new_file_gets_the_umask_permissions_not_mkstemps(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "a.txt", "x")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644 == new_file_mode()
    finally:
        os.umask(old)


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_bytes_atomic(tmp_path / "b.bin", b"old")
    with pytest.raises(ZeroDivisionError), atomic_path(target) as tmp:
        tmp.write_bytes(b"new, half written")
        1 / 0  # noqa: B018
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["b.bin"]


def test_a_missing_directory_is_named_unless_asked_to_make_it(tmp_path):
    with pytest.raises(InputError, match="nope' does not exist"):
        write_text_atomic(tmp_path / "nope" / "c.txt", "x")
    assert write_text_atomic(tmp_path / "nope" / "c.txt", "x", make_parents=True).exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="no /proc on this system")
def test_a_place_that_cannot_hold_files_is_an_input_error_even_for_root():
    with pytest.raises(WriteError, match="cannot write '/proc/x.txt'") as raised:
        write_text_atomic("/proc/x.txt", "x")
    # a one-line error for a user, and still an OSError for a cache that treats it as a miss
    assert isinstance(raised.value, InputError) and isinstance(raised.value, OSError)
    with pytest.raises(InputError, match="cannot write in /proc"):
        check_output_file("/proc/x.png", suffixes=(".png",))
    with pytest.raises(InputError, match="cannot write in /proc"):
        check_output_dir("/proc/reports")


def test_output_checks_refuse_what_would_be_replaced_or_cannot_be_made(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    with pytest.raises(InputError, match="already exists"):
        check_output_file(tmp_path / "a.png", suffixes=(".png",))
    assert check_output_file(tmp_path / "a.png", suffixes=(".png",), overwrite=True)
    with pytest.raises(InputError, match="is not a directory"):
        check_output_file(tmp_path / "a.png" / "b.png", suffixes=(".png",))
    with pytest.raises(InputError, match="ending in .png"):
        check_output_file(tmp_path / "b.PNGX", suffixes=(".png",))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(InputError, match="already exists"):
        check_output_dir(tmp_path / "full")
    deep = tmp_path / "new" / "deeper" / "out"
    assert check_output_dir(deep) == deep and not (tmp_path / "new").exists()  # made at write time
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "full"]  # the probe is gone
