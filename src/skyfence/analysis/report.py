"""Write what-if and coverage reports: Markdown, HTML, JSON and PNG maps and plots.

A report is written to a fresh directory that appears whole or not at all: the files go to a
temporary directory beside the target, which is renamed into place at the end.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h3
import numpy as np

from skyfence.errors import InputError
from skyfence.jsonable import to_jsonable

if TYPE_CHECKING:
    from skyfence.analysis.coverage import Coverage
    from skyfence.analysis.whatif import WhatIfReport

__all__ = ["write_whatif_report", "plot_coverage_map", "plot_rtt", "report_dirname"]


def report_dirname(action: str, expression: str, start_iso: str) -> str:
    """A file-system-safe directory name such as ``whatif-activate-TW-20260222T1200Z``."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in expression).strip("_")
    stamp = start_iso.replace("-", "").replace(":", "")[:13] + "Z"
    return f"whatif-{action}-{safe[:40] or 'region'}-{stamp}"


def _geoms_to_xy(geometry: Any) -> list[np.ndarray]:
    import shapely

    rings = []
    for part in shapely.get_parts(geometry):
        if part.geom_type == "Polygon":
            rings.append(np.asarray(part.exterior.coords))
            rings.extend(np.asarray(r.coords) for r in part.interiors)
        elif part.geom_type == "MultiPolygon":
            for p in part.geoms:
                rings.append(np.asarray(p.exterior.coords))
    return rings


def _polygon_patch(geometry: Any, **kwargs: Any) -> Any:
    """A matplotlib patch for a (multi)polygon, holes included."""
    import shapely
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    verts: list[Any] = []
    codes: list[int] = []
    for part in shapely.get_parts(geometry):
        if part.geom_type != "Polygon":
            continue
        for ring in (part.exterior, *part.interiors):
            xy = np.asarray(ring.coords)
            verts.extend(xy.tolist())
            codes.extend([MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY])
    if not verts:
        verts, codes = [[0.0, 0.0]], [MplPath.MOVETO]
    return PathPatch(MplPath(verts, codes), **kwargs)


def _draw_context(ax: Any, box: tuple[float, float, float, float]) -> None:
    """Grey outlines of the countries in view (the worldview in force)."""
    import shapely

    from skyfence.regions import world

    frame = shapely.box(*box)
    for region in world().countries:
        if region.geometry.intersects(frame):
            for ring in _geoms_to_xy(shapely.intersection(region.geometry, frame.buffer(1.0))):
                ax.plot(ring[:, 0], ring[:, 1], color="0.6", linewidth=0.5)


def _hexagons(cells: np.ndarray) -> list[np.ndarray]:
    out = []
    for c in cells:
        ring = np.asarray(h3.cell_to_boundary(h3.int_to_str(int(c))))[:, ::-1]
        if np.ptp(ring[:, 0]) > 180:  # crosses the antimeridian: draw it on the cell centre's side
            ring[:, 0] = np.where(ring[:, 0] < 0, ring[:, 0] + 360, ring[:, 0])
        out.append(ring)
    return out


def plot_coverage_map(
    path: Path,
    coverage: Coverage,
    *,
    region_geometry: Any = None,
    spill_geometry: Any = None,
    title: str = "",
    gateways: list[dict[str, Any]] | None = None,
    planned: list[dict[str, Any]] | None = None,
    value: str = "served_fraction",
) -> Path:
    """A PNG map of cells coloured by ``value`` with the region outline and spillover."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    values = getattr(coverage, value)
    fig, ax = plt.subplots(figsize=(8, 7), dpi=110)
    polys = PolyCollection(_hexagons(coverage.cells), array=np.asarray(values, dtype=float),
                           cmap="viridis", edgecolors="none", alpha=0.85)  # fmt: skip
    if value == "served_fraction":
        polys.set_clim(0, 1)
    ax.add_collection(polys)
    fig.colorbar(polys, ax=ax, shrink=0.7, label=value.replace("_", " "))
    lon = np.asarray(coverage.longitude_deg)
    lat = np.asarray(coverage.latitude_deg)
    pad = 1.0
    x0, x1 = float(lon.min()) - pad, float(lon.max()) + pad
    y0, y1 = float(lat.min()) - pad, float(lat.max()) + pad
    _draw_context(ax, (x0, y0, x1, y1))
    if spill_geometry is not None and not spill_geometry.is_empty:
        ax.add_patch(_polygon_patch(spill_geometry, facecolor="none", edgecolor="crimson",
                                    hatch="////", linewidth=0.6, label="spillover"))  # fmt: skip
    if region_geometry is not None:
        for ring in _geoms_to_xy(region_geometry):
            ax.plot(ring[:, 0], ring[:, 1], color="black", linewidth=0.8)
    for rows, marker, colour, label in (
        (gateways or [], "^", "darkorange", "gateway used"),
        (planned or [], "*", "magenta", "planned in-country gateway"),
    ):
        inside = [
            r for r in rows if x0 <= r["longitude_deg"] <= x1 and y0 <= r["latitude_deg"] <= y1
        ]
        if inside:
            ax.scatter([r["longitude_deg"] for r in inside], [r["latitude_deg"] for r in inside],
                       marker=marker, color=colour, s=70, edgecolors="black", label=label, zorder=5)  # fmt: skip
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1.0 / max(np.cos(np.radians((y0 + y1) / 2)), 0.2))
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.set_title(title, fontsize=10)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_rtt(path: Path, series: dict[str, np.ndarray], title: str = "") -> Path:
    """A PNG with the empirical CDF of each RTT sample set (ms)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label, samples in series.items():
        s = np.sort(np.asarray(samples, dtype=float)[np.isfinite(samples)])
        if len(s):
            ax.step(s, np.arange(1, len(s) + 1) / len(s), where="post", label=label)
    ax.set_xlabel("round-trip time (ms)")
    ax.set_ylabel("fraction of served cell-steps")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


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


def _sections(report: WhatIfReport, images: dict[str, str]) -> list[tuple[str, list[Any]]]:
    """The report as (heading, blocks); a block is a str paragraph, a table or an image."""
    d = report.to_dict()
    r = d["region"]
    verb = "activated" if report.action == "activate" else "switched off"
    lead = (
        f"What if the network were **{verb}** over **{report.expression}** "
        f"({r['name']}, {r['area_km2']:,.0f} km², countries: {', '.join(r['countries']) or 'none'})?"
    )
    setup = d["setup"]
    facts = [
        ["worldview", report.worldview],
        ["constellation", f"{setup['constellation']} ({setup['satellites']} satellites)"],
        ["gateways", f"{setup['gateways']} ({setup['gateway_count']} sites)"],
        ["PoPs", f"{setup['pops']} ({setup['pop_count']})"],
        [
            "window",
            f"{d['window']['start']}, {d['window']['duration_s'] / 60:g} min at {d['window']['step_s']:g} s ({d['window']['steps']} steps)",
        ],
        [
            "cells",
            f"H3 resolution {setup['resolution']}: {report.after['cells']} cells, {report.after['area_km2']:,.0f} km²",
        ],
        ["terminal elevation mask", f"{setup['terminal_min_elevation_deg']:g}°"],
    ]
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
    landing = (
        f"**Traffic lands abroad**: {report.lands_abroad_share:.1%} of served cell-steps leave the "
        f"network through gateways outside {', '.join(report.region_countries) or 'the region'}."
        if report.lands_abroad
        else "All traffic lands at gateways inside the region's countries."
    )
    sections.append(("Where the traffic lands", [landing, gw, pop]))
    if report.in_country is not None:
        planned = [["planned gateway", "latitude", "longitude", "country"]] + [
            [p["id"], f"{p['latitude_deg']:.3f}", f"{p['longitude_deg']:.3f}", p["country"]]
            for p in report.planned_gateways
        ]
        text = (
            f"To land in-country the planner would add {len(report.planned_gateways)} gateway(s) "
            "(a planning model, not the operator's sites). With the landing constraint: "
            f"served {report.in_country['served_fraction']:.1%} of the time, RTT p50 "
            f"{_fmt(report.in_country['rtt_p50_ms'])} ms."
        )
        sections.append(("Landing in-country", [text, planned, images.get("rtt", "")]))
    sp = report.spill
    if report.action == "activate":
        sp_text = (
            f"Beams of {sp.footprint_km:g} km radius serving the region's cells also light "
            f"**{sp.area_km2:,.0f} km²** outside it ({len(sp.cells)} cells):"
        )
    else:
        sp_text = (
            f"Beams of {sp.footprint_km:g} km radius serving the active cells around the region "
            f"still light **{sp.area_km2:,.0f} km²** inside it ({len(sp.cells)} cells):"
        )
    spill_rows = [["region", "name", "area (km²)"]] + [
        [b["region"] or "—", b["name"], f"{b['area_km2']:,.0f}"] for b in sp.by_region[:15]
    ]
    sections.append(("Spillover across the border", [sp_text, spill_rows]))
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


def write_whatif_report(report: WhatIfReport, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.md``, ``report.html``, ``report.json``, ``cells.geojson``, ``map.png`` and
    ``rtt.png`` into the directory ``out_dir`` (created; an existing one is replaced whole)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} exists and is not a directory; choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        verb = "Activate" if report.action == "activate" else "Deactivate"
        title = f"{verb} {report.expression}: what-if report"
        plot_coverage_map(
            tmp / "map.png", report.coverage, region_geometry=report.region.geometry,
            spill_geometry=report.spill.geometry,
            title=f"{title}\nshare of time served; hatched: spillover",
            gateways=report.gateways_used, planned=report.planned_gateways,
        )  # fmt: skip
        images = {"map": "map.png"}
        series = {"landing where cheapest": report.coverage.rtt_ms[report.coverage.served]}
        if report.coverage_in_country is not None:
            cin = report.coverage_in_country
            series["landing in-country"] = cin.rtt_ms[cin.served]
        plot_rtt(tmp / "rtt.png", series, title=f"RTT over {report.expression}")
        images["rtt"] = "rtt.png"
        sections = _sections(report, images)
        (tmp / "report.md").write_text(render_markdown(title, sections), encoding="utf-8")
        (tmp / "report.html").write_text(render_html(title, sections), encoding="utf-8")
        (tmp / "report.json").write_text(
            json.dumps(to_jsonable(report.to_dict()), indent=2, ensure_ascii=False),
            encoding="utf-8",
        )
        report.coverage.to_geojson(tmp / "cells.geojson")
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    names = ["report.md", "report.html", "report.json", "cells.geojson", "map.png", "rtt.png"]
    return {n: out_dir / n for n in names}
