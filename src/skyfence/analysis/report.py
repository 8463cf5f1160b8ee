"""Write what-if reports (Markdown, HTML, JSON, GeoJSON, PNG) and check output paths first.

A report is written to a directory that appears whole or not at all: the files go to a
temporary directory beside the target, which is renamed into place at the end.

Outputs are never replaced by accident: :func:`check_output_dir` and
:func:`check_output_file` refuse an existing output unless ``overwrite`` is given, and refuse a
place that cannot be written — both **before** the work starts. A report's default directory
carries a run id (:func:`new_run_id`, the UTC time of the run), so two runs with other inputs
never share a folder.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skyfence.analysis.maps import coverage_map_figure, map_quantity, rtt_cdf_figure, save_png
from skyfence.files import check_output_dir, check_output_file
from skyfence.jsonable import to_jsonable

if TYPE_CHECKING:
    from skyfence.analysis.whatif import WhatIfReport

__all__ = [
    "REPORT_FILES",
    "check_output_dir",
    "check_output_file",
    "new_run_id",
    "render_html",
    "render_markdown",
    "report_dirname",
    "whatif_map_figure",
    "write_whatif_report",
]

REPORT_FILES = ("report.md", "report.html", "report.json", "cells.geojson", "map.png", "rtt.png")


# ----------------------------------------------------------------------------- output paths
def new_run_id(now: datetime | None = None) -> str:
    """A run id: the UTC time of the run to the second, e.g. ``20261206T201455Z``."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def report_dirname(action: str, expression: str, start_iso: str, run_id: str) -> str:
    """A file-system-safe directory name, e.g. ``whatif-activate-TW-20260222T1200Z-run-<id>``.

    Examples
    --------
    >>> report_dirname("activate", "UA - crimea", "2026-02-22T12:00:00Z", "20261206T201455Z")
    'whatif-activate-UA_-_crimea-20260222T1200Z-run-20261206T201455Z'
    """
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in expression).strip("_")
    stamp = start_iso.replace("-", "").replace(":", "")[:13] + "Z"
    return f"whatif-{action}-{safe[:40] or 'region'}-{stamp}-run-{run_id}"


# ----------------------------------------------------------------------------- the report
def _fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if not np.isfinite(v):
            return "—"
        return f"{v:,.{digits}f}"
    return str(v)


def _summary_rows(report: WhatIfReport) -> list[list[str]]:
    cols = [("before", report.before), ("after", report.after)]
    if report.in_country:
        cols.append(("after, landing in-country", report.in_country))
    rows = [["", *[c[0] for c in cols]]]
    for key, label, digits in (
        ("served_fraction", "time served (area-weighted)", 3),
        ("never_served_area_km2", "area never served (km²)", 0),
        ("mean_visible", "satellites in view (mean)", 1),
        ("rtt_p50_ms", "RTT p50 (ms)", 1),
        ("rtt_p95_ms", "RTT p95 (ms)", 1),
        ("handovers_per_hour", "handovers per hour", 1),
    ):
        rows.append([label, *[_fmt(c[1].get(key), digits) for c in cols]])
    return rows


def spill_sentence(report: WhatIfReport) -> str:
    """One sentence on the spillover whose numbers agree with its table."""
    sp = report.spill
    reach = f"reaching {len(sp.cells)} cell(s) of resolution {report.setup['resolution']}"
    if report.action == "activate":
        text = (
            f"Beams of {sp.footprint_km:g} km radius serving the region's cells also light "
            f"**{sp.area_km2:,.0f} km²** outside it ({reach}, wholly or partly)"
        )
        if sp.switched_off:
            off = ", ".join(f"{r['area_km2']:,.0f} km² in {r['region']}" for r in sp.switched_off)
            text += f", of which **{off}**, which stays switched off"
        return text + ":"
    return (
        f"Beams of {sp.footprint_km:g} km radius serving the active cells around the region "
        f"still light **{sp.area_km2:,.0f} km²** inside it ({reach}, wholly or partly):"
    )


def _sections(report: WhatIfReport, images: dict[str, str]) -> list[tuple[str, list[Any]]]:
    """The report as (heading, blocks); a block is a str paragraph, a table or an image."""
    d = report.to_dict()
    r = d["region"]
    verb = "activated" if report.action == "activate" else "switched off"
    lead = (
        f"What if the network were **{verb}** over **{report.expression}** "
        f"({r['name']}, {r['area_km2']:,.0f} km², countries: {', '.join(r['countries']) or 'none'})?"
    )
    setup, window = d["setup"], d["window"]
    facts = [
        ["worldview", report.worldview],
        ["constellation", f"{setup['constellation']} ({setup['satellites']} satellites)"],
        ["gateways", f"{setup['gateways']} ({setup['gateway_count']} sites)"],
        ["PoPs", f"{setup['pops']} ({setup['pop_count']})"],
        [
            "window",
            f"{window['start']}, {window['duration_s'] / 60:g} min at {window['step_s']:g} s "
            f"({window['steps']} steps)",
        ],
        [
            "cells",
            f"H3 resolution {setup['resolution']}: {report.before['cells']} cells, "
            f"{report.before['area_km2']:,.0f} km²",
        ],
        ["terminal elevation mask", f"{setup['terminal_min_elevation_deg']:g}°"],
        ["satellite selection", f"{setup['rule']} (the rule every skyfence command uses)"],
    ]
    if d["switched_off"]:
        facts.append(
            ["switched off", ", ".join(f"{o['id']} ({o['name']})" for o in d["switched_off"])]
        )
    sections: list[tuple[str, list[Any]]] = [("Question", [lead, [["", ""], *facts]])]
    cov_blocks: list[Any] = [_summary_rows(report), images.get("map", "")]
    if report.in_country is None:
        cov_blocks.append(images.get("rtt", ""))
    sections.append(("Coverage before and after", cov_blocks))
    gw = [["gateway", "country", "share of served cell-steps", "abroad"]] + [
        [g["name"], g["country"] or "?", f"{g['share']:.1%}", "yes" if g["abroad"] else "no"]
        for g in report.gateways_used[:15]
    ]
    pop = [["PoP", "country", "share", "abroad"]] + [
        [p["name"], p["country"] or "?", f"{p['share']:.1%}", "yes" if p["abroad"] else "no"]
        for p in report.pops_used[:10]
    ]
    when = "" if report.action == "activate" else "Before the switch-off: "
    landing = (
        f"{when}**Traffic lands abroad**: {report.lands_abroad_share:.1%} of served cell-steps "
        f"leave the network through gateways outside "
        f"{', '.join(report.region_countries) or 'the region'}."
        if report.lands_abroad
        else f"{when}All traffic lands at gateways inside the region's countries."
    )
    sections.append(("Where the traffic lands", [landing, gw, pop]))
    if report.in_country is not None:
        planned = [["planned gateway", "latitude", "longitude", "country"]] + [
            [p["id"], f"{p['latitude_deg']:.3f}", f"{p['longitude_deg']:.3f}", p["country"]]
            for p in report.planned_gateways
        ]
        text = (
            f"To land in-country the planner would add {len(report.planned_gateways)} gateway(s) "
            "(a planning model, not the operator's sites; none in a switched-off area). With the "
            f"landing constraint: served {report.in_country['served_fraction']:.1%} of the time, "
            f"RTT p50 {_fmt(report.in_country['rtt_p50_ms'])} ms."
        )
        sections.append(("Landing in-country", [text, planned, images.get("rtt", "")]))
    sp = report.spill
    spill_rows = [["region", "name", "area (km²)", ""]]
    spill_rows += [
        [b["region"], b["name"], f"{b['area_km2']:,.0f}", "switched off"] for b in sp.switched_off
    ]
    spill_rows += [
        [b["region"] or "—", b["name"], f"{b['area_km2']:,.0f}", ""] for b in sp.by_region[:15]
    ]
    sections.append(("Spillover across the border", [spill_sentence(report), spill_rows]))
    if report.notes:
        sections.append(("Notes", [" ".join(report.notes)]))
    return sections


def _md_table(rows: list[list[str]]) -> str:
    head, *body = rows
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(out)


def _html_table(rows: list[list[str]]) -> str:
    head, *body = rows
    th = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _md_inline_to_html(text: str) -> str:
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def render_markdown(title: str, sections: list[tuple[str, list[Any]]]) -> str:
    """The report as Markdown."""
    out = [f"# {title}", ""]
    for heading, blocks in sections:
        out += [f"## {heading}", ""]
        for b in blocks:
            if isinstance(b, list):
                out += [_md_table(b), ""]
            elif isinstance(b, str) and b.endswith(".png"):
                out += [f"![{heading}]({b})", ""]
            elif b:
                out += [b, ""]
    return "\n".join(out)


def render_html(title: str, sections: list[tuple[str, list[Any]]]) -> str:
    """The report as one self-contained HTML page (images beside it)."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for heading, blocks in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        for b in blocks:
            if isinstance(b, list):
                body.append(_html_table(b))
            elif isinstance(b, str) and b.endswith(".png"):
                body.append(f'<img src="{html.escape(b)}" alt="{html.escape(heading)}">')
            elif b:
                body.append(f"<p>{_md_inline_to_html(b)}</p>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:left}img{max-width:100%}"
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _title(report: WhatIfReport) -> str:
    verb = "Activate" if report.action == "activate" else "Deactivate"
    return f"{verb} {report.expression}: what-if report"


def whatif_map_figure(report: WhatIfReport) -> Any:
    """The report's map: the region's cells **after** the switch, over a basemap.

    An activation shows what the region gets (share of time served, or the median RTT when
    every cell is always served); a deactivation shows the region dark and the cells around it
    that stay on, with the area their beams still light inside the region hatched.
    """
    cov = report.coverage
    cells = cov.cells
    frac = report.served_fraction_after
    rtt = cov.rtt_p50_ms if report.action == "activate" else np.full(len(cov), np.nan)
    if report.surroundings is not None:
        around = report.surroundings
        cells = np.concatenate([cells, around.cells])
        frac = np.concatenate([frac, around.served_fraction])
        rtt = np.concatenate([rtt, around.rtt_p50_ms])
    when = "after the activation" if report.action == "activate" else "after the switch-off"
    return coverage_map_figure(
        cells, map_quantity(frac, rtt), title=f"{_title(report)} ({when})",
        region_geometry=report.region.geometry, spill_geometry=report.spill.geometry,
        switched_off=report.switched_off if report.action == "activate" else (),
        gateways=report.gateways_used if report.action == "activate" else (),
        planned=report.planned_gateways,
    )  # fmt: skip


def write_whatif_report(
    report: WhatIfReport, out_dir: str | Path, *, overwrite: bool = False
) -> dict[str, Path]:
    """Write :data:`REPORT_FILES` into the directory ``out_dir``.

    The directory appears whole or not at all. An existing one is refused unless ``overwrite``
    (then it is replaced whole); see :func:`check_output_dir`.
    """
    out_dir = check_output_dir(out_dir, overwrite=overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        title = _title(report)
        save_png(whatif_map_figure(report), tmp / "map.png")
        images = {"map": "map.png"}
        cov = report.coverage
        series = {"landing where cheapest": cov.rtt_ms[cov.served]}
        if report.coverage_in_country is not None:
            cin = report.coverage_in_country
            series["landing in-country"] = cin.rtt_ms[cin.served]
        save_png(rtt_cdf_figure(series, title=f"RTT over {report.expression}"), tmp / "rtt.png")
        images["rtt"] = "rtt.png"
        sections = _sections(report, images)
        (tmp / "report.md").write_text(render_markdown(title, sections), encoding="utf-8")
        (tmp / "report.html").write_text(render_html(title, sections), encoding="utf-8")
        (tmp / "report.json").write_text(
            json.dumps(to_jsonable(report.to_dict()), indent=2, ensure_ascii=False),
            encoding="utf-8",
        )
        cov.to_geojson(
            tmp / "cells.geojson", extra={"served_fraction_after": report.served_fraction_after}
        )
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {n: out_dir / n for n in REPORT_FILES}
