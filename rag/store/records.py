"""The registry's rows, which are also the API's response shapes.

Each model here is what a registry method (rag/store/registry/) returns for one row of its table, and the HTTP
API returns the same models as they are (api/schemas.py), so a field added here shows in both. Times are UTC:
SQLite stores them without a zone, so naive values are read as UTC, and PostgreSQL returns them in the session's
zone, so aware values are converted (``UtcDatetime``).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from rag.types import Citation

# Collections are tenants: every document, folder source and job belongs to one (docs/security.md). Rows made
# before collections existed belong to this one, which is also where requests go that name no collection.
DEFAULT_COLLECTION = "default"


def as_utc(value: dt.datetime) -> dt.datetime:
    """Naive values (SQLite) are UTC; aware ones (PostgreSQL, in the session's zone) are converted to it."""
    return value.astimezone(dt.timezone.utc) if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


# A time column of a record, read back as UTC whichever database stored it.
UtcDatetime = Annotated[dt.datetime, AfterValidator(as_utc)]


class DocumentStatus(str, Enum):
    indexing = "indexing"  # first version being written; not visible to queries
    ready = "ready"


class DocumentRecord(BaseModel):
    """A registry row. Times are UTC: SQLite stores them without a zone, so naive values are read as UTC, and
    PostgreSQL returns them in the session's zone, so aware values are converted."""

    id: str
    source: str
    content_hash: str
    version: int
    status: DocumentStatus
    media_type: str
    size_bytes: int
    chunk_count: int
    created_at: UtcDatetime
    updated_at: UtcDatetime
    collection: str = Field(default=DEFAULT_COLLECTION, description="the collection (tenant) the document is in")


class JobStatus(str, Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class JobError(BaseModel):
    source: str
    error: str


class JobRecord(BaseModel):
    """A unit of background work (an upload to index, a folder refresh) and how far it got."""

    id: str
    kind: str
    status: JobStatus
    description: str
    total: int = Field(description="items to process, when known")
    done: int = Field(description="items processed so far")
    counts: dict[str, int] = Field(description="outcomes so far: created, updated, unchanged, failed, chunks")
    errors: list[JobError]
    document_id: str | None
    source_id: str | None = Field(default=None, description="the folder source of a refresh job")
    collection: str = Field(default=DEFAULT_COLLECTION, description="the collection (tenant) the job works in")
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None


class SourceRecord(BaseModel):
    """A registered folder that refresh jobs keep the index in step with."""

    id: str
    path: str = Field(description="absolute path of the folder")
    include: list[str] = Field(description="globs (relative to the folder) a file must match one of")
    exclude: list[str] = Field(description="globs that leave a file out even if included")
    interval_s: int | None = Field(description="seconds between scheduled refreshes; null: only on demand")
    collection: str = Field(default=DEFAULT_COLLECTION, description="the collection its documents are indexed into")
    created_at: UtcDatetime
    updated_at: UtcDatetime


class SourceFile(BaseModel):
    source_id: str
    path: str
    size: int | None
    mtime_ns: int | None
    content_hash: str | None
    document_id: str | None
    error: str | None


class ApiKeyRecord(BaseModel):
    """An API key as listed: never the key or its hash."""

    id: str
    prefix: str = Field(description="the key's first characters, enough to recognise it")
    scope: str = Field(description="read, write or admin (each includes the ones before it)")
    collection: str = Field(description="the collection the key may use, or * for every collection")
    name: str | None = Field(default=None, description="what the key is for, as given when it was made")
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None = None


class ConversationTurn(BaseModel):
    """One question of a conversation and what the service answered; earlier turns are the history the next
    follow-up is read against."""

    id: str
    conversation_id: str
    position: int = Field(description="1 for the conversation's first question, then 2, 3, ...")
    question: str = Field(description="the question as asked")
    standalone_question: str | None = Field(
        default=None,
        description="the question actually answered, once resolved against the earlier turns; null "
        "when it was answered as asked",
    )
    answer: str
    answer_type: str = Field(description="as in the query response: generated, composed, extractive, abstained, ...")
    citations: list[Citation] = Field(default_factory=list, description="the answer's citations into documents")
    created_at: UtcDatetime


class Conversation(BaseModel):
    """A thread of questions in one collection (tenant); its turns are listed by ``GET /v1/conversations/{id}``."""

    id: str
    title: str | None = Field(default=None, description="as given when it was made, else its first question")
    collection: str = Field(default=DEFAULT_COLLECTION, description="the collection (tenant) the conversation is in")
    turn_count: int = Field(default=0, description="questions asked in it so far")
    created_at: UtcDatetime
    updated_at: UtcDatetime = Field(description="when it was made or its last question was answered")
