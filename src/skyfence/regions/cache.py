"""An on-disk cache of what is costly to build: a worldview's countries and its RegionIndex.

Loading the built-in boundaries takes 1.5-2 s and building the country index 2-4 s, in
every process; ``skyfence decide`` paid both for one answer. With a cache directory
(``world(cache_dir=...)``) both are kept as numpy ``.npz`` files (arrays only, geometry as
WKB; no pickle, so a cache file cannot run code) and read back in a fraction of the time.

Each file is named by a key over everything its contents depend on: the SHA-256 of the
boundary file's bytes, the worldview's name, the build parameters (maritime band, H3
resolution, raster step), the skyfence version, the shapely and GEOS versions, and
:data:`CACHE_FORMAT`. A different input gives a different file name, so a stale file is
never read; the key is also stored inside the file and checked. Files are written to a
temporary name and renamed (atomic); a file that cannot be read, or does not hold what it
should, is ignored, rebuilt and rewritten.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from skyfence.files import atomic_path

__all__ = ["CACHE_FORMAT", "cache_key", "file_sha256", "save_arrays", "load_arrays"]

#: Bumped whenever what the cache files hold, or how it is built, changes.
CACHE_FORMAT = 1


def _versions() -> str:
    from skyfence import __version__

    return (
        f"skyfence {__version__}; shapely {shapely.__version__}; GEOS {shapely.geos_version_string}"
    )


def cache_key(*parts: str) -> str:
    """SHA-256 (hex) over ``parts``, the library versions and :data:`CACHE_FORMAT`."""
    digest = hashlib.sha256()
    for part in (f"format {CACHE_FORMAT}", _versions(), *parts):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes (``.shp`` files with their ``.dbf``/``.shx``/``.prj``)."""
    digest = hashlib.sha256()
    paths = [path]
    if path.suffix.lower() == ".shp":
        paths += [path.with_suffix(s) for s in (".dbf", ".shx", ".prj", ".cpg")]
    for p in paths:
        if not p.exists():
            continue
        digest.update(p.name.encode())
        with p.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def pack_geometries(geometries: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Geometries (``None`` allowed) as one uint8 buffer of WKB and int64 offsets (-1: None)."""
    wkb = shapely.to_wkb(np.asarray(list(geometries), dtype=object), byte_order=1, flavor="iso")
    sizes = np.array([-1 if b is None else len(b) for b in wkb], dtype=np.int64)
    buffer = np.frombuffer(b"".join(b for b in wkb if b is not None), dtype=np.uint8)
    return buffer, sizes


def unpack_geometries(buffer: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The geometries :func:`pack_geometries` packed (object array, ``None`` kept)."""
    raw = buffer.tobytes()
    ends = np.cumsum(np.maximum(sizes, 0))
    starts = ends - np.maximum(sizes, 0)
    if ends.size and ends[-1] != len(raw):
        raise ValueError("geometry buffer and sizes disagree")
    blobs = [None if n < 0 else raw[a:b] for a, b, n in zip(starts, ends, sizes, strict=True)]
    return np.asarray(shapely.from_wkb(np.asarray(blobs, dtype=object)), dtype=object)


def save_arrays(path: Path, key: str, arrays: Mapping[str, np.ndarray]) -> bool:
    """Write ``arrays`` and ``key`` to ``path`` atomically; ``False`` if it cannot be written
    (a cache that cannot be written is not an error: the work is simply redone next time)."""
    try:
        with atomic_path(path, make_parents=True) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, __key__=np.array(key), **arrays)
        return True
    except OSError:
        return False


def load_arrays(path: Path, key: str, names: Iterable[str]) -> dict[str, np.ndarray] | None:
    """The arrays in ``path`` if it is a readable cache file for ``key`` holding ``names``;
    ``None`` otherwise (missing, truncated, corrupt, another key)."""
    try:
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            if str(data["__key__"]) != key:
                return None
            return {name: np.asarray(data[name]) for name in names}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
