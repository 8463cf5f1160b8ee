"""Explicit loaders of the regions package: Natural Earth shapefiles/zips and GeoJSON."""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from skyfence.errors import NotFoundError, ParseError
from skyfence.regions._json import loads_bounded

__all__ = [
    "Feature",
    "read_features",
    "read_geojson_geometry",
    "geojson_geometry",
    "inline_geometry",
    "read_text_bounded",
    "describe_source",
    "MAX_GEOJSON_BYTES",
    "MAX_BOUNDARY_BYTES",
]


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


#: Largest GeoJSON file a region expression (``geojson:PATH``) reads, in bytes.
MAX_GEOJSON_BYTES = 64 * 1024 * 1024
#: Largest boundary file (a worldview's GeoJSON FeatureCollection) read, in bytes.
MAX_BOUNDARY_BYTES = 512 * 1024 * 1024
#: Deepest nesting of lists and objects read from GeoJSON (a MultiPolygon needs 7).
MAX_GEOJSON_DEPTH = 32


def read_text_bounded(path: Path, max_bytes: int, what: str) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes`` bytes.

    Devices, pipes and directories are refused (``/dev/zero`` would never end), and so are
    larger files; only :class:`~skyfence.errors.SkyfenceError` is raised.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise NotFoundError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise ParseError(f"cannot read {what}: {exc.strerror}", source=str(path)) from None
    except ValueError:  # a NUL byte or a lone surrogate in the path
        raise ParseError(f"{what} path {str(path)!r} is not a valid file name") from None
    if not stat.S_ISREG(info.st_mode):
        raise ParseError(
            f"{what} must be a regular file, not a device, pipe or directory", source=str(path)
        )
    if info.st_size > max_bytes:
        raise ParseError(
            f"{what} has {info.st_size:,} bytes; at most {max_bytes:,} are read "
            "(simplify the geometry, e.g. with mapshaper or ogr2ogr -simplify)",
            source=str(path),
        )
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ParseError(f"cannot read {what}: {exc.strerror}", source=str(path)) from None
    if len(data) > max_bytes:
        raise ParseError(f"{what} grew beyond {max_bytes:,} bytes while read", source=str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{what} is not UTF-8 text (byte {exc.start})", source=str(path)) from None


def _load_json(path: Path, max_bytes: int | None = None) -> Any:
    limit = MAX_GEOJSON_BYTES if max_bytes is None else max_bytes
    text = read_text_bounded(path, limit, "GeoJSON file")
    return loads_bounded(text, source=str(path), max_depth=MAX_GEOJSON_DEPTH, what="GeoJSON")


def _geometry(obj: Any, number: int, source: str) -> BaseGeometry:
    """A shapely geometry from a GeoJSON geometry object, checked (finite lon/lat degrees)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise ParseError(f"geometry {number}: expected a GeoJSON geometry object", source=source)
    try:
        geometry = shapely.geometry.shape(obj)
    except Exception as exc:  # shapely raises many kinds on malformed coordinates
        raise ParseError(
            f"geometry {number}: {' '.join(str(exc).split())}", source=source
        ) from None
    coords = shapely.get_coordinates(geometry)
    if coords.size and not np.isfinite(coords).all():
        raise ParseError(f"geometry {number}: coordinates must be finite numbers", source=source)
    if coords.size and (np.abs(coords[:, 0]).max() > 180.0 or np.abs(coords[:, 1]).max() > 90.0):
        raise ParseError(
            f"geometry {number}: coordinates must be longitude, latitude in degrees "
            "(|lon| <= 180, |lat| <= 90; GeoJSON is WGS84, RFC 7946)",
            source=source,
        )
    try:
        return _clean_geometry(geometry)
    except shapely.errors.GEOSException as exc:
        raise ParseError(f"geometry {number}: {exc}", source=source) from None


def _read_geojson_features(path: Path) -> list[Feature]:
    data = _load_json(path, MAX_BOUNDARY_BYTES)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ParseError(
            "expected a GeoJSON FeatureCollection of country polygons", source=str(path)
        )
    raw_features = data.get("features", [])
    if not isinstance(raw_features, list):
        raise ParseError("'features' must be a list of GeoJSON features", source=str(path))
    features = []
    for number, feat in enumerate(raw_features, start=1):
        if not isinstance(feat, dict) or feat.get("geometry") is None:
            continue
        geometry = _geometry(feat["geometry"], number, str(path))
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            raise ParseError(f"feature {number}: 'properties' must be an object", source=str(path))
        features.append(Feature({str(k).upper(): v for k, v in props.items()}, geometry))
    return features


def read_geojson_geometry(path: str | Path) -> BaseGeometry:
    """The union of the polygons of a GeoJSON file (FeatureCollection, Feature or geometry).

    The file must be a regular file of at most :data:`MAX_GEOJSON_BYTES` bytes, nested at
    most :data:`MAX_GEOJSON_DEPTH` deep, with finite longitude/latitude coordinates.
    """
    path = Path(path)
    data = _load_json(path)
    return geojson_geometry(data, source=str(path))


def inline_geometry(data: Any, *, source: str = "<GeoJSON>") -> BaseGeometry:
    """A (Multi)Polygon from one GeoJSON geometry object, as kept inside a sealed policy.

    Checked like a file's geometry (finite lon/lat degrees; repaired only if invalid) but
    not united or reordered, so ``shapely.geometry.mapping`` of a valid polygon reads back
    vertex for vertex.
    """
    geometry = _geometry(data, 1, source)
    if shapely.get_dimensions(geometry) != 2:
        raise ParseError("expected a GeoJSON Polygon or MultiPolygon", source=source)
    return geometry


def geojson_geometry(data: Any, *, source: str = "<GeoJSON>") -> BaseGeometry:
    """The union of the polygons of parsed GeoJSON (FeatureCollection, Feature or geometry)."""
    if not isinstance(data, dict) or "type" not in data:
        raise ParseError("expected a GeoJSON object with a 'type'", source=source)
    if data["type"] == "FeatureCollection":
        features = data.get("features", [])
        if not isinstance(features, list):
            raise ParseError("'features' must be a list of GeoJSON features", source=source)
        geoms = [f.get("geometry") for f in features if isinstance(f, dict)]
    elif data["type"] == "Feature":
        geoms = [data.get("geometry")]
    else:
        geoms = [data]
    shapes = [_geometry(g, number, source) for number, g in enumerate(geoms, 1) if g is not None]
    polys = [p for s in shapes for p in shapely.get_parts(s) if shapely.get_dimensions(p) == 2]
    if not polys:
        raise ParseError("no Polygon or MultiPolygon in the file", source=source)
    try:
        return shapely.union_all(polys)
    except shapely.errors.GEOSException as exc:
        raise ParseError(f"cannot unite the polygons: {exc}", source=source) from None


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
