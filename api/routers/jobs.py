from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query

from api.auth import AUTH_RESPONSES, Caller, read_access
from api.deps import get_services
from api.schemas import ErrorBody, JobList, JobOut
from api.services import Services

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=AUTH_RESPONSES)


@router.get("", response_model=JobList, summary="Recent background jobs, newest first")
def list_jobs(
    limit: int = Query(50, ge=1, le=500),
    source_id: str | None = Query(None, description="only the refresh jobs of this source"),
    kind: str | None = Query(None, description="only jobs of this kind: upload or refresh"),
    services: Services = Depends(get_services),
    caller: Caller = Depends(read_access),
) -> JobList:
    jobs = services.registry.list_jobs(limit, source_id=source_id, kind=kind, collection=caller.collection)
    return JobList(jobs=[JobOut(**j.model_dump()) for j in jobs])


@router.get(
    "/{job_id}",
    response_model=JobOut,
    responses={404: {"model": ErrorBody}},
    summary="A job's status, progress, outcome counts and per-file errors",
)
def get_job(job_id: str, services: Services = Depends(get_services), caller: Caller = Depends(read_access)) -> JobOut:
    job = services.registry.get_job(job_id)
    if job is None or job.collection != caller.collection:
        raise HTTPException(status_code=404, detail=f"no job with id {job_id!r} in collection {caller.collection!r}")
    return JobOut(**job.model_dump())
