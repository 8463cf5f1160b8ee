"""One request, fast: the kernel's rules on one row with Python scalars and a cell cache.

A request is located through a cache of H3 cells (resolution 7, ≈ 5 km²): a cell strictly
inside its regions answers at once; a cell crossed by a boundary keeps each candidate
region clipped to the cell's box and tests the point exactly (boundary points inside, the
lowest country on a shared border, as ``RegionIndex``). Then :func:`decide_one` applies the
compiled tables as Python lists. ``decide`` ≡ ``decide_batch`` is tested on random
requests and near boundaries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from h3.api import basic_int as h3i

from skyfence.policy.decision import (
    ACTIVE,
    KIND_REASON,
    KINDS,
    NOT_LICENSED,
    NS_PER_DAY,
    REASON_CODE,
    STATE_CODE,
    T_MIN,
)
from skyfence.regions._geos import PREPARED

if TYPE_CHECKING:
    from skyfence.policy.compile import Bound, CompiledPolicy

__all__ = ["CellCache", "decide_one"]

#: A cell's entry: (country key, clipped piece or None) and (custom key, piece or None)
#: lists, or ``False`` for a cell crossing the antimeridian (left to the kernel).
CellEntry = tuple[list[tuple[int, Any]], list[tuple[int, Any]]] | bool


class CellCache:
    """Which regions each H3 cell touches, built on demand and kept (up to ``max_cells``).

    Parameters
    ----------
    countries : sequence of regions
        The country layer (keys ``0 .. len(countries) - 1``).
    custom : sequence of regions
        The other rule regions (keys ``len(countries) + i``).
    """

    resolution = 7
    max_cells = 500_000

    def __init__(self, countries: Sequence[Any], custom: Sequence[Any]) -> None:
        self.countries = list(countries)
        self.custom = list(custom)
        self.cache: dict[int, CellEntry] = {}
        self._country_tree: Any = None
        self._custom_tree: Any = None

    def locate(self, lat: float, lon: float) -> tuple[int, list[int]] | None:
        """Country key (-1 at sea) and custom region keys of a point; ``None`` for cells
        crossing the antimeridian. The cell cache and its prepared pieces are shared by the
        threads deciding with this engine: see :mod:`skyfence.regions._geos`."""
        with PREPARED:
            return self._locate(lat, lon)

    def _locate(self, lat: float, lon: float) -> tuple[int, list[int]] | None:
        cell = int(h3i.latlng_to_cell(lat, lon, self.resolution))
        entry = self.cache.get(cell)
        if entry is None:
            if len(self.cache) >= self.max_cells:
                self.cache.clear()
            entry = self._classify(cell)
            self.cache[cell] = entry
        if entry is False or entry is True:
            return None
        countries, customs = entry
        country = -1
        for k, g in countries:
            if g is None or shapely.intersects_xy(g, lon, lat):
                country = k
                break
        keys = [k for k, g in customs if g is None or shapely.intersects_xy(g, lon, lat)]
        return country, keys

    def _classify(self, cell: int) -> CellEntry:
        ring = h3i.cell_to_boundary(cell)
        lons = [p[1] for p in ring]
        if max(lons) - min(lons) > 180.0:
            return False  # crosses the antimeridian: leave it to the kernel
        hexagon = shapely.Polygon([(p[1], p[0]) for p in ring])
        if self._country_tree is None:
            self._country_tree = shapely.STRtree([r.geometry for r in self.countries])
            self._custom_tree = shapely.STRtree([r.geometry for r in self.custom])
            for r in (*self.countries, *self.custom):
                shapely.prepare(r.geometry)
        x0, y0, x1, y1 = hexagon.bounds
        eps = 1e-7

        def entries(tree: Any, regions: Sequence[Any], offset: int) -> list[tuple[int, Any]]:
            # the tree by boxes only, then each candidate's own prepared geometry against the
            # small hexagon: a predicate inside the tree would prepare the hexagon and walk
            # every vertex of the large region instead (about 2 ms a cell for a country)
            out = []
            for j in sorted(tree.query(hexagon).tolist()):
                geom = regions[j].geometry
                if shapely.contains_properly(geom, hexagon):
                    out.append((offset + j, None))
                elif shapely.intersects(geom, hexagon):
                    piece = shapely.clip_by_rect(geom, x0 - eps, y0 - eps, x1 + eps, y1 + eps)
                    shapely.prepare(piece)
                    out.append((offset + j, piece))
            return out

        return (
            entries(self._country_tree, self.countries, 0),
            entries(self._custom_tree, self.custom, len(self.countries)),
        )


def decide_one(
    cp: CompiledPolicy,
    lat: float,
    lon: float,
    t: np.datetime64,
    speed_kmh: float | None,
    altitude_m: float | None,
    row: int,
    trip: int,
    bound: Bound,
) -> dict[str, list[Any]] | None:
    """The kernel's rules on one row, with Python scalars over the same compiled tables.

    Returns the kernel's columns (one entry each, with details), or ``None`` (use the
    kernel) for invalid requests and cells crossing the antimeridian.
    """
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or np.isnat(t):
        return None
    if speed_kmh is not None and not speed_kmh >= 0:
        return None
    where = cp.cells.locate(lat, lon)
    if where is None:
        return None
    country, customs = where
    at_sea = country < 0
    tn = int(t.astype(np.int64))
    speed = math.nan if speed_kmh is None else float(speed_kmh)
    alt = math.nan if altitude_m is None else float(altitude_m)
    tab = cp.py
    best = tab["n_rules"]
    for key in (country, *customs):
        for r in tab["key_rules"].get(key, ()):
            if tab["from"][r] <= tn < tab["until"][r] and tab["rank"][r] < best:
                best = tab["rank"][r]
    win = tab["rank_to_rule"][best]
    state = tab["state"][win] if win >= 0 else NOT_LICENSED
    slot = tab["slot"][win] if win >= 0 else -1
    n_act = cp.n_activation
    tix = row if row >= 0 else len(bound.registry)
    py = bound.py
    plan_bits = py["plan_bits"][tix]
    violated = dict.fromkeys(KINDS, -1)
    srule = win
    for j, kind, key, t0, t1, plans, exempt, honour, limit, col in tab["trules"]:
        if not (t0 <= tn < t1):
            continue
        if kind == "maritime":
            if not at_sea:
                continue
            sea_state = cp.policy.terminal_rules[j].open_sea_state
            if sea_state is not None and srule < 0:
                state, srule = STATE_CODE[sea_state], n_act + j
            if violated[kind] < 0 and not plan_bits & plans:
                far = cp.coast.beyond_km(np.array([lat]), np.array([lon]), limit)[0]
                if far:
                    violated[kind] = n_act + j
            continue
        if violated[kind] >= 0:
            continue
        if key >= 0 and not (key == country or key in customs):
            continue
        if kind == "whitelist_only":
            bad = not py["whitelisted"][tix][col]
        elif kind == "speed_limit":
            applies = (plans == -1 or plan_bits & plans) and not plan_bits & exempt
            if honour and py["speed_exempt"][tix]:
                applies = False
            bad = bool(applies) and speed > limit
        elif kind == "altitude":
            bad = not plan_bits & exempt and alt > limit
        elif kind == "roaming":
            home = py["country"][tix]
            abroad = country >= 0 and home >= 0 and country != home
            applies = abroad and (plans == -1 or plan_bits & plans) and not plan_bits & exempt
            start = trip if trip != T_MIN else py["trip"][tix]
            day = (tn - start) // NS_PER_DAY + 1 if start != T_MIN else 1
            bad = bool(applies) and day > limit
        else:
            bad = False
        if bad:
            violated[kind] = n_act + j
    mask = 0 if state == ACTIVE else 1 << REASON_CODE["region_state"]
    for kind in KINDS:
        if violated[kind] >= 0:
            mask |= 1 << REASON_CODE[KIND_REASON[kind]]
    reason = (mask & -mask).bit_length() - 1 if mask else 0
    if mask == 0 or reason == REASON_CODE["region_state"]:
        deciding = srule
    else:
        deciding = next(violated[k] for k in KINDS if REASON_CODE[KIND_REASON[k]] == reason)
    out: dict[str, list[Any]] = {
        "allowed": [mask == 0],
        "state": [state],
        "region": [slot],
        "rule": [deciding],
        "reason": [reason],
        "reasons_mask": [mask],
        "country": [country],
        "state_rule": [srule],
    }
    for kind in KINDS:
        out[kind] = [violated[kind]]
    return out
