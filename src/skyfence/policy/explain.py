"""Explain one decision: turn the kernel's codes into a :class:`~skyfence.policy.Decision`
with one sentence per failed check, each naming its rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from skyfence.policy.decision import KINDS, REASON_CODE, REASONS, Decision
from skyfence.policy.rules import STATES
from skyfence.timeutil import datetime64_to_iso

if TYPE_CHECKING:
    from skyfence.policy.compile import CompiledPolicy
    from skyfence.policy.terminals import Terminal

__all__ = ["decision"]


def decision(
    cp: CompiledPolicy,
    out: Mapping[str, Any],
    terminal_id: str,
    term: Terminal | None,
    lat: float,
    lon: float,
    t: np.datetime64,
    speed_kmh: float | None,
    altitude_m: float | None,
) -> Decision:
    """The :class:`Decision` of row 0 of the kernel's (detailed) output ``out``."""
    pol = cp.policy
    n_act = cp.n_activation
    allowed = bool(out["allowed"][0])
    mask = int(out["reasons_mask"][0])
    state_code = int(out["state"][0])
    state = STATES[state_code] if state_code >= 0 else "invalid_input"
    slot = int(out["region"][0])
    region = cp.region_exprs[slot] if slot >= 0 else None
    c = int(out["country"][0])
    country = str(cp.countries.regions[c].id) if c >= 0 else None
    srule = int(out["state_rule"][0])
    rule = int(out["rule"][0])
    rule_id = cp.rule_ids[rule] if rule >= 0 else None
    reasons: list[str] = []
    when = datetime64_to_iso(t) if not np.isnat(t) else "NaT"
    desc = cp.rule_desc.__getitem__

    if mask & (1 << REASON_CODE["invalid_input"]):
        reasons.append(
            "invalid_input: the request needs lat in [-90, 90], lon in [-180, 180], a time "
            f"and a speed >= 0; got lat={lat}, lon={lon}, time={when}, speed_kmh={speed_kmh}"
        )
    if mask & (1 << REASON_CODE["region_state"]):
        if srule < 0:
            reasons.append(
                "region_state: no rule covers this place, so it is not_licensed "
                "(everything unlisted is not_licensed)"
            )
        elif srule < n_act:
            reasons.append(
                f"region_state: {desc(srule)} puts region {pol.rules[srule].region!r} in "
                f"state {state} at {when}; only active serves"
            )
        else:
            reasons.append(
                f"region_state: {desc(srule)} gives the open sea state {state}; only active serves"
            )
    for kind in KINDS:
        j = int(out[kind][0])
        if j < 0:
            continue
        reasons.append(
            _terminal_reason(cp, kind, j, terminal_id, term, country, speed_kmh, altitude_m)
        )
    if allowed and srule >= 0:
        reasons.append(
            f"ok: {desc(srule)} makes {region or 'the open sea'!s} active and no terminal rule objects"
        )
    return Decision(
        allowed=allowed,
        state=state,
        region=region,
        rule_id=rule_id,
        reasons=reasons,
        reason=REASONS[int(out["reason"][0])],
        terminal_id=terminal_id,
        country=country,
        time=when,
    )


def _terminal_reason(
    cp: CompiledPolicy,
    kind: str,
    j: int,
    terminal_id: str,
    term: Terminal | None,
    country: str | None,
    speed_kmh: float | None,
    altitude_m: float | None,
) -> str:
    """The sentence for terminal rule ``j`` (a rule index) of ``kind`` failing."""
    r = cp.policy.terminal_rules[j - cp.n_activation]
    desc = cp.rule_desc[j]
    if kind == "whitelist_only":
        who = (
            f"terminal {terminal_id!r} is not whitelisted for it"
            if term is not None
            else f"terminal {terminal_id!r} is not registered"
        )
        return f"whitelist: {desc}: region {r.region!r} serves only whitelisted terminals; {who}"
    if kind == "speed_limit":
        return f"speed: {desc}: {speed_kmh:g} km/h is above the limit of {r.limit:g} km/h"
    if kind == "altitude":
        plans = ", ".join(r.exempt_plans) or "no plan"
        return (
            f"altitude: {desc}: {altitude_m:g} m is above {r.limit:g} m, where only "
            f"{plans} terminals are served"
        )
    if kind == "roaming":
        home = term.country if term is not None else "?"
        return (
            f"roaming: {desc}: terminal registered in {home} is abroad in {country} for more "
            f"than {r.limit:g} days of this trip"
        )
    plans = ", ".join(r.offshore_plans) or "no plan"
    plan = term.plan if term is not None else "unregistered"
    return (
        f"maritime: {desc}: more than {r.limit:g} km from land only {plans} terminals "
        f"are served; this one is {plan}"
    )
