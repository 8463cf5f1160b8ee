"""CLI: ``skyfence detect run|impact|simulate`` (a thin adapter over ``skyfence.app.detect``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from skyfence.cli._common import (
    DaskWorkersOpt,
    JsonOption,
    SchedulerOpt,
    WorkersOpt,
    console,
    emit,
    get_app,
    parallel,
    progress_bar,
    to_jsonable,
)

app = typer.Typer(
    name="detect",
    help="Find misuse in terminal telemetry, measure what rules would cut, simulate scenarios.",
    no_args_is_help=True,
)

TelemetryArg = Annotated[
    Path, typer.Argument(help="Telemetry file: .csv, .jsonl or .parquet.", show_default=False)
]
TerminalsOpt = Annotated[
    Path | None,
    typer.Option("--terminals", help="Terminal registry CSV/JSON instead of the store's."),
]
OnInvalidOpt = Annotated[
    str,
    typer.Option(
        "--on-invalid",
        help="raise: stop at the first bad row; skip: leave bad rows out and list them.",
    ),
]
TruthOpt = Annotated[
    str | None,
    typer.Option(
        "--truth-column",
        help="Column of ground-truth classes (a generated scenario's 'label'), read after "
        "the detectors ran, to score them.",
    ),
]


def _app() -> Any:
    """The App of this CLI run (one per process, see ``cli._common.get_app``)."""
    return get_app()


def _fmt(v: Any) -> str:
    return "—" if v is None else f"{v:.3f}"


@app.command("run")
def run_command(
    telemetry: TelemetryArg,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="Policy file, in force at every time (default: the store's versions, each "
            "from the time it was applied).",
        ),
    ] = None,
    terminals: TerminalsOpt = None,
    geojson: Annotated[
        Path | None, typer.Option("--geojson", help="Write the findings as GeoJSON.")
    ] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write a map of the findings.")] = None,
    kinds: Annotated[
        list[str] | None,
        typer.Option("--kind", help="Run only this detector (repeat); default all."),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Findings shown in the table.")] = 20,
    on_invalid: OnInvalidOpt = "raise",
    truth_column: TruthOpt = None,
    workers: WorkersOpt = 1,
    dask_workers: DaskWorkersOpt = None,
    scheduler: SchedulerOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Run the detectors over TELEMETRY: a ranked findings table, JSON, GeoJSON and a map.

    The reports are decided (replayed through the policy engine) in this process, in
    --workers local processes or on a Dask cluster; the findings are the same.
    """
    from skyfence.app.detect import prepare_detect
    from skyfence.detect import KINDS, DetectOptions

    options = DetectOptions(kinds=tuple(kinds)) if kinds else DetectOptions(kinds=KINDS)
    job = prepare_detect(
        _app(), telemetry, policy_file=policy, terminals_file=terminals, on_invalid=on_invalid,
        options=options, geojson=geojson, png=png, truth_column=truth_column,
        parallel=parallel(workers, dask_workers, scheduler),
    )  # fmt: skip
    with progress_bar(f"detect {telemetry.name}", enabled=not as_json) as update:
        result = job.run(update)
    data = result.report.to_dict()
    data["policy"] = result.policy_source
    data["files"] = result.files
    if result.scores is not None:
        data["scores"] = {k: s.to_dict() for k, s in result.scores.items()}

    def human(d: dict[str, Any]) -> None:
        console.print(
            f"[bold]{d['rows']:,} reports[/] of {d['terminals']:,} terminals from {d['source']}; "
            f"policy: {d['policy']}; {d['single_gps_jumps']:,} single GPS jumps left out"
            + (f"; [red]{d['rejected_rows']:,} bad rows left out[/]" if d["rejected_rows"] else "")
        )
        for line in d["rejected"][:5]:
            console.print(f"  {line}", markup=False)
        if d["undecided_rows"]:
            console.print(
                f"[yellow]{d['undecided_rows']:,} reports predate the first policy version "
                f"({d['first_version_at']}) and are not judged[/]; pass --policy FILE to judge "
                "them by a policy file"
            )
        counts = ", ".join(f"{k} {v:,}" for k, v in d["counts"].items())
        console.print(
            f"{len(d['findings']):,} findings on {d['flagged_terminals']:,} terminals: {counts}"
        )
        table = Table(title=f"top {min(top, len(d['findings']))} findings")
        for col, just in (
            ("#", "right"),
            ("score", "right"),
            ("kind", "left"),
            ("terminal", "left"),
            ("from", "left"),
            ("what", "left"),
        ):
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        for i, f in enumerate(d["findings"][:top]):
            ids = f["terminal_ids"]
            who = ids[0] if len(ids) == 1 else f"{ids[0]} +{len(ids) - 1}"
            when = f["start"][:16].replace("T", " ")
            table.add_row(str(i + 1), f"{f['score']:.2f}", f["kind"], who, when, f["summary"])
        console.print(table)
        if "scores" in d:
            st = Table(title="precision and recall against the truth column")
            for col in ("detector", "expected", "flagged", "precision", "recall"):
                st.add_column(col, justify="left" if col == "detector" else "right")
            for k, s in d["scores"].items():
                st.add_row(
                    k,
                    str(s["expected"]),
                    str(s["flagged"]),
                    _fmt(s["precision"]),
                    _fmt(s["recall"]),
                )
            console.print(st)
        for k, v in d["files"].items():
            console.print(f"{k} written to {v}")

    emit(data, as_json, human)


@app.command("impact")
def impact_command(
    telemetry: TelemetryArg,
    policies: Annotated[
        list[Path],
        typer.Option("--policy", help="A candidate policy file (repeat: --policy A --policy B)."),
    ],
    reference: Annotated[
        Path | None,
        typer.Option(
            "--reference",
            help="Policy under which the detectors label misuse (default: the first --policy).",
        ),
    ] = None,
    terminals: TerminalsOpt = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write a bar chart.")] = None,
    on_invalid: OnInvalidOpt = "raise",
    truth_column: TruthOpt = None,
    workers: WorkersOpt = 1,
    dask_workers: DaskWorkersOpt = None,
    scheduler: SchedulerOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Replay TELEMETRY under each --policy: terminals and terminal-hours cut, misuse vs legitimate."""
    from skyfence.app.detect import prepare_impact

    job = prepare_impact(
        _app(), telemetry, policies, reference=reference, terminals_file=terminals,
        on_invalid=on_invalid, png=png, truth_column=truth_column,
        parallel=parallel(workers, dask_workers, scheduler),
    )  # fmt: skip
    with progress_bar(f"impact {telemetry.name}", enabled=not as_json) as update:
        result = job.run(update)
    data = result.report.to_dict()
    data["files"] = result.files

    def human(d: dict[str, Any]) -> None:
        console.print(
            f"[bold]{d['rows']:,} reports[/] of {d['terminals']:,} terminals "
            f"({d['terminal_hours']:,.0f} terminal-hours); the detectors under "
            f"{d['reference']} label {d['misuse_terminals']:,} terminals as misuse"
        )
        table = Table(title="what each candidate cuts (misuse / legitimate)")
        for col in ("policy", "denied reports", "terminals", "terminal-hours"):
            table.add_column(col, justify="left" if col == "policy" else "right")
        truth = d["truth_misuse_terminals"] is not None
        if truth:
            table.add_column("terminals by truth", justify="right")
            table.add_column("hours by truth", justify="right")
        for c in d["candidates"]:
            row = [
                c["name"],
                f"{c['denied_reports']:,}",
                f"{c['misuse_terminals']:,} / {c['legit_terminals']:,}",
                f"{c['misuse_hours']:,.0f} / {c['legit_hours']:,.0f}",
            ]
            if truth and c["truth"]:
                t = c["truth"]
                row += [
                    f"{t['misuse_terminals']:,} / {t['legit_terminals']:,}",
                    f"{t['misuse_hours']:,.0f} / {t['legit_hours']:,.0f}",
                ]
            table.add_row(*row)
        console.print(table)
        for k, v in d["files"].items():
            console.print(f"{k} written to {v}")

    emit(data, as_json, human)


@app.command("simulate")
def simulate_command(
    out: Annotated[
        Path, typer.Option("--out", help="Telemetry file to write (.parquet, .csv or .jsonl).")
    ],
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario name.")] = "ukraine-2026",
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 0,
    count: Annotated[
        int, typer.Option("--terminal-count", help="About how many terminals.")
    ] = 1000,
    days: Annotated[float, typer.Option("--days", help="Length of the scenario in days.")] = 14.0,
    start: Annotated[
        str, typer.Option("--start", help="Start, ISO 8601 UTC.")
    ] = "2026-01-25T00:00:00Z",
    as_json: JsonOption = False,
) -> None:
    """Generate labelled telemetry (ground truth in a separate 'label' column), the terminal
    registry and the policy it is set under."""
    from skyfence.app.detect import check_simulation, simulate_scenario

    check_simulation(out, scenario=scenario, terminals=count, days=days, start=start)
    with progress_bar(f"simulate {scenario}", enabled=not as_json) as update:
        data = simulate_scenario(
            _app(), out, scenario=scenario, seed=seed, terminals=count, days=days,
            start=start, progress=update,
        )  # fmt: skip

    def human(d: dict[str, Any]) -> None:
        console.print(
            f"[bold]{d['rows']:,} reports[/] of {d['terminals']:,} terminals "
            f"({d['misuse_terminals']:,} misusing, {d['registered']:,} registered), "
            f"scenario {d['scenario']} seed {d['seed']}"
        )
        for k, v in d["files"].items():
            console.print(f"{k}: {v}")
        f = d["files"]
        console.print(
            f"next: skyfence detect run {f['telemetry']} --policy {f['policy']} "
            f"--terminals {f['terminals']} --truth-column label",
            markup=False,
        )

    emit(to_jsonable(data), as_json, human)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="detect")
