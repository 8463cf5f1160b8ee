"""``GroundSites``: terminals, gateways and PoPs as one typed table, with loaders.

Columns are numpy arrays of equal length ``N``: ``id``, ``name``, ``kind`` (``terminal``,
``gateway`` or ``pop``), ``latitude_deg``, ``longitude_deg``, ``altitude_m``, ``country``
(ISO 3166-1 alpha-2 when known, ``""`` otherwise). ``ecef_km`` (N, 3) and ``up`` (N, 3, the
geodetic zenith) are derived on WGS84.

Loaders read CSV (columns as in the community gateway and PoP lists: ``latitude_deg`` and
``longitude_deg`` required; ``id``/``code``, ``name``/``city``, ``country``, ``altitude_m``
optional) and GeoJSON ``Point`` features. Built-in tables need no file: :func:`default_pops`
(public knowledge of Starlink PoP metro areas) and :func:`cities` (for ``--from PLACE``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np

from skyfence.errors import InputError, NotFoundError, ParseError
from skyfence.geodesy import geodetic_to_ecef_km, great_circle_km, up_vectors

__all__ = [
    "SiteKind",
    "SITE_KINDS",
    "GroundSites",
    "load_sites",
    "load_sites_csv",
    "load_sites_geojson",
    "default_pops",
    "cities",
    "Place",
    "parse_place",
]

SiteKind = Literal["terminal", "gateway", "pop"]
SITE_KINDS: tuple[str, ...] = ("terminal", "gateway", "pop")


def _check_kind(kind: str) -> str:
    if kind not in SITE_KINDS:
        raise InputError(f"site kind {kind!r} is not one of {', '.join(SITE_KINDS)}")
    return kind


@dataclass(frozen=True, eq=False)
class GroundSites:
    """A table of ``N`` ground sites.

    Attributes
    ----------
    id, name, kind, country : (N,) str
    latitude_deg, longitude_deg : (N,) float64, geodetic WGS84
    altitude_m : (N,) float64, above the ellipsoid
    inferred : (N,) bool
        Sites skyfence inferred (a gateway assumed where the list has none, see
        :mod:`skyfence.ground.inference`) rather than read from a list or planned; every output
        that names a gateway says which it is.

    Examples
    --------
    >>> s = GroundSites.from_arrays([47.6, -33.9], [-122.3, 151.2], kind="pop", name=["SEA", "SYD"])
    >>> len(s), s.ecef_km.shape
    (2, (2, 3))
    """

    id: np.ndarray
    name: np.ndarray
    kind: np.ndarray
    latitude_deg: np.ndarray
    longitude_deg: np.ndarray
    altitude_m: np.ndarray
    country: np.ndarray
    source: str = field(default="")
    inferred: np.ndarray = field(default=None)  # type: ignore[arg-type]  # None: all False

    def __post_init__(self) -> None:
        n = len(self.latitude_deg)
        inferred = np.zeros(n, bool) if self.inferred is None else np.asarray(self.inferred, bool)
        if inferred.ndim == 0:
            inferred = np.full(n, bool(inferred))
        if inferred.shape != (n,):
            raise InputError(
                f"GroundSites column 'inferred' has shape {inferred.shape}, latitude_deg has {n} "
                "rows; give one flag per site"
            )
        object.__setattr__(self, "inferred", inferred.copy())
        for name in ("id", "name", "kind", "longitude_deg", "altitude_m", "country"):
            if len(getattr(self, name)) != n:
                raise InputError(
                    f"GroundSites column {name!r} has {len(getattr(self, name))} rows, "
                    f"latitude_deg has {n}; give every column the same length"
                )
        lat = np.asarray(self.latitude_deg, dtype=np.float64)
        lon = np.asarray(self.longitude_deg, dtype=np.float64)
        if not (np.all(np.isfinite(lat)) and np.all(np.abs(lat) <= 90.0)):
            raise InputError("latitude_deg must be finite and within [-90, 90]")
        if not (np.all(np.isfinite(lon)) and np.all(np.abs(lon) <= 180.0)):
            raise InputError("longitude_deg must be finite and within [-180, 180]")
        bad = set(np.unique(np.asarray(self.kind, dtype=str)).tolist()) - set(SITE_KINDS)
        if bad:
            raise InputError(f"site kind {sorted(bad)[0]!r} is not one of {', '.join(SITE_KINDS)}")

    @classmethod
    def from_arrays(
        cls,
        latitude_deg: np.ndarray | list[float] | float,
        longitude_deg: np.ndarray | list[float] | float,
        *,
        kind: SiteKind | str = "terminal",
        altitude_m: np.ndarray | list[float] | float = 0.0,
        name: np.ndarray | list[str] | None = None,
        id: np.ndarray | list[str] | None = None,  # noqa: A002 - the column is called id
        country: np.ndarray | list[str] | str = "",
        source: str = "",
        inferred: np.ndarray | list[bool] | bool = False,
    ) -> GroundSites:
        """Build a table from coordinate arrays; other columns broadcast or default."""
        lat = np.atleast_1d(np.asarray(latitude_deg, dtype=np.float64))
        lon = np.atleast_1d(np.asarray(longitude_deg, dtype=np.float64))
        if lat.shape != lon.shape or lat.ndim != 1:
            raise InputError(
                f"latitude_deg {lat.shape} and longitude_deg {lon.shape} must be 1-D of equal length"
            )
        n = len(lat)
        _check_kind(str(kind))
        ids = np.asarray([f"{kind}-{i}" for i in range(n)] if id is None else id, dtype=object)
        names = ids.copy() if name is None else np.asarray(name, dtype=object)
        alt = np.broadcast_to(np.asarray(altitude_m, dtype=np.float64), (n,)).copy()
        ctry = np.broadcast_to(np.asarray(country, dtype=object), (n,)).copy()
        return cls(
            id=ids.astype(object),
            name=names.astype(object),
            kind=np.full(n, kind, dtype=object),
            latitude_deg=lat,
            longitude_deg=lon,
            altitude_m=alt,
            country=ctry.astype(object),
            source=source,
            inferred=np.asarray(inferred, dtype=bool),
        )

    @classmethod
    def empty(cls, kind: SiteKind | str = "terminal") -> GroundSites:
        """A table with no rows."""
        return cls.from_arrays(np.zeros(0), np.zeros(0), kind=kind)

    def __len__(self) -> int:
        return len(self.latitude_deg)

    @cached_property
    def ecef_km(self) -> np.ndarray:
        """(N, 3) Earth-fixed positions on WGS84, km."""
        return geodetic_to_ecef_km(self.latitude_deg, self.longitude_deg, self.altitude_m / 1000.0)

    @cached_property
    def up(self) -> np.ndarray:
        """(N, 3) unit geodetic zenith vectors."""
        return up_vectors(self.latitude_deg, self.longitude_deg)

    def subset(self, index: np.ndarray | slice | list[int]) -> GroundSites:
        """Rows selected by a boolean mask, integer indices or a slice."""
        return GroundSites(
            id=self.id[index],
            name=self.name[index],
            kind=self.kind[index],
            latitude_deg=self.latitude_deg[index],
            longitude_deg=self.longitude_deg[index],
            altitude_m=self.altitude_m[index],
            country=self.country[index],
            source=self.source,
            inferred=self.inferred[index],
        )

    def of_kind(self, kind: SiteKind | str) -> GroundSites:
        """The rows of one kind."""
        return self.subset(self.kind == _check_kind(str(kind)))

    def with_kind(self, kind: SiteKind | str) -> GroundSites:
        """The same rows re-labelled as ``kind``."""
        _check_kind(str(kind))
        return GroundSites(
            id=self.id, name=self.name, kind=np.full(len(self), kind, dtype=object),
            latitude_deg=self.latitude_deg, longitude_deg=self.longitude_deg,
            altitude_m=self.altitude_m, country=self.country, source=self.source,
            inferred=self.inferred,
        )  # fmt: skip

    def concat(self, other: GroundSites) -> GroundSites:
        """This table followed by ``other``."""
        return GroundSites(
            *(np.concatenate([getattr(self, c), getattr(other, c)]) for c in _COLUMNS),
            source=self.source or other.source,
            inferred=np.concatenate([self.inferred, other.inferred]),
        )

    def fill_countries(
        self, country_of: Callable[[np.ndarray, np.ndarray], np.ndarray]
    ) -> GroundSites:
        """A copy where every ``country`` that is not an ISO alpha-2 code (empty, or a name such as
        ``"Poland"``) is replaced by ``country_of(lat, lon)`` of the site."""
        cur = np.asarray(self.country, dtype=str)
        bad = np.flatnonzero(~np.char.isupper(cur) | (np.char.str_len(cur) != 2))
        if len(bad) == 0:
            return self
        new = np.asarray(self.country, dtype=object).copy()
        new[bad] = np.asarray(
            country_of(self.latitude_deg[bad], self.longitude_deg[bad]), dtype=object
        )
        return GroundSites(
            self.id, self.name, self.kind, self.latitude_deg, self.longitude_deg, self.altitude_m,
            new, source=self.source, inferred=self.inferred,
        )  # fmt: skip

    def index_of(self, key: str) -> int:
        """Row of the site whose id or name equals ``key`` (case-insensitive)."""
        k = key.strip().lower()
        for col in (self.id, self.name):
            hits = np.flatnonzero(np.char.lower(col.astype(str)) == k)
            if len(hits):
                return int(hits[0])
        raise NotFoundError(
            f"no site with id or name {key!r}; known: {', '.join(map(str, self.name[:12]))}"
            + (" ..." if len(self) > 12 else "")
        )

    def nearest(self, latitude_deg: np.ndarray, longitude_deg: np.ndarray) -> np.ndarray:
        """For each point, the row of the nearest site (great circle); ``-1`` if the table is empty."""
        lat = np.atleast_1d(np.asarray(latitude_deg, dtype=np.float64))
        lon = np.atleast_1d(np.asarray(longitude_deg, dtype=np.float64))
        if len(self) == 0:
            return np.full(lat.shape, -1, dtype=np.int64)
        from scipy.spatial import cKDTree

        tree = cKDTree(up_vectors(self.latitude_deg, self.longitude_deg))
        _, idx = tree.query(up_vectors(lat, lon))
        return np.asarray(idx, dtype=np.int64)

    def distance_km(self, latitude_deg: float, longitude_deg: float) -> np.ndarray:
        """(N,) great-circle distance from a point to every site."""
        return great_circle_km(latitude_deg, longitude_deg, self.latitude_deg, self.longitude_deg)

    def to_records(self) -> list[dict[str, object]]:
        """Rows as dictionaries (for JSON output), with ``inferred`` for each."""
        return [
            {
                c: (v.item() if isinstance(v, np.generic) else v)
                for c, v in zip((*_COLUMNS, "inferred"), row, strict=True)
            }
            for row in zip(*(getattr(self, c) for c in (*_COLUMNS, "inferred")), strict=True)
        ]


_COLUMNS = ("id", "name", "kind", "latitude_deg", "longitude_deg", "altitude_m", "country")

_LAT = ("latitude_deg", "latitude", "lat")
_LON = ("longitude_deg", "longitude", "lon", "lng")
_ID = ("id", "code")
_NAME = ("name", "city", "label", "code")


def _pick(header: list[str], choices: tuple[str, ...]) -> str | None:
    low = {h.strip().lower(): h for h in header}
    for c in choices:
        if c in low:
            return low[c]
    return None


def load_sites_csv(path: str | Path, kind: SiteKind | str = "gateway") -> GroundSites:
    """Read sites from a CSV file with a header row.

    Required columns: ``latitude_deg`` and ``longitude_deg`` (``lat``/``lon`` also accepted).
    Optional: ``id`` or ``code``; ``name``, ``city`` or ``label``; ``country``; ``altitude_m``;
    ``kind``. Errors name the file and line.
    """
    p = Path(path)
    _check_kind(str(kind))
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFoundError(f"site file {p} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot read site file {p}: {exc.strerror}") from None
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    lat_c, lon_c = _pick(header, _LAT), _pick(header, _LON)
    if lat_c is None or lon_c is None:
        missing = "latitude_deg" if lat_c is None else "longitude_deg"
        raise ParseError(
            f"missing column {missing!r}; the header has {', '.join(header) or 'nothing'} "
            "(expected e.g. name,country,latitude_deg,longitude_deg)",
            source=str(p),
            line=1,
        )
    id_c, name_c = _pick(header, _ID), _pick(header, _NAME)
    ctry_c, alt_c, kind_c = (
        _pick(header, ("country",)),
        _pick(header, ("altitude_m",)),
        _pick(header, ("kind",)),
    )
    rows: dict[str, list[object]] = {c: [] for c in _COLUMNS}
    for line_no, row in enumerate(reader, start=2):

        def num(col: str, lo: float, hi: float, line: int = line_no, r: dict = row) -> float:
            raw = (r.get(col) or "").strip()
            try:
                v = float(raw)
            except ValueError:
                raise ParseError(
                    f"{col} {raw!r} is not a number", source=str(p), line=line
                ) from None
            if not (np.isfinite(v) and lo <= v <= hi):
                raise ParseError(f"{col} {v} is outside [{lo:g}, {hi:g}]", source=str(p), line=line)
            return v

        lat = num(lat_c, -90.0, 90.0)
        lon = num(lon_c, -180.0, 180.0)
        alt = num(alt_c, -500.0, 10_000.0) if alt_c and (row.get(alt_c) or "").strip() else 0.0
        k = (row.get(kind_c) or "").strip() if kind_c else ""
        if k and k not in SITE_KINDS:
            raise ParseError(
                f"kind {k!r} is not one of {', '.join(SITE_KINDS)}", source=str(p), line=line_no
            )
        ident = (row.get(id_c) or "").strip() if id_c else ""
        name = (row.get(name_c) or "").strip() if name_c else ""
        rows["id"].append(ident or name or f"{kind}-{line_no - 1}")
        rows["name"].append(name or ident or f"{kind}-{line_no - 1}")
        rows["kind"].append(k or kind)
        rows["latitude_deg"].append(lat)
        rows["longitude_deg"].append(lon)
        rows["altitude_m"].append(alt)
        rows["country"].append((row.get(ctry_c) or "").strip() if ctry_c else "")
    return _from_rows(rows, source=p.name)


def _from_rows(rows: dict[str, list[object]], source: str) -> GroundSites:
    return GroundSites(
        id=np.asarray(rows["id"], dtype=object),
        name=np.asarray(rows["name"], dtype=object),
        kind=np.asarray(rows["kind"], dtype=object),
        latitude_deg=np.asarray(rows["latitude_deg"], dtype=np.float64),
        longitude_deg=np.asarray(rows["longitude_deg"], dtype=np.float64),
        altitude_m=np.asarray(rows["altitude_m"], dtype=np.float64),
        country=np.asarray(rows["country"], dtype=object),
        source=source,
    )


def load_sites_geojson(path: str | Path, kind: SiteKind | str = "gateway") -> GroundSites:
    """Read ``Point`` features of a GeoJSON FeatureCollection (``[lon, lat(, alt_m)]``).

    Properties ``id``/``code``, ``name``, ``country``, ``kind`` are used when present.
    """
    p = Path(path)
    _check_kind(str(kind))
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"site file {p} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc.msg}", source=str(p), line=exc.lineno) from None
    feats = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(feats, list):
        raise ParseError(
            "expected a GeoJSON FeatureCollection with a 'features' list", source=str(p)
        )
    rows: dict[str, list[object]] = {c: [] for c in _COLUMNS}
    for i, f in enumerate(feats):
        geom = (f or {}).get("geometry") or {}
        if geom.get("type") != "Point":
            raise ParseError(
                f"feature {i} has geometry {geom.get('type')!r}; only Point sites are read",
                source=str(p),
            )
        coords = geom.get("coordinates") or []
        try:
            lon, lat = float(coords[0]), float(coords[1])
            alt = float(coords[2]) if len(coords) > 2 else 0.0
        except (TypeError, ValueError, IndexError):
            raise ParseError(
                f"feature {i} coordinates {coords!r} are not [lon, lat]", source=str(p)
            ) from None
        if not (abs(lat) <= 90 and abs(lon) <= 180):
            raise ParseError(
                f"feature {i} coordinates {lon}, {lat} are out of range (lon, lat order)",
                source=str(p),
            )
        props = f.get("properties") or {}
        ident = str(props.get("id") or props.get("code") or props.get("name") or f"{kind}-{i}")
        k = str(props.get("kind") or kind)
        if k not in SITE_KINDS:
            raise ParseError(
                f"feature {i} kind {k!r} is not one of {', '.join(SITE_KINDS)}", source=str(p)
            )
        rows["id"].append(ident)
        rows["name"].append(str(props.get("name") or ident))
        rows["kind"].append(k)
        rows["latitude_deg"].append(lat)
        rows["longitude_deg"].append(lon)
        rows["altitude_m"].append(float(props.get("altitude_m", alt) or 0.0))
        rows["country"].append(str(props.get("country") or ""))
    return _from_rows(rows, source=p.name)


def load_sites(path: str | Path, kind: SiteKind | str = "gateway") -> GroundSites:
    """Read a ``.csv`` or ``.geojson``/``.json`` site file (chosen by extension)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".geojson", ".json"):
        return load_sites_geojson(path, kind)
    if suffix in (".csv", ".txt", ""):
        return load_sites_csv(path, kind)
    raise InputError(f"cannot tell the format of {path}: use a .csv or .geojson file")


def _builtin(name: str, kind: str) -> GroundSites:
    ref = resources.files("skyfence.ground") / "data" / name
    with resources.as_file(ref) as p:
        sites = load_sites_csv(p, kind)
    return GroundSites(*(getattr(sites, c) for c in _COLUMNS), source=f"skyfence built-in {name}")


def default_pops() -> GroundSites:
    """Built-in PoP metro areas (35 cities where Starlink PoPs are publicly known), kind ``pop``.

    Written from public knowledge (Starlink's GeoIP feed and reverse-DNS names of its PoPs);
    coordinates are city centres, not facility addresses.
    """
    return _builtin("pops.csv", "pop")


def cities() -> GroundSites:
    """Built-in table of ~100 cities (name, ISO2 country, centre coordinates), kind ``terminal``."""
    return _builtin("cities.csv", "terminal")


@dataclass(frozen=True)
class Place:
    """A named point: ``name``, ``latitude_deg``, ``longitude_deg``, ``country``."""

    name: str
    latitude_deg: float
    longitude_deg: float
    country: str = ""


def parse_place(text: str, table: GroundSites | None = None) -> Place:
    """A place from a built-in city name (``"Kyiv"``) or ``"lat,lon"`` (``"50.45,30.52"``).

    Examples
    --------
    >>> parse_place("50.45,30.52").latitude_deg
    50.45
    >>> parse_place("kyiv").country
    'UA'
    """
    raw = text.strip()
    parts = [s.strip() for s in raw.split(",")]
    if len(parts) == 2:
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except ValueError:
            pass
        else:
            if not (abs(lat) <= 90 and abs(lon) <= 180):
                raise InputError(
                    f"place {text!r}: latitude must be within ±90 and longitude within ±180"
                )
            return Place(f"{lat:.4f},{lon:.4f}", lat, lon, "")
    tbl = cities() if table is None else table
    key = raw.lower()
    names = np.char.lower(tbl.name.astype(str))
    hits = np.flatnonzero(names == key)
    if len(hits) == 0:
        import difflib

        close = difflib.get_close_matches(key, names.tolist(), n=4, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise NotFoundError(f"unknown place {text!r}: give a built-in city name or 'lat,lon'{hint}")
    i = int(hits[0])
    return Place(
        str(tbl.name[i]),
        float(tbl.latitude_deg[i]),
        float(tbl.longitude_deg[i]),
        str(tbl.country[i]),
    )
