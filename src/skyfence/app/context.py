"""The per-process application context: settings, and caches of what is costly to build.

An :class:`App` is made once per process (by the CLI's entry point, by the service at start)
and passed to every operation. It reads nothing at import and nothing global: two ``App``
objects with different settings (tests do this) never share state.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from skyfence.settings import Settings, load_settings

if TYPE_CHECKING:
    from skyfence.regions import Worldview
    from skyfence.store import Store

__all__ = ["App"]

T = TypeVar("T")


class App:
    """Settings plus lazily built, cached inputs shared by the operations of one process.

    Parameters
    ----------
    settings
        Validated settings; default :func:`skyfence.settings.load_settings` (the environment).

    Examples
    --------
    >>> app = App(load_settings(data_dir="/tmp/skyfence-example"))
    >>> app.settings.resolved_database_url()
    'sqlite:////tmp/skyfence-example/skyfence.db'
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._cache: dict[Hashable, Any] = {}

    def cached(self, key: Hashable, build: Callable[[], T]) -> T:
        """The value cached under ``key``, built by ``build()`` on first use.

        Operations use it for inputs that are costly and never change within a process, such
        as a constellation preset at a given epoch.

        Examples
        --------
        >>> app = App(load_settings(data_dir="/tmp/skyfence-example"))
        >>> app.cached("answer", lambda: 42), app.cached("answer", lambda: 0)
        (42, 42)
        """
        if key not in self._cache:
            self._cache[key] = build()
        value: T = self._cache[key]
        return value

    @cached_property
    def world(self) -> Worldview:
        """The built-in worldview (country boundaries with their disputed-area choices).

        Built once per process; what the build produces is cached on disk under
        ``settings.resolved_cache_dir()`` so later processes start in a fraction of a second.
        """
        from skyfence.regions import world

        return world(cache_dir=self.settings.resolved_cache_dir())

    def open_store(self) -> Store:
        """Open the store named by the settings (SQLite under the data dir by default)."""
        from skyfence.store import Store

        return Store.open(settings=self.settings)
