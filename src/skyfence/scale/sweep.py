"""A coverage sweep too large for one array: cells x a long window, cut into shards that run
anywhere (:mod:`skyfence.scale.runner`) and are checkpointed (:mod:`skyfence.scale.checkpoint`).

The sweep is the same computation as :func:`skyfence.analysis.coverage.compute_coverage` —
each shard calls :func:`~skyfence.analysis.coverage.coverage_shard` for a block of cells over
a time window (an hour by default) — but a shard keeps only what the outputs need instead of
its ``(cells, steps)`` arrays, so the global day (about 600,000 land cells at resolution 5,
5,760 steps of 15 s) never has to fit in memory:

* per cell and window: served steps, satellites in view (summed), RTT p50 / p95 over the
  served steps (exactly as :meth:`Coverage.rtt_percentile_ms`), RTT sum, handovers, and the
  serving satellite at the first and last step (handovers across window edges are counted
  when the windows are joined, exactly as the single-process path counts them);
* per window: a histogram of the served RTTs in :data:`RTT_BIN_MS` bins (for the day's RTT
  percentiles) and the served cell-steps per gateway.

Merging is the single-process merge: counts add, served fractions are ``served / steps``,
handovers per hour are ``changes / hours``, so the day's per-cell served fraction, mean
satellites in view and handovers per hour equal those of ``compute_coverage`` bit for bit;
the day's RTT percentiles (over all served cell-steps) are exact to one histogram bin.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from skyfence.analysis.coverage import cell_areas_km2, coverage_shard
from skyfence.errors import InputError
from skyfence.ground import GroundSites

__all__ = [
    "RTT_BIN_MS",
    "ShardSpec",
    "SweepCommon",
    "SweepPlan",
    "DayTotals",
    "merge_day",
    "sweep_shard",
]

#: Width of the RTT histogram bins the day's percentiles come from, ms.
RTT_BIN_MS = 0.1


@dataclass(frozen=True)
class ShardSpec:
    """One shard: time steps ``[t0, t1)`` (window ``window``) of cells ``[c0, c1)`` (block)."""

    key: str
    window: int
    block: int
    t0: int
    t1: int
    c0: int
    c1: int


@dataclass(frozen=True)
class SweepPlan:
    """How a sweep of ``n_cells`` cells over ``n_steps`` steps is cut into shards."""

    n_cells: int
    n_steps: int
    window_steps: int
    block_cells: int

    def __post_init__(self) -> None:
        if self.n_cells < 1 or self.n_steps < 1:
            raise InputError("a sweep needs at least one cell and one time step")
        if self.window_steps < 1 or self.block_cells < 1:
            raise InputError("shards need at least one step and one cell")

    @property
    def windows(self) -> int:
        return math.ceil(self.n_steps / self.window_steps)

    @property
    def blocks(self) -> int:
        return math.ceil(self.n_cells / self.block_cells)

    def shards(self) -> list[ShardSpec]:
        """Every shard, window by window (so an hour's file can be written first)."""
        out = []
        for w in range(self.windows):
            t0, t1 = w * self.window_steps, min((w + 1) * self.window_steps, self.n_steps)
            for b in range(self.blocks):
                c0, c1 = b * self.block_cells, min((b + 1) * self.block_cells, self.n_cells)
                out.append(ShardSpec(f"w{w:04d}-b{b:05d}", w, b, t0, t1, c0, c1))
        return out

    def window_bounds(self, w: int) -> tuple[int, int]:
        return w * self.window_steps, min((w + 1) * self.window_steps, self.n_steps)

    def to_dict(self) -> dict[str, int]:
        return {
            "cells": self.n_cells, "steps": self.n_steps, "window_steps": self.window_steps,
            "block_cells": self.block_cells, "windows": self.windows, "blocks": self.blocks,
        }  # fmt: skip


@dataclass(frozen=True)
class SweepCommon:
    """What every shard needs, sent to each worker once."""

    constellation: Any
    model: Any
    terminals: GroundSites
    home_pop: np.ndarray
    times: np.ndarray
    rule: str


def sweep_shard(common: SweepCommon, spec: ShardSpec) -> dict[str, np.ndarray]:
    """Run one shard and reduce it to the per-cell and per-window values the outputs need."""
    rows = slice(spec.c0, spec.c1)
    cs = coverage_shard(
        common.times[spec.t0 : spec.t1],
        constellation=common.constellation,
        model=common.model,
        terminals=common.terminals.subset(rows),
        home_pop=common.home_pop[rows],
        rule=common.rule,
    )
    served = cs.served
    rtt = np.where(served, cs.rtt_ms, np.nan).astype(np.float64)
    any_served = served.any(axis=1)
    p50 = np.full(len(served), np.nan)
    p95 = np.full(len(served), np.nan)
    if any_served.any():
        p50[any_served], p95[any_served] = np.nanpercentile(rtt[any_served], [50, 95], axis=1)
    sat = cs.serving_sat
    change = (sat[:, :-1] >= 0) & (sat[:, 1:] >= 0) & (sat[:, :-1] != sat[:, 1:])
    served_rtt = cs.rtt_ms[served].astype(np.float64)
    bins = np.floor(served_rtt / RTT_BIN_MS).astype(np.int64)
    if len(bins) and bins.min() < 0:
        raise InputError("a negative RTT reached the sweep; the latency model is wrong")
    n_gateways = len(common.model.gateways)
    return {
        "served_steps": served.sum(axis=1, dtype=np.int32),
        "visible_sum": cs.n_visible.sum(axis=1, dtype=np.int64),
        "rtt_p50_ms": p50,
        "rtt_p95_ms": p95,
        "rtt_sum_ms": np.nansum(rtt, axis=1),
        "handovers": change.sum(axis=1, dtype=np.int32),
        "first_sat": sat[:, 0].astype(np.int32),
        "last_sat": sat[:, -1].astype(np.int32),
        "rtt_hist": np.bincount(bins).astype(np.int64),
        "gateway_steps": np.bincount(cs.gateway[served], minlength=n_gateways).astype(np.int64),
    }


@dataclass
class DayTotals:
    """The whole window joined: per-cell arrays ``(C,)`` and per-window rows."""

    served_steps: np.ndarray
    visible_sum: np.ndarray
    rtt_sum_ms: np.ndarray
    handovers: np.ndarray
    rtt_hist: np.ndarray
    gateway_steps: np.ndarray
    window_served_steps: np.ndarray  # (windows,) served cell-steps per window
    n_steps: int
    step_s: float

    @property
    def hours(self) -> float:
        return self.n_steps * self.step_s / 3600.0

    @property
    def served_fraction(self) -> np.ndarray:
        return self.served_steps / self.n_steps

    @property
    def mean_visible(self) -> np.ndarray:
        return self.visible_sum / self.n_steps

    @property
    def handovers_per_hour(self) -> np.ndarray:
        return self.handovers / self.hours if self.hours else np.zeros(len(self.handovers))

    @property
    def rtt_mean_ms(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.served_steps > 0, self.rtt_sum_ms / self.served_steps, np.nan)

    def rtt_percentile_ms(self, q: float) -> float | None:
        """Percentile ``q`` of all served cell-steps' RTTs, to one bin (centre of the bin)."""
        total = int(self.rtt_hist.sum())
        if total == 0:
            return None
        # the same rank numpy's default ("linear") method starts from
        rank = (q / 100.0) * (total - 1)
        k = int(np.searchsorted(np.cumsum(self.rtt_hist), math.floor(rank) + 1))
        return (k + 0.5) * RTT_BIN_MS

    def summary(self, cells: np.ndarray) -> dict[str, Any]:
        """Area-weighted aggregate, the same formulas as :meth:`Coverage.summary`."""
        area = cell_areas_km2(cells)
        total_area = float(area.sum())
        weight = area / total_area if total_area > 0 else area
        frac = self.served_fraction
        return {
            "cells": len(cells),
            "area_km2": total_area,
            "served_fraction": float((frac * weight).sum()) if total_area else 0.0,
            "always_served_area_km2": float(area[frac >= 1.0].sum()),
            "never_served_area_km2": float(area[frac <= 0.0].sum()),
            "mean_visible": float((self.mean_visible * weight).sum()) if total_area else 0.0,
            "rtt_p50_ms": self.rtt_percentile_ms(50),
            "rtt_p95_ms": self.rtt_percentile_ms(95),
            "rtt_percentile_resolution_ms": RTT_BIN_MS,
            "handovers_per_hour": float((self.handovers_per_hour * weight).sum())
            if total_area
            else 0.0,
        }


def merge_day(
    plan: SweepPlan, load: Callable[[str], dict[str, np.ndarray]], step_s: float
) -> DayTotals:
    """Join every shard (``load(key)``) into :class:`DayTotals`, window edges included."""
    n = plan.n_cells
    served = np.zeros(n, np.int64)
    visible = np.zeros(n, np.int64)
    rtt_sum = np.zeros(n, np.float64)
    handovers = np.zeros(n, np.int64)
    last = np.full(n, -1, np.int32)
    hist = np.zeros(1, np.int64)
    gw: np.ndarray | None = None
    per_window = np.zeros(plan.windows, np.int64)
    by_window: dict[int, list[ShardSpec]] = {}
    for spec in plan.shards():
        by_window.setdefault(spec.window, []).append(spec)
    for w in range(plan.windows):
        for spec in by_window[w]:
            d = load(spec.key)
            rows = slice(spec.c0, spec.c1)
            served[rows] += d["served_steps"]
            visible[rows] += d["visible_sum"]
            rtt_sum[rows] += d["rtt_sum_ms"]
            handovers[rows] += d["handovers"]
            if w > 0:  # the change between the last step of w-1 and the first of w
                a, b = last[rows], d["first_sat"]
                handovers[rows] += (a >= 0) & (b >= 0) & (a != b)
            last[rows] = d["last_sat"]
            h = d["rtt_hist"]
            if len(h) > len(hist):
                hist = np.concatenate([hist, np.zeros(len(h) - len(hist), np.int64)])
            hist[: len(h)] += h
            gw = d["gateway_steps"].copy() if gw is None else gw + d["gateway_steps"]
            per_window[w] += int(d["served_steps"].sum())
    return DayTotals(
        served_steps=served, visible_sum=visible, rtt_sum_ms=rtt_sum, handovers=handovers,
        rtt_hist=hist, gateway_steps=gw if gw is not None else np.zeros(0, np.int64),
        window_served_steps=per_window, n_steps=plan.n_steps, step_s=float(step_s),
    )  # fmt: skip
