"""What the application operations share: the store opened with the process's worldview."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skyfence.app.context import App
    from skyfence.store import Store

__all__ = ["open_store", "resolver"]


def resolver(app: App) -> Callable[[str], Any]:
    """``expression -> Region`` against ``app.world`` (built once per process, on first use)."""
    from skyfence.regions import parse_region

    return lambda expr: parse_region(expr, app.world)


def open_store(app: App) -> Store:
    """The store named by ``app.settings``, judging sensitive overlaps with ``app.world``."""
    from skyfence.store import Store

    return Store.open(settings=app.settings, resolve=resolver(app))
