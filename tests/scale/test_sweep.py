"""The coverage sweep: the same numbers as the single-process coverage, with and without Dask,
through a worker killed mid-sweep, resumed after a kill, and never resumed on changed inputs.

The sweep is small (the 19 cells of resolution 5 that cover one resolution-4 cell at
Luxembourg, 4 one-minute steps, windows of two steps, blocks of 7 cells: 6 shards) so that the whole file runs in well under a minute.
"""

from __future__ import annotations

import json
import os
import signal

import h3
import numpy as np
import pyarrow.parquet as pq
import pytest
import shapely

from skyfence.app.context import App
from skyfence.app.network import NetworkSpec, load_network
from skyfence.app.sweep import coverage_sweep, sweep_times
from skyfence.errors import ConflictError, InputError
from skyfence.scale import Parallel
from skyfence.scale.sweep import RTT_BIN_MS

PARENT = "841fa3dffffffff"  # resolution 4, Luxembourg
REGION = f"h3:4:{PARENT}"
START = "2026-02-22T12:00:00Z"
SMALL = dict(start=START, duration_s=240.0, step_s=60.0, resolution=5, window_s=120.0,
             block_cells=7)  # fmt: skip


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return App()


@pytest.fixture(scope="module")
def serial_run(app, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "sweep"
    return coverage_sweep(app, REGION, out=out, **SMALL)


def _shards(run) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for p in sorted((run.out / "shards").glob("*.npz")):
        with np.load(p) as d:
            out[p.stem] = {k: d[k] for k in d.files}
    return out


def _same_shards(a, b) -> None:
    sa, sb = _shards(a), _shards(b)
    assert sa.keys() == sb.keys() and len(sa) == a.shards_total
    for key in sa:
        for name in sa[key]:
            np.testing.assert_array_equal(sa[key][name], sb[key][name], err_msg=f"{key}:{name}")


def test_the_sweep_equals_the_single_process_coverage(app, serial_run):
    from skyfence.analysis.coverage import compute_coverage

    run = serial_run
    assert run.summary["complete"] and run.shards_total == 6 and run.shards_run == 6
    net = load_network(app, NetworkSpec())
    cells = np.load(run.out / "cells.npy")
    # the cover: the 7 children and the 12 neighbours whose hexagons touch the parent
    ids = {h3.int_to_str(int(c)) for c in cells}
    assert len(cells) == 19 and set(h3.cell_to_children(PARENT, 5)) <= ids
    times = sweep_times(START, 240.0, 60.0)
    cov = compute_coverage(cells, times, constellation=net.constellation, model=net.model)
    day = pq.read_table(run.out / "day.parquet").to_pydict()
    assert day["cell"] == [h3.int_to_str(int(c)) for c in cells]
    # counts merged exactly: bit for bit
    np.testing.assert_array_equal(day["served_fraction"], cov.served_fraction)
    np.testing.assert_array_equal(day["mean_visible"], cov.mean_visible)
    np.testing.assert_array_equal(day["handovers_per_hour"], cov.handovers_per_hour)
    s, ref = run.summary, cov.summary()
    for key in ("served_fraction", "mean_visible", "handovers_per_hour", "area_km2"):
        assert s[key] == ref[key], key
    # the day's RTT percentiles come from a histogram: exact to a bin
    for key in ("rtt_p50_ms", "rtt_p95_ms"):
        assert abs(s[key] - ref[key]) <= RTT_BIN_MS, key
    # each window file holds that window's exact per-cell statistics
    for w, (t0, t1) in enumerate([(0, 2), (2, 4)]):
        hour = pq.read_table(run.out / "hours" / f"hour-{w:04d}.parquet").to_pydict()
        part = cov.served[:, t0:t1]
        np.testing.assert_array_equal(hour["served_fraction"], part.mean(axis=1))
        rtt = np.where(part, cov.rtt_ms[:, t0:t1], np.nan).astype(np.float64)
        np.testing.assert_array_equal(hour["rtt_p50_ms"], np.nanpercentile(rtt, 50, axis=1))


def test_window_files_are_geoparquet_with_the_cell_hexagons(serial_run):
    table = pq.read_table(serial_run.out / "hours" / "hour-0000.parquet")
    geo = json.loads(table.schema.metadata[b"geo"])
    assert geo["version"] == "1.0.0" and geo["primary_column"] == "geometry"
    assert geo["columns"]["geometry"]["encoding"] == "WKB"
    polys = shapely.from_wkb(table.column("geometry").to_pylist())
    for poly, cell in zip(polys, table.column("cell").to_pylist(), strict=True):
        lat, lon = h3.cell_to_latlng(cell)
        assert poly.contains(shapely.Point(lon, lat))  # x = longitude (CRS84)
        assert poly.area == pytest.approx(shapely.Polygon(
            [(x, y) for y, x in h3.cell_to_boundary(cell)]).area)  # fmt: skip
    assert (serial_run.out / "map.png").stat().st_size > 1000


def test_dask_gives_the_same_numbers(app, serial_run, tmp_path):
    run = coverage_sweep(
        app, REGION, out=tmp_path / "dask",
        parallel=Parallel(dask_workers=2, dask_processes=False), **SMALL,
    )  # fmt: skip
    assert run.backend == "dask" and run.workers == 2
    _same_shards(serial_run, run)
    assert run.summary == serial_run.summary


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_still_gives_the_right_numbers(app, serial_run, tmp_path):
    from distributed import default_client

    killed: list[int] = []

    def kill_one_worker(done: int, total: int) -> None:
        if done == 1 and not killed:
            pids = default_client().run(os.getpid)
            killed.append(next(iter(pids.values())))
            os.kill(killed[0], signal.SIGKILL)

    run = coverage_sweep(
        app, REGION, out=tmp_path / "killed", parallel=Parallel(dask_workers=2),
        progress=kill_one_worker, **SMALL,
    )  # fmt: skip
    assert killed and run.summary["complete"]
    _same_shards(serial_run, run)
    assert run.summary == serial_run.summary


def test_a_killed_sweep_resumes_and_skips_its_finished_shards(app, serial_run, tmp_path):
    out = tmp_path / "resumed"

    def killed_after_two(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt  # the sweep dies here, as with ^C or a lost machine

    with pytest.raises(KeyboardInterrupt):
        coverage_sweep(app, REGION, out=out, progress=killed_after_two, **SMALL)
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["done"]) == 2 and not (out / "summary.json").exists()
    seen: list[int] = []
    run = coverage_sweep(app, REGION, out=out, progress=lambda d, t: seen.append(d), **SMALL)
    assert (run.shards_resumed, run.shards_run) == (2, 4)
    assert seen[0] == 2 and seen[-1] == 6  # the bar starts at the shards already done
    _same_shards(serial_run, run)
    assert run.summary == serial_run.summary
    again = coverage_sweep(app, REGION, out=out, **SMALL)
    assert (again.shards_resumed, again.shards_run) == (6, 0)


def test_max_shards_stops_early_and_the_rest_resumes(app, serial_run, tmp_path):
    out = tmp_path / "partial"
    first = coverage_sweep(app, REGION, out=out, max_shards=4, **SMALL)
    assert first.summary == {"complete": False, "shards_left": 2} and first.shards_run == 4
    rest = coverage_sweep(app, REGION, out=out, parallel=Parallel(workers=2), **SMALL)
    assert (rest.shards_resumed, rest.shards_run) == (4, 2)
    assert rest.summary == serial_run.summary


def test_changed_inputs_are_not_resumed(app, serial_run, tmp_path):
    out = tmp_path / "changed"
    coverage_sweep(app, REGION, out=out, max_shards=2, **SMALL)
    changed = dict(SMALL, step_s=30.0)
    with pytest.raises(
        ConflictError, match=r"other inputs \(changed: step_s, steps, window_steps\)"
    ):
        coverage_sweep(app, REGION, out=out, **changed)
    with pytest.raises(ConflictError, match="latency"):
        coverage_sweep(app, REGION, out=out, network=NetworkSpec(latency_model="none"), **SMALL)
    fresh = coverage_sweep(app, REGION, out=out, overwrite=True, max_shards=1, **changed)
    assert fresh.shards_resumed == 0 and fresh.shards_run == 1
    assert len(json.loads((out / "manifest.json").read_text())["done"]) == 1


def test_a_changed_element_file_is_not_resumed(app, tmp_path):
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "golden" / "elements" / "starlink-4.3le"
    elements = tmp_path / "snap.3le"
    elements.write_text(src.read_text())
    spec = NetworkSpec(constellation=str(elements))
    out = tmp_path / "snap"
    coverage_sweep(app, REGION, out=out, network=spec, max_shards=1, **SMALL)
    lines = src.read_text().splitlines()
    elements.write_text("\n".join(lines[:-3]) + "\n")  # one satellite fewer
    with pytest.raises(ConflictError, match="constellation, elements_sha256"):
        coverage_sweep(app, REGION, out=out, network=spec, **SMALL)


def test_bad_sweep_inputs_fail_before_any_work(app, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        coverage_sweep(app, REGION, out=tmp_path / "file", **SMALL)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConflictError, match="not a sweep directory"):
        coverage_sweep(app, REGION, out=tmp_path / "other", **SMALL)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
    with pytest.raises(InputError, match="at least one --step"):
        coverage_sweep(app, REGION, out=tmp_path / "x", **dict(SMALL, duration_s=30.0))
