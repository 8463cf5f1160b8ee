"""Coverage per H3 cell: is a place served, how well, and through which gateways and PoPs.

A *served* cell-step is one where a terminal at the cell centre sees a satellite above its
elevation mask **and** that satellite has a route to the terminal's home PoP (bent pipe or
over lasers), as decided by :meth:`skyfence.links.NetworkModel.step`. Per cell and over a
time window :class:`Coverage` gives:

* ``served_fraction`` — share of time steps served;
* ``mean_visible`` — mean number of satellites above the mask;
* ``rtt_p50_ms`` / ``rtt_p95_ms`` — round-trip time percentiles over the served steps;
* ``handovers_per_hour`` — changes of serving satellite between consecutive served steps
  (each step is one scheduling slot; with the default 15 s step this is the 15-s schedule).

The sweep is a list of independent time shards (:mod:`skyfence.analysis.sharding`): each
shard propagates its own times and steps the network, so an executor can spread them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import h3
import numpy as np

from skyfence.analysis.sharding import Executor, run_shards, time_shards
from skyfence.errors import InputError
from skyfence.files import atomic_path, write_text_atomic
from skyfence.ground import GroundSites
from skyfence.links import DEFAULT_RULE, STATUS_OK, LandingConstraint, NetworkModel
from skyfence.timeutil import datetime64_to_iso

__all__ = [
    "Coverage",
    "CoverageShard",
    "cell_centres",
    "cell_sites",
    "compute_coverage",
    "coverage_shard",
    "COVERAGE_RULES",
    "MAX_CELL_STEPS",
    "check_cell_steps",
]

#: Most (cell, time step) pairs one run may hold: its per-cell-step arrays take ~19 bytes each,
#: so this is about 1 GB.
MAX_CELL_STEPS = 50_000_000

#: Satellite-selection rules a coverage sweep can apply slot by slot (``longest-visible``
#: needs a look-ahead over the window: see :func:`skyfence.links.run_schedule`).
COVERAGE_RULES = ("min-rtt", "max-elevation")


def check_cell_steps(n_cells: int, n_steps: int) -> None:
    """Refuse a run larger than :data:`MAX_CELL_STEPS` before it starts, saying how to shrink it."""
    if n_cells * n_steps > MAX_CELL_STEPS:
        raise InputError(
            f"the run would hold {n_cells * n_steps:,} cell-steps ({n_cells:,} cells x "
            f"{n_steps:,} steps), more than {MAX_CELL_STEPS:,} (about 1 GB); use a coarser "
            "--res, a longer --step or a shorter --window"
        )


def cell_centres(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``(latitude_deg, longitude_deg)`` of H3 cells given as ``uint64``."""
    cells = np.asarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        return np.zeros(0), np.zeros(0)
    ll = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells], dtype=np.float64)
    return ll[:, 0], ll[:, 1]


def cell_areas_km2(cells: np.ndarray) -> np.ndarray:
    """Exact area of each H3 cell, km²."""
    return np.array(
        [h3.cell_area(h3.int_to_str(int(c)), unit="km^2") for c in np.asarray(cells)],
        dtype=np.float64,
    )


def cell_sites(cells: np.ndarray, country: np.ndarray | str = "") -> GroundSites:
    """Terminals standing at the centres of ``cells`` (ids are the H3 cell strings)."""
    lat, lon = cell_centres(cells)
    ids = [h3.int_to_str(int(c)) for c in np.asarray(cells, dtype=np.uint64)]
    return GroundSites.from_arrays(
        lat, lon, kind="terminal", id=ids, name=ids, country=country, source="H3 cell centres"
    )


@dataclass(frozen=True)
class CoverageShard:
    """Raw per-(cell, time) results of one time shard; arrays are ``(C, t)``."""

    times: np.ndarray
    served: np.ndarray
    n_visible: np.ndarray
    rtt_ms: np.ndarray
    serving_sat: np.ndarray
    gateway: np.ndarray
    pop: np.ndarray


def coverage_shard(
    times: np.ndarray,
    *,
    constellation: Any,
    model: NetworkModel,
    terminals: GroundSites,
    constraint: LandingConstraint | None = None,
    home_pop: np.ndarray | None = None,
    rule: str = DEFAULT_RULE,
) -> CoverageShard:
    """Propagate ``times`` and step the network at each: the results for every terminal.

    ``rule`` picks the serving satellite among those with a route (one of
    :data:`COVERAGE_RULES`; the default is the one every command uses).
    """
    times = np.asarray(times, dtype="datetime64[ns]")
    n, t = len(terminals), len(times)
    eph = constellation.propagate(times)
    if home_pop is None:
        home_pop = model.home_pops(terminals, constraint)
    served = np.zeros((n, t), dtype=bool)
    n_visible = np.zeros((n, t), dtype=np.uint16)
    rtt = np.full((n, t), np.nan, dtype=np.float32)
    sat = np.full((n, t), -1, dtype=np.int32)
    gw = np.full((n, t), -1, dtype=np.int32)
    pop = np.full((n, t), -1, dtype=np.int32)
    for k in range(t):
        res = model.step(
            eph, k, terminals, constraint=constraint, home_pop=home_pop, selection=rule
        )  # type: ignore[arg-type]
        ok = res.status == STATUS_OK
        served[:, k] = ok
        n_visible[:, k] = res.visible.per_site(n)
        rtt[:, k] = res.rtt_ms
        sat[:, k] = res.serving_sat
        gw[:, k] = res.gateway
        pop[:, k] = res.pop
    return CoverageShard(times, served, n_visible, rtt, sat, gw, pop)


@dataclass(frozen=True)
class Coverage:
    """Coverage of a set of H3 cells over a time window (see the module docstring).

    ``(C, T)`` arrays hold the raw results per cell and time step; the per-cell statistics
    are properties computed from them.
    """

    cells: np.ndarray
    latitude_deg: np.ndarray
    longitude_deg: np.ndarray
    times: np.ndarray
    step_s: float
    served: np.ndarray
    n_visible: np.ndarray
    rtt_ms: np.ndarray
    serving_sat: np.ndarray
    gateway: np.ndarray
    pop: np.ndarray
    gateways: GroundSites
    pops: GroundSites
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def merge(
        cls,
        shards: list[CoverageShard],
        *,
        cells: np.ndarray,
        terminals: GroundSites,
        step_s: float,
        gateways: GroundSites,
        pops: GroundSites,
        meta: dict[str, Any] | None = None,
    ) -> Coverage:
        """Join shard results (in time order) into one :class:`Coverage`."""
        if not shards:
            raise InputError("no time steps to merge: the window is empty")

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(s, name) for s in shards], axis=1)

        return cls(
            cells=np.asarray(cells, dtype=np.uint64),
            latitude_deg=terminals.latitude_deg,
            longitude_deg=terminals.longitude_deg,
            times=np.concatenate([s.times for s in shards]),
            step_s=float(step_s),
            served=cat("served"),
            n_visible=cat("n_visible"),
            rtt_ms=cat("rtt_ms"),
            serving_sat=cat("serving_sat"),
            gateway=cat("gateway"),
            pop=cat("pop"),
            gateways=gateways,
            pops=pops,
            meta=dict(meta or {}),
        )

    def subset(self, mask: np.ndarray) -> Coverage:
        """The same coverage for the cells selected by ``mask`` (bool or row indices)."""
        rows = np.asarray(mask)
        rows = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64)
        meta = {k: v for k, v in self.meta.items() if not k.startswith("_")}
        meta["cells"] = len(rows)
        return Coverage(
            cells=self.cells[rows], latitude_deg=self.latitude_deg[rows],
            longitude_deg=self.longitude_deg[rows], times=self.times, step_s=self.step_s,
            served=self.served[rows], n_visible=self.n_visible[rows], rtt_ms=self.rtt_ms[rows],
            serving_sat=self.serving_sat[rows], gateway=self.gateway[rows], pop=self.pop[rows],
            gateways=self.gateways, pops=self.pops, meta=meta,
        )  # fmt: skip

    # ------------------------------------------------------------- per-cell stats
    def __len__(self) -> int:
        return len(self.cells)

    @property
    def window_hours(self) -> float:
        return len(self.times) * self.step_s / 3600.0

    @property
    def served_fraction(self) -> np.ndarray:
        return self.served.mean(axis=1) if self.served.shape[1] else np.zeros(len(self))

    @property
    def mean_visible(self) -> np.ndarray:
        return self.n_visible.mean(axis=1) if self.n_visible.shape[1] else np.zeros(len(self))

    def rtt_percentile_ms(self, q: float) -> np.ndarray:
        """Per-cell RTT percentile ``q`` (0–100) over served steps; NaN for never-served cells."""
        out = np.full(len(self), np.nan)
        any_served = self.served.any(axis=1)
        if any_served.any():
            vals = np.where(self.served[any_served], self.rtt_ms[any_served], np.nan)
            out[any_served] = np.nanpercentile(vals.astype(np.float64), q, axis=1)
        return out

    @property
    def rtt_p50_ms(self) -> np.ndarray:
        return self.rtt_percentile_ms(50)

    @property
    def rtt_p95_ms(self) -> np.ndarray:
        return self.rtt_percentile_ms(95)

    @property
    def handovers_per_hour(self) -> np.ndarray:
        """Serving-satellite changes between consecutive steps that are both served, per hour."""
        if self.serving_sat.shape[1] < 2 or self.window_hours == 0:
            return np.zeros(len(self))
        a, b = self.serving_sat[:, :-1], self.serving_sat[:, 1:]
        change = (a >= 0) & (b >= 0) & (a != b)
        return change.sum(axis=1) / self.window_hours

    @property
    def area_km2(self) -> np.ndarray:
        if "_area" not in self.meta:
            self.meta["_area"] = cell_areas_km2(self.cells)
        return self.meta["_area"]

    # ------------------------------------------------------------- aggregates
    def summary(self, mask: np.ndarray | None = None) -> dict[str, Any]:
        """Area-weighted aggregate over the cells (``mask`` selects a subset)."""
        sel = np.ones(len(self), bool) if mask is None else np.asarray(mask, bool)
        area = self.area_km2[sel]
        total_area = float(area.sum())
        frac = self.served_fraction[sel]
        rtts = self.rtt_ms[sel][self.served[sel]].astype(np.float64)
        weight = area / total_area if total_area > 0 else area
        return {
            "cells": int(sel.sum()),
            "area_km2": total_area,
            "served_fraction": float((frac * weight).sum()) if total_area else 0.0,
            "always_served_area_km2": float(area[frac >= 1.0].sum()),
            "never_served_area_km2": float(area[frac <= 0.0].sum()),
            "mean_visible": float((self.mean_visible[sel] * weight).sum()) if total_area else 0.0,
            "rtt_p50_ms": float(np.percentile(rtts, 50)) if len(rtts) else None,
            "rtt_p95_ms": float(np.percentile(rtts, 95)) if len(rtts) else None,
            "handovers_per_hour": float((self.handovers_per_hour[sel] * weight).sum())
            if total_area
            else 0.0,
        }

    def usage(self, kind: str, mask: np.ndarray | None = None) -> list[dict[str, Any]]:
        """Which gateways (``kind="gateway"``) or PoPs (``"pop"``) carry the served cell-steps.

        Rows sorted by share, each with id, name, country, cell-steps and share.
        """
        if kind not in ("gateway", "pop"):
            raise InputError(f"kind must be 'gateway' or 'pop', got {kind!r}")
        sel = np.ones(len(self), bool) if mask is None else np.asarray(mask, bool)
        table = self.gateways if kind == "gateway" else self.pops
        col = (self.gateway if kind == "gateway" else self.pop)[sel]
        used = col[self.served[sel]]
        if len(used) == 0:
            return []
        counts = np.bincount(used, minlength=len(table))
        total = counts.sum()
        order = np.argsort(-counts, kind="stable")
        return [
            {
                "id": str(table.id[i]),
                "name": str(table.name[i]),
                "country": str(table.country[i]),
                "latitude_deg": float(table.latitude_deg[i]),
                "longitude_deg": float(table.longitude_deg[i]),
                "cell_steps": int(counts[i]),
                "share": float(counts[i] / total),
            }
            for i in order
            if counts[i] > 0
        ]

    def table(self) -> list[dict[str, Any]]:
        """One row per cell with its statistics."""
        p50, p95 = self.rtt_p50_ms, self.rtt_p95_ms
        frac, vis, ho = self.served_fraction, self.mean_visible, self.handovers_per_hour
        return [
            {
                "cell": h3.int_to_str(int(c)),
                "latitude_deg": float(self.latitude_deg[i]),
                "longitude_deg": float(self.longitude_deg[i]),
                "served_fraction": float(frac[i]),
                "mean_visible": float(vis[i]),
                "rtt_p50_ms": None if np.isnan(p50[i]) else float(p50[i]),
                "rtt_p95_ms": None if np.isnan(p95[i]) else float(p95[i]),
                "handovers_per_hour": float(ho[i]),
            }
            for i, c in enumerate(self.cells)
        ]

    # ------------------------------------------------------------- output
    def to_geojson(self, path: str | Path, extra: dict[str, np.ndarray] | None = None) -> Path:
        """Write a GeoJSON FeatureCollection of cell hexagons with their statistics.

        ``extra`` adds a property per cell (name -> (C,) values), e.g. the served fraction
        after a what-if switch.
        """
        features = []
        rows = self.table()
        for name, values in (extra or {}).items():
            if len(values) != len(rows):
                raise InputError(
                    f"extra column {name!r} has {len(values)} values for {len(rows)} cells"
                )
            for row, v in zip(rows, np.asarray(values).tolist(), strict=True):
                row[name] = v
        for row, c in zip(rows, self.cells, strict=True):
            ring = [[lon, lat] for lat, lon in h3.cell_to_boundary(h3.int_to_str(int(c)))]
            ring.append(ring[0])
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "properties": row,
                }
            )
        doc = {"type": "FeatureCollection", "features": features, "skyfence": _jsonable(self.meta)}
        return write_text_atomic(Path(path), json.dumps(doc), make_parents=True)

    def to_parquet(self, path: str | Path) -> Path:
        """Write GeoParquet (WKB hexagons in ``geometry``, CRS84) with the per-cell statistics."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        import shapely

        rows = self.table()
        polys = [
            shapely.Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(h3.int_to_str(int(c)))])
            for c in self.cells
        ]
        cols: dict[str, Any] = {k: [r[k] for r in rows] for k in rows[0]} if rows else {}
        cols["geometry"] = shapely.to_wkb(np.asarray(polys, dtype=object)).tolist() if polys else []
        table = pa.table(cols)
        geo = {
            "version": "1.0.0",
            "primary_column": "geometry",
            "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Polygon"]}},
        }
        table = table.replace_schema_metadata({b"geo": json.dumps(geo).encode()})
        path = Path(path)
        with atomic_path(path, make_parents=True) as tmp:
            pq.write_table(table, tmp)
        return path


def compute_coverage(
    cells: np.ndarray,
    times: np.ndarray,
    *,
    constellation: Any,
    model: NetworkModel,
    constraint_countries: list[str] | None = None,
    terminal_country: np.ndarray | str = "",
    steps_per_shard: int = 20,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    meta: dict[str, Any] | None = None,
    rule: str = DEFAULT_RULE,
) -> Coverage:
    """Coverage of ``cells`` at ``times`` through ``model`` (a :class:`NetworkModel`).

    Parameters
    ----------
    cells : (C,) uint64
        H3 cells; a terminal stands at each centre.
    times : (T,) datetime64[ns]
        An evenly spaced grid; the step is one scheduling slot.
    constraint_countries : list of str, optional
        Landing constraint: terminals whose ``terminal_country`` is listed must land at a
        gateway and PoP of that country.
    steps_per_shard : int
        Time steps per independent shard.
    executor : optional
        ``concurrent.futures`` executor or ``dask.distributed.Client`` to run shards on.
    progress : callable, optional
        ``progress(done_shards, total_shards)``.
    rule : str
        Satellite-selection rule, one of :data:`COVERAGE_RULES` (default
        :data:`skyfence.links.DEFAULT_RULE`, the rule of every command).
    """
    if rule not in COVERAGE_RULES:
        raise InputError(
            f"coverage rule {rule!r} is not one of {', '.join(COVERAGE_RULES)} (longest-visible "
            "looks ahead over the window: use skyfence.links.run_schedule)"
        )
    times = np.asarray(times, dtype="datetime64[ns]")
    if len(times) == 0:
        raise InputError("the time window has no steps; give a duration >= 0 and a step > 0")
    check_cell_steps(len(cells), len(times))
    step_s = float((times[1] - times[0]) / np.timedelta64(1, "s")) if len(times) > 1 else 0.0
    terminals = cell_sites(cells, terminal_country)
    constraint = None
    if constraint_countries:
        constraint = LandingConstraint.by_country(
            terminals, model.gateways, model.pops, countries=constraint_countries
        )
    home = model.home_pops(terminals, constraint)
    fn = partial(
        coverage_shard,
        constellation=constellation,
        model=model,
        terminals=terminals,
        constraint=constraint,
        home_pop=home,
        rule=rule,
    )
    shards = run_shards(
        fn, time_shards(times, steps_per_shard), executor=executor, progress=progress
    )
    info = {
        "start": datetime64_to_iso(times[0]),
        "steps": len(times),
        "step_s": step_s,
        "cells": len(cells),
        "rule": rule,
    } | dict(meta or {})
    return Coverage.merge(
        shards,
        cells=cells,
        terminals=terminals,
        step_s=step_s if step_s else 1.0,
        gateways=model.gateways,
        pops=model.pops,
        meta=info,
    )


def _jsonable(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if not k.startswith("_")}
