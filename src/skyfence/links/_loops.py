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


@_inline
def _r2_if_visible(
    x: float, y: float, z: float, g0: float, g1: float, g2: float, u0: float, u1: float,
    u2: float, s2: float, check_zero: bool, max_range2: float,
) -> float:  # fmt: skip
    """:func:`_test` for one candidate: its squared range if visible, else -1."""
    dx = x - g0
    dy = y - g1
    dz = z - g2
    dot = dx * u0
    dot += dy * u1
    dot += dz * u2
    r2 = dx * dx
    r2 += dy * dy
    r2 += dz * dz
    ok = (dot * dot >= s2 * r2) & (dot >= 0) & (r2 <= max_range2)
    if check_zero:
        ok = ok & (r2 > 0)
    return r2 if ok else -1.0


# ---------------------------------------------------------------- tiles: candidates per step


@_jit
def tile_gather(
    first_run: Any, run_lo: Any, run_hi: Any, cell_start: Any, sx: Any, sy: Any, sz: Any,
    sat_id: Any, tx: Any, ty: Any, tz: Any,
) -> tuple[Any, Any, Any, Any, Any, Any, Any, Any]:  # fmt: skip
    """Each tile's candidates in run order: ``(start (T+1,), x, y, z, slot, satellite, rc,
    near)``, ``rc`` the candidate's distance from the tile's centre ``(tx, ty, tz)`` and
    ``near`` (T,) the tile's candidate nearest to it (``-1`` = none)."""
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
    rc = np.empty(total)
    near = np.full(n_tiles, -1, np.int64)
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
        a, b = start[t], start[t + 1]
        x0, y0, z0 = tx[t], ty[t], tz[t]
        for j in range(a, b):
            dx = cx[j] - x0
            dy = cy[j] - y0
            dz = cz[j] - z0
            rc[j] = np.sqrt(dx * dx + dy * dy + dz * dz)
        lo = np.inf
        for j in range(a, b):
            if rc[j] < lo:
                lo = rc[j]
                near[t] = j
    return start, cx, cy, cz, slot, sat, rc, near


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
def tile_any(
    first_member: Any, start: Any, near: Any, cx: Any, cy: Any, cz: Any, gx: Any, gy: Any,
    gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any, check_zero: bool, max_range2: float,
    out: Any,
) -> None:  # fmt: skip
    """``out[q]`` = 1 if the tiled site ``q`` sees a satellite, else 0: its tile's candidate
    nearest to the tile's centre first (nearly always visible), then the others in order."""
    for t in range(len(start) - 1):
        a, b, jn = start[t], start[t + 1], near[t]
        for q in range(first_member[t], first_member[t + 1]):
            g0, g1, g2, u0, u1, u2, s2 = gx[q], gy[q], gz[q], ux[q], uy[q], uz[q], sin2[q]
            got = 0
            if jn >= 0:
                got = _r2_if_visible(cx[jn], cy[jn], cz[jn], g0, g1, g2, u0, u1, u2, s2,
                                     check_zero, max_range2) >= 0  # fmt: skip
            if not got:
                for j in range(a, b):
                    if _r2_if_visible(cx[j], cy[j], cz[j], g0, g1, g2, u0, u1, u2, s2,
                                      check_zero, max_range2) >= 0:  # fmt: skip
                        got = 1
                        break
            out[q] = got


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


@_inline
def _best_of(
    n: int, x: Any, y: Any, z: Any, d: Any, g0: float, g1: float, g2: float, u0: float,
    u1: float, u2: float, s2: float, check_zero: bool, max_range2: float, cost: Any,
) -> tuple[float, int, int, int]:  # fmt: skip
    """Candidates ``0 .. n-1`` (coordinates ``x, y, z`` and distances ``d``): ``cost[i]`` =
    ``d + range`` if visible else inf (no branch); returns the smallest cost, the first
    candidate reaching it (``-1`` if none is finite), how many reach it, and the first
    visible candidate (``-1`` = none)."""
    for i in range(n):
        dx = x[i] - g0
        dy = y[i] - g1
        dz = z[i] - g2
        dot = dx * u0
        dot += dy * u1
        dot += dz * u2
        r2 = dx * dx
        r2 += dy * dy
        r2 += dz * dz
        ok = (dot * dot >= s2 * r2) & (dot >= 0) & (r2 <= max_range2)
        if check_zero:
            ok = ok & (r2 > 0)
        c = d[i] + np.sqrt(r2)  # (the same operations as the listed pairs' cost)
        cost[i] = c if ok else -1.0
    low = np.inf
    seen = -1
    for i in range(n):
        c = cost[i]
        if c >= 0:
            if seen < 0:
                seen = i
            low = min(low, c)
    first = -1
    hits = 0
    if low < np.inf:
        for i in range(n):
            if cost[i] == low:
                hits += 1
                if first < 0:
                    first = i
    return low, first, hits, seen


@_jit
def tile_best(
    first_member: Any, start: Any, cx: Any, cy: Any, cz: Any, cslot: Any, csat: Any, crc: Any,
    gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any, check_zero: bool,
    max_range2: float, reach: Any, inner: Any, todo: Any, source: Any, dist: Any,
    out_slot: Any, out_cost: Any, tied: Any,
) -> int:  # fmt: skip
    """For each tiled site with ``todo[q]`` (arrays in member order): the visible candidate
    with the smallest ``dist[source[q], satellite] + range`` as a sorted slot (``-1`` = none
    visible) and its cost; when no cost is finite, any visible candidate (the cost says there
    is no route). Entries whose smallest finite cost is reached more than once are listed in
    ``tied`` (their first in row order is for :func:`run_best`); returns how many.

    Candidates are skipped, never their cost estimated. With ``w = dist + crc`` (``crc`` the
    candidate's distance from the tile's centre) and ``e = reach[q]`` (the site's distance
    from the centre, with margin), a candidate costs at least ``w - e`` and at most ``w + e``
    (triangle inequality). The tile's seed is its candidate with the smallest ``w`` among
    those within ``inner[t]`` of the centre (nearly always visible from every site of the
    tile). When the seed is visible from the site, the best cost is at most ``w_seed + e``
    and every candidate that could reach it or tie with it has ``w <= w_seed + 2 e``: only
    the tile's candidates within ``w_seed + 2 max(e)`` (its short list, in tile order, made
    once per tile and source) are tested and costed, with the same operations as before.
    Otherwise every candidate of the tile is."""
    m = _max_block(start)
    dbuf = np.empty(m)  # the tile's candidates' distances from source ``last``
    w = np.empty(m)  # ... plus their distance from the tile's centre
    cost = np.empty(m)
    kj = np.empty(m, np.int64)  # the short list (tile indices, in tile order)
    n_tied = 0
    for t in range(len(start) - 1):
        a, b = start[t], start[t + 1]
        mt = b - a
        q0, q1 = first_member[t], first_member[t + 1]
        e_max = 0.0
        for q in range(q0, q1):
            e_max = max(e_max, reach[q])
        lim = inner[t]
        last = -1
        jmin = -1
        nk = 0
        for q in range(q0, q1):
            if not todo[q]:
                continue
            if source[q] != last:  # neighbours mostly share a source: gather once
                last = source[q]
                row = dist[last]
                w_seed = np.inf
                for j in range(mt):  # (no branch)
                    d = row[csat[a + j]]
                    dbuf[j] = d
                    wj = d + crc[a + j]
                    w[j] = wj
                    w_seed = min(w_seed, wj if crc[a + j] <= lim else np.inf)
                jmin = -1
                if w_seed < np.inf:
                    jmin = 0
                    while not (w[jmin] == w_seed and crc[a + jmin] <= lim):
                        jmin += 1
                nk = 0
                cut = w_seed + 2 * e_max
                for j in range(mt):
                    kj[nk] = j
                    nk += w[j] <= cut
            g0, g1, g2, u0, u1, u2, s2 = gx[q], gy[q], gz[q], ux[q], uy[q], uz[q], sin2[q]
            short = jmin >= 0 and _r2_if_visible(
                cx[a + jmin], cy[a + jmin], cz[a + jmin], g0, g1, g2, u0, u1, u2, s2,
                check_zero, max_range2,
            ) >= 0  # fmt: skip
            if short:  # the seed is visible (and on the short list): some cost is finite
                for i in range(nk):  # (no branch)
                    j = kj[i]
                    r2 = _r2_if_visible(cx[a + j], cy[a + j], cz[a + j], g0, g1, g2, u0, u1,
                                        u2, s2, check_zero, max_range2)  # fmt: skip
                    c = dbuf[j] + np.sqrt(abs(r2))
                    cost[i] = c if r2 >= 0 else np.inf
                low = np.inf
                for i in range(nk):
                    low = min(low, cost[i])
                first = -1
                hits = 0
                for i in range(nk):
                    if cost[i] == low:
                        hits += 1
                        if first < 0:
                            first = kj[i]
                seen = first
            else:
                low, first, hits, seen = _best_of(
                    mt, cx[a:b], cy[a:b], cz[a:b], dbuf, g0, g1, g2, u0, u1, u2, s2, check_zero,
                    max_range2, cost,
                )  # fmt: skip
            if first >= 0:
                out_slot[q] = cslot[a + first]
                out_cost[q] = low
                if hits > 1:
                    tied[n_tied] = q
                    n_tied += 1
            else:
                out_slot[q] = -1 if seen < 0 else cslot[a + seen]
                out_cost[q] = np.inf
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
