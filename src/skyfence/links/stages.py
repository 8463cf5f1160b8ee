"""The pieces a network step passes between its stages (see :meth:`NetworkModel.step` in
:mod:`skyfence.links.routing`): who needs a route (:class:`Demand`), the step's graph
(:class:`StepGraph`), and the per-pair helpers of the choose and assemble stages, plus the
clock that times the stages."""

from __future__ import annotations

import time as time_module
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from skyfence.links.search import argmin_per_group
from skyfence.links.visibility import VisiblePairs

__all__ = ["Demand", "StageClock", "StepGraph", "choose", "pair_cost", "walk_to_gateway"]


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
