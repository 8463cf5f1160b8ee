"""What the application operations share: the store opened with the process's worldview."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skyfence.app.context import App
    from skyfence.store import Store

__all__ = ["open_store", "resolver"]


def resolver(app: App) -> Callable[..., Any]:
    """``expression -> Region`` against ``app.world`` (built once per process, on first use).

    Called as ``resolve(expr, geojson=mapping)`` it resolves sealed ``geojson:`` references
    from their inline geometry (see :func:`skyfence.policy.seal_document`).
    """
    return _LazyResolver(app)


class _LazyResolver:
    """A :class:`skyfence.regions.RegionResolver` over ``app.world``, made on first call."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._resolver: Any = None

    def __call__(self, expression: str, **kwargs: Any) -> Any:
        if self._resolver is None:
            from skyfence.regions import RegionResolver

            self._resolver = RegionResolver(self._app.world)
        return self._resolver(expression, **kwargs)


def open_store(app: App) -> Store:
    """The store named by ``app.settings``, judging sensitive overlaps with ``app.world``."""
    from skyfence.store import Store

    return Store.open(settings=app.settings, resolve=resolver(app))
