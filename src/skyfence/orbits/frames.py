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

from skyfence.errors import InputError
from skyfence.orbits.physics import WGS84_A_KM, WGS84_B_KM, WGS84_E2

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
_EP2 = (WGS84_A_KM**2 - WGS84_B_KM**2) / WGS84_B_KM**2  # second eccentricity squared


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


def ecef_to_geodetic(
    positions_ecef_km: np.ndarray,
    out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WGS84 geodetic latitude (deg), longitude (deg, in [-180, 180)) and height (km).

    Parameters
    ----------
    positions_ecef_km : (..., 3) array
        Earth-fixed positions; NaN rows give NaN results.
    out : three C-contiguous arrays of shape (...), optional
        Where to write latitude, longitude and altitude.

    Returns
    -------
    latitude_deg, longitude_deg, altitude_km : (...) arrays of the input's float dtype
        (computed in float64).

    Examples
    --------
    >>> lat, lon, alt = ecef_to_geodetic(np.array([6378.137 + 550.0, 0.0, 0.0]))
    >>> float(lat), float(lon), round(float(alt), 9)
    (0.0, 0.0, 550.0)
    """
    r = np.asarray(positions_ecef_km)
    dtype = r.dtype if r.dtype.kind == "f" else np.dtype(np.float64)
    shape = r.shape[:-1]
    flat = r.reshape(-1, 3)
    if out is None:
        lat = np.empty(flat.shape[0], dtype=dtype)
        lon = np.empty(flat.shape[0], dtype=dtype)
        alt = np.empty(flat.shape[0], dtype=dtype)
    else:
        if any(o.shape != shape or not o.flags.c_contiguous for o in out):
            raise InputError(f"out must be three C-contiguous arrays of shape {shape}")
        lat, lon, alt = (o.reshape(-1) for o in out)
    # blocks small enough for the temporaries to stay in the CPU cache
    for a in range(0, flat.shape[0], _GEODETIC_BLOCK):
        b = min(flat.shape[0], a + _GEODETIC_BLOCK)
        _geodetic_block(flat[a:b], lat[a:b], lon[a:b], alt[a:b])
    if out is not None:
        return out
    return lat.reshape(shape), lon.reshape(shape), alt.reshape(shape)


_GEODETIC_BLOCK = 8192


def _geodetic_block(r: np.ndarray, lat: np.ndarray, lon: np.ndarray, alt: np.ndarray) -> None:
    """Bowring's method, one iteration from a height-aware start, angles as (cos, sin) pairs.

    Start: ``tan(phi0) = (z / p) · r / (r − e² a)`` (exact when the normal radius N equals a),
    so ``tan(beta0) = (b / a) tan(phi0)``. One Bowring step from there is accurate to
    ~2 µm from the surface to GEO (the tests check 1e-9 km by round trip).
    """
    a, b, e2 = WGS84_A_KM, WGS84_B_KM, WGS84_E2
    x = r[:, 0].astype(np.float64)
    y = r[:, 1].astype(np.float64)
    z = r[:, 2].astype(np.float64)
    np.degrees(np.arctan2(y, x), out=lon)
    if np.fmax.reduce(lon, initial=-np.inf) >= 180.0:  # fmax skips NaN rows
        lon[lon >= 180.0] -= 360.0
    x *= x
    y *= y
    x += y  # p²
    t = z * z
    t += x
    np.sqrt(t, out=t)  # t = r
    p = np.sqrt(x, out=x)  # x is reused as p
    sb = z * t
    sb *= b
    t -= e2 * a
    cb = p * t
    cb *= a
    # normalise (cb, sb) to (cos, sin) of the reduced latitude
    np.multiply(cb, cb, out=t)
    t += sb * sb
    np.sqrt(t, out=t)
    np.maximum(t, _TINY, out=t)
    np.divide(1.0, t, out=t)
    cb *= t
    sb *= t
    # Bowring: tan(phi) = (z + e'^2 b sin^3 beta) / (p - e^2 a cos^3 beta)
    num = sb * sb
    num *= sb
    num *= _EP2 * b
    num += z
    den = cb * cb
    den *= cb
    den *= -e2 * a
    den += p
    # den > 0 for every point more than e² a ≈ 43 km from the centre; arctan2 elsewhere
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.arctan(num / den)
    if not den.min(initial=np.inf) > 0.0:  # rare: points near the centre, or NaN rows
        inner = ~(den > 0.0)
        phi[inner] = np.arctan2(num[inner], den[inner])
    np.degrees(phi, out=lat)
    # cos and sin of phi
    np.multiply(num, num, out=t)
    t += den * den
    np.sqrt(t, out=t)
    np.maximum(t, _TINY, out=t)
    np.divide(1.0, t, out=t)
    num *= t  # sin phi
    den *= t  # cos phi
    n = num * num
    n *= -e2
    n += 1.0
    np.sqrt(n, out=n)
    np.divide(a, n, out=n)
    # h = p cos(phi) + (z + e2 N sin(phi)) sin(phi) - N
    p *= den
    np.multiply(n, e2, out=t)
    t *= num
    z += t
    z *= num
    p += z
    np.subtract(p, n, out=alt)


_TINY = 1e-300


def geodetic_to_ecef(
    latitude_deg: np.ndarray | float,
    longitude_deg: np.ndarray | float,
    altitude_km: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Earth-fixed position (km, last axis xyz) of a WGS84 geodetic point (exact formula).

    Examples
    --------
    >>> np.round(geodetic_to_ecef(90.0, 0.0, 0.0), 6).tolist()
    [0.0, 0.0, 6356.752314]
    """
    lat = np.radians(np.asarray(latitude_deg, dtype=np.float64))
    lon = np.radians(np.asarray(longitude_deg, dtype=np.float64))
    h = np.asarray(altitude_km, dtype=np.float64)
    sl = np.sin(lat)
    cl = np.cos(lat)
    n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * sl * sl)
    x = (n + h) * cl * np.cos(lon)
    y = (n + h) * cl * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * sl
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)
