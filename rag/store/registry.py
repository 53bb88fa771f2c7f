"""The document registry: which documents exist, their content hash, current version and status.

SQLAlchemy Core over SQLite by default; the schema uses only portable types so the same code runs on
PostgreSQL when the deployment needs a shared registry.

Visibility rule: a chunk in the vector store is visible only if its (document_id, version) is the document's
``version`` here and the document is ``ready``. Swapping a version is therefore one row update, which is what
makes re-ingestion atomic for readers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

metadata = MetaData()

documents = Table(
    "documents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("source", String(1024), nullable=False, index=True),
    Column("content_hash", String(64), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("chunk_count", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


# One row: a counter bumped in the same transaction as every publish and delete, so readers that cache
# derived data (the keyword index) can tell cheaply whether the set of visible chunks changed.
state = Table(
    "state",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", Integer, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("description", String(1024), nullable=False, default=""),
    Column("total", Integer, nullable=False, default=0),
    Column("done", Integer, nullable=False, default=0),
    Column("counts", JSON, nullable=False, default=dict),
    Column("errors", JSON, nullable=False, default=list),
    Column("document_id", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)


class DocumentStatus(str, Enum):
    indexing = "indexing"  # first version being written; not visible to queries
    ready = "ready"


class DocumentRecord(BaseModel):
    """A registry row. Times are UTC; SQLite stores them without a zone, so naive values are read as UTC."""

    id: str
    source: str
    content_hash: str
    version: int
    status: DocumentStatus
    media_type: str
    size_bytes: int
    chunk_count: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


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
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @field_validator("created_at", "started_at", "finished_at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return value if value is None or value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_document_id() -> str:
    return uuid.uuid4().hex


class Registry:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        with engine.begin() as conn:
            if conn.execute(select(state.c.value).where(state.c.key == "generation")).first() is None:
                conn.execute(insert(state).values(key="generation", value=0))

    @staticmethod
    def _bump(conn) -> None:
        conn.execute(update(state).where(state.c.key == "generation").values(value=state.c.value + 1))

    def generation(self) -> int:
        """Changes whenever the set of visible document versions changes."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(state.c.value).where(state.c.key == "generation")).scalar_one())

    @classmethod
    def from_url(cls, url: str) -> Registry:
        engine = create_engine(url)
        if engine.dialect.name == "sqlite":
            if engine.url.database and engine.url.database != ":memory:":
                Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(conn, _record) -> None:  # WAL: readers do not block the ingest writer
                cursor = conn.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=10000")
                cursor.close()

        return cls(engine)

    def _one(self, stmt) -> DocumentRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return DocumentRecord(**row) if row else None

    def get(self, document_id: str) -> DocumentRecord | None:
        return self._one(select(documents).where(documents.c.id == document_id))

    def find_by_hash(self, content_hash: str) -> DocumentRecord | None:
        return self._one(
            select(documents)
            .where(documents.c.content_hash == content_hash, documents.c.status == DocumentStatus.ready.value)
            .limit(1)
        )

    def find_by_source(self, source: str) -> DocumentRecord | None:
        return self._one(select(documents).where(documents.c.source == source).limit(1))

    def list(self, limit: int | None = 100, offset: int = 0) -> list[DocumentRecord]:
        stmt = select(documents).order_by(documents.c.created_at, documents.c.id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [DocumentRecord(**row) for row in conn.execute(stmt).mappings()]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(documents.c.id)).all())

    def create(
        self, *, document_id: str, source: str, content_hash: str, media_type: str, size_bytes: int
    ) -> DocumentRecord:
        now = _now()
        row = {
            "id": document_id,
            "source": source,
            "content_hash": content_hash,
            "version": 1,
            "status": DocumentStatus.indexing.value,
            "media_type": media_type,
            "size_bytes": size_bytes,
            "chunk_count": 0,
            "created_at": now,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(documents).values(**row))
        return DocumentRecord(**row)

    def publish(
        self,
        document_id: str,
        *,
        version: int,
        content_hash: str,
        media_type: str,
        size_bytes: int,
        chunk_count: int,
    ) -> DocumentRecord:
        """Make ``version`` the visible one, in a single row update."""
        with self.engine.begin() as conn:
            conn.execute(
                update(documents)
                .where(documents.c.id == document_id)
                .values(
                    version=version,
                    status=DocumentStatus.ready.value,
                    content_hash=content_hash,
                    media_type=media_type,
                    size_bytes=size_bytes,
                    chunk_count=chunk_count,
                    updated_at=_now(),
                )
            )
            self._bump(conn)
        record = self.get(document_id)
        assert record is not None
        return record

    def delete(self, document_id: str) -> bool:
        with self.engine.begin() as conn:
            deleted = conn.execute(delete(documents).where(documents.c.id == document_id)).rowcount > 0
            if deleted:
                self._bump(conn)
            return deleted

    def visible_versions(self, document_ids: Iterable[str]) -> dict[str, int]:
        """Current version of each ready document among ``document_ids``."""
        ids = list(set(document_ids))
        if not ids:
            return {}
        stmt = select(documents.c.id, documents.c.version).where(
            documents.c.id.in_(ids), documents.c.status == DocumentStatus.ready.value
        )
        with self.engine.connect() as conn:
            return {row.id: int(row.version) for row in conn.execute(stmt)}

    def visible_versions_all(self) -> dict[str, int]:
        stmt = select(documents.c.id, documents.c.version).where(documents.c.status == DocumentStatus.ready.value)
        with self.engine.connect() as conn:
            return {row.id: int(row.version) for row in conn.execute(stmt)}

    def document_ids_matching(
        self, *, ids: list[str] | None = None, source_prefix: str | None = None, media_types: list[str] | None = None
    ) -> set[str]:
        """Ready documents passing every given filter: how query filters become a set of document ids."""
        stmt = select(documents.c.id).where(documents.c.status == DocumentStatus.ready.value)
        if ids is not None:
            stmt = stmt.where(documents.c.id.in_(ids))
        if source_prefix:
            escaped = source_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(documents.c.source.like(f"{escaped}%", escape="\\"))
        if media_types is not None:
            stmt = stmt.where(documents.c.media_type.in_(media_types))
        with self.engine.connect() as conn:
            return {row.id for row in conn.execute(stmt)}

    def all_versions(self) -> dict[str, tuple[int, DocumentStatus]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(documents.c.id, documents.c.version, documents.c.status))
            return {row.id: (int(row.version), DocumentStatus(row.status)) for row in rows}

    # --- jobs -------------------------------------------------------------------------------------------

    def create_job(self, kind: str, description: str, total: int = 0) -> JobRecord:
        row = {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "status": JobStatus.queued.value,
            "description": description,
            "total": total,
            "done": 0,
            "counts": {},
            "errors": [],
            "document_id": None,
            "created_at": _now(),
            "started_at": None,
            "finished_at": None,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(jobs).values(**row))
        return JobRecord(**row)

    def update_job(self, job_id: str, **values) -> None:
        """Set columns of a job; ``status`` given as a JobStatus also stamps start and finish times."""
        status = values.get("status")
        if isinstance(status, JobStatus):
            values["status"] = status.value
            if status is JobStatus.running:
                values.setdefault("started_at", _now())
            if status in (JobStatus.succeeded, JobStatus.failed):
                values.setdefault("finished_at", _now())
        if "errors" in values:
            values["errors"] = [e.model_dump() if isinstance(e, JobError) else e for e in values["errors"]]
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    def get_job(self, job_id: str) -> JobRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return JobRecord(**row) if row else None

    def list_jobs(self, limit: int = 50) -> list[JobRecord]:
        stmt = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [JobRecord(**row) for row in conn.execute(stmt).mappings()]

    def fail_unfinished_jobs(self, reason: str) -> int:
        """Jobs of a process that died can never finish; say so instead of showing them running forever."""
        unfinished = [JobStatus.queued.value, JobStatus.running.value]
        with self.engine.begin() as conn:
            return conn.execute(
                update(jobs)
                .where(jobs.c.status.in_(unfinished))
                .values(
                    status=JobStatus.failed.value,
                    finished_at=_now(),
                    errors=[JobError(source="", error=reason).model_dump()],
                )
            ).rowcount
