"""``Constellation``: satellites with their shell/plane/slot labels, and vectorised propagation.

Propagation runs ``sgp4.api.SatrecArray`` over blocks of time steps (so memory stays bounded
however long the run), rotates TEME into the Earth-fixed frame through GMST
(:mod:`skyfence.orbits.frames`) and optionally computes WGS84 geodetic coordinates in the
same pass. ``SatrecArray.sgp4`` holds the GIL, so ``workers=N`` splits the satellites over N
forked processes that write into shared memory (on platforms without ``fork`` the work runs
in this process).
"""

from __future__ import annotations

import mmap
import multiprocessing
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from skyfence.errors import ConfigurationError, InputError
from skyfence.geodesy import _GeodeticWorkspace
from skyfence.orbits.elements import ElementSet
from skyfence.orbits.ephemeris import Ephemeris
from skyfence.orbits.frames import EARTH_ROTATION_RAD_S, gmst_rad
from skyfence.orbits.walker import FIRST_SYNTHETIC_NORAD_ID, ShellInfo
from skyfence.timeutil import to_jd_pair

__all__ = ["Constellation", "STATUSES", "propagation_chunk_steps", "elements_from_satrecs"]

STATUSES = ("operational", "raising", "decaying", "off-station")
"""Values of :attr:`Constellation.status`."""

ProgressCallback = Callable[[int, int], None]

_WORK_BYTES = 64 * 1024 * 1024  # working buffer per block of time steps
# satellites per SatrecArray and per rotation/geodetic pass (6,144 points at 96 steps): the
# group's arrays and the geodetic workspace (~0.9 MB) stay in a 1 MB L2 cache from SGP4 to
# the geodetic conversion. 128 was as fast on average but varied twice as much from run to
# run (it leans on the L3 cache shared with the other core); the ~60 numpy calls per group
# cost ~5 ns per sat-step at 64.
_GROUP_SATS = 64
_MIN_SATS_PER_WORKER = 64  # fewer workers than asked for when there are few satellites
_BYTES_PER_SAT_STEP = 1 + 3 * 8 + 3 * 8 + 3 * 8  # error code, r, v, lat/lon/alt


def propagation_chunk_steps(n_sats: int, budget_bytes: int = _WORK_BYTES) -> int:
    """Time steps per block so that the working buffers stay within ``budget_bytes``."""
    return max(1, int(budget_bytes // (max(1, n_sats) * _BYTES_PER_SAT_STEP)))


class Constellation:
    """Satellites (an :class:`ElementSet`) with shell, plane and slot labels.

    Build one with :meth:`from_preset`, :meth:`from_file`, :meth:`from_elements` or
    :meth:`from_shells`.

    Attributes
    ----------
    elements : ElementSet
    shells : list[ShellInfo]
    shell_id : (S,) int64
        Index into ``shells``; -1 = not in any shell.
    plane_id : (S,) int64
        Plane within the shell (0..planes-1, ordered by RAAN); -1 unknown.
    slot_id : (S,) int64
        Position in the plane ordered by argument of latitude (0..k-1); -1 unknown.
    status : (S,) object
        ``"operational"``, ``"raising"``, ``"decaying"`` or ``"off-station"``.

    Examples
    --------
    >>> c = Constellation.from_preset("kuiper")
    >>> len(c), [s.planes for s in c.shells]
    (3236, [34, 36, 28])
    """

    def __init__(
        self,
        elements: ElementSet,
        shells: list[ShellInfo] | None = None,
        shell_id: np.ndarray | None = None,
        plane_id: np.ndarray | None = None,
        slot_id: np.ndarray | None = None,
        status: np.ndarray | None = None,
        name: str = "",
    ) -> None:
        n = len(elements)
        self.elements = elements
        self.shells = list(shells or [])
        self.shell_id = _ids(shell_id, n)
        self.plane_id = _ids(plane_id, n)
        self.slot_id = _ids(slot_id, n)
        if status is None:
            status = np.where(self.shell_id >= 0, "operational", "off-station")
        self.status = np.asarray(status, dtype=object)
        if self.status.shape != (n,):
            raise InputError(f"status has shape {self.status.shape}; expected ({n},)")
        unknown = set(np.unique(self.status.astype(str))) - set(STATUSES)
        if unknown:
            raise InputError(f"unknown status {sorted(unknown)}; valid: {', '.join(STATUSES)}")
        if np.any(self.shell_id >= len(self.shells)):
            raise InputError("shell_id refers to a shell that is not in shells")
        self.name = name or elements.source

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_shells(
        cls,
        shells: list[ShellInfo],
        epoch: np.datetime64 | str | None = None,
        *,
        name: str = "",
    ) -> Constellation:
        """Generate Walker shells (see :func:`~skyfence.orbits.walker.walker_shell`)."""
        if not shells:
            raise ConfigurationError("from_shells needs at least one ShellInfo")
        sets, shell_id, plane_id, slot_id = [], [], [], []
        next_id = FIRST_SYNTHETIC_NORAD_ID
        for k, shell in enumerate(shells):
            sets.append(shell.elements(epoch, first_norad_id=next_id))
            next_id += shell.total
            shell_id.append(np.full(shell.total, k))
            plane_id.append(np.repeat(np.arange(shell.planes), shell.sats_per_plane))
            slot_id.append(np.tile(np.arange(shell.sats_per_plane), shell.planes))
        elements = ElementSet.concatenate(sets, source=name or "walker shells")
        return cls(
            elements,
            list(shells),
            np.concatenate(shell_id),
            np.concatenate(plane_id),
            np.concatenate(slot_id),
            name=name,
        )

    @classmethod
    def from_preset(cls, name: str, epoch: np.datetime64 | str | None = None) -> Constellation:
        """A built-in preset (:func:`~skyfence.orbits.presets.preset_names` lists them)."""
        from skyfence.orbits.presets import get_preset

        preset = get_preset(name)
        c = cls.from_shells(list(preset.shells), epoch, name=f"preset {preset.name}")
        return c

    @classmethod
    def from_elements(
        cls,
        elements: ElementSet,
        shells: list[ShellInfo] | None = None,
        **clustering: Any,
    ) -> Constellation:
        """Label real element sets: cluster them into shells (or use ``shells``), planes, slots.

        See :func:`skyfence.orbits.clustering.cluster_constellation`; keyword arguments are
        passed on to it.
        """
        from skyfence.orbits.clustering import cluster_constellation

        result = cluster_constellation(elements, shells=shells, **clustering)
        return cls(
            elements,
            result.shells,
            result.shell_id,
            result.plane_id,
            result.slot_id,
            result.status,
            name=elements.source,
        )

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Constellation:
        """Read any element-set file (:meth:`ElementSet.from_file`) and cluster it."""
        from skyfence.orbits.clustering import read_element_file

        return cls.from_elements(read_element_file(path), **kwargs)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.elements)

    def __repr__(self) -> str:
        return f"<Constellation {self.name!r}: {len(self)} satellites, {len(self.shells)} shells>"

    @property
    def norad_ids(self) -> np.ndarray:
        return self.elements.norad_ids

    @property
    def names(self) -> np.ndarray:
        return self.elements.names

    def summary(self) -> list[dict[str, Any]]:
        """One row per shell (plus one for satellites in no shell) with status counts."""
        rows: list[dict[str, Any]] = []
        for k, shell in enumerate(self.shells + [None]):  # type: ignore[operator]
            sel = self.shell_id == (k if shell is not None else -1)
            if shell is None and not sel.any():
                continue
            counts = {s: int(np.count_nonzero(self.status[sel] == s)) for s in STATUSES}
            rows.append(
                {
                    "shell": shell.name if shell is not None else "(none)",
                    "altitude_km": shell.altitude_km if shell is not None else None,
                    "inclination_deg": shell.inclination_deg if shell is not None else None,
                    "satellites": int(np.count_nonzero(sel)),
                    "planes": shell.planes if shell is not None else None,
                    "sats_per_plane": shell.sats_per_plane if shell is not None else None,
                    **counts,
                    "source": shell.source if shell is not None else "",
                }
            )
        return rows

    # ------------------------------------------------------------------ propagation
    def iter_propagate(
        self,
        times: np.ndarray,
        *,
        chunk: int | None = None,
        workers: int = 1,
        dtype: Any = np.float64,
        velocities: bool = False,
        geodetic: bool = False,
        progress: ProgressCallback | None = None,
    ) -> Iterator[Ephemeris]:
        """Propagate block by block, yielding one :class:`Ephemeris` per block of times.

        Only a few blocks (about 64 MB each) are in memory at a time, so 9,500 satellites ×
        5,760 steps can be streamed to disk or reduced on the fly.

        The arrays of each yielded :class:`Ephemeris` are computed in place, in one of a
        small pool of buffers (2 with ``workers=1``, 3 with more), and handed over without a
        copy; a buffer is used again only once every array of the block it holds has been
        dropped, so an ephemeris you keep never changes. If you keep so many blocks that no
        buffer is free, the next blocks are copied out (slower, still correct). With
        ``workers > 1`` the float64 arrays live in memory shared with the workers
        (``MAP_SHARED``): a process forked while you hold them shares them instead of getting
        a copy-on-write copy.

        Parameters
        ----------
        times : (T,) datetime64
            UTC times.
        chunk : int, optional
            Time steps per block (default: as many as fit in 64 MB of working buffers).
        workers : int
            Processes to split the satellites over (1 = this process).
        dtype : numpy float dtype
            ``float64`` (default) or ``float32`` for the returned arrays.
        velocities : bool
            Also return Earth-fixed velocities.
        geodetic : bool
            Compute latitude/longitude/altitude in the same pass (in the workers).
        progress : callable(done, total), optional
            Called after each block with time steps done so far.
        """
        dtype = _check_dtype(dtype)
        for _start, block, e, r, v, geo in self._blocks(
            times, chunk, workers, velocities, geodetic, progress, keep=True
        ):
            yield Ephemeris(
                times=block,
                positions_ecef_km=r.astype(dtype, copy=False),
                error_codes=e,
                norad_ids=self.elements.norad_ids,
                names=self.elements.names,
                velocities_ecef_km_s=v.astype(dtype, copy=False) if velocities else None,
                geodetic=(
                    (
                        geo[0].astype(dtype, copy=False),
                        geo[1].astype(dtype, copy=False),
                        geo[2].astype(dtype, copy=False),
                    )
                    if geodetic
                    else None
                ),
            )

    def _blocks(
        self,
        times: np.ndarray,
        chunk: int | None,
        workers: int,
        velocities: bool,
        geodetic: bool,
        progress: ProgressCallback | None,
        *,
        keep: bool,
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Yield ``(start, times, e, r, v, geo)`` per block.

        ``keep``: the arrays are the caller's to keep (they are never written again; no copy
        is made unless the caller still holds every buffer set of the pool). Otherwise they
        are working buffers, valid only until the next block is requested.
        """
        times = _check_times(times)
        n_sats = len(self)
        total = len(times)
        if chunk is None:
            chunk = propagation_chunk_steps(n_sats)
        if int(chunk) != chunk or int(chunk) < 1:
            raise InputError(f"chunk must be a whole number of time steps >= 1, got {chunk}")
        chunk = int(min(chunk, max(total, 1)))
        if progress is not None:
            progress(0, total)
        if total == 0 or n_sats == 0:
            return
        starts = list(range(0, total, chunk))
        with _Engine(self.elements, chunk, workers) as engine:
            if engine.workers == 1:
                for start in starts:
                    block = times[start : start + chunk]
                    e, r, v, geo = engine.run(
                        block, velocities=velocities, geodetic=geodetic, keep=keep
                    )
                    yield start, block, e, r, v, geo
                    if progress is not None:
                        progress(start + len(block), total)
                return
            # pipelined: the workers compute block k+1 while the caller uses block k
            slot = engine.free_slot()
            assert slot is not None
            engine.submit(times[:chunk], slot, velocities, geodetic)
            for k, start in enumerate(starts):
                block = times[start : start + chunk]
                engine.wait()
                buffers = engine.pool[slot]
                last = k + 1 == len(starts)
                nxt = None if last else engine.free_slot(busy=slot)
                if not keep:
                    e, r, v, geo = buffers.views(len(block))
                elif last or nxt is not None:
                    e, r, v, geo = buffers.hand_out(len(block))
                else:  # the caller holds every other buffer set: copy this block out
                    e, r, v, geo = buffers.views(len(block))
                    e, r = e.copy(), r.copy()
                    v = v.copy() if velocities else v[:0]
                    geo = geo.copy() if geodetic else geo[:0]
                    nxt = slot
                if not last:
                    assert nxt is not None
                    nxt_block = times[starts[k + 1] : starts[k + 1] + chunk]
                    engine.submit(nxt_block, nxt, velocities, geodetic)
                    slot = nxt
                yield start, block, e, r, v, geo
                if progress is not None:
                    progress(start + len(block), total)

    def propagate(
        self,
        times: np.ndarray,
        *,
        workers: int = 1,
        dtype: Any = np.float64,
        velocities: bool = False,
        geodetic: bool = False,
        chunk: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Ephemeris:
        """Propagate every satellite to ``times``; returns one :class:`Ephemeris` (S, T).

        The result needs ``S × T × 3 × itemsize`` bytes (×2 with velocities, plus three
        ``S × T`` arrays for geodetic values); for longer runs use :meth:`iter_propagate`.
        Arguments as :meth:`iter_propagate`.

        Examples
        --------
        >>> from skyfence.timeutil import time_grid
        >>> c = Constellation.from_preset("starlink-gen1")
        >>> eph = c.propagate(time_grid("2026-02-22T00:00Z", 60, 15))
        >>> eph.shape
        (4408, 5)
        """
        times = _check_times(times)
        dtype = _check_dtype(dtype)
        s, t = len(self), len(times)
        pos = np.empty((s, t, 3), dtype=dtype)
        codes = np.empty((s, t), dtype=np.uint8)
        vel = np.empty((s, t, 3), dtype=dtype) if velocities else None
        geo = tuple(np.empty((s, t), dtype=dtype) for _ in range(3)) if geodetic else None
        for at, block, e, r, v, g in self._blocks(
            times, chunk, workers, velocities, geodetic, progress, keep=False
        ):
            k = len(block)
            pos[:, at : at + k] = r
            codes[:, at : at + k] = e
            if vel is not None:
                vel[:, at : at + k] = v
            if geo is not None:
                for dst, src in zip(geo, g, strict=True):
                    dst[:, at : at + k] = src
        return Ephemeris(
            times=times,
            positions_ecef_km=pos,
            error_codes=codes,
            norad_ids=self.elements.norad_ids,
            names=self.elements.names,
            velocities_ecef_km_s=vel,
            geodetic=geo,  # type: ignore[arg-type]
        )


# ---------------------------------------------------------------------- helpers
def _ids(values: np.ndarray | None, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, -1, dtype=np.int64)
    arr = np.asarray(values, dtype=np.int64)
    if arr.shape != (n,):
        raise InputError(f"label array has shape {arr.shape}; expected ({n},)")
    return arr


def _check_times(times: Any) -> np.ndarray:
    arr = np.asarray(times)
    if arr.dtype.kind != "M":
        raise InputError(
            "times must be UTC datetime64 values (e.g. skyfence.timeutil.time_grid(start, "
            f"duration_s, step_s)), got dtype {arr.dtype}"
        )
    return arr.astype("datetime64[ns]").reshape(-1)


def _check_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise InputError(f"dtype must be float64 or float32, got {dt}")
    return dt


def _anonymous_map(size: int, shared: bool) -> mmap.mmap:
    """Anonymous memory; ``shared`` maps stay shared with processes forked afterwards."""
    size = max(1, size)
    if shared or not hasattr(mmap, "MAP_PRIVATE"):  # Windows maps are private already
        return mmap.mmap(-1, size)
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)


class _Buffers:
    """Arrays for one block of up to ``chunk`` steps: error codes, r, v, geodetic.

    All four live in one anonymous memory map (shared with the forked workers when
    ``shared``). The arrays a caller gets from :meth:`hand_out` are views of a fresh base
    array over that map, tracked by a weak reference: the buffers are :attr:`free` for the
    next block only once the caller has dropped every one of them, so a kept
    :class:`Ephemeris` never changes and there is no copy.
    """

    def __init__(self, n_sats: int, chunk: int, shared: bool) -> None:
        self.n_sats = n_sats
        self.chunk = chunk
        n = n_sats * chunk
        e_bytes = -(-n // 64) * 64  # keep the float64 arrays aligned
        self._offsets = (e_bytes, e_bytes + 24 * n, e_bytes + 48 * n)  # r, v, geo
        self._map: mmap.mmap | None = _anonymous_map(e_bytes + 72 * n, shared)
        self._work: np.ndarray | None = np.frombuffer(self._map, dtype=np.uint8)
        self._held: weakref.ref[np.ndarray] | None = None

    def _arrays(
        self, base: np.ndarray, steps: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        s = self.n_sats
        n = s * steps
        o_r, o_v, o_g = self._offsets
        return (
            base[:n].reshape(s, steps),
            base[o_r : o_r + 24 * n].view(np.float64).reshape(s, steps, 3),
            base[o_v : o_v + 24 * n].view(np.float64).reshape(s, steps, 3),
            base[o_g : o_g + 24 * n].view(np.float64).reshape(3, s, steps),
        )

    def views(self, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(e, r, v, geo)`` working views (overwritten by the next block computed here)."""
        assert self._work is not None
        return self._arrays(self._work, steps)

    def hand_out(self, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(e, r, v, geo)`` for a caller to keep; the buffers stay busy while any is alive."""
        base = np.frombuffer(self._map, dtype=np.uint8)  # type: ignore[arg-type]
        self._held = weakref.ref(base)
        return self._arrays(base, steps)

    @property
    def free(self) -> bool:
        """No array from :meth:`hand_out` is alive any more."""
        return self._held is None or self._held() is None

    def close(self) -> None:
        self._work = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # the caller still has arrays: the map is freed with them
                pass
            self._map = None


class _GroupWork:
    """Per-process scratch for :func:`_compute_block`, sized for one satellite group."""

    def __init__(self, points: int) -> None:
        self.geo = _GeodeticWorkspace(points)
        # SGP4 always writes velocities: without velocities=True they go here, into an array
        # that stays in the cache, rather than into 22 MB of buffers per block
        self.velocities = np.empty(3 * points, dtype=np.float64)


def _compute_block(
    groups: list[tuple[slice, Any]],
    buffers: _Buffers,
    work: _GroupWork,
    steps: int,
    jd: np.ndarray,
    fr: np.ndarray,
    gmst: np.ndarray,
    velocities: bool,
    geodetic: bool,
) -> None:
    """SGP4 + TEME→ECEF (+ geodetic) for each satellite group into ``buffers``.

    Groups are small (:data:`_GROUP_SATS` satellites) so that one group's arrays stay in
    the CPU cache from SGP4 through the rotation to the geodetic conversion. x and y are
    copied once into contiguous scratch arrays, rotated there and written back; the
    geodetic conversion reads the same scratch arrays.
    """
    e_all, r_all, v_all, geo_all = buffers.views(steps)
    c = np.cos(gmst)
    s = np.sin(gmst)
    g_max = max(rows.stop - rows.start for rows, _ in groups)
    c_tiled = np.tile(c, g_max)  # (g, steps) flattened: cos/sin per element
    s_tiled = np.tile(s, g_max)
    for rows, satrecs in groups:
        g = rows.stop - rows.start
        m = g * steps
        e, r = e_all[rows], r_all[rows]
        v = v_all[rows] if velocities else work.velocities[: 3 * m].reshape(g, steps, 3)
        satrecs._sgp4(jd, fr, e, r, v)
        x, y, z, t0, t1 = work.geo.arrays(m)[:5]
        x2 = x.reshape(g, steps)
        y2 = y.reshape(g, steps)
        np.copyto(x2, r[..., 0])
        np.copyto(y2, r[..., 1])
        # x' = c x + s y ; y' = c y - s x
        ct, st = c_tiled[:m], s_tiled[:m]
        np.multiply(x, st, t0)
        np.multiply(x, ct, x)
        np.multiply(y, st, t1)
        np.add(x, t1, x)
        np.multiply(y, ct, y)
        np.subtract(y, t0, y)
        r[..., 0] = x2
        r[..., 1] = y2
        if velocities:
            _rotate_velocities(v, r, c, s)
        bad = None
        if e.any():
            bad = e != 0
            r[bad] = np.nan
            v[bad] = np.nan
        if geodetic:
            np.copyto(z.reshape(g, steps), r[..., 2])
            if bad is not None:
                flat = bad.reshape(-1)
                x[flat] = np.nan
                y[flat] = np.nan
                z[flat] = np.nan
            work.geo.geodetic(
                geo_all[0, rows].reshape(-1),
                geo_all[1, rows].reshape(-1),
                geo_all[2, rows].reshape(-1),
            )


def _rotate_velocities(v: np.ndarray, r_ecef: np.ndarray, c: np.ndarray, s: np.ndarray) -> None:
    """In place TEME → ECEF velocities through GMST, given the already rotated positions."""
    vx = v[..., 0].copy()
    vy = v[..., 1]
    v[..., 0] *= c
    v[..., 0] += s * vy
    vy *= c
    vy -= s * vx
    # minus omega x r_ecef = (+w y, -w x, 0)
    v[..., 0] += EARTH_ROTATION_RAD_S * r_ecef[..., 1]
    v[..., 1] -= EARTH_ROTATION_RAD_S * r_ecef[..., 0]


def _worker_loop(
    conn: Any, groups: list[tuple[slice, Any]], pool: list[_Buffers], work: _GroupWork
) -> None:
    """Body of a forked worker: wait for blocks, compute its satellite groups, report back."""
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the parent went away
            break
        if msg is None:
            break
        try:
            _compute_block(groups, pool[msg[0]], work, *msg[1:])
            conn.send(None)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            conn.send(f"{type(exc).__name__}: {exc}")
    conn.close()


_POOL_LOCAL = 2  # buffer sets for workers == 1: the block computed, the one the caller holds
_POOL_SHARED = 3  # for workers > 1: one being computed, one just done, one the caller holds


class _Engine:
    """Owns the SatrecArrays, the buffer pool and (for workers > 1) the processes."""

    def __init__(self, elements: ElementSet, chunk: int, workers: int) -> None:
        from sgp4.api import SatrecArray

        if int(workers) != workers or workers < 1:
            raise InputError(f"workers must be a positive integer, got {workers}")
        n = len(elements)
        workers = int(min(workers, -(-n // _MIN_SATS_PER_WORKER)))
        if workers > 1 and "fork" not in multiprocessing.get_all_start_methods():
            workers = 1
        self.workers = workers
        self.n_sats = n
        self.chunk = chunk
        # created before the fork, so the workers share them
        shared = workers > 1
        self.pool = [
            _Buffers(n, chunk, shared) for _ in range(_POOL_SHARED if shared else _POOL_LOCAL)
        ]
        self.work = _GroupWork(min(n, _GROUP_SATS) * chunk)
        satrecs = elements.to_satrecs()
        # an equal share of the satellites per worker, in groups of up to _GROUP_SATS
        bounds = np.linspace(0, n, workers + 1).round().astype(int)
        self.parts = [
            [
                (
                    slice(a, min(hi, a + _GROUP_SATS)),
                    SatrecArray(satrecs[a : min(hi, a + _GROUP_SATS)]),
                )
                for a in range(lo, hi, _GROUP_SATS)
            ]
            for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        ]
        self.procs: list[Any] = []
        self.conns: list[Any] = []

    def __enter__(self) -> _Engine:
        if self.workers > 1:
            ctx = multiprocessing.get_context("fork")
            for part in self.parts:
                parent, child = ctx.Pipe()
                proc = ctx.Process(
                    target=_worker_loop, args=(child, part, self.pool, self.work), daemon=True
                )
                proc.start()
                child.close()
                self.procs.append(proc)
                self.conns.append(parent)
        return self

    def free_slot(self, busy: int | None = None) -> int | None:
        """A pool index whose buffers no caller holds (other than ``busy``), or None."""
        for i, buffers in enumerate(self.pool):
            if i != busy and buffers.free:
                return i
        return None

    def run(
        self, block: np.ndarray, *, velocities: bool, geodetic: bool, keep: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Compute one block in this process (``workers == 1``).

        ``keep``: return arrays the caller may keep (from a free buffer set of the pool, or
        fresh ones when the caller still holds all of them); else working views.
        """
        steps = len(block)
        slot = self.free_slot()
        buffers = self.pool[slot] if slot is not None else _Buffers(self.n_sats, self.chunk, False)
        jd, fr = to_jd_pair(block)
        _compute_block(
            self.parts[0],
            buffers,
            self.work,
            steps,
            jd,
            fr,
            gmst_rad(jd, fr),
            velocities,
            geodetic,
        )
        return buffers.hand_out(steps) if keep else buffers.views(steps)

    def submit(self, block: np.ndarray, slot: int, velocities: bool, geodetic: bool) -> None:
        """Start the workers on ``block``, writing into buffer set ``slot``."""
        jd, fr = to_jd_pair(block)
        args = (slot, len(block), jd, fr, gmst_rad(jd, fr), velocities, geodetic)
        for conn in self.conns:
            conn.send(args)

    def wait(self) -> None:
        """Wait for the block in flight."""
        errors = [conn.recv() for conn in self.conns]
        failed = [e for e in errors if e is not None]
        if failed:
            raise RuntimeError(f"propagation worker failed: {failed[0]}")

    def __exit__(self, *exc: object) -> Literal[False]:
        for conn in self.conns:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        for conn in self.conns:
            conn.close()
        self.procs.clear()
        self.conns.clear()
        for buffers in self.pool:
            buffers.close()
        return False


def elements_from_satrecs(
    satrecs: list[Any], names: list[str] | None = None, *, source: str = ""
) -> ElementSet:
    """An :class:`ElementSet` from ``sgp4.api.Satrec`` objects (e.g. ``Satrec.twoline2rv``).

    Examples
    --------
    >>> from sgp4.api import Satrec
    >>> sat = Satrec.twoline2rv(
    ...     "1 44714U 19074B   26053.95338319  .00001514  00000+0  61711-4 0  9998",
    ...     "2 44714  53.1565 247.2957 0001251  94.4223 265.6921 15.31035506346616")
    >>> es = elements_from_satrecs([sat], ["STARLINK-1008"])
    >>> int(es.norad_ids[0]), float(es.inclination_deg[0])
    (44714, 53.1565)
    """
    n = len(satrecs)
    xpdotp = 1440.0 / (2.0 * np.pi)
    jd = np.array([s.jdsatepoch for s in satrecs], dtype=np.float64)
    fr = np.array([s.jdsatepochF for s in satrecs], dtype=np.float64)
    # Julian date pair -> ns since 1970, rounded to the microsecond the TLE field carries
    days = (jd - 2440587.5) + fr
    ns = np.round(days * 86400e6).astype(np.int64) * 1000
    return ElementSet(
        names=np.array(names if names is not None else [""] * n, dtype=object),
        norad_ids=np.array([s.satnum for s in satrecs], dtype=np.int64),
        international_designators=np.array([s.intldesg for s in satrecs], dtype=object),
        epochs=ns.astype("datetime64[ns]"),
        inclination_deg=np.round(np.degrees([s.inclo for s in satrecs]), 10),
        raan_deg=np.round(np.degrees([s.nodeo for s in satrecs]), 10),
        eccentricity=np.array([s.ecco for s in satrecs], dtype=np.float64),
        arg_perigee_deg=np.round(np.degrees([s.argpo for s in satrecs]), 10),
        mean_anomaly_deg=np.round(np.degrees([s.mo for s in satrecs]), 10),
        mean_motion_rev_per_day=np.array([s.no_kozai for s in satrecs]) * xpdotp,
        bstar=np.array([s.bstar for s in satrecs], dtype=np.float64),
        mean_motion_dot=np.array([s.ndot for s in satrecs]) * (xpdotp * 1440.0),
        mean_motion_ddot=np.array([s.nddot for s in satrecs]) * (xpdotp * 1440.0 * 1440.0),
        classification=np.array([s.classification for s in satrecs], dtype=object),
        element_set_no=np.array([s.elnum for s in satrecs], dtype=np.int64),
        rev_at_epoch=np.array([s.revnum for s in satrecs], dtype=np.int64),
        source=source,
    )
