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
def _dot_r2(
    x: float, y: float, z: float, g0: float, g1: float, g2: float, u0: float, u1: float,
    u2: float,
) -> tuple[float, float]:  # fmt: skip
    """``(dot, r2)`` of a satellite at ``(x, y, z)`` seen from a site at ``g`` with zenith
    ``u``: the offset's dot product with ``u`` and its squared length — the operations, in
    this order, of every exact test and serving geometry (so their results are the same bits)."""
    dx = x - g0
    dy = y - g1
    dz = z - g2
    dot = dx * u0
    dot += dy * u1
    dot += dz * u2
    r2 = dx * dx
    r2 += dy * dy
    r2 += dz * dz
    return dot, r2


@_inline
def _visible(dot: float, r2: float, s2: float, check_zero: bool, max_range2: float) -> bool:
    """The exact test: elevation at least the mask (``dot² ≥ sin²·r²``, ``dot ≥ 0``), within
    ``max_range2``, and not at the site itself when ``check_zero``."""
    ok = (dot * dot >= s2 * r2) & (dot >= 0) & (r2 <= max_range2)
    if check_zero:
        ok = ok & (r2 > 0)
    return ok


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
        dot, r2 = _dot_r2(cx[j], cy[j], cz[j], g0, g1, g2, u0, u1, u2)
        ok = _visible(dot, r2, s2, check_zero, max_range2)
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
    dot, r2 = _dot_r2(x, y, z, g0, g1, g2, u0, u1, u2)
    return r2 if _visible(dot, r2, s2, check_zero, max_range2) else -1.0


# ---------------------------------------------------------------- tiles: candidates per step
# Every tile loop gathers its tile's candidates from the tile's runs into small local buffers
# (in L1 cache) when it reaches the tile: no per-step array of all tiles' candidates.


@_inline
def _gather(
    t: int, first_run: Any, run_lo: Any, run_hi: Any, cell_start: Any, sx: Any, sy: Any,
    sz: Any, slot: Any, x: Any, y: Any, z: Any,
) -> int:  # fmt: skip
    """Tile ``t``'s candidates, in run order, into ``slot, x, y, z``; returns how many.
    ``slot`` needs 8 entries of slack: each run writes eight slots whatever its length (most
    runs hold fewer than eight satellites; no branch on the length), then the count moves on
    by the run's length."""
    n = 0
    for r in range(first_run[t], first_run[t + 1]):
        lo = cell_start[run_lo[r]]
        c = cell_start[run_hi[r]] - lo
        for k in range(8):
            slot[n + k] = lo + k
        if c > 8:
            for k in range(8, c):
                slot[n + k] = lo + k
        n += c
    for j in range(n):
        i = slot[j]
        x[j] = sx[i]
        y[j] = sy[i]
        z[j] = sz[i]
    return n


@_jit
def tile_count(
    first_member: Any, first_run: Any, run_lo: Any, run_hi: Any, cell_start: Any, sx: Any,
    sy: Any, sz: Any, gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any,
    check_zero: bool, max_range2: float, out: Any,
) -> None:  # fmt: skip
    """``out[q]`` = visible satellites of each tiled site, in member order."""
    m = len(sx)
    slot = np.empty(m + 8, np.int64)
    x, y, z, r2buf, dotbuf = np.empty(m), np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    for t in range(len(first_member) - 1):
        if first_member[t] == first_member[t + 1]:
            continue
        n = _gather(t, first_run, run_lo, run_hi, cell_start, sx, sy, sz, slot, x, y, z)
        for q in range(first_member[t], first_member[t + 1]):
            out[q] = _test(x, y, z, 0, n, gx[q], gy[q], gz[q], ux[q], uy[q], uz[q], sin2[q],
                           check_zero, max_range2, r2buf, dotbuf)  # fmt: skip


@_jit
def tile_any(
    first_member: Any, first_run: Any, run_lo: Any, run_hi: Any, cell_start: Any, sx: Any,
    sy: Any, sz: Any, first_core: Any, core_lo: Any, core_hi: Any, tx: Any, ty: Any, tz: Any,
    gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any, check_zero: bool,
    max_range2: float, member: Any, out: Any,
) -> None:  # fmt: skip
    """``out[member[q]]`` = whether the tiled site ``q`` sees a satellite. First the satellite
    nearest to the tile's centre ``(tx, ty, tz)`` among those of the tile's core runs (a small
    cap around the centre: nearly always visible from every member); for a site that does not
    see it, every candidate of the tile in order."""
    m = len(sx)
    slot = np.empty(m + 8, np.int64)
    x, y, z = np.empty(m), np.empty(m), np.empty(m)
    for t in range(len(first_member) - 1):
        if first_member[t] == first_member[t + 1]:
            continue
        seed = -1
        lo = np.inf
        for r in range(first_core[t], first_core[t + 1]):
            for j in range(cell_start[core_lo[r]], cell_start[core_hi[r]]):
                dx = sx[j] - tx[t]
                dy = sy[j] - ty[t]
                dz = sz[j] - tz[t]
                d2 = dx * dx + dy * dy + dz * dz
                if d2 < lo:
                    lo = d2
                    seed = j
        n = -1  # the tile's candidates, gathered when a site needs them
        for q in range(first_member[t], first_member[t + 1]):
            g0, g1, g2, u0, u1, u2, s2 = gx[q], gy[q], gz[q], ux[q], uy[q], uz[q], sin2[q]
            got = 0
            if seed >= 0:
                got = _r2_if_visible(sx[seed], sy[seed], sz[seed], g0, g1, g2, u0, u1, u2, s2,
                                     check_zero, max_range2) >= 0  # fmt: skip
            if not got:
                if n < 0:
                    n = _gather(t, first_run, run_lo, run_hi, cell_start, sx, sy, sz, slot, x,
                                y, z)  # fmt: skip
                for j in range(n):
                    if _r2_if_visible(x[j], y[j], z[j], g0, g1, g2, u0, u1, u2, s2,
                                      check_zero, max_range2) >= 0:  # fmt: skip
                        got = 1
                        break
            out[member[q]] = got


@_jit
def tile_fill(
    first_member: Any, first_run: Any, run_lo: Any, run_hi: Any, cell_start: Any, sx: Any,
    sy: Any, sz: Any, member: Any, gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any,
    sin2: Any, check_zero: bool, max_range2: float, ordered: Any, offset: Any, out_site: Any,
    out_slot: Any, out_dot: Any, out_rng: Any,
) -> None:  # fmt: skip
    """Write the visible pairs of each tiled site with ``ordered[q]`` (its rows are in its
    tile's candidate order) from ``offset[i]`` on (``i = member[q]``)."""
    m = len(sx)
    slot = np.empty(m + 8, np.int64)
    x, y, z, r2buf, dotbuf = np.empty(m), np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    for t in range(len(first_member) - 1):
        if first_member[t] == first_member[t + 1]:
            continue
        n = _gather(t, first_run, run_lo, run_hi, cell_start, sx, sy, sz, slot, x, y, z)
        for q in range(first_member[t], first_member[t + 1]):
            if not ordered[q]:
                continue
            i = member[q]
            k = _test(x, y, z, 0, n, gx[q], gy[q], gz[q], ux[q], uy[q], uz[q], sin2[q],
                      check_zero, max_range2, r2buf, dotbuf)  # fmt: skip
            if k == 0:
                continue
            p = offset[i]
            for j in range(n):
                if r2buf[j] >= 0:
                    out_site[p] = i
                    out_slot[p] = slot[j]
                    out_dot[p] = dotbuf[j]
                    out_rng[p] = np.sqrt(r2buf[j])
                    p += 1


@_inline
def _best_of(
    n: int, x: Any, y: Any, z: Any, d: Any, g0: float, g1: float, g2: float, u0: float,
    u1: float, u2: float, s2: float, check_zero: bool, max_range2: float, cost: Any,
) -> tuple[float, int, int, int]:  # fmt: skip
    """Candidates ``0 .. n-1`` (coordinates ``x, y, z`` and distances ``d``): ``cost[i]`` =
    ``d + range`` if visible else -1 (no branch); returns the smallest cost, the first
    candidate reaching it (``-1`` if none is finite), how many reach it, and the first
    visible candidate (``-1`` = none)."""
    for i in range(n):
        r2 = _r2_if_visible(x[i], y[i], z[i], g0, g1, g2, u0, u1, u2, s2, check_zero,
                            max_range2)  # fmt: skip
        c = d[i] + np.sqrt(abs(r2))  # (the same operations as the listed pairs' cost)
        cost[i] = c if r2 >= 0 else -1.0
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
    first_member: Any, first_run: Any, run_lo: Any, run_hi: Any, cell_start: Any, sx: Any,
    sy: Any, sz: Any, tx: Any, ty: Any, tz: Any, gx: Any, gy: Any, gz: Any, ux: Any, uy: Any,
    uz: Any, sin2: Any, check_zero: bool, max_range2: float, reach: Any, inner: Any,
    source: Any, todo_source: Any, dist: Any, out_slot: Any, out_cost: Any, tied: Any,
) -> int:  # fmt: skip
    """For each tiled site (arrays in member order) whose source ``k = source[q]`` has
    ``todo_source[k]``: the visible candidate with the smallest ``dist[k, slot] + range``
    (``dist`` by sorted slot) as a sorted slot (``-1`` = none visible) and its cost; when no
    cost is finite, any visible candidate (the cost says there is no route). A site without a
    source (``-1``) gets slot ``-1`` and cost ``inf``; the others are left as they are.
    Entries whose smallest finite cost is reached more than once are listed in ``tied`` (their
    first in row order is for :func:`run_best`); returns how many. (Reading and writing the
    terminal-order arrays through ``member`` inside this loop instead was 1.5x slower.)

    Candidates are skipped, never their cost estimated. With ``w = dist + rc`` (``rc`` the
    candidate's distance from the tile's centre) and ``e = reach[q]`` (the site's distance
    from the centre, with margin), a candidate costs at least ``w - e`` and at most ``w + e``
    (triangle inequality). The tile's seed is its candidate with the smallest ``w`` among
    those within ``inner[t]`` of the centre (nearly always visible from every site of the
    tile). When the seed is visible from the site, its cost bounds the best one, which is at
    most ``w_seed + e``, so every candidate that could reach it or tie with it has ``w <=
    w_seed + 2 e``: only the tile's candidates within ``w_seed + 2 max(e)`` (its short list,
    sorted by ``w``, made once per tile and source) are tested and costed, with the same
    operations as before, until ``w - e`` exceeds the best cost so far (a tie is counted,
    whatever the order, and settled by :func:`run_best`). Otherwise every candidate of the
    tile is."""
    m = len(sx)
    slot = np.empty(m + 8, np.int64)
    x, y, z = np.empty(m), np.empty(m), np.empty(m)
    rc = np.empty(m)  # distance from the tile's centre
    dbuf = np.empty(m)  # distance from source ``last``
    w = np.empty(m)  # the sum of both
    cost = np.empty(m)
    kj = np.empty(m, np.int64)  # the short list (candidate numbers, in tile order)
    n_tied = 0
    for t in range(len(first_member) - 1):
        q0, q1 = first_member[t], first_member[t + 1]
        n = -1  # candidates not gathered yet
        e_max = 0.0
        for q in range(q0, q1):
            e_max = max(e_max, reach[q])
        lim = inner[t]
        last = -1
        jmin = -1
        nk = 0
        for q in range(q0, q1):
            src = source[q]
            if src < 0:
                out_slot[q] = -1
                out_cost[q] = np.inf
                continue
            if not todo_source[src]:
                continue
            if n < 0:
                n = _gather(t, first_run, run_lo, run_hi, cell_start, sx, sy, sz, slot, x, y, z)
                for j in range(n):
                    dx = x[j] - tx[t]
                    dy = y[j] - ty[t]
                    dz = z[j] - tz[t]
                    rc[j] = np.sqrt(dx * dx + dy * dy + dz * dz)
            if src != last:  # neighbours mostly share a source: gather once
                last = src
                row = dist[last]
                w_seed = np.inf
                for j in range(n):  # (no branch)
                    d = row[slot[j]]
                    dbuf[j] = d
                    wj = d + rc[j]
                    w[j] = wj
                    w_seed = min(w_seed, wj if rc[j] <= lim else np.inf)
                jmin = -1
                if w_seed < np.inf:
                    jmin = 0
                    while not (w[jmin] == w_seed and rc[jmin] <= lim):
                        jmin += 1
                nk = 0
                cut = w_seed + 2 * e_max
                for j in range(n):
                    kj[nk] = j
                    nk += w[j] <= cut
                for i in range(1, nk):  # the short list by w (insertion sort: a few entries)
                    j = kj[i]
                    k = i
                    while k > 0 and w[kj[k - 1]] > w[j]:
                        kj[k] = kj[k - 1]
                        k -= 1
                    kj[k] = j
            g0, g1, g2, u0, u1, u2, s2 = gx[q], gy[q], gz[q], ux[q], uy[q], uz[q], sin2[q]
            r2 = -1.0
            if jmin >= 0:
                r2 = _r2_if_visible(
                    x[jmin], y[jmin], z[jmin], g0, g1, g2, u0, u1, u2, s2, check_zero, max_range2
                )
            if r2 >= 0:  # the seed is visible: its cost bounds the best one
                low = dbuf[jmin] + np.sqrt(r2)
                first = jmin
                hits = 1
                e = reach[q]
                for i in range(nk):  # by w: the rest cost more than w - e
                    j = kj[i]
                    if w[j] - e > low:
                        break
                    if j == jmin:
                        continue
                    r2 = _r2_if_visible(x[j], y[j], z[j], g0, g1, g2, u0, u1, u2, s2,
                                        check_zero, max_range2)  # fmt: skip
                    if r2 >= 0:
                        c = dbuf[j] + np.sqrt(r2)
                        if c < low:
                            low = c
                            first = j
                            hits = 1
                        elif c == low:
                            hits += 1
                seen = first
            else:
                low, first, hits, seen = _best_of(
                    n, x, y, z, dbuf, g0, g1, g2, u0, u1, u2, s2, check_zero, max_range2, cost
                )
            if first >= 0:
                out_slot[q] = slot[first]
                out_cost[q] = low
                if hits > 1:
                    tied[n_tied] = q
                    n_tied += 1
            else:
                out_slot[q] = -1 if seen < 0 else slot[seen]
                out_cost[q] = np.inf
    return n_tied


@_jit
def cell_order(cell: Any, order: Any, cell_start: Any) -> None:
    """Counting sort of the satellites by grid cell: ``order`` as ``np.argsort(cell,
    kind="stable")`` gives it and ``cell_start`` (``n_cells + 1``) the first slot of each
    cell."""
    cell_start[:] = 0
    for c in cell:
        cell_start[c + 1] += 1
    for c in range(1, len(cell_start)):
        cell_start[c] += cell_start[c - 1]
    for i in range(len(cell)):  # cell_start[c] moves on to the end of cell c
        c = cell[i]
        order[cell_start[c]] = i
        cell_start[c] += 1
    for c in range(len(cell_start) - 1, 0, -1):
        cell_start[c] = cell_start[c - 1]
    cell_start[0] = 0


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
    entries: Any, member: Any, sx: Any, sy: Any, sz: Any, cell_start: Any, first_run: Any,
    run_lo: Any, run_hi: Any, gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any,
    check_zero: bool, max_range2: float, source: Any, dist: Any, out_slot: Any, out_cost: Any,
) -> None:  # fmt: skip
    """:func:`tile_best` for the member-order ``entries`` (site ``member[q]``) on their sites'
    own runs (in run order; the site-side arrays in site order; ``source``, ``out_slot`` and
    ``out_cost`` in member order; ``dist`` by sorted slot)."""
    r2buf = np.empty(1)
    dotbuf = np.empty(1)
    for q in entries:
        i = member[q]
        g0, g1, g2 = gx[i], gy[i], gz[i]
        u0, u1, u2 = ux[i], uy[i], uz[i]
        k = source[q]
        best = -1
        best_cost = np.inf
        for r in range(first_run[i], first_run[i + 1]):
            for j in range(cell_start[run_lo[r]], cell_start[run_hi[r]]):
                if _test(sx, sy, sz, j, j + 1, g0, g1, g2, u0, u1, u2, sin2[i], check_zero,
                         max_range2, r2buf, dotbuf):  # fmt: skip
                    c = dist[k, j] + np.sqrt(r2buf[0])
                    if best < 0 or c < best_cost:
                        best = j
                        best_cost = c
        out_slot[q] = best
        out_cost[q] = best_cost


@_jit
def to_members(member: Any, values: Any, out: Any) -> None:
    """``out[q] = values[member[q]]`` (terminal order to member order)."""
    for q in range(len(member)):
        out[q] = values[member[q]]


@_jit
def from_members(
    member: Any, source: Any, todo_source: Any, slot_q: Any, cost_q: Any, out_slot: Any,
    out_cost: Any,
) -> None:  # fmt: skip
    """What :func:`tile_best` wrote (member order) back to terminal order: every entry
    without a source (``source[q] < 0``) or whose source has ``todo_source``."""
    for q in range(len(member)):
        k = source[q]
        if k < 0 or todo_source[k]:
            i = member[q]
            out_slot[i] = slot_q[q]
            out_cost[i] = cost_q[q]


@_jit
def pair_dot_range(
    site: Any, slot: Any, sx: Any, sy: Any, sz: Any, gx: Any, gy: Any, gz: Any, ux: Any,
    uy: Any, uz: Any, out_dot: Any, out_rng: Any,
) -> None:  # fmt: skip
    """Dot product and slant range of given (site, sorted slot) pairs, with the operations of
    the exact test (the elevation's ``arcsin`` is left to numpy)."""
    for k in range(len(site)):
        i = site[k]
        j = slot[k]
        dot, r2 = _dot_r2(sx[j], sy[j], sz[j], gx[i], gy[i], gz[i], ux[i], uy[i], uz[i])
        out_dot[k] = dot
        out_rng[k] = np.sqrt(r2)


# ---------------------------------------------------------------- Dijkstra from PoP sources


@_inline
def _before(d1: float, n1: int, d2: float, n2: int) -> bool:
    """Heap order of ``scipy.sparse.csgraph.dijkstra`` (a ``std::priority_queue`` of
    ``(-distance, node)``): the smaller distance first, on equal distances the larger node."""
    return d1 < d2 or (d1 == d2 and n1 > n2)


@_jit
def dijkstra_rows(
    indptr: Any, indices: Any, data: Any, rows: Any, nodes: Any, limits: Any, dist: Any,
    pred: Any,
) -> None:  # fmt: skip
    """Dijkstra from node ``nodes[i]`` bounded by ``limits[i]`` into ``dist[rows[i]]`` and
    ``pred[rows[i]]`` (reset first to inf / -9999), over the CSR graph ``(indptr, indices,
    data)``: the algorithm of ``scipy.sparse.csgraph.dijkstra`` (directed, one source) step for
    step: a binary heap with lazy deletion in the same order, an edge relaxed when
    ``d + w <= limit`` and ``d + w < dist``, edges in CSR order. So distances and
    predecessors are scipy's, also on ties."""
    cap = len(data) + 1
    hd = np.empty(cap)
    hn = np.empty(cap, np.int64)
    for i in range(len(rows)):
        drow = dist[rows[i]]
        prow = pred[rows[i]]
        drow[:] = np.inf
        prow[:] = -9999
        limit = limits[i]
        s = nodes[i]
        drow[s] = 0.0
        hd[0] = 0.0
        hn[0] = s
        size = 1
        while size:
            d = hd[0]
            v = hn[0]
            # pop: move the last entry to the root and sift it down
            size -= 1
            ld, ln = hd[size], hn[size]
            k = 0
            while True:
                c = 2 * k + 1
                if c >= size:
                    break
                if c + 1 < size and _before(hd[c + 1], hn[c + 1], hd[c], hn[c]):
                    c += 1
                if not _before(hd[c], hn[c], ld, ln):
                    break
                hd[k] = hd[c]
                hn[k] = hn[c]
                k = c
            hd[k] = ld
            hn[k] = ln
            if drow[v] < d:  # a stale entry: v was settled at a smaller distance
                continue
            for j in range(indptr[v], indptr[v + 1]):
                u = indices[j]
                nv = d + data[j]
                if nv <= limit and drow[u] > nv:
                    drow[u] = nv
                    prow[u] = v
                    # push: sift up from the end
                    k = size
                    size += 1
                    while k > 0:
                        p = (k - 1) // 2
                        if not _before(nv, u, hd[p], hn[p]):
                            break
                        hd[k] = hd[p]
                        hn[k] = hn[p]
                        k = p
                    hd[k] = nv
                    hn[k] = u
