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
    work = _GeodeticWorkspace(min(flat.shape[0], _GEODETIC_BLOCK))
    for a in range(0, flat.shape[0], _GEODETIC_BLOCK):
        b = min(flat.shape[0], a + _GEODETIC_BLOCK)
        x, y, z = work.xyz(b - a)
        np.copyto(x, flat[a:b, 0])
        np.copyto(y, flat[a:b, 1])
        np.copyto(z, flat[a:b, 2])
        work.geodetic(lat[a:b], lon[a:b], alt[a:b])
    if out is not None:
        return out
    return lat.reshape(shape), lon.reshape(shape), alt.reshape(shape)


_GEODETIC_BLOCK = 8192
# points per pass in ecef_to_geodetic; the workspace's eight float64 arrays (512 kB) stay in
# a 1 MB L2 cache. Measured on the 2-core EPYC (1 MB L2) with the workspace: 2k, 4k, 6k, 8k,
# 16k, 48k points -> 26, 22, 20, 19, 19, 18 ns per point (35, 28, 26, 25, 24, 24 with fresh
# numpy temporaries per call); beyond 8k the gain is small and leans on the shared L3.

_DEG = 180.0 / np.pi  # the factor np.degrees uses (a plain multiply is ~5x faster)
_TINY = 1e-300


class _GeodeticWorkspace:
    """Preallocated temporaries for the WGS84 geodetic conversion of up to ``size`` points.

    Fill the contiguous ``x, y, z`` arrays from :meth:`xyz` (Earth-fixed km, float64), then
    call :meth:`geodetic`; it overwrites ``x, y, z``. Reusing one workspace avoids numpy
    allocating (and the CPU cache losing) a dozen fresh temporaries per call.
    """

    def __init__(self, size: int) -> None:
        self.size = max(1, int(size))
        self._mem = np.empty((8, self.size), dtype=np.float64)
        self._n = -1
        self._views: tuple[np.ndarray, ...] = ()

    def arrays(self, n: int) -> tuple[np.ndarray, ...]:
        """All eight ``(n,)`` arrays: x, y, z, then five temporaries (free between calls)."""
        if n != self._n:
            if n > self.size:
                raise InputError(f"workspace holds {self.size} points, not {n}")
            self._views = tuple(row[:n] for row in self._mem)
            self._n = n
        return self._views

    def xyz(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The contiguous ``(n,)`` float64 input arrays x, y, z."""
        x, y, z = self.arrays(n)[:3]
        return x, y, z

    def geodetic(self, lat: np.ndarray, lon: np.ndarray, alt: np.ndarray) -> None:
        """Latitude/longitude (deg) and height (km) of the points in :meth:`xyz` into the
        ``(n,)`` arrays ``lat, lon, alt`` (any float dtype)."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            _geodetic(*self.arrays(len(lat)), lat, lon, alt)


def _geodetic(
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    t2: np.ndarray,
    t3: np.ndarray,
    t4: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    alt: np.ndarray,
) -> None:
    """Bowring's method, one iteration from a height-aware start; ``x, y`` are overwritten.

    Every step writes into a preallocated array (ufunc output as the third positional
    argument, which numpy parses faster than ``out=``).

    Start: ``tan(phi0) = (z / p) · r / (r − e² a)`` (exact when the normal radius N equals a),
    so ``tan(beta0) = (b / a) tan(phi0)``: the reduced latitude is the direction of
    ``(cb, sb) = (p (r − e² a), (b / a) z r)``, of length M. One Bowring step,
    ``tan(phi) = (z + e'² b sin³beta) / (p − e² a cos³beta)``, is taken with numerator and
    denominator both multiplied by M³ (``num``, ``den``), which saves normalising (cb, sb).
    The height follows exactly from phi: ``h = p cos(phi) + z sin(phi) − a w`` with
    ``w = sqrt(1 − e² sin²(phi))``, written homogeneously in (num, den) with
    ``L = |(num, den)|`` as ``h = (p den + z num − a sqrt(den² + (1 − e²) num²)) / L``.
    Accurate to ~2 µm from the surface to GEO (the tests check 1e-9 km by round trip).

    Points with ``den <= 0`` (within ~43 km of the centre of the Earth, degenerate ones, NaN
    rows) are redone by :func:`_geodetic_careful`. Runs under ``np.errstate`` (ignore).
    """
    a, b, e2 = WGS84_A_KM, WGS84_B_KM, WGS84_E2
    np.arctan2(y, x, t0)
    np.multiply(t0, _DEG, lon)
    if np.fmax.reduce(lon, initial=-np.inf) >= 180.0:  # fmax skips NaN rows
        lon[lon >= 180.0] -= 360.0
    np.multiply(x, x, x)
    np.multiply(y, y, y)
    np.add(x, y, x)  # x = p²
    np.multiply(z, z, y)
    np.add(y, x, y)
    np.sqrt(y, y)  # y = r
    np.sqrt(x, x)  # x = p
    np.multiply(z, y, t0)
    np.multiply(t0, b / a, t0)  # t0 = sb
    np.subtract(y, e2 * a, y)
    np.multiply(y, x, y)  # y = cb
    np.multiply(t0, t0, t1)  # sb²
    np.multiply(y, y, t2)  # cb²
    np.add(t1, t2, t3)  # M²
    np.sqrt(t3, t4)
    np.multiply(t4, t3, t4)  # t4 = M³
    np.multiply(t1, t0, t1)  # sb³
    np.multiply(t1, _EP2 * b, t1)
    np.multiply(z, t4, t3)
    np.add(t1, t3, t1)  # t1 = num
    np.multiply(t2, y, t2)  # cb³
    np.multiply(t2, -e2 * a, t2)
    np.multiply(x, t4, t3)
    np.add(t2, t3, t2)  # t2 = den
    np.divide(t1, t2, t0)
    np.arctan(t0, t0)
    np.multiply(t0, _DEG, lat)
    # height
    np.multiply(t1, t1, t0)  # num²
    np.multiply(t2, t2, t3)  # den²
    np.add(t0, t3, t4)
    np.sqrt(t4, t4)  # L
    np.multiply(t0, 1.0 - e2, t0)
    np.add(t0, t3, t0)
    np.sqrt(t0, t0)
    np.multiply(t0, a, t0)  # a w L
    np.multiply(x, t2, t3)
    np.multiply(z, t1, y)
    np.add(t3, y, t3)
    np.subtract(t3, t0, t3)
    np.divide(t3, t4, alt)
    # den > 0 for every point more than e² a ≈ 43 km from the centre
    if not t2.min(initial=np.inf) > 0.0:  # rare: points near the centre, or NaN rows
        inner = ~(t2 > 0.0)
        phi, h = _geodetic_careful(x[inner], z[inner])
        lat[inner] = np.degrees(phi)
        alt[inner] = h


def _geodetic_careful(p: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same Bowring step with every division guarded (for points near the centre)."""
    a, b, e2 = WGS84_A_KM, WGS84_B_KM, WGS84_E2
    r = np.sqrt(p * p + z * z)
    sb = z * r * b
    cb = p * (r - e2 * a) * a
    norm = np.maximum(np.sqrt(cb * cb + sb * sb), _TINY)
    sb /= norm
    cb /= norm
    num = z + _EP2 * b * sb**3
    den = p - e2 * a * cb**3
    phi = np.arctan2(num, den)
    norm = np.maximum(np.sqrt(num * num + den * den), _TINY)
    s = num / norm
    c = den / norm
    n = a / np.sqrt(1.0 - e2 * s * s)
    return phi, p * c + (z + e2 * n * s) * s - n


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
