"""The activation policy and the terminal registry as plain, immutable values.

A :class:`Policy` is a list of :class:`ActivationRule` (a region expression gets a state
during an effective window) and a list of :class:`TerminalRule` (whitelist-only regions,
speed, altitude, roaming and maritime limits). It round-trips through a JSON-able document
(:meth:`Policy.to_document` / :meth:`Policy.from_document`), which is what the store keeps.

Times are UTC ``datetime64[ns]``; ``None`` means an open end of an effective window.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import InputError, NotFoundError, ParseError
from skyfence.timeutil import datetime64_to_iso, parse_time

__all__ = [
    "STATES",
    "SERVING_STATES",
    "SEVERITY",
    "PLANS",
    "TERMINAL_RULE_KINDS",
    "ActivationRule",
    "TerminalRule",
    "Policy",
    "Terminal",
    "TerminalRegistry",
    "normalize_region_expr",
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

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def normalize_region_expr(expr: str) -> str:
    """Canonical text of a region expression for comparisons: case-folded, no whitespace.

    Examples
    --------
    >>> normalize_region_expr(" UA - Crimea ")
    'ua-crimea'
    """
    return "".join(str(expr).split()).casefold()


def _time_or_none(value: Any) -> np.datetime64 | None:
    if value is None:
        return None
    t = parse_time(value)
    return None if np.isnat(t) else t


def _iso(t: Any) -> str | None:
    return None if t is None else datetime64_to_iso(t)


def _in_window(t: np.datetime64, start: np.datetime64 | None, end: np.datetime64 | None) -> bool:
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
        object.__setattr__(self, "effective_from", _time_or_none(self.effective_from))
        object.__setattr__(self, "effective_until", _time_or_none(self.effective_until))

    def in_force(self, time: Any) -> bool:
        """Whether the rule's effective window contains ``time``."""
        return _in_window(parse_time(time), self.effective_from, self.effective_until)

    def to_document(self) -> dict[str, Any]:
        """JSON-able form (times as ISO 8601 with ``Z``)."""
        return {
            "id": self.id,
            "region": self.region,
            "state": self.state,
            "effective_from": _iso(self.effective_from),
            "effective_until": _iso(self.effective_until),
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
        object.__setattr__(self, "effective_from", _time_or_none(self.effective_from))
        object.__setattr__(self, "effective_until", _time_or_none(self.effective_until))
        required = {
            "whitelist_only": ("region",),
            "speed_limit": ("max_speed_kmh",),
            "altitude": ("max_altitude_m",),
            "roaming": ("max_trip_days",),
            "maritime": ("offshore_km",),
        }[self.kind]
        for name in required:
            if getattr(self, name) is None:
                raise InputError(f"terminal rule {self.id!r} of kind {self.kind} needs {name}")

    def in_force(self, time: Any) -> bool:
        """Whether the rule's effective window contains ``time``."""
        return _in_window(parse_time(time), self.effective_from, self.effective_until)

    def to_document(self) -> dict[str, Any]:
        """JSON-able form with only the fields that matter for this kind."""
        doc: dict[str, Any] = {"id": self.id, "kind": self.kind}
        for name in _KIND_FIELDS[self.kind]:
            value = getattr(self, name)
            doc[name] = list(value) if isinstance(value, tuple) else value
        doc.update(
            effective_from=_iso(self.effective_from),
            effective_until=_iso(self.effective_until),
            reason=self.reason,
            author=self.author,
            sensitive=self.sensitive,
        )
        return doc


_KIND_FIELDS: dict[str, tuple[str, ...]] = {
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


@dataclass(frozen=True)
class Policy:
    """An activation policy: activation rules, terminal rules and sensitive regions.

    Build one from a file with :func:`skyfence.policy.load_policy`, or from a stored
    document with :meth:`from_document`; compile it with :meth:`compile` to decide.
    """

    rules: tuple[ActivationRule, ...] = ()
    terminal_rules: tuple[TerminalRule, ...] = ()
    name: str = ""
    description: str = ""
    sensitive_regions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "terminal_rules", tuple(self.terminal_rules))
        object.__setattr__(self, "sensitive_regions", tuple(self.sensitive_regions))
        seen: set[str] = set()
        every: list[ActivationRule | TerminalRule] = [*self.rules, *self.terminal_rules]
        for rule in every:
            if rule.id in seen:
                raise InputError(f"rule id {rule.id!r} is used twice; rule ids must be unique")
            seen.add(rule.id)

    @property
    def rule_ids(self) -> list[str]:
        """Ids of the activation rules then the terminal rules (the engine's rule indices)."""
        return [r.id for r in self.rules] + [r.id for r in self.terminal_rules]

    def rule(self, rule_id: str) -> ActivationRule | TerminalRule:
        """The rule with id ``rule_id`` (``NotFoundError`` lists the ids)."""
        everything: list[ActivationRule | TerminalRule] = [*self.rules, *self.terminal_rules]
        for r in everything:
            if r.id == rule_id:
                return r
        raise NotFoundError(f"no rule {rule_id!r}; rules are: {', '.join(self.rule_ids)}")

    def rules_at(self, time: Any) -> list[ActivationRule]:
        """The activation rules in force at ``time`` (time travel over effective windows)."""
        return [r for r in self.rules if r.in_force(time)]

    def terminal_rules_at(self, time: Any) -> list[TerminalRule]:
        """The terminal rules in force at ``time``."""
        return [r for r in self.terminal_rules if r.in_force(time)]

    def to_document(self) -> dict[str, Any]:
        """The JSON-able document the store keeps; :meth:`from_document` reads it back."""
        return {
            "skyfence_policy": 1,
            "name": self.name,
            "description": self.description,
            "sensitive_regions": list(self.sensitive_regions),
            "rules": [r.to_document() for r in self.rules],
            "terminal_rules": [r.to_document() for r in self.terminal_rules],
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any], *, source: str = "<document>") -> Policy:
        """Validate and build a policy from a parsed document (as from JSON or YAML)."""
        from skyfence.policy.loader import policy_from_data

        return policy_from_data(document, source=source)

    def compile(self, **kwargs: Any) -> Any:
        """Compile for fast decisions; see :class:`skyfence.policy.CompiledPolicy`."""
        from skyfence.policy.engine import CompiledPolicy

        return CompiledPolicy(self, **kwargs)

    @cached_property
    def engine(self) -> Any:
        """This policy compiled once with the default regions (``world()``), then reused."""
        return self.compile()

    def decide(
        self, terminal_id: str, lat: float, lon: float, time: Any = None, **kwargs: Any
    ) -> Any:
        """``self.engine.decide(...)``: see :meth:`skyfence.policy.CompiledPolicy.decide`."""
        return self.engine.decide(terminal_id, lat, lon, time, **kwargs)

    def decide_batch(self, table: Mapping[str, Any], **kwargs: Any) -> Any:
        """``self.engine.decide_batch(...)``: see :meth:`skyfence.policy.CompiledPolicy.decide_batch`."""
        return self.engine.decide_batch(table, **kwargs)


@dataclass(frozen=True)
class Terminal:
    """A registered user terminal.

    ``country`` is the ISO 3166-1 alpha-2 code of the registered country; ``whitelists`` the
    region expressions (or whitelist rule ids) it is whitelisted for; ``speed_exempt`` an
    explicit exemption from speed limits that honour it; ``trip_started`` when the current
    trip abroad began (``None`` = unknown, see the roaming rule).
    """

    id: str
    country: str
    plan: str
    whitelists: tuple[str, ...] = ()
    speed_exempt: bool = False
    trip_started: np.datetime64 | str | None = None

    def __post_init__(self) -> None:
        if not str(self.id).strip():
            raise InputError("terminal id must not be empty")
        if self.plan not in PLANS:
            raise InputError(f"plan {self.plan!r} is not one of {', '.join(PLANS)}")
        country = str(self.country).strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise InputError(
                f"country {self.country!r} of terminal {self.id!r} must be an ISO 3166-1 "
                "alpha-2 code such as UA or DE"
            )
        object.__setattr__(self, "country", country)
        whitelists = self.whitelists
        if isinstance(whitelists, str):
            whitelists = tuple(w for w in re.split(r"[;,]", whitelists) if w.strip())
        object.__setattr__(self, "whitelists", tuple(str(w).strip() for w in whitelists))
        object.__setattr__(self, "trip_started", _time_or_none(self.trip_started))

    def to_record(self) -> dict[str, Any]:
        """JSON-able record (the form the store keeps)."""
        return {
            "id": self.id,
            "country": self.country,
            "plan": self.plan,
            "whitelists": list(self.whitelists),
            "speed_exempt": self.speed_exempt,
            "trip_started": _iso(self.trip_started),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Terminal:
        """Build from a record such as :meth:`to_record` returns; unknown keys are an error.

        ``whitelist`` is accepted as another name of ``whitelists``; in text, entries are
        separated by ``;``.
        """
        record = dict(record)
        if "whitelist" in record and "whitelists" not in record:
            record["whitelists"] = record.pop("whitelist")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(record) - names
        if unknown:
            raise InputError(
                f"unknown terminal field(s) {', '.join(sorted(unknown))}; "
                f"valid fields are {', '.join(sorted(names))}"
            )
        missing = {"id", "country", "plan"} - {k for k, v in record.items() if v not in (None, "")}
        if missing:
            raise InputError(f"terminal record needs {', '.join(sorted(missing))}")
        exempt = record.get("speed_exempt", False)
        if isinstance(exempt, str):
            text = exempt.strip().lower()
            if text not in ("", "0", "1", "true", "false", "yes", "no"):
                raise InputError(f"speed_exempt must be true or false, got {exempt!r}")
            exempt = text in ("1", "true", "yes")
        trip = record.get("trip_started") or None
        return cls(
            id=str(record["id"]).strip(),
            country=str(record["country"]),
            plan=str(record["plan"]).strip().lower(),
            whitelists=record.get("whitelists") or (),
            speed_exempt=bool(exempt),
            trip_started=trip,
        )


@dataclass(frozen=True)
class TerminalRegistry:
    """An immutable set of terminals with a fast id → row lookup.

    Examples
    --------
    >>> reg = TerminalRegistry([Terminal("T1", "UA", "fixed", whitelists=("UA",))])
    >>> reg.index_of(["T1", "nope"]).tolist()
    [0, -1]
    """

    terminals: tuple[Terminal, ...] = ()
    _rows: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        terminals = tuple(self.terminals)
        object.__setattr__(self, "terminals", terminals)
        rows: dict[str, int] = {}
        for i, t in enumerate(terminals):
            if t.id in rows:
                raise InputError(f"terminal id {t.id!r} appears twice in the registry")
            rows[t.id] = i
        object.__setattr__(self, "_rows", rows)

    def __len__(self) -> int:
        return len(self.terminals)

    def __contains__(self, terminal_id: object) -> bool:
        return terminal_id in self._rows

    def get(self, terminal_id: str) -> Terminal:
        """The terminal ``terminal_id`` (``NotFoundError`` if it is not registered)."""
        try:
            return self.terminals[self._rows[terminal_id]]
        except KeyError:
            raise NotFoundError(
                f"terminal {terminal_id!r} is not registered; add it with "
                "`skyfence terminal add` or import a file"
            ) from None

    def index_of(self, terminal_ids: Iterable[str] | np.ndarray) -> np.ndarray:
        """Row of each id (``int64``; ``-1`` for ids that are not registered)."""
        ids = np.asarray(terminal_ids)
        if ids.ndim == 0:
            ids = ids.reshape(1)
        uniq, inverse = np.unique(ids.astype(str), return_inverse=True)
        rows = np.fromiter((self._rows.get(u, -1) for u in uniq.tolist()), np.int64, len(uniq))
        return rows[inverse.reshape(-1)]

    def with_terminal(self, terminal: Terminal) -> TerminalRegistry:
        """A new registry with ``terminal`` added or replaced."""
        out = [t for t in self.terminals if t.id != terminal.id]
        out.append(terminal)
        return TerminalRegistry(tuple(out))

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-able records."""
        return [t.to_record() for t in self.terminals]

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]]) -> TerminalRegistry:
        """Build from records (``InputError`` names the record number that is wrong)."""
        terminals = []
        for i, rec in enumerate(records):
            try:
                terminals.append(Terminal.from_record(rec))
            except InputError as exc:
                raise InputError(f"terminal record {i + 1}: {exc}") from None
        return cls(tuple(terminals))

    @classmethod
    def load(cls, path: str | Path) -> TerminalRegistry:
        """Read a registry from CSV (header ``id,country,plan,whitelists,speed_exempt,
        trip_started``; whitelist entries separated by ``;``) or JSON (a list of records)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read terminal file {path}: {exc.strerror}") from None
        return cls.from_text(text, source=str(path), fmt="json" if path.suffix == ".json" else None)

    @classmethod
    def from_text(
        cls, text: str, *, source: str = "<text>", fmt: str | None = None
    ) -> TerminalRegistry:
        """Parse CSV or JSON text (``fmt`` ``"csv"``/``"json"``; guessed when ``None``)."""
        fmt = fmt or ("json" if text.lstrip().startswith(("[", "{")) else "csv")
        if fmt not in ("csv", "json"):
            raise InputError(f"terminal file format {fmt!r} is not one of csv, json")
        if fmt == "json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ParseError(exc.msg, source=source, line=exc.lineno) from None
            if isinstance(data, dict) and "terminals" in data:
                data = data["terminals"]
            if not isinstance(data, list):
                raise ParseError("expected a JSON list of terminal records", source=source)
            return cls.from_records(data)
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not {"id", "country", "plan"} <= set(reader.fieldnames):
            raise ParseError(
                "expected a CSV header with at least id,country,plan "
                "(optional: whitelists,speed_exempt,trip_started)",
                source=source,
                line=1,
            )
        terminals = []
        for row in reader:
            record = {k: v for k, v in row.items() if k is not None}
            try:
                terminals.append(Terminal.from_record(record))
            except InputError as exc:
                raise ParseError(str(exc), source=source, line=reader.line_num) from None
        try:
            return cls(tuple(terminals))
        except InputError as exc:
            raise ParseError(str(exc), source=source) from None
