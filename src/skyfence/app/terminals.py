"""The terminal registry as users run it: add, import, show, list, delete.

Terminals are validated before anything is written: the country must be one of the
worldview's (``App.world``), and each whitelist entry must be a region expression that
resolves in it or the id of a rule of the policy in force. An import is one transaction:
every record or none.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyfence.app._store import open_store, resolver
from skyfence.errors import InputError, ParseError, SkyfenceError

if TYPE_CHECKING:
    from skyfence.app.context import App
    from skyfence.app.identity import Principal
    from skyfence.policy import Terminal, TerminalRegistry

__all__ = [
    "ImportResult",
    "MAX_TERMINAL_FILE_BYTES",
    "read_registry",
    "validate",
    "add",
    "add_record",
    "import_file",
    "show",
    "list_terminals",
    "delete",
]

MAX_TERMINAL_FILE_BYTES = 256 * 1024 * 1024
"""The largest terminal file read (256 MiB, some millions of terminals)."""


def read_registry(path: str | Path) -> TerminalRegistry:
    """A terminal file (CSV, or JSON for ``.json``) as a registry; only project errors.

    A file that is not UTF-8 text (a binary file given by mistake), too large, or not a
    regular file is a :class:`~skyfence.errors.ParseError` naming it.
    """
    from skyfence.policy import TerminalRegistry

    p = Path(path)
    try:
        if not p.is_file():
            raise ParseError("not a regular file; give a CSV or JSON terminal file", source=str(p))
        size = p.stat().st_size
        if size > MAX_TERMINAL_FILE_BYTES:
            raise ParseError(
                f"{size:,} bytes is more than the {MAX_TERMINAL_FILE_BYTES:,} a terminal file "
                "may have; split it",
                source=str(p),
            )
        raw = p.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read it ({exc.strerror})", source=str(p)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ParseError(
            f"not UTF-8 text (byte {exc.start}); expected a CSV or JSON terminal file",
            source=str(p),
            line=line,
        ) from None
    if "\x00" in text:
        raise ParseError("contains NUL bytes; expected a CSV or JSON terminal file", source=str(p))
    fmt = "json" if p.suffix.lower() == ".json" else None
    try:
        return TerminalRegistry.from_text(text, source=str(p), fmt=fmt)
    except SkyfenceError:
        raise
    except (csv.Error, ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
        raise ParseError(
            f"cannot read terminals ({type(exc).__name__}: {exc})", source=str(p)
        ) from None


def validate(app: App, terminal: Terminal, *, rule_ids: set[str] | None = None) -> None:
    """Refuse a terminal whose country is not in the worldview, or whose whitelist entries
    neither resolve as regions nor name a rule of the policy in force (``rule_ids``)."""
    import difflib

    from skyfence.regions import parse_region

    world = app.world
    codes = world.codes()
    if terminal.country not in codes:
        close = difflib.get_close_matches(terminal.country, codes, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise InputError(
            f"country {terminal.country!r} of terminal {terminal.id!r} is not a country of the "
            f"worldview {world.worldview!r}{hint}; use an ISO 3166-1 alpha-2 code such as UA"
        )
    ids = {i.casefold() for i in (rule_ids or set())}
    for entry in terminal.whitelists:
        if entry.casefold() in ids:
            continue
        if "geojson:" in entry.casefold():
            raise InputError(
                f"whitelist {entry!r} of terminal {terminal.id!r} reads a file; a whitelist "
                "names a region (UA, crimea, PL | SK) or a rule id of the policy in force"
            )
        try:
            parse_region(entry, world)
        except SkyfenceError as exc:
            raise InputError(
                f"whitelist {entry!r} of terminal {terminal.id!r} is neither a region of the "
                f"worldview ({' '.join(str(exc).split())}) nor a rule id of the policy in force"
            ) from None


def _rule_ids(app: App, store: Any) -> set[str]:
    from skyfence.policy import Policy

    found = store.policy_in_force()
    if found is None:
        return set()
    return set(
        Policy.from_document(
            found.document, source="policy in force", resolve=resolver(app)
        ).rule_ids
    )


def add(
    app: App,
    principal: Principal,
    terminal: Terminal,
    *,
    reason: str = "terminal registered",
) -> int:
    """Register (or replace) one terminal after validating it. Returns the log index."""
    principal.require("register terminals", "operator")
    with open_store(app) as store:
        validate(app, terminal, rule_ids=_rule_ids(app, store))
        return store.put_terminal(terminal.to_record(), actor=principal.actor(), reason=reason)


def add_record(
    app: App,
    principal: Principal,
    record: dict[str, Any],
    *,
    reason: str = "terminal registered",
) -> int:
    """:func:`add` for a terminal given as a record (``id``, ``country``, ``plan``, ...)."""
    from skyfence.policy import Terminal

    principal.require("register terminals", "operator")
    return add(app, principal, Terminal.from_record(record), reason=reason)


@dataclass(frozen=True)
class ImportResult:
    imported: int
    file: str
    first_log_index: int | None
    last_log_index: int | None


def import_file(
    app: App,
    principal: Principal,
    path: str | Path,
    *,
    reason: str = "terminal import",
    progress: Any = None,
) -> ImportResult:
    """Import every terminal of a CSV/JSON file in one transaction (all or nothing).

    Every record is read and validated first; ``progress(done, total)`` then follows the
    writing. A process killed half-way leaves the registry as it was.
    """
    principal.require("register terminals", "operator")
    registry = read_registry(path)
    with open_store(app) as store:
        ids = _rule_ids(app, store)
        for n, terminal in enumerate(registry.terminals, start=1):
            try:
                validate(app, terminal, rule_ids=ids)
            except InputError as exc:
                raise ParseError(f"terminal {n}: {exc}", source=str(path)) from None
        indices = store.put_terminals(
            [t.to_record() for t in registry.terminals],
            actor=principal.actor(),
            reason=reason,
            progress=progress,
        )
    return ImportResult(
        len(indices), str(path), indices[0] if indices else None, indices[-1] if indices else None
    )


def show(app: App, principal: Principal, terminal_id: str) -> dict[str, Any]:
    """One stored terminal (the registry is checked against the log first)."""
    principal.require("read terminals", "viewer")
    with open_store(app) as store:
        return store.get_terminal(terminal_id)


def list_terminals(
    app: App, principal: Principal, *, country: str | None = None
) -> list[dict[str, Any]]:
    """Stored terminals, ordered by id (optionally of one registered country)."""
    principal.require("read terminals", "viewer")
    with open_store(app) as store:
        return store.terminals(country=country.strip().upper() if country else None)


def delete(app: App, principal: Principal, terminal_id: str, *, reason: str) -> int:
    """Remove a terminal (logged). Returns the log index."""
    principal.require("remove terminals", "operator")
    with open_store(app) as store:
        return store.delete_terminal(terminal_id, actor=principal.actor(), reason=reason)


def registry_in_store(app: App) -> TerminalRegistry:
    """The stored registry as a :class:`~skyfence.policy.TerminalRegistry` (checked)."""
    from skyfence.policy import TerminalRegistry

    with open_store(app) as store:
        return TerminalRegistry.from_records(store.terminals())
