"""Operations on the simulated network: what a dish sees, its 15-s schedule, city-to-city RTT.

Also the loaders every analysis operation shares: a constellation from a preset name or an
element-set file (:func:`load_constellation`), and the ground segment from a
:class:`NetworkSpec` (:func:`load_network`) — with gateways planned by the one planning rule
of :mod:`skyfence.analysis.gateways` when none are given, so that ``links terminal``,
``coverage`` and ``whatif`` see the same network and give one RTT for one place and time.

Every operation takes an :class:`~skyfence.app.App` and plain arguments, checks them before any
work, and returns a typed result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skyfence.app._progress import ProgressCallback, stages
from skyfence.app.context import App
from skyfence.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from skyfence.ground import GroundSites
    from skyfence.ground.planner import Avoid
    from skyfence.links import NetworkModel, PopMap
    from skyfence.links.calibration import NamedLatencyModel
    from skyfence.orbits import Constellation

#: Most (satellite, time step) pairs a schedule or a propagation may hold in memory (positions
#: take 24 bytes each, so this is about 1.4 GB).
MAX_SAT_STEPS = 60_000_000

__all__ = [
    "MAX_SAT_STEPS",
    "CityRtt",
    "HypatiaExport",
    "HypatiaRouteResult",
    "Network",
    "NetworkSpec",
    "Slot",
    "TerminalSchedule",
    "VisibleSatellite",
    "Visibility",
    "check_place",
    "city_rtt",
    "export_hypatia",
    "hypatia_route",
    "inferred_gateways",
    "latency_model_of",
    "load_constellation",
    "load_network",
    "terminal_schedule",
    "visible_satellites",
]


@dataclass(frozen=True)
class NetworkSpec:
    """Where a network comes from: a constellation, gateways, PoPs and a home-PoP map.

    Parameters
    ----------
    constellation : str
        A preset name (``starlink-gen1``, ``kuiper``) or an element-set file.
    gateways : str or Path
        A gateway file (CSV/GeoJSON) or ``"plan"`` for skyfence's planning model.
    pops : Path, optional
        A PoP file; default: the built-in PoP metro areas.
    pop_map : Path, optional
        A CSV mapping places to home PoPs; default: the nearest PoP. With a ``country``
        column it also says where the network has customers (gateway inference).
    latency_model : str, optional
        A built-in latency model (``starlink-2026-03c``; ``starlink-2026-03b``;
        ``starlink-2026-03``; ``none``;
        ``hypatia``) or a model file (see :mod:`skyfence.links.calibration`); default
        (``None``):
        :data:`skyfence.links.calibration.DEFAULT_LATENCY_MODEL`.
    infer_gateways : bool
        Infer gateways where a gateway file has holes, as the latency model says (see
        :mod:`skyfence.ground.inference`); ``False`` uses the file as it is.
    skip_invalid : bool
        Leave invalid records of an element-set file out instead of stopping at the first.
    """

    constellation: str = "starlink-gen1"
    gateways: str | Path = "plan"
    pops: Path | None = None
    pop_map: Path | None = None
    latency_model: str | None = None
    infer_gateways: bool = True
    skip_invalid: bool = False

    @property
    def planned(self) -> bool:
        return str(self.gateways).strip().lower() == "plan"


@dataclass
class Network:
    """A loaded network: the constellation, the :class:`~skyfence.links.NetworkModel` and the
    latency model it uses; ``model.gateways.inferred`` marks the inferred gateways."""

    constellation: Constellation
    model: NetworkModel
    pop_map: PopMap | None = None
    latency_model: NamedLatencyModel | None = None

    @property
    def inferred_gateways(self) -> GroundSites:
        """The gateways of the model that were inferred, not listed or planned."""
        gw = self.model.gateways
        return gw.subset(gw.inferred)


def check_place(latitude_deg: float, longitude_deg: float) -> None:
    """Refuse a latitude outside ±90° or a longitude outside ±180° (or not a number)."""
    if not (np.isfinite(latitude_deg) and np.isfinite(longitude_deg)):
        raise InputError(
            f"latitude and longitude must be numbers, got {latitude_deg}, {longitude_deg}"
        )
    if not (abs(latitude_deg) <= 90 and abs(longitude_deg) <= 180):
        raise InputError(
            f"latitude {latitude_deg} must be within ±90 and longitude {longitude_deg} within ±180"
        )


def _check_file(path: str | Path, option: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise NotFoundError(f"{option} {p}: no such file")
    return p


def load_constellation(
    app: App,
    spec: str | Path,
    *,
    epoch: Any = None,
    skip_invalid: bool = False,
    cluster: bool = True,
) -> Constellation:
    """A constellation from a preset name (built once per App and epoch) or an element-set file.

    A ``Path`` is always a file; a string is a preset when it names one. A file's invalid
    records stop the load with a :class:`~skyfence.errors.ParseError` that says where, unless
    ``skip_invalid`` (then ``constellation.elements.skipped`` lists them). Files are clustered
    into shells unless ``cluster`` is False (propagation alone does not need it).
    """
    from skyfence.orbits import Constellation, ElementSet, preset_names

    name = str(spec).strip().lower()
    if not isinstance(spec, Path) and name in preset_names():
        key = ("constellation", name, None if epoch is None else str(epoch))
        return app.cached(key, lambda: Constellation.from_preset(name, epoch))
    path = Path(spec).expanduser()
    if path.is_file():
        elements = ElementSet.from_file(path, on_invalid="skip" if skip_invalid else "raise")
        return Constellation.from_elements(elements) if cluster else Constellation(elements)
    raise NotFoundError(
        f"--constellation {spec!r} is neither a preset ({', '.join(preset_names())}) nor an "
        "existing file"
    )


def load_sites(spec: NetworkSpec) -> tuple[GroundSites | None, GroundSites, PopMap | None]:
    """``(gateways or None for the plan, pops, pop_map)`` of a spec; files are read and checked."""
    from skyfence.analysis.gateways import with_iso2_countries
    from skyfence.ground import default_pops
    from skyfence.ground import load_sites as read_sites
    from skyfence.links import load_pop_map

    gateways = None
    if not spec.planned:
        gateways = with_iso2_countries(
            read_sites(_check_file(spec.gateways, "--gateways"), "gateway")
        )
    pops = (
        default_pops() if spec.pops is None else read_sites(_check_file(spec.pops, "--pops"), "pop")
    )
    pop_map = None if spec.pop_map is None else load_pop_map(_check_file(spec.pop_map, "--pop-map"))
    return gateways, with_iso2_countries(pops), pop_map


def load_network(
    app: App,
    spec: NetworkSpec,
    *,
    epoch: Any = None,
    without_countries: Iterable[str] = (),
    avoid: Avoid | None = None,
    **model_options: Any,
) -> Network:
    """The constellation and network model of ``spec`` (gateways planned when it says ``plan``).

    ``without_countries`` and ``avoid`` shape the plan (see
    :func:`skyfence.analysis.gateways.planned_gateways`); a gateway file is used as given,
    plus the gateways the latency model infers where it has holes
    (:func:`inferred_gateways`; none with ``spec.infer_gateways=False``). The model's RTTs
    follow ``spec.latency_model`` unless a ``latency=`` model option is given.
    """
    from skyfence.analysis.gateways import planned_gateways
    from skyfence.ground.inference import with_inferred_gateways
    from skyfence.links import NetworkModel

    named = latency_model_of(spec)
    constellation = load_constellation(
        app, spec.constellation, epoch=epoch, skip_invalid=spec.skip_invalid
    )
    gateways, pops, pop_map = load_sites(spec)
    if gateways is None:
        gateways = planned_gateways(pops, without_countries=without_countries, avoid=avoid)
    else:
        extra = inferred_gateways(named, gateways, pops, pop_map, without_countries)
        gateways = with_inferred_gateways(gateways, extra)
    model_options.setdefault("latency", named.latency)
    if named.gateway_min_elevation_deg is not None:
        model_options.setdefault("gateway_min_elevation_deg", named.gateway_min_elevation_deg)
    model = NetworkModel(constellation, gateways, pops, pop_map=pop_map, **model_options)
    return Network(constellation, model, pop_map, named)


def latency_model_of(spec: NetworkSpec) -> NamedLatencyModel:
    """The latency model a spec names, with inference off when the spec says so."""
    from skyfence.links.calibration import load_latency_model

    named = load_latency_model(spec.latency_model)
    return named if spec.infer_gateways else named.without_inference()


def inferred_gateways(
    named: NamedLatencyModel,
    gateways: GroundSites,
    pops: GroundSites,
    pop_map: PopMap | None,
    without_countries: Iterable[str] = (),
) -> GroundSites:
    """The gateways ``named`` infers for a gateway list (see :mod:`skyfence.ground.inference`).

    Serving PoPs and licensing come from the customer table (``pop_map``); none is inferred
    without one, when the model does not infer, or in ``without_countries`` (a country a
    what-if switches on is not licensed before it).
    """
    from skyfence.ground.inference import infer_gateways

    empty = gateways.subset(np.zeros(len(gateways), bool))
    if named.infer_radius_km is None or pop_map is None:
        return empty
    drop = {c.upper() for c in without_countries}
    return infer_gateways(
        gateways, pops, serving=pop_map.serves(pops),
        licensed_countries=pop_map.countries() - drop, radius_km=named.infer_radius_km,
    )  # fmt: skip


def check_sat_steps(n_sats: int, n_steps: int) -> None:
    """Refuse a propagation larger than :data:`MAX_SAT_STEPS` before it starts."""
    if n_sats * n_steps > MAX_SAT_STEPS:
        raise InputError(
            f"{n_sats:,} satellites x {n_steps:,} steps is more than {MAX_SAT_STEPS:,} "
            "satellite-steps (about 1.4 GB of positions); use a shorter duration or a longer step"
        )


def _sat_name(c: Any, i: int) -> str:
    names = getattr(c, "names", None)
    return f"sat-{i}" if names is None else str(names[i])


# ----------------------------------------------------------------------------- visible
@dataclass(frozen=True)
class VisibleSatellite:
    """One satellite above the mask: its row ``sat`` in the constellation, name, geometry."""

    sat: int
    name: str
    elevation_deg: float
    range_km: float


@dataclass(frozen=True)
class Visibility:
    """Satellites above ``min_elevation_deg`` from a point at one time, highest first."""

    time: np.datetime64
    latitude_deg: float
    longitude_deg: float
    min_elevation_deg: float
    count: int
    satellites: list[VisibleSatellite]


def visible_satellites(
    app: App,
    latitude_deg: float,
    longitude_deg: float,
    *,
    time: str | np.datetime64 = "now",
    min_elevation_deg: float = 25.0,
    constellation: str = "starlink-gen1",
    skip_invalid: bool = False,
) -> Visibility:
    """Satellites above the elevation mask from a point at one time."""
    from skyfence.ground import GroundSites
    from skyfence.links import visible_pairs
    from skyfence.timeutil import parse_time

    check_place(latitude_deg, longitude_deg)
    if not (np.isfinite(min_elevation_deg) and 0.0 <= min_elevation_deg <= 90.0):
        raise InputError(f"the elevation mask must be within 0..90°, got {min_elevation_deg}")
    t = parse_time(time)
    c = load_constellation(app, constellation, skip_invalid=skip_invalid)
    eph = c.propagate(np.array([t]))
    site = GroundSites.from_arrays([latitude_deg], [longitude_deg])
    v = visible_pairs(site.ecef_km, site.up, eph.at(0), min_elevation_deg)
    order = np.argsort(-v.elevation_deg)
    rows = [
        VisibleSatellite(
            int(v.sat[k]),
            _sat_name(c, int(v.sat[k])),
            round(float(v.elevation_deg[k]), 3),
            round(float(v.range_km[k]), 3),
        )  # fmt: skip
        for k in order
    ]
    return Visibility(t, latitude_deg, longitude_deg, min_elevation_deg, len(rows), rows)


# ----------------------------------------------------------------------------- city RTT
@dataclass(frozen=True)
class CityRtt:
    """RTT between two places over the laser mesh at one time, and fibre for comparison.

    ``mesh_rtt_ms`` is the propagation delay of the path (Hypatia's rule); ``rtt_p20_ms``,
    ``rtt_p50_ms``, ``rtt_p80_ms`` add what the latency model says a dish-to-dish round
    trip adds: the fixed overhead, each laser hop's switching and the scheduling delay of
    both dishes' access links (two independent per-slot draws).
    """

    time: np.datetime64
    origin: str
    destination: str
    great_circle_km: float
    mesh_rtt_ms: float
    mesh_length_km: float
    laser_hops: int
    fibre_rtt_ms: float
    vacuum_great_circle_rtt_ms: float
    path: list[str]
    note: str
    latency_model: str = ""
    rtt_p20_ms: float = float("nan")
    rtt_p50_ms: float = float("nan")
    rtt_p80_ms: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``from`` and ``to`` for the two places)."""
        return {
            "time": self.time, "from": self.origin, "to": self.destination,
            "great_circle_km": self.great_circle_km, "mesh_rtt_ms": self.mesh_rtt_ms,
            "mesh_length_km": self.mesh_length_km, "laser_hops": self.laser_hops,
            "latency_model": self.latency_model, "rtt_p20_ms": self.rtt_p20_ms,
            "rtt_p50_ms": self.rtt_p50_ms, "rtt_p80_ms": self.rtt_p80_ms,
            "fibre_rtt_ms": self.fibre_rtt_ms,
            "vacuum_great_circle_rtt_ms": self.vacuum_great_circle_rtt_ms,
            "path": self.path, "note": self.note,
        }  # fmt: skip


def city_rtt(
    app: App,
    origin: str,
    destination: str,
    *,
    constellation: str = "starlink-gen1",
    skip_invalid: bool = False,
    time: str | np.datetime64 = "now",
    latency_model: str | None = None,
) -> CityRtt:
    """City-to-city RTT over the laser mesh (built-in city names or ``"lat,lon"``).

    ``latency_model`` (default :data:`skyfence.links.calibration.DEFAULT_LATENCY_MODEL`)
    gives the fibre comparison's route factor and the dish-to-dish percentiles.
    """
    from skyfence.ground import GroundSites, great_circle_km, parse_place
    from skyfence.links import NetworkModel
    from skyfence.links.calibration import load_latency_model
    from skyfence.timeutil import parse_time

    named = load_latency_model(latency_model)
    a, b = parse_place(origin), parse_place(destination)
    t = parse_time(time)
    c = load_constellation(app, constellation, skip_invalid=skip_invalid)
    eph = c.propagate(np.array([t]))
    dummy = GroundSites.from_arrays([a.latitude_deg], [a.longitude_deg], kind="gateway")
    model = NetworkModel(c, dummy, dummy.with_kind("pop"))
    sa = GroundSites.from_arrays([a.latitude_deg], [a.longitude_deg], name=[a.name])
    sb = GroundSites.from_arrays([b.latitude_deg], [b.longitude_deg], name=[b.name])
    route = model.mesh_route(eph.at(0), sa, sb)
    gc = float(great_circle_km(a.latitude_deg, a.longitude_deg, b.latitude_deg, b.longitude_deg))
    latency = named.latency
    hops = max(len(route.sats) - 1, 0)
    fixed = route.rtt_ms + latency.overhead_ms + hops * latency.laser_hop_ms
    p20, p50, p80 = (float(v) for v in _two_access_quantiles(latency, fixed))
    return CityRtt(
        time=t, origin=a.name, destination=b.name, great_circle_km=round(gc, 3),
        mesh_rtt_ms=route.rtt_ms, mesh_length_km=route.length_km,
        laser_hops=hops, fibre_rtt_ms=float(latency.fibre_rtt_ms(gc)),
        vacuum_great_circle_rtt_ms=float(latency.space_rtt_ms(gc)),
        path=[a.name, *[_sat_name(c, s) for s in route.sats], b.name] if route.sats else [],
        note="mesh RTT is the space path only (Hypatia's rule); the percentiles add the "
        f"{named.label} model's processing and both dishes' scheduling delay; fibre = great "
        f"circle x {latency.route_factor:g} at c/{latency.fibre_index:g}",
        latency_model=named.label, rtt_p20_ms=p20, rtt_p50_ms=p50, rtt_p80_ms=p80,
    )  # fmt: skip


def _two_access_quantiles(latency: Any, fixed_ms: float, grid: int = 400) -> np.ndarray:
    """p20/p50/p80 of ``fixed_ms`` + two independent scheduling delays (a deterministic
    quadrature: the delay at ``grid`` equally likely levels, every pair summed)."""
    if not np.isfinite(fixed_ms):
        return np.full(3, np.nan)
    d = latency.scheduling
    q = d.quantile_ms((np.arange(grid) + 0.5) / grid)
    total = np.sort((q[:, None] + q[None, :]).ravel())
    out: np.ndarray = fixed_ms + np.quantile(total, [0.2, 0.5, 0.8], method="inverted_cdf")
    return out


# ----------------------------------------------------------------------------- terminal
@dataclass(frozen=True)
class Slot:
    """One slot of a terminal's schedule (``None`` where it has no route)."""

    time: np.datetime64
    sat: str | None
    gateway: str | None
    pop: str | None
    laser_hops: int | None
    elevation_deg: float
    rtt_ms: float
    gateway_inferred: bool = False


@dataclass(frozen=True)
class TerminalSchedule:
    """A dish's serving satellite, gateway, PoP and RTT per slot, and their summary.

    ``rtt_p20_ms``, ``rtt_p50_ms``, ``rtt_p80_ms`` are percentiles of RTT over the window,
    each slot's scheduling delay taken with its whole distribution (``p80`` is the slow end:
    Starlink publishes it as ``latency_ms_worse20``, and ``p20`` as ``latency_ms_better20``).
    ``median_rtt_ms`` is the median of the slot RTTs (each with the delay's median).
    ``inferred_gateways`` lists the inferred gateways the schedule lands at.
    """

    latitude_deg: float
    longitude_deg: float
    rule: str
    slot_s: float
    gateways: str
    pops: str
    median_rtt_ms: float
    handovers: int
    handovers_per_hour: float
    slots: list[Slot] = field(default_factory=list)
    latency_model: str = ""
    rtt_p20_ms: float = float("nan")
    rtt_p50_ms: float = float("nan")
    rtt_p80_ms: float = float("nan")
    inferred_gateways: list[str] = field(default_factory=list)


def terminal_schedule(
    app: App,
    latitude_deg: float,
    longitude_deg: float,
    *,
    network: NetworkSpec | None = None,
    start: str | np.datetime64 = "now",
    duration_s: float = 600.0,
    slot_s: float = 15.0,
    rule: str | None = None,
    progress: ProgressCallback | None = None,
) -> TerminalSchedule:
    """The 15-s schedule of a terminal at a place (see :func:`skyfence.links.run_schedule`).

    ``rule`` defaults to :data:`skyfence.links.DEFAULT_RULE`, the rule of every command, so
    the RTT at a place and time equals the one the coverage and what-if reports give there.
    """
    from skyfence.ground import GroundSites
    from skyfence.links import DEFAULT_RULE, RULES, run_schedule
    from skyfence.timeutil import parse_time, time_grid

    rule = DEFAULT_RULE if rule is None else rule
    check_place(latitude_deg, longitude_deg)
    if rule not in RULES:
        raise InputError(f"--rule {rule!r} is not one of {', '.join(RULES)}")
    if not (np.isfinite(slot_s) and slot_s > 0):
        raise InputError(f"--slot must be > 0 seconds, got {slot_s:g}")
    if not (np.isfinite(duration_s) and duration_s >= 0):
        raise InputError(f"--duration must be >= 0 seconds, got {duration_s:g}")
    if duration_s / slot_s + 1 > MAX_SAT_STEPS:
        raise InputError(f"{duration_s:g} s at {slot_s:g}-s slots is too many slots")
    times = time_grid(parse_time(start), duration_s, slot_s)
    net = load_network(app, network or NetworkSpec())
    c, model = net.constellation, net.model
    check_sat_steps(len(c), len(times))
    term = GroundSites.from_arrays([latitude_deg], [longitude_deg])
    propagating, scheduling = stages(progress, [1, 3])
    eph = c.propagate(times, progress=propagating)
    sched = run_schedule(model, eph, term, rule=rule, progress=scheduling)
    gws = model.gateways
    slots = []
    for i, t in enumerate(times):
        s, g, p = int(sched.serving_sat[0, i]), int(sched.gateway[0, i]), int(sched.pop[0, i])
        slots.append(Slot(
            time=t, sat=_sat_name(c, s) if s >= 0 else None,
            gateway=str(gws.name[g]) if g >= 0 else None,
            pop=str(model.pops.name[p]) if p >= 0 else None,
            laser_hops=int(sched.isl_hops[0, i]) if s >= 0 else None,
            elevation_deg=float(sched.elevation_deg[0, i]), rtt_ms=float(sched.rtt_ms[0, i]),
            gateway_inferred=bool(g >= 0 and gws.inferred[g]),
        ))  # fmt: skip
    p20, p50, p80 = (float(v) for v in model.latency.rtt_percentiles(sched.rtt_ms)[0])
    used = np.unique(sched.gateway[0][sched.gateway[0] >= 0])
    return TerminalSchedule(
        latitude_deg=latitude_deg, longitude_deg=longitude_deg, rule=rule, slot_s=float(slot_s),
        gateways=gws.source, pops=model.pops.source,
        median_rtt_ms=float(sched.median_rtt_ms[0]), handovers=int(sched.handovers[0]),
        handovers_per_hour=float(sched.handovers_per_hour[0]), slots=slots,
        latency_model=net.latency_model.label if net.latency_model else "",
        rtt_p20_ms=p20, rtt_p50_ms=p50, rtt_p80_ms=p80,
        inferred_gateways=[str(gws.id[g]) for g in used if gws.inferred[g]],
    )  # fmt: skip


# ----------------------------------------------------------------------------- Hypatia
@dataclass(frozen=True)
class HypatiaRouteResult:
    """A ground-station-to-ground-station route in a Hypatia directory."""

    origin: int
    destination: int
    at_s: float
    rtt_ms: float
    length_km: float
    path: list[int]
    path_labels: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.origin, "to": self.destination, "at_s": self.at_s, "rtt_ms": self.rtt_ms,
            "length_km": self.length_km, "path": self.path, "path_labels": self.path_labels,
        }  # fmt: skip


def hypatia_route(
    app: App, directory: str | Path, origin: str, destination: str, *, at_s: float = 0.0
) -> HypatiaRouteResult:
    """GS-to-GS RTT and path in a Hypatia satellite-network directory, with Hypatia's rules."""
    from skyfence.links import read_hypatia

    if not np.isfinite(at_s) or at_s < 0:
        raise InputError(f"--at must be >= 0 seconds after the TLE epoch, got {at_s}")
    net = read_hypatia(directory)
    r = net.route(origin, destination, at_s)
    S = net.n_sats

    def label(node: int) -> str:
        return f"GS {node - S} ({net.stations.name[node - S]})" if node >= S else f"sat {node}"

    return HypatiaRouteResult(
        net.station(origin), net.station(destination), float(at_s), r.rtt_ms, r.length_km,
        list(r.path), [label(n) for n in r.path],
    )  # fmt: skip


@dataclass(frozen=True)
class HypatiaExport:
    """What :func:`export_hypatia` wrote."""

    directory: Path
    satellites: int
    isls: int
    ground_stations: int
    max_gsl_length_m: float
    max_isl_length_m: float
    epoch: Any


def export_hypatia(
    app: App,
    outdir: str | Path,
    *,
    constellation: str = "starlink-gen1",
    skip_invalid: bool = False,
    stations: Path | None = None,
    min_elevation_deg: float = 25.0,
    name: str = "skyfence",
    overwrite: bool = False,
) -> HypatiaExport:
    """Write a constellation, its +Grid ISLs and ground stations in Hypatia's format.

    ``outdir`` is checked first: a place that cannot be written, or a directory that is not
    empty (unless ``overwrite``), is refused before any work.
    """
    from skyfence.analysis.report import check_output_dir
    from skyfence.ground import cities
    from skyfence.ground import load_sites as read_sites
    from skyfence.links import read_hypatia, write_hypatia

    if not (np.isfinite(min_elevation_deg) and 0.0 <= min_elevation_deg <= 90.0):
        raise InputError(f"the elevation mask must be within 0..90°, got {min_elevation_deg}")
    check_output_dir(outdir, overwrite=overwrite, option="OUTDIR")
    c = load_constellation(app, constellation, skip_invalid=skip_invalid)
    st = (
        cities()
        if stations is None
        else read_sites(_check_file(stations, "--stations"), "terminal")
    )
    out = write_hypatia(c, outdir, st, name=name, min_elevation_deg=min_elevation_deg)
    net = read_hypatia(out)
    return HypatiaExport(
        Path(out), net.n_sats, len(net.isls), len(net.stations), net.max_gsl_length_km * 1000.0,
        net.max_isl_length_km * 1000.0, net.epoch,
    )  # fmt: skip
