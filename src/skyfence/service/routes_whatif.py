"""``/v1/whatif``: what-ifs as jobs — 202 and a job id at once, the work in a worker thread
off the request path, the status and the report files when done. Jobs are rows in the
database: a server restarted mid-job marks it failed (with the reason), never loses it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from skyfence.service import _convert
from skyfence.service.auth import CurrentPrincipal
from skyfence.service.errors import RESPONSES

__all__ = ["router", "WhatIfRequest"]

router = APIRouter(prefix="/v1/whatif", tags=["whatif"], responses=RESPONSES)
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


class WhatIfRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # up to 100,000 characters: a polygon drawn on the map is an h3: list of its cells
    region: str = Field(min_length=1, max_length=100_000, examples=["PL"])
    action: Literal["activate", "deactivate"] = "activate"
    start: str | None = Field(default=None, max_length=64, examples=["2026-02-22T12:00:00Z"])
    duration_s: float = Field(default=3600.0, gt=0, le=6 * 3600.0)
    step_s: float = Field(default=60.0, ge=15.0, le=3600.0)
    resolution: int = Field(default=4, ge=2, le=6)


def _executor(request: Request) -> ThreadPoolExecutor:
    state = request.app.state
    pool: ThreadPoolExecutor | None = getattr(state, "whatif_pool", None)
    if pool is None:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skyfence-whatif")
        state.whatif_pool = pool
    return pool


def _job_out(job: Any) -> dict[str, Any]:
    return {
        "id": job.job_id,
        "kind": job.kind,
        "status": job.status,
        "params": job.params,
        "created_by": job.created_by,
        "created_at": _convert.iso(job.created_at),
        "started_at": _convert.iso(job.started_at),
        "finished_at": _convert.iso(job.finished_at),
        "result": job.result,
        "error": job.error,
    }


@router.post("", operation_id="submit_whatif", status_code=202)
def submit(body: WhatIfRequest, request: Request, principal: CurrentPrincipal) -> Any:
    """Start a what-if (operators): 202 with the job id; follow it at ``/v1/whatif/{id}``."""
    from skyfence.app.jobs import run_job, submit_whatif

    app = request.app.state.skyfence
    job = submit_whatif(
        app, principal, body.region, body.action, start=body.start,
        duration_s=body.duration_s, step_s=body.step_s, resolution=body.resolution,
    )  # fmt: skip
    _executor(request).submit(run_job, app, job.job_id)
    return JSONResponse(
        _job_out(job), status_code=202, headers={"Location": f"/v1/whatif/{job.job_id}"}
    )


@router.get("/{job_id}", operation_id="get_whatif")
def status(job_id: JobId, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """A what-if job: queued, running, done (with its summary and files) or failed (why)."""
    from skyfence.app.jobs import job

    return _job_out(job(request.app.state.skyfence, principal, job_id))


@router.get(
    "/{job_id}/files/{name}",
    operation_id="get_whatif_file",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def report_file(
    job_id: JobId,
    name: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,100}$")],
    request: Request,
    principal: CurrentPrincipal,
) -> FileResponse:
    """One file of a finished what-if's report (as listed in its ``result.files``)."""
    from skyfence.app.jobs import job_file

    return FileResponse(job_file(request.app.state.skyfence, principal, job_id, name))
