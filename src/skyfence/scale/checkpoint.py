"""Checkpoints of a sweep: shard outputs written whole, a manifest of what is done, and the
hash of the inputs so that a sweep is resumed only with the inputs it started with.

A sweep directory holds::

    manifest.json        {"format", "inputs_sha256", "inputs", "shards": total, "done": [...]}
    shards/<key>.npz     one file per finished shard

A shard's file is written atomically (:mod:`skyfence.files`) and only then is its key added
to the manifest (rewritten atomically too), so a sweep killed at any instant leaves a
manifest that lists only shards whose files are complete. Opening the directory again with
the same inputs resumes: :meth:`SweepDir.done` says which shards to skip. Different inputs
are refused (or, with ``overwrite``, the old shards are removed and the sweep starts afresh).

Examples
--------
>>> import tempfile, numpy as np
>>> d = SweepDir.open(tempfile.mkdtemp() + "/s", inputs={"step_s": 60}, total=2)
>>> d.save("a", {"x": np.arange(3)})
>>> sorted(d.done), d.load("a")["x"].tolist()
(['a'], [0, 1, 2])
>>> SweepDir.open(d.path, inputs={"step_s": 60}, total=2).done
frozenset({'a'})
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import ConflictError, InputError
from skyfence.files import atomic_path, write_text_atomic

__all__ = ["SweepDir", "inputs_sha256", "hash_arrays", "hash_file"]

FORMAT = "skyfence-sweep/1"


def hash_arrays(*arrays: Any) -> str:
    """SHA-256 over arrays' dtypes, shapes and bytes (object arrays as their strings)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        if a.dtype == object or a.dtype.kind == "U":
            a = np.asarray([str(x) for x in a.ravel()], dtype="U")
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def hash_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def inputs_sha256(inputs: Mapping[str, Any]) -> str:
    """SHA-256 of a JSON mapping of inputs (keys sorted)."""
    text = json.dumps(inputs, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class SweepDir:
    """A sweep's directory: its manifest and finished shards (see the module docstring)."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self._manifest = manifest

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        inputs: Mapping[str, Any],
        total: int,
        overwrite: bool = False,
    ) -> SweepDir:
        """Open ``path`` for a sweep of ``total`` shards over ``inputs``; resume if it matches.

        A directory that is not a sweep, or a sweep of other inputs, is refused with a
        :class:`~skyfence.errors.ConflictError` unless ``overwrite`` (its content is removed).
        """
        path = Path(path).expanduser()
        digest = inputs_sha256(inputs)
        manifest_path = path / "manifest.json"
        fresh = {
            "format": FORMAT,
            "inputs_sha256": digest,
            "inputs": json.loads(json.dumps(dict(inputs), default=str)),
            "shards": int(total),
            "done": [],
        }
        if path.exists() and not path.is_dir():
            raise InputError(f"{path} is a file; the sweep needs a directory")
        if path.is_dir() and any(path.iterdir()):
            old = _read_manifest(manifest_path)
            if old is not None and old.get("inputs_sha256") == digest:
                sweep = cls(path, old)
                sweep._drop_missing()
                return sweep
            if not overwrite:
                why = (
                    "holds a sweep of other inputs (changed: "
                    + ", ".join(_changed(old.get("inputs", {}), fresh["inputs"]))
                    + ")"
                    if old is not None
                    else "exists and is not a sweep directory"
                )
                raise ConflictError(
                    f"{path} {why}; pass --overwrite to start afresh or choose another --out"
                )
            shutil.rmtree(path)
        (path / "shards").mkdir(parents=True, exist_ok=True)
        sweep = cls(path, fresh)
        sweep._write_manifest()
        return sweep

    # ---------------------------------------------------------------- state
    @property
    def inputs_sha256(self) -> str:
        return str(self._manifest["inputs_sha256"])

    @property
    def total(self) -> int:
        return int(self._manifest["shards"])

    @property
    def done(self) -> frozenset[str]:
        """Keys of the shards finished (their files are complete)."""
        return frozenset(self._manifest["done"])

    def shard_path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise InputError(f"bad shard key {key!r}")
        return self.path / "shards" / f"{key}.npz"

    def save(self, key: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Write shard ``key`` atomically, then record it in the manifest."""
        with atomic_path(self.shard_path(key)) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)  # type: ignore[arg-type]
        if key not in self._manifest["done"]:
            self._manifest["done"].append(key)
            self._write_manifest()

    def load(self, key: str) -> dict[str, np.ndarray]:
        with np.load(self.shard_path(key), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    # ---------------------------------------------------------------- internals
    def _write_manifest(self) -> None:
        write_text_atomic(self.path / "manifest.json", json.dumps(self._manifest, indent=1))

    def _drop_missing(self) -> None:
        keep = [k for k in self._manifest["done"] if self.shard_path(k).is_file()]
        if keep != self._manifest["done"]:
            self._manifest["done"] = keep
            self._write_manifest()
        (self.path / "shards").mkdir(exist_ok=True)


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    return data


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return keys or ["the format"]
