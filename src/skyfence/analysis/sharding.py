"""Independent time shards: split a sweep, run each shard, merge the results in order.

A sweep over time (coverage, what-if) is a list of shards whose results are merged at the end.
Each shard is a pure function call, so any executor can run them: ``None`` runs them here, in
order; a :class:`concurrent.futures.Executor` or a ``dask.distributed.Client`` (anything with
``submit(fn, *args) -> future`` and ``future.result()``) spreads them. The application layer
passes a :class:`skyfence.scale.Runner` (local processes or Dask), the one way the package runs
work in parallel (docs/scale.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

from skyfence.errors import InputError

__all__ = ["Executor", "time_shards", "run_shards"]

T = TypeVar("T")


class Executor(Protocol):
    """Anything with ``submit(fn, *args)`` returning an object with ``result()``."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any: ...


def time_shards(times: np.ndarray, steps_per_shard: int) -> list[np.ndarray]:
    """Cut a time grid into consecutive shards of at most ``steps_per_shard`` steps.

    Examples
    --------
    >>> import numpy as np
    >>> [len(s) for s in time_shards(np.arange(10), 4)]
    [4, 4, 2]
    """
    if steps_per_shard < 1:
        raise InputError(f"steps_per_shard must be >= 1, got {steps_per_shard}")
    times = np.asarray(times)
    return [times[i : i + steps_per_shard] for i in range(0, len(times), steps_per_shard)]


def run_shards(
    fn: Callable[..., T],
    shards: Sequence[Any],
    *,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[T]:
    """Run ``fn(shard)`` for every shard and return the results in shard order.

    ``progress(done, total)`` is called after each shard completes.
    """
    total = len(shards)
    if progress:
        progress(0, total)
    results: list[T] = []
    if executor is None:
        for i, shard in enumerate(shards):
            results.append(fn(shard))
            if progress:
                progress(i + 1, total)
        return results
    futures = [executor.submit(fn, shard) for shard in shards]
    for i, future in enumerate(futures):
        results.append(future.result())
        if progress:
            progress(i + 1, total)
    return results
