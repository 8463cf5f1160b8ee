"""Misuse detection operations: run the detectors, measure rule impact, simulate scenarios.

Each function takes the :class:`~skyfence.app.App` and returns result objects (no JSON,
no terminal output); the CLI and the service are thin adapters over them.

Policy: a policy file (``.yaml``/``.json``) is in force at every time; without one, the
store's policy versions are used, each in force from the time it was applied, so every
report is judged by the version in force when it was sent. Registry: a terminal file
(CSV/JSON), else the store's terminals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyfence.app.context import App
from skyfence.detect import (
    DetectionReport,
    DetectOptions,
    PolicyHistory,
    VersionInForce,
    build_tracks,
    detect,
    read_column,
    read_telemetry,
)
from skyfence.detect._io import write_text_atomic
from skyfence.detect.evaluate import Score, classes_from_labels, evaluate
from skyfence.detect.impact import ImpactReport, plot_impact, rule_impact
from skyfence.detect.plot import plot_findings
from skyfence.detect.scenario import CLASSES, simulate, write_scenario
from skyfence.errors import InputError
from skyfence.policy import Policy, TerminalRegistry, load_policy

__all__ = [
    "DetectRun",
    "ImpactRun",
    "policy_history",
    "load_registry",
    "run_detect",
    "run_impact",
    "simulate_scenario",
]

Progress = Callable[[int, int], None]


@dataclass
class DetectRun:
    """Result of :func:`run_detect`: the report, the policy source, files written and,
    when a truth column was given, precision and recall per detector."""

    report: DetectionReport
    policy_source: str
    files: dict[str, str] = field(default_factory=dict)
    scores: dict[str, Score] | None = None


@dataclass
class ImpactRun:
    """Result of :func:`run_impact`."""

    report: ImpactReport
    files: dict[str, str] = field(default_factory=dict)


def _resolver(app: App) -> Callable[[str], Any]:
    from skyfence.regions import parse_region

    w = app.world
    return lambda expr: parse_region(expr, w)


def _load_policy_file(app: App, path: Path) -> Policy:
    return load_policy(path, resolve=_resolver(app))


def policy_history(app: App, policy_file: Path | None = None) -> tuple[PolicyHistory, str]:
    """The policy to judge reports by: ``policy_file``, else the store's versions.

    Returns the history and a description of where it came from.
    """
    if policy_file is not None:
        return PolicyHistory(_load_policy_file(app, policy_file)), str(policy_file)
    with app.open_store() as store:
        versions = store.policy_versions()
        items = [
            VersionInForce(
                v.applied_at,
                Policy.from_document(
                    store.policy_document(v.version), source=f"version {v.version}"
                ),
                v.version,
            )
            for v in versions
        ]
    if not items:
        raise InputError(
            "the store holds no policy version: pass --policy FILE, or apply one with "
            "`skyfence policy apply FILE`"
        )
    return PolicyHistory(items), f"store ({len(items)} version{'s' * (len(items) != 1)})"


def load_registry(app: App, terminals_file: Path | None = None) -> TerminalRegistry:
    """Registered terminals from ``terminals_file`` (CSV/JSON), else from the store."""
    if terminals_file is not None:
        return TerminalRegistry.load(terminals_file)
    with app.open_store() as store:
        return TerminalRegistry.from_records(store.terminals())


def _check_outputs(geojson: Path | None, png: Path | None) -> None:
    if geojson is not None and geojson.suffix.lower() not in (".geojson", ".json"):
        raise InputError(f"--geojson {geojson}: give a file name ending in .geojson")
    if png is not None and png.suffix.lower() != ".png":
        raise InputError(f"--png {png}: give a file name ending in .png")


def _write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, ensure_ascii=False))


def _truth(telemetry_path: Path, column: str, tel: Any) -> dict[str, str]:
    """Terminal → ground-truth class from ``column`` of the file (evaluation only)."""
    labels = read_column(telemetry_path, column)
    if labels.shape[0] != len(tel) + tel.rejected_count:
        raise InputError(f"column {column!r} has {labels.shape[0]} rows, the telemetry {len(tel)}")
    import numpy as np

    # the telemetry keeps each report's file line; rows of the column are in file order
    order = np.argsort(tel.line, kind="stable")
    ids = tel.ids()[order]
    return classes_from_labels(ids, labels[: len(tel)])


def run_detect(
    app: App,
    telemetry_path: Path,
    *,
    policy_file: Path | None = None,
    terminals_file: Path | None = None,
    on_invalid: str = "raise",
    options: DetectOptions | None = None,
    geojson: Path | None = None,
    png: Path | None = None,
    truth_column: str | None = None,
    progress: Progress | None = None,
) -> DetectRun:
    """Read telemetry, run the detectors, write GeoJSON / a PNG map if asked.

    ``truth_column`` (e.g. ``label`` of a generated scenario) is read only after the
    detectors ran, to score them; the detectors never see it.
    """
    _check_outputs(geojson, png)
    history, source = policy_history(app, policy_file)
    registry = load_registry(app, terminals_file)
    tel = read_telemetry(telemetry_path, on_invalid=on_invalid)
    report = detect(tel, history, registry, options=options, progress=progress)
    run = DetectRun(report, source)
    if geojson is not None:
        _write_json(geojson, report.geojson())
        run.files["geojson"] = str(geojson)
    if png is not None:
        sensitive = {s for v in history.versions for s in v.policy.sensitive_regions}
        plot_findings(
            report.findings,
            png,
            countries=app.world.countries,
            highlight=[history.resolve(s) for s in sorted(sensitive)],
            title=f"{len(report.findings):,} findings in {telemetry_path.name}",
        )
        run.files["png"] = str(png)
    if truth_column is not None:
        if on_invalid != "raise":
            raise InputError("a truth column needs every row valid: leave --on-invalid at raise")
        run.scores = evaluate(report, _truth(telemetry_path, truth_column, tel))
    return run


def run_impact(
    app: App,
    telemetry_path: Path,
    policy_files: Sequence[Path],
    *,
    reference: Path | None = None,
    terminals_file: Path | None = None,
    on_invalid: str = "raise",
    png: Path | None = None,
    truth_column: str | None = None,
    progress: Progress | None = None,
) -> ImpactRun:
    """Replay telemetry under each policy file and count what each would cut.

    Misuse labels come from the detectors run under ``reference`` (a policy file; default
    the first candidate). ``truth_column`` adds the split by a scenario's ground truth.
    """
    if not policy_files:
        raise InputError("give at least one candidate with --policy FILE")
    _check_outputs(None, png)
    names = [str(p) for p in policy_files]
    if len(set(names)) != len(names):
        raise InputError("the same --policy file is given twice")
    candidates = {str(p): _load_policy_file(app, p) for p in policy_files}
    ref_name = None
    if reference is not None:
        ref_name = str(reference)
        if ref_name not in candidates:
            candidates = {ref_name: _load_policy_file(app, reference), **candidates}
    registry = load_registry(app, terminals_file)
    tel = read_telemetry(telemetry_path, on_invalid=on_invalid)
    tracks = build_tracks(tel)
    truth = None
    if truth_column is not None:
        classes = _truth(telemetry_path, truth_column, tel)
        unknown = sorted({c for c in classes.values() if c not in CLASSES})
        if unknown:
            raise InputError(f"unknown class(es) {', '.join(unknown)} in column {truth_column!r}")
        truth = {t for t, c in classes.items() if CLASSES[c].misuse}
    report = rule_impact(
        tracks, candidates, registry, reference=ref_name, truth_misuse=truth, progress=progress
    )
    if reference is not None and str(reference) not in names:
        report.candidates = [c for c in report.candidates if c.name != str(reference)]
    run = ImpactRun(report)
    if png is not None:
        plot_impact(report, png)
        run.files["png"] = str(png)
    return run


def simulate_scenario(
    app: App,
    out: Path,
    *,
    scenario: str = "ukraine-2026",
    seed: int = 0,
    terminals: int = 1000,
    days: float = 14.0,
    start: str = "2026-01-25T00:00:00Z",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Generate a labelled scenario and write it (telemetry with a ``label`` column, the
    terminal registry, the policy). Returns a summary with the files written."""
    from skyfence.detect.telemetry import telemetry_format

    telemetry_format(out)  # a bad suffix fails before any work
    sc = simulate(
        scenario, seed=seed, terminals=terminals, days=days, start=start, progress=progress
    )
    files = write_scenario(sc, out)
    from collections import Counter

    per_class = Counter(sc.classes.values())
    return {
        "scenario": scenario,
        "seed": seed,
        "rows": len(sc.telemetry),
        "terminals": len(sc.classes),
        "registered": len(sc.registry),
        "classes": {c: per_class.get(c, 0) for c in CLASSES},
        "misuse_terminals": len(sc.misuse()),
        "files": {k: str(v) for k, v in files.items()},
    }
