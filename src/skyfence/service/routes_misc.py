"""Health (``/healthz``, ``/readyz``) and ``/v1/regions/lookup``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from skyfence.service.auth import CurrentPrincipal
from skyfence.service.errors import RESPONSES

__all__ = ["health", "regions"]

health = APIRouter(tags=["health"])
regions = APIRouter(prefix="/v1/regions", tags=["regions"], responses=RESPONSES)


@health.get("/healthz", operation_id="healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@health.get(
    "/readyz",
    operation_id="readyz",
    responses={503: {"description": "The database is unreachable or its schema is not current"}},
)
def readyz(request: Request) -> Any:
    """The database answers and its schema is at the newest migration."""
    from skyfence.app.health import readiness

    r = readiness(request.app.state.skyfence)
    body = {
        "status": "ready" if r.ready else "not ready",
        "database": r.database,
        "schema_revision": r.schema_revision,
        "tree_size": r.tree_size,
        "problem": r.problem,
    }
    if r.ready:
        return body
    error = {"code": "unavailable", "message": r.problem or "not ready", "details": body}
    return JSONResponse({"error": error}, status_code=503)


@regions.get("/lookup", operation_id="lookup_region")
def lookup(
    request: Request,
    principal: CurrentPrincipal,
    latitude_deg: Annotated[float, Query(ge=-90.0, le=90.0)],
    longitude_deg: Annotated[float, Query(ge=-180.0, le=180.0)],
) -> dict[str, Any]:
    """The country and built-in regions holding a point."""
    from skyfence.app.regions import lookup_point
    from skyfence.jsonable import to_jsonable

    principal.require("look up regions", "viewer", "terminal-gateway")
    found = lookup_point(request.app.state.skyfence, latitude_deg, longitude_deg)
    out: dict[str, Any] = to_jsonable(found)
    return out
