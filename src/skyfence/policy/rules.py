"""The rules of a policy as plain, immutable values, and the vocabulary they use.

An :class:`ActivationRule` gives a region expression a state during an effective window; a
:class:`TerminalRule` limits terminals (whitelist-only regions, speed, altitude, roaming,
maritime). Times are UTC ``datetime64[ns]``; ``None`` is an open end of a window.

This module imports nothing else of :mod:`skyfence.policy`: the loader, the engine and the
:class:`~skyfence.policy.Policy` build on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from skyfence.errors import InputError
from skyfence.timeutil import parse_time

__all__ = [
    "STATES",
    "SERVING_STATES",
    "SEVERITY",
    "PLANS",
    "TERMINAL_RULE_KINDS",
    "KIND_FIELDS",
    "ID_PATTERN",
    "TIME_MIN",
    "TIME_MAX",
    "ActivationRule",
    "TerminalRule",
    "normalize_region_expr",
    "policy_time",
    "time_to_iso",
]

#: Activation states, in the order of their integer codes (``STATES[code]``).
STATES: tuple[str, ...] = (
    "active",
    "coming_soon",
    "waitlist",
    "pending_licence",
    "not_licensed",
    "suspended",
    "denied",
)
#: States in which a terminal may be served (all others deny with reason ``region_state``).
SERVING_STATES: tuple[str, ...] = ("active",)
#: Tie-break between rules whose regions are equally specific: lower wins (most restrictive).
SEVERITY: dict[str, int] = {
    "denied": 0,
    "suspended": 1,
    "not_licensed": 2,
    "pending_licence": 3,
    "waitlist": 4,
    "coming_soon": 5,
    "active": 6,
}
#: Terminal plans, in the order of their integer codes.
PLANS: tuple[str, ...] = ("fixed", "roam", "maritime", "aviation", "government")
#: Kinds of terminal rule.
TERMINAL_RULE_KINDS: tuple[str, ...] = (
    "whitelist_only",
    "speed_limit",
    "altitude",
    "roaming",
    "maritime",
)
#: The fields each kind of terminal rule reads (besides id, window, reason, author, sensitive).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "whitelist_only": ("region",),
    "speed_limit": (
        "region",
        "plans",
        "exempt_plans",
        "honour_speed_exemption",
        "max_speed_kmh",
    ),
    "altitude": ("region", "max_altitude_m", "exempt_plans"),
    "roaming": ("plans", "exempt_plans", "max_trip_days"),
    "maritime": ("offshore_km", "open_sea_state", "offshore_plans"),
}
#: The field each kind cannot do without.
KIND_REQUIRED: dict[str, str] = {
    "whitelist_only": "region",
    "speed_limit": "max_speed_kmh",
    "altitude": "max_altitude_m",
    "roaming": "max_trip_days",
    "maritime": "offshore_km",
}
#: Rule ids: 1-64 letters, digits or ``_ . : -``, starting with a letter or digit.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")

#: The earliest and latest time a policy may name (inclusive, exclusive). The engine keeps
#: times as ``datetime64[ns]``, which holds 1677-09-21 .. 2262-04-11; whole years inside
#: that range are accepted, so nothing wraps.
TIME_MIN = datetime(1678, 1, 1, tzinfo=UTC)
TIME_MAX = datetime(2262, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FRACTION = re.compile(r"^(.*?\d\d:\d\d:\d\d)[.,](\d{1,9})(.*)$")
_RANGE_HINT = "times must lie in the years 1678 to 2261 (UTC)"


def normalize_region_expr(expr: str) -> str:
    """Canonical text of a region expression for comparisons: case-folded, no whitespace.

    Examples
    --------
    >>> normalize_region_expr(" UA - Crimea ")
    'ua-crimea'
    """
    return "".join(str(expr).split()).casefold()


def _ns_of(dt: datetime) -> int:
    """Nanoseconds since 1970 of an aware datetime, exactly (no float)."""
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def policy_time(value: Any) -> np.datetime64 | None:
    """A policy time as UTC ``datetime64[ns]``, exactly, or ``None`` for ``None``/NaT.

    Text is ISO 8601 (``2026-02-01``, ``2026-02-01T00:00:00Z``, ``+02:00`` offsets, up to
    nine fractional digits). Times outside 1678-01-01 .. 2262-01-01 are refused with
    :class:`~skyfence.errors.InputError` instead of wrapping around.

    Examples
    --------
    >>> policy_time("2026-02-01T00:00:00.000000001Z")
    np.datetime64('2026-02-01T00:00:00.000000001')
    >>> policy_time("9999-12-31T00:00:00Z")
    Traceback (most recent call last):
    ...
    skyfence.errors.InputError: time '9999-12-31T00:00:00Z' is out of range: times must lie in the years 1678 to 2261 (UTC)
    """
    if value is None:
        return None
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        seconds = value.astype("datetime64[s]").astype(np.int64)
        lo, hi = _ns_of(TIME_MIN) // 10**9, _ns_of(TIME_MAX) // 10**9
        if not lo <= int(seconds) < hi:
            raise InputError(f"time {value!s} is out of range: {_RANGE_HINT}")
        return np.datetime64(int(value.astype("datetime64[ns]").astype(np.int64)), "ns")
    if isinstance(value, datetime):
        dt = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        extra_ns = 0
    else:
        text = str(value).strip()
        extra_ns = 0
        m = _FRACTION.match(text)
        if m:
            digits = m.group(2)
            extra_ns = int(digits.ljust(9, "0"))
            text = m.group(1) + m.group(3)
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InputError(
                f"cannot read time {value!r}: expected ISO 8601 such as 2026-02-01T00:00:00Z"
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
    try:
        ns = _ns_of(dt.astimezone(UTC)) + extra_ns
    except (OverflowError, ValueError):
        raise InputError(f"time {value!r} is out of range: {_RANGE_HINT}") from None
    if not _ns_of(TIME_MIN) <= ns < _ns_of(TIME_MAX):
        raise InputError(f"time {value!r} is out of range: {_RANGE_HINT}")
    return np.datetime64(ns, "ns")


def time_to_iso(t: np.datetime64 | None) -> str | None:
    """ISO 8601 text with ``Z`` that :func:`policy_time` reads back to the same nanosecond.

    Whole seconds are written without a fraction; otherwise as many digits as needed
    (3, 6 or 9).

    Examples
    --------
    >>> time_to_iso(np.datetime64("2026-02-01T00:00:00.250", "ns"))
    '2026-02-01T00:00:00.250Z'
    """
    if t is None:
        return None
    ns = int(np.asarray(t, dtype="datetime64[ns]").astype(np.int64))
    for unit, per in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if ns % per == 0:
            return f"{np.datetime_as_string(np.asarray(ns // per, dtype=f'datetime64[{unit}]'))}Z"
    return f"{np.datetime_as_string(np.asarray(ns, dtype='datetime64[ns]'))}Z"


def in_window(t: np.datetime64, start: np.datetime64 | None, end: np.datetime64 | None) -> bool:
    """Whether ``t`` lies in the half-open window ``[start, end)`` (``None`` = open end)."""
    return bool((start is None or start <= t) and (end is None or t < end))


@dataclass(frozen=True)
class ActivationRule:
    """Give ``region`` (a region expression) ``state`` from ``effective_from`` until
    ``effective_until`` (half-open window ``[from, until)``; ``None`` = open end).

    Changes to a rule with ``sensitive=True`` need a second operator's approval.
    """

    id: str
    region: str
    state: str
    effective_from: np.datetime64 | None = None
    effective_until: np.datetime64 | None = None
    reason: str = ""
    author: str = ""
    sensitive: bool = False

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise InputError(f"state {self.state!r} is not one of {', '.join(STATES)}")
        object.__setattr__(self, "effective_from", policy_time(self.effective_from))
        object.__setattr__(self, "effective_until", policy_time(self.effective_until))

    def in_force(self, time: Any) -> bool:
        """Whether the rule's effective window contains ``time``."""
        return in_window(parse_time(time), self.effective_from, self.effective_until)

    def to_document(self) -> dict[str, Any]:
        """JSON-able form (times as ISO 8601 with ``Z``)."""
        return {
            "id": self.id,
            "region": self.region,
            "state": self.state,
            "effective_from": time_to_iso(self.effective_from),
            "effective_until": time_to_iso(self.effective_until),
            "reason": self.reason,
            "author": self.author,
            "sensitive": self.sensitive,
        }


@dataclass(frozen=True)
class TerminalRule:
    """A rule on terminals rather than places. ``kind`` is one of :data:`TERMINAL_RULE_KINDS`.

    * ``whitelist_only``: inside ``region`` only terminals whitelisted for it are served.
    * ``speed_limit``: inside ``region`` (``None`` = everywhere), terminals of ``plans``
      (``None`` = every plan) faster than ``max_speed_kmh`` are not served, except
      ``exempt_plans`` and, when ``honour_speed_exemption``, terminals with an explicit
      speed exemption.
    * ``altitude``: above ``max_altitude_m`` only ``exempt_plans`` are served.
    * ``roaming``: outside its registered country a terminal of ``plans`` (not in
      ``exempt_plans``) is served at most ``max_trip_days`` days per trip.
    * ``maritime``: at sea and more than ``offshore_km`` from land only ``offshore_plans``
      are served; points at sea that no activation rule covers take ``open_sea_state``.
    """

    id: str
    kind: str
    region: str | None = None
    plans: tuple[str, ...] | None = None
    exempt_plans: tuple[str, ...] = ()
    honour_speed_exemption: bool = True
    max_speed_kmh: float | None = None
    max_altitude_m: float | None = None
    max_trip_days: float | None = None
    offshore_km: float | None = None
    open_sea_state: str | None = None
    offshore_plans: tuple[str, ...] = ()
    effective_from: np.datetime64 | None = None
    effective_until: np.datetime64 | None = None
    reason: str = ""
    author: str = ""
    sensitive: bool = False

    def __post_init__(self) -> None:
        if self.kind not in TERMINAL_RULE_KINDS:
            raise InputError(
                f"terminal rule kind {self.kind!r} is not one of {', '.join(TERMINAL_RULE_KINDS)}"
            )
        for name in ("plans", "exempt_plans", "offshore_plans"):
            value = getattr(self, name)
            if value is None:
                continue
            value = tuple(value)
            for plan in value:
                if plan not in PLANS:
                    raise InputError(f"plan {plan!r} is not one of {', '.join(PLANS)}")
            object.__setattr__(self, name, value)
        if self.open_sea_state is not None and self.open_sea_state not in STATES:
            raise InputError(f"state {self.open_sea_state!r} is not one of {', '.join(STATES)}")
        object.__setattr__(self, "effective_from", policy_time(self.effective_from))
        object.__setattr__(self, "effective_until", policy_time(self.effective_until))
        required = KIND_REQUIRED[self.kind]
        if getattr(self, required) is None:
            raise InputError(f"terminal rule {self.id!r} of kind {self.kind} needs {required}")

    @property
    def limit(self) -> float:
        """The rule's numeric limit (speed km/h, altitude m, trip days, offshore km; 0 if none)."""
        value = {
            "speed_limit": self.max_speed_kmh,
            "altitude": self.max_altitude_m,
            "roaming": self.max_trip_days,
            "maritime": self.offshore_km,
        }.get(self.kind)
        return float(value or 0.0)

    def in_force(self, time: Any) -> bool:
        """Whether the rule's effective window contains ``time``."""
        return in_window(parse_time(time), self.effective_from, self.effective_until)

    def to_document(self) -> dict[str, Any]:
        """JSON-able form with only the fields that matter for this kind."""
        doc: dict[str, Any] = {"id": self.id, "kind": self.kind}
        for name in KIND_FIELDS[self.kind]:
            value = getattr(self, name)
            doc[name] = list(value) if isinstance(value, tuple) else value
        doc.update(
            effective_from=time_to_iso(self.effective_from),
            effective_until=time_to_iso(self.effective_until),
            reason=self.reason,
            author=self.author,
            sensitive=self.sensitive,
        )
        return doc
