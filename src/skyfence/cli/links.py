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
    InferGatewaysOpt,
    JsonOption,
    LatencyModelOpt,
    OverwriteOpt,
    PopMapOpt,
    PopsOpt,
    SkipInvalidOpt,
    console,
    emit,
    get_app,
    progress_bar,
)

app = typer.Typer(
    name="links",
    help="Visibility, laser links, routing and latency; the 15-s schedule; latency models "
    "fitted to and checked against published latency; Hypatia import/export.",
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
    skip_invalid: SkipInvalidOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Satellites above the elevation mask from a point at one time."""
    from skyfence.app.network import visible_satellites

    v = visible_satellites(
        get_app(), lat, lon, time=time, min_elevation_deg=min_elevation_deg,
        constellation=constellation, skip_invalid=skip_invalid,
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
    skip_invalid: SkipInvalidOpt = False,
    start: StartOpt = "now",
    latency_model: LatencyModelOpt = None,
    as_json: JsonOption = False,
) -> None:
    """City-to-city RTT over the laser mesh, its path, and terrestrial fibre for comparison."""
    from skyfence.app.network import city_rtt

    r = city_rtt(
        get_app(), from_, to, constellation=constellation, skip_invalid=skip_invalid, time=start,
        latency_model=latency_model,
    )  # fmt: skip

    def human(d: dict[str, Any]) -> None:
        if not d["path"]:
            console.print(f"No laser-mesh route from {d['from']} to {d['to']} at {d['time']}.")
        else:
            console.print(
                f"{d['from']} → {d['to']} ({d['great_circle_km']:.0f} km): laser mesh "
                f"{d['mesh_rtt_ms']:.1f} ms over {d['laser_hops']} laser hops; fibre ≈ "
                f"{d['fibre_rtt_ms']:.1f} ms"
            )
            console.print(
                f"dish to dish ({d['latency_model']}): RTT p20/p50/p80 "
                f"{d['rtt_p20_ms']:.1f} / {d['rtt_p50_ms']:.1f} / {d['rtt_p80_ms']:.1f} ms"
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
    skip_invalid: SkipInvalidOpt = False,
    gateways: GatewaysOpt = "plan",
    pops: PopsOpt = None,
    pop_map: PopMapOpt = None,
    start: StartOpt = "now",
    latency_model: LatencyModelOpt = None,
    infer_gateways: InferGatewaysOpt = True,
    as_json: JsonOption = False,
) -> None:
    """A dish's serving satellite, gateway, PoP and RTT per slot; RTT p20/p50/p80 over the
    window (p80 = the slow end, Starlink's 'worse 20 %'); handovers per hour."""
    from skyfence.app.network import NetworkSpec, terminal_schedule
    from skyfence.timeutil import parse_duration

    duration_s, slot_s = parse_duration(duration), parse_duration(slot)
    spec = NetworkSpec(
        constellation, gateways, pops, pop_map, latency_model, infer_gateways, skip_invalid
    )
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
            gw = (
                "—"
                if r.gateway is None
                else r.gateway + (" (inferred)" if r.gateway_inferred else "")
            )
            table.add_row(
                str(np.datetime64(r.time, "s")), r.sat or "—", gw, r.pop or "—",
                "—" if r.laser_hops is None else str(r.laser_hops),
                "—" if not np.isfinite(r.elevation_deg) else f"{r.elevation_deg:.1f}",
                "—" if not np.isfinite(r.rtt_ms) else f"{r.rtt_ms:.1f}",
            )  # fmt: skip
        console.print(table)

        def ms(v: float) -> str:
            return "—" if not np.isfinite(v) else f"{v:.1f}"

        console.print(
            f"median RTT {ms(d.median_rtt_ms)} ms; over the window p20 / p50 / p80 "
            f"{ms(d.rtt_p20_ms)} / {ms(d.rtt_p50_ms)} / {ms(d.rtt_p80_ms)} ms ({d.latency_model}; "
            f"p80 is the slow end); {d.handovers} handovers ({d.handovers_per_hour:.0f}/h)"
        )
        if d.inferred_gateways:
            console.print(
                "inferred gateways (not in the gateway list): " + ", ".join(d.inferred_gateways)
            )

    emit(sched, as_json, human)


MetricsOpt = Annotated[
    Path,
    typer.Option(
        "--metrics",
        help="Published per-country latency (CSV: iso3, latency_ms_p50, latency_ms_worse20, "
        "latency_ms_better20), e.g. Starlink's metrics_residential.",
    ),
]
WindowStartOpt = Annotated[str, typer.Option("--start", help="First sample slot, ISO 8601 UTC.")]
WindowDurationOpt = Annotated[
    str, typer.Option("--duration", help="How long the samples span, e.g. 24h.")
]
WindowStepOpt = Annotated[str, typer.Option("--step", help="Time between sample slots, e.g. 30m.")]


def _window(start: str, duration: str, step: str) -> tuple[str, float, float]:
    from skyfence.timeutil import parse_duration

    return start, parse_duration(duration), parse_duration(step)


def _country_table(title: str, rows: list[Any]) -> Table:
    table = Table(title=title)
    for col in ("country", "places", "p20", "p50", "p80", "published p20/p50/p80", "error p50"):
        table.add_column(col)

    def f(v: float | None) -> str:
        return "—" if v is None else f"{v:.1f}"

    for r in rows:
        table.add_row(
            r.iso3, ", ".join(r.places)[:28] + (" (moved)" if "moved" in r.how else ""),
            f(r.predicted_p20_ms), f(r.predicted_p50_ms), f(r.predicted_p80_ms),
            f"{f(r.published_p20_ms)} / {f(r.published_p50_ms)} / {f(r.published_p80_ms)}",
            f(r.error_p50_ms),
        )  # fmt: skip
    return table


def _scores_line(name: str, s: dict[str, Any]) -> str:
    return (
        f"{name}: MAE {s['mae_ms']} ms, bias {s['bias_ms']} ms, rank correlation "
        f"{s['rank_correlation']} over {s['n']} countries"
    )


@app.command("validate")
def validate_cmd(
    metrics: MetricsOpt,
    constellation: ConstellationOpt = "starlink-gen1",
    skip_invalid: SkipInvalidOpt = False,
    gateways: GatewaysOpt = "plan",
    pops: PopsOpt = None,
    pop_map: PopMapOpt = None,
    latency_model: LatencyModelOpt = None,
    infer_gateways: InferGatewaysOpt = True,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a scatter of predicted vs published (PNG).")
    ] = None,
    world_map: Annotated[
        Path | None, typer.Option("--map", help="Write a world map of the error (PNG).")
    ] = None,
    start: WindowStartOpt = "2026-02-22T00:00:00Z",
    duration: WindowDurationOpt = "24h",
    step: WindowStepOpt = "30m",
    overwrite: OverwriteOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Predicted vs published latency per country: p20/p50/p80, MAE, bias, rank correlation.

    Each country is run at its representative places (the GeoIP cities of --pop-map, or the
    country's representative point), one 15-s slot per --step over --duration.
    """
    from skyfence.app.calibration import validate
    from skyfence.app.network import NetworkSpec

    spec = NetworkSpec(
        constellation, gateways, pops, pop_map, latency_model, infer_gateways, skip_invalid
    )
    with progress_bar("validate (%)", enabled=not as_json) as bar:
        rep = validate(
            get_app(), metrics, network=spec, window=_window(start, duration, step), plot=plot,
            world_map=world_map, overwrite=overwrite, progress=bar,
        )  # fmt: skip

    def human(d: Any) -> None:
        console.print(_country_table(f"{d.model}: predicted vs published RTT (ms)", d.countries))
        for level in ("p50", "p20", "p80"):
            console.print(_scores_line(level, d.summary[level]))
        for code, why in d.skipped.items():
            console.print(f"left out {code}: {why}")
        used = [g["id"] for g in d.inferred_gateways if g["used"]]
        if d.inferred_gateways:
            console.print(
                f"{len(d.inferred_gateways)} inferred gateways ({len(used)} used): "
                + ", ".join(g["id"] for g in d.inferred_gateways)
            )
        for k, v in d.files.items():
            console.print(f"wrote {k}: {v}")
        console.print(f"{d.timing['total_s']:.1f} s (load average {d.timing['load_average_1min']})")

    emit(rep, as_json, human)


def _floats(text: str, option: str, allow_off: bool = False) -> list[Any]:
    from skyfence.errors import InputError

    out: list[Any] = []
    for part in text.split(","):
        p = part.strip().lower()
        if allow_off and p in ("off", "none"):
            out.append(None)
            continue
        try:
            out.append(float(p))
        except ValueError:
            raise InputError(
                f"{option} {text!r}: expected comma-separated numbers"
                + (" (or 'off')" if allow_off else "")
                + ", e.g. 1.0,1.3"
            ) from None
    return out


@app.command("calibrate")
def calibrate_cmd(
    metrics: MetricsOpt,
    out: Annotated[Path, typer.Option("--out", help="Model file to write (JSON).")],
    constellation: ConstellationOpt = "starlink-gen1",
    skip_invalid: SkipInvalidOpt = False,
    gateways: GatewaysOpt = "plan",
    pops: PopsOpt = None,
    pop_map: PopMapOpt = None,
    name: Annotated[str, typer.Option("--name", help="Model name.")] = "calibrated",
    version: Annotated[str, typer.Option("--version", help="Model version.")] = "1",
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fold assignment.")] = 0,
    repeats: Annotated[
        int,
        typer.Option(
            "--repeats",
            help="Cross-validate with this many fold assignments (seeds --seed, --seed+1, ...) "
            "and report the mean and range of their figures.",
        ),
    ] = 1,
    radii: Annotated[
        str, typer.Option("--infer-radii", help="Candidate inference radii, km ('off' = none).")
    ] = "off,150,300",
    route_factors: Annotated[
        str, typer.Option("--route-factors", help="Candidate fibre route factors.")
    ] = "1.0,1.3,1.6",
    hop_delays: Annotated[
        str, typer.Option("--hop-delays", help="Candidate delays per laser hop, ms.")
    ] = "0,1,2",
    gateway_masks: Annotated[
        str,
        typer.Option("--gateway-masks", help="Candidate gateway elevation masks, degrees."),
    ] = "25,35,45",
    start: WindowStartOpt = "2026-02-22T00:00:00Z",
    duration: WindowDurationOpt = "24h",
    step: WindowStepOpt = "30m",
    overwrite: OverwriteOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Fit a latency model to published latency and write it, with cross-validated figures.

    The scheduling delay, the fixed overhead, the fibre route factor, the delay per laser hop,
    the gateway-inference radius and the gateway elevation mask are fitted; the figures come from refitting inside each
    of --folds groups of countries and predicting the held-out ones.
    """
    from skyfence.app.calibration import calibrate
    from skyfence.app.network import NetworkSpec

    grid = {
        "infer_radius_km": _floats(radii, "--infer-radii", allow_off=True),
        "route_factor": _floats(route_factors, "--route-factors"),
        "laser_hop_ms": _floats(hop_delays, "--hop-delays"),
        "gateway_min_elevation_deg": _floats(gateway_masks, "--gateway-masks"),
    }
    spec = NetworkSpec(constellation, gateways, pops, pop_map, skip_invalid=skip_invalid)
    with progress_bar("calibrate (%)", enabled=not as_json) as bar:
        run = calibrate(
            get_app(), metrics, network=spec, out=out, name=name, version=version, folds=folds,
            seed=seed, repeats=repeats, grid=grid, window=_window(start, duration, step), overwrite=overwrite,
            progress=bar,
        )  # fmt: skip

    def human(d: Any) -> None:
        m = d.model
        console.print(
            _country_table(f"{m.label}: cross-validated predictions (ms)", d.cross_validation)
        )
        for p in m.parameters:
            console.print(f"{p['name']} = {p['value']} {p['unit']}")
        cv = m.cross_validation
        for level in ("p50", "p20", "p80"):
            console.print(_scores_line(f"{cv['folds']}-fold CV {level}", cv["scores"][level]))
        rep = cv.get("repeats")
        if rep and rep["p50"]["mean_mae_ms"] is not None:
            for level in ("p50", "p20", "p80"):
                r = rep[level]
                console.print(
                    f"{cv['folds']}-fold CV {level} over {len(rep['seeds'])} fold assignments "
                    f"(seeds {rep['seeds'][0]}..{rep['seeds'][-1]}): MAE mean "
                    f"{r['mean_mae_ms']:.2f} ms, {r['min_mae_ms']:.2f}..{r['max_mae_ms']:.2f}"
                )
        console.print(f"wrote {d.out} in {d.timing['total_s']:.0f} s")

    emit(run, as_json, human)


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
    skip_invalid: SkipInvalidOpt = False,
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
        get_app(), outdir, constellation=constellation, skip_invalid=skip_invalid, stations=stations,
        min_elevation_deg=min_elevation_deg, name=name, overwrite=overwrite,
    )  # fmt: skip
    emit(out, as_json, lambda d: console.print(
        f"wrote {d.directory}: {d.satellites} satellites, {d.isls} ISLs, "
        f"{d.ground_stations} ground stations"
    ))  # fmt: skip


def register(root: typer.Typer) -> None:
    """Add the ``links`` group to the root app."""
    root.add_typer(app, name="links")
