"""The inputs of calibration and validation: published per-country latency, and the places
that stand for each country's customers.

:func:`load_published` reads Starlink's per-country p50 with its ``worse20``/``better20``
percentiles (by ISO alpha-3 or alpha-2 code). :func:`representative_places` picks each
country's places from the customer table (GeoIP cities with the PoPs their subnets are homed
on); the rule is in :mod:`skyfence.app.calibration`'s docs.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import InputError, NotFoundError, ParseError

__all__ = [
    "MISPLACED_KM",
    "CountryPlace",
    "PublishedLatency",
    "load_published",
    "representative_places",
]

#: A GeoIP city farther than this outside its country's outline is taken as misplaced.
MISPLACED_KM = 100.0


@dataclass(frozen=True)
class PublishedLatency:
    """One country's published latency, ms: ``p20`` = the file's ``latency_ms_better20`` (the
    fast end), ``p80`` = ``latency_ms_worse20`` (the slow end)."""

    iso2: str
    iso3: str
    name: str
    p20_ms: float
    p50_ms: float
    p80_ms: float


def _iso(code: str, source: str, line: int) -> tuple[str, str, str]:
    import iso3166

    c = code.strip().upper()
    found = iso3166.countries_by_alpha3.get(c) or iso3166.countries_by_alpha2.get(c)
    if found is None:
        raise ParseError(
            f"{code!r} is not an ISO 3166-1 alpha-3 or alpha-2 country code (e.g. ALB, AL)",
            source=source,
            line=line,
        )
    return found.alpha2, found.alpha3, found.name


def load_published(path: str | Path) -> list[PublishedLatency]:
    """Read published per-country latency: columns ``iso3`` (or ``iso2``/``country``),
    ``latency_ms_p50`` and, optionally, ``latency_ms_worse20`` and ``latency_ms_better20``
    (Starlink's ``metrics_residential`` columns; a missing percentile is NaN).

    Errors name the file and line.
    """
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFoundError(f"--metrics {p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read --metrics {p}: {exc}") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    code_col = next((c for c in ("iso3", "iso2", "country") if c in header), None)
    if code_col is None or "latency_ms_p50" not in header:
        raise ParseError(
            f"expected columns iso3 (or iso2) and latency_ms_p50 (optionally latency_ms_worse20, "
            f"latency_ms_better20); the header has {', '.join(header) or 'nothing'}",
            source=p.name,
            line=1,
        )
    out: list[PublishedLatency] = []
    seen: dict[str, int] = {}
    for n, row in enumerate(reader, start=2):
        iso2, iso3, name = _iso(row.get(code_col) or "", p.name, n)
        if iso2 in seen:
            raise ParseError(
                f"{iso3} is listed twice (also line {seen[iso2]})", source=p.name, line=n
            )
        seen[iso2] = n

        def num(col: str, required: bool, r: dict[str, str] = row, line: int = n) -> float:
            raw = (r.get(col) or "").strip()
            if not raw and not required:
                return float("nan")
            try:
                v = float(raw)
            except ValueError:
                raise ParseError(
                    f"{col} {raw!r} is not a number", source=p.name, line=line
                ) from None
            if not (np.isfinite(v) and 0.0 < v < 10_000.0):
                raise ParseError(
                    f"{col} {v:g} is not a latency in ms (0..10000)", source=p.name, line=line
                )
            return v

        out.append(PublishedLatency(
            iso2, iso3, name, num("latency_ms_better20", False), num("latency_ms_p50", True),
            num("latency_ms_worse20", False),
        ))  # fmt: skip
    if not out:
        raise ParseError("no rows", source=p.name)
    return out


@dataclass(frozen=True)
class CountryPlace:
    """A place that stands for (part of) a country's customers.

    ``how``: ``geoip`` (a city of the customer table), ``moved`` (a GeoIP city placed outside
    its country, moved to the country's representative point, home PoP kept) or ``country``
    (the country's representative point: no city in the table).
    """

    iso2: str
    name: str
    latitude_deg: float
    longitude_deg: float
    pop: str
    weight: float
    how: str


def _subnets(pops_field: str) -> float:
    total = 0.0
    for part in (pops_field or "").split(";"):
        _, _, count = part.partition(":")
        try:
            total += float(count)
        except ValueError:
            continue
    return total if total > 0 else 1.0


def _homing(pop: str, pops_field: str) -> list[tuple[str, float]]:
    """``(PoP, subnets)`` a place's customers are homed on: every PoP of the ``pops`` field
    (``code:count;...``) with its count, or the ``pop`` column alone (weight: all subnets)
    when the field names no PoP with a positive count."""
    out: dict[str, float] = {}
    for part in (pops_field or "").split(";"):
        code, _, count = part.partition(":")
        code = code.strip().lower()
        try:
            n = float(count)
        except ValueError:
            continue
        if code and np.isfinite(n) and n > 0:
            out[code] = out.get(code, 0.0) + n
    if not out:
        return [(pop, _subnets(pops_field))]
    return sorted(out.items(), key=lambda kv: (kv[0] != pop, -kv[1]))


def representative_places(
    countries: Iterable[str], pop_map: str | Path | None, worldview: Any
) -> tuple[list[CountryPlace], dict[str, str]]:
    """Places for each country (ISO alpha-2) and the countries left out with the reason.

    See the module docs for the rule. ``worldview`` gives the outlines (``App.world``).
    """
    wanted = [c.upper() for c in countries]
    regions = {r.id.upper(): r for r in worldview.countries}
    rows: dict[str, list[dict[str, str]]] = {}
    if pop_map is not None:
        p = Path(pop_map).expanduser()
        try:
            table = list(csv.DictReader(p.read_text(encoding="utf-8-sig").splitlines()))
        except FileNotFoundError:
            raise NotFoundError(f"--pop-map {p}: no such file") from None
        if table and "country" not in table[0]:
            raise ParseError(
                "the customer table needs a country column (ISO alpha-2) to pick each "
                "country's places", source=p.name, line=1,
            )  # fmt: skip
        for r in table:
            rows.setdefault((r.get("country") or "").strip().upper(), []).append(r)
    places: list[CountryPlace] = []
    skipped: dict[str, str] = {}
    for code in wanted:
        region = regions.get(code)
        point = None
        if region is not None and not region.geometry.is_empty:
            rp = region.geometry.representative_point()
            point = (float(rp.y), float(rp.x))
        found = [r for r in rows.get(code, []) if (r.get("pop") or "").strip()]
        for r in found:
            try:
                lat, lon = float(r["latitude_deg"]), float(r["longitude_deg"])
            except (KeyError, TypeError, ValueError):
                raise ParseError(
                    f"a row of {code} has no numeric latitude_deg/longitude_deg",
                    source=str(pop_map),
                ) from None
            how = "geoip"
            if region is not None and point is not None:
                inside = bool(region.contains(np.array([lat]), np.array([lon]))[0])
                if not inside and _distance_outside_km(region.geometry, lat, lon) > MISPLACED_KM:
                    lat, lon, how = point[0], point[1], "moved"
            for pop, subnets in _homing(r["pop"].strip().lower(), r.get("pops") or ""):
                places.append(CountryPlace(
                    code, str(r.get("city") or code), lat, lon, pop, subnets, how,
                ))  # fmt: skip
        if found:
            continue
        if point is None or region is None:
            skipped[code] = "no city in the customer table and no outline in the worldview"
            continue
        places.append(CountryPlace(code, region.name, point[0], point[1], "", 1.0, "country"))
    return places, skipped


def _distance_outside_km(geometry: Any, lat: float, lon: float) -> float:
    import shapely
    import shapely.ops

    from skyfence.geodesy import great_circle_km

    near = shapely.ops.nearest_points(geometry, shapely.Point(lon, lat))[0]
    return float(great_circle_km(lat, lon, near.y, near.x))
