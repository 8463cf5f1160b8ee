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

import numpy as np

from skyfence.detect._behaviours import MAKERS, Geo
from skyfence.detect.findings import KINDS
from skyfence.detect.telemetry import Telemetry, write_telemetry
from skyfence.errors import InputError
from skyfence.geodesy import MEAN_EARTH_RADIUS_KM
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
assert set(MAKERS) == set(CLASSES)


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
    geo = Geo()
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
        make = MAKERS[cls]
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


def write_scenario(scenario: Scenario, path: str | Path) -> dict[str, Path]:
    """Write the telemetry with its ``label`` column to ``path`` (Parquet, CSV or JSON
    Lines by suffix), the registry to ``<stem>.terminals.csv`` and the policy to
    ``<stem>.policy.json`` beside it (each atomically). Returns the paths written."""
    import csv
    import io
    import json

    from skyfence.files import write_text_atomic

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
    files["terminals"] = write_text_atomic(
        Path(f"{stem}.terminals.csv"), buf.getvalue(), make_parents=True
    )
    files["policy"] = write_text_atomic(
        Path(f"{stem}.policy.json"), json.dumps(scenario.policy.to_document(), indent=2) + "\n"
    )
    return files
