"""``/v1/terminals``: the terminal registry (read: viewer; write: operator)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from skyfence.errors import InputError
from skyfence.service.auth import CurrentPrincipal
from skyfence.service.errors import RESPONSES
from skyfence.service.schemas import TerminalRecord

__all__ = ["router"]

router = APIRouter(prefix="/v1/terminals", tags=["terminals"], responses=RESPONSES)

TerminalId = Annotated[str, "the terminal id"]


def _put(request: Request, principal: Any, record: dict[str, Any], reason: str) -> int:
    from skyfence.app.terminals import add_record

    return add_record(request.app.state.skyfence, principal, record, reason=reason)


@router.get("", operation_id="list_terminals", response_model=list[dict[str, Any]])
def list_terminals(
    request: Request,
    principal: CurrentPrincipal,
    country: Annotated[str | None, Query(max_length=16)] = None,
) -> Any:
    """Every registered terminal (optionally of one country), ordered by id."""
    from skyfence.app.terminals import list_terminals as app_list

    return app_list(request.app.state.skyfence, principal, country=country)


@router.post("", operation_id="create_terminal", status_code=201)
def create_terminal(
    body: TerminalRecord, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Register a terminal (replaces one with the same id); logged."""
    index = _put(request, principal, body.model_dump(exclude_none=True), "terminal registered")
    return {"id": body.id, "log_index": index}


@router.get("/{terminal_id}", operation_id="get_terminal", response_model=dict[str, Any])
def get_terminal(terminal_id: str, request: Request, principal: CurrentPrincipal) -> Any:
    """One terminal's record."""
    from skyfence.app.terminals import show

    return show(request.app.state.skyfence, principal, terminal_id)


@router.put("/{terminal_id}", operation_id="put_terminal")
def put_terminal(
    terminal_id: str, body: TerminalRecord, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Create or replace a terminal; the body's ``id`` must be the path's."""
    if body.id != terminal_id:
        raise InputError(f"the body's id {body.id!r} is not the path's {terminal_id!r}")
    index = _put(request, principal, body.model_dump(exclude_none=True), "terminal updated")
    return {"id": terminal_id, "log_index": index}


@router.delete("/{terminal_id}", operation_id="delete_terminal", status_code=200)
def delete_terminal(
    terminal_id: str, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Remove a terminal; logged."""
    from skyfence.app.terminals import delete

    index = delete(request.app.state.skyfence, principal, terminal_id, reason="terminal removed")
    return {"id": terminal_id, "log_index": index}
