"""``/v1/decisions``: one decision, or a batch as JSON rows or an Arrow IPC stream."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from skyfence.service import _batch, _convert, _json
from skyfence.service.auth import CurrentPrincipal
from skyfence.service.errors import RESPONSES, ServiceError
from skyfence.service.schemas import (
    BatchRequest,
    BatchResponse,
    DecisionRequest,
    DecisionResponse,
)

__all__ = ["router", "ARROW", "decision_body"]

ARROW = "application/vnd.apache.arrow.stream"
JSON = "application/json"
router = APIRouter(prefix="/v1/decisions", tags=["decisions"], responses=RESPONSES)


@router.post("", operation_id="decide", response_model=DecisionResponse)
async def decide(body: DecisionRequest, principal: CurrentPrincipal, request: Request) -> Any:
    """Decide whether one terminal at one place (and time) is served.

    The answer names the rule that decided and every reason, the policy version in force,
    the log entry that introduced it, and the signed checkpoint that covers that entry.
    """
    # on the event loop: a decision is a fraction of a millisecond once the policy version
    # in force is compiled, less than handing it to a worker thread costs; the body is
    # exactly DecisionResponse, encoded here (validating it again as the response model
    # would costs as much as the decision)
    return Response(_json.dumps(decision_body(request.app.state.skyfence, body, principal)),
                    media_type=JSON)  # fmt: skip


def decision_body(app: Any, body: DecisionRequest, principal: Any) -> dict[str, Any]:
    """The DecisionResponse of one request (also what :mod:`skyfence.service.fastpath`
    answers with)."""
    from skyfence.app.decide import decide as app_decide

    result = app_decide(
        app,
        principal,
        body.terminal_id,
        body.latitude_deg,
        body.longitude_deg,
        time=body.time,
        speed_kmh=body.speed_kmh,
        altitude_m=body.altitude_m,
    )
    d = result.decision
    return {
        "allowed": bool(d.allowed),
        "state": d.state,
        "region": d.region,
        "rule_id": d.rule_id,
        "reason": d.reason,
        "reasons": list(d.reasons),
        "terminal_id": d.terminal_id,
        "country": d.country,
        "time": d.time,
        **_convert.provenance(result),
    }


_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}},
            ARROW: {
                "schema": {"type": "string", "format": "binary"},
                "example": "an Arrow IPC stream with columns terminal_id, latitude_deg, "
                "longitude_deg and optional speed_kmh, altitude_m, time",
            },
        },
    }
}


@router.post(
    "/batch",
    operation_id="decide_batch",
    response_model=BatchResponse,
    openapi_extra=_BATCH_BODY,
    responses={
        200: {
            "content": {ARROW: {"schema": {"type": "string", "format": "binary"}}},
            "description": "JSON results, or an Arrow IPC stream (columns allowed, state, "
            "rule_id, reason; the policy version, log index and checkpoint in the schema's "
            "metadata) when the request asks for one (Accept) or sent one",
        },
        415: {"model": RESPONSES[422]["model"], "description": "Unsupported media type"},
    },
)
async def decide_batch(request: Request, principal: CurrentPrincipal) -> Response:
    """Decide many rows at once (JSON rows, or an Arrow IPC stream in and out)."""
    body = await request.body()
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    accept = request.headers.get("accept", "")
    if ctype == ARROW:
        table, default_time = _from_arrow(body)
        want_arrow = "application/json" not in accept
    elif ctype in ("application/json", ""):
        table, default_time = _from_json(body)
        want_arrow = ARROW in accept
    else:
        raise ServiceError(415, f"send application/json or {ARROW}, not {ctype!r}")
    result = await run_in_threadpool(_run_batch, request, principal, table, default_time)
    prov = _convert.provenance(result)
    if want_arrow:
        return Response(_batch.arrow_results(result.decisions, prov), media_type=ARROW)
    return Response(_batch.json_results(result.decisions, prov), media_type=JSON)


def _run_batch(request: Request, principal: Any, table: dict[str, Any], at: Any) -> Any:
    from skyfence.app.decide import decide_batch as app_decide_batch

    return app_decide_batch(request.app.state.skyfence, principal, table, at=at)


def _from_json(body: bytes) -> tuple[dict[str, Any], str | None]:
    fast = _batch.json_columns(body)
    if fast is not None:
        columns, default_time, times = fast
        columns["time"] = _now_or(default_time) if times is None else _times(times, default_time)
        return columns, default_time
    # not a valid batch: the model reads it again and says why (or, should it accept what
    # the column checks refused, decides it)
    try:
        parsed = BatchRequest.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        ) from None
    rows = parsed.rows
    n = len(rows)
    default = parsed.time
    table: dict[str, Any] = {
        "terminal_id": np.array([r.terminal_id for r in rows], dtype=object),
        "lat": np.fromiter((r.latitude_deg for r in rows), dtype=float, count=n),
        "lon": np.fromiter((r.longitude_deg for r in rows), dtype=float, count=n),
    }
    if any(r.speed_kmh is not None for r in rows):
        table["speed_kmh"] = np.array(
            [np.nan if r.speed_kmh is None else r.speed_kmh for r in rows], dtype=float
        )
    if any(r.altitude_m is not None for r in rows):
        table["altitude_m"] = np.array(
            [np.nan if r.altitude_m is None else r.altitude_m for r in rows], dtype=float
        )
    if any(r.time is not None for r in rows):
        table["time"] = _times([r.time for r in rows], default)
    else:
        table["time"] = _now_or(default)
    return table, default


def _now_or(default: str | None) -> np.datetime64:
    from skyfence.timeutil import parse_time

    t: np.datetime64 = parse_time(default)
    return t


def _times(values: list[str | None], default: str | None) -> np.ndarray:
    from skyfence.timeutil import parse_time

    fallback = parse_time(default)
    out = np.empty(len(values), dtype="datetime64[ns]")
    for i, v in enumerate(values):
        out[i] = fallback if v is None else parse_time(v)
    return out


ARROW_COLUMNS = {
    "terminal_id": "terminal_id",
    "latitude_deg": "lat",
    "longitude_deg": "lon",
    "speed_kmh": "speed_kmh",
    "altitude_m": "altitude_m",
    "time": "time",
}


def _from_arrow(body: bytes) -> tuple[dict[str, Any], str | None]:
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise ServiceError(
            400, f"the body is not an Arrow IPC stream ({' '.join(str(exc).split())[:200]})"
        ) from None
    names = set(table.column_names)
    missing = {"terminal_id", "latitude_deg", "longitude_deg"} - names
    unknown = names - set(ARROW_COLUMNS)
    if missing or unknown:
        raise ServiceError(
            400,
            "an Arrow batch has columns terminal_id, latitude_deg, longitude_deg and optionally "
            f"speed_kmh, altitude_m, time; missing {sorted(missing)}, unknown {sorted(unknown)}",
        )
    out: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name)
        key = ARROW_COLUMNS[name]
        try:
            if name == "terminal_id":
                out[key] = np.asarray(column.cast(pa.string()).to_numpy(zero_copy_only=False))
            elif name == "time":
                if pa.types.is_timestamp(column.type):
                    out[key] = column.cast(pa.timestamp("ns")).to_numpy().astype("datetime64[ns]")
                else:
                    out[key] = _times(column.cast(pa.string()).to_pylist(), None)
            else:
                out[key] = column.cast(pa.float64()).fill_null(np.nan).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError, ValueError) as exc:
            raise ServiceError(
                400, f"Arrow column {name!r} has the wrong type ({type(exc).__name__})"
            ) from None
    out.setdefault("time", _now_or(None))
    return out, None
