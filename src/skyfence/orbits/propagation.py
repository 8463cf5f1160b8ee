"""The propagation engine: SGP4 for many satellites over blocks of time steps, fast.

:class:`~skyfence.orbits.constellation.Constellation` asks this module for positions; this
module knows nothing of shells or planes, only element sets and times.

How it is fast
--------------
* **Blocks of time steps.** Times are cut into blocks of ``chunk`` steps sized so that the
  working buffers stay within 64 MB (:func:`propagation_chunk_steps`), so memory is bounded
  however long the run.
* **Satellite groups.** Within a block, satellites are handled in groups of
  :data:`GROUP_SATS` (one ``sgp4.api.SatrecArray`` each), so that a group's arrays stay in
  the CPU cache from SGP4 through the TEME → Earth-fixed rotation to the WGS84 geodetic
  conversion (:func:`compute_block`).
* **No copies.** Each block is computed into one of a small pool of preallocated buffers
  (:class:`Buffers`) and handed to the caller as is; a buffer is reused only once every
  array of the block it holds has been dropped (a weak reference tells), so a block the
  caller keeps never changes.
* **Workers.** ``SatrecArray.sgp4`` holds the GIL, so ``workers=N`` splits the satellites
  over N forked processes (:class:`Engine`) that write into shared memory (``MAP_SHARED``
  buffers created before the fork); the workers compute block k+1 while the caller uses
  block k. On platforms without ``fork`` the work runs in this process.
"""

from __future__ import annotations

import mmap
import multiprocessing
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from skyfence.errors import InputError
from skyfence.geodesy import _GeodeticWorkspace
from skyfence.orbits.frames import EARTH_ROTATION_RAD_S, gmst_rad
from skyfence.timeutil import to_jd_pair

if TYPE_CHECKING:
    from skyfence.orbits.elements import ElementSet

__all__ = [
    "GROUP_SATS",
    "ProgressCallback",
    "propagation_chunk_steps",
    "check_times",
    "check_dtype",
    "iter_blocks",
    "Engine",
    "Buffers",
    "GroupWork",
    "compute_block",
]

ProgressCallback = Callable[[int, int], None]

_WORK_BYTES = 64 * 1024 * 1024  # working buffer per block of time steps
# satellites per SatrecArray and per rotation/geodetic pass (6,144 points at 96 steps): the
# group's arrays and the geodetic workspace (~0.9 MB) stay in a 1 MB L2 cache from SGP4 to
# the geodetic conversion. 128 was as fast on average but varied twice as much from run to
# run (it leans on the L3 cache shared with the other core); the ~60 numpy calls per group
# cost ~5 ns per sat-step at 64.
GROUP_SATS = 64
_MIN_SATS_PER_WORKER = 64  # fewer workers than asked for when there are few satellites
_BYTES_PER_SAT_STEP = 1 + 3 * 8 + 3 * 8 + 3 * 8  # error code, r, v, lat/lon/alt


def propagation_chunk_steps(n_sats: int, budget_bytes: int = _WORK_BYTES) -> int:
    """Time steps per block so that the working buffers stay within ``budget_bytes``."""
    return max(1, int(budget_bytes // (max(1, n_sats) * _BYTES_PER_SAT_STEP)))


def check_times(times: Any) -> np.ndarray:
    """``times`` as a flat ``datetime64[ns]`` array; InputError if they are not datetimes."""
    arr = np.asarray(times)
    if arr.dtype.kind != "M":
        raise InputError(
            "times must be UTC datetime64 values (e.g. skyfence.timeutil.time_grid(start, "
            f"duration_s, step_s)), got dtype {arr.dtype}"
        )
    return arr.astype("datetime64[ns]").reshape(-1)


def check_dtype(dtype: Any) -> np.dtype:
    """``float64`` or ``float32`` as a numpy dtype; InputError for anything else."""
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise InputError(f"dtype must be float64 or float32, got {dt}")
    return dt


def iter_blocks(
    elements: ElementSet,
    times: np.ndarray,
    chunk: int | None,
    workers: int,
    velocities: bool,
    geodetic: bool,
    progress: ProgressCallback | None,
    *,
    keep: bool,
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Propagate ``elements`` to ``times`` block by block: yield ``(start, times, e, r, v, geo)``.

    ``e`` (S, k) uint8 SGP4 error codes, ``r`` and ``v`` (S, k, 3) Earth-fixed km and km/s
    (``v`` holds nothing unless ``velocities``), ``geo`` (3, S, k) latitude, longitude (deg)
    and height (km) on WGS84 (nothing unless ``geodetic``), for the ``k`` times of the block
    that starts at index ``start``. Rows where SGP4 failed are NaN.

    ``keep``: the arrays are the caller's to keep (they are never written again; no copy
    is made unless the caller still holds every buffer set of the pool). Otherwise they
    are working buffers, valid only until the next block is requested.
    """
    times = check_times(times)
    n_sats = len(elements)
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
    with Engine(elements, chunk, workers) as engine:
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


def _anonymous_map(size: int, shared: bool) -> mmap.mmap:
    """Anonymous memory; ``shared`` maps stay shared with processes forked afterwards."""
    size = max(1, size)
    if shared or not hasattr(mmap, "MAP_PRIVATE"):  # Windows maps are private already
        return mmap.mmap(-1, size)
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)


class Buffers:
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


class GroupWork:
    """Per-process scratch for :func:`compute_block`, sized for one satellite group."""

    def __init__(self, points: int) -> None:
        self.geo = _GeodeticWorkspace(points)
        # SGP4 always writes velocities: without velocities=True they go here, into an array
        # that stays in the cache, rather than into 22 MB of buffers per block
        self.velocities = np.empty(3 * points, dtype=np.float64)


def compute_block(
    groups: list[tuple[slice, Any]],
    buffers: Buffers,
    work: GroupWork,
    steps: int,
    jd: np.ndarray,
    fr: np.ndarray,
    gmst: np.ndarray,
    velocities: bool,
    geodetic: bool,
) -> None:
    """SGP4 + TEME→ECEF (+ geodetic) for each satellite group into ``buffers``.

    Groups are small (:data:`GROUP_SATS` satellites) so that one group's arrays stay in
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
    conn: Any, groups: list[tuple[slice, Any]], pool: list[Buffers], work: GroupWork
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
            compute_block(groups, pool[msg[0]], work, *msg[1:])
            conn.send(None)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            conn.send(f"{type(exc).__name__}: {exc}")
    conn.close()


_POOL_LOCAL = 2  # buffer sets for workers == 1: the block computed, the one the caller holds
_POOL_SHARED = 3  # for workers > 1: one being computed, one just done, one the caller holds


class Engine:
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
            Buffers(n, chunk, shared) for _ in range(_POOL_SHARED if shared else _POOL_LOCAL)
        ]
        self.work = GroupWork(min(n, GROUP_SATS) * chunk)
        satrecs = elements.to_satrecs()
        self.satrecs = satrecs  # one Satrec per satellite (for callers that need one alone)
        # an equal share of the satellites per worker, in groups of up to GROUP_SATS
        bounds = np.linspace(0, n, workers + 1).round().astype(int)
        self.parts = [
            [
                (
                    slice(a, min(hi, a + GROUP_SATS)),
                    SatrecArray(satrecs[a : min(hi, a + GROUP_SATS)]),
                )
                for a in range(lo, hi, GROUP_SATS)
            ]
            for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        ]
        self.procs: list[Any] = []
        self.conns: list[Any] = []

    def __enter__(self) -> Engine:
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
        buffers = self.pool[slot] if slot is not None else Buffers(self.n_sats, self.chunk, False)
        jd, fr = to_jd_pair(block)
        compute_block(
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

    def compute(
        self, block: np.ndarray, *, velocities: bool, geodetic: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Compute one block (any number of workers) and wait for it: working views
        ``(e, r, v, geo)``, valid until the next call."""
        if self.workers == 1:
            return self.run(block, velocities=velocities, geodetic=geodetic, keep=False)
        self.submit(block, 0, velocities, geodetic)
        self.wait()
        return self.pool[0].views(len(block))

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
