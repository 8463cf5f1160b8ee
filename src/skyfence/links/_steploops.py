"""Compiled loops of a pair-free ``min-rtt`` step (imports numba: import lazily; see
:func:`skyfence.links.stages.step_without_pairs`).

Each walks the terminals once, in their order, in place of a dozen numpy passes over
per-terminal arrays (the visibility loops, which go tile by tile, read and write these
arrays through the tiles' member order themselves). Every number is computed with
the same floating-point operations in the same order as the numpy code it replaces
(:meth:`skyfence.links.routing.NetworkModel._finish`, :func:`skyfence.links.stages.sources_of`),
without fused multiply-add or fast-math, so the results are identical bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from skyfence.links._loops import _dot_r2, _jit


@_jit
def sources(
    has_vis: Any, home: Any, tclass: Any, n_pops: int, gc: Any, key_rank: Any, need: Any,
    source: Any, far: Any,
) -> int:  # fmt: skip
    """:func:`skyfence.links.stages.sources_of` in one pass per terminal: ``need[i]`` (sees a
    satellite and has a home PoP) and ``source[i]`` (``-1`` = none): one source per (class,
    home PoP) key in use (``tclass`` empty: every terminal in class 0), numbered in key order;
    ``key_rank`` (zeros on entry, one entry per possible key) ends as each key's source
    (``-1`` = unused); ``far[k]`` (zeros on entry) the largest ``gc[i]`` (distance to the
    home PoP; empty = not wanted) of source ``k``'s terminals. Returns the number of
    sources."""
    n_class = len(tclass)
    for i in range(len(home)):
        ok = has_vis[i] and home[i] >= 0
        need[i] = ok
        if ok:
            key_rank[(tclass[i] if n_class else 0) * n_pops + home[i]] = 1
    n_src = 0
    for key in range(len(key_rank)):
        if key_rank[key]:
            key_rank[key] = n_src
            n_src += 1
        else:
            key_rank[key] = -1
    with_gc = len(gc) > 0
    for i in range(len(home)):
        k = -1
        if need[i]:
            k = key_rank[(tclass[i] if n_class else 0) * n_pops + home[i]]
            if with_gc and gc[i] > far[k]:
                far[k] = gc[i]
        source[i] = k
    return n_src


@_jit
def redo_sources(source: Any, cost: Any, limit: Any, out: Any) -> None:
    """``out[k]`` = True for each source with a terminal whose best cost is not within
    ``limit[k]`` (NaN counts as not within)."""
    for i in range(len(source)):
        k = source[i]
        if k >= 0 and not cost[i] <= limit[k]:
            out[k] = True


@_jit
def finish(
    source: Any, slot: Any, cost: Any, has_vis: Any, home: Any, sat_id: Any, sx: Any,
    sy: Any, sz: Any, gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any,
    pred: Any, n_sats: int, source_pop: Any, backhaul_km: Any, fibre_rtt: Any,
    slot_delay_ms: float, laser_hop_ms: float, hop_km: float, light_km_s: float,
    pair_of: Any, serving: Any, gateway: Any, pop: Any, hops: Any, dot: Any, rng: Any,
    rtt: Any, rtt_space: Any, rtt_fibre: Any, rtt_over: Any, status: Any,
) -> None:  # fmt: skip
    """The assemble stage (``NetworkModel._finish``) from each terminal's source, best sorted
    slot and cost (and whether it sees a satellite, its home PoP, its position ``g`` and
    zenith vector ``u``): a terminal is routed when it has a source, a slot and a finite cost; its serving satellite, the pair's dot product and slant
    range (as the visibility loops compute them; the elevation's ``arcsin`` is left to the
    caller), the gateway and laser hops found by walking the predecessors from the satellite
    (once per distinct (source, satellite) pair: ``pair_of`` (K * S, ``-1`` on entry) numbers
    them), the home PoP, the RTT in parts and the status (0 ok, 1 no satellite, 2 no route).
    Unrouted terminals get ``-1`` and NaN."""
    n_pairs = 0
    cap = min(len(home), len(pair_of)) + 1
    p_gw = np.empty(cap, np.int64)
    p_hops = np.empty(cap, np.int64)
    p_bh = np.empty(cap)
    p_rf = np.empty(cap)
    p_ro = np.empty(cap)
    p_hop_km = np.empty(cap)
    for i in range(len(home)):
        k = source[i]
        s = slot[i]
        c = cost[i]
        if not (k >= 0 and s >= 0 and np.isfinite(c)):
            serving[i] = -1
            gateway[i] = -1
            pop[i] = -1
            hops[i] = -1
            dot[i] = np.nan
            rng[i] = np.nan
            rtt[i] = np.nan
            rtt_space[i] = np.nan
            rtt_fibre[i] = np.nan
            rtt_over[i] = np.nan
            status[i] = 2 if has_vis[i] else 1
            continue
        sat = sat_id[s]
        serving[i] = sat
        d, r2 = _dot_r2(sx[s], sy[s], sz[s], gx[i], gy[i], gz[i], ux[i], uy[i], uz[i])
        dot[i] = d
        rng[i] = np.sqrt(r2)
        key = k * n_sats + sat
        p = pair_of[key]
        if p < 0:  # a new (source, satellite) pair: walk to its gateway
            p = n_pairs
            n_pairs += 1
            pair_of[key] = p
            node = sat
            h = 0
            for _ in range(n_sats + 1):
                prev = pred[k, node]
                node = prev
                if prev < n_sats:
                    h += 1
                else:
                    break
            g = node - n_sats
            p_gw[p] = g
            p_hops[p] = h
            home_pop = source_pop[k]
            p_bh[p] = backhaul_km[g, home_pop]
            p_rf[p] = fibre_rtt[g, home_pop]
            p_ro[p] = slot_delay_ms + h * laser_hop_ms
            p_hop_km[p] = h * hop_km
        gateway[i] = p_gw[p]
        hops[i] = p_hops[p]
        pop[i] = home[i]
        space = c - p_bh[p]
        if laser_hop_ms:
            space = space - p_hop_km[p]
        rs = 2.0 * space / light_km_s * 1000.0
        rtt_space[i] = rs
        rtt_fibre[i] = p_rf[p]
        rtt_over[i] = p_ro[p]
        rtt[i] = rs + p_rf[p] + p_ro[p]
        status[i] = 0


@_jit
def csr_of_edges(
    n_nodes: int, rows: Any, cols: Any, wts: Any, indptr: Any, indices: Any, data: Any
) -> bool:
    """The CSR arrays of the graph with edges ``rows[e] -> cols[e]`` of weight ``wts[e]`` as
    ``scipy.sparse.coo_matrix(...).tocsr()`` makes them when no edge is listed twice: by row,
    each row by column. Returns False (arrays unusable) when an edge is listed twice (scipy
    would sum them: let it)."""
    indptr[:] = 0
    for e in range(len(rows)):
        indptr[rows[e] + 1] += 1
    for v in range(n_nodes):
        indptr[v + 1] += indptr[v]
    fill = indptr[:-1].copy()
    for e in range(len(rows)):
        p = fill[rows[e]]
        fill[rows[e]] += 1
        indices[p] = cols[e]
        data[p] = wts[e]
    for v in range(n_nodes):
        a, b = indptr[v], indptr[v + 1]
        for i in range(a + 1, b):  # insertion sort (rows are short and nearly sorted)
            c, w = indices[i], data[i]
            k = i
            while k > a and indices[k - 1] > c:
                indices[k] = indices[k - 1]
                data[k] = data[k - 1]
                k -= 1
            indices[k] = c
            data[k] = w
        for i in range(a + 1, b):
            if indices[i] == indices[i - 1]:
                return False
    return True
