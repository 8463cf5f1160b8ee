"""Walker constellations (i:T/P/F) as SGP4 element sets, with altitude and mean motion tied.

**Altitude** in skyfence means the *mean over one orbit of |r| − a_WGS84* (geocentric distance
minus the WGS84 equatorial radius, 6,378.137 km) of the SGP4-propagated satellite. This is
what a filing's "altitude" of a circular shell means to within the filing's own rounding,
and it is what :func:`mean_altitude_km` measures. The Kozai mean motion put in the elements
is solved for so that SGP4 really flies the satellite at that mean altitude (within 10 m):
the Brouwer mean semi-major axis differs from the orbit-mean radius by J2 short-period terms
of a few km, which is exactly the kind of mismatch skyfence refuses to leave in.

Satellites of a Walker shell share inclination and altitude. Plane ``p`` (0..P-1) has
``RAAN = raan_offset + p * spread / P``; slot ``s`` (0..T/P-1) in plane ``p`` has argument of
latitude ``u = s * 360 / (T/P) + p * F * 360 / T`` (Walker's phasing: adjacent planes are
offset by ``F * 360 / T`` degrees). Orbits are circular (e = 0) and drag-free (B* = 0), so a
Walker shell keeps its geometry for as long as SGP4 holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skyfence.errors import ConfigurationError
from skyfence.orbits.elements import ElementSet
from skyfence.orbits.physics import (
    EARTH_EQUATORIAL_RADIUS_KM,
)
from skyfence.orbits.physics import (
    mean_motion_rev_per_day as _kozai_mean_motion,
)
from skyfence.timeutil import parse_time, to_jd_pair

__all__ = [
    "ShellInfo",
    "walker_shell",
    "mean_altitude_km",
    "mean_motion_for_altitude",
    "DEFAULT_EPOCH",
    "MIN_ALTITUDE_KM",
    "FIRST_SYNTHETIC_NORAD_ID",
]

DEFAULT_EPOCH = np.datetime64("2026-02-22T00:00:00", "ns")
"""Epoch of generated shells unless one is given (the date of the shipped real snapshot)."""

MIN_ALTITUDE_KM = 150.0
"""Below this a satellite re-enters within days; SGP4 is not meant for it."""

FIRST_SYNTHETIC_NORAD_ID = 90000
"""Generated satellites are numbered from here (the catalogue's analyst-object range)."""

_SAMPLES_PER_ORBIT = 720


@dataclass(frozen=True)
class ShellInfo:
    """One shell of a constellation: filed (presets), generated (Walker) or found (clustering).

    Attributes
    ----------
    name : str
        Label, e.g. ``"550km-53.0deg"``.
    altitude_km : float
        Mean over one orbit of |r| − 6,378.137 km (see the module docs).
    inclination_deg : float
    planes : int
        Number of orbital planes (P).
    sats_per_plane : int
        Satellites per plane (T/P); for clustered shells the median occupancy.
    phasing : int
        Walker phasing factor F (0..P-1); -1 when unknown (clustered shells).
    raan_spread_deg : float
        360 for a Walker delta (planes all round), 180 for a Walker star.
    source : str
        Where the numbers come from (filing, paper, or the file they were clustered from).
    """

    name: str
    altitude_km: float
    inclination_deg: float
    planes: int
    sats_per_plane: int
    phasing: int = 1
    raan_spread_deg: float = 360.0
    source: str = ""

    @property
    def total(self) -> int:
        """Satellites in the shell (T = P × T/P)."""
        return self.planes * self.sats_per_plane

    def elements(
        self,
        epoch: np.datetime64 | str | None = None,
        *,
        first_norad_id: int = FIRST_SYNTHETIC_NORAD_ID,
    ) -> ElementSet:
        """Generate this shell's satellites with :func:`walker_shell`."""
        return walker_shell(
            self.inclination_deg,
            self.total,
            self.planes,
            self.phasing,
            self.altitude_km,
            raan_spread_deg=self.raan_spread_deg,
            epoch=epoch,
            name=self.name,
            first_norad_id=first_norad_id,
            source=self.source,
        )


def mean_altitude_km(
    mean_motion_rev_per_day: float,
    inclination_deg: float,
    eccentricity: float = 0.0,
    epoch: np.datetime64 | str | None = None,
) -> float:
    """Mean of |r| − 6,378.137 km over one orbit of a drag-free SGP4 satellite (km).

    Examples
    --------
    >>> round(mean_altitude_km(15.19, 53.0), 1)  # Hypatia's "550 km" Starlink mean motion
    508.7
    """
    from sgp4.api import WGS72, Satrec

    t0 = parse_time(epoch if epoch is not None else DEFAULT_EPOCH)
    jd0, fr0 = to_jd_pair(t0)
    sat = Satrec()
    xpdotp = 1440.0 / (2.0 * np.pi)
    sat.sgp4init(
        WGS72,
        "i",
        0,
        float(jd0 + fr0 - 2433281.5),
        0.0,
        0.0,
        0.0,
        float(eccentricity),
        0.0,
        np.radians(inclination_deg),
        0.0,
        mean_motion_rev_per_day / xpdotp,
        0.0,
    )
    period_days = 1.0 / mean_motion_rev_per_day
    fr = fr0 + np.arange(_SAMPLES_PER_ORBIT) * (period_days / _SAMPLES_PER_ORBIT)
    jd = np.full_like(fr, jd0)
    err, r, _ = sat.sgp4_array(jd, fr)
    if np.any(err):
        return float("nan")
    return float(np.mean(np.linalg.norm(r, axis=1)) - EARTH_EQUATORIAL_RADIUS_KM)


def mean_motion_for_altitude(
    altitude_km: float,
    inclination_deg: float,
    eccentricity: float = 0.0,
    epoch: np.datetime64 | str | None = None,
) -> float:
    """Kozai mean motion (rev/day) whose SGP4 orbit has mean |r| − 6,378.137 km = altitude.

    Starts from Brouwer ``a = R + altitude`` and corrects ``a`` by the measured difference
    until it is below 1 m (two or three rounds).

    Examples
    --------
    >>> n = mean_motion_for_altitude(550.0, 53.0)
    >>> abs(mean_altitude_km(n, 53.0) - 550.0) < 0.001
    True
    """
    _check_altitude(altitude_km)
    a = EARTH_EQUATORIAL_RADIUS_KM + altitude_km
    n = float(_kozai_mean_motion(a, eccentricity, inclination_deg))
    for _ in range(8):
        measured = mean_altitude_km(n, inclination_deg, eccentricity, epoch)
        if not np.isfinite(measured):
            break
        diff = altitude_km - measured
        if abs(diff) < 1e-4:
            break
        a += diff
        n = float(_kozai_mean_motion(a, eccentricity, inclination_deg))
    return n


def _check_altitude(altitude_km: float) -> None:
    if not np.isfinite(altitude_km) or altitude_km < MIN_ALTITUDE_KM:
        raise ConfigurationError(
            f"altitude {altitude_km} km is below {MIN_ALTITUDE_KM:.0f} km, where satellites "
            "re-enter within days; give the shell's altitude in km above the equatorial radius "
            "(e.g. 550)"
        )
    if altitude_km > 50_000:
        raise ConfigurationError(
            f"altitude {altitude_km} km is beyond GEO; give the altitude in km (not metres)"
        )


def walker_shell(
    inclination_deg: float,
    total: int,
    planes: int,
    phasing: int,
    altitude_km: float | None = None,
    *,
    mean_motion_rev_per_day: float | None = None,
    raan_spread_deg: float = 360.0,
    raan_offset_deg: float = 0.0,
    epoch: np.datetime64 | str | None = None,
    name: str | None = None,
    first_norad_id: int = FIRST_SYNTHETIC_NORAD_ID,
    source: str = "",
) -> ElementSet:
    """Generate a Walker shell i:T/P/F as circular SGP4 element sets.

    Parameters
    ----------
    inclination_deg : float
        Inclination i, 0–180°.
    total : int
        Satellites T; must be a multiple of ``planes``.
    planes : int
        Orbital planes P.
    phasing : int
        Walker phasing factor F, 0 ≤ F < P: adjacent planes are offset in argument of
        latitude by ``F * 360 / T`` degrees.
    altitude_km : float, optional
        Mean altitude (mean over one orbit of |r| − 6,378.137 km). Give this or
        ``mean_motion_rev_per_day``; if both are given they must agree within 1 km.
    mean_motion_rev_per_day : float, optional
        Kozai mean motion as in a TLE.
    raan_spread_deg : float
        360 (Walker delta) or 180 (Walker star); planes are ``spread / P`` apart.
    raan_offset_deg : float
        RAAN of plane 0.
    epoch : time, optional
        Element epoch (default :data:`DEFAULT_EPOCH`).
    name : str, optional
        Shell label (default ``"<alt>km-<inc>deg"``); satellites are named
        ``<name>-P<plane>-S<slot>``.
    first_norad_id : int
        Catalogue number of the first satellite; the rest follow in plane-major order.

    Returns
    -------
    ElementSet
        ``T`` satellites in plane-major order (plane 0 slots 0.., plane 1 ...), with the
        ``shell`` column set to ``name``.

    Raises
    ------
    ConfigurationError
        If T is not a multiple of P, F is out of range, the altitude is below 150 km, or
        altitude and mean motion are both given and disagree.

    Examples
    --------
    >>> shell = walker_shell(53.0, 1584, 72, 17, 550.0)
    >>> len(shell), round(float(shell.raan_deg[22]), 3)
    (1584, 5.0)
    """
    if not (0.0 <= inclination_deg <= 180.0):
        raise ConfigurationError(
            f"inclination {inclination_deg}° is outside 0–180°; give it in degrees"
        )
    if int(planes) != planes or planes < 1:
        raise ConfigurationError(f"planes must be a positive integer, got {planes}")
    if int(total) != total or total < 1:
        raise ConfigurationError(f"total must be a positive integer, got {total}")
    total, planes = int(total), int(planes)
    if total % planes:
        raise ConfigurationError(
            f"Walker shell i:T/P/F needs T divisible by P, but T={total} and P={planes}; "
            f"use e.g. T={planes * max(1, round(total / planes))}"
        )
    if int(phasing) != phasing or not (0 <= phasing < planes):
        raise ConfigurationError(
            f"Walker phasing F must be an integer with 0 <= F < P={planes}, got {phasing}"
        )
    if not (0.0 < raan_spread_deg <= 360.0):
        raise ConfigurationError(
            f"raan_spread_deg must be in (0, 360] (360 Walker delta, 180 Walker star), "
            f"got {raan_spread_deg}"
        )
    t0 = parse_time(epoch if epoch is not None else DEFAULT_EPOCH)
    if altitude_km is None and mean_motion_rev_per_day is None:
        raise ConfigurationError("give altitude_km or mean_motion_rev_per_day for the shell")
    if mean_motion_rev_per_day is not None:
        if not (np.isfinite(mean_motion_rev_per_day) and mean_motion_rev_per_day > 0):
            raise ConfigurationError(
                f"mean motion must be > 0 rev/day, got {mean_motion_rev_per_day}"
            )
        implied = mean_altitude_km(mean_motion_rev_per_day, inclination_deg, 0.0, t0)
        if not np.isfinite(implied):
            raise ConfigurationError(
                f"mean motion {mean_motion_rev_per_day} rev/day does not give an orbit SGP4 "
                "can propagate; typical LEO values are 14–16 rev/day"
            )
        if altitude_km is not None and abs(implied - altitude_km) > 1.0:
            raise ConfigurationError(
                f"altitude {altitude_km} km and mean motion {mean_motion_rev_per_day} rev/day "
                f"contradict each other: that mean motion flies at {implied:.1f} km "
                f"(mean |r| - 6378.137 km); give only one of them"
            )
        _check_altitude(implied)
        n = float(mean_motion_rev_per_day)
        altitude_km = implied
    else:
        assert altitude_km is not None
        n = mean_motion_for_altitude(float(altitude_km), inclination_deg, 0.0, t0)
    if name is None:
        name = f"{altitude_km:.0f}km-{inclination_deg:.1f}deg"

    per_plane = total // planes
    plane = np.repeat(np.arange(planes), per_plane)
    slot = np.tile(np.arange(per_plane), planes)
    raan = np.mod(raan_offset_deg + plane * (raan_spread_deg / planes), 360.0)
    u = np.mod(slot * (360.0 / per_plane) + plane * (phasing * 360.0 / total), 360.0)
    return ElementSet(
        names=np.array(
            [f"{name}-P{p:02d}-S{s:02d}" for p, s in zip(plane, slot, strict=True)], dtype=object
        ),
        norad_ids=first_norad_id + np.arange(total, dtype=np.int64),
        epochs=np.full(total, t0, dtype="datetime64[ns]"),
        inclination_deg=np.full(total, float(inclination_deg)),
        raan_deg=raan,
        eccentricity=np.zeros(total),
        arg_perigee_deg=np.zeros(total),
        mean_anomaly_deg=u,
        mean_motion_rev_per_day=np.full(total, n),
        shell=np.full(total, name, dtype=object),
        source=source or f"walker {inclination_deg}:{total}/{planes}/{phasing}",
    )
