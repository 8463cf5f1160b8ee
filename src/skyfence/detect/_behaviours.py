"""How the terminals of the generated scenarios move and report (see
:mod:`skyfence.detect.scenario`): places on the real map, itineraries, report sampling with
GPS noise, jumps and outages, and one maker per behaviour class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from skyfence.geodesy import MEAN_EARTH_RADIUS_KM, great_circle_km
from skyfence.policy import Terminal

__all__ = ["MAKERS", "Geo"]

_NS = 1_000_000_000
_KM_PER_DEG = np.pi * MEAN_EARTH_RADIUS_KM / 180.0


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


class Geo:
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
    geo: Geo,
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


def _path_ok(geo: Geo, a: tuple[float, float], b: tuple[float, float]) -> bool:
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


MAKERS: dict[str, Callable[..., int]] = {
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
