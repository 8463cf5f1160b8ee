"""What-ifs as jobs: submitted, run off the request path, followed, their report files read.

:func:`submit_whatif` checks the inputs and records a ``queued`` job in the database (so it
survives the request); :func:`run_job` runs it (the service calls it in a worker thread)
and records the outcome; :func:`fail_unfinished` — called when a process starts — marks as
failed the jobs a stopped process left unfinished, so none is lost silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from skyfence.app._store import open_store
from skyfence.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from skyfence.app.context import App
    from skyfence.app.identity import Principal
    from skyfence.store.jobs import Job

__all__ = ["submit_whatif", "run_job", "job", "job_file", "fail_unfinished", "MAX_DURATION_S"]

MAX_DURATION_S = 6 * 3600.0


def submit_whatif(
    app: App,
    principal: Principal,
    region: str,
    action: str = "activate",
    *,
    start: str | None = None,
    duration_s: float = 3600.0,
    step_s: float = 60.0,
    resolution: int = 4,
) -> Job:
    """Check a what-if's inputs and record it as a queued job (operators; run it with
    :func:`run_job`)."""
    from skyfence.analysis.defaults import DEFAULT_FOOTPRINT_KM, DEFAULT_START
    from skyfence.analysis.whatif import check_whatif_inputs
    from skyfence.links import DEFAULT_RULE
    from skyfence.regions import parse_region
    from skyfence.store.jobs import create_job
    from skyfence.timeutil import datetime64_to_iso, parse_time

    principal.require("run what-ifs", "operator")
    if action not in ("activate", "deactivate"):
        raise InputError(f"action {action!r} is not one of activate, deactivate")
    if not 0 < duration_s <= MAX_DURATION_S:
        raise InputError(f"duration_s must be within 0..{MAX_DURATION_S:g} s, got {duration_s}")
    check_whatif_inputs(
        action, duration_s=duration_s, step_s=step_s, resolution=resolution,
        footprint_km=DEFAULT_FOOTPRINT_KM, rule=DEFAULT_RULE,
    )  # fmt: skip
    t0 = datetime64_to_iso(parse_time(start if start is not None else DEFAULT_START))
    parse_region(region, app.world)
    params = {"region": region, "action": action, "start": t0, "duration_s": duration_s,
              "step_s": step_s, "resolution": resolution}  # fmt: skip
    with open_store(app) as store:
        return create_job(store, "whatif", params, created_by=principal.name)


def run_job(app: App, job_id: str) -> Job:
    """Run a queued job now, in this thread, and record its result or its error."""
    from skyfence.app.whatif import whatif
    from skyfence.store.jobs import get_job, mark

    with open_store(app) as store:
        queued = get_job(store, job_id)
        mark(store, job_id, "running")
    p = queued.params
    try:
        out = Path(app.settings.reports_dir).expanduser() / "jobs" / job_id
        run = whatif(
            app, p["region"], p["action"], start=p["start"], duration_s=p["duration_s"],
            step_s=p["step_s"], resolution=p["resolution"], out=out,
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the job records every failure, with its reason
        with open_store(app) as store:
            return mark(store, job_id, "failed", error=f"{type(exc).__name__}: {exc}")
    from skyfence.jsonable import to_jsonable

    summary = to_jsonable(run.to_dict())
    summary["files"] = sorted(path.name for path in run.files.values())
    with open_store(app) as store:
        return mark(store, job_id, "done", result=summary, out_dir=str(run.out))


def job(app: App, principal: Principal, job_id: str) -> Job:
    """A job's status (and result when done)."""
    from skyfence.store.jobs import get_job

    principal.require("read jobs", "viewer")
    with open_store(app) as store:
        return get_job(store, job_id)


def job_file(app: App, principal: Principal, job_id: str, name: str) -> Path:
    """The path of report file ``name`` of a finished job (only files the report lists)."""
    found = job(app, principal, job_id)
    if found.status != "done" or found.out_dir is None:
        raise NotFoundError(f"job {job_id} has no report files yet (it is {found.status})")
    out = Path(found.out_dir)
    for path in out.iterdir():
        if path.name == name and path.is_file():
            return path
    listed = ", ".join(sorted(p.name for p in out.iterdir() if p.is_file()))
    raise NotFoundError(f"job {job_id} has no file {name!r}; it has {listed}")


def fail_unfinished(app: App) -> list[str]:
    """Mark failed the jobs that a stopped process on this host left unfinished."""
    from skyfence.store.jobs import fail_orphans

    with open_store(app) as store:
        return fail_orphans(store)
