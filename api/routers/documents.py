from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Query, Response, UploadFile, status

from api.auth import AUTH_RESPONSES, ReadCaller, WriteCaller
from api.deps import ServicesDep
from api.schemas import DocumentDetail, DocumentList, DocumentOut, ErrorBody, JobOut, UploadResponse
from api.tenancy import not_found, owned_or_404
from ingest import ocr
from ingest.indexer import IngestOutcome, clean_upload_name
from ingest.parsers import parser_for, supported_suffixes

router = APIRouter(prefix="/v1/documents", tags=["documents"], responses=AUTH_RESPONSES)

_errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (400, 413, 415, 422)}


@router.post(
    "",
    response_model=UploadResponse | JobOut,
    status_code=status.HTTP_201_CREATED,
    responses={**_errors, 202: {"model": JobOut, "description": "accepted as a background job"}},
    summary="Upload a file and index it",
    description=f"Multipart upload in field `file`. Accepted types: {', '.join(supported_suffixes())}. "
    "Identical content is not indexed twice; new content under an existing file name becomes a new version. "
    "Files over RAG_BACKGROUND_UPLOAD_BYTES, files read by OCR (images, PDFs with scanned pages), or any file "
    "with `background=true`, are indexed as a background job: the answer is 202 with the job, to follow at "
    "`GET /v1/jobs/{id}` (for OCR, `done` and `total` count pages).",
)
def upload_document(
    response: Response,
    services: ServicesDep,
    caller: WriteCaller,
    file: UploadFile = File(...),
    background: bool = Query(False, description="index in a background job even if the file is small"),
) -> UploadResponse | JobOut:
    # The name is only ever the document's label: never a path on disk, and the bytes never reach a shell.
    name = clean_upload_name(file.filename)
    data = file.file.read(services.indexer.max_bytes + 1)
    services.indexer.check_size(len(data), name)
    parser_for(name)  # reject an unsupported type now, not in the job
    # OCR takes about a second a page: a file that needs it is indexed in a job that reports pages read.
    needs_ocr = ocr.needs_ocr(data, name)
    if background or needs_ocr or len(data) > services.settings.background_upload_bytes:
        job, _ = services.jobs.submit_upload(data, name, caller.collection)
        response.status_code = status.HTTP_202_ACCEPTED
        response.headers["Location"] = f"/v1/jobs/{job.id}"
        return JobOut(**job.model_dump())
    result = services.indexer.ingest_bytes(data, name, caller.collection)
    if result.outcome is not IngestOutcome.created:
        response.status_code = status.HTTP_200_OK
    return UploadResponse(**result.document.model_dump(), outcome=result.outcome)


@router.get("", response_model=DocumentList, summary="List indexed documents")
def list_documents(
    services: ServicesDep,
    caller: ReadCaller,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=2**31, description="documents to skip"),  # SQLite integers are 64-bit
) -> DocumentList:
    records = services.registry.list(limit=limit, offset=offset, collection=caller.collection)
    return DocumentList(
        documents=[DocumentOut(**r.model_dump()) for r in records], total=services.registry.count(caller.collection)
    )


@router.get(
    "/{document_id}",
    response_model=DocumentDetail,
    responses={404: {"model": ErrorBody}},
    summary="One document, optionally with its chunks and their character spans",
)
def get_document(
    document_id: str,
    services: ServicesDep,
    caller: ReadCaller,
    include_chunks: bool = Query(False, description="also return every chunk with its span"),
) -> DocumentDetail:
    record = owned_or_404(services.registry.get(document_id), caller, "document", document_id)
    chunks = services.store.chunks_of(document_id, record.version) if include_chunks else []
    return DocumentDetail(**record.model_dump(), chunks=chunks)


@router.delete(
    "/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorBody}},
    summary="Delete a document and all its chunks",
)
def delete_document(document_id: str, services: ServicesDep, caller: WriteCaller) -> Response:
    owned_or_404(services.registry.get(document_id), caller, "document", document_id)
    if not services.indexer.delete(document_id):
        raise not_found("document", document_id, caller)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
