"""What a proposed change would do, before anyone approves it: per region, the H3 cells and
the area whose activation state changes (and from what to what), computed by the same
compiled engine that will enforce the change; and the registered terminals whose
registered country changes between served and not served.

The approver sees this on the pending change (``GET /v1/policy/changes/{id}``,
``skyfence policy show-pending``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from skyfence.app._store import open_store, resolver

if TYPE_CHECKING:
    from skyfence.app.context import App
    from skyfence.app.identity import Principal

__all__ = ["RegionImpact", "ChangeImpact", "change_impact"]


@dataclass(frozen=True)
class RegionImpact:
    """Cells of one region's cover whose state changes: how many, their area, and the
    transitions (``"active->suspended": n``)."""

    region: str
    cells_checked: int
    cells_changed: int
    area_changed_km2: float
    transitions: dict[str, int]
    transition_area_km2: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangeImpact:
    """What approving change ``change_id`` would do to the version in force
    (``against_version``), at H3 ``resolution``."""

    change_id: int
    against_version: int
    resolution: int
    regions: list[RegionImpact]
    terminals_gaining: list[str] = field(default_factory=list)
    terminals_losing: list[str] = field(default_factory=list)


def change_impact(
    app: App, principal: Principal, change_id: int, *, resolution: int = 4, at: Any = None
) -> ChangeImpact:
    """The impact of a change against the version in force now (see the module doc).

    Terminals: each registered terminal is decided at the centres of the cells of its
    registered country (centres inside the country, up to 500); it *gains* service when no cell served it before and some cell does after, and *loses*
    it the other way round.
    """
    import h3
    import numpy as np
    from h3.api import basic_int as h3i

    from skyfence.policy import STATES, Policy, TerminalRegistry, diff_policies
    from skyfence.timeutil import parse_time

    principal.require("read changes", "viewer")
    resolve = resolver(app)
    with open_store(app) as store:
        request = store.change_request(change_id)
        current = store.state().policy_version
        old_doc = store.policy_document(current) if current else None
        records = store.terminals()
    new = Policy.from_document(request.document, source=f"change {change_id}", resolve=resolve)
    old = (
        None
        if old_doc is None
        else Policy.from_document(old_doc, source="in force", resolve=resolve)
    )
    diff = diff_policies(old, new, cells=False, resolve=resolve)
    t = parse_time(at)
    countries = app.world.index()
    new_cp = new.compile(resolve=resolve, countries=countries)
    old_cp = None if old is None else old.compile(resolve=resolve, countries=countries)
    names = np.array([*STATES, "none"], dtype=object)

    def states(cp: Any, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        if cp is None:
            return np.full(lat.shape[0], -1, dtype=np.int64)
        s, _ = cp.states_at(lat, lon, t)
        return np.asarray(s, dtype=np.int64)

    regions: list[RegionImpact] = []
    activation = sorted({r for c in diff.changes if c.kind == "activation" for r in c.regions})
    for expr in activation:
        cover = np.asarray(resolve(expr).cells(resolution), dtype=np.uint64)
        if cover.size == 0:
            regions.append(RegionImpact(expr, 0, 0, 0.0, {}))
            continue
        ll = np.array([h3i.cell_to_latlng(int(c)) for c in cover.tolist()]).reshape(-1, 2)
        before, after = states(old_cp, ll[:, 0], ll[:, 1]), states(new_cp, ll[:, 0], ll[:, 1])
        moved = before != after
        pairs: dict[str, int] = {}
        areas: dict[str, float] = {}
        for cell, b, a in zip(
            cover[moved].tolist(), before[moved].tolist(), after[moved].tolist(), strict=True
        ):
            key = f"{names[b]}->{names[a]}"
            pairs[key] = pairs.get(key, 0) + 1
            areas[key] = areas.get(key, 0.0) + h3.cell_area(h3.int_to_str(int(cell)), unit="km^2")
        total = round(sum(areas.values()), 1)
        rounded = {k: round(v, 1) for k, v in areas.items()}
        regions.append(RegionImpact(expr, int(cover.size), int(moved.sum()), total, pairs, rounded))

    gaining: list[str] = []
    losing: list[str] = []
    if records and (activation or diff.changes):
        registry = TerminalRegistry.from_records(records)
        world = app.world
        for terminal in registry.terminals:
            try:
                region = world.region(terminal.country)
            except Exception:  # noqa: BLE001 - a country without geometry: not judged
                continue
            cells = np.asarray(region.cells(max(2, resolution - 1)), dtype=np.uint64)[:500]
            if cells.size == 0:
                continue
            ll = np.array([h3i.cell_to_latlng(int(c)) for c in cells.tolist()]).reshape(-1, 2)
            ll = ll[np.asarray(region.contains(ll[:, 0], ll[:, 1]), dtype=bool)]
            if ll.shape[0] == 0:
                continue
            ids = np.array([terminal.id] * len(ll), dtype=object)
            table = {"terminal_id": ids, "lat": ll[:, 0], "lon": ll[:, 1], "time": t}
            after_any = bool(new_cp.decide_batch(table, registry=registry).allowed.any())
            before_any = (
                False
                if old_cp is None
                else bool(old_cp.decide_batch(table, registry=registry).allowed.any())
            )
            if after_any and not before_any:
                gaining.append(terminal.id)
            elif before_any and not after_any:
                losing.append(terminal.id)
    return ChangeImpact(change_id, current, resolution, regions, gaining, losing)
