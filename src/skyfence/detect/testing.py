"""Helpers to build hand-made telemetry for tests (yours and skyfence's).

>>> import numpy as np
>>> tel = telemetry(trace("a", [50.0, 50.0 + km_to_deg(10.0)], [30.0, 30.0], step_min=6))
>>> from skyfence.detect import build_tracks
>>> round(float(build_tracks(tel).speed_kmh[1]), 6)
100.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from skyfence.detect.telemetry import Telemetry
from skyfence.geodesy import MEAN_EARTH_RADIUS_KM

__all__ = ["T0", "trace", "telemetry", "km_to_deg"]

#: A default start time for hand-made traces.
T0 = np.datetime64("2026-03-01T00:00:00", "ns")


def km_to_deg(km: float) -> float:
    """Degrees of latitude (along a meridian) for ``km`` on the sphere skyfence uses."""
    return float(km) / (np.pi * MEAN_EARTH_RADIUS_KM / 180.0)


def trace(
    terminal_id: str,
    latitude_deg: Sequence[float],
    longitude_deg: Sequence[float],
    *,
    step_min: float = 5.0,
    start: np.datetime64 = T0,
    speed_kmh: Sequence[float] | None = None,
    altitude_m: Sequence[float] | None = None,
    times: Sequence[Any] | None = None,
) -> dict[str, np.ndarray]:
    """Columns of one terminal's reports, every ``step_min`` minutes from ``start`` (or at
    ``times``); speed and altitude unknown unless given."""
    n = len(latitude_deg)
    if times is None:
        times = start + (np.arange(n) * step_min * 60e9).astype("timedelta64[ns]")
    return {
        "terminal_id": np.full(n, terminal_id, dtype=object),
        "time": np.asarray(times, dtype="datetime64[ns]"),
        "latitude_deg": np.asarray(latitude_deg, float),
        "longitude_deg": np.asarray(longitude_deg, float),
        "speed_kmh": np.full(n, np.nan) if speed_kmh is None else np.asarray(speed_kmh, float),
        "altitude_m": np.full(n, np.nan) if altitude_m is None else np.asarray(altitude_m, float),
    }


def telemetry(*traces: dict[str, np.ndarray]) -> Telemetry:
    """One :class:`Telemetry` of the reports of ``traces`` (file order: as given)."""
    cols = {k: np.concatenate([np.asarray(t[k]) for t in traces]) for k in traces[0]}
    return Telemetry.from_columns(
        cols["terminal_id"],
        cols["time"],
        cols["latitude_deg"],
        cols["longitude_deg"],
        cols["altitude_m"],
        cols["speed_kmh"],
        source="<test traces>",
    )
