"""Field checks shared by the TLE and OMM readers: numbers, value ranges, dates, SGP4-XP.

Both readers accept the same values: what a TLE's columns can hold, and no orbit inside the
Earth. So an OMM that is read can always be written as a TLE (bar the precision of the TLE
columns and NORAD ids above 339999), and a value no TLE could carry (``BSTAR 1e300``) is
refused from an OMM too.
"""

from __future__ import annotations

import re

import numpy as np

from skyfence.orbits.physics import EARTH_EQUATORIAL_RADIUS_KM, semi_major_axis_km

__all__ = [
    "NS_PER_DAY",
    "NUMBER_RE",
    "SGP4XP",
    "MAX_ABS_EXP_FIELD",
    "MAX_ABS_MEAN_MOTION_DOT",
    "MAX_MEAN_MOTION_REV_PER_DAY",
    "below_surface",
    "inside_earth_reason",
    "is_leap",
    "days_from_civil",
    "year_start_days",
]

NS_PER_DAY = 86_400 * 10**9

#: A decimal number as text: optional sign, ASCII digits with an optional point, optional
#: exponent. (``re``'s ``\d`` and Python's ``float()`` also take Arabic-Indic or full-width
#: digits; element sets are ASCII, so those are refused.)
NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$", re.ASCII)

MAX_ABS_EXP_FIELD = 1e9
"""|BSTAR| and |mean motion second derivative| must be below this: the TLE's assumed-decimal
fields hold at most 0.99999e9."""

MAX_ABS_MEAN_MOTION_DOT = 1.0
"""|mean motion first derivative / 2| must be below this (the TLE field is ``±.nnnnnnnn``)."""

MAX_MEAN_MOTION_REV_PER_DAY = 17.07
"""About the mean motion of an orbit whose mean semi-major axis is the Earth's radius (the
exact limit depends a little on eccentricity and inclination: :func:`below_surface`)."""


def below_surface(
    mean_motion_rev_per_day: np.ndarray | float,
    eccentricity: np.ndarray | float,
    inclination_deg: np.ndarray | float,
) -> np.ndarray:
    """True where the mean semi-major axis is below the Earth's equatorial radius.

    Such an orbit runs inside the Earth (its altitude would be negative); the element set
    is corrupt (``MEAN_MOTION 1e300``) or the object long gone. Mean motion must be > 0.
    """
    with np.errstate(all="ignore"):
        a = semi_major_axis_km(mean_motion_rev_per_day, eccentricity, inclination_deg)
    return ~(a >= EARTH_EQUATORIAL_RADIUS_KM)


def inside_earth_reason(name: str, mean_motion_rev_per_day: float) -> str:
    """The message for a mean motion that puts the orbit inside the Earth."""
    return (
        f"{name} is {mean_motion_rev_per_day!r} rev/day, an orbit inside the Earth (mean "
        f"altitude below 0 km); it must be below about {MAX_MEAN_MOTION_REV_PER_DAY} rev/day"
    )


SGP4XP = (
    "EPHEMERIS_TYPE 4 marks SGP4-XP elements, which are fitted for a different propagator "
    "and give wrong positions with SGP4; ask the provider for the SGP4 general-perturbations "
    "set (EPHEMERIS_TYPE 0)"
)


def is_leap(year: int) -> bool:
    """Gregorian leap year."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's integer algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_YEAR_START_DAYS: dict[int, int] = {}


def year_start_days(year: int) -> int:
    """Days since 1970-01-01 of 1 January of ``year`` (cached)."""
    days = _YEAR_START_DAYS.get(year)
    if days is None:
        days = days_from_civil(year, 1, 1)
        _YEAR_START_DAYS[year] = days
    return days
