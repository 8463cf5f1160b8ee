"""What every detector is given: the tracks, the engine's decisions, the policy history,
the registry, and the options (thresholds) with their defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from skyfence.detect.findings import KINDS
from skyfence.detect.history import Decisions, PolicyHistory
from skyfence.detect.tracks import TrackOptions, Tracks
from skyfence.errors import InputError
from skyfence.policy import TerminalRegistry

__all__ = ["DetectOptions", "Context"]


@dataclass(frozen=True)
class DetectOptions:
    """Thresholds of the detectors (defaults as documented in ``docs/detect.md``).

    Attributes
    ----------
    kinds : tuple of str
        Which detectors run (default: all of :data:`~skyfence.detect.findings.KINDS`).
    tracks : TrackOptions
        Single-GPS-jump and speed settings.
    min_fixes : int
        ``service-area``, ``speed``, ``altitude``, ``roaming``: a finding needs at least this
        many reports (jumps left out) that the engine denies for the reason.
    merge_gap_min : float
        Runs of such reports of one terminal, for the same rule, less than this many
        minutes apart are one finding.
    min_travel_km : float
        ``impossible-travel``: a step faster than ``tracks.max_speed_kmh`` over at least
        this distance is impossible.
    min_impossible : int
        ``impossible-travel``: impossible steps (or repeated jumps) a terminal needs (two
        GPS jumps in a row make two).
    repeat_jumps, repeat_jump_km : int, float
        ``impossible-travel``: this many single jumps landing within ``repeat_jump_km`` of
        each other are a second device or a spoofer, not GPS noise.
    min_gap_h : float
        ``dark-gap``: silence of at least this long (Global Fishing Watch uses 12 h for AIS).
    gap_probe_km : tuple of float
        ``dark-gap``: radii of the rings of probe points around where the terminal went
        silent and reappeared.
    cluster_eps_km, cluster_min_terminals, cluster_cell_deg : float, int, float
        ``unregistered-cluster``: DBSCAN (haversine) radius and the distinct terminals a
        cluster needs; points are first reduced to one per terminal and grid cell of
        ``cluster_cell_deg`` degrees.
    cluster_max_speed_kmh : float
        ``unregistered-cluster``: only fixes at most this fast (or of unknown speed) count:
        a cluster is terminals that stay together, not drones passing over.
    shuttle_min_crossings : int
        ``border-shuttle``: crossings a terminal needs.
    shuttle_min_dwell_min : float
        ``border-shuttle``: a side counts only when the terminal stays there this long
        (GPS noise at a border is not a crossing).
    shuttle_min_km : float
        ``border-shuttle``: ...and the mean places of two stays must be this far apart.
    shuttle_borders : {"restricted", "all"}
        ``"restricted"``: only crossings where one side is not served or is a sensitive
        region (a front line); ``"all"``: every border.
    flight_min_kmh, flight_min_altitude_m : float
        A crossing this fast, or with a fix this high, is a flight, not shuttling.
    """

    kinds: tuple[str, ...] = KINDS
    tracks: TrackOptions = field(default_factory=TrackOptions)
    min_fixes: int = 2
    merge_gap_min: float = 60.0
    min_travel_km: float = 50.0
    min_impossible: int = 3
    repeat_jumps: int = 3
    repeat_jump_km: float = 5.0
    min_gap_h: float = 12.0
    gap_probe_km: tuple[float, ...] = (10.0, 25.0)
    cluster_eps_km: float = 2.0
    cluster_min_terminals: int = 5
    cluster_cell_deg: float = 0.01
    cluster_max_speed_kmh: float = 10.0
    shuttle_min_crossings: int = 4
    shuttle_min_dwell_min: float = 30.0
    shuttle_min_km: float = 1.0
    shuttle_borders: str = "restricted"
    flight_min_kmh: float = 300.0
    flight_min_altitude_m: float = 1000.0

    def __post_init__(self) -> None:
        kinds = tuple(self.kinds)
        for k in kinds:
            if k not in KINDS:
                raise InputError(f"finding kind {k!r} is not one of {', '.join(KINDS)}")
        object.__setattr__(self, "kinds", kinds)
        if not float(self.merge_gap_min) >= 0:
            raise InputError(f"merge_gap_min must be >= 0, got {self.merge_gap_min!r}")
        if self.shuttle_borders not in ("restricted", "all"):
            raise InputError(
                f"shuttle_borders must be 'restricted' or 'all', got {self.shuttle_borders!r}"
            )
        for name in (
            "min_fixes",
            "min_impossible",
            "repeat_jumps",
            "cluster_min_terminals",
            "shuttle_min_crossings",
        ):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in (
            "min_travel_km",
            "min_gap_h",
            "cluster_eps_km",
            "cluster_cell_deg",
            "flight_min_kmh",
        ):
            if not float(getattr(self, name)) > 0:
                raise InputError(f"{name} must be > 0, got {getattr(self, name)!r}")


@dataclass(eq=False)
class Context:
    """Inputs shared by the detectors of one run."""

    tracks: Tracks
    decisions: Decisions
    history: PolicyHistory
    registry: TerminalRegistry
    options: DetectOptions

    @property
    def tel(self) -> Any:
        return self.tracks.telemetry

    @cached_property
    def clean_rows(self) -> np.ndarray:
        """Rows that are decided and not single GPS jumps, in sorted order."""
        return np.flatnonzero(~self.tracks.jump & self.decisions.decided)

    @cached_property
    def sensitive_names(self) -> frozenset[str]:
        """Normalised expressions of every version's sensitive regions."""
        out: set[str] = set()
        for v in self.history.versions:
            out.update("".join(s.split()).casefold() for s in v.policy.sensitive_regions)
        return frozenset(out)

    @cached_property
    def sensitive_region_ids(self) -> np.ndarray:
        """For each entry of ``decisions.region_names``: is it a sensitive region?"""
        names = self.decisions.region_names
        flags = ["".join(n.split()).casefold() in self.sensitive_names for n in names]
        return np.array([*flags, False], dtype=bool)  # last entry: region -1

    def region_is_sensitive(self, region: np.ndarray) -> np.ndarray:
        ids = self.sensitive_region_ids
        return ids[np.where(region >= 0, region, len(ids) - 1)]

    def version_number(self, k: int) -> int | None:
        return self.history.label(int(k)) if k >= 0 else None
