"""CLI: ``skyfence links`` — visibility, RTT between places, a terminal's 15-s schedule, Hypatia.

Thin adapters over :mod:`skyfence.app.network`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from skyfence.cli._common import (
    ConstellationOpt,
    GatewaysOpt,
    JsonOption,
    OverwriteOpt,
    PopMapOpt,
    PopsOpt,
    console,
    emit,
    get_app,
    progress_bar,
)

app = typer.Typer(
    name="links",
    help="Visibility, laser links, routing and latency; the 15-s schedule; Hypatia import/export.",
    no_args_is_help=True,
)

StartOpt = Annotated[str, typer.Option("--start", help="Start time, ISO 8601 UTC or 'now'.")]
LatArg = Annotated[float, typer.Argument(help="Latitude, degrees (south is negative).")]
LonArg = Annotated[float, typer.Argument(help="Longitude, degrees (west is negative).")]


@app.command("visible")
def visible_cmd(
    lat: LatArg,
    lon: LonArg,
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
    from skyfence.app.network import visible_satellites

    v = visible_satellites(
        get_app(), lat, lon, time=time, min_elevation_deg=min_elevation_deg,
        constellation=constellation,
    )  # fmt: skip

    def human(d: Any) -> None:
        table = Table(
            title=f"{d.count} satellites above {d.min_elevation_deg:g}° at {lat:g}, {lon:g}"
        )
        for col in ("name", "elevation_deg", "range_km"):
            table.add_column(col)
        for r in d.satellites:
            table.add_row(r.name, f"{r.elevation_deg:.1f}", f"{r.range_km:.0f}")
        console.print(table)

    emit(v, as_json, human)


@app.command("rtt")
def rtt_cmd(
    from_: Annotated[str, typer.Option("--from", help="Built-in city name or 'lat,lon'.")],
    to: Annotated[str, typer.Option("--to", help="Built-in city name or 'lat,lon'.")],
    constellation: ConstellationOpt = "starlink-gen1",
    start: StartOpt = "now",
    as_json: JsonOption = False,
) -> None:
    """City-to-city RTT over the laser mesh, its path, and terrestrial fibre for comparison."""
    from skyfence.app.network import city_rtt

    r = city_rtt(get_app(), from_, to, constellation=constellation, time=start)

    def human(d: dict[str, Any]) -> None:
        if not d["path"]:
            console.print(f"No laser-mesh route from {d['from']} to {d['to']} at {d['time']}.")
        else:
            console.print(
                f"{d['from']} → {d['to']} ({d['great_circle_km']:.0f} km): laser mesh "
                f"{d['mesh_rtt_ms']:.1f} ms over {d['laser_hops']} laser hops; fibre ≈ "
                f"{d['fibre_rtt_ms']:.1f} ms"
            )
            console.print("path: " + " → ".join(d["path"]))

    emit(r.to_dict(), as_json, human)


@app.command("terminal")
def terminal_cmd(
    lat: LatArg,
    lon: LonArg,
    duration: Annotated[str, typer.Option("--duration", help="How long, e.g. 10m, 1h.")] = "10m",
    slot: Annotated[str, typer.Option("--slot", help="Slot length (Starlink: 15 s).")] = "15s",
    rule: Annotated[
        str | None,
        typer.Option(
            "--rule",
            help="Satellite selection: min-rtt (the default of every command), max-elevation "
            "or longest-visible.",
            show_default=False,
        ),
    ] = None,
    constellation: ConstellationOpt = "starlink-gen1",
    gateways: GatewaysOpt = "plan",
    pops: PopsOpt = None,
    pop_map: PopMapOpt = None,
    start: StartOpt = "now",
    as_json: JsonOption = False,
) -> None:
    """A dish's serving satellite, gateway, PoP and RTT per slot, the median RTT and handovers/hour."""
    from skyfence.app.network import NetworkSpec, terminal_schedule
    from skyfence.timeutil import parse_duration

    duration_s, slot_s = parse_duration(duration), parse_duration(slot)
    spec = NetworkSpec(constellation, gateways, pops, pop_map)
    with progress_bar("terminal schedule (%)", enabled=not as_json) as bar:
        sched = terminal_schedule(
            get_app(), lat, lon, network=spec, start=start, duration_s=duration_s,
            slot_s=slot_s, rule=rule, progress=bar,
        )  # fmt: skip

    def human(d: Any) -> None:
        table = Table(title=f"Terminal at {lat:g}, {lon:g} — {d.rule}, {d.slot_s:g}-s slots")
        for col in ("time", "satellite", "gateway", "PoP", "hops", "elev °", "RTT ms"):
            table.add_column(col)
        for r in d.slots:
            table.add_row(
                str(np.datetime64(r.time, "s")), r.sat or "—", r.gateway or "—", r.pop or "—",
                "—" if r.laser_hops is None else str(r.laser_hops),
                "—" if not np.isfinite(r.elevation_deg) else f"{r.elevation_deg:.1f}",
                "—" if not np.isfinite(r.rtt_ms) else f"{r.rtt_ms:.1f}",
            )  # fmt: skip
        console.print(table)
        console.print(
            f"median RTT {d.median_rtt_ms:.1f} ms; {d.handovers} handovers "
            f"({d.handovers_per_hour:.0f}/h)"
        )

    emit(sched, as_json, human)


@app.command("hypatia")
def hypatia_cmd(
    directory: Annotated[Path, typer.Argument(help="A Hypatia satellite-network directory.")],
    from_: Annotated[str, typer.Option("--from", help="Ground station gid or name.")],
    to: Annotated[str, typer.Option("--to", help="Ground station gid or name.")],
    at: Annotated[float, typer.Option("--at", help="Seconds after the TLE epoch.")] = 0.0,
    as_json: JsonOption = False,
) -> None:
    """GS-to-GS RTT and path in a Hypatia directory, with Hypatia's rules."""
    from skyfence.app.network import hypatia_route

    r = hypatia_route(get_app(), directory, from_, to, at_s=at)

    def human(d: dict[str, Any]) -> None:
        if not d["path"]:
            console.print(f"No path between GS {d['from']} and GS {d['to']} at t={at:g} s.")
            return
        console.print(f"RTT {d['rtt_ms']:.3f} ms ({d['length_km']:.1f} km one way) at t={at:g} s")
        console.print("path: " + " → ".join(d["path_labels"]))

    emit(r.to_dict(), as_json, human)


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
    overwrite: OverwriteOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Write a constellation, its +Grid ISLs and ground stations in Hypatia's format."""
    from skyfence.app.network import export_hypatia

    out = export_hypatia(
        get_app(), outdir, constellation=constellation, stations=stations,
        min_elevation_deg=min_elevation_deg, name=name, overwrite=overwrite,
    )  # fmt: skip
    emit(out, as_json, lambda d: console.print(
        f"wrote {d.directory}: {d.satellites} satellites, {d.isls} ISLs, "
        f"{d.ground_stations} ground stations"
    ))  # fmt: skip


def register(root: typer.Typer) -> None:
    """Add the ``links`` group to the root app."""
    root.add_typer(app, name="links")
