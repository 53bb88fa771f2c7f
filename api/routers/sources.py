from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response, status

from api.auth import AUTH_RESPONSES, AdminCaller, Caller, ReadCaller, WriteCaller
from api.deps import ServicesDep
from api.schemas import ErrorBody, FileError, JobOut, SourceCreate, SourceList, SourceOut, SourceUpdate
from api.tenancy import owned_or_404
from rag.store.registry import SourceRecord
from service import Services

router = APIRouter(prefix="/v1/sources", tags=["sources"], responses=AUTH_RESPONSES)

_errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (403, 404, 409, 422)}


def _out(services: Services, source: SourceRecord) -> SourceOut:
    files = services.registry.source_files_of(source.id)
    last = services.registry.last_job(source.id)
    return SourceOut(
        **source.model_dump(),
        last_job=JobOut(**last.model_dump()) if last else None,
        files=len(files),
        failed_files=[FileError(path=f.path, error=f.error) for f in files.values() if f.error],
    )


def _get(services: Services, caller: Caller, source_id: str) -> SourceRecord:
    """The source if it is in the caller's collection; another collection's is as absent as a missing one."""
    return owned_or_404(services.registry.get_source(source_id), caller, "source", source_id)


@router.post(
    "",
    response_model=SourceOut,
    status_code=status.HTTP_201_CREATED,
    responses=_errors,
    summary="Register a folder for the index to follow",
    description="New files are indexed, changed ones re-indexed and deleted ones removed by refresh jobs: at "
    "once (unless `refresh` is false), every `interval_s` seconds if given, and on `POST /v1/sources/{id}/refresh`. "
    "Only files of accepted types are considered; hidden files and folders are skipped. Needs an admin key: "
    "a source reads the server's own files (within RAG_SOURCE_ROOTS when set) into the collection.",
)
def add_source(body: SourceCreate, response: Response, services: ServicesDep, caller: AdminCaller) -> SourceOut:
    source, job = services.sources.add(
        body.path, body.include, body.exclude, body.interval_s, body.refresh, collection=caller.collection
    )
    if job is not None:
        response.headers["Location"] = f"/v1/jobs/{job.id}"
    return _out(services, source)


@router.get("", response_model=SourceList, summary="Registered folders with their last refresh job")
def list_sources(services: ServicesDep, caller: ReadCaller) -> SourceList:
    return SourceList(sources=[_out(services, s) for s in services.registry.list_sources(caller.collection)])


@router.get("/{source_id}", response_model=SourceOut, responses={404: {"model": ErrorBody}}, summary="One source")
def get_source(source_id: str, services: ServicesDep, caller: ReadCaller) -> SourceOut:
    return _out(services, _get(services, caller, source_id))


@router.patch("/{source_id}", response_model=SourceOut, responses=_errors, summary="Change globs or schedule")
def update_source(source_id: str, body: SourceUpdate, services: ServicesDep, caller: WriteCaller) -> SourceOut:
    source = services.sources.update(
        _get(services, caller, source_id), body.include, body.exclude, body.interval_s, body.clear_interval
    )
    return _out(services, source)


@router.delete(
    "/{source_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_errors,
    summary="Stop following a folder and remove the documents indexed from it",
)
def delete_source(
    source_id: str,
    services: ServicesDep,
    caller: WriteCaller,
    keep_documents: bool = Query(False, description="leave the documents in the index"),
) -> Response:
    services.sources.remove(_get(services, caller, source_id), keep_documents=keep_documents)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{source_id}/refresh",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: {"model": ErrorBody}, 200: {"model": JobOut, "description": "a refresh was already queued"}},
    summary="Refresh a folder now",
    description="Queues a refresh job and returns it (202); if one is already queued or running, returns that "
    "job (200) instead of starting a second. Follow it at `GET /v1/jobs/{id}`.",
)
def refresh_source(source_id: str, response: Response, services: ServicesDep, caller: WriteCaller) -> JobOut:
    job, created = services.jobs.request_refresh(_get(services, caller, source_id))
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return JobOut(**job.model_dump())
