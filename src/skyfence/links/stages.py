"""The pieces a network step passes between its stages (see :meth:`NetworkModel.step` in
:mod:`skyfence.links.routing`): who needs a route (:class:`Demand`), the step's graph
(:class:`StepGraph`), and the per-pair helpers of the choose and assemble stages, plus the
clock that times the stages."""

from __future__ import annotations

import time as time_module
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from skyfence.links.search import PopSearch, argmin_per_group
from skyfence.links.visibility import DeferredPairs, SiteIndex, SortedSats, VisiblePairs

__all__ = [
    "Demand",
    "StageClock",
    "StepGraph",
    "choose",
    "pair_cost",
    "sources_of",
    "spread",
    "step_without_pairs",
    "unique_small",
    "walk_to_gateway",
]


@dataclass(frozen=True)
class Demand:
    """Who needs a route at one step (see ``NetworkModel._demand`` in :mod:`skyfence.links.routing`).

    ``vis`` are the terminals' visible pairs (after ``force_sat``) and ``pair_rank`` their
    ranks; per terminal (N,): ``home`` PoP row, ``has_vis``, ``need`` (has a visible satellite
    and a home PoP) and ``source`` (virtual source row, ``-1`` = none); per source (K,):
    ``source_class`` and ``source_pop``; ``source_of_need`` is the source of each needing
    terminal in order; per visible pair: ``src_pair`` (its terminal's source) and ``valid``
    (``src_pair >= 0``); per group of pairs (one group per terminal with visible pairs):
    ``starts`` (first row), ``counts`` and ``src_group`` (the terminal's source).
    """

    vis: VisiblePairs
    pair_rank: np.ndarray | None
    home: np.ndarray
    gateway_mask: np.ndarray
    has_vis: np.ndarray
    need: np.ndarray
    source: np.ndarray
    source_of_need: np.ndarray
    source_class: np.ndarray
    source_pop: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    src_group: np.ndarray

    @property
    def n_sources(self) -> int:
        return len(self.source_class)

    @cached_property
    def src_pair(self) -> np.ndarray:
        """(V,) source of each visible pair's terminal (built when a stage needs it)."""
        return np.repeat(self.src_group, self.counts)

    @cached_property
    def valid(self) -> np.ndarray:
        """(V,) whether the pair's terminal has a source."""
        return self.src_pair >= 0


@dataclass(frozen=True)
class StepGraph:
    """The graph of one step as edge lists (node numbers as in :mod:`skyfence.links.search`),
    with the laser links and gateway pairs it was built from and ``allowed`` (K, G): which
    gateways each source may back-haul to."""

    n_sats: int
    n_gateways: int
    n_nodes: int
    rows: np.ndarray
    cols: np.ndarray
    wts: np.ndarray
    edges: np.ndarray
    isl_len: np.ndarray
    gsl: VisiblePairs
    allowed: np.ndarray


def choose(
    demand: Demand,
    cost: np.ndarray,
    rank: np.ndarray | None,
    pair_score: Callable[[VisiblePairs, np.ndarray], np.ndarray] | None,
) -> np.ndarray:
    """Stage 7: the serving pair of each terminal — the visible pair with the smallest score
    among those with a finite cost (rank, ``pair_score``, else the cost itself); ``-1`` for a
    terminal without visible pairs."""
    vis = demand.vis
    if rank is not None:
        score = np.where(np.isfinite(cost), rank, np.inf)
    elif pair_score is not None:
        score = np.where(
            np.isfinite(cost), np.asarray(pair_score(vis, cost), dtype=np.float64), np.inf
        )
    else:
        score = cost
    return argmin_per_group(vis.site, score, len(demand.home), demand.starts)


def walk_to_gateway(
    pred: np.ndarray, src: np.ndarray, sat: np.ndarray, n_sats: int
) -> tuple[np.ndarray, np.ndarray]:
    """Follow the predecessors from satellite ``sat[i]`` towards source ``src[i]`` until the
    first gateway: ``(gateway row, laser hops)`` per pair (vectorised over pairs)."""
    node = sat.astype(np.int64, copy=True)
    hops = np.zeros(len(sat), np.int64)
    active = np.arange(len(sat))
    for _ in range(n_sats + 1):
        if not len(active):
            break
        prev = pred[src[active], node[active]].astype(np.int64)
        is_sat = prev < n_sats
        hops[active[is_sat]] += 1
        node[active] = prev
        active = active[is_sat]
    return node - n_sats, hops


def pair_cost(demand: Demand, dist: np.ndarray) -> np.ndarray:
    """(V,) cost of every visible pair: the searched distance from the terminal's source to the
    satellite plus the slant range (``inf`` where the terminal has no source or the satellite
    was not reached)."""
    vis, src_pair, valid = demand.vis, demand.src_pair, demand.valid
    if len(demand.src_group) and bool(np.all(demand.src_group >= 0)):
        n_nodes = dist.shape[1]
        flat = np.repeat(demand.src_group * n_nodes, demand.counts)
        flat += vis.sat
        cost = dist.ravel().take(flat)
        cost += vis.range_km
        return cost
    cost = np.full(len(vis), np.inf)
    cost[valid] = dist[src_pair[valid], vis.sat[valid]] + vis.range_km[valid]
    return cost


class StageClock:
    """Adds process CPU time since the last call to ``timings[stage]`` (no-op without a dict)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = time_module.process_time() if timings is not None else 0.0

    def __call__(self, stage: str) -> None:
        if self.timings is None:
            return
        now = time_module.process_time()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self.last
        self.last = now


def unique_small(key: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(key, return_inverse=True)`` for non-negative keys below ``n_keys`` (a small
    range: a table instead of a sort)."""
    if n_keys > 4 * len(key) + 1024:
        uniq, inv = np.unique(key, return_inverse=True)
        return uniq, inv.reshape(-1)
    present = np.zeros(n_keys, bool)
    present[key] = True
    uniq = np.flatnonzero(present)
    rank = np.cumsum(present) - 1
    return uniq, rank[key]


def spread(values: np.ndarray, rows: np.ndarray, n: int, fill: Any) -> np.ndarray:
    """(n,) array with ``values`` at ``rows`` (increasing) and ``fill`` elsewhere; ``values``
    itself when ``rows`` are all of ``0 .. n-1`` (the usual case for a step's terminals)."""
    if len(rows) == n:
        return values
    out = np.full(n, fill, dtype=values.dtype)
    out[rows] = values
    return out


def sources_of(
    has_vis: np.ndarray, home: np.ndarray, tclass: np.ndarray, n_pops: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(need, source, source of each needing terminal, (class, PoP) key per source)``: one
    virtual source per (landing class, home PoP) of the terminals that see a satellite and
    have a home PoP, numbered in key order."""
    need = has_vis & (home >= 0)
    key = tclass * n_pops + np.maximum(home, 0)
    combos, inv = unique_small(key[need], int(key.max(initial=0)) + 1)
    source = np.full(len(home), -1, np.int64)
    source[need] = inv
    return need, source, inv, combos


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
) -> Any:
    """A ``min-rtt`` step of ``NetworkModel`` (:mod:`skyfence.links.routing`) that never lists
    the visible pairs (compiled kernel): which terminals see a satellite, then the searches,
    then each terminal's best satellite straight from its candidates, searched again where the
    bound was too tight, exactly as ``NetworkModel._route`` and :func:`choose` decide from the
    pairs; ``srt`` the satellites as ``index`` sorted them; ``network`` = (laser edges, their
    lengths, gateway pairs). Returns the
    ``StepResult``, its ``visible`` listed on first use."""
    edges, isl_len, gsl = network
    has_vis = index.any_visible(srt)
    vis = DeferredPairs(index, srt)
    clock("terminal_visibility")
    home, tclass, gmask = model._homes(terminals, constraint, home_pop)
    need, source, inv, combos = sources_of(has_vis, home, tclass, len(model.pops))
    P, none = len(model.pops), np.zeros(0, np.int64)
    demand = Demand(
        vis=vis, pair_rank=None, home=home, gateway_mask=gmask, has_vis=has_vis, need=need,
        source=source, source_of_need=inv, source_class=combos // P, source_pop=combos % P,
        starts=none, counts=none, src_group=none,
    )  # fmt: skip
    graph = model._graph(edges, isl_len, gsl, demand)
    K, N = demand.n_sources, len(terminals)
    limit = model._search_limits(terminals, demand)
    dist = np.full((K, graph.n_nodes), np.inf)
    pred = np.full((K, graph.n_nodes), -9999, dtype=np.int32)
    search = PopSearch(
        graph.n_sats, graph.n_gateways, graph.n_nodes, graph.rows, graph.cols, graph.wts,
        dist, pred,
    )  # fmt: skip
    search.run(np.arange(K), limit)
    slot = np.full(N, -1, np.int64)
    cost = np.full(N, np.inf)
    index.best_per_site(srt, need, source, dist, slot, cost)
    if K and np.isfinite(limit).any():
        # a best cost beyond its source's bound may hide a cheaper path: search again
        redo = np.unique(source[need & ~(cost <= limit[np.maximum(source, 0)])])
        redo = redo[np.isfinite(limit[redo])]
        if len(redo):
            search.run(redo, None)
            again = need & np.isin(source, redo)
            index.best_per_site(srt, again, source, dist, slot, cost)
    clock("routing")
    routed = (slot >= 0) & np.isfinite(cost)
    serving = np.full(N, -1, np.int64)
    tr = np.flatnonzero(routed)
    assert srt is not None or not len(tr)
    el = rng = np.zeros(0)
    if len(tr):
        assert srt is not None
        serving[tr] = srt.sat_id[slot[tr]]
        el, rng = index.pair_geometry(srt, tr, slot[tr])
    res = model._finish(time, demand, routed, serving, el, rng, cost[tr], search, graph)
    clock("best_path")
    return res
