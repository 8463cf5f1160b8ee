"""What the map page shows, as typed results: cell layers, satellites, ground sites, a place.

Each operation is what one layer of the map asks for; the web adapter
(:mod:`skyfence.web`) only packs the results into bytes or JSON.

* :func:`activation_layer` — the activation state of every H3 cell that a rule of the policy
  in force covers, at a time, decided by the same compiled engine as every decision (at each
  cell's centre), with the rule that decided it.
* :func:`schedule` — the times at which a rule of the policy starts or stops (the stops of
  the map's time slider).
* :func:`satellites_at` — sub-satellite points and the radius of each footprint (the ground
  seen above the elevation mask) at one time.
* :func:`ground_sites` — gateways (listed, planned or inferred, told apart) and PoPs.
* :func:`whatif_job_layer`, :func:`whatif_layer` / :func:`whatif_runs` — the per-cell result
  of a what-if job or report folder, with the cells its spillover reaches.
* :func:`findings_layer` — misuse findings of a detect run (its GeoJSON output).
* :func:`place_history` — the log entries that touched a region, each with its inclusion
  proof against the latest signed checkpoint.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skyfence.app._store import open_store, resolver
from skyfence.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from skyfence.app.context import App
    from skyfence.app.identity import Principal
    from skyfence.store import Checkpoint, InclusionProof, LogEntry

__all__ = [
    "CellLayer",
    "Satellites",
    "GroundSite",
    "HistoryEntry",
    "PlaceHistory",
    "activation_layer",
    "schedule",
    "satellites_at",
    "ground_sites",
    "network_from_reports",
    "whatif_runs",
    "whatif_layer",
    "whatif_job_layer",
    "whatif_cells",
    "findings_layer",
    "place_history",
    "footprint_radius_km",
    "MAX_CELLS",
]

#: The most cells one layer may hold (about a third of all resolution-5 cells).
MAX_CELLS = 750_000
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class CellLayer:
    """H3 cells and one small integer code per cell (the index into ``names``).

    ``cells`` are H3 indexes (``uint64``); ``codes[i]`` names ``names[codes[i]]``;
    ``values`` holds extra per-cell columns (float32 or integer arrays of the same length);
    ``meta`` says where the layer came from (policy version, time, rule ids, ...).
    """

    kind: str
    resolution: int
    cells: np.ndarray
    codes: np.ndarray
    names: list[str]
    values: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.cells.shape[0])


def _check_resolution(resolution: int) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, int) or not 0 <= resolution <= 7:
        raise InputError(
            f"resolution must be a whole number 0..7 for a map layer, got {resolution!r}"
        )
    return resolution


def _centres(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from h3.api import basic_int as h3i

    latlon = np.array([h3i.cell_to_latlng(int(c)) for c in cells.tolist()], dtype=np.float64)
    latlon = latlon.reshape(-1, 2)
    return latlon[:, 0], latlon[:, 1]


def _policy_in_force(app: App, at: Any) -> tuple[Any, int]:
    from skyfence.policy import Policy
    from skyfence.timeutil import datetime64_to_iso

    with open_store(app) as store:
        found = store.policy_in_force(at)
    if found is None:
        raise NotFoundError(
            f"no stored policy version was in force at {datetime64_to_iso(at)}; apply one "
            "with `skyfence policy apply FILE` (or pick a later time)"
        )
    policy = Policy.from_document(
        found.document, source=f"policy version {found.version}", resolve=resolver(app)
    )
    return policy, int(found.version)


def activation_layer(
    app: App,
    principal: Principal,
    *,
    at: Any = None,
    resolution: int = 5,
    max_cells: int = MAX_CELLS,
) -> CellLayer:
    """The state of every H3 cell a rule of the policy in force at ``at`` covers.

    Cells come grouped by state (then by H3 index).

    The cells are the union of the covers of every activation rule's region (all rules of
    the version, so the set does not change as the time moves); each cell's state and the
    rule that decided it come from the compiled engine at the cell's centre and at ``at``
    (``states_at``, the kernel every decision uses). ``meta["rule_ids"][values["rule"][i]]``
    is the deciding rule (``-1``: none, the default).
    """
    from skyfence.app.decide import _engine
    from skyfence.policy import STATES
    from skyfence.timeutil import datetime64_to_iso, parse_time

    principal.require("read the map", "viewer")
    res = _check_resolution(resolution)
    t = parse_time(at)
    policy, version = _policy_in_force(app, t)
    engine = _engine(app, policy)
    key = ("map-cover", version, res)

    def build() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = [np.empty(0, dtype=np.uint64)]
        for i in range(len(policy.rules)):
            region = engine.regions[int(engine.rule_slot[i])]
            parts.append(np.asarray(region.cells(res), dtype=np.uint64))
            total = sum(p.size for p in parts)
            if total > 4 * max_cells:
                break
        cover = np.unique(np.concatenate(parts))
        if cover.size > max_cells:
            raise InputError(
                f"the policy's regions cover {cover.size:,} cells at resolution {res}; a map "
                f"layer holds at most {max_cells:,}: pick a coarser resolution"
            )
        lat, lon = _centres(cover)
        return cover, lat, lon

    cover, lat, lon = app.cached(key, build)
    codes, rule_idx = engine.states_at(lat, lon, t)
    codes = np.asarray(codes, dtype=np.uint8)
    order = np.lexsort((cover, codes))  # grouped by state: the page fills one run at a time
    return CellLayer(
        kind="activation",
        resolution=res,
        cells=cover[order],
        codes=codes[order],
        names=[*STATES, "invalid_input"],
        values={"rule": np.asarray(rule_idx, dtype=np.int16)[order]},
        meta={
            "policy_version": version,
            "at": datetime64_to_iso(t),
            "rule_ids": list(engine.rule_ids),
        },
    )


def schedule(app: App, principal: Principal, *, at: Any = None) -> dict[str, Any]:
    """The policy in force at ``at``: version, its rules, and every time one starts or ends.

    The sorted ``times`` are where the map's time slider stops: between two of them no
    activation rule starts or ends, so the map cannot change.
    """
    from skyfence.timeutil import datetime64_to_iso, parse_time

    principal.require("read the map", "viewer")
    t = parse_time(at)
    policy, version = _policy_in_force(app, t)
    times: set[str] = set()
    rules = []
    for r in policy.rules:
        start = None if r.effective_from is None else datetime64_to_iso(r.effective_from)
        end = None if r.effective_until is None else datetime64_to_iso(r.effective_until)
        times.update(x for x in (start, end) if x is not None)
        rules.append(
            {"id": r.id, "region": r.region, "state": r.state, "from": start, "until": end}
        )
    return {"policy_version": version, "at": datetime64_to_iso(t), "rules": rules,
            "times": sorted(times)}  # fmt: skip


# ----------------------------------------------------------------------------- satellites
def footprint_radius_km(altitude_km: np.ndarray, min_elevation_deg: float) -> np.ndarray:
    """Ground radius (km, along the surface) seen above ``min_elevation_deg`` from a satellite.

    Spherical Earth: the Earth-central angle is ``acos(R cos e / (R + h)) - e``.

    Examples
    --------
    >>> round(float(footprint_radius_km(np.array([550.0]), 25.0)[0]), 1)
    940.5
    """
    e = math.radians(min_elevation_deg)
    h = np.asarray(altitude_km, dtype=np.float64)
    central = np.arccos(EARTH_RADIUS_KM * math.cos(e) / (EARTH_RADIUS_KM + h)) - e
    return EARTH_RADIUS_KM * central


@dataclass(frozen=True)
class Satellites:
    """Sub-satellite points of a constellation at one time (NaN rows left out)."""

    time: str
    constellation: str
    min_elevation_deg: float
    names: list[str]
    latitude_deg: np.ndarray
    longitude_deg: np.ndarray
    altitude_km: np.ndarray
    footprint_km: np.ndarray


def satellites_at(
    app: App,
    *,
    at: Any = None,
    constellation: str = "starlink-gen1",
    min_elevation_deg: float = 25.0,
) -> Satellites:
    """Where each satellite is at ``at`` and the radius of the ground it can serve."""
    from skyfence.app.network import _sat_name, load_constellation
    from skyfence.timeutil import datetime64_to_iso, parse_time

    if not (math.isfinite(min_elevation_deg) and 0.0 <= min_elevation_deg < 90.0):
        raise InputError(f"the elevation mask must be within 0..90°, got {min_elevation_deg}")
    t = parse_time(at)
    c = load_constellation(app, constellation)
    eph = c.propagate(np.array([t]))
    lat = eph.latitude_deg[:, 0]
    lon = eph.longitude_deg[:, 0]
    alt = eph.altitude_km[:, 0]
    ok = np.isfinite(lat) & np.isfinite(lon) & np.isfinite(alt)
    idx = np.flatnonzero(ok)
    return Satellites(
        time=datetime64_to_iso(t),
        constellation=constellation,
        min_elevation_deg=float(min_elevation_deg),
        names=[_sat_name(c, int(i)) for i in idx],
        latitude_deg=lat[ok],
        longitude_deg=lon[ok],
        altitude_km=alt[ok],
        footprint_km=footprint_radius_km(alt[ok], min_elevation_deg),
    )


# ----------------------------------------------------------------------------- ground sites
@dataclass(frozen=True)
class GroundSite:
    """A gateway or PoP; ``source`` is ``listed``, ``planned`` or ``inferred`` (gateways)."""

    id: str
    name: str
    kind: str
    latitude_deg: float
    longitude_deg: float
    country: str
    source: str


def network_from_reports(
    app: App,
    principal: Principal,
    *,
    gateways: str | None = None,
    pops: str | None = None,
    pop_map: str | None = None,
) -> Any:
    """A :class:`~skyfence.app.network.NetworkSpec` from files in the reports directory
    (names only: a request never names a path), the defaults for what is not given."""
    from skyfence.app.network import NetworkSpec

    principal.require("read reports", "viewer")

    def file(name: str | None, what: str) -> Path | None:
        if name is None or name == "":
            return None
        if not _RUN_NAME.match(name) or not name.lower().endswith((".csv", ".geojson", ".json")):
            raise InputError(f"{what} {name!r}: expected the name of a CSV or GeoJSON file")
        path = _reports_dir(app) / name
        if not path.is_file():
            raise NotFoundError(f"no {what} file {name!r} under {_reports_dir(app)}")
        return path

    gw = file(gateways, "gateways")
    return NetworkSpec(
        gateways=gw if gw is not None else "plan",
        pops=file(pops, "PoPs"),
        pop_map=file(pop_map, "PoP map"),
    )


def ground_sites(app: App, *, network: Any = None) -> list[GroundSite]:
    """Gateways and PoPs of a network (default: the default :class:`NetworkSpec`).

    With a gateway file, the gateways the latency model infers where it has holes are
    added and marked ``inferred``; without one, the planning model's gateways are
    ``planned``.
    """
    from skyfence.analysis.gateways import planned_gateways
    from skyfence.app.network import NetworkSpec, inferred_gateways, latency_model_of, load_sites

    spec = network if network is not None else NetworkSpec()
    gateways, pops, pop_map = load_sites(spec)
    out: list[GroundSite] = []

    def add(sites: Any, kind: str, source: str) -> None:
        for i in range(len(sites)):
            out.append(
                GroundSite(
                    str(sites.id[i]),
                    str(sites.name[i]) if sites.name is not None else "",
                    kind,
                    round(float(sites.latitude_deg[i]), 5),
                    round(float(sites.longitude_deg[i]), 5),
                    str(sites.country[i]) if sites.country is not None else "",
                    source,
                )  # fmt: skip
            )

    if gateways is None:
        add(planned_gateways(pops), "gateway", "planned")
    else:
        add(gateways, "gateway", "listed")
        extra = inferred_gateways(latency_model_of(spec), gateways, pops, pop_map)
        add(extra, "gateway", "inferred")
    add(pops, "pop", "listed")
    return out


# ----------------------------------------------------------------------------- what-if
#: What-if cell classes by the share of time a cell is served after the switch.
#: The last, ``spillover``, marks the cells the spillover across the region's border reaches.
WHATIF_CLASSES: tuple[str, ...] = (
    "served_95", "served_50_95", "served_below_50", "not_served", "spillover"
)  # fmt: skip
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,200}$")


def _reports_dir(app: App) -> Path:
    return Path(app.settings.reports_dir).expanduser()


def whatif_runs(app: App, principal: Principal) -> list[dict[str, Any]]:
    """The what-if reports under the settings' reports directory, newest first."""
    principal.require("read reports", "viewer")
    base = _reports_dir(app)
    found: list[tuple[float, str]] = []
    if base.is_dir():
        for d in base.iterdir():
            report = d / "report.json"
            if d.name.startswith("whatif-") and report.is_file():
                found.append((report.stat().st_mtime, d.name))
    found.sort(key=lambda r: (-r[0], r[1]))
    return [{"run": name, "modified": mtime} for mtime, name in found]


def _run_dir(app: App, run: str) -> Path:
    if not isinstance(run, str) or not _RUN_NAME.match(run) or ".." in run:
        raise InputError(f"what-if run {run!r} is not a run name; list them at /v1/map/whatif")
    path = _reports_dir(app) / run
    if not (path / "report.json").is_file():
        raise NotFoundError(f"no what-if report {run!r} under {_reports_dir(app)}")
    return path


def whatif_layer(app: App, principal: Principal, run: str) -> CellLayer:
    """The cells of a what-if report folder (see :func:`whatif_cells`)."""
    principal.require("read reports", "viewer")
    report = json.loads((_run_dir(app, run) / "report.json").read_text(encoding="utf-8"))
    return whatif_cells(app, report, {"run": run})


def whatif_job_layer(app: App, principal: Principal, job_id: str) -> CellLayer:
    """The cells of a finished what-if job (``POST /v1/whatif``; see :func:`whatif_cells`).

    A job that is queued or running, or that failed, has no cells yet: that is an
    :class:`~skyfence.errors.InputError` naming its status (and its error)."""
    from skyfence.app.jobs import job

    found = job(app, principal, job_id)
    if found.kind != "whatif":
        raise InputError(f"job {job_id} is a {found.kind} job, not a what-if")
    if found.status != "done" or found.out_dir is None:
        why = f": {found.error}" if found.error else ""
        raise InputError(f"what-if job {job_id} has no result: it is {found.status}{why}")
    path = Path(found.out_dir) / "report.json"
    if not path.is_file():
        raise NotFoundError(f"what-if job {job_id} has no report.json any more")
    report = json.loads(path.read_text(encoding="utf-8"))
    return whatif_cells(app, report, {"job": job_id, "params": found.params})


def _spill_regions(app: App, report: dict[str, Any], cells: np.ndarray) -> tuple[
    np.ndarray, list[dict[str, str]]
]:  # fmt: skip
    """For each spillover cell, the index of the area its centre is in (a switched-off area
    of the what-if first, then a country, else the sea), and those areas."""
    from skyfence.analysis.whatif import excluded_regions

    lat, lon = _centres(cells)
    where = np.full(len(cells), -1, dtype=np.int64)
    areas: list[dict[str, str]] = []
    expression = str(report.get("expression") or "")
    off = (
        excluded_regions(expression, app.world)
        if expression and report.get("action") == "activate"
        else []
    )
    for region in off:
        inside = np.asarray(region.contains(lat, lon), bool) & (where < 0)
        if inside.any():
            where[inside] = len(areas)
            areas.append({"id": region.id, "name": region.name})
    index = app.world.index()
    found = np.asarray(index.lookup(lat, lon))
    slot: dict[int, int] = {}
    for i in np.flatnonzero(where < 0).tolist():
        k = int(found[i])
        if k not in slot:
            slot[k] = len(areas)
            r = index.regions[k] if k >= 0 else None
            areas.append({"id": r.id, "name": r.name} if r is not None else
                         {"id": "", "name": "sea"})  # fmt: skip
        where[i] = slot[k]
    return where.astype(np.int16), areas


def whatif_cells(app: App, report: dict[str, Any], source: dict[str, Any]) -> CellLayer:
    """A what-if report's cells: each cell of the region by its served share after the switch
    (:data:`WHATIF_CLASSES`), and the cells the spillover reaches as ``spillover``.

    After an activation the spillover cells are those outside the region (not among its
    cells) that the beams serving it light; after a deactivation they are the region's own
    cells still lit by the beams serving the cells around it (dark otherwise). Values: the
    served share before and after, the median RTT (NaN where never served, and for cells
    outside the region) and ``spill_area`` — for a spillover cell, the index into
    ``meta["spill_areas"]`` of the area its centre is in (a switched-off area, a country,
    or the sea: ``id`` ""); -1 for the others. ``meta["spillover"]`` is the report's
    summary (area and km² per country); ``meta["spillover_cells_listed"]`` is false for a
    report written before reports listed their spillover cells."""
    import h3

    rows = report.get("cells", [])
    n = len(rows)
    cells = np.fromiter((h3.str_to_int(r["cell"]) for r in rows), dtype=np.uint64, count=n)
    before = np.array([r.get("served_fraction", 0.0) for r in rows], dtype=np.float32)
    after = np.array([r.get("served_fraction_after", 0.0) for r in rows], dtype=np.float32)
    rtt = np.array(
        [np.nan if r.get("rtt_p50_ms") is None else r["rtt_p50_ms"] for r in rows],
        dtype=np.float32,
    )
    codes = np.select([after >= 0.95, after >= 0.5, after > 0.0], [0, 1, 2], default=3).astype(
        np.uint8
    )
    listed = "spillover_cells" in report
    spill = np.unique(np.fromiter(
        (h3.str_to_int(c) for c in report.get("spillover_cells", [])), dtype=np.uint64
    ))  # fmt: skip
    spill_code = WHATIF_CLASSES.index("spillover")
    if report.get("action") == "deactivate":  # the region's dark cells still lit from outside
        codes[np.isin(cells, spill) & (after <= 0.0)] = spill_code
        extra = np.zeros(0, dtype=np.uint64)
    else:  # the cells outside the region that its beams light
        extra = spill[~np.isin(spill, cells)]
    m = len(extra)
    all_cells = np.concatenate([cells, extra])
    all_codes = np.concatenate([codes, np.full(m, spill_code, dtype=np.uint8)])
    nan = np.full(m, np.nan, dtype=np.float32)
    where = np.full(n + m, -1, dtype=np.int16)
    is_spill = all_codes == spill_code
    where[is_spill], areas = _spill_regions(app, report, all_cells[is_spill])
    if len(all_cells):
        resolution = int(h3.get_resolution(h3.int_to_str(int(all_cells[0]))))
    else:
        resolution = int(report.get("setup", {}).get("resolution", 5))
    order = np.lexsort((all_cells, all_codes))  # grouped by class, as the page draws them
    return CellLayer(
        kind="whatif",
        resolution=resolution,
        cells=all_cells[order],
        codes=all_codes[order],
        names=list(WHATIF_CLASSES),
        values={
            "served_before": np.concatenate([before, np.zeros(m, np.float32)])[order],
            "served_after": np.concatenate([after, nan])[order],
            "rtt_p50_ms": np.concatenate([rtt, nan])[order],
            "spill_area": where[order],
        },
        meta={
            **source,
            "action": report.get("action"),
            "expression": report.get("expression"),
            "region": report.get("region"),
            "window": report.get("window"),
            "before": report.get("before"),
            "after": report.get("after"),
            "spillover": report.get("spillover"),
            "spillover_cells_listed": listed,
            "spill_areas": areas,
            "lands_abroad_share": report.get("lands_abroad_share"),
        },
    )


# ----------------------------------------------------------------------------- findings
def findings_layer(app: App, principal: Principal, name: str) -> dict[str, Any]:
    """The misuse findings a detect run wrote as GeoJSON under the reports directory
    (``skyfence detect run --geojson <reports_dir>/NAME.geojson``): points with kind, score,
    terminals, and their evidence tracks."""
    principal.require("read reports", "viewer")
    if not isinstance(name, str) or not _RUN_NAME.match(name) or not name.endswith(".geojson"):
        raise InputError(f"findings {name!r}: expected the name of a .geojson file")
    path = _reports_dir(app) / name
    if not path.is_file():
        raise NotFoundError(f"no findings file {name!r} under {_reports_dir(app)}")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if data.get("type") != "FeatureCollection":
        raise InputError(f"{name} is not a GeoJSON FeatureCollection")
    return data


def findings_files(app: App, principal: Principal) -> list[str]:
    """Names of the findings GeoJSON files under the reports directory."""
    principal.require("read reports", "viewer")
    base = _reports_dir(app)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.glob("*.geojson") if p.is_file())


# ----------------------------------------------------------------------------- history
@dataclass(frozen=True)
class HistoryEntry:
    """A log entry, the exact canonical text that was hashed, and its inclusion proof."""

    entry: LogEntry
    text: str
    proof: InclusionProof


@dataclass(frozen=True)
class PlaceHistory:
    """The log entries that name a region, proved against one signed checkpoint."""

    region: str
    tree_size: int
    checkpoint: Checkpoint | None
    public_key_pem: str
    entries: list[HistoryEntry]


def _names_region(data: Any, region: str) -> bool:
    """Whether a rule or region expression in ``data`` names ``region`` (as a whole token)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("region", "regions", "sensitive_regions") and _expr_names(value, region):
                return True
            if _names_region(value, region):
                return True
    elif isinstance(data, list):
        return any(_names_region(v, region) for v in data)
    return False


def _expr_names(value: Any, region: str) -> bool:
    if isinstance(value, str):
        return region in {t.upper() for t in re.findall(r"[A-Za-z0-9_]+", value)}
    if isinstance(value, list):
        return any(_expr_names(v, region) for v in value)
    return False


def place_history(app: App, principal: Principal, region: str, *, limit: int = 50) -> PlaceHistory:
    """Policy entries of the log that name ``region`` (and the approvals, rejections and
    expiries of those changes), newest last, each with its inclusion proof in the tree of
    the latest signed checkpoint (entries after it are left out: not yet provable)."""
    from skyfence.store import canonical_json

    principal.require("read the log", "viewer")
    rid = str(region).strip().upper()
    if not re.fullmatch(r"[A-Z0-9_-]{1,64}", rid):
        raise InputError(f"region {region!r}: expected a region id such as TW or UA")
    with open_store(app) as store:
        cp = store.log.latest_checkpoint()
        pem = store.log.pubkey()
        if cp is None:
            return PlaceHistory(rid, 0, None, pem, [])
        size = cp.tree_size
        picked: list[LogEntry] = []
        changes: set[Any] = set()
        for e in store.log.entries(0, size):
            if not e.kind.startswith("policy"):
                continue
            data = e.entry.get("data", {})
            change = data.get("change_id") if isinstance(data, dict) else None
            if _names_region(data, rid) or (change is not None and change in changes):
                picked.append(e)
                if change is not None:
                    changes.add(change)
        picked = picked[-limit:]
        out = [
            HistoryEntry(
                e, canonical_json(e.entry).decode("utf-8"), store.log.inclusion_proof(e.index, size)
            )
            for e in picked
        ]
    return PlaceHistory(rid, size, cp, pem, out)
