"""What the engine answers (:class:`Decision`, :class:`BatchDecision`), what it needs of
regions (:class:`RegionLike`, :class:`RegionIndexLike`), and the integer codes it works with.

Reason codes are the indices of :data:`REASONS`; a failed check sets bit ``1 << code`` of
``reasons_mask``, and the lowest set bit is the primary reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from skyfence.policy.rules import PLANS, STATES

__all__ = [
    "REASONS",
    "Decision",
    "BatchDecision",
    "RegionLike",
    "RegionIndexLike",
]

#: Reason codes of :class:`BatchDecision` (``REASONS[code]``); bit ``1 << code`` in
#: ``reasons_mask``. The order is also the priority of the primary reason.
REASONS: tuple[str, ...] = (
    "ok",
    "invalid_input",
    "region_state",
    "whitelist",
    "speed",
    "altitude",
    "roaming",
    "maritime",
)
REASON_CODE: dict[str, int] = {name: i for i, name in enumerate(REASONS)}
STATE_CODE: dict[str, int] = {name: i for i, name in enumerate(STATES)}
ACTIVE = STATE_CODE["active"]
NOT_LICENSED = STATE_CODE["not_licensed"]
T_MIN = int(np.iinfo(np.int64).min)  # NaT as int64: "no time" / an open start
T_MAX = int(np.iinfo(np.int64).max)  # an open end
NS_PER_DAY = 86_400 * 1_000_000_000
PLAN_BIT: dict[str, int] = {p: 1 << i for i, p in enumerate(PLANS)}
#: Terminal rule kinds in the order their reasons are checked, and the reason of each.
KINDS: tuple[str, ...] = ("whitelist_only", "speed_limit", "altitude", "roaming", "maritime")
KIND_REASON: dict[str, str] = {
    "whitelist_only": "whitelist",
    "speed_limit": "speed",
    "altitude": "altitude",
    "roaming": "roaming",
    "maritime": "maritime",
}
#: Columns :meth:`~skyfence.policy.CompiledPolicy.decide_batch` reads.
COLUMNS: tuple[str, ...] = (
    "terminal_id",
    "terminal_index",
    "lat",
    "lon",
    "time",
    "speed_kmh",
    "altitude_m",
    "trip_started",
)


def to_ns(value: Any, default: int) -> int:
    """A time as int64 nanoseconds since 1970, or ``default`` for ``None``/NaT."""
    if value is None:
        return default
    v = np.asarray(value, dtype="datetime64[ns]")
    return default if np.isnat(v) else int(v.astype(np.int64))


def plan_bits(plans: Sequence[str] | None, none: int = 0) -> int:
    """The plans as a bit set (``none`` when ``plans`` is ``None``)."""
    return none if plans is None else sum(PLAN_BIT[p] for p in plans)


class RegionLike(Protocol):
    """What the engine needs of a region (``skyfence.regions.Region`` has it)."""

    id: str
    name: str
    geometry: Any

    @property
    def area_km2(self) -> float: ...


class RegionIndexLike(Protocol):
    """What the engine needs of a region index (``skyfence.regions.RegionIndex`` has it)."""

    @property
    def regions(self) -> Sequence[Any]: ...

    def lookup(self, lat: Any, lon: Any) -> np.ndarray: ...

    def memberships(self, lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class Decision:
    """The answer for one request.

    ``state`` is the activation state at the place (``"invalid_input"`` when the request
    itself is invalid); ``region`` the region expression of the activation rule that set
    it (``None`` if no rule covers the place); ``rule_id`` the rule that decided: for a
    denial the rule behind the primary reason, for a grant the activation rule; ``reason``
    the primary reason code (``"ok"`` when allowed) and ``reasons`` one sentence per
    failed check, each naming its rule.
    """

    allowed: bool
    state: str
    region: str | None
    rule_id: str | None
    reasons: list[str]
    reason: str = "ok"
    terminal_id: str = ""
    country: str | None = None
    time: str = ""


@dataclass(frozen=True)
class BatchDecision:
    """Column results of :meth:`CompiledPolicy.decide_batch`, one entry per row.

    Attributes
    ----------
    allowed : bool (N,)
    state : int8 (N,)  index into :data:`skyfence.policy.STATES`; -1 for invalid rows
    region : int32 (N,)  index into ``policy.regions`` of the deciding activation rule's
        region (-1: none)
    rule : int32 (N,)  index into ``policy.rule_ids`` of the deciding rule (-1: none, e.g.
        an unlisted place)
    reason : uint8 (N,)  primary reason code, index into :data:`REASONS` (0 = ok)
    reasons_mask : uint16 (N,)  bit ``1 << code`` set for every failed check
    country : int32 (N,)  index into ``policy.countries.regions`` (-1: at sea / none)
    """

    allowed: np.ndarray
    state: np.ndarray
    region: np.ndarray
    rule: np.ndarray
    reason: np.ndarray
    reasons_mask: np.ndarray
    country: np.ndarray
    rule_ids: tuple[str, ...] = field(default=(), repr=False)

    def __len__(self) -> int:
        return len(self.allowed)

    def state_names(self) -> np.ndarray:
        """State of each row as text (``"invalid_input"`` for invalid rows)."""
        names = np.array([*STATES, "invalid_input"], dtype=object)
        return np.asarray(names[np.where(self.state < 0, len(STATES), self.state)])

    def reason_names(self) -> np.ndarray:
        """Primary reason of each row as text."""
        return np.asarray(np.array(REASONS, dtype=object)[self.reason])

    def rule_names(self) -> np.ndarray:
        """Deciding rule id of each row (``None`` where no rule decided)."""
        names = np.array([*self.rule_ids, None], dtype=object)
        return np.asarray(names[np.where(self.rule < 0, len(self.rule_ids), self.rule)])
