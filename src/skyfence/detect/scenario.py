"""Labelled telemetry scenarios: terminals that behave like homes, vans, ships, ferries,
aircraft, drones, smugglers, shared identities and unregistered clusters, with ground truth.

:func:`simulate` builds a :class:`Scenario`: the telemetry, the terminal registry, the
policy the scenario is set under, and a ground-truth **class** per terminal (and so per
report). Each class (:data:`CLASSES`) says whether its use is misuse and which finding kinds
the detectors are expected to raise for it; the labels are returned beside the telemetry,
never inside it, and :func:`write_scenario` writes them as a separate ``label`` column that
:func:`~skyfence.detect.read_telemetry` does not read.

Scenario ``ukraine-2026`` is set on the built-in worldview under the shipped
``ukraine-2026`` example policy (75 km/h over Ukraine from 28 Jan 2026, whitelist-only
Ukraine from 1 Feb 2026, Crimea suspended, Russia and Belarus denied), over Ukraine, its
neighbours and the Black Sea, by default from 25 Jan 2026 for 14 days. Reports come every
1 to 15 minutes (every minute or two for drones and aircraft in flight), with GPS noise of
10-50 m, a single GPS jump of 10-80 km about once in 3,000 reports, and outages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.detect.findings import KINDS
from skyfence.detect.telemetry import Telemetry, write_telemetry
from skyfence.errors import InputError
from skyfence.geodesy import MEAN_EARTH_RADIUS_KM, great_circle_km
from skyfence.policy import Policy, Terminal, TerminalRegistry
from skyfence.timeutil import parse_time

__all__ = [
    "SCENARIOS",
    "CLASSES",
    "ClassInfo",
    "Scenario",
    "check_arguments",
    "simulate",
    "write_scenario",
]

SCENARIOS: tuple[str, ...] = ("ukraine-2026",)
_NS = 1_000_000_000
_KM_PER_DEG = np.pi * MEAN_EARTH_RADIUS_KM / 180.0


@dataclass(frozen=True)
class ClassInfo:
    """A behaviour class: is it misuse, which kinds must be found (``expect``), which may
    be found without being wrong (``allow``: e.g. a smuggled terminal in Crimea that goes
    silent there is a true dark gap, but the class is not built to show one), its share of
    the terminals, and a note."""

    misuse: bool
    expect: frozenset[str]
    allow: frozenset[str]
    share: float
    note: str


def _c(misuse: bool, expect: str, allow: str, share: float, note: str) -> ClassInfo:
    return ClassInfo(misuse, frozenset(expect.split()), frozenset(allow.split()), share, note)


#: The behaviour classes of scenario ``ukraine-2026``.
CLASSES: dict[str, ClassInfo] = {
    "home-ua": _c(False, "", "", 0.37, "fixed home in Ukraine, registered and whitelisted"),
    "home-front": _c(
        False, "", "", 0.03, "fixed home near the front line, with long power cuts (15% over 12 h)"
    ),
    "home-neighbour": _c(False, "", "", 0.08, "fixed home in PL, SK, HU, RO or MD"),
    "roaming-van": _c(
        False,
        "",
        "",
        0.08,
        "Ukrainian roam terminal on local roads at 30-70 km/h, some trips to Poland",
    ),
    "highway-van": _c(
        False,
        "speed",
        "",
        0.05,
        "Ukrainian roam terminal on highways at 85-110 km/h: over the 75 km/h rule",
    ),
    "ship": _c(False, "", "", 0.03, "cargo ship (maritime plan) Odesa - Bosporus / Constanta"),
    "ferry": _c(False, "", "", 0.01, "ferry (maritime plan) Chornomorsk - Constanta and back"),
    "aircraft": _c(
        False,
        "",
        "",
        0.03,
        "airliner (aviation plan) between Warsaw, Krakow, Budapest, Bucharest, Chisinau",
    ),
    "unregistered-visitor": _c(
        False, "service-area", "", 0.03, "unregistered terminal of a visitor in a Ukrainian city"
    ),
    "drone": _c(
        True,
        "speed",
        "service-area unregistered-cluster",
        0.05,
        "drone at 100-250 km/h, 100-1,500 m, sorties from a base in Ukraine; half unregistered",
    ),
    "high-drone": _c(
        True,
        "speed altitude",
        "service-area unregistered-cluster",
        0.02,
        "drone at 120-220 km/h and 3,200-6,000 m; half unregistered",
    ),
    "front-shuttle": _c(
        True,
        "border-shuttle service-area",
        "dark-gap",
        0.03,
        "terminal carried back and forth across the front line into Crimea",
    ),
    "smuggled": _c(
        True,
        "service-area",
        "dark-gap",
        0.05,
        "terminal used in Crimea or in Russia (Belgorod, Kursk, Rostov)",
    ),
    "cloned-identity": _c(
        True,
        "impossible-travel",
        "service-area dark-gap",
        0.02,
        "two devices with one identity: a home in Ukraine and one in Crimea",
    ),
    "dark-smuggler": _c(
        True,
        "dark-gap",
        "",
        0.03,
        "terminal near the front line that goes silent for 12-60 h at a time",
    ),
    "overstayer": _c(
        True,
        "roaming",
        "",
        0.03,
        "Ukrainian fixed terminal in Poland since November 2025 (60-day trips)",
    ),
    "unregistered-cluster": _c(
        True,
        "unregistered-cluster service-area",
        "",
        0.06,
        "groups of 5-12 unregistered terminals near the front or in Crimea",
    ),
}
assert abs(sum(c.share for c in CLASSES.values()) - 1.0) < 1e-9
assert all(k in KINDS for c in CLASSES.values() for k in c.expect | c.allow)

# places (lat, lon); every generated point is checked against the worldview
_UA_CITIES = [
    (50.45, 30.52),
    (49.84, 24.03),
    (49.23, 28.47),
    (50.25, 28.66),
    (50.62, 26.25),
    (49.55, 25.59),
    (49.42, 26.99),
    (48.92, 24.71),
    (48.29, 25.94),
    (48.62, 22.29),
    (50.75, 25.33),
    (49.59, 34.55),
    (49.44, 32.06),
    (48.51, 32.26),
    (46.97, 31.99),
    (46.48, 30.73),
    (48.46, 35.05),
    (47.84, 35.14),
    (49.99, 36.23),
    (51.49, 31.29),
]
_NEIGHBOUR_CITIES = [
    ((52.23, 21.01), "PL"),
    ((50.06, 19.94), "PL"),
    ((49.78, 22.77), "PL"),
    ((51.25, 22.57), "PL"),
    ((48.72, 21.26), "SK"),
    ((47.53, 21.63), "HU"),
    ((47.50, 19.04), "HU"),
    ((47.16, 27.59), "RO"),
    ((44.43, 26.10), "RO"),
    ((46.77, 23.59), "RO"),
    ((47.01, 28.86), "MD"),
]
_POLISH = [(52.23, 21.01), (50.06, 19.94), (49.78, 22.77), (51.25, 22.57), (50.04, 22.00)]
_DRONE_BASES = [(48.46, 35.05), (47.84, 35.14), (48.72, 37.56), (49.59, 34.55), (46.97, 31.99)]
_FRONT_UA = [(46.37, 33.54), (46.17, 34.80), (46.30, 34.30)]  # mainland near Crimea
_CRIMEA_NORTH = [(46.106, 33.69), (45.71, 34.39), (45.96, 34.00)]
_CRIMEA = [(44.95, 34.10), (44.60, 33.52), (45.36, 36.47), (45.19, 33.37), (45.03, 35.38)]
_RUSSIA = [(50.60, 36.59), (51.73, 36.19), (47.23, 39.72)]
_NEAR_FRONT = [(46.30, 33.70), (50.29, 36.94), (50.77, 35.27), (50.43, 35.48), (51.40, 30.70)]
_HOME_FRONT = [(46.42, 33.65), (50.20, 36.70), (50.85, 35.10), (51.45, 30.90), (50.00, 36.35)]
_CLUSTER_SITES = [(47.57, 35.78), (48.28, 37.18), (49.71, 37.62), (47.80, 36.60), (45.30, 34.30)]
_AIRPORTS = [(52.17, 20.97), (50.08, 19.78), (47.43, 19.26), (44.57, 26.08), (46.93, 28.93)]
_ROUTES = [
    ("52.17,20.97", "47.43,19.26"),
    ("50.08,19.78", "47.43,19.26"),
    ("47.43,19.26", "44.57,26.08"),
    ("44.57,26.08", "46.93,28.93"),
]
_SEA_LANES = [
    ((46.35, 30.90), (41.25, 29.12)),
    ((44.15, 28.72), (41.25, 29.12)),
    ((46.35, 30.90), (44.15, 28.72)),
]
_FERRY = ((46.28, 30.70), (44.15, 28.70))  # off Chornomorsk, off Constanta


@dataclass(eq=False)
class Scenario:
    """A generated scenario.

    Attributes
    ----------
    telemetry : Telemetry
        The reports (sorted by terminal and time).
    labels : object (N,)
        Ground-truth class of each report's terminal (a key of :data:`CLASSES`).
    classes : dict
        Terminal id → class.
    registry : TerminalRegistry
        The registered terminals (unregistered ones are not in it).
    policy : Policy
        The policy the scenario is set under.
    name, seed : str, int
    """

    telemetry: Telemetry
    labels: np.ndarray
    classes: dict[str, str]
    registry: TerminalRegistry
    policy: Policy
    name: str
    seed: int

    def expected(self, kind: str) -> set[str]:
        """Terminals for which the detectors should raise ``kind``."""
        return {t for t, c in self.classes.items() if kind in CLASSES[c].expect}

    def allowed(self, kind: str) -> set[str]:
        """Terminals for which ``kind`` may be raised without being wrong (not expected)."""
        return {t for t, c in self.classes.items() if kind in CLASSES[c].allow}

    def misuse(self) -> set[str]:
        """Terminals whose use is misuse (ground truth)."""
        return {t for t, c in self.classes.items() if CLASSES[c].misuse}


class _Geo:
    """Country and Crimea tests for generated points (built-in worldview)."""

    def __init__(self) -> None:
        from skyfence.regions import world

        w = world()
        self.index = w.index()
        self.codes = [r.id for r in self.index.regions]
        self.crimea = w.region("crimea")

    def country(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        c = self.index.lookup(np.atleast_1d(lat), np.atleast_1d(lon))
        return np.array([self.codes[i] if i >= 0 else "" for i in c.tolist()], dtype=object)

    def in_crimea(self, lat: float, lon: float) -> bool:
        return bool(self.crimea.contains(lat, lon)[0])


def _offset(rng: np.random.Generator, lat: float, lon: float, km: float) -> tuple[float, float]:
    r = km * np.sqrt(rng.uniform())
    b = rng.uniform(0, 2 * np.pi)
    return lat + r * np.cos(b) / _KM_PER_DEG, lon + r * np.sin(b) / (
        _KM_PER_DEG * np.cos(np.radians(lat))
    )


def _place(
    rng: np.random.Generator,
    geo: _Geo,
    centres: list[tuple[float, float]],
    km: float,
    country: str | None,
    crimea: bool | None,
) -> tuple[float, float]:
    """A random point within ``km`` of one of ``centres``, in ``country`` (and in or out of
    Crimea as asked)."""
    for _ in range(200):
        c = centres[rng.integers(len(centres))]
        lat, lon = _offset(rng, c[0], c[1], km)
        if country is not None and geo.country(lat, lon)[0] != country:
            continue
        if crimea is not None and geo.in_crimea(lat, lon) != crimea:
            continue
        return lat, lon
    raise RuntimeError(f"no point found near {centres} in {country}")  # pragma: no cover


class _Plan:
    """Waypoints (time, lat, lon, altitude) of one terminal, and its silent intervals."""

    def __init__(self, t0: int) -> None:
        self.t = [t0]
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.alt: list[float] = []
        self.dark: list[tuple[int, int]] = []

    def start(self, lat: float, lon: float, alt: float = 0.0) -> _Plan:
        self.lat, self.lon, self.alt = [lat], [lon], [alt]
        return self

    @property
    def now(self) -> int:
        return self.t[-1]

    def stay(self, seconds: float) -> None:
        self.t.append(self.now + int(seconds * _NS))
        self.lat.append(self.lat[-1])
        self.lon.append(self.lon[-1])
        self.alt.append(self.alt[-1])

    def go(self, lat: float, lon: float, kmh: float, alt: float | None = None) -> None:
        km = float(great_circle_km(self.lat[-1], self.lon[-1], lat, lon))
        self.t.append(self.now + int(max(km / kmh * 3600.0, 1.0) * _NS))
        self.lat.append(lat)
        self.lon.append(lon)
        self.alt.append(self.alt[-1] if alt is None else alt)


def _path_ok(geo: _Geo, a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether the straight way from ``a`` to ``b`` stays in Ukraine (not Crimea) and
    Poland, every ~2 km."""
    km = float(great_circle_km(a[0], a[1], b[0], b[1]))
    f = np.linspace(0.0, 1.0, max(int(km / 2.0), 2))
    lat = a[0] + (b[0] - a[0]) * f
    lon = a[1] + (b[1] - a[1]) * f
    countries = geo.country(lat, lon)
    if not np.all((countries == "UA") | (countries == "PL")):
        return False
    return not bool(np.any(geo.crimea.contains(lat, lon)))


def _sample(
    rng: np.random.Generator,
    plan: _Plan,
    t_end: int,
    interval_s: tuple[float, float],
    noise_m: float,
    fast_interval_s: float | None = None,
) -> dict[str, np.ndarray]:
    """Report times and positions along ``plan`` (GPS noise, jumps, outages applied)."""
    t_wp = np.asarray(plan.t, dtype=np.int64)
    if t_wp[-1] < t_end:
        plan.stay((t_end - t_wp[-1]) / _NS)
        t_wp = np.asarray(plan.t, dtype=np.int64)
    base = rng.uniform(*interval_s)
    n_est = int((t_end - t_wp[0]) / _NS / (0.8 * base)) + 2
    steps = base * rng.uniform(0.8, 1.2, n_est)
    times = (
        t_wp[0] + (np.cumsum(steps) * _NS).astype(np.int64) - int(steps[0] * _NS * rng.uniform())
    )
    times = times[(times >= t_wp[0]) & (times < t_end)]
    if fast_interval_s is not None:  # moving: report every fast_interval_s
        lat_wp = np.asarray(plan.lat)
        moving_seg = (np.diff(lat_wp) != 0) | (np.diff(np.asarray(plan.lon)) != 0)
        seg = np.clip(np.searchsorted(t_wp, times, side="right") - 1, 0, len(moving_seg) - 1)
        times = times[~moving_seg[seg]]  # while moving, report every fast_interval_s instead
        extra = [
            np.arange(a, b, int(fast_interval_s * _NS), dtype=np.int64)
            for a, b, m in zip(t_wp[:-1], t_wp[1:], moving_seg, strict=True)
            if m
        ]
        if extra:
            times = np.unique(np.concatenate([times, *extra]))
            times = times[times < t_end]
    keep = np.ones(times.shape[0], dtype=bool)
    for a, b in plan.dark:
        keep &= (times < a) | (times >= b)
    times = times[keep]
    x = times.astype(np.float64)
    tw = t_wp.astype(np.float64)
    lat = np.interp(x, tw, plan.lat)
    lon = np.interp(x, tw, plan.lon)
    alt = np.interp(x, tw, plan.alt)
    n = times.shape[0]
    sigma_km = noise_m / 1000.0
    lat = lat + rng.normal(0, sigma_km, n) / _KM_PER_DEG
    lon = lon + rng.normal(0, sigma_km, n) / (_KM_PER_DEG * np.cos(np.radians(lat)))
    # true speed (km/h) along the plan, for terminals that report their speed
    seg_km = great_circle_km(
        np.asarray(plan.lat[:-1]),
        np.asarray(plan.lon[:-1]),
        np.asarray(plan.lat[1:]),
        np.asarray(plan.lon[1:]),
    )
    seg_h = np.maximum(np.diff(tw) / 3.6e12, 1e-12)
    seg_v = np.where(np.diff(tw) > 0, seg_km / seg_h, 0.0)
    k = np.clip(np.searchsorted(tw, x, side="right") - 1, 0, len(seg_v) - 1)
    speed = seg_v[k]
    # single GPS jumps of 10-80 km
    jump = rng.uniform(size=n) < 1.0 / 3000.0
    if jump.any():
        km = rng.uniform(10, 80, jump.sum())
        b = rng.uniform(0, 2 * np.pi, jump.sum())
        lat[jump] += km * np.cos(b) / _KM_PER_DEG
        lon[jump] += km * np.sin(b) / (_KM_PER_DEG * np.cos(np.radians(lat[jump])))
    return {"time": times, "lat": lat, "lon": lon, "alt": alt, "speed": speed}


def _outages(rng: np.random.Generator, plan: _Plan, t0: int, t_end: int, long_share: float) -> None:
    """Ordinary outages: a few of 1-10 h; with probability ``long_share`` one of 12-30 h."""
    for _ in range(rng.poisson(1.0)):
        a = int(rng.uniform(t0, t_end))
        plan.dark.append((a, a + int(rng.uniform(1, 10) * 3600 * _NS)))
    if rng.uniform() < long_share:
        a = int(rng.uniform(t0, t_end))
        plan.dark.append((a, a + int(rng.uniform(12, 30) * 3600 * _NS)))


def check_arguments(scenario: str, terminals: int, days: float, start: str) -> int:
    """Validate :func:`simulate`'s arguments (before any work); returns the start in ns."""
    if scenario not in SCENARIOS:
        raise InputError(f"scenario {scenario!r} is not one of {', '.join(SCENARIOS)}")
    if int(terminals) < len(CLASSES):
        raise InputError(
            f"terminals must be at least {len(CLASSES)} (one per class), got {terminals!r}"
        )
    if not 0 < float(days) <= 366:
        raise InputError(f"days must be in (0, 366], got {days!r}")
    return int(parse_time(start).astype(np.int64))


def simulate(
    scenario: str = "ukraine-2026",
    *,
    seed: int = 0,
    terminals: int = 1000,
    days: float = 14.0,
    start: str = "2026-01-25T00:00:00Z",
    progress: Callable[[int, int], None] | None = None,
) -> Scenario:
    """Generate a labelled scenario (see the module docstring and :data:`CLASSES`).

    Parameters
    ----------
    scenario : str
        One of :data:`SCENARIOS`.
    seed : int
        The same seed gives the same scenario.
    terminals : int
        About how many terminals (each class gets its share, at least one, clusters come
        in groups of 5-12).
    days : float
        Length of the scenario.
    start : str
        Its start (ISO 8601 UTC).

    Examples
    --------
    >>> sc = simulate(seed=1, terminals=40, days=1)
    >>> sorted(set(sc.labels)) == sorted(set(sc.classes.values()))
    True
    """
    t0 = check_arguments(scenario, terminals, days, start)
    from skyfence.policy import load_example

    rng = np.random.default_rng(int(seed))
    geo = _Geo()
    t_end = t0 + int(float(days) * 86400 * _NS)
    counts = {c: max(1, int(round(info.share * terminals))) for c, info in CLASSES.items()}
    parts: list[dict[str, np.ndarray]] = []
    classes: dict[str, str] = {}
    records: list[Terminal] = []
    serial = 0

    def new_id(cls: str) -> str:
        nonlocal serial
        serial += 1
        return f"T{serial:06d}"

    def add(
        tid: str,
        cls: str,
        rows: dict[str, np.ndarray],
        speed_share: float = 0.3,
        alt_share: float = 0.5,
        ground_alt: bool = True,
    ) -> None:
        n = rows["time"].shape[0]
        out = {
            "terminal_id": np.full(n, tid, dtype=object),
            "time": rows["time"],
            "lat": rows["lat"],
            "lon": rows["lon"],
        }
        report_speed = rng.uniform() < speed_share
        out["speed"] = (
            np.maximum(rows["speed"] + rng.normal(0, 1.0, n), 0.0)
            if report_speed
            else np.full(n, np.nan)
        )
        report_alt = rng.uniform() < alt_share
        alt = rows["alt"] + (rng.uniform(80, 300) if ground_alt else 0.0) + rng.normal(0, 5.0, n)
        out["alt"] = alt if report_alt else np.full(n, np.nan)
        out["label"] = np.full(n, cls, dtype=object)
        parts.append(out)
        classes[tid] = cls

    total = sum(counts.values())
    done = 0
    for cls, count in counts.items():
        make = _MAKERS[cls]
        made = 0
        while made < count:
            made += make(rng, geo, t0, t_end, new_id, add, records, count - made)
        done += count
        if progress is not None:
            progress(done, total)

    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    tel = Telemetry.from_columns(
        cat["terminal_id"],
        cat["time"].view("datetime64[ns]"),
        cat["lat"],
        cat["lon"],
        cat["alt"],
        cat["speed"],
        source=f"scenario {scenario} seed {seed}",
    )
    order = np.lexsort((tel.time_ns, tel.terminal))
    tel = tel.take(order).sorted()
    labels = cat["label"][order]
    return Scenario(
        tel,
        labels,
        classes,
        TerminalRegistry(tuple(records)),
        load_example("ukraine-2026"),
        scenario,
        int(seed),
    )


# ----------------------------------------------------------------------------- classes
_Add = Callable[..., None]


def _home(
    country: str,
    centres: Any,
    km: float,
    crimea: bool | None = False,
    long_outage: float = 0.03,
    cls: str | None = None,
) -> Callable[..., int]:
    def make(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
        lat, lon = _place(rng, geo, centres, km, country, crimea)
        plan = _Plan(t0).start(lat, lon)
        _outages(rng, plan, t0, t_end, long_outage)
        tid = new_id("home")
        add(
            tid,
            cls or ("home-ua" if country == "UA" else "home-neighbour"),
            _sample(rng, plan, t_end, (60, 900), rng.uniform(10, 50)),
        )
        wl = ("UA",) if country == "UA" else ()
        records.append(Terminal(tid, country, "fixed", whitelists=wl))
        return 1

    return make


def _home_neighbour(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
    (c, country) = _NEIGHBOUR_CITIES[rng.integers(len(_NEIGHBOUR_CITIES))]
    return _home(country, [c], 15.0)(rng, geo, t0, t_end, new_id, add, records, left)


def _van(kmh: tuple[float, float], cls: str, abroad: float) -> Callable[..., int]:
    def make(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
        home = _place(rng, geo, _UA_CITIES, 10.0, "UA", False)
        plan = _Plan(t0).start(*home)
        while plan.now < t_end:
            plan.stay(rng.uniform(2, 14) * 3600)
            for _ in range(50):  # roads stay in Ukraine (and Poland on trips abroad)
                if rng.uniform() < abroad:
                    dest = _place(rng, geo, _POLISH, 10.0, "PL", None)
                elif cls == "highway-van":
                    dest = _place(rng, geo, _UA_CITIES, 10.0, "UA", False)
                else:
                    dest = _place(rng, geo, [home], 60.0, "UA", False)
                if _path_ok(geo, home, dest):
                    break
            else:  # pragma: no cover - some destination always works
                dest = home
            plan.go(*dest, rng.uniform(*kmh))
            plan.stay(rng.uniform(1, 30) * 3600)
            plan.go(*home, rng.uniform(*kmh))
        tid = new_id(cls)
        add(tid, cls, _sample(rng, plan, t_end, (60, 600), rng.uniform(10, 50)))
        records.append(Terminal(tid, "UA", "roam", whitelists=("UA",)))
        return 1

    return make


def _ship(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
    a, b = _SEA_LANES[rng.integers(len(_SEA_LANES))]
    plan = _Plan(t0 - int(rng.uniform(0, 2) * 86400 * _NS)).start(*a)
    while plan.now < t_end:
        plan.go(*b, rng.uniform(20, 28))
        plan.stay(rng.uniform(6, 36) * 3600)
        plan.go(*a, rng.uniform(20, 28))
        plan.stay(rng.uniform(6, 36) * 3600)
    tid = new_id("ship")
    add(tid, "ship", _trim(_sample(rng, plan, t_end, (300, 900), rng.uniform(10, 50)), t0))
    records.append(
        Terminal(tid, str(rng.choice(["TR", "GR", "RO", "UA"])), "maritime", whitelists=("UA",))
    )
    return 1


def _ferry(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
    a, b = _FERRY
    plan = _Plan(t0).start(*a)
    while plan.now < t_end:
        plan.stay(rng.uniform(4, 10) * 3600)
        plan.go(*b, rng.uniform(30, 38))
        plan.stay(rng.uniform(4, 10) * 3600)
        plan.go(*a, rng.uniform(30, 38))
    tid = new_id("ferry")
    add(tid, "ferry", _sample(rng, plan, t_end, (120, 600), rng.uniform(10, 50)))
    records.append(Terminal(tid, "UA", "maritime", whitelists=("UA",)))
    return 1


def _aircraft(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
    legs = [(tuple(map(float, a.split(","))), tuple(map(float, b.split(",")))) for a, b in _ROUTES]
    a, b = legs[rng.integers(len(legs))]
    plan = _Plan(t0).start(*a, alt=0.0)
    while plan.now < t_end:
        plan.stay(rng.uniform(1, 8) * 3600)
        for src, dst in ((a, b), (b, a)):
            lat1 = src[0] + (dst[0] - src[0]) * 0.08
            lon1 = src[1] + (dst[1] - src[1]) * 0.08
            lat2 = src[0] + (dst[0] - src[0]) * 0.92
            lon2 = src[1] + (dst[1] - src[1]) * 0.92
            cruise = rng.uniform(9500, 11500)
            plan.go(lat1, lon1, 450.0, alt=cruise)
            plan.go(lat2, lon2, rng.uniform(750, 880), alt=cruise)
            plan.go(*dst, 400.0, alt=0.0)
            plan.stay(rng.uniform(1, 6) * 3600)
    tid = new_id("aircraft")
    add(
        tid,
        "aircraft",
        _sample(rng, plan, t_end, (300, 900), rng.uniform(10, 30), 60.0),
        alt_share=1.0,
        ground_alt=True,
    )
    records.append(Terminal(tid, str(rng.choice(["PL", "HU", "RO"])), "aviation"))
    return 1


def _visitor(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
    lat, lon = _place(rng, geo, _UA_CITIES, 12.0, "UA", False)
    plan = _Plan(t0).start(lat, lon)
    _outages(rng, plan, t0, t_end, 0.03)
    add(
        new_id("visitor"),
        "unregistered-visitor",
        _sample(rng, plan, t_end, (60, 900), rng.uniform(10, 50)),
    )
    return 1


def _drone(high: bool) -> Callable[..., int]:
    cls = "high-drone" if high else "drone"

    def make(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
        base = _place(rng, geo, _DRONE_BASES, 15.0, "UA", False)
        plan = _Plan(t0).start(*base, alt=0.0)
        while plan.now < t_end:
            plan.stay(rng.uniform(1, 8) * 3600)
            kmh = rng.uniform(120, 220) if high else rng.uniform(100, 250)
            alt = rng.uniform(3200, 6000) if high else rng.uniform(100, 1500)
            for _ in range(20):
                minutes = rng.uniform(12, 40)
                out_km = kmh * minutes / 60.0 / 2.0
                b = rng.uniform(0, 2 * np.pi)
                lat = base[0] + out_km * np.cos(b) / _KM_PER_DEG
                lon = base[1] + out_km * np.sin(b) / (_KM_PER_DEG * np.cos(np.radians(base[0])))
                if geo.country(lat, lon)[0] == "UA" and not geo.in_crimea(lat, lon):
                    break
            plan.go(lat, lon, kmh, alt=alt)
            plan.go(*base, kmh, alt=0.0)
        tid = new_id(cls)
        add(
            tid,
            cls,
            _sample(rng, plan, t_end, (120, 600), rng.uniform(10, 30), 60.0),
            speed_share=0.5,
            alt_share=1.0,
        )
        if rng.uniform() < 0.5:
            records.append(Terminal(tid, "UA", "roam", whitelists=("UA",)))
        return 1

    return make


def _front_shuttle(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
    a = _place(rng, geo, _FRONT_UA, 8.0, "UA", False)
    b = _place(rng, geo, _CRIMEA_NORTH, 8.0, "UA", True)
    plan = _Plan(t0).start(*a)
    while plan.now < t_end:
        plan.stay(rng.uniform(6, 36) * 3600)
        plan.go(*b, rng.uniform(40, 60))
        plan.stay(rng.uniform(6, 36) * 3600)
        plan.go(*a, rng.uniform(40, 60))
    tid = new_id("front-shuttle")
    add(tid, "front-shuttle", _sample(rng, plan, t_end, (60, 900), rng.uniform(10, 50)))
    records.append(Terminal(tid, "UA", "roam", whitelists=("UA",)))
    return 1


def _smuggled(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
    if rng.uniform() < 0.6:
        lat, lon = _place(rng, geo, _CRIMEA, 10.0, "UA", True)
    else:
        lat, lon = _place(rng, geo, _RUSSIA, 10.0, "RU", None)
    plan = _Plan(t0).start(lat, lon)
    _outages(rng, plan, t0, t_end, 0.0)
    tid = new_id("smuggled")
    add(tid, "smuggled", _sample(rng, plan, t_end, (60, 900), rng.uniform(10, 50)))
    who = rng.uniform()
    if who < 0.4:
        records.append(Terminal(tid, "UA", "fixed", whitelists=("UA",)))
    elif who < 0.7:
        records.append(Terminal(tid, "PL", "roam"))
    return 1


def _cloned(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
    tid = new_id("cloned-identity")
    rows = []
    for centres, crimea in ((_UA_CITIES, False), (_CRIMEA, True)):
        lat, lon = _place(rng, geo, centres, 10.0, "UA", crimea)
        plan = _Plan(t0).start(lat, lon)
        rows.append(_sample(rng, plan, t_end, (120, 900), rng.uniform(10, 50)))
    merged = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
    add(tid, "cloned-identity", merged)
    records.append(Terminal(tid, "UA", "fixed", whitelists=("UA",)))
    return 1


def _dark_smuggler(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
    lat, lon = _place(rng, geo, _NEAR_FRONT, 4.0, "UA", False)
    plan = _Plan(t0).start(lat, lon)
    t = t0 + int(rng.uniform(6, 48) * 3600 * _NS)
    while t < t_end - 86400 * _NS:
        length = int(rng.uniform(12, 60) * 3600 * _NS)
        plan.dark.append((t, t + length))
        t += length + int(rng.uniform(24, 96) * 3600 * _NS)
    tid = new_id("dark-smuggler")
    add(tid, "dark-smuggler", _sample(rng, plan, t_end, (60, 900), rng.uniform(10, 50)))
    records.append(Terminal(tid, "UA", "fixed", whitelists=("UA",)))
    return 1


def _overstayer(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
    lat, lon = _place(rng, geo, _POLISH, 15.0, "PL", None)
    plan = _Plan(t0).start(lat, lon)
    _outages(rng, plan, t0, t_end, 0.0)
    tid = new_id("overstayer")
    add(tid, "overstayer", _sample(rng, plan, t_end, (60, 900), rng.uniform(10, 50)))
    began = np.datetime64(t0 - int(rng.uniform(65, 100) * 86400 * _NS), "ns")
    records.append(Terminal(tid, "UA", "fixed", whitelists=("UA",), trip_started=began))
    return 1


def _cluster(rng, geo, t0, t_end, new_id, add, records, left):  # type: ignore[no-untyped-def]
    size = int(min(max(left, 5), rng.integers(5, 13)))
    site = _CLUSTER_SITES[rng.integers(len(_CLUSTER_SITES))]
    centre = _place(rng, geo, [site], 15.0, "UA", None)
    for _ in range(size):
        lat, lon = _offset(rng, centre[0], centre[1], 1.0)
        plan = _Plan(t0).start(lat, lon)
        _outages(rng, plan, t0, t_end, 0.0)
        add(
            new_id("unregistered-cluster"),
            "unregistered-cluster",
            _sample(rng, plan, t_end, (60, 900), rng.uniform(10, 50)),
        )
    return size


def _trim(rows: dict[str, np.ndarray], t0: int) -> dict[str, np.ndarray]:
    keep = rows["time"] >= t0
    return {k: v[keep] for k, v in rows.items()}


_MAKERS: dict[str, Callable[..., int]] = {
    "home-ua": _home("UA", _UA_CITIES, 12.0),
    "home-front": _home("UA", _HOME_FRONT, 8.0, long_outage=0.15, cls="home-front"),
    "home-neighbour": _home_neighbour,
    "roaming-van": _van((30, 70), "roaming-van", 0.15),
    "highway-van": _van((85, 110), "highway-van", 0.0),
    "ship": _ship,
    "ferry": _ferry,
    "aircraft": _aircraft,
    "unregistered-visitor": _visitor,
    "drone": _drone(False),
    "high-drone": _drone(True),
    "front-shuttle": _front_shuttle,
    "smuggled": _smuggled,
    "cloned-identity": _cloned,
    "dark-smuggler": _dark_smuggler,
    "overstayer": _overstayer,
    "unregistered-cluster": _cluster,
}
assert set(_MAKERS) == set(CLASSES)


def write_scenario(scenario: Scenario, path: str | Path) -> dict[str, Path]:
    """Write the telemetry with its ``label`` column to ``path`` (Parquet, CSV or JSON
    Lines by suffix), the registry to ``<stem>.terminals.csv`` and the policy to
    ``<stem>.policy.json`` beside it (each atomically). Returns the paths written."""
    import csv
    import io
    import json

    from skyfence.detect._io import write_text_atomic

    path = Path(path)
    stem = path.with_suffix("")
    files = {
        "telemetry": write_telemetry(scenario.telemetry, path, extra={"label": scenario.labels})
    }

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "country", "plan", "whitelists", "speed_exempt", "trip_started"])
    for rec in scenario.registry.to_records():
        w.writerow(
            [
                rec["id"],
                rec["country"],
                rec["plan"],
                ";".join(rec["whitelists"]),
                str(rec["speed_exempt"]).lower(),
                rec["trip_started"] or "",
            ]
        )
    files["terminals"] = write_text_atomic(Path(f"{stem}.terminals.csv"), buf.getvalue())
    files["policy"] = write_text_atomic(
        Path(f"{stem}.policy.json"), json.dumps(scenario.policy.to_document(), indent=2) + "\n"
    )
    return files
