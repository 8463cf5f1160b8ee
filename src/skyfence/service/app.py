"""The FastAPI application factory.

``create_app(settings)`` builds one app: the :class:`~skyfence.app.App` of the process (its
store opened once and shared by every request), the routes under ``/v1``, health checks,
one error envelope (:mod:`skyfence.service.errors`), request size limits, security headers,
per-token rate limits. Nothing is created at import.

Other packages mount their routes with ``extra_routers`` (e.g. the map page or the
transparency-log tiles): each is an ``APIRouter`` included after skyfence's own, so it gets
the same error envelope, limits and headers::

    app = create_app(settings, extra_routers=[tiles_router, map_router])

CORS is off: no ``Access-Control-Allow-*`` header is ever sent, so browsers let only pages
from the service's own origin call it.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from skyfence import __version__
from skyfence.app import App
from skyfence.settings import Settings

log = logging.getLogger("skyfence.service")

__all__ = ["ServiceLimits", "create_app", "app_factory", "served_options"]


@dataclass(frozen=True)
class ServiceLimits:
    """Request limits: body size (bytes), requests per second per token (and per client
    address on the public routes) with bursts of ``burst``; ``rate_per_s`` <= 0: no limit."""

    max_body_bytes: int = 64 * 1024 * 1024
    rate_per_s: float = 200.0
    burst: float | None = None


def create_app(
    settings: Settings | None = None,
    *,
    app: App | None = None,
    limits: ServiceLimits | None = None,
    extra_routers: Sequence[APIRouter] = (),
    fast_path: bool = True,
    freeze_startup: bool = False,
) -> FastAPI:
    """Build the service. ``settings`` default to the environment (``SKYFENCE_*``).

    ``fast_path``: answer valid single decisions without the framework's routing
    (:mod:`skyfence.service.fastpath`; the same answers, for less CPU).

    ``freeze_startup``: once started, keep everything built so far (modules, the world's
    regions, the compiled policy: objects that live as long as the process) out of the
    garbage collector's full passes (:func:`gc.freeze`). Those passes otherwise walk all of
    it and stall every request in flight for 20-80 ms a few times a minute under load.
    ``skyfence serve`` sets it; it is off for apps made in a longer-lived process (tests)."""
    from skyfence.app._store import release_store, share_store
    from skyfence.app.identity import Principal
    from skyfence.app.witnessing import WitnessPublisher
    from skyfence.service import (
        errors,
        routes_decisions,
        routes_log,
        routes_misc,
        routes_policy,
        routes_terminals,
        routes_tokens,
    )
    from skyfence.service.auth import RateLimiter
    from skyfence.service.fastpath import DecisionFastPath
    from skyfence.service.middleware import AfterWrites, BodyLimit, SecurityHeaders

    context = app if app is not None else App(settings)
    lim = limits if limits is not None else ServiceLimits()
    publisher = WitnessPublisher.for_app(context)  # a bad witness setting stops the start

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        share_store(context)
        _on_start(context)
        if freeze_startup:
            gc.collect()
            gc.freeze()
        if publisher is not None:
            publisher.start()
        try:
            yield
        finally:
            if publisher is not None:
                publisher.stop()
            pool = getattr(api.state, "whatif_pool", None)
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            release_store(context)

    api = FastAPI(
        title="skyfence",
        version=__version__,
        summary="Where a satellite-internet network is switched on: decisions, policy changes "
        "under the two-person rule, and a transparency log anyone can check.",
        lifespan=lifespan,
        redoc_url=None,
    )
    api.state.skyfence = context
    api.state.rate_limiter = RateLimiter(lim.rate_per_s, lim.burst)
    api.state.anonymous = Principal.from_token("anonymous", ["viewer"])
    api.state.witness_publisher = publisher
    errors.install(api)
    for router in (
        routes_misc.health,
        routes_decisions.router,
        routes_terminals.router,
        routes_policy.router,
        routes_log.router,
        routes_tokens.router,
        routes_misc.regions,
        *_optional_routers(),
    ):
        api.include_router(router)
    for router in extra_routers:  # mounted routes document the same error envelope
        api.include_router(router, responses=errors.RESPONSES)
    if publisher is not None:  # each write signs a checkpoint: the witnesses get it next
        api.add_middleware(AfterWrites, callback=publisher.poke)
    if fast_path:  # inside the size limit and the security headers (decisions write nothing)
        api.add_middleware(DecisionFastPath, api=api)
    api.add_middleware(BodyLimit, max_bytes=lim.max_body_bytes)
    api.add_middleware(SecurityHeaders)
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]
    return api


def _optional_routers() -> list[APIRouter]:
    """Routers of this package that exist on this branch of the code (what-if jobs)."""
    try:
        from skyfence.service import routes_whatif
    except ImportError:  # pragma: no cover
        return []
    return [routes_whatif.router]


def _on_start(context: App) -> None:
    from skyfence.app.decide import warm
    from skyfence.errors import SkyfenceError

    try:
        warm(context)
    except SkyfenceError as exc:  # the requests that need the policy will say what is wrong
        log.warning("the policy in force was not prepared at start: %s", exc)
    try:
        from skyfence.app.jobs import fail_unfinished
    except ImportError:  # pragma: no cover
        return
    fail_unfinished(context)


def _openapi(api: FastAPI) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with the schemas of bodies read by hand (batch decisions)."""
    if api.openapi_schema:
        return api.openapi_schema
    from skyfence.service.schemas import BatchRequest

    doc = get_openapi(
        title=api.title,
        version=api.version,
        summary=api.summary,
        routes=api.routes,
        openapi_version=api.openapi_version,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    extra = BatchRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in extra.pop("$defs", {}).items():
        schemas.setdefault(name, schema)
    schemas["BatchRequest"] = extra
    api.openapi_schema = doc
    return doc


def served_options() -> dict[str, Any]:
    """The :func:`create_app` options of a served process (each worker of ``skyfence serve
    --workers N``): limits from ``SKYFENCE_SERVICE_LIMITS``, startup objects frozen."""
    import json
    import os

    raw = os.environ.get("SKYFENCE_SERVICE_LIMITS")
    limits = ServiceLimits(**json.loads(raw)) if raw else None
    return {"limits": limits, "freeze_startup": True}


def app_factory() -> FastAPI:
    """``uvicorn --factory skyfence.service.app:app_factory``: settings from the environment,
    :func:`served_options`."""
    return create_app(**served_options())
