"""CLI: ``skyfence whatif activate|deactivate EXPR`` and ``skyfence coverage REGION``.

Thin adapters over :mod:`skyfence.app.whatif`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from skyfence.analysis.defaults import DEFAULT_FOOTPRINT_KM, DEFAULT_START
from skyfence.cli._common import (
    ConstellationOpt,
    DaskWorkersOpt,
    GatewaysOpt,
    InferGatewaysOpt,
    JsonOption,
    LatencyModelOpt,
    OverwriteOpt,
    PopMapOpt,
    PopsOpt,
    SchedulerOpt,
    SkipInvalidOpt,
    WorkersOpt,
    console,
    emit,
    get_app,
    parallel,
    progress_bar,
)

app = typer.Typer(
    name="whatif",
    help="What if a region were switched on or off: coverage, latency, landing, spillover.",
    no_args_is_help=True,
)

StartOpt = Annotated[
    str, typer.Option("--start", help="Start of the window, ISO 8601 UTC or 'now'.")
]
WindowOpt = Annotated[str, typer.Option("--window", help="Length of the window, e.g. 1h, 30m.")]
StepOpt = Annotated[str, typer.Option("--step", help="Time step = scheduling slot, e.g. 15s.")]
ResOpt = Annotated[
    int, typer.Option("--res", "--resolution", help="H3 resolution of the cells (5 ≈ 250 km²).")
]
ElementsOpt = Annotated[
    Path | None,
    typer.Option(
        "--elements",
        help="An element-set file (TLE/3LE/OMM) to use instead of --constellation.",
    ),
]
SweepOpt = Annotated[
    bool,
    typer.Option(
        "--sweep",
        help="Run as a sharded, checkpointed sweep writing a directory (always for 'world').",
    ),
]
BlockCellsOpt = Annotated[
    int, typer.Option("--block-cells", help="Cells per sweep shard (one shard = cells x an hour).")
]
MaxShardsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-shards",
        help="Run at most this many shards now and stop (the same command resumes the rest).",
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Report directory (default: a new one per run under ./skyfence-reports); an "
        "existing one is refused unless --overwrite.",
    ),
]


def _fmt(v: Any, spec: str = ".1f") -> str:
    return "—" if v is None else format(v, spec)


def human_whatif(d: dict[str, Any]) -> None:
    """Print a what-if summary (``WhatIfRun.to_dict()``) for people."""
    r = d["region"]
    console.print(
        f"[bold]{d['action'].capitalize()} {d['expression']}[/] — {r['name']}, "
        f"{r['area_km2']:,.0f} km², countries {', '.join(r['countries']) or '—'}"
    )
    console.print(f"worldview: {d['worldview']}")
    w, s = d["window"], d["setup"]
    console.print(
        f"{s['constellation']} ({s['satellites']} satellites), gateways: {s['gateways']} "
        f"({s['gateway_count']}), window {w['start']} + {w['duration_s'] / 60:g} min at "
        f"{w['step_s']:g} s, satellite selection {s['rule']}"
    )
    if d["switched_off"]:
        console.print(
            "switched off: "
            + ", ".join(f"{o['id']} ({o['area_km2']:,.0f} km²)" for o in d["switched_off"])
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
    when = "" if d["action"] == "activate" else " before the switch-off"
    console.print(f"gateways carrying the traffic{when}: {gws or '—'}")
    if d["lands_abroad"]:
        console.print(
            f"[bold red]traffic lands abroad[/]{when}: {d['lands_abroad_share']:.0%} of served "
            "cell-steps"
        )
    if d["planned_gateways"]:
        console.print(
            f"to land in-country the planner adds {len(d['planned_gateways'])} gateway(s)"
        )
    sp = d["spillover"]
    parts = [f"{b['region']} (switched off) {b['area_km2']:,.0f} km²" for b in sp["switched_off"]]
    parts += [f"{b['name']} {b['area_km2']:,.0f} km²" for b in sp["by_region"][:5]]
    where = "outside the region" if sp["direction"] == "outside" else "inside the region"
    console.print(
        f"spillover {where}: {sp['area_km2']:,.0f} km² reaching {sp['cells_reached']} cell(s) — "
        f"{', '.join(parts) or 'none'}"
    )
    console.print(
        f"report written to [bold]{d['files']['report.html']}[/] (and report.md, report.json, "
        "map.png)"
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
        skip_invalid: SkipInvalidOpt = False,
        gateways: GatewaysOpt = "plan",
        pops: PopsOpt = None,
        pop_map: PopMapOpt = None,
        latency_model: LatencyModelOpt = None,
        infer_gateways: InferGatewaysOpt = True,
        start: StartOpt = DEFAULT_START,
        window: WindowOpt = "1h",
        step: StepOpt = "15s",
        res: ResOpt = 5,
        footprint_km: Annotated[
            float, typer.Option("--footprint-km", help="Beam footprint radius for spillover, km.")
        ] = DEFAULT_FOOTPRINT_KM,
        in_country: Annotated[
            bool,
            typer.Option(
                "--in-country/--no-in-country",
                help="Also compute landing in-country (activations only).",
            ),
        ] = True,
        out: OutOpt = None,
        workers: WorkersOpt = 1,
        dask_workers: DaskWorkersOpt = None,
        scheduler: SchedulerOpt = None,
        overwrite: OverwriteOpt = False,
        as_json: JsonOption = False,
    ) -> None:
        from skyfence.app.network import NetworkSpec
        from skyfence.app.whatif import whatif

        where = parallel(workers, dask_workers, scheduler)
        from skyfence.timeutil import parse_duration

        duration_s, step_s = parse_duration(window), parse_duration(step)
        with progress_bar(f"{action} {expression}", enabled=not as_json) as bar:
            run = whatif(
                get_app(), expression, action,  # type: ignore[arg-type]
                network=NetworkSpec(
                    constellation, gateways, pops, pop_map, latency_model, infer_gateways,
                    skip_invalid,
                ),
                start=start,
                duration_s=duration_s, step_s=step_s, resolution=res, footprint_km=footprint_km,
                in_country=in_country, out=out, overwrite=overwrite, progress=bar,
                parallel=where,
            )  # fmt: skip
        emit(run.to_dict(), as_json, human_whatif)

    command.__doc__ = (
        f"{action.capitalize()} a region and report coverage, RTT, landing and spillover."
    )
    return command


app.command("activate")(_whatif_command("activate"))
app.command("deactivate")(_whatif_command("deactivate"))


def coverage_cmd(
    region: Annotated[
        str,
        typer.Argument(help="Region expression, e.g. TW or 'UA - crimea'; 'world' = all land."),
    ],
    constellation: ConstellationOpt = "starlink-gen1",
    elements: ElementsOpt = None,
    skip_invalid: SkipInvalidOpt = False,
    gateways: GatewaysOpt = "plan",
    pops: PopsOpt = None,
    pop_map: PopMapOpt = None,
    latency_model: LatencyModelOpt = None,
    infer_gateways: InferGatewaysOpt = True,
    start: StartOpt = DEFAULT_START,
    window: WindowOpt = "1h",
    step: StepOpt = "15s",
    res: ResOpt = 5,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write cells to .geojson, .parquet (GeoParquet) or .png (a map); an existing "
            "file is refused unless --overwrite. A sweep writes a directory (resumed when it "
            "holds the same sweep).",
        ),
    ] = None,
    sweep: SweepOpt = False,
    workers: WorkersOpt = 1,
    dask_workers: DaskWorkersOpt = None,
    scheduler: SchedulerOpt = None,
    block_cells: BlockCellsOpt = 20_000,
    max_shards: MaxShardsOpt = None,
    overwrite: OverwriteOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Coverage of a region per H3 cell: time served, satellites in view, RTT, handovers.

    'world' (or --sweep) runs a sharded sweep — here, in --workers processes or on Dask
    (--dask-workers N, --scheduler ADDRESS) — writing GeoParquet per hour, the day per cell,
    a summary and a map to --out; a killed sweep resumes from its finished shards.
    """
    from skyfence.app.network import NetworkSpec
    from skyfence.timeutil import parse_duration

    duration_s, step_s = parse_duration(window), parse_duration(step)
    network = NetworkSpec(
        str(elements) if elements is not None else constellation, gateways, pops, pop_map,
        latency_model, infer_gateways, skip_invalid,
    )  # fmt: skip
    if sweep or region.strip().lower() == "world":
        _sweep(region, network, start, duration_s, step_s, res, out, workers, dask_workers,
               scheduler, block_cells, max_shards, overwrite, as_json)  # fmt: skip
        return
    from skyfence.app.whatif import coverage

    where = parallel(workers, dask_workers, scheduler)
    with progress_bar(f"coverage {region}", enabled=not as_json) as bar:
        run = coverage(
            get_app(), region, network=network, start=start, duration_s=duration_s,
            step_s=step_s, resolution=res, out=out, overwrite=overwrite, progress=bar,
            parallel=where,
        )  # fmt: skip

    def human(d: dict[str, Any]) -> None:
        s = d["summary"]
        console.print(
            f"[bold]coverage of {region}[/] ({d['worldview']}), {s['cells']} cells at res {res}"
        )
        console.print(
            f"time served {s['served_fraction']:.1%}, satellites in view {s['mean_visible']:.1f}, "
            f"RTT p50 {_fmt(s['rtt_p50_ms'])} ms / p95 {_fmt(s['rtt_p95_ms'])} ms, "
            f"handovers {s['handovers_per_hour']:.1f}/h ({d['rule']})"
        )
        if d["out"]:
            console.print(f"cells written to {d['out']}")

    emit(run.to_dict(), as_json, human)


def _sweep(
    region: str, network: Any, start: str, duration_s: float, step_s: float, res: int,
    out: Path | None, workers: int, dask_workers: int | None, scheduler: str | None,
    block_cells: int, max_shards: int | None, overwrite: bool, as_json: bool,
) -> None:  # fmt: skip
    from skyfence.app.sweep import coverage_sweep

    where = parallel(workers, dask_workers, scheduler)
    app = get_app()
    if out is None:
        slug = "".join(ch if ch.isalnum() else "-" for ch in region.lower()).strip("-")
        out = Path(app.settings.reports_dir).expanduser() / f"sweep-{slug}-r{res}"
    with progress_bar(f"sweep {region} (shards)", enabled=not as_json) as bar:
        run = coverage_sweep(
            app, region, network=network, start=start, duration_s=duration_s, step_s=step_s,
            resolution=res, out=out, parallel=where, block_cells=block_cells,
            max_shards=max_shards, overwrite=overwrite, progress=bar,
        )  # fmt: skip

    def human(d: dict[str, Any]) -> None:
        sh, s = d["shards"], d["summary"]
        console.print(
            f"[bold]sweep of {region}[/] on {d['backend']} ({d['workers']} worker(s)): "
            f"{sh['run']} shard(s) run, {sh['resumed']} resumed, of {sh['total']}, "
            f"in {d['elapsed_s']:.1f} s"
        )
        if not s.get("complete"):
            console.print(f"{s['shards_left']} shard(s) left: run the same command to resume")
            console.print(f"sweep directory: {d['out']}")
            return
        console.print(
            f"{s['cells']:,} cells, time served {s['served_fraction']:.1%}, satellites in view "
            f"{s['mean_visible']:.1f}, RTT p50 {_fmt(s['rtt_p50_ms'])} ms / p95 "
            f"{_fmt(s['rtt_p95_ms'])} ms, handovers {s['handovers_per_hour']:.1f}/h"
        )
        console.print(
            f"written to [bold]{d['out']}[/] (hours/*.parquet, day.parquet, summary.json, map.png)"
        )

    emit(run.to_dict(), as_json, human)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="whatif")
    root.command("coverage")(coverage_cmd)
