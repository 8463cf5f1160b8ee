"""One error envelope for every 4xx and 5xx: ``{"error": {"code", "message", "details"}}``.

:class:`~skyfence.errors.SkyfenceError` maps to its ``code`` and ``http_status``; FastAPI's
own errors (404 unknown path, 405 wrong method, 422 invalid request) and anything
unexpected (500, with no stack trace) get the same shape. Installed in one place,
:func:`install`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from skyfence.errors import SkyfenceError

__all__ = ["ErrorBody", "ErrorEnvelope", "ServiceError", "envelope", "install", "RESPONSES"]

log = logging.getLogger("skyfence.service")

_STATUS_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    """What every 4xx and 5xx response holds."""

    error: ErrorBody


class ServiceError(Exception):
    """An error raised by the service layer itself (rate limit, size limit, media type)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _STATUS_CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers or {}


def envelope(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The error response."""
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors()[:20]:
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": _one_line(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return out


def install(app: FastAPI) -> None:
    """Route every error through the envelope."""

    @app.exception_handler(SkyfenceError)
    async def _skyfence(_: Request, exc: SkyfenceError) -> JSONResponse:
        status = int(getattr(exc, "http_status", 500))
        if status >= 500:
            log.error("skyfence error: %s", _one_line(exc))
        return envelope(status, str(exc.code), _one_line(exc))

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return envelope(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return envelope(exc.status_code, code, _one_line(message), None, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(p for p in first["loc"] if p not in ("body", "query", "path"))
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return envelope(422, "invalid_request", message, details)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return envelope(500, "internal_error", "internal error; the server log has the details")


def _response(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _response("Invalid input (the message says what was expected)"),
    401: _response("No token, or an unknown, expired or revoked one"),
    403: _response("The token's roles do not allow this"),
    404: _response("Not found"),
    409: _response("Conflicts with the current state"),
    413: _response("Request body too large"),
    422: _response("The request does not match the schema, or stored data failed a check"),
    429: _response("Too many requests for this token; see Retry-After"),
    500: _response("Internal error"),
}
"""Error responses documented on every route."""
