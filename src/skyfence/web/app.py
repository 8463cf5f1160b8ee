"""The service with the map mounted: what ``skyfence serve`` runs.

:func:`create_app` is :func:`skyfence.service.app.create_app` plus the map router, whose
principal is the service's own (the request's Bearer token, :func:`~skyfence.service.auth.
current_principal`) and whose :class:`~skyfence.app.App` is the service's.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from skyfence.service.app import create_app as create_service
from skyfence.service.app import served_options

__all__ = ["create_app", "app_factory", "map_router", "tiles_router"]


def _service_app(request: Request) -> Any:
    return request.app.state.skyfence


def map_router() -> Any:
    """The map's router wired to the service's App and token principals."""
    from skyfence.service.auth import current_principal
    from skyfence.web import router

    return router(_service_app, current_principal)


def tiles_router() -> Any:
    """The log as C2SP tlog-tiles under ``/v1/log/tlog/`` (``checkpoint``, ``tile/...``),
    readable without a token like the rest of ``/v1/log``."""
    from skyfence.service.auth import public_reader
    from skyfence.tlog_http import tiles_router as router

    return router(public_reader)


def create_app(settings: Any = None, **kwargs: Any) -> FastAPI:
    """The service (see :func:`skyfence.service.app.create_app`, same arguments) with the
    map page at ``/``, its data under ``/v1/map/`` and the log's tiles under
    ``/v1/log/tlog/``."""
    extra = [*kwargs.pop("extra_routers", ()), tiles_router(), map_router()]
    return create_service(settings, extra_routers=extra, **kwargs)


def app_factory() -> FastAPI:
    """``uvicorn --factory skyfence.web.app:app_factory``: as the service's factory
    (:func:`~skyfence.service.app.served_options`), with the map."""
    return create_app(**served_options())
