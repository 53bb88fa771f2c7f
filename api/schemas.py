"""Request and response bodies of the HTTP API (the contract; see /docs)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ingest.indexer import IngestOutcome
from rag.models.llm import GenerationParams
from rag.retrieval import RetrievalOptions
from rag.store.registry import DocumentRecord, JobRecord
from rag.types import Answer, ChunkRecord, RetrievedChunk, Timings


class DocumentOut(DocumentRecord):
    pass


class UploadResponse(DocumentOut):
    outcome: IngestOutcome = Field(description="created, updated (new version) or unchanged (same content)")


class JobOut(JobRecord):
    pass


class JobList(BaseModel):
    jobs: list[JobOut]


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int


class DocumentDetail(DocumentOut):
    chunks: list[ChunkRecord] = Field(default_factory=list)


class QueryRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000, description="the question to answer")
    top_k: int | None = Field(default=None, ge=1, le=50, description="chunks to retrieve (default: RAG_TOP_K)")
    max_new_tokens: int | None = Field(
        default=None, ge=1, le=4096, description="shortcut for generation.max_new_tokens"
    )
    retrieval: RetrievalOptions | None = Field(default=None, description="mode, filters, floor, MMR")
    generation: GenerationParams | None = Field(default=None, description="sampling settings for the answer")
    stream: bool = Field(
        default=False,
        description="send server-sent events: `delta` (text as generated), `answer` (the verified answer and its "
        "citations; replaces the streamed text when answer_type is extractive), `done` (timings)",
    )


class RetrieveRequest(RetrievalOptions):
    question: str = Field(min_length=1, max_length=4000)


class RetrieveResponse(BaseModel):
    chunks: list[RetrievedChunk]
    timings: Timings


class QueryResponse(Answer):
    pass


class Health(BaseModel):
    status: str
    documents: int
    chunks: int
    llm: str | None
    prompt_family: str | None


class ErrorBody(BaseModel):
    detail: str
