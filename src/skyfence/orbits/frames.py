"""Reference frames: TEME → Earth-fixed (ECEF) through GMST, and WGS84 geodetic coordinates.

What is modelled
----------------
SGP4 returns positions in **TEME** (true equator, mean equinox of date). Following Vallado et
al. (2006, "Revisiting Spacetrack Report #3", AIAA 2006-6753), TEME is turned into the
pseudo-Earth-fixed frame (PEF) by one rotation about the z axis through the Greenwich Mean
Sidereal Time (IAU 1982 expression, as ``sgp4`` itself uses). skyfence calls the result
"Earth-fixed" (ECEF) and treats it as ITRF.

What is not modelled, and the size of the error at a 550 km orbit (|r| ≈ 6,930 km):

* **UT1 − UTC** is taken as 0 (times are UTC). The Earth turns 7.29e-5 rad/s, so each 0.1 s
  of UT1 − UTC moves a satellite ≈ 50 m along the equator; |UT1 − UTC| stays below 0.9 s by
  definition (≤ 460 m), and was below 0.1 s throughout 2024–2026 (≤ 50 m).
* **Polar motion** (PEF → ITRF, ≈ 0.3″ ≈ 10 m at LEO radius) is ignored.
* The equation of the equinoxes is *not* an error here: TEME is defined against the mean
  equinox, so GMST (not GAST) is the right angle for TEME → PEF. Frames that go
  TEME → GCRS → ITRS with a modern nutation model (e.g. skyfield) differ from TEME-by-GMST by
  the difference between nutation theories, a few metres.

These are far below the error of SGP4 itself (≈ 1 km at epoch, growing 1–3 km per day).

Geodetic latitude, longitude and height are on the WGS84 ellipsoid, computed with one step
of Bowring's (1976) method from a height-aware starting latitude, which is accurate to a few
micrometres for any point between the surface and GEO (checked in the tests by round trip
against the exact forward formula and against skyfield).
"""

from __future__ import annotations

import numpy as np

from skyfence.geodesy import (  # re-exported: the geodetic conversion lives in skyfence.geodesy
    ecef_to_geodetic,
    geodetic_to_ecef,
)

__all__ = [
    "EARTH_ROTATION_RAD_S",
    "gmst_rad",
    "teme_to_ecef",
    "ecef_to_geodetic",
    "geodetic_to_ecef",
]

EARTH_ROTATION_RAD_S = 7.292115146706979e-5
"""Earth's rotation rate (rad/s) as used by Vallado's TEME → PEF velocity transformation."""

_TWO_PI = 2.0 * np.pi


def gmst_rad(jd: np.ndarray | float, fr: np.ndarray | float = 0.0) -> np.ndarray:
    """Greenwich Mean Sidereal Time (IAU 1982), radians in [0, 2π).

    Parameters
    ----------
    jd, fr : array_like
        Julian date split into a whole part and a fraction (UT1; skyfence passes UTC), as
        returned by :func:`skyfence.timeutil.to_jd_pair`.

    Examples
    --------
    Vallado, *Fundamentals of Astrodynamics*, example 3-5 (1992-08-20 12:14 UT1):

    >>> round(float(np.degrees(gmst_rad(2448855.0, 0.009722222222222))), 6)
    152.578788
    """
    jd = np.asarray(jd, dtype=np.float64)
    fr = np.asarray(fr, dtype=np.float64)
    tut1 = ((jd - 2451545.0) + fr) / 36525.0
    seconds = (
        -6.2e-6 * tut1 * tut1 * tut1
        + 0.093104 * tut1 * tut1
        + (876600.0 * 3600.0 + 8640184.812866) * tut1
        + 67310.54841
    )
    return np.mod(np.radians(seconds / 240.0), _TWO_PI)


def teme_to_ecef(
    positions_teme_km: np.ndarray,
    gmst: np.ndarray,
    velocities_teme_km_s: np.ndarray | None = None,
    *,
    out: np.ndarray | None = None,
    out_velocities: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Rotate TEME vectors into the Earth-fixed frame through GMST.

    Parameters
    ----------
    positions_teme_km : (..., T, 3) array
        Positions; the second-to-last axis is time and matches ``gmst``.
    gmst : (T,) array
        GMST in radians (:func:`gmst_rad`).
    velocities_teme_km_s : (..., T, 3) array, optional
        Velocities; the Earth-fixed velocity includes the ``-ω × r`` term.
    out, out_velocities : arrays, optional
        Where to write the results (may be the inputs themselves).

    Returns
    -------
    positions_ecef_km, velocities_ecef_km_s (None when no velocities were given)

    Examples
    --------
    >>> r, _ = teme_to_ecef(np.array([[7000.0, 0.0, 0.0]]), np.array([np.pi / 2]))
    >>> np.round(r, 9).tolist()
    [[0.0, -7000.0, 0.0]]
    """
    r = np.asarray(positions_teme_km)
    gmst = np.asarray(gmst, dtype=np.float64)
    c = np.cos(gmst).astype(r.dtype, copy=False)
    s = np.sin(gmst).astype(r.dtype, copy=False)
    x = r[..., 0].copy()
    y = r[..., 1]
    if out is None:
        out = np.empty_like(r)
    # x' = c x + s y ; y' = -s x + c y ; z' = z
    np.multiply(x, c, out=out[..., 0])
    out[..., 0] += s * y
    yy = c * y
    yy -= s * x
    out[..., 1] = yy
    if out is not r:
        out[..., 2] = r[..., 2]
    vel = None
    if velocities_teme_km_s is not None:
        v = np.asarray(velocities_teme_km_s)
        vx = v[..., 0].copy()
        vy = v[..., 1]
        vel = np.empty_like(v) if out_velocities is None else out_velocities
        w = EARTH_ROTATION_RAD_S
        # rotate, then subtract omega x r_ecef = (-w y', w x', 0)
        vel0 = c * vx + s * vy + w * out[..., 1]
        vel1 = -s * vx + c * vy - w * out[..., 0]
        vel[..., 0] = vel0
        vel[..., 1] = vel1
        if vel is not v:
            vel[..., 2] = v[..., 2]
    return out, vel
