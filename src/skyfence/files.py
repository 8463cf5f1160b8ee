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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from skyfence.errors import InputError, WriteError

__all__ = [
    "atomic_path",
    "write_text_atomic",
    "write_bytes_atomic",
    "new_file_mode",
    "check_output_file",
    "check_output_dir",
    "check_writable_dir",
]


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
    try:
        if make_parents:
            directory.mkdir(parents=True, exist_ok=True)
        elif not directory.is_dir():
            why = "is a file, not a directory" if directory.exists() else "does not exist"
            raise InputError(f"cannot write {str(path)!r}: {str(directory)!r} {why}")
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        try:
            with open(tmp, "rb") as fh:  # what was written reaches the disk before the rename
                os.fsync(fh.fileno())
            os.chmod(tmp, new_file_mode())
            os.replace(tmp, path)
        except OSError as exc:
            raise _cannot_write(path, exc) from None
    finally:
        tmp.unlink(missing_ok=True)


def _cannot_write(path: Path, exc: OSError) -> WriteError:
    return WriteError(f"cannot write {str(path)!r}: {exc.strerror or exc}; choose another place")


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


# ------------------------------------------------------------------ checks before the work
def _check_writable_parent(path: Path, option: str, *, inside: bool = False) -> None:
    """The nearest existing ancestor of ``path`` (of a file in ``path`` when ``inside``) is a
    directory a file can be created in.

    Tried for real (a temporary file is created and removed): permission bits say nothing
    for root, nor for read-only or virtual file systems such as ``/proc``.
    """
    parent = path if inside else path.parent
    while not parent.exists():  # the directories that are missing are created at write time
        if parent.parent == parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{option} {path}: {parent} is not a directory; choose another {option}")
    try:
        fd, name = tempfile.mkstemp(prefix=".skyfence-check.", dir=parent)
    except OSError as exc:
        raise InputError(
            f"{option} {path}: cannot write in {parent} ({exc.strerror or exc}); "
            f"choose another {option}"
        ) from None
    os.close(fd)
    os.unlink(name)


def check_output_dir(path: str | Path, *, overwrite: bool = False, option: str = "--out") -> Path:
    """Refuse an output directory that cannot be written, or that exists (unless ``overwrite``).

    An existing empty directory is accepted (it is filled). Call this before the work starts.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path} exists and is not a directory; choose another {option}")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise InputError(
            f"{option} {path} already exists; choose another {option} or pass --overwrite to "
            "replace it"
        )
    _check_writable_parent(path, option)
    return path


def check_writable_dir(path: str | Path, *, option: str = "--out") -> Path:
    """Refuse an output directory that is a file or cannot be written in; unlike
    :func:`check_output_dir`, one that holds files is accepted (a sweep resumes in it). Call
    this before the work starts."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path} is a file; give a directory")
    _check_writable_parent(path, option, inside=True)
    return path


def check_output_file(
    path: str | Path,
    *,
    suffixes: Iterable[str],
    overwrite: bool = False,
    option: str = "--out",
) -> Path:
    """Refuse an output file with an unknown suffix, in a place that cannot be written, or that
    exists (unless ``overwrite``). Call this before the work starts."""
    path = Path(path).expanduser()
    allowed = tuple(s.lower() for s in suffixes)
    if path.suffix.lower() not in allowed:
        raise InputError(f"{option} {path}: use a file name ending in {', '.join(allowed)}")
    if path.is_dir():
        raise InputError(f"{option} {path} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise InputError(
            f"{option} {path} already exists; choose another {option} or pass --overwrite to "
            "replace it"
        )
    _check_writable_parent(path, option)
    return path
