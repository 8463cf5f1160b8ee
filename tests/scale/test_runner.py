"""The one parallel runner: the same results, in item order, here, in processes and on Dask."""

from __future__ import annotations

import pytest

from skyfence.errors import InputError
from skyfence.scale import Parallel, open_runner


def _square_plus(common: int, item: int) -> int:
    return item * item + common


@pytest.mark.parametrize(
    "parallel",
    [
        Parallel(),
        Parallel(workers=2),
        Parallel(dask_workers=2, dask_processes=False),
    ],
    ids=["serial", "processes", "dask-threads"],
)
def test_results_come_back_in_item_order_wherever_they_run(parallel):
    seen: list[tuple[int, int]] = []
    progress: list[tuple[int, int]] = []
    items = list(range(9, -1, -1))
    with open_runner(parallel) as runner:
        assert runner.backend == parallel.backend
        out = runner.run(
            _square_plus, items, common=100, progress=lambda d, t: progress.append((d, t)),
            on_result=lambda i, r: seen.append((i, r)),
        )  # fmt: skip
        # the Executor protocol the analysis functions take
        assert runner.submit(_square_plus, 1, 3).result() == 10
    assert out == [i * i + 100 for i in items]
    assert sorted(seen) == list(enumerate(out))
    assert progress[0] == (0, 10) and progress[-1] == (10, 10) and len(progress) == 11


def test_a_failing_shard_fails_the_run():
    def boom(common, item):
        if item == 2:
            raise ValueError("shard 2 is bad")
        return item

    with open_runner(Parallel()) as runner, pytest.raises(ValueError, match="shard 2"):
        runner.run(boom, [1, 2, 3])


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [({"workers": 0}, "--workers"), ({"dask_workers": 0}, "--dask-workers"),
     ({"workers": True}, "--workers"), ({"scheduler": " "}, "--scheduler")],
)  # fmt: skip
def test_bad_parallel_settings_are_refused_naming_the_flag(kwargs, flag):
    with pytest.raises(InputError, match=flag):
        Parallel(**kwargs)


def test_an_unreachable_scheduler_is_one_clear_error(monkeypatch):
    monkeypatch.setattr("skyfence.scale.runner.CONNECT_TIMEOUT", "1s")
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        with open_runner(Parallel(scheduler="tcp://127.0.0.1:9")):
            pass


def test_a_running_cluster_is_reached_by_its_scheduler_address():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        parallel = Parallel(scheduler=cluster.scheduler_address)
        with open_runner(parallel) as runner:
            assert runner.backend == "dask" and runner.workers == 2
            assert runner.run(_square_plus, [3, 1, 2], common=1) == [10, 2, 5]
        # only disconnected from: the cluster still runs
        with open_runner(parallel) as runner:
            assert runner.run(_square_plus, [4], common=0) == [16]


def _malloc_env(_common: object, _item: object) -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}


def test_local_dask_workers_keep_glibcs_dynamic_malloc_thresholds(monkeypatch):
    """Dask's nanny would set MALLOC_TRIM_THRESHOLD_=65536 for its workers, which turns off
    glibc's dynamic mmap threshold (a fresh mmap and its page faults for every large
    temporary: up to twice a shard's CPU time); a LocalCluster started here leaves it unset."""
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with open_runner(Parallel(dask_workers=1)) as runner:
        env = runner.run(_malloc_env, [0])[0]
    assert "MALLOC_TRIM_THRESHOLD_" not in env, env
