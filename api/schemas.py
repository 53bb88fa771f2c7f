"""Request and response bodies of the HTTP API (the contract; see /docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ingest.indexer import IngestOutcome
from rag.models.ports import GenerationParams
from rag.retrieval import RetrievalOptions
from rag.store.registry import (
    ApiKeyRecord,
    Conversation,
    ConversationTurn,
    DocumentRecord,
    JobRecord,
    SourceRecord,
)
from rag.types import Answer, ChunkRecord, RetrievedChunk, Timings


class DocumentOut(DocumentRecord):
    pass


class UploadResponse(DocumentOut):
    outcome: IngestOutcome = Field(description="created, updated (new version) or unchanged (same content)")


class JobOut(JobRecord):
    pass


class JobList(BaseModel):
    jobs: list[JobOut]


class SourceCreate(BaseModel):
    path: str = Field(min_length=1, max_length=4096, description="absolute path of a folder the service can read")
    include: list[str] | None = Field(
        default=None, description="globs relative to the folder, e.g. `docs/**/*.md` or `*.pdf` (default: `**/*`)"
    )
    exclude: list[str] | None = Field(default=None, description="globs to leave out, e.g. `drafts/**`")
    interval_s: int | None = Field(
        default=None, ge=10, le=30 * 86400, description="refresh every this many seconds; null: only on demand"
    )
    refresh: bool = Field(default=True, description="queue the first refresh at once")


class SourceUpdate(BaseModel):
    include: list[str] | None = None
    exclude: list[str] | None = None
    interval_s: int | None = Field(default=None, ge=10, le=30 * 86400)
    clear_interval: bool = Field(default=False, description="stop scheduled refreshes (on demand only)")


class FileError(BaseModel):
    path: str
    error: str


class SourceOut(SourceRecord):
    last_job: JobOut | None = Field(description="the most recent refresh job of this source")
    files: int = Field(description="files of the folder recorded by refreshes")
    failed_files: list[FileError] = Field(description="files the last attempt could not index; retried next run")


class SourceList(BaseModel):
    sources: list[SourceOut]


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
    conversation_id: str | None = Field(
        default=None,
        max_length=64,
        description="a conversation (POST /v1/conversations) to ask in: its earlier turns are the history a "
        "follow-up is read against, and this question and its answer become its next turn",
    )


class RetrieveRequest(RetrievalOptions):
    question: str = Field(min_length=1, max_length=4000)


class RetrieveResponse(BaseModel):
    chunks: list[RetrievedChunk]
    timings: Timings


class QueryResponse(Answer):
    conversation_id: str | None = Field(
        default=None, description="the conversation this answer was recorded in, when the request named one"
    )


class ConversationCreate(BaseModel):
    title: str | None = Field(
        default=None, max_length=256, description="what the conversation is about (default: its first question)"
    )


class ConversationOut(Conversation):
    pass


class ConversationList(BaseModel):
    conversations: list[ConversationOut]
    total: int = Field(description="conversations in the collection, of which this page lists some")


class ConversationDetail(ConversationOut):
    turns: list[ConversationTurn] = Field(description="the questions and answers, in the order asked")


class Health(BaseModel):
    status: str
    documents: int
    chunks: int
    llm: str | None
    prompt_family: str | None


class Readiness(BaseModel):
    status: str = Field(description="ready, or not ready (with status code 503)")
    checks: dict[str, str] = Field(description="per component (embedder, llm, store, registry): ok, or what is wrong")
    detail: str | None = Field(default=None, description="when not ready: the components that are not, in a sentence")


class ErrorBody(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="what is wrong and what to do about it; for invalid fields (422), FastAPI's list of "
        "{loc, msg, type} objects, one per field"
    )


# Documented on every route that generates: what a failing LLM, in process or remote (RAG_LLM_URL), answers.
LLM_RESPONSES: dict[int | str, dict[str, Any]] = {
    502: {"model": ErrorBody, "description": "the remote LLM (RAG_LLM_URL) failed or answered with an error"},
    503: {"model": ErrorBody, "description": "no LLM in this process, or the remote LLM is unreachable or busy"},
    504: {"model": ErrorBody, "description": "the remote LLM did not answer within RAG_LLM_TIMEOUT_S"},
}


class KeyCreate(BaseModel):
    scope: Literal["read", "write", "admin"] = Field(description="read; write (also read); admin (also write, keys)")
    collection: str | None = Field(
        default=None,
        max_length=64,
        description="the collection the key may use, or * for every collection (admin keys of every collection "
        "only); default: the caller's collection",
    )
    name: str | None = Field(default=None, max_length=256, description="what the key is for")


class KeyOut(ApiKeyRecord):
    pass


class KeyCreated(KeyOut):
    key: str = Field(description="the key itself: shown this once, stored nowhere; send as `Authorization: Bearer`")


class KeyList(BaseModel):
    keys: list[KeyOut]
