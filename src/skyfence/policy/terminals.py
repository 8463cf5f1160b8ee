"""The terminal registry: registered user terminals with their plan, country and whitelists.

A :class:`TerminalRegistry` is an immutable set of :class:`Terminal` with a fast id → row
lookup; the engine binds a registry once and reads its columns as arrays.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import InputError, NotFoundError, ParseError
from skyfence.policy.rules import PLANS, policy_time, time_to_iso

__all__ = ["Terminal", "TerminalRegistry"]


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
        object.__setattr__(self, "trip_started", policy_time(self.trip_started))

    def to_record(self) -> dict[str, Any]:
        """JSON-able record (the form the store keeps)."""
        return {
            "id": self.id,
            "country": self.country,
            "plan": self.plan,
            "whitelists": list(self.whitelists),
            "speed_exempt": self.speed_exempt,
            "trip_started": time_to_iso(policy_time(self.trip_started)),
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

    def row(self, terminal_id: str) -> int:
        """Row of ``terminal_id`` in :attr:`terminals` (-1 if it is not registered)."""
        return self._rows.get(terminal_id, -1)

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
        # one dict lookup per row: cheaper than sorting the ids to look up each distinct one
        values = np.asarray(terminal_ids).reshape(-1).tolist()
        if set(map(type, values)) - {str}:  # numbers, numpy strings: their text, as astype(str)
            values = [v if type(v) is str else str(v) for v in values]
        return np.fromiter(map(self._rows.get, values, repeat(-1)), np.int64, len(values))

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
