"""The pieces a network step passes between its stages (see :meth:`NetworkModel.step` in
:mod:`skyfence.links.routing`): who needs a route (:class:`Demand`), the step's graph
(:class:`StepGraph`), what it returns (:class:`StepResult`, the status codes), and the
per-pair helpers of the choose and assemble stages, plus the clock that times the stages."""

from __future__ import annotations

import time as time_module
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from skyfence.links.search import argmin_per_group
from skyfence.links.visibility import VisiblePairs

__all__ = [
    "STATUS_NO_ROUTE",
    "STATUS_NO_SATELLITE",
    "STATUS_OK",
    "Demand",
    "StageClock",
    "StepGraph",
    "StepResult",
    "choose",
    "pair_cost",
    "sources_of",
    "spread",
    "unique_small",
    "walk_to_gateway",
]


STATUS_OK, STATUS_NO_SATELLITE, STATUS_NO_ROUTE = 0, 1, 2


@dataclass(frozen=True)
class StepResult:
    """The network at one instant and every terminal's best path.

    Per terminal (N,) arrays: ``serving_sat``, ``gateway``, ``pop`` (rows; ``-1`` = none),
    ``isl_hops``, ``elevation_deg``, ``range_km`` (to the serving satellite), ``rtt_ms`` and its
    parts ``rtt_space_ms``, ``rtt_fibre_ms``, ``rtt_overhead_ms`` (processing: the fixed
    overhead, the laser hops' switching and the scheduling delay's median; NaN without a route),
    ``status`` (:data:`STATUS_OK`, :data:`STATUS_NO_SATELLITE`, :data:`STATUS_NO_ROUTE`).
    Network state: ``visible`` (terminal pairs), ``gsl`` (gateway pairs), ``isl_edges`` (E, 2) and
    ``isl_length_km`` of the links up.
    """

    time: np.datetime64 | None
    serving_sat: np.ndarray
    gateway: np.ndarray
    pop: np.ndarray
    isl_hops: np.ndarray
    elevation_deg: np.ndarray
    range_km: np.ndarray
    rtt_ms: np.ndarray
    rtt_space_ms: np.ndarray
    rtt_fibre_ms: np.ndarray
    rtt_overhead_ms: np.ndarray
    status: np.ndarray
    visible: VisiblePairs
    gsl: VisiblePairs
    isl_edges: np.ndarray
    isl_length_km: np.ndarray
    _source: np.ndarray = field(repr=False)
    _pred: np.ndarray = field(repr=False)
    _n_sats: int = field(repr=False, default=0)

    def path(self, terminal: int) -> list[tuple[str, int]]:
        """Hops of a terminal's path: ``[("terminal", i), ("sat", s), ..., ("gateway", g), ("pop", p)]``."""
        s = int(self.serving_sat[terminal])
        if s < 0:
            return [("terminal", terminal)]
        hops: list[tuple[str, int]] = [("terminal", terminal)]
        src = int(self._source[terminal])
        node = s
        while node < self._n_sats:
            hops.append(("sat", node))
            node = int(self._pred[src, node])
            if node < 0:
                break
        hops.append(("gateway", int(self.gateway[terminal])))
        hops.append(("pop", int(self.pop[terminal])))
        return hops


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
    has_vis: np.ndarray, home: np.ndarray, tclass: np.ndarray | None, n_pops: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(need, source, (class, PoP) key per source)``: one virtual source per (landing class,
    home PoP) of the terminals that see a satellite and have a home PoP, numbered in key
    order (``tclass`` ``None``: every terminal in class 0)."""
    need = has_vis & (home >= 0)
    key = np.maximum(home, 0) if tclass is None else tclass * n_pops + np.maximum(home, 0)
    combos, inv = unique_small(key[need], int(key.max(initial=0)) + 1)
    source = np.full(len(home), -1, np.int64)
    source[need] = inv
    return need, source, combos
