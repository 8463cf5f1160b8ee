"""``/v1/tokens``: API tokens (admins). A new token is in the response once, never again."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from skyfence.service import _convert
from skyfence.service.auth import CurrentPrincipal
from skyfence.service.errors import RESPONSES
from skyfence.service.schemas import TokenCreate, TokenCreated, TokenOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], responses=RESPONSES)


@router.get("", operation_id="list_tokens", response_model=list[TokenOut])
def list_tokens(request: Request, principal: CurrentPrincipal) -> Any:
    """Every token (active, expired, revoked); never the secrets."""
    from skyfence.app.tokens import list_tokens as app_list

    return [_convert.token_out(t) for t in app_list(request.app.state.skyfence, principal)]


@router.post("", operation_id="create_token", response_model=TokenCreated, status_code=201)
def create_token(body: TokenCreate, request: Request, principal: CurrentPrincipal) -> Any:
    """Make a token for a principal with roles (logged as the admin who made it)."""
    from skyfence.app.tokens import create

    made = create(
        request.app.state.skyfence,
        principal,
        body.principal,
        list(body.roles),
        expires_after_s=body.expires_after_s,
        reason=body.reason,
    )
    return {**_convert.token_out(made.record), "token": made.token}


@router.delete("/{token_id}", operation_id="revoke_token", response_model=TokenOut)
def revoke_token(token_id: str, request: Request, principal: CurrentPrincipal) -> Any:
    """Revoke a token: it stops working at once, in every server process."""
    from skyfence.app.tokens import revoke

    return _convert.token_out(revoke(request.app.state.skyfence, principal, token_id))
