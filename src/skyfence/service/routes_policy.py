"""``/v1/policy``: the version in force, old versions, and changes (propose, approve,
reject). The two-person rule is the store's: an approver can never approve their own
change, whatever their roles."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from skyfence.errors import NotFoundError
from skyfence.jsonable import to_jsonable
from skyfence.service import _convert
from skyfence.service.auth import CurrentPrincipal
from skyfence.service.errors import RESPONSES
from skyfence.service.schemas import (
    ApproveChangeRequest,
    ChangeOut,
    ChangeResultOut,
    ChangeSignature,
    DecideChangeRequest,
    KeyRegistration,
    PreparedOut,
    PrepareRequest,
    ProposeRequest,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/policy", tags=["policy"], responses=RESPONSES)
ChangeId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", operation_id="get_policy")
def get_policy(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """The policy version in force now and its document."""
    from skyfence.app.changes import policy_in_force

    view = policy_in_force(request.app.state.skyfence, principal)
    if view is None:
        raise NotFoundError("no policy version has been applied yet")
    return {
        "version": view.version,
        "applied_at": _convert.iso(view.applied_at),
        "document": view.policy.to_document(),
    }


@router.get("/versions/{version}", operation_id="get_policy_version")
def get_policy_version(
    version: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """One stored policy version with its document (checked against the log)."""
    from skyfence.app.changes import policy_version

    found = policy_version(request.app.state.skyfence, principal, version)
    v = found.version
    return {
        "version": v.version,
        "applied_at": _convert.iso(v.applied_at),
        "operator": v.operator,
        "approved_by": v.approved_by,
        "reason": v.reason,
        "document_hash": v.document_hash,
        "change_id": v.change_id,
        "log_index": v.log_index,
        "document": found.document,
    }


@router.post(
    "/changes",
    operation_id="propose_change",
    response_model=ChangeResultOut,
    status_code=201,
)
def propose_change(body: ProposeRequest, request: Request, principal: CurrentPrincipal) -> Any:
    """Propose a whole policy document: applied at once unless it is sensitive (or review
    is asked for), else pending until a second person approves it."""
    from skyfence.app.changes import propose

    result = propose(
        request.app.state.skyfence,
        principal,
        body.document,
        reason=body.reason,
        base_version=body.base_version,
        request_review=body.request_review,
        expires_after_s=body.expires_after_s,
        signed=_signed(body.signature),
    )
    status = 201 if result.status == "applied" else 202
    return JSONResponse(_convert.change_result_out(result), status_code=status)


def _signed(signature: ChangeSignature | None) -> tuple[bytes, bytes] | None:
    from skyfence.store.approvals import signed_from_text

    if signature is None:
        return None
    return signed_from_text(signature.public_key, signature.signature)


@router.post("/changes/prepare", operation_id="prepare_change", response_model=PreparedOut)
def prepare_change(body: PrepareRequest, request: Request, principal: CurrentPrincipal) -> Any:
    """The document as a change would record it (sealed), its hash, and the text its
    requester signs; nothing is written. A client that signs checks the document is the one
    it sent and hashes it itself."""
    from skyfence.app.changes import prepare_change as app_prepare

    p = app_prepare(
        request.app.state.skyfence, principal, body.document, base_version=body.base_version
    )
    return {
        "origin": p.origin,
        "base_version": p.base_version,
        "document": p.document,
        "document_hash": p.document_hash,
        "message": p.message.decode(),
    }


@router.post("/keys", operation_id="register_key", status_code=201)
def register_key(
    body: KeyRegistration, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Register the token's principal's own Ed25519 public key for signed requests and
    approvals (a logged ``principal.key`` entry)."""
    from skyfence.app.changes import register_key as app_register

    index = app_register(request.app.state.skyfence, principal, body.public_key, reason=body.reason)
    return {"principal": principal.name, "log_index": index}


@router.get("/changes", operation_id="list_changes", response_model=list[ChangeOut])
def list_changes(
    request: Request,
    principal: CurrentPrincipal,
    state: Annotated[
        Literal["pending", "applied", "rejected", "expired", "superseded"] | None, Query()
    ] = None,
) -> Any:
    """Changes, oldest first (``state=pending``: those waiting for approval)."""
    from skyfence.app.changes import list_changes as app_list

    return [_convert.change_out(c) for c in app_list(request.app.state.skyfence, principal, state)]


@router.get("/changes/{change_id}", operation_id="get_change", response_model=ChangeOut)
def get_change(change_id: ChangeId, request: Request, principal: CurrentPrincipal) -> Any:
    """A change as an approver sees it: its document, and its impact — the rules it
    changes, whether and why it is sensitive, and (while pending) its effect against the
    version in force: per region the H3 cells and area switching state, and the registered
    terminals that would gain or lose service."""
    from skyfence.app.changes import show_pending
    from skyfence.app.impact import change_impact

    detail = show_pending(request.app.state.skyfence, principal, change_id)
    impact = None
    if detail.change.status == "pending":
        impact = change_impact(request.app.state.skyfence, principal, change_id)
    out = _convert.change_out(detail.change)
    out["document"] = detail.document
    out["impact"] = {
        "base_version": detail.base_version,
        "current_version": detail.current_version,
        "stale": detail.stale,
        "diff": to_jsonable(detail.diff),
        "against_current": to_jsonable(detail.against_current),
        "judgement": to_jsonable(detail.judgement),
        "effect": to_jsonable(impact),
    }
    return out


@router.post(
    "/changes/{change_id}/approve", operation_id="approve_change", response_model=ChangeResultOut
)
def approve_change(
    change_id: ChangeId,
    request: Request,
    principal: CurrentPrincipal,
    body: ApproveChangeRequest | None = None,
) -> Any:
    """Approve a pending change (approvers; never one's own). It is in force at once. An
    approver with a registered key signs (``signature``); the store checks the signature
    against the change and the approver's registered keys."""
    from skyfence.app.changes import approve

    reason = body.reason if body is not None else ""
    signed = _signed(body.signature) if body is not None else None
    return _convert.change_result_out(
        approve(request.app.state.skyfence, principal, change_id, reason=reason, signed=signed)
    )


@router.post("/changes/{change_id}/reject", operation_id="reject_change")
def reject_change(
    change_id: ChangeId,
    request: Request,
    principal: CurrentPrincipal,
    body: DecideChangeRequest | None = None,
) -> dict[str, Any]:
    """Reject a pending change (approvers, or its requester withdrawing it)."""
    from skyfence.app.changes import reject

    reason = body.reason if body is not None else ""
    index = reject(request.app.state.skyfence, principal, change_id, reason=reason)
    return {"change_id": change_id, "status": "rejected", "log_index": index}
