"""Constants and small orbital relations, vectorised.

Element sets are fitted with WGS72 (``mu = 398600.8 km³/s²``, ``R = 6378.135 km``,
``J2 = 0.001082616``); positions are reported on WGS84 (``a = 6378.137 km``,
``f = 1/298.257223563``).
"""

from __future__ import annotations

import numpy as np

from skyfence.geodesy import SPEED_OF_LIGHT_KM_S, WGS84_A_KM, WGS84_B_KM, WGS84_E2, WGS84_F

__all__ = [
    "MU_WGS72_KM3_S2",
    "R_WGS72_KM",
    "J2_WGS72",
    "EARTH_EQUATORIAL_RADIUS_KM",
    "WGS84_A_KM",
    "WGS84_F",
    "WGS84_B_KM",
    "WGS84_E2",
    "SPEED_OF_LIGHT_KM_S",
    "semi_major_axis_km",
    "mean_motion_rev_per_day",
]

MU_WGS72_KM3_S2 = 398600.8
R_WGS72_KM = 6378.135
J2_WGS72 = 0.001082616
EARTH_EQUATORIAL_RADIUS_KM = WGS84_A_KM

_TWO_THIRDS = 2.0 / 3.0


def semi_major_axis_km(
    mean_motion_rev_per_day: np.ndarray | float,
    eccentricity: np.ndarray | float = 0.0,
    inclination_deg: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Brouwer mean semi-major axis (km) from a TLE (Kozai) mean motion, exactly as SGP4 does.

    SGP4's ``initl`` un-Kozais the mean motion with ``d1 = 0.75 J2 (3 cos²i - 1) / (1 - e²)^1.5``
    (WGS72 constants) and reports ``a = (xke / n'')^(2/3)`` earth radii; the tests compare this
    with ``Satrec.a`` to 1e-12.
    """
    n_kozai = np.asarray(mean_motion_rev_per_day, dtype=float) * (2.0 * np.pi / 1440.0)  # rad/min
    e = np.asarray(eccentricity, dtype=float)
    cosio = np.cos(np.radians(np.asarray(inclination_deg, dtype=float)))
    xke = 60.0 / np.sqrt(R_WGS72_KM**3 / MU_WGS72_KM3_S2)
    omeosq = 1.0 - e * e
    d1 = 0.75 * J2_WGS72 * (3.0 * cosio * cosio - 1.0) / (np.sqrt(omeosq) * omeosq)
    ak = (xke / n_kozai) ** _TWO_THIRDS
    delta = d1 / (ak * ak)
    adel = ak * (1.0 - delta * delta - delta * (1.0 / 3.0 + 134.0 * delta * delta / 81.0))
    delta = d1 / (adel * adel)
    n_brouwer = n_kozai / (1.0 + delta)
    return (xke / n_brouwer) ** _TWO_THIRDS * R_WGS72_KM


def mean_motion_rev_per_day(
    a_km: np.ndarray | float,
    eccentricity: np.ndarray | float = 0.0,
    inclination_deg: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Inverse of :func:`semi_major_axis_km`: the Kozai mean motion giving Brouwer axis ``a_km``.

    Solved by fixed-point iteration to better than 1e-12 relative.
    """
    a_target = np.asarray(a_km, dtype=float)
    xke = 60.0 / np.sqrt(R_WGS72_KM**3 / MU_WGS72_KM3_S2)
    n = xke / (a_target / R_WGS72_KM) ** 1.5 * 1440.0 / (2.0 * np.pi)  # first guess, rev/day
    for _ in range(50):
        a = semi_major_axis_km(n, eccentricity, inclination_deg)
        n_new = n * (a / a_target) ** 1.5
        if np.all(np.abs(n_new - n) <= 1e-14 * np.abs(n)):
            n = n_new
            break
        n = n_new
    return n
