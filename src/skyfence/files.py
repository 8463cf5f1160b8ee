"""Files written whole or not at all: the one atomic-write helper every layer uses.

A file is written under a temporary name beside its target, flushed to disk, given the
permissions a newly created file gets (``0o666`` less the process umask — ``mkstemp`` alone
would leave it readable by its owner only), then renamed over the target. An error at any
point removes the temporary file and leaves the target as it was.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> target = Path(tempfile.mkdtemp()) / "out.txt"
>>> _ = write_text_atomic(target, "one\\n")
>>> try:
...     with atomic_path(target) as tmp:
...         _ = tmp.write_text("half")
...         raise RuntimeError("the work failed")
... except RuntimeError:
...     pass
>>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
('one\\n', ['out.txt'])
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from skyfence.errors import InputError

__all__ = ["atomic_path", "write_text_atomic", "write_bytes_atomic", "new_file_mode"]


def new_file_mode() -> int:
    """The permission bits a newly created file gets in this process (``0o666 & ~umask``)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: str | Path, *, make_parents: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    Parameters
    ----------
    path
        The file to write.
    make_parents
        Create missing parent directories; otherwise a missing directory is an
        :class:`~skyfence.errors.InputError` that names it.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if make_parents:
        directory.mkdir(parents=True, exist_ok=True)
    elif not directory.is_dir():
        why = "is a file, not a directory" if directory.exists() else "does not exist"
        raise InputError(f"cannot write {str(path)!r}: {str(directory)!r} {why}")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:  # what was written reaches the disk before the rename
            os.fsync(fh.fileno())
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str, *, make_parents: bool = False) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically; returns ``path``."""
    with atomic_path(path, make_parents=make_parents) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    return Path(path)


def write_bytes_atomic(path: str | Path, data: bytes, *, make_parents: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path, make_parents=make_parents) as tmp:
        tmp.write_bytes(data)
    return Path(path)
