"""CLI: ``skyfence links`` — visibility, RTT between places, a terminal's 15-s schedule, Hypatia."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from skyfence.cli._common import JsonOption, console, emit, progress_bar
from skyfence.errors import InputError, NotFoundError
from skyfence.links.schedule import DEFAULT_RULE

app = typer.Typer(
    name="links",
    help="Visibility, laser links, routing and latency; the 15-s schedule; Hypatia import/export.",
    no_args_is_help=True,
)

ConstellationOpt = Annotated[
    str,
    typer.Option(
        "--constellation", help="A preset name (starlink-gen1, kuiper) or an element-set file."
    ),
]
GatewaysOpt = Annotated[
    str,
    typer.Option(
        "--gateways", help="Gateway file (CSV/GeoJSON) or 'plan' for skyfence's planning model."
    ),
]
PopsOpt = Annotated[
    Path | None,
    typer.Option("--pops", help="PoP file (CSV/GeoJSON); default: the built-in PoP metros."),
]
PopMapOpt = Annotated[
    Path | None,
    typer.Option(
        "--pop-map", help="CSV mapping places to home PoPs (latitude_deg, longitude_deg, pop)."
    ),
]
StartOpt = Annotated[str, typer.Option("--start", help="Start time, ISO 8601 UTC or 'now'.")]


def load_constellation(spec: str) -> Any:
    """A Constellation from a preset name or an element-set file."""
    from skyfence.orbits import Constellation, preset_names

    if spec.strip().lower() in preset_names():
        return Constellation.from_preset(spec.strip().lower())
    if Path(spec).exists():
        return Constellation.from_file(spec)
    raise NotFoundError(
        f"--constellation {spec!r} is neither a preset ({', '.join(preset_names())}) nor an existing file"
    )


def load_network(
    constellation: str, gateways: str, pops: Path | None, pop_map: Path | None, **kw: Any
) -> tuple[Any, Any]:
    """``(constellation, NetworkModel)`` from the common CLI options."""
    from skyfence.ground import default_pops, load_sites, plan_gateways, regions_country_of
    from skyfence.links import NetworkModel, load_pop_map

    c = load_constellation(constellation)
    pop_sites = default_pops() if pops is None else load_sites(pops, "pop")
    plan = gateways.strip().lower() == "plan"
    gw = None if plan else load_sites(gateways, "gateway")
    if plan or not _all_iso2(pop_sites) or (gw is not None and not _all_iso2(gw)):
        country_of = regions_country_of()
        if country_of is not None:  # give sites listed with country names (or none) an ISO2 code
            pop_sites = pop_sites.fill_countries(country_of)
            gw = gw.fill_countries(country_of) if gw is not None else None
        if plan:
            gw = plan_gateways(pop_sites, country_of=country_of, sample_km=150.0)
    pm = load_pop_map(pop_map) if pop_map is not None else None
    return c, NetworkModel(c, gw, pop_sites, pop_map=pm, **kw)


def _all_iso2(sites: Any) -> bool:
    return all(len(str(c)) == 2 and str(c).isupper() for c in sites.country)


def _parse_latlon(lat: float, lon: float) -> None:
    if not (abs(lat) <= 90 and abs(lon) <= 180):
        raise InputError(f"latitude {lat} must be within ±90 and longitude {lon} within ±180")


def _sat_name(c: Any, i: int) -> str:
    names = getattr(c, "names", None)
    if names is None:
        return f"sat-{i}"
    return str(names[i])


@app.command("visible")
def visible_cmd(
    lat: Annotated[float, typer.Argument(help="Latitude, degrees.")],
    lon: Annotated[float, typer.Argument(help="Longitude, degrees.")],
    time: Annotated[
        str, typer.Option("--time", "--start", help="Time, ISO 8601 UTC or 'now'.")
    ] = "now",
    min_elevation_deg: Annotated[
        float, typer.Option("--min-elevation", help="Elevation mask, deg.")
    ] = 25.0,
    constellation: ConstellationOpt = "starlink-gen1",
    as_json: JsonOption = False,
) -> None:
    """Satellites above the elevation mask from a point at one time."""
    from skyfence.ground import GroundSites
    from skyfence.links import visible_pairs
    from skyfence.timeutil import parse_time

    _parse_latlon(lat, lon)
    c = load_constellation(constellation)
    t = parse_time(time)
    eph = c.propagate(np.array([t]))
    site = GroundSites.from_arrays([lat], [lon])
    v = visible_pairs(site.ecef_km, site.up, eph.at(0), min_elevation_deg)
    order = np.argsort(-v.elevation_deg)
    rows = [
        {"sat": int(v.sat[k]), "name": _sat_name(c, int(v.sat[k])), "elevation_deg": round(float(v.elevation_deg[k]), 3),
         "range_km": round(float(v.range_km[k]), 3)}
        for k in order
    ]  # fmt: skip
    data = {"time": t, "latitude_deg": lat, "longitude_deg": lon, "min_elevation_deg": min_elevation_deg,
            "count": len(rows), "satellites": rows}  # fmt: skip

    def human(d: dict[str, Any]) -> None:
        table = Table(
            title=f"{d['count']} satellites above {min_elevation_deg:g}° at {lat:g}, {lon:g}"
        )
        for col in ("name", "elevation_deg", "range_km"):
            table.add_column(col)
        for r in d["satellites"]:
            table.add_row(r["name"], f"{r['elevation_deg']:.1f}", f"{r['range_km']:.0f}")
        console.print(table)

    emit(data, as_json, human)


@app.command("rtt")
def rtt_cmd(
    from_: Annotated[str, typer.Option("--from", help="Built-in city name or 'lat,lon'.")],
    to: Annotated[str, typer.Option("--to", help="Built-in city name or 'lat,lon'.")],
    constellation: ConstellationOpt = "starlink-gen1",
    start: StartOpt = "now",
    as_json: JsonOption = False,
) -> None:
    """City-to-city RTT over the laser mesh, its path, and terrestrial fibre for comparison."""
    from skyfence.ground import GroundSites, great_circle_km, parse_place
    from skyfence.links import LatencyModel, NetworkModel
    from skyfence.timeutil import parse_time

    a, b = parse_place(from_), parse_place(to)
    c = load_constellation(constellation)
    t = parse_time(start)
    eph = c.propagate(np.array([t]))
    dummy = GroundSites.from_arrays([a.latitude_deg], [a.longitude_deg], kind="gateway")
    model = NetworkModel(c, dummy, dummy.with_kind("pop"))
    sa = GroundSites.from_arrays([a.latitude_deg], [a.longitude_deg], name=[a.name])
    sb = GroundSites.from_arrays([b.latitude_deg], [b.longitude_deg], name=[b.name])
    route = model.mesh_route(eph.at(0), sa, sb)
    gc = float(great_circle_km(a.latitude_deg, a.longitude_deg, b.latitude_deg, b.longitude_deg))
    lat_model = LatencyModel()
    data = {
        "time": t, "from": a.name, "to": b.name, "great_circle_km": round(gc, 3),
        "mesh_rtt_ms": route.rtt_ms, "mesh_length_km": route.length_km, "laser_hops": max(len(route.sats) - 1, 0),
        "fibre_rtt_ms": float(lat_model.fibre_rtt_ms(gc)),
        "vacuum_great_circle_rtt_ms": float(lat_model.space_rtt_ms(gc)),
        "path": [a.name, *[_sat_name(c, s) for s in route.sats], b.name] if route.sats else [],
        "note": "mesh RTT is the space path only (no processing overhead); fibre = great circle x "
        f"{lat_model.route_factor} at c/{lat_model.fibre_index}",
    }  # fmt: skip

    def human(d: dict[str, Any]) -> None:
        if not d["path"]:
            console.print(f"No laser-mesh route from {d['from']} to {d['to']} at {t}.")
        else:
            console.print(
                f"{d['from']} → {d['to']} ({d['great_circle_km']:.0f} km): laser mesh "
                f"{d['mesh_rtt_ms']:.1f} ms over {d['laser_hops']} laser hops; fibre ≈ {d['fibre_rtt_ms']:.1f} ms"
            )
            console.print("path: " + " → ".join(d["path"]))

    emit(data, as_json, human)


@app.command("terminal")
def terminal_cmd(
    lat: Annotated[float, typer.Argument(help="Latitude, degrees.")],
    lon: Annotated[float, typer.Argument(help="Longitude, degrees.")],
    duration: Annotated[str, typer.Option("--duration", help="How long, e.g. 10m, 1h.")] = "10m",
    slot: Annotated[str, typer.Option("--slot", help="Slot length (Starlink: 15 s).")] = "15s",
    rule: Annotated[
        str,
        typer.Option("--rule", help="min-rtt (default), max-elevation or longest-visible."),
    ] = DEFAULT_RULE,
    constellation: ConstellationOpt = "starlink-gen1",
    gateways: GatewaysOpt = "plan",
    pops: PopsOpt = None,
    pop_map: PopMapOpt = None,
    start: StartOpt = "now",
    as_json: JsonOption = False,
) -> None:
    """A dish's serving satellite, gateway, PoP and RTT per slot, the median RTT and handovers/hour."""
    from skyfence.ground import GroundSites
    from skyfence.links import RULES, run_schedule
    from skyfence.timeutil import parse_duration, time_grid

    _parse_latlon(lat, lon)
    if rule not in RULES:
        raise InputError(f"--rule {rule!r} is not one of {', '.join(RULES)}")
    slot_s = parse_duration(slot)
    if slot_s <= 0:
        raise InputError("--slot must be > 0")
    c, model = load_network(constellation, gateways, pops, pop_map)
    times = time_grid(start, parse_duration(duration), slot_s)
    term = GroundSites.from_arrays([lat], [lon])
    with progress_bar("propagating", enabled=not as_json) as bar:
        eph = c.propagate(times, progress=bar)
    with progress_bar("slots", enabled=not as_json) as bar:
        sched = run_schedule(model, eph, term, rule=rule, progress=bar)
    slots = []
    for i, t in enumerate(times):
        s, g, p = int(sched.serving_sat[0, i]), int(sched.gateway[0, i]), int(sched.pop[0, i])
        slots.append({
            "time": t, "sat": _sat_name(c, s) if s >= 0 else None,
            "gateway": str(model.gateways.name[g]) if g >= 0 else None,
            "pop": str(model.pops.name[p]) if p >= 0 else None,
            "laser_hops": int(sched.isl_hops[0, i]) if s >= 0 else None,
            "elevation_deg": float(sched.elevation_deg[0, i]), "rtt_ms": float(sched.rtt_ms[0, i]),
        })  # fmt: skip
    data = {
        "latitude_deg": lat, "longitude_deg": lon, "rule": rule, "slot_s": slot_s,
        "gateways": model.gateways.source, "pops": model.pops.source,
        "median_rtt_ms": float(sched.median_rtt_ms[0]), "handovers": int(sched.handovers[0]),
        "handovers_per_hour": float(sched.handovers_per_hour[0]), "slots": slots,
    }  # fmt: skip

    def human(d: dict[str, Any]) -> None:
        table = Table(title=f"Terminal at {lat:g}, {lon:g} — {rule}, {slot_s:g}-s slots")
        for col in ("time", "satellite", "gateway", "PoP", "hops", "elev °", "RTT ms"):
            table.add_column(col)
        for r in d["slots"]:
            table.add_row(
                str(np.datetime64(r["time"], "s")), r["sat"] or "—", r["gateway"] or "—", r["pop"] or "—",
                "—" if r["laser_hops"] is None else str(r["laser_hops"]),
                "—" if not np.isfinite(r["elevation_deg"]) else f"{r['elevation_deg']:.1f}",
                "—" if not np.isfinite(r["rtt_ms"]) else f"{r['rtt_ms']:.1f}",
            )  # fmt: skip
        console.print(table)
        console.print(
            f"median RTT {d['median_rtt_ms']:.1f} ms; {d['handovers']} handovers "
            f"({d['handovers_per_hour']:.0f}/h)"
        )

    emit(data, as_json, human)


@app.command("hypatia")
def hypatia_cmd(
    directory: Annotated[Path, typer.Argument(help="A Hypatia satellite-network directory.")],
    from_: Annotated[str, typer.Option("--from", help="Ground station gid or name.")],
    to: Annotated[str, typer.Option("--to", help="Ground station gid or name.")],
    at: Annotated[float, typer.Option("--at", help="Seconds after the TLE epoch.")] = 0.0,
    as_json: JsonOption = False,
) -> None:
    """GS-to-GS RTT and path in a Hypatia directory, with Hypatia's rules."""
    from skyfence.links import read_hypatia

    net = read_hypatia(directory)
    r = net.route(from_, to, at)
    S = net.n_sats

    def label(node: int) -> str:
        return f"GS {node - S} ({net.stations.name[node - S]})" if node >= S else f"sat {node}"

    data = {
        "from": net.station(from_), "to": net.station(to), "at_s": at, "rtt_ms": r.rtt_ms,
        "length_km": r.length_km, "path": r.path, "path_labels": [label(n) for n in r.path],
    }  # fmt: skip

    def human(d: dict[str, Any]) -> None:
        if not d["path"]:
            console.print(f"No path between GS {d['from']} and GS {d['to']} at t={at:g} s.")
            return
        console.print(f"RTT {d['rtt_ms']:.3f} ms ({d['length_km']:.1f} km one way) at t={at:g} s")
        console.print("path: " + " → ".join(d["path_labels"]))

    emit(data, as_json, human)


@app.command("export-hypatia")
def export_hypatia_cmd(
    outdir: Annotated[Path, typer.Argument(help="Directory to write.")],
    constellation: ConstellationOpt = "starlink-gen1",
    stations: Annotated[
        Path | None,
        typer.Option("--stations", help="Ground stations (site file); default: built-in cities."),
    ] = None,
    min_elevation_deg: Annotated[
        float, typer.Option("--min-elevation", help="For max_gsl_length_m.")
    ] = 25.0,
    name: Annotated[
        str, typer.Option("--name", help="Constellation name in tles.txt.")
    ] = "skyfence",
    as_json: JsonOption = False,
) -> None:
    """Write a constellation, its +Grid ISLs and ground stations in Hypatia's format."""
    from skyfence.ground import cities, load_sites
    from skyfence.links import read_hypatia, write_hypatia

    c = load_constellation(constellation)
    st = cities() if stations is None else load_sites(stations, "terminal")
    out = write_hypatia(c, outdir, st, name=name, min_elevation_deg=min_elevation_deg)
    net = read_hypatia(out)
    data = {
        "directory": out, "satellites": net.n_sats, "isls": len(net.isls), "ground_stations": len(net.stations),
        "max_gsl_length_m": net.max_gsl_length_km * 1000.0, "max_isl_length_m": net.max_isl_length_km * 1000.0,
        "epoch": net.epoch,
    }  # fmt: skip
    emit(data, as_json, lambda d: console.print(
        f"wrote {d['directory']}: {d['satellites']} satellites, {d['isls']} ISLs, "
        f"{d['ground_stations']} ground stations"
    ))  # fmt: skip


def register(root: typer.Typer) -> None:
    """Add the ``links`` group to the root app."""
    root.add_typer(app, name="links")
