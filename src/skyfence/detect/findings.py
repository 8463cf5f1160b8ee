"""Findings: what a detector found, how strong the evidence is, and the evidence itself."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skyfence.detect.telemetry import Telemetry
from skyfence.timeutil import datetime64_to_iso

__all__ = ["KINDS", "Finding", "fix_record", "rank", "findings_geojson", "score_from"]

#: Finding kinds, in the order the detectors run.
KINDS: tuple[str, ...] = (
    "service-area",
    "speed",
    "altitude",
    "impossible-travel",
    "roaming",
    "dark-gap",
    "unregistered-cluster",
    "border-shuttle",
)


def score_from(x: float | np.ndarray) -> Any:
    """Map an amount of evidence ``x >= 0`` to a score in [0, 1): ``1 - exp(-x)``."""
    return 1.0 - np.exp(-np.maximum(x, 0.0))


@dataclass(frozen=True)
class Finding:
    """One finding of one detector.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    terminal_ids : tuple of str
        The terminal (one) or, for ``unregistered-cluster``, the terminals of the cluster.
    score : float
        Strength of the evidence in [0, 1) (how each kind scores is in ``docs/detect.md``).
    start, end : str
        ISO 8601 times of the first and last fix of the evidence.
    latitude_deg, longitude_deg : float
        A representative place (the peak fix, the place of the cluster, the last fix
        before a gap).
    summary : str
        One line that says what was found.
    rule_id : str or None
        The policy rule behind the finding (the rule that denies, the limit exceeded).
    region : str or None
        The region expression concerned (where the terminal may not be served, the
        region whose border it shuttles across).
    policy_version : int or None
        The policy version in force at the evidence's time (``None``: a policy file).
    fixes : tuple of dict
        Evidence fixes: ``line`` (in the telemetry file), ``time``, ``latitude_deg``,
        ``longitude_deg``, ``speed_kmh``, ``altitude_m``.
    details : dict
        Numbers specific to the kind (peak speed and limit, gap hours, crossings, ...).
    """

    kind: str
    terminal_ids: tuple[str, ...]
    score: float
    start: str
    end: str
    latitude_deg: float
    longitude_deg: float
    summary: str
    rule_id: str | None = None
    region: str | None = None
    policy_version: int | None = None
    fixes: tuple[dict[str, Any], ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal_id(self) -> str:
        """The first (for most kinds the only) terminal."""
        return self.terminal_ids[0] if self.terminal_ids else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (NaN as ``None``)."""
        return {
            "kind": self.kind,
            "terminal_ids": list(self.terminal_ids),
            "score": round(float(self.score), 4),
            "start": self.start,
            "end": self.end,
            "latitude_deg": self.latitude_deg,
            "longitude_deg": self.longitude_deg,
            "summary": self.summary,
            "rule_id": self.rule_id,
            "region": self.region,
            "policy_version": self.policy_version,
            "fixes": [_clean(f) for f in self.fixes],
            "details": _clean(self.details),
        }


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def iso(t_ns: int | np.integer) -> str:
    """ISO 8601 text of a time in ns since 1970."""
    return datetime64_to_iso(np.datetime64(int(t_ns), "ns"))


def fix_record(tel: Telemetry, row: int, speed_kmh: float | None = None) -> dict[str, Any]:
    """One evidence fix of ``tel`` (sorted telemetry) as a JSON-able dict."""
    speed = tel.speed_kmh[row] if speed_kmh is None else speed_kmh
    return {
        "line": int(tel.line[row]),
        "time": iso(tel.time_ns[row]),
        "latitude_deg": round(float(tel.latitude_deg[row]), 6),
        "longitude_deg": round(float(tel.longitude_deg[row]), 6),
        "speed_kmh": None if not np.isfinite(speed) else round(float(speed), 1),
        "altitude_m": None
        if not np.isfinite(tel.altitude_m[row])
        else round(float(tel.altitude_m[row]), 1),
    }


def evidence_rows(start: int, end: int, peak: int | None = None, limit: int = 5) -> list[int]:
    """Rows to show as evidence of the run ``[start, end)``: first, peak, last, and a few
    in between (at most ``limit``)."""
    n = end - start
    if n <= limit:
        return list(range(start, end))
    picks = {start, end - 1}
    if peak is not None:
        picks.add(int(peak))
    step = max(1, n // (limit - 1))
    k = start + step
    while len(picks) < limit and k < end - 1:
        picks.add(k)
        k += step
    return sorted(picks)


def rank(findings: Iterable[Finding]) -> list[Finding]:
    """Findings ordered by score (highest first), then kind, terminal and start."""
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(
        findings,
        key=lambda f: (-round(f.score, 6), order.get(f.kind, 99), f.terminal_ids, f.start),
    )


def findings_geojson(findings: Sequence[Finding]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: one Point per finding (its representative place) with
    its properties, plus a LineString of its evidence fixes when it has several."""
    features = []
    for i, f in enumerate(findings):
        props = f.to_dict()
        props.pop("latitude_deg")
        props.pop("longitude_deg")
        props["rank"] = i + 1
        props["details"] = json.dumps(props["details"], ensure_ascii=False)
        props["fixes"] = json.dumps(props["fixes"], ensure_ascii=False)
        props["terminal_ids"] = ",".join(f.terminal_ids)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [f.longitude_deg, f.latitude_deg]},
                "properties": props,
            }
        )
        if len(f.fixes) > 1 and f.kind != "unregistered-cluster":
            line = [[fx["longitude_deg"], fx["latitude_deg"]] for fx in f.fixes]
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": line},
                    "properties": {"rank": i + 1, "kind": f.kind, "role": "evidence fixes"},
                }
            )
    return {"type": "FeatureCollection", "features": features}
