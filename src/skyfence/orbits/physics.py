"""Constants and small orbital relations, vectorised.

Element sets are fitted with WGS72 (``mu = 398600.8 km³/s²``, ``R = 6378.135 km``,
``J2 = 0.001082616``); positions are reported on WGS84 (``a = 6378.137 km``,
``f = 1/298.257223563``).
"""

from __future__ import annotations

import numpy as np

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
WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563
WGS84_B_KM = WGS84_A_KM * (1.0 - WGS84_F)
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
EARTH_EQUATORIAL_RADIUS_KM = WGS84_A_KM
SPEED_OF_LIGHT_KM_S = 299_792.458

_TWO_THIRDS = 2.0 / 3.0


def _kozai_to_brouwer_factor(a1: np.ndarray, e: np.ndarray, inc_rad: np.ndarray) -> np.ndarray:
    """SGP4's un-Kozai step: the ratio between Brouwer and Kozai mean motion minus 1."""
    cosio = np.cos(inc_rad)
    theta2 = cosio * cosio
    x3thm1 = 3.0 * theta2 - 1.0
    beta0 = np.sqrt(1.0 - e * e)
    temp = 1.5 * J2_WGS72 * x3thm1 / (beta0 * beta0 * beta0)
    del1 = temp / (a1 * a1)
    a0 = a1 * (1.0 - del1 * (1.0 / 3.0 + del1 * (1.0 + 134.0 / 81.0 * del1)))
    del0 = temp / (a0 * a0)
    return del0


def semi_major_axis_km(
    mean_motion_rev_per_day: np.ndarray | float,
    eccentricity: np.ndarray | float = 0.0,
    inclination_deg: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Brouwer mean semi-major axis (km) from a TLE (Kozai) mean motion, as SGP4 computes it."""
    n_kozai = np.asarray(mean_motion_rev_per_day, dtype=float) * 2.0 * np.pi / 1440.0  # rad/min
    e = np.asarray(eccentricity, dtype=float)
    inc = np.radians(np.asarray(inclination_deg, dtype=float))
    xke = 60.0 / np.sqrt(R_WGS72_KM**3 / MU_WGS72_KM3_S2)
    a1 = (xke / n_kozai) ** _TWO_THIRDS
    del0 = _kozai_to_brouwer_factor(a1, e, inc)
    n_brouwer = n_kozai / (1.0 + del0)
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
