"""The map page: an offline web page over the application layer.

:func:`router` returns a FastAPI ``APIRouter`` that serves the page at ``/``, its static
files (vendored Leaflet and h3-js, the basemap) under ``/map/static/``, and the map's own
data under ``/v1/map/``. The service mounts it::

    from skyfence.web import router as map_router
    api.include_router(map_router(get_app, get_principal))

``get_app`` and ``get_principal`` are FastAPI dependencies: the process's
:class:`~skyfence.app.App` and the :class:`~skyfence.app.identity.Principal` of the request's
token. The page itself carries no data and needs no token; every data route does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["router", "STATIC_DIR"]

from pathlib import Path

#: The page and its assets (package data).
STATIC_DIR = Path(__file__).resolve().parent / "static"


def router(get_app: Any, get_principal: Any) -> Any:
    """The map's ``APIRouter`` (see :mod:`skyfence.web.routes`)."""
    from skyfence.web.routes import make_router

    return make_router(get_app, get_principal)
