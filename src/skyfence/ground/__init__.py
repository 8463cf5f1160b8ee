"""skyfence.ground: terminals, gateways and PoPs as typed tables; loaders; WGS84 geodesy;
a gateway planner.
"""

from skyfence.geodesy import (
    MEAN_EARTH_RADIUS_KM,
    ecef_to_geodetic,
    geodetic_to_ecef_km,
    great_circle_km,
    up_vectors,
)
from skyfence.ground.planner import fibonacci_lattice, plan_gateways, regions_country_of
from skyfence.ground.sites import (
    SITE_KINDS,
    GroundSites,
    Place,
    cities,
    default_pops,
    load_sites,
    load_sites_csv,
    load_sites_geojson,
    parse_place,
)

__all__ = [
    "MEAN_EARTH_RADIUS_KM",
    "SITE_KINDS",
    "GroundSites",
    "Place",
    "cities",
    "default_pops",
    "ecef_to_geodetic",
    "fibonacci_lattice",
    "geodetic_to_ecef_km",
    "great_circle_km",
    "load_sites",
    "load_sites_csv",
    "load_sites_geojson",
    "parse_place",
    "plan_gateways",
    "regions_country_of",
    "up_vectors",
]
