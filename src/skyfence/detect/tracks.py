"""Per-terminal tracks: the geometry between consecutive fixes, single GPS jumps, speeds.

Everything here works on telemetry sorted by terminal then time (one pass, no per-row
Python): ``prev`` / ``next`` are the neighbouring fixes of the same terminal.

A **single GPS jump** is a fix that leaves the track and comes straight back: it is at
least ``jump_min_km`` from where the track between its two neighbours puts it at its time
(interpolated), the neighbours are closer to each other than ``jump_back_ratio`` of that
deviation, and neither neighbour is such a fix itself (so two devices that alternate
report by report are not "jumps" of each other). Interpolating keeps fast movers right: an
airliner's fix 70 km off its line is a jump although its neighbours are 26 km apart.
Jumps are kept out of every speed, distance and place the detectors compute; they still
count as reports (a terminal sending them is not silent).

The **speed at a fix** is the reported ``speed_kmh`` where there is one; otherwise the
slower of the two segments to the neighbouring non-jump fixes (a fix is fast only when the
track is fast on both sides of it, so one bad segment cannot make it fast), rounded to
10⁻⁶ km/h so that float noise cannot put a terminal moving exactly at a limit over it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skyfence.detect.telemetry import Telemetry
from skyfence.errors import InputError
from skyfence.geodesy import MEAN_EARTH_RADIUS_KM, great_circle_km

__all__ = ["TrackOptions", "Tracks", "build_tracks", "runs", "group_starts"]

_NS = 1_000_000_000


@dataclass(frozen=True)
class TrackOptions:
    """How fixes are cleaned before the detectors see them.

    Attributes
    ----------
    jump_min_km : float
        A jump is off the track by at least this much (GPS noise is tens of metres).
    jump_back_ratio : float
        ...and its neighbours are closer to each other than this fraction of that.
    min_dt_s : float
        Segments shorter in time than this give no speed (duplicate or reordered reports).
    max_speed_kmh : float
        Segments faster than this give no speed: no terminal moves that fast (an airliner
        flies ~900 km/h over ground), so it is two devices or a bad position, which the
        ``impossible-travel`` detector reports.
    """

    jump_min_km: float = 5.0
    jump_back_ratio: float = 0.5
    min_dt_s: float = 1.0
    max_speed_kmh: float = 1200.0

    def __post_init__(self) -> None:
        if not self.jump_min_km > 0:
            raise InputError(f"jump_min_km must be > 0 km, got {self.jump_min_km!r}")
        if not 0 < self.jump_back_ratio < 1:
            raise InputError(f"jump_back_ratio must be in (0, 1), got {self.jump_back_ratio!r}")
        if not self.max_speed_kmh > 0:
            raise InputError(f"max_speed_kmh must be > 0 km/h, got {self.max_speed_kmh!r}")
        if not self.min_dt_s >= 0:
            raise InputError(f"min_dt_s must be >= 0 s, got {self.min_dt_s!r}")


@dataclass(frozen=True, eq=False)
class Tracks:
    """Sorted telemetry plus what the detectors share about consecutive fixes.

    Attributes
    ----------
    telemetry : Telemetry
        Sorted by terminal, then time.
    first : bool (N,)
        The fix is its terminal's first.
    jump : bool (N,)
        The fix is a single GPS jump (see the module docstring).
    prev : int64 (N,)
        Row of the previous non-jump fix of the same terminal (-1: none). For a jump row,
        the previous non-jump fix too.
    step_km, step_s : float64 (N,)
        Distance and time from ``prev`` (NaN where ``prev`` is -1).
    speed_kmh : float64 (N,)
        Speed at each fix: reported, else from the track; NaN for jumps and single fixes.
    """

    telemetry: Telemetry
    first: np.ndarray
    jump: np.ndarray
    prev: np.ndarray
    step_km: np.ndarray
    step_s: np.ndarray
    speed_kmh: np.ndarray
    options: TrackOptions

    def __len__(self) -> int:
        return len(self.telemetry)

    @property
    def clean(self) -> np.ndarray:
        """Rows that are not jumps."""
        return ~self.jump


def group_starts(keys: np.ndarray) -> np.ndarray:
    """Boolean mask of positions where ``keys`` (sorted into groups) starts a new group."""
    out = np.ones(keys.shape[0], dtype=bool)
    if keys.shape[0] > 1:
        out[1:] = keys[1:] != keys[:-1]
    return out


def runs(flag: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) rows of the runs of ``True`` in ``flag``.

    A run also ends where ``breaks`` is True (e.g. a new terminal starts there).

    Examples
    --------
    >>> import numpy as np
    >>> runs(np.array([1, 1, 0, 1, 1, 1], bool), np.array([1, 0, 0, 0, 1, 0], bool))
    (array([0, 3, 4]), array([2, 4, 6]))
    """
    n = flag.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    prev_flag = np.r_[False, flag[:-1]]
    start = flag & (~prev_flag | breaks)
    next_flag = np.r_[flag[1:], False]
    next_break = np.r_[breaks[1:], True]
    end = flag & (~next_flag | next_break)
    return np.flatnonzero(start), np.flatnonzero(end) + 1


def build_tracks(telemetry: Telemetry, options: TrackOptions | None = None) -> Tracks:
    """Sort ``telemetry`` and compute jumps, steps and speeds (see the module docstring).

    Examples
    --------
    A fixed terminal whose third report jumps 30 km away and back:

    >>> import numpy as np
    >>> from skyfence.detect.telemetry import Telemetry
    >>> t = np.datetime64("2026-02-01T00:00", "ns") + np.arange(5) * np.timedelta64(5, "m")
    >>> tel = Telemetry.from_columns(["a"] * 5, t, [50.0, 50.0, 50.3, 50.0, 50.0],
    ...                              [30.0] * 5)
    >>> tr = build_tracks(tel)
    >>> tr.jump.tolist(), float(np.nanmax(tr.speed_kmh))
    ([False, False, True, False, False], 0.0)
    """
    options = options or TrackOptions()
    tel = telemetry.sorted()
    n = len(tel)
    lat, lon, t = tel.latitude_deg, tel.longitude_deg, tel.time_ns
    first = group_starts(tel.terminal)
    last = np.r_[first[1:], True] if n else np.zeros(0, bool)

    # -- single GPS jumps: off the interpolated track by >= jump_min_km, neighbours close
    candidate = np.zeros(n, dtype=bool)
    for a, b in _chunks(1, n - 1):  # rows a..b-1 have both neighbours in the file
        candidate[a:b] = _jump_candidates(lat, lon, t, a, b, options)
    candidate &= ~first & ~last
    neighbour_candidate = np.zeros(n, dtype=bool)
    if n > 1:
        neighbour_candidate[1:] |= candidate[:-1] & ~first[1:]
        neighbour_candidate[:-1] |= candidate[1:] & ~last[:-1]
    jump = candidate & ~neighbour_candidate
    del candidate, neighbour_candidate

    # -- previous non-jump fix of the same terminal (the row before, except after a jump)
    idx = np.arange(n, dtype=np.int64)
    keep = np.where(jump, -1, idx)
    last_keep = np.maximum.accumulate(np.r_[-1, keep[:-1]]) if n else keep
    del keep
    term_start = np.maximum.accumulate(np.where(first, idx, 0))
    prev = np.where(last_keep >= term_start, last_keep, -1)
    del last_keep, term_start, idx
    step_km = np.full(n, np.nan)
    step_s = np.full(n, np.nan)
    for a, b in _chunks(0, n):
        rows = slice(a, b)
        pr = prev[rows]
        ok = pr >= 0
        pr_c = np.where(ok, pr, np.arange(a, b))
        step_km[rows] = np.where(
            ok, great_circle_km(lat[pr_c], lon[pr_c], lat[rows], lon[rows]), np.nan
        )
        step_s[rows] = np.where(ok, (t[rows] - t[pr_c]) / _NS, np.nan)

    # -- speed: reported, else the slower of the two clean segments around the fix
    with np.errstate(divide="ignore", invalid="ignore"):
        seg = np.where(step_s >= max(options.min_dt_s, 1e-9), step_km / step_s * 3600.0, np.nan)
    seg[jump | (seg > options.max_speed_kmh)] = np.nan
    # the segment out of a clean fix ends at its next clean fix, whose ``prev`` is this fix
    v_out = np.full(n, np.nan)
    has_prev = np.flatnonzero((prev >= 0) & ~jump)  # each clean fix is the prev of one
    v_out[prev[has_prev]] = seg[has_prev]
    del has_prev
    # rounded to 1e-6 km/h: float noise must not put a terminal at the limit over it
    speed = np.round(np.fmin(seg, v_out), 6)
    del seg, v_out
    reported = np.isfinite(tel.speed_kmh)
    speed[reported] = tel.speed_kmh[reported]
    speed[jump] = np.nan
    return Tracks(tel, first, jump, prev, step_km, step_s, speed, options)


_CHUNK = 1 << 20


def _chunks(a: int, b: int) -> list[tuple[int, int]]:
    """``[a, b)`` cut into pieces of at most 2**20 rows (bounded temporaries)."""
    return [(s, min(s + _CHUNK, b)) for s in range(a, b, _CHUNK)]


def _jump_candidates(
    lat: np.ndarray, lon: np.ndarray, t: np.ndarray, a: int, b: int, options: TrackOptions
) -> np.ndarray:
    """For rows a..b-1 (each with a row before and after it): off the track between them by
    at least ``jump_min_km``, with the two closer than ``jump_back_ratio`` of that."""
    p, i, q = slice(a - 1, b - 1), slice(a, b), slice(a + 1, b + 1)
    span = (t[q] - t[p]).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(span > 0, (t[i] - t[p]) / span, 0.5)
    dlon = (lon[q] - lon[p] + 180.0) % 360.0 - 180.0
    ilat = lat[p] + f * (lat[q] - lat[p])
    ilon = lon[p] + f * dlon
    dev = _flat_km(lat[i], lon[i], ilat, ilon)
    d_pq = _flat_km(lat[p], lon[p], lat[q], lon[q])
    return (dev >= options.jump_min_km) & (d_pq <= options.jump_back_ratio * dev)


_KM_PER_DEG = np.pi * MEAN_EARTH_RADIUS_KM / 180.0


def _flat_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Equirectangular distance (km): within 0.5 % of the great circle below ~300 km, which
    is all the jump test needs (it compares distances of one place with each other); the
    speeds use the exact great circle."""
    dlon = (lon2 - lon1 + 180.0) % 360.0 - 180.0
    x = dlon * np.cos(np.radians(0.5 * (lat1 + lat2)))
    return _KM_PER_DEG * np.hypot(x, lat2 - lat1)
