"""Explicit loaders of the regions package: Natural Earth shapefiles/zips and GeoJSON."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from skyfence.errors import NotFoundError, ParseError

__all__ = ["Feature", "read_features", "read_geojson_geometry", "describe_source"]


@dataclass(frozen=True)
class Feature:
    """One record of a boundary file: its attributes (upper-cased keys) and geometry."""

    properties: dict[str, Any]
    geometry: BaseGeometry


def _clean_geometry(geometry: BaseGeometry) -> BaseGeometry:
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
        polys = [
            g for g in shapely.get_parts(geometry) if g.geom_type in ("Polygon", "MultiPolygon")
        ]
        geometry = shapely.union_all(polys) if polys else geometry
    return geometry


def read_features(path: str | Path) -> list[Feature]:
    """Read a Natural Earth shapefile (``.shp`` or ``.zip``) or a GeoJSON FeatureCollection.

    Attribute names are upper-cased so ``iso_a2`` and ``ISO_A2`` read alike. Invalid
    polygons are repaired with ``shapely.make_valid``.
    """
    path = Path(path)
    if not path.exists():
        raise NotFoundError(
            f"boundary file {path} does not exist; pass a Natural Earth "
            ".shp/.zip or a GeoJSON FeatureCollection"
        )
    suffix = path.suffix.lower()
    if suffix in (".zip", ".shp"):
        return _read_shapefile(path)
    if suffix in (".geojson", ".json"):
        return _read_geojson_features(path)
    raise ParseError(
        f"unsupported boundary file type {suffix!r}; expected .shp, .zip (shapefile) or "
        ".geojson/.json (FeatureCollection)",
        source=str(path),
    )


def _read_shapefile(path: Path) -> list[Feature]:
    import shapefile

    try:
        reader = shapefile.Reader(str(path))
    except Exception as exc:  # pyshp raises its own ShapefileException and OSErrors
        raise ParseError(f"cannot read shapefile: {exc}", source=str(path)) from exc
    with reader:
        names = [f[0] for f in reader.fields[1:]]
        features = []
        for number, sr in enumerate(reader.iterShapeRecords(), start=1):
            props = {k.upper(): v for k, v in zip(names, list(sr.record), strict=True)}
            if sr.shape.shapeType == 0:  # null shape
                continue
            try:
                geometry = _shape_to_geometry(sr.shape)
            except Exception as exc:
                raise ParseError(f"record {number}: bad geometry: {exc}", source=str(path)) from exc
            features.append(Feature(props, _clean_geometry(geometry)))
    return features


def _shape_to_geometry(shape: Any) -> BaseGeometry:
    """A pyshp polygon shape as a shapely (Multi)Polygon, built with numpy.

    Shapefile polygons list rings; outer rings run clockwise, holes counter-clockwise. Each
    hole goes to the outer ring that contains it. Other shape types go through
    ``__geo_interface__``.
    """
    if shape.shapeType not in (5, 15, 25):  # POLYGON, POLYGONZ, POLYGONM
        return shapely.geometry.shape(shape.__geo_interface__)
    pts = np.asarray(shape.points, dtype=float)[:, :2]
    bounds = [*list(shape.parts), len(pts)]
    outers: list[np.ndarray] = []
    holes: list[np.ndarray] = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        ring = pts[a:b]
        if len(ring) < 4:
            continue
        x, y = ring[:, 0], ring[:, 1]
        signed = 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))
        (outers if signed <= 0 else holes).append(ring)
    if not outers:  # counter-clockwise only: treat every ring as an outer ring
        outers, holes = holes, []
    shells = [shapely.Polygon(r) for r in outers]
    assigned: list[list[np.ndarray]] = [[] for _ in outers]
    if len(outers) == 1:
        assigned[0] = holes
    elif holes:
        tree = shapely.STRtree(shells)
        for hole in holes:
            probe = shapely.Point(hole[0])
            hits = tree.query(probe, predicate="intersects")
            target = int(hits[0]) if len(hits) else 0
            if len(hits) > 1:  # the smallest shell containing the hole's first vertex
                target = int(min(hits, key=lambda h: shells[h].area))
            assigned[target].append(hole)
    polys = [shapely.Polygon(o, h) for o, h in zip(outers, assigned, strict=True)]
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"not valid GeoJSON: {exc}", source=str(path)) from exc


def _read_geojson_features(path: Path) -> list[Feature]:
    data = _load_json(path)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ParseError(
            "expected a GeoJSON FeatureCollection of country polygons", source=str(path)
        )
    features = []
    for number, feat in enumerate(data.get("features", []), start=1):
        if not isinstance(feat, dict) or feat.get("geometry") is None:
            continue
        try:
            geometry = shapely.geometry.shape(feat["geometry"])
        except Exception as exc:
            raise ParseError(f"feature {number}: bad geometry: {exc}", source=str(path)) from exc
        props = {str(k).upper(): v for k, v in (feat.get("properties") or {}).items()}
        features.append(Feature(props, _clean_geometry(geometry)))
    return features


def read_geojson_geometry(path: str | Path) -> BaseGeometry:
    """The union of the polygons of a GeoJSON file (FeatureCollection, Feature or geometry)."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"GeoJSON file {path} does not exist")
    data = _load_json(path)
    if not isinstance(data, dict) or "type" not in data:
        raise ParseError("expected a GeoJSON object with a 'type'", source=str(path))
    if data["type"] == "FeatureCollection":
        geoms = [f.get("geometry") for f in data.get("features", []) if isinstance(f, dict)]
    elif data["type"] == "Feature":
        geoms = [data.get("geometry")]
    else:
        geoms = [data]
    shapes = []
    for number, g in enumerate(geoms, start=1):
        if g is None:
            continue
        try:
            shapes.append(_clean_geometry(shapely.geometry.shape(g)))
        except Exception as exc:
            raise ParseError(f"geometry {number}: {exc}", source=str(path)) from exc
    polys = [p for s in shapes for p in shapely.get_parts(s) if shapely.get_dimensions(p) == 2]
    if not polys:
        raise ParseError("no Polygon or MultiPolygon in the file", source=str(path))
    return shapely.union_all(polys)


_NE_NAME = re.compile(r"ne_(\d+m)_admin_0_countries(?:_([a-z]{3}))?", re.IGNORECASE)


def describe_source(path: Path) -> str:
    """A worldview string for a Natural Earth file, from its name and VERSION.txt."""
    m = _NE_NAME.search(path.name)
    if not m:
        return path.name
    scale = {"10m": "1:10m", "50m": "1:50m", "110m": "1:110m"}.get(m.group(1).lower(), m.group(1))
    pov = (m.group(2) or "").upper()
    version = ""
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                for info in zf.namelist():
                    if info.upper().endswith("VERSION.TXT"):
                        version = zf.read(info).decode("ascii", "replace").strip()
        except (OSError, zipfile.BadZipFile):
            version = ""
    else:
        vfile = path.with_name(path.stem + ".VERSION.txt")
        if vfile.exists():
            version = vfile.read_text(encoding="ascii", errors="replace").strip()
    text = f"Natural Earth {scale} admin-0"
    text += f", point of view {pov}" if pov else " (default point of view)"
    if version:
        text += f" (v{version})"
    return text
