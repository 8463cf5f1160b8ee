"""The :class:`Region`: a named area of the Earth's surface in lon/lat degrees."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import shapely
from numpy.typing import ArrayLike
from shapely.geometry.base import BaseGeometry

from skyfence.errors import InputError
from skyfence.regions import _geo
from skyfence.regions._buffer import buffer_km
from skyfence.regions._geos import PREPARED

__all__ = ["Region", "H3_RESOLUTIONS", "geometry_sha256"]

#: H3 resolutions :meth:`Region.cells` supports (res 5 ≈ the ~297 km² service cells).
H3_RESOLUTIONS = range(0, 10)


def geometry_sha256(geometry: BaseGeometry) -> str:
    """The SHA-256 (hex) of a geometry's canonical form: what a sealed policy records.

    The canonical form is the ISO WKB (little-endian, 2-D) of the geometry with every
    coordinate rounded to 1e-9 degree (about 0.1 mm) and then normalized by GEOS
    (``shapely.normalize``: rings start at their lowest vertex and run one way, parts are
    sorted), so the same point set drawn with the same vertices hashes the same whatever
    the vertex order or the ring each part starts from.

    Examples
    --------
    >>> a = shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 0)])
    >>> b = shapely.Polygon([(1, 1), (0, 0), (1, 0), (1, 1)])  # same triangle, other start
    >>> geometry_sha256(a) == geometry_sha256(b), len(geometry_sha256(a))
    (True, 64)
    """
    rounded = shapely.transform(geometry, lambda xy: np.round(xy, 9))
    canonical = shapely.normalize(rounded)
    wkb = shapely.to_wkb(canonical, output_dimension=2, byte_order=1, flavor="iso")
    return hashlib.sha256(wkb).hexdigest()


@dataclass(frozen=True, eq=False)
class Region:
    """A named area: a shapely geometry in longitude/latitude degrees (WGS84).

    Parameters
    ----------
    id : str
        Short identifier: the ISO code for countries (``"TW"``), the built-in name
        (``"crimea"``) or the expression text for derived regions (``"UA - crimea"``).
    name : str
        Human-readable name.
    geometry : shapely geometry
        (Multi)Polygon in lon/lat degrees, longitudes in [-180, 180]; parts that cross the
        antimeridian are split at ±180. A line geometry (e.g. ``crimea-coast``) is allowed:
        its area is 0 and it is mainly useful inside ``buffer(...)``.
    kind : str
        ``"country"``, ``"builtin"``, ``"geojson"``, ``"h3"`` or ``"expression"``.
    worldview : str
        The boundary data the region was taken from ("" for custom geometry).

    Examples
    --------
    >>> import shapely
    >>> r = Region("box", "A box", shapely.box(10, 10, 11, 11))
    >>> bool(r.contains(10.5, 10.5)[0]), round(r.area_km2)
    (True, 12108)
    """

    id: str
    name: str
    geometry: BaseGeometry
    kind: str = "custom"
    worldview: str = ""
    attributes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.geometry, BaseGeometry):
            raise InputError(
                f"region {self.id!r}: geometry must be a shapely geometry, "
                f"got {type(self.geometry).__name__}"
            )

    def __repr__(self) -> str:
        return f"Region(id={self.id!r}, name={self.name!r}, kind={self.kind!r})"

    @cached_property
    def sha256(self) -> str:
        """SHA-256 of the region's geometry in canonical form (see :func:`geometry_sha256`)."""
        return geometry_sha256(self.geometry)

    @cached_property
    def area_km2(self) -> float:
        """Geodesic area on the WGS84 ellipsoid in km² (0 for lines)."""
        return _geo.geodesic_area_km2(self.geometry)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)`` in degrees."""
        b = self.geometry.bounds
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))

    @cached_property
    def _prepared(self) -> BaseGeometry:
        shapely.prepare(self.geometry)
        return self.geometry

    def contains(self, lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
        """Whether each point lies in the region (points on its boundary count as inside).

        Parameters
        ----------
        lat, lon : array_like
            Latitudes and longitudes in degrees, broadcast together. Longitudes are wrapped
            into [-180, 180); NaN gives False.

        Returns
        -------
        numpy.ndarray of bool, the broadcast shape of ``lat`` and ``lon`` (at least 1-D).
        """
        lat_a, lon_a = np.broadcast_arrays(
            np.atleast_1d(np.asarray(lat, dtype=float)), np.atleast_1d(np.asarray(lon, dtype=float))
        )
        lon_w = wrap_lon(lon_a)
        with PREPARED:  # see skyfence.regions._geos
            inside = shapely.intersects_xy(self._prepared, lon_w, lat_a)
        return np.asarray(inside, dtype=bool)

    def cells(self, resolution: int = 5) -> np.ndarray:
        """H3 cells (``uint64``, sorted) covering the region at ``resolution``.

        The cells whose centre is inside, plus every cell whose hexagon touches the region's
        boundary; so any point inside the region lies in one of the returned cells.
        """
        return self._cells(int(resolution)).copy()

    def _cells(self, resolution: int) -> np.ndarray:
        cache = self.__dict__.setdefault("_cell_cache", {})
        if resolution not in cache:
            if resolution not in H3_RESOLUTIONS:
                raise InputError(
                    f"H3 resolution must be one of {H3_RESOLUTIONS.start}..{H3_RESOLUTIONS.stop - 1} "
                    f"for region covers, got {resolution}"
                )
            cache[resolution] = _geo.cover_cells(self.geometry, resolution)
        return cache[resolution]

    # -- set operations -------------------------------------------------------------------
    def union(self, other: Region) -> Region:
        """The area in either region (``A | B``)."""
        return self._combine(other, shapely.union, "|")

    def intersection(self, other: Region) -> Region:
        """The area in both regions (``A & B``)."""
        return self._combine(other, shapely.intersection, "&")

    def difference(self, other: Region) -> Region:
        """The area in this region but not in ``other`` (``A - B``)."""
        return self._combine(other, shapely.difference, "-")

    __or__ = union
    __and__ = intersection
    __sub__ = difference

    def buffer(self, distance_km: float) -> Region:
        """The area within ``distance_km`` of the region (geodesic to ~0.2 %, see docs)."""
        geometry = buffer_km(self.geometry, float(distance_km))
        text = f"buffer({self.id}, {distance_km:g}km)"
        return Region(text, text, geometry, kind="expression", worldview=self.worldview)

    def _combine(self, other: Region, op, symbol: str) -> Region:  # type: ignore[no-untyped-def]
        if not isinstance(other, Region):
            raise InputError(f"can only combine a Region with a Region, got {type(other).__name__}")
        try:
            geometry = shapely.make_valid(op(self.geometry, other.geometry))
        except shapely.errors.GEOSException as exc:
            raise InputError(
                f"cannot compute {self.id} {symbol} {other.id}: the geometry library failed "
                f"({exc}); check the regions' geometry (e.g. a self-intersecting GeoJSON)"
            ) from None
        text = f"({self.id} {symbol} {other.id})"
        worldview = self.worldview or other.worldview
        return Region(text, text, geometry, kind="expression", worldview=worldview)


def wrap_lon(lon: np.ndarray) -> np.ndarray:
    """Wrap longitudes into [-180, 180]; values already in range are returned unchanged."""
    lon = np.asarray(lon, dtype=float)
    out = np.where((lon >= -180.0) & (lon <= 180.0), lon, (lon + 180.0) % 360.0 - 180.0)
    return out
