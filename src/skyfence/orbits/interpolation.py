"""Dense time grids faster than SGP4: propagate coarse knots, interpolate the fine steps.

SGP4 costs about 450 ns per satellite and time step. Positions along an orbit are smooth,
so :func:`iter_interpolated` runs SGP4 (the engine of :mod:`skyfence.orbits.propagation`)
only at *knots* ``h`` seconds apart and fills every time in between with the degree-7
polynomial through the eight nearest knots (Lagrange interpolation of the Earth-fixed
positions; knots ``-3h .. +4h`` around the interval, so every time is interpolated between
its middle knots). The knot step ``h`` is chosen from the tolerance (:func:`knot_step_s`).

Why positions only, not Hermite on positions and velocities: SGP4's velocities are not the
time derivative of its positions (the secular drag terms are left out of the velocity): on
the 2026-02-22 Starlink snapshot they differ from a central difference of the positions by
1.1 cm/s at the median and up to 2 m/s, and a Hermite interpolant through positions and
velocities at four knots 5 minutes apart was off by up to 16 m on 300 real satellites (this
one: 3 m). The positions themselves are smooth: the error of this interpolant falls as
``h^8``.

How the tolerance is kept, in three steps (checked by the tests against plain SGP4 on the
real snapshot and on Vallado's verification orbits, and against skyfield):

1. **The knot step** comes from a model: for a satellite with mean semi-major axis ``a``,
   eccentricity ``e`` and mean motion ``n``, the Earth-fixed position's eighth derivative is
   about ``a w^8`` with ``w = n (1+e)^2/(1-e^2)^1.5 + w_earth`` (the angular rate at perigee
   seen from the rotating Earth), so the error is about ``a (w h)^8 max|prod(u - x_j)| / 8!``;
   ``h`` is chosen for a third of the tolerance. One step serves the whole set: its most
   demanding satellite sets it.
2. **Every interval's error is then estimated** from the knots themselves (the next term of
   the interpolant, :func:`_estimate_km`); a satellite whose estimate exceeds the tolerance
   in an interval, or whose SGP4 fails at one of its knots (a decayed satellite), is
   propagated exactly over that block of times, so error codes and NaN rows are SGP4's own.
3. **SGP4's kinks** are not seen by any estimate from knots, so the satellites that have
   them are propagated exactly: deep-space resonant orbits (SGP4 integrates the resonance in
   720-minute steps) and orbits whose eccentricity drag drives to SGP4's floor during the
   run (:func:`_kinked`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from skyfence.errors import InputError
from skyfence.geodesy import ecef_to_geodetic
from skyfence.orbits.frames import EARTH_ROTATION_RAD_S, gmst_rad, teme_to_ecef
from skyfence.orbits.physics import MU_WGS72_KM3_S2, R_WGS72_KM, semi_major_axis_km
from skyfence.orbits.propagation import (
    Buffers,
    Engine,
    ProgressCallback,
    check_times,
    iter_blocks,
    propagation_chunk_steps,
)
from skyfence.timeutil import to_jd_pair

if TYPE_CHECKING:
    from skyfence.orbits.elements import ElementSet

__all__ = [
    "DEFAULT_TOLERANCE_M",
    "NODES",
    "MAX_KNOT_STEP_S",
    "lagrange_weights",
    "knot_step_s",
    "iter_interpolated",
]

DEFAULT_TOLERANCE_M = 10.0
"""Default largest position error of interpolation against plain SGP4, metres."""

NODES = np.arange(-3.0, 5.0)
"""Knot positions, in knot steps, around the interval [0, 1] a time falls in."""

MAX_KNOT_STEP_S = 1800.0
"""Knots are never further apart than this, however slow the orbits."""

_SAFETY = 3.0  # measured errors are 1.5x the model; keep a further factor 2
_GROUP_ROWS = 512  # satellites per matrix product in the general (non-uniform) path
# OpenBLAS runs a matrix product of m x n x k below 65536 * 4 multiply-adds on one thread;
# above it, it starts threads, which on a machine whose cores are busy (with the SGP4 work,
# or with workers) wait for each other: the uniform path measured 3x slower. Products are cut
# to stay below it (they then also stay in the L1/L2 cache).
_SINGLE_THREAD_MNK = 65_536 * 4


def _node_polynomial_max() -> float:
    u = np.linspace(0.0, 1.0, 2001)
    return float(np.abs(np.prod(u[:, None] - NODES[None, :], axis=1)).max())


_ERROR_FACTOR = _node_polynomial_max() / math.factorial(len(NODES))  # 43.07 / 8!
_ESTIMATE_PAD = 1  # knots the estimate needs beyond the interpolant's, on each side
_ECCENTRICITY_FLOOR = 1.0e-6  # SGP4 clamps the mean eccentricity here
XKE_PER_MIN = 60.0 / math.sqrt(R_WGS72_KM**3 / MU_WGS72_KM3_S2)  # sqrt(mu), earth radii/min


def lagrange_weights(u: np.ndarray, derivative: bool = False) -> np.ndarray:
    """``(len(u), 8)`` weights of the knots at :data:`NODES` for the times ``u`` in [0, 1].

    With ``derivative``, the weights of the interpolant's derivative per knot step.

    Examples
    --------
    >>> w = lagrange_weights(np.array([0.0, 0.5]))
    >>> w[0].round(12).tolist() == [0, 0, 0, 1, 0, 0, 0, 0], round(float(w[1].sum()), 12)
    (True, 1.0)
    """
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    k = len(NODES)
    weights = np.empty((len(u), k))
    for j in range(k):
        others = np.delete(NODES, j)
        denom = np.prod(NODES[j] - others)
        if not derivative:
            weights[:, j] = np.prod(u[:, None] - others[None, :], axis=1) / denom
        else:  # d/du of prod(u - x_i) = sum over i of prod over the others
            total = np.zeros(len(u))
            for i in range(k - 1):
                total += np.prod(u[:, None] - np.delete(others, i)[None, :], axis=1)
            weights[:, j] = total / denom
    return weights


def knot_step_s(elements: ElementSet, tolerance_m: float = DEFAULT_TOLERANCE_M) -> float:
    """The knot step (seconds) that keeps every satellite of ``elements`` within tolerance.

    See the module docstring for the error model; at most :data:`MAX_KNOT_STEP_S`.

    Examples
    --------
    >>> from skyfence.orbits import Constellation
    >>> round(knot_step_s(Constellation.from_preset("starlink-gen1").elements))
    326
    """
    if not (isinstance(tolerance_m, int | float) and math.isfinite(tolerance_m)) or (
        tolerance_m <= 0
    ):
        raise InputError(f"tolerance_m must be a positive number of metres, got {tolerance_m!r}")
    if len(elements) == 0:
        return MAX_KNOT_STEP_S
    smooth = ~_resonant(elements)  # propagated exactly: their step does not matter
    if not smooth.any():
        return MAX_KNOT_STEP_S
    elements = elements[smooth]
    e = elements.eccentricity
    n_rad_s = elements.mean_motion_rev_per_day * (2.0 * np.pi / 86_400.0)
    rate = n_rad_s * (1.0 + e) ** 2 / (1.0 - e * e) ** 1.5 + EARTH_ROTATION_RAD_S
    a_m = 1000.0 * semi_major_axis_km(elements.mean_motion_rev_per_day, e, elements.inclination_deg)
    h = (tolerance_m / (_SAFETY * _ERROR_FACTOR * a_m)) ** 0.125 / rate
    return float(min(MAX_KNOT_STEP_S, np.min(h)))


def _exact(
    satrec: Any, times: np.ndarray, velocities: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain SGP4 for one satellite: error codes, Earth-fixed positions and velocities."""
    jd, fr = to_jd_pair(times)
    e, r, v = satrec.sgp4_array(jd, fr)
    r, v = teme_to_ecef(r, gmst_rad(jd, fr), v if velocities else None)
    bad = e != 0
    r[bad] = np.nan
    if v is not None:
        v[bad] = np.nan
    return e.astype(np.uint8), r, v if v is not None else np.empty((len(times), 3))


def iter_interpolated(
    elements: ElementSet,
    times: np.ndarray,
    *,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    chunk: int | None = None,
    workers: int = 1,
    velocities: bool = False,
    geodetic: bool = False,
    progress: ProgressCallback | None = None,
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Like :func:`~skyfence.orbits.propagation.iter_blocks`, with interpolated positions.

    Yields ``(start, times, e, r, v, geo)`` per block of times (the caller may keep the
    arrays). ``times`` must not decrease. Velocities, when asked for, are the derivative of
    the interpolated positions (the true rate of change of SGP4's positions, which SGP4's
    own velocity output is not: see the module docstring). When the times are already as
    far apart as the knots would be, this is plain SGP4 (:func:`iter_blocks`).
    """
    times = check_times(times)
    h_s = knot_step_s(elements, tolerance_m)
    n_sats, total = len(elements), len(times)
    if chunk is None:
        chunk = propagation_chunk_steps(n_sats)
    if int(chunk) != chunk or int(chunk) < 1:
        raise InputError(f"chunk must be a whole number of time steps >= 1, got {chunk}")
    offsets = (times - times[0]).astype(np.int64) if total else np.zeros(0, np.int64)
    if total > 1 and (np.diff(offsets) < 0).any():
        raise InputError(
            "interpolation needs times in increasing order; sort them (np.sort) or pass "
            "interpolate=False"
        )
    steps = np.diff(offsets)
    uniform = total > 2 and bool((steps == steps[0]).all()) and steps[0] > 0
    if uniform:  # knots on the grid: every interval has the same fine times
        h_ns = int(h_s * 1e9) // int(steps[0]) * int(steps[0])
    else:
        h_ns = int(h_s * 1e9)
    spacing = np.median(steps) if total > 1 else 0
    if total == 0 or n_sats == 0 or h_ns < 2 * max(spacing, 1):
        yield from iter_blocks(
            elements, times, chunk, workers, velocities, geodetic, progress, keep=True
        )
        return
    yield from _interpolate(
        elements,
        times,
        offsets,
        h_ns,
        float(tolerance_m),
        int(chunk),
        workers,
        velocities,
        geodetic,
        progress,
    )


def _interpolate(
    elements: ElementSet,
    times: np.ndarray,
    offsets: np.ndarray,
    h_ns: int,
    tolerance_m: float,
    chunk: int,
    workers: int,
    velocities: bool,
    geodetic: bool,
    progress: ProgressCallback | None,
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    n_sats, total = len(elements), len(times)
    interval = offsets // h_ns  # of each time: it lies between knots interval and interval+1
    n_intervals = int(interval[-1]) + 1
    lo, hi = int(NODES[0]), int(NODES[-1])  # knots -3 .. +4 around an interval
    width = hi - lo + 1
    tolerance_km = tolerance_m / 1000.0
    step = np.timedelta64(h_ns, "ns")
    # times per interval, as a block of the output: whole intervals, about `chunk` times
    times_per_interval = h_ns / max(1.0, float(np.median(np.diff(offsets))))
    per_block = max(1, int(chunk / times_per_interval))
    knots_per_call = max(width, propagation_chunk_steps(n_sats))
    first = np.searchsorted(interval, np.arange(n_intervals + 1))  # first time of each
    spacing = int(offsets[1] - offsets[0]) if total > 1 else 0
    uniform_m = h_ns // spacing if spacing and (np.diff(offsets) == spacing).all() else 0
    if uniform_m:  # the weights of the m times of every interval, as one matrix
        grid_u = np.arange(uniform_m) / uniform_m
        grid_w = _interleaved(lagrange_weights(grid_u))
        grid_dw = _interleaved(lagrange_weights(grid_u, derivative=True) / (h_ns * 1e-9))
    bounds = list(range(0, n_intervals, per_block)) + [n_intervals]  # intervals per block
    longest = max(
        int(first[k1] - first[k0]) for k0, k1 in zip(bounds[:-1], bounds[1:], strict=True)
    )
    # output blocks come from two reusable buffer sets (handed over without a copy, reused
    # once the caller dropped them), as in iter_blocks: fresh 20 MB arrays per block cost
    # more in page faults than the interpolation itself
    pool = [Buffers(n_sats, longest, shared=False) for _ in range(2)]
    if progress is not None:
        progress(0, total)
    window_r = np.empty((n_sats, 0, 3))
    window_e = np.empty((n_sats, 0), dtype=np.uint8)
    # one more knot on each side than the interpolant uses, for the error estimate
    pad = _ESTIMATE_PAD
    window_start = lo - pad  # knot index of window[:, 0]
    next_knot = lo - pad
    last_knot = n_intervals - 1 + hi + pad
    with Engine(elements, knots_per_call, workers) as engine:
        exact = _kinked(
            elements, engine.satrecs, times[0] + step * (lo - pad), times[0] + step * last_knot
        )
        for k0, k1 in zip(bounds[:-1], bounds[1:], strict=True):
            # knots for these intervals: extend the window, drop knots no longer needed
            while next_knot <= k1 - 1 + hi + pad:
                stop = min(last_knot, next_knot + knots_per_call - 1) + 1
                knot_times = times[0] + step * np.arange(next_knot, stop)
                e, r, _, _ = engine.compute(knot_times, velocities=False, geodetic=False)
                keep_from = k0 + lo - pad - window_start
                window_r = np.concatenate([window_r[:, keep_from:], r], axis=1)
                window_e = np.concatenate([window_e[:, keep_from:], e], axis=1)
                window_start += keep_from
                next_knot = stop
            a, b = int(first[k0]), int(first[k1])
            block = times[a:b]
            e_out, r_out, v_out, geo = _output(pool, n_sats, b - a)
            full = k0
            if uniform_m:  # whole intervals of m times each: one matrix product per group
                while full < k1 and first[full + 1] - first[full] == uniform_m:
                    full += 1
                if full > k0:
                    j = k0 + lo - window_start
                    knots = np.lib.stride_tricks.sliding_window_view(
                        window_r[:, j : j + full - k0 + width - 1], width, axis=1
                    )  # (S, intervals, 3, width)
                    s1 = int(first[full]) - a
                    _fill_uniform(knots, grid_w, r_out, s1)
                    if velocities:
                        _fill_uniform(knots, grid_dw, v_out, s1)
            for k in range(full, k1):
                s0, s1 = int(first[k]) - a, int(first[k + 1]) - a
                if s1 == s0:
                    continue
                u = (offsets[a + s0 : a + s1] - k * h_ns) / h_ns
                j = k + lo - window_start
                _fill(window_r[:, j : j + width], u, r_out[:, s0:s1], v_out, s0, s1, h_ns)
            failed = _failed(window_e, k0 + lo - window_start, k1 - k0, width)
            failed |= ~(
                _estimate_km(window_r, k0 + lo - pad - window_start, k1 - k0) <= tolerance_km
            )
            for sat in np.flatnonzero(failed.any(axis=1) | exact):
                e_x, r_x, v_x = _exact(engine.satrecs[sat], block, velocities)
                e_out[sat], r_out[sat] = e_x, r_x
                if velocities:
                    v_out[sat] = v_x
            if geodetic:
                ecef_to_geodetic(r_out, out=(geo[0], geo[1], geo[2]))
            yield (
                a,
                block,
                e_out,
                r_out,
                v_out if velocities else v_out[:, :0],
                geo if geodetic else geo[:, :, :0],
            )
            if progress is not None:
                progress(b, total)


def _output(
    pool: list[Buffers], n_sats: int, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(e, r, v, geo)`` for one block: from a free buffer set, else fresh; ``e`` zeroed."""
    for buffers in pool:
        if buffers.free:
            e, r, v, geo = buffers.hand_out(steps)
            e[...] = 0
            return e, r, v, geo
    return (
        np.zeros((n_sats, steps), dtype=np.uint8),
        np.empty((n_sats, steps, 3)),
        np.empty((n_sats, steps, 3)),
        np.empty((3, n_sats, steps)),
    )


def _estimate_km(window_r: np.ndarray, at: int, count: int) -> np.ndarray:
    """``(S, count)`` estimated interpolation error of ``count`` intervals, km (NaN: unknown).

    The next term of the interpolant: the eighth difference of the nine knots ``-4..4`` or
    ``-3..5`` around the interval (the larger) times ``max|prod(u - x_j)| / 8!``, with a
    factor 1.5 (measured errors reach 1.4 times the bare estimate on eccentric orbits).
    ``window_r[:, at]`` is knot ``-4`` of the first interval.
    """
    knots = window_r[:, at : at + count + 9]  # knots -4 .. +5 of each interval
    d8 = np.linalg.norm(np.diff(knots, n=8, axis=1), axis=-1)  # (S, count + 1)
    return np.fmax(d8[:, :-1], d8[:, 1:]) * (1.5 * _ERROR_FACTOR)


def _resonant(elements: ElementSet) -> np.ndarray:
    """``(S,)``: deep-space resonant orbits, as SGP4's dsinit classes them on the Brouwer
    mean motion (0.8-1.2 rev/day; 1.893-2.117 rev/day with e >= 0.5), widened by 2 %. SGP4
    integrates their resonance terms in 720-minute steps, and each restart kinks the motion
    (interpolated errors of several times the tolerance on Vallado's cases)."""
    a_er = (
        semi_major_axis_km(
            elements.mean_motion_rev_per_day, elements.eccentricity, elements.inclination_deg
        )
        / R_WGS72_KM
    )
    n = XKE_PER_MIN / a_er**1.5 * (1440.0 / (2.0 * np.pi))  # Brouwer mean motion, rev/day
    e = elements.eccentricity
    return ((0.8 / 1.02 < n) & (n < 1.2 * 1.02)) | (
        (1.893 / 1.02 <= n) & (n <= 2.117 * 1.02) & (e >= 0.5 / 1.02)
    )


def _kinked(
    elements: ElementSet, satrecs: list[Any], first: np.ndarray, last: np.ndarray
) -> np.ndarray:
    """``(S,)``: satellites whose SGP4 positions have a kink near the run, to propagate
    exactly: the deep-space resonant ones (:func:`_resonant`), and those whose mean
    eccentricity drag drives to SGP4's floor (1e-6) between the ``first`` and ``last`` knot:
    SGP4 clamps it there, a kink of ~0.1 m/s. ``Satrec.em`` after propagating to either end
    tells: clamped at one end and not at the other.
    """
    clamped = np.zeros(len(elements), dtype=bool)
    jd, fr = to_jd_pair(np.array([first, last]))
    for i, satrec in enumerate(satrecs):
        ends = []
        for k in range(2):
            satrec.sgp4(jd[k], fr[k])
            ends.append(satrec.em <= _ECCENTRICITY_FLOOR)
        clamped[i] = ends[0] != ends[1]
    return _resonant(elements) | clamped


def _failed(window_e: np.ndarray, at: int, count: int, width: int) -> np.ndarray:
    """``(S, count)``: True where any of the ``width`` knots of an interval failed."""
    bad = window_e[:, at : at + count + width - 1] != 0
    if not bad.any():
        return np.zeros((window_e.shape[0], count), dtype=bool)
    cum = np.concatenate([np.zeros((bad.shape[0], 1), np.int64), np.cumsum(bad, axis=1)], 1)
    return (cum[:, width : width + count] - cum[:, :count]) > 0


def _interleaved(w: np.ndarray) -> np.ndarray:
    """``(8*3, n*3)``: the weights ``w`` (n, 8) acting on (knot, xyz) rows, giving (time,
    xyz) columns, so that one matrix product writes (S, n, 3) positions in place."""
    n, k = w.shape
    out = np.zeros((k, 3, n, 3))
    for c in range(3):
        out[:, c, :, c] = w.T
    return out.reshape(k * 3, n * 3)


def _fill_uniform(knots: np.ndarray, weights: np.ndarray, out: np.ndarray, count: int) -> None:
    """Interpolate whole intervals of m times each into ``out[:, :count]``: ``knots``
    (S, n_int, 3, 8) windows, ``weights`` from :func:`_interleaved` (24, 3m)."""
    n_sats, n_int = knots.shape[:2]
    if count < out.shape[1]:  # not the whole block: through a contiguous array
        part = np.empty((n_sats, count, 3))
        _fill_uniform(knots, weights, part, count)
        out[:, :count] = part
        return
    flat = out.reshape(n_sats * n_int, -1)  # rows (satellite, interval) of m x 3 values
    assert np.shares_memory(flat, out)
    group = max(1, _SINGLE_THREAD_MNK // (weights.size * n_int))
    for g0 in range(0, n_sats, group):
        g1 = min(n_sats, g0 + group)
        rows = knots[g0:g1].transpose(0, 1, 3, 2).reshape((g1 - g0) * n_int, -1)
        np.matmul(rows, weights, out=flat[g0 * n_int : g1 * n_int])


def _fill(
    knots: np.ndarray,
    u: np.ndarray,
    r_out: np.ndarray,
    v_out: np.ndarray,
    s0: int,
    s1: int,
    h_ns: int,
) -> None:
    """Interpolate one interval: ``knots`` (S, 8, 3) Earth-fixed positions, ``u`` the times
    as fractions of the interval; write ``r_out`` (S, n, 3) and ``v_out[:, s0:s1]``."""
    w = lagrange_weights(u)  # (n, 8)
    n_sats = knots.shape[0]
    for g0 in range(0, n_sats, _GROUP_ROWS):
        g1 = min(n_sats, g0 + _GROUP_ROWS)
        # (g, 3, 8) @ (8, n) -> (g, 3, n), written as (g, n, 3)
        part = np.matmul(knots[g0:g1].transpose(0, 2, 1), w.T)
        r_out[g0:g1] = part.transpose(0, 2, 1)
    if v_out.shape[1]:
        dw = lagrange_weights(u, derivative=True) / (h_ns * 1e-9)
        v_out[:, s0:s1] = np.matmul(knots.transpose(0, 2, 1), dw.T).transpose(0, 2, 1)
