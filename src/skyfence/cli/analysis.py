"""CLI: ``skyfence whatif activate|deactivate EXPR`` and ``skyfence coverage REGION``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from skyfence.cli._common import JsonOption, console, emit, err_console, progress_bar
from skyfence.cli.links import ConstellationOpt, GatewaysOpt, PopMapOpt, PopsOpt, load_constellation

app = typer.Typer(
    name="whatif",
    help="What if a region were switched on or off: coverage, latency, landing, spillover.",
    no_args_is_help=True,
)

DEFAULT_START = "2026-02-22T12:00:00Z"
StartOpt = Annotated[
    str, typer.Option("--start", help="Start of the window, ISO 8601 UTC or 'now'.")
]
WindowOpt = Annotated[str, typer.Option("--window", help="Length of the window, e.g. 1h, 30m.")]
StepOpt = Annotated[str, typer.Option("--step", help="Time step = scheduling slot, e.g. 15s.")]
ResOpt = Annotated[int, typer.Option("--res", help="H3 resolution of the cells (5 ≈ 250 km²).")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Report directory (default: under ./skyfence-reports).")
]


def _load_sites(
    constellation: str, gateways: str, pops: Path | None, pop_map: Path | None
) -> dict[str, Any]:
    from skyfence.ground import load_sites
    from skyfence.links import load_pop_map

    return {
        "constellation": load_constellation(constellation),
        "gateways": "plan"
        if gateways.strip().lower() == "plan"
        else load_sites(gateways, "gateway"),
        "pops": None if pops is None else load_sites(pops, "pop"),
        "pop_map": None if pop_map is None else load_pop_map(pop_map),
    }


def run_whatif_cli(
    action: str,
    expression: str,
    *,
    constellation: str = "starlink-gen1",
    gateways: str = "plan",
    pops: Path | None = None,
    pop_map: Path | None = None,
    start: str = DEFAULT_START,
    window: str = "1h",
    step: str = "15s",
    res: int = 5,
    footprint_km: float = 12.0,
    in_country: bool = True,
    out: Path | None = None,
) -> dict[str, Any]:
    """Run a what-if report, write it, and return its summary (shared by ``whatif`` and ``demo``)."""
    from skyfence.analysis.report import report_dirname, write_whatif_report
    from skyfence.analysis.whatif import run_whatif
    from skyfence.regions import parse_region, world
    from skyfence.settings import load_settings
    from skyfence.timeutil import parse_duration

    duration_s, step_s = parse_duration(window), parse_duration(step)  # bad input fails first
    with err_console.status("loading constellation, boundaries and gateways"):
        parse_region(expression, world())  # a bad expression fails here, before any work
        inputs = _load_sites(constellation, gateways, pops, pop_map)
    with progress_bar(f"{action} {expression}") as update:
        report = run_whatif(
            expression, action,  # type: ignore[arg-type]
            start=start, duration_s=duration_s, step_s=step_s,
            resolution=res, footprint_km=footprint_km, in_country=in_country,
            progress=update, **inputs,
        )  # fmt: skip
    if out is None:
        out = load_settings().reports_dir / report_dirname(
            action, expression, report.window["start"]
        )
    files = write_whatif_report(report, out)
    data = report.to_dict()
    data.pop("cells")
    data["files"] = {k: str(v) for k, v in files.items()}
    return data


def _fmt(v: Any, spec: str = ".1f") -> str:
    return "—" if v is None else format(v, spec)


def human_whatif(d: dict[str, Any]) -> None:
    r = d["region"]
    console.print(
        f"[bold]{d['action'].capitalize()} {d['expression']}[/] — {r['name']}, "
        f"{r['area_km2']:,.0f} km², countries {', '.join(r['countries']) or '—'}"
    )
    console.print(f"worldview: {d['worldview']}")
    w, s = d["window"], d["setup"]
    console.print(
        f"{s['constellation']} ({s['satellites']} satellites), gateways: {s['gateways']} "
        f"({s['gateway_count']}), window {w['start']} + {w['duration_s'] / 60:g} min at {w['step_s']:g} s"
    )
    table = Table(title="coverage")
    cols = [("before", d["before"]), ("after", d["after"])]
    if d["in_country"]:
        cols.append(("after, landing in-country", d["in_country"]))
    table.add_column("")
    for name, _ in cols:
        table.add_column(name, justify="right")
    for key, label, spec in (
        ("served_fraction", "time served", ".1%"),
        ("mean_visible", "satellites in view", ".1f"),
        ("rtt_p50_ms", "RTT p50 (ms)", ".1f"),
        ("rtt_p95_ms", "RTT p95 (ms)", ".1f"),
        ("handovers_per_hour", "handovers / hour", ".1f"),
    ):
        table.add_row(label, *[_fmt(c.get(key), spec) for _, c in cols])
    console.print(table)
    gws = ", ".join(
        f"{g['name']} ({g['country']}, {g['share']:.0%})" for g in d["gateways_used"][:5]
    )
    console.print(f"gateways carrying the traffic: {gws or '—'}")
    if d["lands_abroad"]:
        console.print(
            f"[bold red]traffic lands abroad[/]: {d['lands_abroad_share']:.0%} of served cell-steps"
        )
    if d["planned_gateways"]:
        console.print(
            f"to land in-country the planner adds {len(d['planned_gateways'])} gateway(s)"
        )
    sp = d["spillover"]
    where = ", ".join(f"{b['name']} {b['area_km2']:,.0f} km²" for b in sp["by_region"][:5])
    console.print(f"spillover ({sp['direction']}): {sp['area_km2']:,.0f} km² — {where or 'none'}")
    console.print(
        f"report written to [bold]{d['files']['report.html']}[/] (and report.md, report.json, map.png)"
    )


def _whatif_command(action: str):  # type: ignore[no-untyped-def]
    def command(
        expression: Annotated[
            str,
            typer.Argument(
                help="Region expression: TW, 'UA - crimea', 'buffer(crimea-coast, 100km)'."
            ),
        ],
        constellation: ConstellationOpt = "starlink-gen1",
        gateways: GatewaysOpt = "plan",
        pops: PopsOpt = None,
        pop_map: PopMapOpt = None,
        start: StartOpt = DEFAULT_START,
        window: WindowOpt = "1h",
        step: StepOpt = "15s",
        res: ResOpt = 5,
        footprint_km: Annotated[
            float, typer.Option("--footprint-km", help="Beam footprint radius for spillover, km.")
        ] = 12.0,
        in_country: Annotated[
            bool,
            typer.Option("--in-country/--no-in-country", help="Also compute landing in-country."),
        ] = True,
        out: OutOpt = None,
        as_json: JsonOption = False,
    ) -> None:
        data = run_whatif_cli(
            action, expression, constellation=constellation, gateways=gateways, pops=pops,
            pop_map=pop_map, start=start, window=window, step=step, res=res,
            footprint_km=footprint_km, in_country=in_country, out=out,
        )  # fmt: skip
        emit(data, as_json, human_whatif)

    command.__doc__ = (
        f"{action.capitalize()} a region and report coverage, RTT, landing and spillover."
    )
    return command


app.command("activate")(_whatif_command("activate"))
app.command("deactivate")(_whatif_command("deactivate"))


def coverage_cmd(
    region: Annotated[str, typer.Argument(help="Region expression, e.g. TW or 'UA - crimea'.")],
    constellation: ConstellationOpt = "starlink-gen1",
    gateways: GatewaysOpt = "plan",
    pops: PopsOpt = None,
    pop_map: PopMapOpt = None,
    start: StartOpt = DEFAULT_START,
    window: WindowOpt = "1h",
    step: StepOpt = "15s",
    res: ResOpt = 5,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write cells to .geojson, .parquet (GeoParquet) or .png."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Coverage of a region per H3 cell: time served, satellites in view, RTT, handovers."""
    from skyfence.analysis.coverage import compute_coverage
    from skyfence.analysis.report import plot_coverage_map
    from skyfence.errors import InputError
    from skyfence.ground import default_pops, plan_gateways, regions_country_of
    from skyfence.links import NetworkModel
    from skyfence.regions import parse_region, world
    from skyfence.timeutil import parse_duration, parse_time, time_grid

    if out is not None and out.suffix.lower() not in (".geojson", ".json", ".parquet", ".png"):
        raise InputError(f"--out {out}: use a .geojson, .parquet or .png file name")
    with err_console.status("loading constellation, boundaries and gateways"):
        w = world()
        reg = parse_region(region, w)
        inputs = _load_sites(constellation, gateways, pops, pop_map)
        pop_sites = inputs["pops"] if inputs["pops"] is not None else default_pops()
        gws = inputs["gateways"]
        if isinstance(gws, str):
            gws = plan_gateways(pop_sites, country_of=regions_country_of())
        model = NetworkModel(inputs["constellation"], gws, pop_sites, pop_map=inputs["pop_map"])
        cells = reg.cells(res)
    times = time_grid(parse_time(start), parse_duration(window), parse_duration(step))
    with progress_bar(f"coverage {region}") as update:
        cov = compute_coverage(
            cells, times, constellation=inputs["constellation"], model=model, progress=update
        )
    if out is not None:
        suffix = out.suffix.lower()
        if suffix == ".parquet":
            cov.to_parquet(out)
        elif suffix == ".png":
            plot_coverage_map(
                out, cov, region_geometry=reg.geometry, title=f"{region}: share of time served"
            )
        else:
            cov.to_geojson(out)
    data = {
        "region": {"expression": region, "name": reg.name, "area_km2": reg.area_km2},
        "worldview": w.worldview,
        "window": {"start": str(times[0]), "steps": len(times), "step_s": parse_duration(step)},
        "resolution": res,
        "summary": cov.summary(),
        "gateways_used": cov.usage("gateway")[:10],
        "cells": cov.table(),
        "out": str(out) if out else None,
    }

    def human(d: dict[str, Any]) -> None:
        s = d["summary"]
        console.print(
            f"[bold]coverage of {region}[/] ({d['worldview']}), {s['cells']} cells at res {res}"
        )
        console.print(
            f"time served {s['served_fraction']:.1%}, satellites in view {s['mean_visible']:.1f}, "
            f"RTT p50 {_fmt(s['rtt_p50_ms'])} ms / p95 {_fmt(s['rtt_p95_ms'])} ms, "
            f"handovers {s['handovers_per_hour']:.1f}/h"
        )
        if d["out"]:
            console.print(f"cells written to {d['out']}")

    emit(data, as_json, human)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="whatif")
    root.command("coverage")(coverage_cmd)
