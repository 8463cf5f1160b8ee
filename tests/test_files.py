"""Atomic writes: whole or nothing, with the permissions of a new file."""

from __future__ import annotations

import os
import stat

import pytest

from skyfence.errors import InputError
from skyfence.files import atomic_path, new_file_mode, write_bytes_atomic, write_text_atomic


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
