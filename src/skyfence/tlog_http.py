"""HTTP routes for the transparency log's public formats (FastAPI), for the service to mount.

:func:`tiles_router` serves the log as c2sp.org/tlog-tiles under a prefix: ``checkpoint``
(never cached; it carries the witnesses' cosignatures), full tiles and entry bundles (immutable,
cached for a year) and partial ones (cached briefly). Anyone can then mirror the log with a
C2SP client or check it with ``python -m skyfence.transparency tiles URL --vkey ...``.

The service mounts it with its public-reader dependency (the log is public)::

    from skyfence.service.auth import public_reader
    from skyfence.tlog_http import tiles_router
    app = create_app(settings, extra_routers=[tiles_router(public_reader)])

which serves ``/v1/log/tlog/checkpoint`` and ``/v1/log/tlog/tile/...``. ``get_principal``
(and ``get_app``, default ``request.app.state.skyfence``) are FastAPI dependencies returning
the caller's :class:`~skyfence.app.identity.Principal` and the process's
:class:`~skyfence.app.App`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from skyfence.errors import DependencyError

__all__ = ["tiles_router"]

FULL_TILE_CACHE = "public, max-age=31536000, immutable"
PARTIAL_TILE_CACHE = "public, max-age=5"
CHECKPOINT_CACHE = "no-store"


def _service_app(request: Any) -> Any:
    return request.app.state.skyfence


def tiles_router(
    get_principal: Callable[..., Any],
    *,
    get_app: Callable[..., Any] | None = None,
    prefix: str = "/v1/log/tlog",
) -> Any:
    """A FastAPI ``APIRouter`` with ``GET <prefix>/checkpoint`` and ``GET <prefix>/tile/{path}``.

    ``get_app`` defaults to the service's ``request.app.state.skyfence``."""
    try:
        from fastapi import APIRouter, Depends, HTTPException, Response
    except ImportError:  # pragma: no cover - the service extra is installed with the service
        raise DependencyError(
            "serving the log's tiles needs the service extra: pip install 'skyfence[service]'"
        ) from None
    from fastapi import Request

    from skyfence.app.log import tile
    from skyfence.errors import SkyfenceError

    if get_app is None:
        get_app = _service_app
        # the annotation must be the class itself (this module defers annotations)
        get_app.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter(
                    "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
                )
            ]
        )

    router = APIRouter(prefix=prefix, tags=["transparency"])

    def _serve(path: str, app: Any, principal: Any) -> Any:
        try:
            data = tile(app, principal, path)
        except SkyfenceError as exc:
            raise HTTPException(status_code=exc.http_status, detail=str(exc)) from None
        if path == "checkpoint":
            media, cache = "text/plain; charset=utf-8", CHECKPOINT_CACHE
        else:
            media = "application/octet-stream"
            cache = PARTIAL_TILE_CACHE if ".p/" in path else FULL_TILE_CACHE
        return Response(data, media_type=media, headers={"Cache-Control": cache})

    # response_class, not a return annotation: annotations are strings in this module and
    # ``Response`` is imported here, so FastAPI could not resolve one for the OpenAPI document
    @router.get("/checkpoint", operation_id="get_tlog_checkpoint", response_class=Response)
    def checkpoint(app: Any = Depends(get_app), principal: Any = Depends(get_principal)) -> Any:
        """The latest checkpoint as a C2SP signed note, with witness cosignatures."""
        return _serve("checkpoint", app, principal)

    @router.get("/tile/{path:path}", operation_id="get_tlog_tile", response_class=Response)
    def tile_resource(
        path: str, app: Any = Depends(get_app), principal: Any = Depends(get_principal)
    ) -> Any:
        """A tile (``<L>/<N>[.p/<W>]``) or an entry bundle (``entries/<N>[.p/<W>]``)."""
        return _serve(f"tile/{path}", app, principal)

    return router
