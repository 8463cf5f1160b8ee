"""Field checks shared by the TLE and OMM readers: numbers, calendar dates, SGP4-XP."""

from __future__ import annotations

import re

__all__ = [
    "NS_PER_DAY",
    "NUMBER_RE",
    "SGP4XP",
    "is_leap",
    "days_from_civil",
    "year_start_days",
]

NS_PER_DAY = 86_400 * 10**9

#: A decimal number as text: optional sign, digits with an optional point, optional exponent.
NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")

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
