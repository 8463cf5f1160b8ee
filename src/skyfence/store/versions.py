"""What the store returns about changes and policy versions, and how a row becomes one
(the log's own records are in :mod:`skyfence.store.records`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from skyfence.store.models import PendingChangeRow, PolicyVersionRow

__all__ = ["PendingChange", "PolicyVersion", "PolicyInForce"]


@dataclass(frozen=True)
class PendingChange:
    """A requested change. ``status``: pending, applied, rejected, expired or superseded.

    ``operator`` is the requester's normalised name (``display_name`` as given, ``via`` and
    ``os_user`` how they acted); ``base_version`` the version it was built on (``None`` for
    changes made before it was recorded); ``rebased_from`` the change it replaces.
    """

    id: int
    operator: str
    reason: str
    created_at: np.datetime64
    expires_at: np.datetime64
    summary: str
    status: str
    document_hash: str
    approved_by: str | None
    decided_at: np.datetime64 | None
    version: int | None
    log_index: int
    base_version: int | None = None
    rebased_from: int | None = None
    display_name: str | None = None
    via: str | None = None
    os_user: str | None = None
    sensitive: bool | None = None
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PolicyVersion:
    """A policy version, in force from ``applied_at`` until the next one."""

    version: int
    applied_at: np.datetime64
    operator: str
    approved_by: str | None
    reason: str
    document_hash: str
    change_id: int
    log_index: int


@dataclass(frozen=True)
class PolicyInForce:
    """The version in force at a time, checked against the log: number, document, since."""

    version: int
    document: dict[str, Any]
    applied_at: np.datetime64
    document_hash: str
    log_index: int = -1


def _dt64(value: datetime | None) -> np.datetime64 | None:
    return None if value is None else np.datetime64(value, "ns")


def _json_or_empty(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _pending(row: PendingChangeRow) -> PendingChange:
    actor = _json_or_empty(row.requested_actor)
    judgement = _json_or_empty(row.judgement)
    return PendingChange(
        id=int(row.id),
        operator=row.created_by,
        reason=row.reason,
        created_at=np.datetime64(row.created_at, "ns"),
        expires_at=np.datetime64(row.expires_at, "ns"),
        summary=row.summary,
        status=row.status,
        document_hash=row.document_hash,
        approved_by=row.approved_by,
        decided_at=_dt64(row.decided_at),
        version=row.version,
        log_index=int(row.log_index),
        base_version=row.base_version,
        rebased_from=row.rebased_from,
        display_name=actor.get("display_name"),
        via=actor.get("via"),
        os_user=actor.get("os_user"),
        sensitive=judgement.get("sensitive"),
        reasons=list(judgement.get("reasons") or []),
    )


def _version(row: PolicyVersionRow) -> PolicyVersion:
    return PolicyVersion(
        version=int(row.version),
        applied_at=np.datetime64(row.applied_at, "ns"),
        operator=row.operator,
        approved_by=row.approved_by,
        reason=row.reason,
        document_hash=row.document_hash,
        change_id=int(row.change_id),
        log_index=int(row.log_index),
    )
