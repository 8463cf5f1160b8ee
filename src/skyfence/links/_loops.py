"""The compiled loops of :mod:`skyfence.links.compiled` (imports numba: import lazily).

Every loop runs the exact elevation test of :class:`~skyfence.links.visibility.SiteIndex` with
the operations of its numpy kernel in the same order (see :mod:`skyfence.links.compiled`).
Two ways to reach a site's candidates: the site's own runs of grid cells (``run_*`` loops), or
its tile's candidates gathered once per step (``tile_*`` loops; see ``visibility.Tiles``; their
site-side arrays ``gx .. sin2`` are in tile order, ``member[q]`` being the site of entry ``q``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

_jit = njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
_inline = njit(cache=True, nogil=True, boundscheck=False, error_model="numpy", inline="always")

# ---------------------------------------------------------------- the exact test of one block


@_inline
def _test(
    cx: Any, cy: Any, cz: Any, a: int, b: int, g0: float, g1: float, g2: float,
    u0: float, u1: float, u2: float, s2: float, check_zero: bool, max_range2: float,
    r2buf: Any, dotbuf: Any,
) -> int:  # fmt: skip
    """Candidates ``a .. b-1``: ``r2buf[j - a]`` = squared range if visible else -1, ``dotbuf``
    the dot product; returns how many are visible."""
    n = 0
    for j in range(a, b):
        dx = cx[j] - g0
        dy = cy[j] - g1
        dz = cz[j] - g2
        dot = dx * u0
        dot += dy * u1
        dot += dz * u2
        r2 = dx * dx
        r2 += dy * dy
        r2 += dz * dz
        ok = (dot * dot >= s2 * r2) & (dot >= 0) & (r2 <= max_range2)
        if check_zero:
            ok = ok & (r2 > 0)
        r2buf[j - a] = r2 if ok else -1.0
        dotbuf[j - a] = dot
        n += ok
    return n


# ---------------------------------------------------------------- tiles: candidates per step


@_jit
def tile_gather(
    first_run: Any, run_lo: Any, run_hi: Any, cell_start: Any, sx: Any, sy: Any, sz: Any,
    sat_id: Any,
) -> tuple[Any, Any, Any, Any, Any, Any]:  # fmt: skip
    """Each tile's candidates in run order: ``(start (T+1,), x, y, z, slot, satellite)``."""
    n_tiles = len(first_run) - 1
    start = np.zeros(n_tiles + 1, np.int64)
    for t in range(n_tiles):
        c = 0
        for r in range(first_run[t], first_run[t + 1]):
            c += cell_start[run_hi[r]] - cell_start[run_lo[r]]
        start[t + 1] = start[t] + c
    total = start[n_tiles]
    cx = np.empty(total)
    cy = np.empty(total)
    cz = np.empty(total)
    slot = np.empty(total, np.int64)
    sat = np.empty(total, np.int64)
    p = 0
    for t in range(n_tiles):
        for r in range(first_run[t], first_run[t + 1]):
            for j in range(cell_start[run_lo[r]], cell_start[run_hi[r]]):
                cx[p] = sx[j]
                cy[p] = sy[j]
                cz[p] = sz[j]
                slot[p] = j
                sat[p] = sat_id[j]
                p += 1
    return start, cx, cy, cz, slot, sat


@_jit
def _max_block(start: Any) -> int:
    m = 0
    for t in range(len(start) - 1):
        m = max(m, start[t + 1] - start[t])
    return m


@_jit
def tile_count(
    member: Any, first_member: Any, start: Any, cx: Any, cy: Any, cz: Any,
    gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any, check_zero: bool,
    max_range2: float, stop_at_one: bool, out: Any,
) -> None:  # fmt: skip
    """``out[q]`` = visible satellites of each tiled site, in member order (``stop_at_one``: 1
    if any; candidates tested eight at a time until one is visible)."""
    m = _max_block(start)
    r2buf = np.empty(m)
    dotbuf = np.empty(m)
    for t in range(len(start) - 1):
        a, b = start[t], start[t + 1]
        for q in range(first_member[t], first_member[t + 1]):
            g0, g1, g2, u0, u1, u2, s2 = gx[q], gy[q], gz[q], ux[q], uy[q], uz[q], sin2[q]
            if stop_at_one:
                n = 0
                for j in range(a, b, 8):
                    n = _test(cx, cy, cz, j, min(j + 8, b), g0, g1, g2, u0, u1, u2, s2,
                              check_zero, max_range2, r2buf, dotbuf)  # fmt: skip
                    if n:
                        break
                out[q] = min(n, 1)
            else:
                out[q] = _test(cx, cy, cz, a, b, g0, g1, g2, u0, u1, u2, s2, check_zero,
                               max_range2, r2buf, dotbuf)  # fmt: skip


@_jit
def tile_fill(
    member: Any, first_member: Any, start: Any, cx: Any, cy: Any, cz: Any, cslot: Any,
    gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any, check_zero: bool,
    max_range2: float, ordered: Any, offset: Any, out_site: Any, out_slot: Any, out_dot: Any,
    out_rng: Any,
) -> None:  # fmt: skip
    """Write the visible pairs of each tiled site with ``ordered[q]`` (its rows are in its
    tile's candidate order) from ``offset[i]`` on."""
    m = _max_block(start)
    r2buf = np.empty(m)
    dotbuf = np.empty(m)
    for t in range(len(start) - 1):
        a, b = start[t], start[t + 1]
        for q in range(first_member[t], first_member[t + 1]):
            if not ordered[q]:
                continue
            i = member[q]
            n = _test(cx, cy, cz, a, b, gx[q], gy[q], gz[q], ux[q], uy[q], uz[q], sin2[q],
                      check_zero, max_range2, r2buf, dotbuf)  # fmt: skip
            if n == 0:
                continue
            p = offset[i]
            for j in range(b - a):
                if r2buf[j] >= 0:
                    out_site[p] = i
                    out_slot[p] = cslot[a + j]
                    out_dot[p] = dotbuf[j]
                    out_rng[p] = np.sqrt(r2buf[j])
                    p += 1


@_jit
def tile_best(
    member: Any, first_member: Any, start: Any, cx: Any, cy: Any, cz: Any, cslot: Any,
    csat: Any, gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any,
    check_zero: bool, max_range2: float, todo: Any, source: Any, dist: Any,
    out_slot: Any, out_cost: Any, tied: Any,
) -> int:  # fmt: skip
    """For each tiled site with ``todo[q]`` (arrays in member order): the visible candidate
    with the smallest ``dist[source[q], satellite] + range`` as a sorted slot (``-1`` = none
    visible) and its cost; when no cost is finite, any visible candidate (the cost says there
    is no route). Entries whose smallest finite cost is reached more than once are listed in
    ``tied`` (their first in row order is for :func:`run_best`); returns how many."""
    m = _max_block(start)
    r2buf = np.empty(m)
    cost = np.empty(m)
    dbuf = np.empty(m)  # the tile's candidates' distances from source ``last``
    n_tied = 0
    for t in range(len(start) - 1):
        a, b = start[t], start[t + 1]
        last = -1
        for q in range(first_member[t], first_member[t + 1]):
            if not todo[q]:
                continue
            if source[q] != last:  # neighbours mostly share a source: gather once
                last = source[q]
                row = dist[last]
                for j in range(b - a):
                    dbuf[j] = row[csat[a + j]]
            n = _test(cx, cy, cz, a, b, gx[q], gy[q], gz[q], ux[q], uy[q], uz[q], sin2[q],
                      check_zero, max_range2, r2buf, cost)  # fmt: skip
            out_slot[q] = -1
            out_cost[q] = np.inf
            if n == 0:
                continue
            # cost of every candidate (inf if not visible), smallest over four lanes (exact)
            m = b - a
            lo0 = lo1 = lo2 = lo3 = np.inf
            for j in range(m):
                r2 = r2buf[j]
                c = dbuf[j] + np.sqrt(abs(r2))  # (no square root of the -1 of "not visible")
                c = c if r2 >= 0 else np.inf
                cost[j] = c
            j = 0
            while j + 4 <= m:
                lo0 = min(lo0, cost[j])
                lo1 = min(lo1, cost[j + 1])
                lo2 = min(lo2, cost[j + 2])
                lo3 = min(lo3, cost[j + 3])
                j += 4
            while j < m:
                lo0 = min(lo0, cost[j])
                j += 1
            low = min(min(lo0, lo1), min(lo2, lo3))
            hits = 0
            for j in range(m):
                hits += cost[j] == low
            first = 0
            if low < np.inf:
                while cost[first] != low:
                    first += 1
            else:
                while r2buf[first] < 0:
                    first += 1
            out_slot[q] = cslot[a + first]
            out_cost[q] = low
            if hits > 1 and low < np.inf:
                tied[n_tied] = q
                n_tied += 1
    return n_tied


# ---------------------------------------------------------------- a site's own runs


@_jit
def run_count(
    sites: Any, sx: Any, sy: Any, sz: Any, cell_start: Any, first_run: Any, run_lo: Any,
    run_hi: Any, gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any,
    check_zero: bool, max_range2: float, stop_at_one: bool, out: Any,
) -> None:  # fmt: skip
    """``out[i]`` = visible satellites of each of ``sites`` (``stop_at_one``: 1 if any)."""
    r2buf = np.empty(1)
    dotbuf = np.empty(1)
    for i in sites:
        g0, g1, g2 = gx[i], gy[i], gz[i]
        u0, u1, u2 = ux[i], uy[i], uz[i]
        n = 0
        for r in range(first_run[i], first_run[i + 1]):
            for j in range(cell_start[run_lo[r]], cell_start[run_hi[r]]):
                n += _test(sx, sy, sz, j, j + 1, g0, g1, g2, u0, u1, u2, sin2[i], check_zero,
                           max_range2, r2buf, dotbuf)  # fmt: skip
                if stop_at_one and n:
                    break
            if stop_at_one and n:
                break
        out[i] = n


@_jit
def run_fill(
    sites: Any, sx: Any, sy: Any, sz: Any, cell_start: Any, first_run: Any, run_lo: Any,
    run_hi: Any, gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any,
    check_zero: bool, max_range2: float, offset: Any, out_site: Any, out_slot: Any,
    out_dot: Any, out_rng: Any,
) -> None:  # fmt: skip
    """Write the visible pairs of each of ``sites`` from ``offset[i]`` on, in run order."""
    r2buf = np.empty(1)
    dotbuf = np.empty(1)
    for i in sites:
        g0, g1, g2 = gx[i], gy[i], gz[i]
        u0, u1, u2 = ux[i], uy[i], uz[i]
        p = offset[i]
        for r in range(first_run[i], first_run[i + 1]):
            for j in range(cell_start[run_lo[r]], cell_start[run_hi[r]]):
                if _test(sx, sy, sz, j, j + 1, g0, g1, g2, u0, u1, u2, sin2[i], check_zero,
                         max_range2, r2buf, dotbuf):  # fmt: skip
                    out_site[p] = i
                    out_slot[p] = j
                    out_dot[p] = dotbuf[0]
                    out_rng[p] = np.sqrt(r2buf[0])
                    p += 1


@_jit
def run_best(
    sites: Any, sx: Any, sy: Any, sz: Any, cell_start: Any, first_run: Any, run_lo: Any,
    run_hi: Any, gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any,
    check_zero: bool, max_range2: float, todo: Any, source: Any, dist: Any, sat_id: Any,
    out_slot: Any, out_cost: Any,
) -> None:  # fmt: skip
    """:func:`tile_best` for ``sites`` on their own runs (in run order)."""
    r2buf = np.empty(1)
    dotbuf = np.empty(1)
    for i in sites:
        if not todo[i]:
            continue
        g0, g1, g2 = gx[i], gy[i], gz[i]
        u0, u1, u2 = ux[i], uy[i], uz[i]
        k = source[i]
        best = -1
        best_cost = np.inf
        for r in range(first_run[i], first_run[i + 1]):
            for j in range(cell_start[run_lo[r]], cell_start[run_hi[r]]):
                if _test(sx, sy, sz, j, j + 1, g0, g1, g2, u0, u1, u2, sin2[i], check_zero,
                         max_range2, r2buf, dotbuf):  # fmt: skip
                    c = dist[k, sat_id[j]] + np.sqrt(r2buf[0])
                    if best < 0 or c < best_cost:
                        best = j
                        best_cost = c
        out_slot[i] = best
        out_cost[i] = best_cost
