"""``Ephemeris``: Earth-fixed positions of S satellites at T times, and its exports.

Axes are fixed: positions ``(sat, time, xyz)`` in km, Earth-fixed (TEME rotated through GMST;
see :mod:`skyfence.orbits.frames` for what is and is not modelled); times UTC
``datetime64[ns]``. ``error_codes`` is the ``sgp4`` error code per (sat, time), 0 = ok;
positions (and geodetic values) are NaN wherever it is not 0.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import InputError
from skyfence.files import atomic_path
from skyfence.orbits.frames import ecef_to_geodetic

__all__ = ["Ephemeris", "SGP4_ERRORS", "EXPORT_FORMATS", "write_stream"]

SGP4_ERRORS: dict[int, str] = {
    0: "ok",
    1: "mean eccentricity out of range 0 <= e < 1",
    2: "mean motion below 0",
    3: "perturbed eccentricity out of range",
    4: "semi-latus rectum below 0",
    5: "epoch elements are sub-orbital (no longer used by sgp4)",
    6: "satellite has decayed (orbit below the Earth's surface)",
}
"""Meaning of the ``sgp4`` error codes found in :attr:`Ephemeris.error_codes`."""

EXPORT_FORMATS = {".npz": "npz", ".parquet": "parquet", ".csv": "csv"}


def export_kind(path: str | Path) -> str:
    """``"npz"``, ``"parquet"`` or ``"csv"`` from the file suffix; InputError otherwise."""
    name = Path(path).name
    kind = EXPORT_FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise InputError(
            f"cannot tell the output format of {name!r}; use a suffix of "
            f"{', '.join(EXPORT_FORMATS)}"
        )
    return kind


_GEODETIC_CHUNK = 2_000_000  # points per block when computing geodetic lazily


class Ephemeris:
    """Positions of ``S`` satellites at ``T`` times in the Earth-fixed frame.

    Parameters
    ----------
    times : (T,) datetime64[ns]
        UTC.
    positions_ecef_km : (S, T, 3) float array
        Earth-fixed positions, km. float32 or float64.
    error_codes : (S, T) uint8, optional
        ``sgp4`` error codes, 0 = ok (default all 0). Positions with a non-zero code are NaN
        (the given array is copied first if it has numbers there).
    norad_ids, names : (S,), optional
        Catalogue numbers and names (defaults 0..S-1 and "").
    velocities_ecef_km_s : (S, T, 3), optional
        Earth-fixed velocities, km/s.

    Examples
    --------
    >>> t = np.array(["2026-02-22T00:00"], dtype="datetime64[ns]")
    >>> eph = Ephemeris(times=t, positions_ecef_km=np.array([[[6928.137, 0.0, 0.0]]]))
    >>> eph.shape, round(float(eph.altitude_km[0, 0]), 3)
    ((1, 1), 550.0)
    """

    def __init__(
        self,
        times: np.ndarray,
        positions_ecef_km: np.ndarray,
        error_codes: np.ndarray | None = None,
        norad_ids: np.ndarray | None = None,
        names: np.ndarray | None = None,
        velocities_ecef_km_s: np.ndarray | None = None,
        *,
        geodetic: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.times = np.asarray(times, dtype="datetime64[ns]").reshape(-1)
        pos = np.asarray(positions_ecef_km)
        if pos.dtype.kind != "f":
            pos = pos.astype(np.float64)
        if pos.ndim != 3 or pos.shape[1] != len(self.times) or pos.shape[2] != 3:
            raise InputError(
                f"positions_ecef_km has shape {pos.shape}; expected (sat, time, 3) with "
                f"{len(self.times)} times"
            )
        s, t = pos.shape[:2]
        if error_codes is None:
            codes = np.zeros((s, t), dtype=np.uint8)
        else:
            codes = np.asarray(error_codes, dtype=np.uint8)
            if codes.shape != (s, t):
                raise InputError(f"error_codes has shape {codes.shape}; expected ({s}, {t})")
            bad = codes != 0
            if bad.any() and np.isfinite(pos[bad]).any():
                pos = pos.copy()  # never change the caller's array
                pos[bad] = np.nan
        self.positions_ecef_km = pos
        self.error_codes = codes
        self.norad_ids = (
            np.arange(s, dtype=np.int64) if norad_ids is None else np.asarray(norad_ids, np.int64)
        )
        self.names = (
            np.full(s, "", dtype=object) if names is None else np.asarray(names, dtype=object)
        )
        if self.norad_ids.shape != (s,) or self.names.shape != (s,):
            raise InputError(f"norad_ids and names must have shape ({s},) like the positions")
        if velocities_ecef_km_s is not None:
            vel = np.asarray(velocities_ecef_km_s)
            if vel.shape != pos.shape:
                raise InputError(
                    f"velocities_ecef_km_s has shape {vel.shape}; expected {pos.shape}"
                )
            self.velocities_ecef_km_s: np.ndarray | None = vel
        else:
            self.velocities_ecef_km_s = None
        self._geodetic = geodetic

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, int]:
        """``(S, T)``: satellites and times."""
        return self.positions_ecef_km.shape[0], self.positions_ecef_km.shape[1]

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        s, t = self.shape
        return f"<Ephemeris of {s} satellites at {t} times, {self.positions_ecef_km.dtype}>"

    def at(self, index: int) -> np.ndarray:
        """Positions ``(S, 3)`` km at time index ``index``."""
        return self.positions_ecef_km[:, index, :]

    @property
    def ok(self) -> np.ndarray:
        """``(S, T)`` bool: True where SGP4 succeeded."""
        return self.error_codes == 0

    # ------------------------------------------------------------------ geodetic
    def _compute_geodetic(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._geodetic is None:
            s, t = self.shape
            dtype = self.positions_ecef_km.dtype
            lat = np.empty((s, t), dtype=dtype)
            lon = np.empty((s, t), dtype=dtype)
            alt = np.empty((s, t), dtype=dtype)
            step = max(1, _GEODETIC_CHUNK // max(1, t))
            for a in range(0, s, step):
                b = min(s, a + step)
                lat[a:b], lon[a:b], alt[a:b] = ecef_to_geodetic(self.positions_ecef_km[a:b])
            self._geodetic = (lat, lon, alt)
        return self._geodetic

    @property
    def latitude_deg(self) -> np.ndarray:
        """``(S, T)`` geodetic latitude on WGS84, degrees (computed on first use, cached)."""
        return self._compute_geodetic()[0]

    @property
    def longitude_deg(self) -> np.ndarray:
        """``(S, T)`` longitude, degrees in [-180, 180)."""
        return self._compute_geodetic()[1]

    @property
    def altitude_km(self) -> np.ndarray:
        """``(S, T)`` height above the WGS84 ellipsoid, km."""
        return self._compute_geodetic()[2]

    @property
    def radius_km(self) -> np.ndarray:
        """``(S, T)`` geocentric distance |r|, km."""
        return np.linalg.norm(self.positions_ecef_km, axis=-1)

    # ------------------------------------------------------------------ export
    def write(self, path: str | Path) -> Path:
        """Write in the format given by the suffix: ``.npz``, ``.parquet`` or ``.csv``."""
        path = Path(path)
        kind = export_kind(path)
        return {"npz": self.to_npz, "parquet": self.to_parquet, "csv": self.to_csv}[kind](path)

    def to_npz(self, path: str | Path) -> Path:
        """Write the arrays to a compressed ``.npz`` (atomically); read back with :meth:`from_npz`.

        Keys: ``times`` (int64 ns since 1970 UTC), ``positions_ecef_km``, ``error_codes``,
        ``norad_ids``, ``names`` (unicode), and ``velocities_ecef_km_s`` if present.
        """
        arrays: dict[str, Any] = {
            "times": self.times.astype("int64"),
            "positions_ecef_km": self.positions_ecef_km,
            "error_codes": self.error_codes,
            "norad_ids": self.norad_ids,
            "names": self.names.astype(str),
        }
        if self.velocities_ecef_km_s is not None:
            arrays["velocities_ecef_km_s"] = self.velocities_ecef_km_s
        with _atomic(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        return Path(path)

    @classmethod
    def from_npz(cls, path: str | Path) -> Ephemeris:
        """Read an ephemeris written by :meth:`to_npz`."""
        with np.load(path, allow_pickle=False) as data:
            return cls(
                times=data["times"].astype("datetime64[ns]"),
                positions_ecef_km=data["positions_ecef_km"],
                error_codes=data["error_codes"],
                norad_ids=data["norad_ids"],
                names=data["names"].astype(object),
                velocities_ecef_km_s=(
                    data["velocities_ecef_km_s"] if "velocities_ecef_km_s" in data else None
                ),
            )

    def to_table(self) -> Any:
        """The long-form ``pyarrow.Table``: one row per (time, satellite).

        Columns: ``time`` (timestamp[ns, UTC]), ``norad_id``, ``name``, ``x_km``, ``y_km``,
        ``z_km``, ``latitude_deg``, ``longitude_deg``, ``altitude_km``, ``error``; rows are in
        time-major order.
        """
        import pyarrow as pa

        s, t = self.shape
        pos = self.positions_ecef_km.transpose(1, 0, 2)  # (T, S, 3)
        cols = {
            "time": pa.array(np.repeat(self.times, s), type=pa.timestamp("ns", tz="UTC")),
            "norad_id": pa.array(np.tile(self.norad_ids, t)),
            "name": pa.array(np.tile(self.names.astype(str), t)),
            "x_km": pa.array(pos[:, :, 0].reshape(-1)),
            "y_km": pa.array(pos[:, :, 1].reshape(-1)),
            "z_km": pa.array(pos[:, :, 2].reshape(-1)),
            "latitude_deg": pa.array(self.latitude_deg.T.reshape(-1)),
            "longitude_deg": pa.array(self.longitude_deg.T.reshape(-1)),
            "altitude_km": pa.array(self.altitude_km.T.reshape(-1)),
            "error": pa.array(self.error_codes.T.reshape(-1)),
        }
        return pa.table(cols)

    def to_parquet(self, path: str | Path) -> Path:
        """Write the long-form table (:meth:`to_table`) as Parquet, atomically."""
        import pyarrow.parquet as pq

        table = self.to_table()
        with _atomic(path) as tmp:
            pq.write_table(table, tmp)
        return Path(path)

    def to_csv(self, path: str | Path) -> Path:
        """Write the long-form table (:meth:`to_table`) as CSV with a header, atomically.

        Times are ISO 8601 UTC (``2026-02-22T00:00:00Z``); NaN is an empty field.
        """
        import pyarrow.csv as pcsv

        with _atomic(path) as tmp:
            pcsv.write_csv(_csv_table(self.to_table()), tmp)
        return Path(path)


def _csv_table(table: Any) -> Any:
    """The long-form table as written to CSV: ISO time strings, NaN as null (empty field)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    iso = pc.strftime(table.column("time"), format="%Y-%m-%dT%H:%M:%SZ")
    table = table.set_column(0, pa.field("time", pa.string()), iso)
    for name in ("x_km", "y_km", "z_km", "latitude_deg", "longitude_deg", "altitude_km"):
        i = table.schema.get_field_index(name)
        col = table.column(i)
        table = table.set_column(i, name, pc.if_else(pc.is_nan(col), None, col))
    return table


def write_stream(path: str | Path, blocks: Iterable[Ephemeris], times: np.ndarray) -> Path:
    """Write an ephemeris that arrives in blocks of times (e.g. from
    :meth:`Constellation.iter_propagate`) without holding it in memory.

    The file is the same as :meth:`Ephemeris.write` of the whole ephemeris would give
    (``.npz``, ``.parquet`` or ``.csv`` by suffix), written atomically: Parquet gets one row
    group per block, CSV is appended block by block, and ``.npz`` arrays are filled on disk
    (memory-mapped ``.npy`` files beside the target) and then packed into the archive.

    Parameters
    ----------
    path : path
    blocks : iterable of Ephemeris
        Consecutive blocks covering exactly ``times``, all with the same satellites.
    times : (T,) datetime64
        Every time of the run (the ``.npz`` arrays are sized from it).

    Examples
    --------
    >>> from skyfence.orbits import Constellation
    >>> from skyfence.timeutil import time_grid
    >>> c = Constellation.from_preset("kuiper")
    >>> t = time_grid("2026-02-22T00:00Z", 3600, 60)
    >>> import tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "kuiper.parquet")
    >>> write_stream(out, c.iter_propagate(t, chunk=10, geodetic=True), t).name
    'kuiper.parquet'
    """
    path = Path(path)
    kind = export_kind(path)
    times = np.asarray(times).astype("datetime64[ns]").reshape(-1)
    with _atomic(path) as tmp:
        if kind == "npz":
            _stream_npz(tmp, blocks, times)
        else:
            _stream_table(tmp, blocks, times, kind)
    return path


def _check_block(block: Ephemeris, times: np.ndarray, at: int, first: Ephemeris) -> None:
    k = len(block.times)
    if at + k > len(times) or not np.array_equal(block.times, times[at : at + k]):
        raise InputError(
            f"block of {k} times starting at {block.times[0] if k else '?'} does not continue "
            f"the run at step {at} of {len(times)}; pass the blocks of exactly these times"
        )
    if not np.array_equal(block.norad_ids, first.norad_ids):
        raise InputError("every block must hold the same satellites in the same order")


def _stream_table(tmp: str, blocks: Iterable[Ephemeris], times: np.ndarray, kind: str) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    writer: Any = None
    at = 0
    first: Ephemeris | None = None
    try:
        for block in blocks:
            first = first or block
            _check_block(block, times, at, first)
            table = block.to_table()
            if kind == "csv":
                table = _csv_table(table)
            if writer is None:
                writer = (
                    pcsv.CSVWriter(tmp, table.schema)
                    if kind == "csv"
                    else pq.ParquetWriter(tmp, table.schema)
                )
            writer.write_table(table)
            at += len(block.times)
    finally:
        if writer is not None:
            writer.close()
    if at != len(times):
        raise InputError(f"the blocks covered {at} of {len(times)} times")


class _NpyColumns:
    """A ``.npy`` file of shape ``(S, T, ...)`` filled one block of ``T`` at a time by
    seek + write (no memory map, so the process does not keep the pages resident)."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype: Any) -> None:
        arr = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        del arr  # the header is written and the file sized (sparse): header + data
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        self.offset = os.path.getsize(path) - nbytes
        self.fh = open(path, "r+b")  # noqa: SIM115 - closed by close()
        self.shape = shape
        self.row_bytes = int(np.prod(shape[2:], dtype=np.int64)) * np.dtype(dtype).itemsize
        self.dtype = np.dtype(dtype)

    def write(self, at: int, block: np.ndarray) -> None:
        """Write ``block`` (S, k, ...) at time index ``at``."""
        data = np.ascontiguousarray(block, dtype=self.dtype)
        s, t = self.shape[0], self.shape[1]
        k = data.shape[1]
        span = k * self.row_bytes
        view = memoryview(data.reshape(-1).view(np.uint8))
        for i in range(s):
            self.fh.seek(self.offset + (i * t + at) * self.row_bytes)
            self.fh.write(view[i * span : (i + 1) * span])

    def close(self) -> None:
        self.fh.close()  # idempotent


def _stream_npz(tmp: str, blocks: Iterable[Ephemeris], times: np.ndarray) -> None:
    import shutil
    import zipfile

    work = tempfile.mkdtemp(prefix=".npz-parts-", dir=os.path.dirname(tmp) or ".")
    columns: dict[str, _NpyColumns] = {}
    try:
        at = 0
        first: Ephemeris | None = None
        for block in blocks:
            if first is None:
                first = block
                s, t = block.shape[0], len(times)
                parts = {
                    "positions_ecef_km": ((s, t, 3), block.positions_ecef_km.dtype),
                    "error_codes": ((s, t), block.error_codes.dtype),
                }
                if block.velocities_ecef_km_s is not None:
                    parts["velocities_ecef_km_s"] = ((s, t, 3), block.velocities_ecef_km_s.dtype)
                for name, (shape, dtype) in parts.items():
                    columns[name] = _NpyColumns(os.path.join(work, f"{name}.npy"), shape, dtype)
            _check_block(block, times, at, first)
            columns["positions_ecef_km"].write(at, block.positions_ecef_km)
            columns["error_codes"].write(at, block.error_codes)
            if "velocities_ecef_km_s" in columns:
                if block.velocities_ecef_km_s is None:
                    raise InputError("some blocks have velocities and some do not")
                columns["velocities_ecef_km_s"].write(at, block.velocities_ecef_km_s)
            at += len(block.times)
        if first is None or at != len(times):
            raise InputError(f"the blocks covered {at} of {len(times)} times")
        for col in columns.values():
            col.close()  # flushed before the files are packed
        small = {
            "times": times.astype("int64"),
            "norad_ids": first.norad_ids,
            "names": first.names.astype(str),
        }
        for name, value in small.items():
            np.save(os.path.join(work, f"{name}.npy"), value, allow_pickle=False)
        order = ["times", "positions_ecef_km", "error_codes", "norad_ids", "names"]
        if "velocities_ecef_km_s" in columns:
            order.append("velocities_ecef_km_s")
        # what np.savez_compressed writes: one deflated .npy member per array (zip64 allowed)
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for name in order:
                zf.write(os.path.join(work, f"{name}.npy"), arcname=f"{name}.npy")
    finally:
        for col in columns.values():
            col.close()
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _atomic(path: str | Path) -> Iterator[str]:
    """Yield a temporary file name beside ``path``; rename it over ``path`` on success."""
    with atomic_path(path) as tmp:
        yield str(tmp)
