"""Regions: country boundaries with an explicit worldview, custom polygons, H3 cell sets,
buffers and set operations, and a :class:`RegionIndex` that maps points to regions fast.

>>> from skyfence.regions import world, parse_region
>>> w = world()
>>> w.region("TW").name
'Taiwan'
"""

from skyfence.regions._buffer import MAX_BUFFER_KM, buffer_km
from skyfence.regions._geo import center_cells, geodesic_area_km2
from skyfence.regions.expr import (
    EXPRESSION_HELP,
    RegionResolver,
    geojson_references,
    parse_region,
)
from skyfence.regions.index import RegionIndex
from skyfence.regions.region import H3_RESOLUTIONS, Region, geometry_sha256
from skyfence.regions.worldview import (
    BUILTIN_NAMES,
    CRIMEA_CUT,
    Worldview,
    builtin_path,
    load_worldview,
    world,
)

__all__ = [
    "buffer_km",
    "MAX_BUFFER_KM",
    "center_cells",
    "geodesic_area_km2",
    "Region",
    "RegionIndex",
    "Worldview",
    "world",
    "load_worldview",
    "parse_region",
    "RegionResolver",
    "geojson_references",
    "geometry_sha256",
    "builtin_path",
    "BUILTIN_NAMES",
    "CRIMEA_CUT",
    "EXPRESSION_HELP",
    "H3_RESOLUTIONS",
]
