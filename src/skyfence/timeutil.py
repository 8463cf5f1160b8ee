"""Time handling shared by every layer.

Times are UTC ``numpy.datetime64[ns]``. Strings are ISO 8601 (``2026-02-22T12:00:00Z``;
a trailing ``Z`` or ``+00:00`` is accepted, other offsets are converted to UTC).
Durations are written like ``90s``, ``15m``, ``1h``, ``1h30m``, ``2d`` or plain seconds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np

from skyfence.errors import InputError

__all__ = [
    "parse_time",
    "parse_duration",
    "time_grid",
    "to_jd_pair",
    "datetime64_to_iso",
]

_UNIX_EPOCH_JD = 2440587.5
_NS_PER_DAY = 86_400 * 1_000_000_000
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s|ms)")


def parse_time(value: str | datetime | np.datetime64 | None) -> np.datetime64:
    """Return ``value`` as a UTC ``datetime64[ns]``.

    ``None`` and ``"now"`` mean the current time. Naive datetimes and strings without an
    offset are taken as UTC.

    Examples
    --------
    >>> parse_time("2026-02-22T12:00:00Z")
    np.datetime64('2026-02-22T12:00:00.000000000')
    """
    if value is None or (isinstance(value, str) and value.strip().lower() == "now"):
        return np.datetime64(datetime.now(UTC).replace(tzinfo=None), "ns")
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[ns]")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return np.datetime64(value, "ns")
    text = str(value).strip()
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(
            f"cannot read time {value!r}: expected ISO 8601 such as 2026-02-22T12:00:00Z, or 'now'"
        ) from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(dt, "ns")


def parse_duration(value: str | float | int) -> float:
    """Return a duration in seconds from ``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"`` or a number.

    Examples
    --------
    >>> parse_duration("1h30m")
    5400.0
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            units = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
            for match in _DURATION_RE.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * units[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise InputError(
                    f"cannot read duration {value!r}: expected e.g. 90s, 15m, 1h, 1h30m, 2d "
                    "or a number of seconds"
                ) from None
    if not np.isfinite(seconds) or seconds < 0:
        raise InputError(f"duration must be a finite number of seconds >= 0, got {value!r}")
    return seconds


def time_grid(start: np.datetime64 | str, duration_s: float, step_s: float) -> np.ndarray:
    """Times from ``start`` to ``start + duration`` inclusive of start, every ``step_s`` seconds.

    The end is included when it falls on the grid. Returns ``datetime64[ns]``.
    """
    if step_s <= 0:
        raise InputError(f"step must be > 0 seconds, got {step_s}")
    t0 = parse_time(start)
    n = int(np.floor(duration_s / step_s + 1e-9)) + 1
    offsets = np.round(np.arange(n) * step_s * 1e9).astype("int64").astype("timedelta64[ns]")
    return t0 + offsets


def to_jd_pair(times: np.ndarray | np.datetime64) -> tuple[np.ndarray, np.ndarray]:
    """Split UTC ``datetime64`` times into a Julian date pair ``(jd, fr)`` for ``sgp4``.

    ``jd`` is the whole-day part (ending in .5) and ``fr`` the fraction, so that no
    precision is lost at nanosecond resolution.
    """
    ns = np.asarray(times, dtype="datetime64[ns]").astype("int64")
    days, rem = np.divmod(ns, _NS_PER_DAY)
    jd = days.astype(np.float64) + _UNIX_EPOCH_JD
    fr = rem.astype(np.float64) / _NS_PER_DAY
    return jd, fr


def datetime64_to_iso(t: np.datetime64) -> str:
    """ISO 8601 with a ``Z``, to the second unless sub-second digits are present."""
    text = str(np.datetime64(t, "ms"))
    if text.endswith(".000"):
        text = text[:-4]
    return text + "Z"
