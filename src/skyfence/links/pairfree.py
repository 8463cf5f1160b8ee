"""A ``min-rtt`` network step that never lists the visible pairs (compiled kernel; see
:meth:`skyfence.links.routing.NetworkModel.step` and ``docs/network.md``, "The compiled
kernel").

Every per-terminal stage is one compiled loop: which terminals see a satellite
(:func:`skyfence.links.compiled.any_visible`), their sources and search bounds
(:func:`skyfence.links._steploops.sources`), each terminal's best satellite after the
searches (:func:`skyfence.links.compiled.best_sites`; the tile loops read and write the
terminal-order arrays through the tiles' member order), and the assembly of the result
(:func:`skyfence.links._steploops.finish`), which writes the arrays of the
:class:`~skyfence.links.stages.StepResult` directly. The numbers are those of the step that
lists the pairs, bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from skyfence.geodesy import SPEED_OF_LIGHT_KM_S
from skyfence.links import compiled
from skyfence.links.search import PopSearch
from skyfence.links.stages import Demand, StageClock, StepResult
from skyfence.links.visibility import (
    DeferredPairs,
    SiteIndex,
    SortedSats,
    VisiblePairs,
    elevation_of,
)

__all__ = ["step_without_pairs"]


def step_without_pairs(
    model: Any,
    time: np.datetime64 | None,
    terminals: Any,
    index: SiteIndex,
    srt: SortedSats | None,
    network: tuple[np.ndarray, np.ndarray, VisiblePairs],
    constraint: Any,
    home_pop: np.ndarray | None,
    clock: StageClock,
) -> StepResult:
    """A ``min-rtt`` step of ``NetworkModel`` (:mod:`skyfence.links.routing`) that never lists
    the visible pairs (compiled kernel): which terminals see a satellite, then the searches,
    then each terminal's best satellite straight from its candidates, searched again where the
    bound was too tight, exactly as ``NetworkModel._route`` and ``choose`` decide from the
    pairs; ``srt`` the satellites as ``index`` sorted them; ``network`` = (laser edges, their
    lengths, gateway pairs). ``StepResult.visible`` is listed on first use."""
    edges, isl_len, gsl = network
    loops = compiled.step_kernels()
    N, P = len(terminals), len(model.pops)
    has_vis = index.any_visible(srt)
    vis = DeferredPairs(index, srt)
    clock("terminal_visibility")
    home, tclass, gmask = model._homes(terminals, constraint, home_pop)
    n_keys = P * (1 if tclass is None else int(tclass.max(initial=0)) + 1)
    key_rank, far = np.zeros(n_keys, np.int64), np.zeros(n_keys)
    gc = model._home_distance_km(terminals, home) if model.search_limit else np.zeros(0)
    need, source = np.empty(N, bool), np.empty(N, np.int64)
    K = loops.sources(
        has_vis, home, np.zeros(0, np.int64) if tclass is None else tclass, P, gc, key_rank,
        need, source, far,
    )  # fmt: skip
    combos = np.flatnonzero(key_rank >= 0)
    none = np.zeros(0, np.int64)
    demand = Demand(
        vis=vis, pair_rank=None, home=home, gateway_mask=gmask, has_vis=has_vis, need=need,
        source=source, source_class=combos // P, source_pop=combos % P, starts=none,
        counts=none, src_group=none,
    )  # fmt: skip
    graph = model._graph(edges, isl_len, gsl, demand)
    limit = model.limits_of(far[:K]) if K and model.search_limit else np.full(K, np.inf)
    dist = np.full((K, graph.n_nodes), np.inf)
    pred = np.full((K, graph.n_nodes), -9999, dtype=np.int32)
    search = PopSearch(
        graph.n_sats, graph.n_gateways, graph.n_nodes, graph.rows, graph.cols, graph.wts,
        dist, pred,
    )  # fmt: skip
    search.run(np.arange(K), limit)
    slot, cost = np.empty(N, np.int64), np.empty(N)
    if srt is None:  # nothing visible
        slot[:], cost[:] = -1, np.inf
    else:
        by_slot = compiled.dist_by_slot(srt, dist)
        source_q = compiled.best_sites(index, srt, source, np.ones(K, bool), by_slot, slot, cost)
        if K and np.isfinite(limit).any():
            # a best cost beyond its source's bound may hide a cheaper path: search again
            redo = np.zeros(K, bool)
            loops.redo_sources(source, cost, limit, redo)
            redo &= np.isfinite(limit)
            if redo.any():
                search.run(np.flatnonzero(redo), None)
                by_slot = compiled.dist_by_slot(srt, dist)
                compiled.best_sites(index, srt, source, redo, by_slot, slot, cost, source_q)
    clock("routing")
    res = _assemble(model, time, demand, graph, search, index, srt, slot, cost)
    clock("best_path")
    return res


def _assemble(
    model: Any, time: np.datetime64 | None, demand: Demand, graph: Any, search: PopSearch,
    index: SiteIndex, srt: SortedSats | None, slot: np.ndarray, cost: np.ndarray,
) -> StepResult:  # fmt: skip
    """The assemble stage of ``NetworkModel._finish`` in one compiled loop over the terminals,
    then the elevations' ``arcsin`` in numpy."""
    N, S, K = len(slot), graph.n_sats, demand.n_sources
    lat = model.latency
    serving, gw, pop, hops = (np.empty(N, np.int64) for _ in range(4))
    dot, rng, rtt, rs, rf, ro = (np.empty(N) for _ in range(6))
    status = np.empty(N, np.int8)
    no_sat = np.zeros(0)
    sat_id, xyz = (
        (srt.sat_id, srt.xyz) if srt is not None else (np.zeros(0, np.int64), (no_sat,) * 3)
    )
    compiled.step_kernels().finish(
        demand.source, slot, cost, demand.has_vis, demand.home, sat_id, *xyz, *index._g,
        *index._u, search.pred, S, demand.source_pop, model.backhaul_equiv_km,
        np.ascontiguousarray(lat.fibre_rtt_ms(model.backhaul_gc_km)), float(lat.slot_delay_ms),
        float(lat.laser_hop_ms), float(lat.hop_equivalent_km), float(SPEED_OF_LIGHT_KM_S),
        np.full(K * S, -1, np.int64), serving, gw, pop, hops, dot, rng, rtt, rs, rf, ro, status,
    )  # fmt: skip
    return StepResult(
        time=time, serving_sat=serving, gateway=gw, pop=pop, isl_hops=hops,
        elevation_deg=elevation_of(dot, rng), range_km=rng, rtt_ms=rtt, rtt_space_ms=rs,
        rtt_fibre_ms=rf, rtt_overhead_ms=ro, status=status, visible=demand.vis, gsl=graph.gsl,
        isl_edges=graph.edges, isl_length_km=graph.isl_len, _source=demand.source,
        _pred=search.pred, _n_sats=S,
    )  # fmt: skip
