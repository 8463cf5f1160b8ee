"""Detectors read off the engine's decisions: ``service-area``, ``speed``, ``altitude`` and
``roaming``.

Each takes the reports the engine denies for its reason (``decide_batch`` under the version
in force at the report's time, with the speed at the fix from the track), leaves out single
GPS jumps, and makes one finding per run of at least ``min_fixes`` consecutive such reports
of a terminal (a run also ends where the deciding rule or the policy version changes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from skyfence.detect.context import Context
from skyfence.detect.findings import Finding, evidence_rows, fix_record, iso, score_from
from skyfence.detect.history import PLACE_REASONS
from skyfence.detect.tracks import group_starts, runs
from skyfence.policy import REASONS, STATES

__all__ = ["service_area", "speed", "altitude", "roaming", "run_findings"]


def run_groups(ctx: Context, flag: np.ndarray, key: np.ndarray, min_fixes: int) -> list[np.ndarray]:
    """Rows of each run of ``flag`` over the clean rows of each terminal, split where ``key``
    changes; runs of one terminal and key less than ``merge_gap_min`` apart are one group;
    groups of fewer than ``min_fixes`` rows are dropped."""
    rows = ctx.clean_rows
    if rows.size == 0:
        return []
    f = flag[rows]
    k = key[rows]
    term = ctx.tel.terminal[rows]
    breaks = group_starts(term) | group_starts(k)
    starts, ends = runs(f, breaks)
    if starts.size == 0:
        return []
    t = ctx.tel.time_ns[rows]
    gap_ns = ctx.options.merge_gap_min * 6e10
    join = np.r_[
        False,
        (term[starts[1:]] == term[starts[:-1]])
        & (k[starts[1:]] == k[starts[:-1]])
        & ((t[starts[1:]] - t[ends[:-1] - 1]) <= gap_ns),
    ]
    group = np.cumsum(~join) - 1
    first = np.flatnonzero(~join)
    last = np.r_[first[1:], starts.size]
    out = []
    for g0, g1 in zip(first.tolist(), last.tolist(), strict=True):
        if g1 - g0 == 1:
            sel = rows[starts[g0] : ends[g0]]
        else:
            sel = rows[np.concatenate([np.arange(starts[m], ends[m]) for m in range(g0, g1)])]
        if sel.size >= min_fixes:
            out.append(sel)
    del group
    return out


def run_findings(
    ctx: Context,
    flag: np.ndarray,
    key: np.ndarray,
    make: Callable[[np.ndarray], Finding | None],
    min_fixes: int,
) -> list[Finding]:
    """:func:`run_groups`, each turned into a finding by ``make(rows)``."""
    out = []
    for rows in run_groups(ctx, flag, key, min_fixes):
        finding = make(rows)
        if finding is not None:
            out.append(finding)
    return out


def _hours(ctx: Context, rows: np.ndarray) -> float:
    t = ctx.tel.time_ns
    return float(t[rows[-1]] - t[rows[0]]) / 3.6e12


def _fixes(ctx: Context, rows: np.ndarray, peak: int | None = None) -> tuple[dict[str, Any], ...]:
    pos = evidence_rows(0, len(rows), None if peak is None else int(np.searchsorted(rows, peak)))
    return tuple(fix_record(ctx.tel, int(rows[i]), ctx.tracks.speed_kmh[rows[i]]) for i in pos)


def _key(ctx: Context) -> np.ndarray:
    d = ctx.decisions
    return d.rule.astype(np.int64) * 1024 + d.version.astype(np.int64)


# ----------------------------------------------------------------------------- service-area
def service_area(ctx: Context) -> list[Finding]:
    """Reports from where the terminal may not be served under the policy in force then:
    the engine denies them for the place (``region_state``, ``whitelist`` or ``maritime``).

    Score: ``1 - exp(-hours / 6)`` of the run's duration (a run of one hour scores 0.15,
    a day 0.98)."""
    d = ctx.decisions
    flag = d.has(*PLACE_REASONS) & d.decided
    tel = ctx.tel

    def make(rows: np.ndarray) -> Finding:
        r0 = int(rows[0])
        hours = _hours(ctx, rows)
        rule = d.rule_names[d.rule[r0]] if d.rule[r0] >= 0 else None
        region = d.region_names[d.region[r0]] if d.region[r0] >= 0 else None
        mask = int(d.reasons_mask[r0])
        reason = next(r for r in PLACE_REASONS if mask & (1 << REASONS.index(r)))
        state = STATES[d.state[r0]] if d.state[r0] >= 0 else "?"
        country = d.country_names[d.country[r0]] if d.country[r0] >= 0 else "the open sea"
        why = {
            "region_state": f"{region or country} is {state}",
            "whitelist": f"{region or country} serves only whitelisted terminals",
            "maritime": "beyond the offshore limit for its plan",
        }[reason]
        mid = int(rows[len(rows) // 2])
        return Finding(
            kind="service-area",
            terminal_ids=(str(tel.terminal_ids[tel.terminal[r0]]),),
            score=float(score_from(hours / 6.0)),
            start=iso(tel.time_ns[r0]),
            end=iso(tel.time_ns[rows[-1]]),
            latitude_deg=float(tel.latitude_deg[mid]),
            longitude_deg=float(tel.longitude_deg[mid]),
            summary=f"{len(rows)} reports over {hours:.1f} h where it may not be served: {why} "
            f"(rule {rule})",
            rule_id=rule,
            region=region,
            policy_version=ctx.version_number(d.version[r0]),
            fixes=_fixes(ctx, rows),
            details={
                "reason": reason,
                "state": state,
                "country": country,
                "reports": len(rows),
                "hours": round(hours, 3),
            },
        )

    return run_findings(ctx, flag, _key(ctx), make, ctx.options.min_fixes)


# ----------------------------------------------------------------------------- speed / altitude
def _plan_applies(plans: tuple[str, ...] | None, plan: str | None) -> bool:
    if plans is None:
        return True
    return plan is not None and plan in plans


def _limit_rules(
    ctx: Context, rows: np.ndarray, kind: str, values: np.ndarray
) -> tuple[list[str | None], np.ndarray]:
    """For each of ``rows``: the rule of ``kind`` (speed_limit / altitude) in force there
    whose limit ``values`` exceed, the tightest one, and its limit (NaN: none); the same
    checks as the engine's, vectorised over the rows."""
    d = ctx.decisions
    tel = ctx.tel
    n = rows.size
    best = np.full(n, np.inf)
    best_id: list[str | None] = [None] * n
    reg = ctx.registry.terminals
    term_row = d.terminal_row[rows]
    plan = np.array([reg[r].plan if r >= 0 else "" for r in term_row.tolist()], dtype=object)
    exempt = np.array([reg[r].speed_exempt if r >= 0 else False for r in term_row.tolist()])
    t = tel.time_ns[rows]
    lat, lon = tel.latitude_deg[rows], tel.longitude_deg[rows]
    for k in np.unique(d.version[rows]).tolist():
        in_k = d.version[rows] == k
        for r in ctx.history.versions[k].policy.terminal_rules:
            if r.kind != kind:
                continue
            limit = r.max_speed_kmh if kind == "speed_limit" else r.max_altitude_m
            if limit is None:
                continue
            ok = in_k & (values > limit) & (limit < best)
            if r.effective_from is not None:
                ok &= t >= np.datetime64(r.effective_from, "ns").astype(np.int64)
            if r.effective_until is not None:
                ok &= t < np.datetime64(r.effective_until, "ns").astype(np.int64)
            if kind == "speed_limit":
                if r.plans is not None:
                    ok &= np.isin(plan, list(r.plans))
                if r.honour_speed_exemption:
                    ok &= ~exempt
            if r.exempt_plans:
                ok &= ~np.isin(plan, list(r.exempt_plans))
            if r.region and ok.any():
                idx = np.flatnonzero(ok)
                inside = ctx.history.resolve(r.region).contains(lat[idx], lon[idx])
                ok[idx[~inside]] = False
            best[ok] = limit
            for i in np.flatnonzero(ok).tolist():
                best_id[i] = r.id
    return best_id, np.where(np.isfinite(best), best, np.nan)


def _over_limit(
    ctx: Context, reason: str, kind: str, values: np.ndarray, unit: str
) -> list[Finding]:
    d = ctx.decisions
    flag = d.has(reason) & d.decided & np.isfinite(values)
    tel = ctx.tel
    key = d.version.astype(np.int64)
    rule_kind = "speed_limit" if kind == "speed" else "altitude"

    groups = run_groups(ctx, flag, key, ctx.options.min_fixes)
    peaks = np.array([int(g[int(np.argmax(values[g]))]) for g in groups], dtype=np.int64)
    rule_ids, limits = _limit_rules(ctx, peaks, rule_kind, values[peaks])
    what = "speed" if kind == "speed" else "altitude"
    tag = unit.replace("/", "")
    out = []
    for rows, peak, rule, lim in zip(
        groups, peaks.tolist(), rule_ids, limits.tolist(), strict=True
    ):
        v = values[rows]
        limit = None if np.isnan(lim) else float(lim)
        hours = _hours(ctx, rows)
        excess = float(values[peak]) / limit - 1.0 if limit else 1.0
        # score: how far over the limit, and for how long (x = excess * sqrt(reports))
        score = float(score_from(4.0 * excess * np.sqrt(len(rows) / 2.0)))
        out.append(
            Finding(
                kind=kind,
                terminal_ids=(str(tel.terminal_ids[tel.terminal[rows[0]]]),),
                score=score,
                start=iso(tel.time_ns[rows[0]]),
                end=iso(tel.time_ns[rows[-1]]),
                latitude_deg=float(tel.latitude_deg[peak]),
                longitude_deg=float(tel.longitude_deg[peak]),
                summary=f"{what} up to {values[peak]:,.0f} {unit} over {len(rows)} reports "
                f"({hours * 60:.0f} min), above the limit of {limit:g} {unit} (rule {rule})"
                if limit is not None
                else f"{what} up to {values[peak]:,.0f} {unit} over {len(rows)} reports",
                rule_id=rule,
                region=None,
                policy_version=ctx.version_number(d.version[peak]),
                fixes=_fixes(ctx, rows, peak),
                details={
                    f"peak_{kind}_{tag}": round(float(values[peak]), 1),
                    f"median_{kind}_{tag}": round(float(np.median(v)), 1),
                    "limit": limit,
                    "reports": len(rows),
                    "minutes": round(hours * 60, 1),
                    "reported": bool(np.isfinite(tel.speed_kmh[peak])) if kind == "speed" else True,
                },
            )
        )
    return out


def speed(ctx: Context) -> list[Finding]:
    """Reports faster than the speed limits that apply to the terminal (its plan, the
    region, exemptions), with the speed at each fix from the track when not reported.

    Score: ``1 - exp(-4 * excess * sqrt(reports / 2))`` with ``excess = peak / limit - 1``
    (20 % over for two reports: 0.55; 100 % over: 0.98)."""
    return _over_limit(ctx, "speed", "speed", ctx.tracks.speed_kmh, "km/h")


def altitude(ctx: Context) -> list[Finding]:
    """Reports higher than the altitude limit for the terminal's plan (reported altitude).

    Score: as ``speed``, with the altitude."""
    return _over_limit(ctx, "altitude", "altitude", ctx.tel.altitude_m, "m")


# ----------------------------------------------------------------------------- roaming
def roaming(ctx: Context) -> list[Finding]:
    """Reports abroad longer into a trip than the plan allows (the engine's roaming rule,
    with the trip's start taken from the terminal's history, else the registry).

    Score: ``1 - exp(-days / 7)`` of the days the run lasts."""
    d = ctx.decisions
    flag = d.has("roaming") & d.decided
    tel = ctx.tel

    def make(rows: np.ndarray) -> Finding:
        r0 = int(rows[0])
        hours = _hours(ctx, rows)
        policy = ctx.history.versions[int(d.version[r0])].policy
        t = np.datetime64(int(tel.time_ns[r0]), "ns")
        term_row = int(d.terminal_row[r0])
        plan = ctx.registry.terminals[term_row].plan if term_row >= 0 else None
        home = ctx.registry.terminals[term_row].country if term_row >= 0 else None
        rule = next(
            (
                r
                for r in policy.terminal_rules
                if r.kind == "roaming"
                and r.in_force(t)
                and _plan_applies(r.plans, plan)
                and plan not in r.exempt_plans
            ),
            None,
        )
        country = d.country_names[d.country[r0]] if d.country[r0] >= 0 else "?"
        days = rule.max_trip_days if rule is not None else None
        return Finding(
            kind="roaming",
            terminal_ids=(str(tel.terminal_ids[tel.terminal[r0]]),),
            score=float(score_from(hours / 24.0 / 7.0)),
            start=iso(tel.time_ns[r0]),
            end=iso(tel.time_ns[rows[-1]]),
            latitude_deg=float(tel.latitude_deg[r0]),
            longitude_deg=float(tel.longitude_deg[r0]),
            summary=f"registered in {home}, in {country} past day {days:g} of its trip abroad "
            f"for {hours / 24:.1f} more days (rule {rule.id if rule else None})"
            if days is not None
            else f"abroad in {country} longer than its plan allows",
            rule_id=rule.id if rule is not None else None,
            region=country,
            policy_version=ctx.version_number(d.version[r0]),
            fixes=_fixes(ctx, rows),
            details={
                "home_country": home,
                "country": country,
                "max_trip_days": days,
                "reports": len(rows),
                "days_over": round(hours / 24, 2),
            },
        )

    return run_findings(ctx, flag, _key(ctx), make, ctx.options.min_fixes)
