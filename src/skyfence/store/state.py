"""The state the log attests, and a replay of the log that derives it.

Every write transaction ends with an entry carrying ``state``: the policy version in force
and its document hash, the size and digest of the terminal registry, and the store's
settings, *after* the transaction. The state tables are a cache of that state: a reader
checks them against the latest attested state (and the attested state against a signed
checkpoint) before deciding anything, and a writer does the same before building on them.

The registry digest is SHA-256 of the canonical JSON of the list ``[[terminal_id,
record_hash], ...]`` sorted by terminal id, where ``record_hash`` is SHA-256 of the record's
canonical JSON: one change to one record changes it.

:class:`Replay` folds log entries into the state they imply; ``log verify`` uses it to check
every attested state against the history before it, and ``log verify --database`` to check
the tables against the whole log.

Examples
--------
>>> registry_digest([]) == EMPTY_REGISTRY_DIGEST
True
>>> r = Replay()
>>> r.feed(0, {"kind": "terminal.put", "data": {"terminal_id": "T1", "record": {"id": "T1"}}})
>>> r.state().terminals
1
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from skyfence.errors import InputError
from skyfence.store.canonical import canonical_json

__all__ = [
    "StoreState",
    "DEFAULT_SETTINGS",
    "SETTING_HELP",
    "EMPTY_REGISTRY_DIGEST",
    "record_hash",
    "registry_digest",
    "Replay",
    "VersionFacts",
    "ChangeFacts",
]

DEFAULT_SETTINGS: dict[str, bool] = {"require_distinct_os_users": True}
SETTING_HELP: dict[str, str] = {
    "require_distinct_os_users": (
        "refuse an approval made from the same OS account as the request (local changes); "
        "when off, such approvals are allowed and marked same-os-user in the log"
    ),
}


def record_hash(text: str | bytes) -> str:
    """Hex SHA-256 of a terminal record's canonical JSON text."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def registry_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """Digest of a terminal registry given ``(terminal_id, record_hash)`` pairs (any order)."""
    items = sorted(pairs)
    return hashlib.sha256(canonical_json([[i, h] for i, h in items])).hexdigest()


EMPTY_REGISTRY_DIGEST = registry_digest([])


@dataclass(frozen=True)
class StoreState:
    """What the store holds after a transaction, as the log attests it.

    ``policy_version`` 0 means no policy version yet (``policy_hash`` is then ``None``).
    """

    policy_version: int = 0
    policy_hash: str | None = None
    terminals: int = 0
    terminals_digest: str = EMPTY_REGISTRY_DIGEST
    settings: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))

    def record(self) -> dict[str, Any]:
        """The JSON form written into the log entry that ends a transaction."""
        return {
            "policy": {"version": self.policy_version, "hash": self.policy_hash},
            "terminals": {"count": self.terminals, "digest": self.terminals_digest},
            "settings": dict(sorted(self.settings.items())),
        }

    @classmethod
    def from_record(cls, record: Any) -> StoreState:
        """Read :meth:`record` back; ``InputError`` if it is malformed."""
        try:
            policy, terms, settings = record["policy"], record["terminals"], record["settings"]
            version, digest = policy["version"], terms["digest"]
            count, phash = terms["count"], policy["hash"]
        except (KeyError, TypeError):
            raise InputError("a log entry's state lacks policy, terminals or settings") from None
        ok = (
            _is_int(version)
            and version >= 0
            and _is_int(count)
            and count >= 0
            and (phash is None or isinstance(phash, str))
            and isinstance(digest, str)
            and isinstance(settings, dict)
            and all(isinstance(v, bool) for v in settings.values())
        )
        if not ok:
            raise InputError("a log entry's state has fields of the wrong type")
        return cls(version, phash, count, digest, dict(settings))

    def with_setting(self, name: str, value: bool) -> StoreState:
        return replace(self, settings={**self.settings, name: value})

    def setting(self, name: str) -> bool:
        return bool(self.settings.get(name, DEFAULT_SETTINGS[name]))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class VersionFacts:
    """What the log says about one policy version."""

    version: int
    document_hash: str
    time: str
    change_id: Any
    index: int
    requested_by: str | None
    approved_by: str | None


@dataclass
class ChangeFacts:
    """What the log says about one requested change."""

    change_id: Any
    status: str
    document_hash: str
    request_index: int


class Replay:
    """Fold log entries, in order, into the state they imply.

    :meth:`feed` returns a one-line problem when an entry contradicts the history before it
    (an attested ``state`` that the history does not produce, a version out of sequence, an
    approval of a change that was never requested), else ``None``.
    """

    def __init__(self) -> None:
        self.versions: dict[int, VersionFacts] = {}
        self.changes: dict[Any, ChangeFacts] = {}
        self.terminals: dict[str, str] = {}
        self.settings: dict[str, bool] = dict(DEFAULT_SETTINGS)
        self.policy_version = 0
        self.policy_hash: str | None = None

    def state(self) -> StoreState:
        return StoreState(
            policy_version=self.policy_version,
            policy_hash=self.policy_hash,
            terminals=len(self.terminals),
            terminals_digest=registry_digest(self.terminals.items()),
            settings=dict(self.settings),
        )

    def feed(self, index: int, entry: dict[str, Any]) -> str | None:
        kind = entry.get("kind")
        data = entry.get("data")
        if not isinstance(data, dict):
            data = {}
        try:
            problem = self._apply(index, kind, data, entry)
        except (KeyError, TypeError, ValueError, InputError) as exc:
            return f"entry {index} ({kind}) is malformed: {type(exc).__name__} {exc}"
        if problem is not None:
            return problem
        if "state" in entry:
            try:
                attested = StoreState.from_record(entry["state"])
            except InputError as exc:
                return f"entry {index}: {exc}"
            derived = self.state()
            if attested != derived:
                what = _first_difference(attested, derived)
                return (
                    f"entry {index} attests a state its history does not produce ({what}): "
                    "the state was forged or an earlier entry is missing"
                )
        return None

    def _apply(
        self, index: int, kind: Any, data: dict[str, Any], entry: dict[str, Any]
    ) -> str | None:  # the kinds handled here are APPLIED_KINDS
        if kind == "policy.request":
            cid = data["change_id"]
            self.changes[cid] = ChangeFacts(cid, "pending", str(data["document_hash"]), index)
            old = data.get("rebased_from")
            if old is not None and old in self.changes:
                self.changes[old].status = "superseded"
        elif kind in ("policy.apply", "policy.approve"):
            version = data["version"]
            if version != self.policy_version + 1:
                return (
                    f"entry {index} ({kind}) makes policy version {version} but the version "
                    f"before it is {self.policy_version}: a version entry is missing or forged"
                )
            cid = data["change_id"]
            if kind == "policy.approve":
                change = self.changes.get(cid)
                if change is None or change.status != "pending":
                    return (
                        f"entry {index} approves change {cid}, which the log does not show pending"
                    )
                change.status = "applied"
                requested_by = data.get("requested_by")
                approved_by = str(entry.get("author"))
            else:
                self.changes[cid] = ChangeFacts(cid, "applied", str(data["document_hash"]), index)
                requested_by, approved_by = str(entry.get("author")), None
            self.policy_version = int(version)
            self.policy_hash = str(data["document_hash"])
            self.versions[self.policy_version] = VersionFacts(
                self.policy_version,
                self.policy_hash,
                str(entry.get("time")),
                cid,
                index,
                requested_by,
                approved_by,
            )
        elif kind in ("policy.reject", "policy.expire"):
            change = self.changes.get(data["change_id"])
            if change is not None and change.status == "pending":
                change.status = "rejected" if kind == "policy.reject" else "expired"
        elif kind == "terminal.put":
            self.terminals[str(data["terminal_id"])] = record_hash(canonical_json(data["record"]))
        elif kind == "terminal.delete":
            self.terminals.pop(str(data["terminal_id"]), None)
        elif kind == "store.setting":
            name, value = data["name"], data["value"]
            if name not in DEFAULT_SETTINGS or not isinstance(value, bool):
                return f"entry {index} sets unknown setting {name!r} or a non-boolean value"
            self.settings[name] = value
        return None


def _first_difference(attested: StoreState, derived: StoreState) -> str:
    if attested.policy_version != derived.policy_version:
        return (
            f"policy version {attested.policy_version}, the history gives {derived.policy_version}"
        )
    if attested.policy_hash != derived.policy_hash:
        return "the policy document hash differs"
    if attested.terminals != derived.terminals:
        return f"{attested.terminals} terminals, the history gives {derived.terminals}"
    if attested.terminals_digest != derived.terminals_digest:
        return "the terminal registry digest differs"
    return f"settings {attested.settings}, the history gives {derived.settings}"


APPLIED_KINDS = frozenset(
    (
        "policy.request",
        "policy.apply",
        "policy.approve",
        "policy.reject",
        "policy.expire",
        "terminal.put",
        "terminal.delete",
        "store.setting",
    )
)
"""The entry kinds :meth:`Replay.feed` acts on; an entry of any other kind without a ``state``
changes nothing (a verifier may skip feeding it)."""
