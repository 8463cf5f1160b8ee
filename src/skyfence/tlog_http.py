"""HTTP routes for the transparency log's public formats (FastAPI), for the service to mount.

:func:`tiles_router` serves the log as c2sp.org/tlog-tiles under a prefix: ``checkpoint``
(never cached; it carries the witnesses' cosignatures), full tiles and entry bundles (immutable,
cached for a year) and partial ones (cached briefly). Anyone can then mirror the log with a
C2SP client or check it with ``python -m skyfence.transparency tiles URL --vkey ...``.

The service mounts it with its own app and principal dependencies::

    from skyfence.tlog_http import tiles_router
    api.include_router(tiles_router(get_app, get_principal), prefix="/log")

``get_app`` and ``get_principal`` are FastAPI dependencies returning the process's
:class:`~skyfence.app.App` and the caller's :class:`~skyfence.app.identity.Principal` (a
public log would return a viewer principal for anonymous callers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skyfence.errors import DependencyError

__all__ = ["tiles_router"]

FULL_TILE_CACHE = "public, max-age=31536000, immutable"
PARTIAL_TILE_CACHE = "public, max-age=5"
CHECKPOINT_CACHE = "no-store"


def tiles_router(get_app: Callable[..., Any], get_principal: Callable[..., Any]) -> Any:
    """A FastAPI ``APIRouter`` with ``GET /checkpoint`` and ``GET /tile/{path}``."""
    try:
        from fastapi import APIRouter, Depends, HTTPException, Response
    except ImportError:  # pragma: no cover - the service extra is installed with the service
        raise DependencyError(
            "serving the log's tiles needs the service extra: pip install 'skyfence[service]'"
        ) from None
    from skyfence.app.log import tile
    from skyfence.errors import SkyfenceError

    router = APIRouter(tags=["transparency"])

    def _serve(path: str, app: Any, principal: Any) -> Response:
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

    @router.get("/checkpoint", operation_id="log_checkpoint")
    def checkpoint(
        app: Any = Depends(get_app), principal: Any = Depends(get_principal)
    ) -> Response:
        """The latest checkpoint as a C2SP signed note, with witness cosignatures."""
        return _serve("checkpoint", app, principal)

    @router.get("/tile/{path:path}", operation_id="log_tile")
    def tile_resource(
        path: str, app: Any = Depends(get_app), principal: Any = Depends(get_principal)
    ) -> Response:
        """A tile (``<L>/<N>[.p/<W>]``) or an entry bundle (``entries/<N>[.p/<W>]``)."""
        return _serve(f"tile/{path}", app, principal)

    return router
