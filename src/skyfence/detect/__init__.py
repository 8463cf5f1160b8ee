"""skyfence.detect: find misuse in the location reports terminals send, with evidence.

Read telemetry (:func:`read_telemetry`), run the detectors under the policy in force at
each report's time (:func:`detect`), measure what candidate rules would cut
(:func:`rule_impact`), and generate labelled scenarios to check it all
(:func:`simulate`).

>>> from skyfence.detect import KINDS
>>> KINDS[:3]
('service-area', 'speed', 'altitude')
"""

from skyfence.detect.context import DetectOptions
from skyfence.detect.findings import KINDS, Finding
from skyfence.detect.history import Decisions, PolicyHistory, VersionInForce, decide_reports
from skyfence.detect.run import DetectionReport, detect
from skyfence.detect.telemetry import (
    COLUMNS,
    Rejected,
    Telemetry,
    check_column,
    read_column,
    read_telemetry,
    write_telemetry,
)
from skyfence.detect.tracks import TrackOptions, Tracks, build_tracks

__all__ = [
    "KINDS",
    "COLUMNS",
    "Finding",
    "DetectOptions",
    "TrackOptions",
    "Tracks",
    "build_tracks",
    "Decisions",
    "PolicyHistory",
    "VersionInForce",
    "decide_reports",
    "DetectionReport",
    "detect",
    "Rejected",
    "Telemetry",
    "read_telemetry",
    "check_column",
    "read_column",
    "write_telemetry",
]
