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
from typing import TYPE_CHECKING, Any

from skyfence.app._store import resolver
from skyfence.app.context import App
from skyfence.detect import (
    DetectionReport,
    DetectOptions,
    PolicyHistory,
    VersionInForce,
    build_tracks,
    check_column,
    detect,
    read_column,
    read_telemetry,
)
from skyfence.detect.evaluate import Score, classes_from_labels, evaluate
from skyfence.detect.impact import ImpactReport, plot_impact, rule_impact
from skyfence.detect.plot import plot_findings
from skyfence.detect.scenario import CLASSES, simulate, write_scenario
from skyfence.errors import InputError
from skyfence.files import check_output_file, write_text_atomic
from skyfence.policy import Policy, TerminalRegistry, load_policy

if TYPE_CHECKING:
    from skyfence.scale.runner import Parallel

__all__ = [
    "DetectRun",
    "DetectJob",
    "ImpactRun",
    "ImpactJob",
    "prepare_detect",
    "prepare_impact",
    "check_simulation",
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


def _load_policy_file(app: App, path: Path) -> Policy:
    return load_policy(path, resolve=resolver(app))


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
                    store.policy_document(v.version),
                    source=f"version {v.version}",
                    resolve=resolver(app),
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
    """Suffixes and writable places, before the work (an existing file is replaced)."""
    if geojson is not None:
        check_output_file(
            geojson, suffixes=(".geojson", ".json"), overwrite=True, option="--geojson"
        )
    if png is not None:
        check_output_file(png, suffixes=(".png",), overwrite=True, option="--png")


def _write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, ensure_ascii=False), make_parents=True)


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


@dataclass
class DetectJob:
    """A detection run whose inputs are checked and loaded (see :func:`prepare_detect`)."""

    app: App
    telemetry_path: Path
    history: PolicyHistory
    policy_source: str
    registry: TerminalRegistry
    on_invalid: str
    options: DetectOptions | None
    geojson: Path | None
    png: Path | None
    truth_column: str | None
    parallel: Parallel | None = None

    def run(self, progress: Progress | None = None) -> DetectRun:
        """Read the telemetry, run the detectors, write the outputs asked for."""
        from skyfence.scale.runner import open_runner

        tel = read_telemetry(self.telemetry_path, on_invalid=self.on_invalid)
        with open_runner(self.parallel) as runner:
            report = detect(
                tel, self.history, self.registry, options=self.options, progress=progress,
                runner=runner if runner.is_parallel else None,
            )  # fmt: skip
        run = DetectRun(report, self.policy_source)
        if self.geojson is not None:
            _write_json(self.geojson, report.geojson())
            run.files["geojson"] = str(self.geojson)
        if self.png is not None:
            sensitive = {s for v in self.history.versions for s in v.policy.sensitive_regions}
            plot_findings(
                report.findings,
                self.png,
                countries=self.app.world.countries,
                highlight=[self.history.resolve(s) for s in sorted(sensitive)],
                title=f"{len(report.findings):,} findings in {self.telemetry_path.name}",
            )
            run.files["png"] = str(self.png)
        if self.truth_column is not None:
            run.scores = evaluate(report, _truth(self.telemetry_path, self.truth_column, tel))
        return run


def _check_telemetry(path: Path) -> None:
    from skyfence.detect.telemetry import telemetry_format

    telemetry_format(path)
    if not path.is_file():
        raise InputError(f"telemetry file {path} does not exist")


def prepare_detect(
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
    parallel: Parallel | None = None,
) -> DetectJob:
    """Check the arguments and load the policy and registry (fast; every bad input fails
    here, before the long work of :meth:`DetectJob.run`). ``parallel``: where the reports
    are decided (local processes, Dask; default this process)."""
    _check_outputs(geojson, png)
    if on_invalid not in ("raise", "skip"):
        raise InputError(f"--on-invalid must be raise or skip, got {on_invalid!r}")
    if truth_column is not None and on_invalid != "raise":
        raise InputError("a truth column needs every row valid: leave --on-invalid at raise")
    history, source = policy_history(app, policy_file)
    registry = load_registry(app, terminals_file)
    _check_telemetry(telemetry_path)
    if truth_column is not None:
        check_column(telemetry_path, truth_column)
    return DetectJob(
        app,
        telemetry_path,
        history,
        source,
        registry,
        on_invalid,
        options,
        geojson,
        png,
        truth_column,
        parallel,
    )


def run_detect(
    app: App, telemetry_path: Path, *, progress: Progress | None = None, **kwargs: Any
) -> DetectRun:
    """:func:`prepare_detect` then :meth:`DetectJob.run` (``truth_column``, e.g. ``label``
    of a generated scenario, is read only after the detectors ran, to score them)."""
    return prepare_detect(app, telemetry_path, **kwargs).run(progress)


@dataclass
class ImpactJob:
    """A rule-impact run whose inputs are checked and loaded (see :func:`prepare_impact`)."""

    telemetry_path: Path
    candidates: dict[str, Policy]
    names: list[str]
    reference: str | None
    registry: TerminalRegistry
    on_invalid: str
    png: Path | None
    truth_column: str | None
    parallel: Parallel | None = None

    def run(self, progress: Progress | None = None) -> ImpactRun:
        tel = read_telemetry(self.telemetry_path, on_invalid=self.on_invalid)
        tracks = build_tracks(tel)
        truth = None
        if self.truth_column is not None:
            classes = _truth(self.telemetry_path, self.truth_column, tel)
            unknown = sorted({c for c in classes.values() if c not in CLASSES})
            if unknown:
                raise InputError(
                    f"unknown class(es) {', '.join(unknown)} in column {self.truth_column!r}"
                )
            truth = {t for t, c in classes.items() if CLASSES[c].misuse}
        from skyfence.scale.runner import open_runner

        with open_runner(self.parallel) as runner:
            report = rule_impact(
                tracks,
                self.candidates,
                self.registry,
                reference=self.reference,
                truth_misuse=truth,
                progress=progress,
                runner=runner if runner.is_parallel else None,
            )
        report.candidates = [c for c in report.candidates if c.name in self.names]
        run = ImpactRun(report)
        if self.png is not None:
            plot_impact(report, self.png)
            run.files["png"] = str(self.png)
        return run


def prepare_impact(
    app: App,
    telemetry_path: Path,
    policy_files: Sequence[Path],
    *,
    reference: Path | None = None,
    terminals_file: Path | None = None,
    on_invalid: str = "raise",
    png: Path | None = None,
    truth_column: str | None = None,
    parallel: Parallel | None = None,
) -> ImpactJob:
    """Check the arguments and load the candidates (every bad input fails here).
    ``parallel``: where the replays run (local processes, Dask; default this process)."""
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
    _check_telemetry(telemetry_path)
    if truth_column is not None:
        check_column(telemetry_path, truth_column)
    return ImpactJob(
        telemetry_path, candidates, names, ref_name, registry, on_invalid, png, truth_column,
        parallel,
    )  # fmt: skip


def run_impact(
    app: App,
    telemetry_path: Path,
    policy_files: Sequence[Path],
    *,
    progress: Progress | None = None,
    **kwargs: Any,
) -> ImpactRun:
    """Replay telemetry under each policy file and count what each would cut.

    Misuse labels come from the detectors run under ``reference`` (a policy file; default
    the first candidate). ``truth_column`` adds the split by a scenario's ground truth.
    """
    return prepare_impact(app, telemetry_path, policy_files, **kwargs).run(progress)


def check_simulation(
    out: Path,
    *,
    scenario: str = "ukraine-2026",
    terminals: int = 1000,
    days: float = 14.0,
    start: str = "2026-01-25T00:00:00Z",
) -> None:
    """Check :func:`simulate_scenario`'s arguments before any work."""
    from skyfence.detect.scenario import check_arguments
    from skyfence.detect.telemetry import telemetry_format

    telemetry_format(out)
    check_output_file(out, suffixes=(Path(out).suffix,), overwrite=True, option="--out")
    check_arguments(scenario, terminals, days, start)


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
    check_simulation(out, scenario=scenario, terminals=terminals, days=days, start=start)
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
