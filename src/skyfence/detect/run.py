"""Run the detectors over telemetry: sort once, clean once, decide once, detect."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skyfence.detect import motion, place
from skyfence.detect.context import Context, DetectOptions
from skyfence.detect.findings import KINDS, Finding, findings_geojson, rank
from skyfence.detect.history import Decisions, PolicyHistory, ShardRunner, decide_reports
from skyfence.detect.telemetry import Telemetry
from skyfence.detect.tracks import Tracks, build_tracks
from skyfence.errors import InputError
from skyfence.policy import Policy, TerminalRegistry

__all__ = ["DETECTORS", "DetectionReport", "detect"]

#: The detector function of each finding kind.
DETECTORS: dict[str, Callable[[Context], list[Finding]]] = {
    "service-area": place.service_area,
    "speed": place.speed,
    "altitude": place.altitude,
    "impossible-travel": motion.impossible_travel,
    "roaming": place.roaming,
    "dark-gap": motion.dark_gap,
    "unregistered-cluster": motion.unregistered_cluster,
    "border-shuttle": motion.border_shuttle,
}
assert tuple(DETECTORS) == KINDS


@dataclass(eq=False)
class DetectionReport:
    """Findings of one run, ranked, with what the run looked at.

    ``tracks`` and ``decisions`` are kept for further analysis (rule impact) and are not
    part of :meth:`to_dict`.
    """

    findings: list[Finding]
    rows: int
    terminals: int
    undecided_rows: int
    jumps: int
    versions: list[int | None]
    seconds: dict[str, float]
    source: str = ""
    first_version_at: str | None = None
    rejected_count: int = 0
    rejected: list[str] = field(default_factory=list)
    tracks: Tracks | None = field(default=None, repr=False)
    decisions: Decisions | None = field(default=None, repr=False)

    def counts(self) -> dict[str, int]:
        """Findings per kind (every kind listed, zeros included)."""
        c = Counter(f.kind for f in self.findings)
        return {k: int(c.get(k, 0)) for k in KINDS}

    def flagged_terminals(self, kinds: tuple[str, ...] | None = None) -> set[str]:
        """Terminals with at least one finding (of ``kinds``, default any)."""
        return {
            t for f in self.findings if kinds is None or f.kind in kinds for t in f.terminal_ids
        }

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        """JSON-able summary and the findings (the first ``limit``, default all)."""
        shown = self.findings if limit is None else self.findings[:limit]
        return {
            "source": self.source,
            "rows": self.rows,
            "terminals": self.terminals,
            "undecided_rows": self.undecided_rows,
            "single_gps_jumps": self.jumps,
            "rejected_rows": self.rejected_count,
            "rejected": self.rejected,
            "policy_versions": self.versions,
            "first_version_at": self.first_version_at,
            "counts": self.counts(),
            "flagged_terminals": len(self.flagged_terminals()),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "findings": [f.to_dict() for f in shown],
        }

    def geojson(self) -> dict[str, Any]:
        """The findings as a GeoJSON FeatureCollection."""
        return findings_geojson(self.findings)


def detect(
    telemetry: Telemetry,
    policy: Policy | PolicyHistory,
    registry: TerminalRegistry | None = None,
    *,
    options: DetectOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    runner: ShardRunner | None = None,
) -> DetectionReport:
    """Run the detectors over ``telemetry``.

    Parameters
    ----------
    telemetry : Telemetry
        As read by :func:`~skyfence.detect.read_telemetry` (any order).
    policy : Policy or PolicyHistory
        One policy, or the versions in force one after another; every report is judged
        under the version in force at its time. Reports before the first version are not
        decided (counted in ``undecided_rows``).
    registry : TerminalRegistry, optional
        Registered terminals (plan, country, whitelists); a terminal not in it is
        unregistered.
    options : DetectOptions, optional
        Thresholds; which kinds to run.
    progress : callable, optional
        ``progress(done, total)``: reports decided, then one step per detector.
    runner : skyfence.scale.Runner, optional
        Decide the reports (the replay, the largest stage) in chunks where it runs them:
        local processes or a Dask cluster. The findings are the same as in one process.

    Returns
    -------
    DetectionReport
        Findings ranked by score.
    """
    options = options or DetectOptions()
    history = policy if isinstance(policy, PolicyHistory) else PolicyHistory(policy)
    registry = registry if registry is not None else TerminalRegistry(())
    if not isinstance(telemetry, Telemetry):
        raise InputError(f"detect takes a Telemetry, got {type(telemetry).__name__}")
    seconds: dict[str, float] = {}
    n = len(telemetry)
    total = n + len(options.kinds) * max(n // 20, 1)

    def tick(done: int) -> None:
        if progress is not None:
            progress(min(done, total), total)

    t0 = time.perf_counter()
    tracks = build_tracks(telemetry, options.tracks)
    seconds["tracks"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    decisions = decide_reports(
        tracks, history, registry, progress=lambda d, _t: tick(d), runner=runner
    )
    seconds["decide"] = time.perf_counter() - t0
    ctx = Context(tracks, decisions, history, registry, options)
    findings: list[Finding] = []
    done = n
    for kind in options.kinds:
        t0 = time.perf_counter()
        findings += DETECTORS[kind](ctx)
        seconds[kind] = time.perf_counter() - t0
        done += max(n // 20, 1)
        tick(done)
    tel = tracks.telemetry
    used = np.unique(decisions.version[decisions.version >= 0]).tolist()
    return DetectionReport(
        findings=rank(findings),
        rows=n,
        terminals=telemetry.n_terminals,
        undecided_rows=int(np.sum(decisions.version < 0)),
        jumps=int(tracks.jump.sum()),
        versions=[history.label(k) for k in used],
        seconds=seconds,
        source=tel.source,
        first_version_at=_first_version_at(history),
        rejected_count=tel.rejected_count,
        rejected=[str(r) for r in tel.rejected[:20]],
        tracks=tracks,
        decisions=decisions,
    )


def _first_version_at(history: PolicyHistory) -> str | None:
    """When the first version of a history came into force (``None``: always)."""
    from skyfence.detect.findings import iso

    at = history.versions[0].applied_at
    return None if at is None else iso(np.datetime64(at, "ns").astype(np.int64))
