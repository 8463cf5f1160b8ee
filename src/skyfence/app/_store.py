"""What the application operations share: the store opened with the process's worldview."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from skyfence.app.context import App
    from skyfence.store import Store

__all__ = ["open_store", "resolver", "share_store", "release_store", "one_head"]


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
    """The store named by ``app.settings``, judging sensitive overlaps with ``app.world``.

    When the process shares one store (:func:`share_store`, what a long-running service
    does), that store is returned and ``with open_store(app) as store:`` leaves it open.
    """
    from skyfence.store import Store

    shared = app._cache.get(_SHARED)
    if shared is not None:
        return cast("Store", _Borrowed(shared))
    return Store.open(settings=app.settings, resolve=resolver(app))


_SHARED = ("skyfence.app._store", "shared")


class _Borrowed:
    """A shared store lent to one operation: leaving its ``with`` block does not close it."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def __enter__(self) -> Any:
        return self._store

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None


def share_store(app: App) -> Store:
    """Open the store once for the whole process (engine, connection pool, compiled queries
    and the authenticated log head kept between operations); :func:`release_store` closes it.

    A service answering many requests calls this at start; every operation then borrows it.
    The store stays safe to share between threads: each call is its own transaction.
    """
    from skyfence.store import Store

    shared = app._cache.get(_SHARED)
    if shared is None:
        shared = Store.open(settings=app.settings, resolve=resolver(app))
        app._cache[_SHARED] = shared
    store: Store = shared
    return store


def release_store(app: App) -> None:
    """Close the store shared by :func:`share_store` (no-op when none is)."""
    shared = app._cache.pop(_SHARED, None)
    if shared is not None:
        shared.close()


@contextmanager
def one_head(app: App) -> Iterator[None]:
    """Everything in the block (one request: its token check and its decision) sees the
    log head as one read of it on the shared store (see
    :meth:`skyfence.store.Store.same_head`); without a shared store, nothing changes."""
    shared = app._cache.get(_SHARED)
    if shared is None:
        yield
        return
    with shared.same_head():
        yield
