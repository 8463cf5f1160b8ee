"""One way to run independent shards in parallel: here, in local processes, or on Dask.

A :class:`Parallel` says where the work goes; :func:`open_runner` turns it into a
:class:`Runner` for the length of a ``with`` block:

* ``Parallel()`` — every shard in this process, in order (the reference path);
* ``Parallel(workers=N)`` — ``N`` local processes (``concurrent.futures``, forked where the
  platform can fork);
* ``Parallel(dask_workers=N)`` — a ``dask.distributed.LocalCluster`` of ``N`` one-thread
  workers started for the run;
* ``Parallel(scheduler="tcp://host:8786")`` — an existing Dask cluster, one or many machines.

:meth:`Runner.run` calls ``fn(common, item)`` for every item and returns the results in item
order, whatever the order they finish in, so a merge downstream sees exactly what the
single-process path gives it. ``common`` (the constellation, the network model, the cells) is
sent to each worker once — scattered to every Dask worker, or set in each local process when
it starts — not once per shard. ``on_result(index, result)`` runs here, in the calling
process, as each shard finishes: that is where a sweep checkpoints.

On Dask a worker that dies mid-sweep loses only its running shards; the scheduler runs them
again elsewhere (``retries`` more times at most), and the results are the same because every
shard is a pure function of its inputs.

A :class:`Runner` is also an :class:`skyfence.analysis.sharding.Executor` (``submit``), so the
analysis functions that take an ``executor`` run on it unchanged.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from skyfence.errors import DependencyError, InputError

__all__ = ["Parallel", "Runner", "open_runner"]

T = TypeVar("T")

#: How many more times Dask runs a shard whose worker died.
DASK_RETRIES = 3

#: How long to try reaching a scheduler named by ``--scheduler``.
CONNECT_TIMEOUT = "10s"

#: Dask configuration of a LocalCluster started here. Dask's nanny puts
#: ``MALLOC_TRIM_THRESHOLD_=65536`` in the environment of the worker processes it spawns (to
#: hand freed memory back to the system at once). Setting any of glibc's malloc tunables turns
#: off its dynamic mmap threshold, so every large numpy temporary of a network step becomes a
#: fresh ``mmap`` faulted in page by page: 70 times the page faults and up to twice the CPU
#: time of a shard (bench/global_day.py, docs/benchmarks.md). Raising the threshold instead
#: does not help (it is a tunable too); the variable is left unset. Workers of a cluster named
#: by ``scheduler`` are configured by whoever runs them (see docs/scale.md).
DASK_CONFIG: dict[str, Any] = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


@dataclass(frozen=True)
class Parallel:
    """Where shards run: here (the default), ``workers`` local processes, or Dask.

    Parameters
    ----------
    workers : int
        Local processes (1 = this process).
    dask_workers : int, optional
        Start a ``LocalCluster`` with this many one-thread workers.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); wins over the others.
    dask_processes : bool
        LocalCluster workers as processes (``True``) or as threads of this process.
    """

    workers: int = 1
    dask_workers: int | None = None
    scheduler: str | None = None
    dask_processes: bool = True

    def __post_init__(self) -> None:
        for name in ("workers", "dask_workers"):
            v = getattr(self, name)
            if v is None and name == "dask_workers":
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                flag = name.replace("_", "-")
                raise InputError(f"--{flag} must be a whole number >= 1, got {v!r}")
        if self.scheduler is not None and not str(self.scheduler).strip():
            raise InputError("--scheduler must be an address such as tcp://10.0.0.5:8786")

    @property
    def backend(self) -> str:
        """``"dask"``, ``"processes"`` or ``"serial"``."""
        if self.scheduler or self.dask_workers:
            return "dask"
        return "processes" if self.workers > 1 else "serial"


# the common inputs of the shards run by this (worker) process
_COMMON: dict[str, Any] = {}


def _set_common(common: Any) -> None:
    _COMMON["value"] = common


def _call_with_common(fn: Callable[[Any, Any], T], item: Any) -> T:
    return fn(_COMMON["value"], item)


class Runner:
    """Runs shards where a :class:`Parallel` says; use through :func:`open_runner`."""

    def __init__(self, parallel: Parallel, client: Any = None) -> None:
        self.parallel = parallel
        self.backend = parallel.backend
        self._client = client
        self._pool: ProcessPoolExecutor | None = None

    @property
    def client(self) -> Any:
        """The ``dask.distributed.Client`` (``None`` off Dask)."""
        return self._client

    @property
    def workers(self) -> int:
        """How many shards can run at once."""
        if self._client is not None:
            return max(1, len(self._client.scheduler_info().get("workers", {})))
        return self.parallel.workers

    @property
    def is_parallel(self) -> bool:
        return self.backend != "serial"

    # ---------------------------------------------------------------- Executor protocol
    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        """Run ``fn(*args)`` somewhere; a future with ``result()``."""
        if self._client is not None:
            return self._client.submit(fn, *args, pure=False, retries=DASK_RETRIES)
        if self.backend == "processes":
            if self._pool is None:
                self._pool = _process_pool(self.parallel.workers, None)
            return self._pool.submit(fn, *args)
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # the caller sees it from result(), as with a pool
            done.set_exception(exc)
        return done

    # ---------------------------------------------------------------- shards
    def run(
        self,
        fn: Callable[[Any, Any], T],
        items: Sequence[Any],
        *,
        common: Any = None,
        progress: Callable[[int, int], None] | None = None,
        on_result: Callable[[int, T], None] | None = None,
    ) -> list[T]:
        """``[fn(common, item) for item in items]``, spread over the workers.

        ``progress(done, total)`` and ``on_result(index, result)`` are called in this process
        as shards finish (in any order); the returned list is in item order.
        """
        total = len(items)
        results: list[Any] = [None] * total
        if progress:
            progress(0, total)
        if total == 0:
            return results

        def finished(i: int, value: Any, done: int) -> None:
            results[i] = value
            if on_result:
                on_result(i, value)
            if progress:
                progress(done, total)

        if self.backend == "serial":
            for i, item in enumerate(items):
                finished(i, fn(common, item), i + 1)
            return results
        if self._client is not None:
            self._run_dask(fn, items, common, finished)
            return results
        with _process_pool(min(self.parallel.workers, total), common) as pool:
            futures = {pool.submit(_call_with_common, fn, item): i for i, item in enumerate(items)}
            try:
                for done, future in enumerate(as_completed(futures), start=1):
                    finished(futures[future], future.result(), done)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return results

    def _run_dask(
        self, fn: Callable[[Any, Any], T], items: Sequence[Any], common: Any, finished: Any
    ) -> None:
        dask_completed = _distributed().as_completed
        client = self._client
        shared = client.scatter(common, broadcast=True, hash=False)
        futures = [
            client.submit(fn, shared, item, pure=False, retries=DASK_RETRIES) for item in items
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for done, future in enumerate(dask_completed(futures), start=1):
                finished(index[future.key], future.result(), done)
        except BaseException:
            client.cancel(futures)
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _process_pool(workers: int, common: Any) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods and os.name == "posix" else None)
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_set_common, initargs=(common,)
    )


def _distributed() -> Any:
    """The ``distributed`` module (typed ``Any``: it ships no complete annotations)."""
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:  # pragma: no cover - the dask extra is not installed
        raise DependencyError(
            "running on Dask needs the dask extra: pip install 'skyfence[dask]'"
        ) from exc


@contextmanager
def open_runner(parallel: Parallel | None = None) -> Iterator[Runner]:
    """A :class:`Runner` for ``parallel`` (default: this process), closed at the end.

    A ``LocalCluster`` started here is stopped at the end; a cluster named by
    ``scheduler`` is only disconnected from.
    """
    parallel = parallel or Parallel()
    if parallel.backend != "dask":
        runner = Runner(parallel)
        try:
            yield runner
        finally:
            runner.close()
        return
    dist = _distributed()
    Client, LocalCluster = dist.Client, dist.LocalCluster
    if parallel.scheduler:
        try:
            client = Client(parallel.scheduler, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {parallel.scheduler}: {exc}"
            ) from exc
        runner = Runner(parallel, client)
        try:
            yield runner
        finally:
            runner.close()
            client.close()
        return
    with importlib.import_module("dask").config.set(DASK_CONFIG):
        cluster = LocalCluster(
            n_workers=parallel.dask_workers,
            threads_per_worker=1,
            processes=parallel.dask_processes,
            dashboard_address=":0",  # a free port: several clusters may share a machine
        )
    client = Client(cluster)
    runner = Runner(parallel, client)
    try:
        yield runner
    finally:
        runner.close()
        client.close()
        cluster.close()
