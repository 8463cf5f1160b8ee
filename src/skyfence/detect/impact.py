"""Rule impact: replay telemetry under candidate policies and count what each would cut.

Every report is decided by the engine (``decide_batch``, under the version in force at its
time, with the speed at the fix) as the network would decide it; a terminal is *cut* by a
candidate when at least one of its reports is denied, and the *terminal-hours* cut are the
time from each denied report to the terminal's next report (at most ``max_report_h``: a
longer silence is not use). Cuts are split into misuse and legitimate use by the
detectors' labels: a terminal is misuse when the detectors, run under a reference policy
(by default the first candidate), find anything about it. When ground truth is known (a
generated scenario), the same split by the truth is given beside it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.detect.history import PolicyHistory, ShardRunner, decide_reports
from skyfence.detect.tracks import Tracks
from skyfence.errors import InputError
from skyfence.files import atomic_path
from skyfence.policy import REASONS, Policy, TerminalRegistry

__all__ = ["CandidateImpact", "ImpactReport", "rule_impact", "policy_variant", "plot_impact"]


@dataclass(frozen=True)
class CandidateImpact:
    """What one candidate policy cuts.

    ``*_terminals`` count terminals with at least one denied report; ``*_hours`` are
    terminal-hours of use cut; ``denied_by_reason`` counts denied reports by primary reason.
    ``truth`` holds the same split by ground truth when it was given.
    """

    name: str
    denied_reports: int
    terminals: int
    hours: float
    misuse_terminals: int
    legit_terminals: int
    misuse_hours: float
    legit_hours: float
    denied_by_reason: dict[str, int]
    truth: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("hours", "misuse_hours", "legit_hours"):
            d[k] = round(d[k], 2)
        return d


@dataclass(eq=False)
class ImpactReport:
    """Impact of each candidate, and the labels the split used."""

    candidates: list[CandidateImpact]
    reference: str
    terminals: int
    hours: float
    misuse_terminals: int
    rows: int
    truth_misuse_terminals: int | None = None
    denied: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "rows": self.rows,
            "terminals": self.terminals,
            "terminal_hours": round(self.hours, 2),
            "misuse_terminals": self.misuse_terminals,
            "legit_terminals": self.terminals - self.misuse_terminals,
            "truth_misuse_terminals": self.truth_misuse_terminals,
            "candidates": [c.to_dict() for c in self.candidates],
        }


def _report_hours(tracks: Tracks, max_report_h: float) -> np.ndarray:
    """Hours of use each report stands for: until the terminal's next report, capped."""
    tel = tracks.telemetry
    n = len(tel)
    if n == 0:
        return np.zeros(0)
    last = np.r_[tracks.first[1:], True]
    nxt = np.r_[tel.time_ns[1:], tel.time_ns[-1]]
    h = np.where(last, 0.0, (nxt - tel.time_ns) / 3.6e12)
    h = np.minimum(h, max_report_h)
    # a terminal's last report stands for its median interval
    codes = tel.terminal
    med = np.zeros(tel.n_terminals)
    starts = np.flatnonzero(tracks.first)
    ends = np.r_[starts[1:], n]
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s > 1:
            med[codes[s]] = float(np.median(h[s : e - 1]))
    h[last] = med[codes[last]]
    return h


def rule_impact(
    tracks: Tracks,
    candidates: Mapping[str, Policy | PolicyHistory],
    registry: TerminalRegistry | None = None,
    *,
    misuse: Iterable[str] | None = None,
    reference: str | None = None,
    detect_options: Any = None,
    truth_misuse: Iterable[str] | None = None,
    max_report_h: float = 1.0,
    compile_kwargs: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    runner: ShardRunner | None = None,
) -> ImpactReport:
    """Replay ``tracks`` under each candidate and count terminals and terminal-hours cut.

    Parameters
    ----------
    tracks : Tracks
        From :func:`~skyfence.detect.build_tracks` (or a ``DetectionReport.tracks``).
    candidates : mapping of name to Policy or PolicyHistory
    registry : TerminalRegistry, optional
    misuse : iterable of str, optional
        Terminal ids the detectors labelled as misuse. Default: run the detectors under
        the ``reference`` candidate (default the first) and take every terminal with a
        finding.
    truth_misuse : iterable of str, optional
        Ground-truth misuse terminals (a generated scenario's), for a second split.
    max_report_h : float
        A report stands for at most this much use.
    runner : skyfence.scale.Runner, optional
        Replay each candidate in chunks where it runs them (local processes, Dask).
    """
    if not candidates:
        raise InputError("rule impact needs at least one candidate policy (--policy FILE)")
    if not max_report_h > 0:
        raise InputError(f"max_report_h must be > 0 hours, got {max_report_h!r}")
    registry = registry if registry is not None else TerminalRegistry(())
    histories = {
        name: c if isinstance(c, PolicyHistory) else PolicyHistory(c, compile_kwargs=compile_kwargs)
        for name, c in candidates.items()
    }
    names = list(histories)
    ref = reference if reference is not None else names[0]
    if ref not in histories:
        raise InputError(f"reference {ref!r} is not one of the candidates {', '.join(names)}")
    tel = tracks.telemetry
    n = len(tel)
    total = n * (len(names) + (1 if misuse is None else 0))
    done = 0

    def step(d: int, _t: int) -> None:
        if progress is not None:
            progress(done + d, total)

    if misuse is None:
        from skyfence.detect.run import detect

        report = detect(
            tel,
            histories[ref],
            registry,
            options=detect_options,
            progress=lambda d, t: step(int(d / max(t, 1) * n), n),
            runner=runner,
        )
        misuse = report.flagged_terminals()
        done += n
    misuse_codes = _codes(tel, misuse)
    truth_codes = None if truth_misuse is None else _codes(tel, truth_misuse)
    hours = _report_hours(tracks, max_report_h)
    out = []
    denied_masks = {}
    for name in names:
        d = decide_reports(tracks, histories[name], registry, progress=step, runner=runner)
        denied = d.decided & ~d.allowed
        denied_masks[name] = denied
        done += n
        codes = tel.terminal[denied]
        cut = np.unique(codes)
        h = hours[denied]
        is_mis = misuse_codes[codes]
        m = d.reasons_mask[denied].astype(np.int64)
        primary = np.log2(np.maximum(m & -m, 1)).astype(np.int64)  # lowest set bit
        codes_r, counts_r = np.unique(primary, return_counts=True)
        by_reason = {
            REASONS[c]: int(k) for c, k in zip(codes_r.tolist(), counts_r.tolist(), strict=True)
        }
        truth = None
        if truth_codes is not None:
            t_mis = truth_codes[codes]
            truth = {
                "misuse_terminals": int(np.sum(truth_codes[cut])),
                "legit_terminals": int(np.sum(~truth_codes[cut])),
                "misuse_hours": round(float(h[t_mis].sum()), 2),
                "legit_hours": round(float(h[~t_mis].sum()), 2),
            }
        out.append(
            CandidateImpact(
                name=name,
                denied_reports=int(denied.sum()),
                terminals=int(cut.size),
                hours=float(h.sum()),
                misuse_terminals=int(np.sum(misuse_codes[cut])),
                legit_terminals=int(np.sum(~misuse_codes[cut])),
                misuse_hours=float(h[is_mis].sum()),
                legit_hours=float(h[~is_mis].sum()),
                denied_by_reason=by_reason,
                truth=truth,
            )
        )
    return ImpactReport(
        candidates=out,
        reference=ref,
        terminals=tel.n_terminals,
        hours=float(hours.sum()),
        misuse_terminals=int(misuse_codes.sum()),
        rows=n,
        truth_misuse_terminals=None if truth_codes is None else int(truth_codes.sum()),
        denied=denied_masks,
    )


def _codes(tel: Any, ids: Iterable[str]) -> np.ndarray:
    wanted = set(map(str, ids))
    return np.array([str(t) in wanted for t in tel.terminal_ids.tolist()] + [False], dtype=bool)[
        :-1
    ]


def policy_variant(
    policy: Policy,
    *,
    max_speed_kmh: float | None = None,
    speed_rule: str | None = None,
    whitelist: bool | None = None,
    switch_off: str | None = None,
    name: str | None = None,
) -> Policy:
    """A copy of ``policy`` with one thing changed, for rule-impact comparisons.

    ``max_speed_kmh`` sets the limit of the speed rule ``speed_rule`` (default: every
    speed rule with a region); ``whitelist=False`` drops the whitelist-only rules;
    ``switch_off`` adds a rule that suspends the region expression from the start.

    Examples
    --------
    >>> from skyfence.policy import load_example
    >>> p = policy_variant(load_example("ukraine-2026"), max_speed_kmh=120)
    >>> p.rule("ua-speed-75").max_speed_kmh
    120
    """
    from skyfence.policy import ActivationRule

    rules = list(policy.rules)
    trules = list(policy.terminal_rules)
    if max_speed_kmh is not None:
        hit = False
        for i, r in enumerate(trules):
            if r.kind == "speed_limit" and (r.id == speed_rule if speed_rule else r.region):
                trules[i] = dataclasses.replace(r, max_speed_kmh=max_speed_kmh)
                hit = True
        if not hit:
            raise InputError(
                f"policy {policy.name!r} has no speed rule {speed_rule or 'with a region'}"
            )
    if whitelist is False:
        trules = [r for r in trules if r.kind != "whitelist_only"]
    if switch_off:
        rules.append(
            ActivationRule(
                id="impact-switch-off",
                region=switch_off,
                state="suspended",
                reason="switched off for a rule-impact comparison",
            )
        )
    return dataclasses.replace(
        policy, rules=tuple(rules), terminal_rules=tuple(trules), name=name or policy.name
    )


def plot_impact(report: ImpactReport, path: str | Path, *, title: str | None = None) -> Path:
    """Bar chart of terminals and terminal-hours each candidate cuts, misuse vs legitimate
    (PNG, written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"the impact plot is a PNG: give a file name ending in .png, got {path}")
    names = [c.name for c in report.candidates]
    y = np.arange(len(names))
    fig, axes = plt.subplots(1, 2, figsize=(11, 1.2 + 0.6 * len(names)), sharey=True)
    for ax, (mis, leg, label) in zip(
        axes,
        (
            (
                [c.misuse_terminals for c in report.candidates],
                [c.legit_terminals for c in report.candidates],
                "terminals cut",
            ),
            (
                [c.misuse_hours for c in report.candidates],
                [c.legit_hours for c in report.candidates],
                "terminal-hours cut",
            ),
        ),
        strict=True,
    ):
        ax.barh(y, mis, color="#c0392b", label="misuse (detectors' labels)")
        ax.barh(y, leg, left=mis, color="#2e86c1", label="legitimate use")
        for yi, (m, lg) in enumerate(zip(mis, leg, strict=True)):
            ax.text(m + lg, yi, f" {m:,.0f} / {lg:,.0f}", va="center", fontsize=8)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    axes[1].legend(loc="best", fontsize=8)
    fig.suptitle(title or f"rule impact (labels from the detectors under {report.reference!r})")
    fig.tight_layout()
    try:
        with atomic_path(path, make_parents=True) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)
    return path
