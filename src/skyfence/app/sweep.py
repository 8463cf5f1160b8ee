"""Coverage sweeps: a region (or the whole world's land) over a long window, sharded,
checkpointed and run here, in local processes or on a Dask cluster.

``coverage_sweep(app, "world", duration_s=86400, step_s=15, resolution=5, out=DIR)`` is the
global day. The sweep directory holds::

    manifest.json                 inputs, their SHA-256, the shards done (resume state)
    shards/w0000-b00000.npz ...   one file per (time window, cell block) shard
    cells.npy                     the cells swept (uint64 H3 indices)
    hours/hour-0000.parquet ...   GeoParquet per window (an hour by default)
    day.parquet                   GeoParquet, the whole window per cell
    summary.json                  served fraction, RTT percentiles, handovers, per hour
    map.png                       share of time served per cell

A sweep killed at any point is resumed by running the same command again: the shards listed
in the manifest are skipped. Any change to the inputs — element sets, gateways, PoPs, latency
model, cells, window, step, rule or shard plan — changes the inputs' hash, and such a sweep is
not resumed (refused, or restarted with ``overwrite``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skyfence.analysis.defaults import DEFAULT_FOOTPRINT_KM, DEFAULT_START
from skyfence.app._progress import ProgressCallback
from skyfence.app.context import App
from skyfence.app.network import NetworkSpec, load_network
from skyfence.errors import InputError
from skyfence.files import check_writable_dir

if TYPE_CHECKING:
    from skyfence.scale.runner import Parallel

__all__ = ["SweepRun", "WORLD", "coverage_sweep", "land_cells", "sweep_times"]

#: The region expression of every land cell of the worldview.
WORLD = "world"

#: Cells per shard by default: about 20 MB of per-step arrays for an hour of 15-s steps.
DEFAULT_BLOCK_CELLS = 20_000


@dataclass
class SweepRun:
    """What a sweep did and where its files are."""

    expression: str
    out: Path
    backend: str
    workers: int
    plan: dict[str, int]
    shards_total: int
    shards_resumed: int
    shards_run: int
    elapsed_s: float
    summary: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    inputs_sha256: str = ""

    @property
    def seconds_per_shard(self) -> float | None:
        return self.elapsed_s / self.shards_run if self.shards_run else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "out": str(self.out),
            "backend": self.backend,
            "workers": self.workers,
            "plan": self.plan,
            "shards": {
                "total": self.shards_total, "resumed": self.shards_resumed,
                "run": self.shards_run,
            },
            "elapsed_s": self.elapsed_s,
            "seconds_per_shard": self.seconds_per_shard,
            "inputs_sha256": self.inputs_sha256,
            "summary": self.summary,
            "files": {k: str(v) for k, v in self.files.items()},
        }  # fmt: skip


def sweep_times(start: Any, duration_s: float, step_s: float) -> np.ndarray:
    """``[start, start + duration)`` every ``step_s`` (the end left out, so 24 h at 15 s is
    5,760 steps and every hour has the same number of steps)."""
    from skyfence.timeutil import parse_time

    if step_s <= 0:
        raise InputError(f"--step must be > 0 seconds, got {step_s:g}")
    if duration_s < step_s:
        raise InputError(f"--window ({duration_s:g} s) must be at least one --step ({step_s:g} s)")
    n = int(np.floor(duration_s / step_s + 1e-9))
    offsets = np.round(np.arange(n) * step_s * 1e9).astype("int64").astype("timedelta64[ns]")
    return parse_time(start) + offsets


def land_cells(app: App, resolution: int) -> np.ndarray:
    """Every H3 cell at ``resolution`` that covers land of a country of the worldview.

    Built once (about 90 s at resolution 5: ~596,000 cells) and cached on disk under the
    settings' cache directory, keyed by the worldview.
    """
    from skyfence.files import atomic_path

    def build() -> np.ndarray:
        world = app.world
        cache = (
            Path(app.settings.resolved_cache_dir())
            / f"land-cells-{world.worldview}-r{resolution}.npy"
        )
        if cache.is_file():
            try:
                return np.asarray(np.load(cache, allow_pickle=False), dtype=np.uint64)
            except (OSError, ValueError):
                pass
        cells = np.unique(np.concatenate([c.cells(resolution) for c in world.countries]))
        with atomic_path(cache, make_parents=True) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, cells)
        return cells

    return app.cached(("land-cells", resolution), build)


def _inputs(
    network: NetworkSpec, net: Any, cells: np.ndarray, times: np.ndarray, step_s: float,
    rule: str, window_steps: int, block_cells: int,
) -> dict[str, Any]:  # fmt: skip
    """What the results depend on, as hashable JSON (files by their content)."""
    from skyfence.scale.checkpoint import hash_arrays, hash_file

    def named(spec: Any) -> Any:
        if spec is None:
            return None
        p = Path(str(spec)).expanduser()
        return {"file": str(p), "sha256": hash_file(p)} if p.is_file() else str(spec)

    el = net.constellation.elements
    gw, pops = net.model.gateways, net.model.pops
    return {
        "constellation": named(network.constellation),
        "elements_sha256": hash_arrays(*el.columns().values()),
        "gateways": named(network.gateways),
        "gateways_sha256": hash_arrays(gw.id, gw.latitude_deg, gw.longitude_deg),
        "pops_sha256": hash_arrays(pops.id, pops.latitude_deg, pops.longitude_deg),
        "pop_map": named(network.pop_map),
        "latency_model": named(network.latency_model),
        "latency_label": net.latency_model.label if net.latency_model else "",
        "infer_gateways": network.infer_gateways,
        "cells": len(cells),
        "cells_sha256": hash_arrays(cells),
        "start": str(times[0]),
        "steps": len(times),
        "step_s": float(step_s),
        "rule": rule,
        "window_steps": int(window_steps),
        "block_cells": int(block_cells),
    }


def coverage_sweep(
    app: App,
    expression: str = WORLD,
    *,
    network: NetworkSpec | None = None,
    start: str | np.datetime64 = DEFAULT_START,
    duration_s: float = 86400.0,
    step_s: float = 15.0,
    resolution: int = 5,
    out: str | Path,
    parallel: Parallel | None = None,
    window_s: float = 3600.0,
    block_cells: int = DEFAULT_BLOCK_CELLS,
    max_shards: int | None = None,
    rule: str | None = None,
    map_png: bool = True,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> SweepRun:
    """Coverage of ``expression`` (``"world"``: all land cells) per cell, window and day.

    Parameters
    ----------
    out : path
        The sweep directory: created, or resumed when it holds a sweep of the same inputs;
        a directory of other inputs is refused unless ``overwrite`` (it is replaced).
    parallel : Parallel, optional
        Where the shards run (default: this process); see :mod:`skyfence.scale.runner`.
    window_s, block_cells : float, int
        The shard plan: time windows of ``window_s`` (one GeoParquet file each) times blocks
        of ``block_cells`` cells.
    max_shards : int, optional
        Stop after running this many shards (the rest stay for a later resume; the outputs
        are written only once every shard is done).
    progress : callable, optional
        ``progress(shards_done, shards_total)``, counting resumed shards as done.
    """
    from skyfence.analysis.coverage import cell_centres, cell_sites
    from skyfence.analysis.whatif import check_whatif_inputs
    from skyfence.links import DEFAULT_RULE
    from skyfence.regions import parse_region
    from skyfence.scale.checkpoint import SweepDir
    from skyfence.scale.runner import Parallel, open_runner
    from skyfence.scale.sweep import SweepCommon, SweepPlan, merge_day, sweep_shard

    rule = DEFAULT_RULE if rule is None else rule
    network = network or NetworkSpec()
    parallel = parallel or Parallel()
    check_whatif_inputs(
        "activate", duration_s=duration_s, step_s=step_s, resolution=resolution,
        footprint_km=DEFAULT_FOOTPRINT_KM, rule=rule,
    )  # fmt: skip
    times = sweep_times(start, duration_s, step_s)
    if window_s < step_s:
        raise InputError(f"the shard window ({window_s:g} s) must hold at least one step")
    if isinstance(block_cells, bool) or int(block_cells) < 1:
        raise InputError(f"--block-cells must be a whole number >= 1, got {block_cells!r}")
    if max_shards is not None and max_shards < 0:
        raise InputError(f"max_shards must be >= 0, got {max_shards}")
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; a sweep writes a directory")
    check_writable_dir(out)  # before the cells and the network are built
    if expression.strip().lower() == WORLD:
        cells, name = land_cells(app, resolution), "all land"
    else:
        region = parse_region(expression, app.world)
        cells, name = region.cells(resolution), region.name
    if len(cells) == 0:
        raise InputError(f"{expression!r} has no cells at resolution {resolution}")
    net = load_network(app, network)
    window_steps = max(1, int(round(window_s / step_s)))
    plan = SweepPlan(len(cells), len(times), window_steps, int(block_cells))
    inputs = _inputs(network, net, cells, times, step_s, rule, window_steps, int(block_cells))
    sweep = SweepDir.open(out, inputs=inputs, total=len(plan.shards()), overwrite=overwrite)
    _save_cells(out / "cells.npy", cells)
    specs = plan.shards()
    done_before = sweep.done
    todo = [s for s in specs if s.key not in done_before]
    if max_shards is not None:
        todo = todo[:max_shards]
    terminals = cell_sites(cells)
    common = SweepCommon(
        net.constellation, net.model, terminals, net.model.home_pops(terminals), times, rule
    )
    resumed = len(specs) - len([s for s in specs if s.key not in done_before])

    def feed(done: int, total: int) -> None:
        if progress:
            progress(resumed + done, len(specs))

    t0 = time.perf_counter()
    with open_runner(parallel if todo else Parallel()) as runner:
        backend, workers = runner.backend, runner.workers
        runner.run(
            sweep_shard, todo, common=common, progress=feed,
            on_result=lambda i, result: sweep.save(todo[i].key, result),
        )  # fmt: skip
    elapsed = time.perf_counter() - t0
    run = SweepRun(
        expression=expression, out=out, backend=backend, workers=workers,
        plan=plan.to_dict(), shards_total=len(specs), shards_resumed=resumed,
        shards_run=len(todo), elapsed_s=elapsed, summary={}, inputs_sha256=sweep.inputs_sha256,
    )  # fmt: skip
    if len(sweep.done) < len(specs):
        run.summary = {"complete": False, "shards_left": len(specs) - len(sweep.done)}
        return run
    lat, lon = cell_centres(cells)
    run.files, run.summary = _write_outputs(
        app, sweep, plan, cells, lat, lon, times, float(step_s), net, name, map_png,
        merge_day(plan, sweep.load, float(step_s)),
    )  # fmt: skip
    return run


def _save_cells(path: Path, cells: np.ndarray) -> None:
    from skyfence.files import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, cells)


def _write_outputs(
    app: App, sweep: Any, plan: Any, cells: np.ndarray, lat: np.ndarray, lon: np.ndarray,
    times: np.ndarray, step_s: float, net: Any, name: str, map_png: bool, day: Any,
) -> tuple[dict[str, Path], dict[str, Any]]:  # fmt: skip
    from skyfence.files import write_text_atomic
    from skyfence.jsonable import to_jsonable
    from skyfence.scale.outputs import cell_wkb, write_day, write_map, write_window

    out = sweep.path
    wkb = cell_wkb(cells)
    files: dict[str, Path] = {}
    by_window: dict[int, list[str]] = {}
    for spec in plan.shards():
        by_window.setdefault(spec.window, []).append(spec.key)
    hours = []
    for w in range(plan.windows):
        shards = [sweep.load(k) for k in by_window[w]]
        path = write_window(
            out / "hours" / f"hour-{w:04d}.parquet", w, plan, shards, cells=cells,
            latitude_deg=lat, longitude_deg=lon, times=times, wkb=wkb,
        )  # fmt: skip
        t0, t1 = plan.window_bounds(w)
        hours.append({
            "window": w, "start": str(times[t0]), "steps": t1 - t0, "file": path.name,
            "served_fraction_unweighted": float(day.window_served_steps[w]) / ((t1 - t0) * len(cells)),
        })  # fmt: skip
    files["hours"] = out / "hours"
    files["day.parquet"] = write_day(
        out / "day.parquet", day, cells=cells, latitude_deg=lat, longitude_deg=lon, wkb=wkb
    )
    gw = net.model.gateways
    order = np.argsort(-day.gateway_steps, kind="stable")[:10]
    total_gw = int(day.gateway_steps.sum())
    summary = {
        "complete": True,
        "region": name,
        "start": str(times[0]),
        "steps": len(times),
        "step_s": step_s,
        **day.summary(cells),
        "handovers_per_cell": {
            "mean": float(day.handovers.mean()),
            "p50": float(np.percentile(day.handovers, 50)),
            "p95": float(np.percentile(day.handovers, 95)),
            "max": int(day.handovers.max()),
        },
        "gateways_used": [
            {"id": str(gw.id[i]), "name": str(gw.name[i]), "country": str(gw.country[i]),
             "cell_steps": int(day.gateway_steps[i]),
             "share": float(day.gateway_steps[i] / total_gw) if total_gw else 0.0}
            for i in order if day.gateway_steps[i] > 0
        ],
        "hours": hours,
    }  # fmt: skip
    files["summary.json"] = write_text_atomic(
        out / "summary.json", json.dumps(to_jsonable(summary), indent=1)
    )
    if map_png:
        start = np.datetime_as_string(times[0], unit="s")
        files["map.png"] = write_map(
            out / "map.png", cells, lat, lon, day.served_fraction, day.rtt_mean_ms,
            title=f"{name}, {start} UTC + {len(times) * step_s / 3600:g} h, "
            f"{len(times)} steps of {step_s:g} s",
            worldview=app.world,
        )  # fmt: skip
    return files, summary
