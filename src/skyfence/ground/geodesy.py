"""WGS84 geodesy, vectorised: geodetic ↔ Earth-fixed (ECEF), local up vectors, great circles.

Every function takes scalars or arrays and broadcasts; angles are degrees, lengths km unless the
name says otherwise (``altitude_m``).
"""

from __future__ import annotations

import numpy as np

from skyfence.orbits.frames import ecef_to_geodetic as _frames_ecef_to_geodetic
from skyfence.orbits.frames import geodetic_to_ecef
from skyfence.orbits.physics import WGS84_A_KM, WGS84_B_KM

__all__ = [
    "MEAN_EARTH_RADIUS_KM",
    "geodetic_to_ecef_km",
    "ecef_to_geodetic",
    "up_vectors",
    "great_circle_km",
]

#: IUGG mean Earth radius (2a + b) / 3, used for great-circle distances.
MEAN_EARTH_RADIUS_KM = (2.0 * WGS84_A_KM + WGS84_B_KM) / 3.0


def geodetic_to_ecef_km(
    latitude_deg: np.ndarray | float,
    longitude_deg: np.ndarray | float,
    altitude_km: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Earth-fixed Cartesian position (km) of geodetic WGS84 coordinates; shape ``(..., 3)``.

    The conversion of :func:`skyfence.orbits.frames.geodetic_to_ecef`.

    Examples
    --------
    >>> geodetic_to_ecef_km(0.0, 0.0).round(3).tolist()
    [6378.137, 0.0, 0.0]
    """
    return geodetic_to_ecef(latitude_deg, longitude_deg, altitude_km)


def ecef_to_geodetic(xyz_km: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Geodetic ``(latitude_deg, longitude_deg, altitude_km)`` of Earth-fixed positions ``(..., 3)``.

    The conversion of :func:`skyfence.orbits.frames.ecef_to_geodetic` (µm-accurate in LEO),
    in float64. NaN positions give NaN coordinates.
    """
    return _frames_ecef_to_geodetic(np.asarray(xyz_km, dtype=np.float64))


def up_vectors(latitude_deg: np.ndarray | float, longitude_deg: np.ndarray | float) -> np.ndarray:
    """Unit normal to the WGS84 ellipsoid (geodetic zenith) at the given coordinates, ``(..., 3)``."""
    lat = np.radians(np.asarray(latitude_deg, dtype=np.float64))
    lon = np.radians(np.asarray(longitude_deg, dtype=np.float64))
    return np.stack(
        np.broadcast_arrays(np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)),
        axis=-1,
    )


def great_circle_km(
    lat1_deg: np.ndarray | float,
    lon1_deg: np.ndarray | float,
    lat2_deg: np.ndarray | float,
    lon2_deg: np.ndarray | float,
) -> np.ndarray:
    """Great-circle distance (km) on a sphere of :data:`MEAN_EARTH_RADIUS_KM` (haversine).

    Examples
    --------
    >>> round(float(great_circle_km(0, 0, 0, 90)), 1)
    10007.6
    """
    p1 = np.radians(np.asarray(lat1_deg, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2_deg, dtype=np.float64))
    dl = np.radians(np.asarray(lon2_deg, dtype=np.float64) - np.asarray(lon1_deg, dtype=np.float64))
    a = np.sin((p2 - p1) / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return 2.0 * MEAN_EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
