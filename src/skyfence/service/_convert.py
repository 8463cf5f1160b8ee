"""Typed application results → response bodies (JSON-able dicts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from skyfence.jsonable import to_jsonable

__all__ = ["iso", "provenance", "change_out", "change_result_out", "token_out"]


def iso(value: Any) -> str | None:
    """A naive-UTC ``datetime`` or ``datetime64`` as ISO 8601 text with ``Z``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out = to_jsonable(value)
    return None if out is None else str(out)


def provenance(result: Any) -> dict[str, Any]:
    prov = result.provenance
    return {
        "policy_version": result.policy_version,
        "log_index": None if prov is None else prov.log_index,
        "checkpoint": None
        if prov is None
        else {"tree_size": prov.tree_size, "root_hash": prov.root_hash},
    }


def change_out(change: Any) -> dict[str, Any]:
    return {
        "id": change.id,
        "status": change.status,
        "operator": change.operator,
        "display_name": change.display_name,
        "via": change.via,
        "reason": change.reason,
        "summary": change.summary,
        "created_at": iso(change.created_at),
        "expires_at": iso(change.expires_at),
        "approved_by": change.approved_by,
        "decided_at": iso(change.decided_at),
        "version": change.version,
        "base_version": change.base_version,
        "log_index": change.log_index,
        "sensitive": change.sensitive,
        "reasons": list(change.reasons),
    }


def change_result_out(result: Any) -> dict[str, Any]:
    return {
        "status": result.status,
        "change_id": result.change_id,
        "version": result.version,
        "log_index": result.log_index,
        "base_version": result.base_version,
        "sensitive": result.sensitive,
        "reasons": list(result.reasons),
        "flags": list(result.flags),
    }


def token_out(info: Any) -> dict[str, Any]:
    return {
        "token_id": info.token_id,
        "principal": info.principal,
        "display_name": info.display_name,
        "roles": list(info.roles),
        "created_at": iso(info.created_at),
        "expires_at": iso(info.expires_at),
        "created_by": info.created_by,
        "revoked_at": iso(info.revoked_at),
        "revoked_by": info.revoked_by,
        "log_index": info.log_index,
        "state": info.state,
    }
