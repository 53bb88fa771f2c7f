from __future__ import annotations

from fastapi import APIRouter, Query

from api.auth import AUTH_RESPONSES, ReadCaller
from api.deps import ServicesDep
from api.schemas import ErrorBody, JobList, JobOut
from api.tenancy import owned_or_404

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=AUTH_RESPONSES)


@router.get("", response_model=JobList, summary="Recent background jobs, newest first")
def list_jobs(
    services: ServicesDep,
    caller: ReadCaller,
    limit: int = Query(50, ge=1, le=500),
    source_id: str | None = Query(None, description="only the refresh jobs of this source"),
    kind: str | None = Query(None, description="only jobs of this kind: upload or refresh"),
) -> JobList:
    jobs = services.registry.list_jobs(limit, source_id=source_id, kind=kind, collection=caller.collection)
    return JobList(jobs=[JobOut(**j.model_dump()) for j in jobs])


@router.get(
    "/{job_id}",
    response_model=JobOut,
    responses={404: {"model": ErrorBody}},
    summary="A job's status, progress, outcome counts and per-file errors",
)
def get_job(job_id: str, services: ServicesDep, caller: ReadCaller) -> JobOut:
    job = owned_or_404(services.registry.get_job(job_id), caller, "job", job_id)
    return JobOut(**job.model_dump())
