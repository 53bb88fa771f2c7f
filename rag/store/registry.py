"""The document registry: which documents exist, their content hash, current version and status.

SQLAlchemy Core over SQLite by default; the schema uses only portable types so the same code runs on
PostgreSQL (``postgresql+psycopg://``) when the deployment needs a registry shared across machines. What
differs between the two is kept here: SQLite's pragmas, PostgreSQL's schema lock at start-up, zone-aware
times, and the upsert statement of each dialect.

Visibility rule: a chunk in the vector store is visible only if its (document_id, version) is the document's
``version`` here and the document is ``ready``. Swapping a version is therefore one row update, which is what
makes re-ingestion atomic for readers.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import (
    JSON,
    BigInteger,
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
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.schema import CreateColumn

from rag.store.owners import current_owner, owner_alive

metadata = MetaData()

# Collections are tenants: every document, folder source and job belongs to one (docs/security.md). Rows made
# before collections existed belong to this one, which is also where requests go that name no collection.
DEFAULT_COLLECTION = "default"


def _collection_column() -> Column:
    """NOT NULL with a server default, so adding it to an existing table also fills the rows already there."""
    return Column("collection", String(64), nullable=False, server_default=DEFAULT_COLLECTION, index=True)


documents = Table(
    "documents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("source", String(4096), nullable=False, index=True),  # an upload's name or a folder file's path
    Column("content_hash", String(64), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("chunk_count", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The process writing the first version; start-up reconciliation removes an unfinished first version only
    # when this owner is gone, not while another process is still writing it.
    Column("owner", String(256), nullable=True),
    _collection_column(),
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
    Column("source_id", String(32), nullable=True, index=True),  # the folder source a refresh job scans
    Column("owner", String(256), nullable=True),  # the process running (or holding the data of) the job
    _collection_column(),
)

# Folders the index follows. Paths are absolute; globs match paths relative to the folder.
sources = Table(
    "sources",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("path", String(4096), nullable=False, unique=True),
    Column("include", JSON, nullable=False),
    Column("exclude", JSON, nullable=False),
    Column("interval_s", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # A folder is followed by one collection (path stays unique); its documents and jobs belong to that one.
    _collection_column(),
)

# What the last refresh saw of each file: size and mtime decide cheaply whether to read it again, the hash
# whether its content really changed, and a parse error makes the next run try it again.
source_files = Table(
    "source_files",
    metadata,
    Column("source_id", String(32), primary_key=True),
    Column("path", String(4096), primary_key=True),
    Column("size", BigInteger, nullable=True),
    Column("mtime_ns", BigInteger, nullable=True),
    Column("content_hash", String(64), nullable=True),
    Column("document_id", String(32), nullable=True, index=True),
    Column("error", String(2048), nullable=True),
)

# Named leases shared by every process on this registry (at most one refresh per source). A lease ends when
# released, when it expires without renewal, or when its owner is known to be dead.
locks = Table(
    "locks",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("owner", String(256), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# API keys. Only the SHA-256 of a key is stored, with its first characters (``prefix``) so people can tell keys
# apart in listings and revoke one; the key itself is shown once, when it is made (rag/keys.py).
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("prefix", String(16), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("scope", String(8), nullable=False),
    Column("collection", String(64), nullable=False),  # a collection name, or "*" for every collection
    Column("name", String(256), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


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
    created_at: dt.datetime
    updated_at: dt.datetime
    collection: str = Field(default=DEFAULT_COLLECTION, description="the collection (tenant) the document is in")

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        return _as_utc(value)


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
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @field_validator("created_at", "started_at", "finished_at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else _as_utc(value)


class SourceRecord(BaseModel):
    """A registered folder that refresh jobs keep the index in step with."""

    id: str
    path: str = Field(description="absolute path of the folder")
    include: list[str] = Field(description="globs (relative to the folder) a file must match one of")
    exclude: list[str] = Field(description="globs that leave a file out even if included")
    interval_s: int | None = Field(description="seconds between scheduled refreshes; null: only on demand")
    collection: str = Field(default=DEFAULT_COLLECTION, description="the collection its documents are indexed into")
    created_at: dt.datetime
    updated_at: dt.datetime

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        return _as_utc(value)


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
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @field_validator("created_at", "revoked_at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return value if value is None else _as_utc(value)


def source_lock_name(source_id: str) -> str:
    """The lease that at most one refresh of a source holds at a time."""
    return f"refresh:{source_id}"


def _as_utc(value: dt.datetime) -> dt.datetime:
    """Naive values (SQLite) are UTC; aware ones (PostgreSQL, in the session's zone) are converted to it."""
    return value.astimezone(dt.timezone.utc) if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _clip(value: str, limit: int) -> str:
    """Free text (job descriptions, parse errors) cut to its column: PostgreSQL enforces VARCHAR lengths and
    refuses NUL characters, SQLite does neither."""
    value = value.replace("\x00", "")
    return value if len(value) <= limit else value[: limit - 1] + "…"


# Any constant: the transaction-scoped advisory lock that serialises schema set-up of processes starting together.
_SCHEMA_LOCK_KEY = 0x5241_4752  # "RAGR"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_document_id() -> str:
    return uuid.uuid4().hex


class Registry:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        for attempt in range(3):
            try:
                self._set_up()
                break
            except (OperationalError, IntegrityError):
                # SQLite has no schema lock: a process starting beside this one can create a table or column
                # between this one's check and its CREATE ("already exists"); the next pass finds it there.
                if engine.dialect.name != "sqlite" or attempt == 2:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _set_up(self) -> None:
        """Tables, columns added since, and the generation row, in one transaction."""
        engine = self.engine
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Processes starting together would both find a table missing and both create it (a unique
                # violation in the catalogue); DDL is transactional here, so one lock makes set-up one step.
                conn.execute(select(text("pg_advisory_xact_lock(:key)")), {"key": _SCHEMA_LOCK_KEY})
            metadata.create_all(conn)
            self._add_missing_columns(conn)
            self._add_missing_indexes(conn)
            if conn.execute(select(state.c.value).where(state.c.key == "generation")).first() is None:
                conn.execute(insert(state).values(key="generation", value=0))

    @staticmethod
    def _add_missing_columns(conn: Connection) -> None:
        """Columns added since a registry was created: nullable, so adding them is all a migration needs."""
        existing = inspect(conn)
        quote = conn.dialect.identifier_preparer
        for table in metadata.sorted_tables:
            have = {c["name"] for c in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    ddl = CreateColumn(column).compile(dialect=conn.dialect)
                    conn.execute(text(f"ALTER TABLE {quote.format_table(table)} ADD COLUMN {ddl}"))

    @staticmethod
    def _add_missing_indexes(conn: Connection) -> None:
        """Indexes of columns added by ``_add_missing_columns`` (create_all only indexes the tables it creates)."""
        for table in metadata.sorted_tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)

    @staticmethod
    def _bump(conn) -> None:
        conn.execute(update(state).where(state.c.key == "generation").values(value=state.c.value + 1))

    def generation(self) -> int:
        """Changes whenever the set of visible document versions changes."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(state.c.value).where(state.c.key == "generation")).scalar_one())

    @classmethod
    def from_url(cls, url: str) -> Registry:
        # pre_ping: a pooled connection to a database server that restarted is replaced, not handed out broken.
        engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
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

    def find_by_hash(self, content_hash: str, collection: str = DEFAULT_COLLECTION) -> DocumentRecord | None:
        """A ready document of ``collection`` with this content: deduplication is per collection."""
        return self._one(
            select(documents)
            .where(
                documents.c.content_hash == content_hash,
                documents.c.status == DocumentStatus.ready.value,
                documents.c.collection == collection,
            )
            .limit(1)
        )

    def find_by_source(self, source: str, collection: str = DEFAULT_COLLECTION) -> DocumentRecord | None:
        return self._one(
            select(documents).where(documents.c.source == source, documents.c.collection == collection).limit(1)
        )

    def list(self, limit: int | None = 100, offset: int = 0, *, collection: str | None = None) -> list[DocumentRecord]:
        """Documents, oldest first; of one collection, or of all with ``collection=None``."""
        stmt = select(documents).order_by(documents.c.created_at, documents.c.id).limit(limit).offset(offset)
        if collection is not None:
            stmt = stmt.where(documents.c.collection == collection)
        with self.engine.connect() as conn:
            return [DocumentRecord(**row) for row in conn.execute(stmt).mappings()]

    def count(self, collection: str | None = None) -> int:
        stmt = select(documents.c.id)
        if collection is not None:
            stmt = stmt.where(documents.c.collection == collection)
        with self.engine.connect() as conn:
            return len(conn.execute(stmt).all())

    def other_collections_exist(self, collection: str) -> bool:
        """Whether any document is in a collection other than ``collection``: two range lookups on the column's
        index, so as cheap with a million documents as with ten (the retriever asks on every query)."""
        other = or_(documents.c.collection < collection, documents.c.collection > collection)
        with self.engine.connect() as conn:
            return conn.execute(select(documents.c.id).where(other).limit(1)).first() is not None

    def create(
        self,
        *,
        document_id: str,
        source: str,
        content_hash: str,
        media_type: str,
        size_bytes: int,
        collection: str = DEFAULT_COLLECTION,
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
            "collection": collection,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(documents).values(**row, owner=current_owner()))
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

    def visible_versions(self, document_ids: Iterable[str], collection: str | None = None) -> dict[str, int]:
        """Current version of each ready document among ``document_ids`` (of ``collection``, if given)."""
        ids = list(set(document_ids))
        if not ids:
            return {}
        stmt = select(documents.c.id, documents.c.version).where(
            documents.c.id.in_(ids), documents.c.status == DocumentStatus.ready.value
        )
        if collection is not None:
            stmt = stmt.where(documents.c.collection == collection)
        with self.engine.connect() as conn:
            return {row.id: int(row.version) for row in conn.execute(stmt)}

    def visible_versions_all(self) -> dict[str, int]:
        stmt = select(documents.c.id, documents.c.version).where(documents.c.status == DocumentStatus.ready.value)
        with self.engine.connect() as conn:
            return {row.id: int(row.version) for row in conn.execute(stmt)}

    def document_ids_matching(
        self,
        *,
        ids: list[str] | None = None,
        source_prefix: str | None = None,
        media_types: list[str] | None = None,
        collection: str | None = None,
    ) -> set[str]:
        """Ready documents passing every given filter: how query filters become a set of document ids."""
        stmt = select(documents.c.id).where(documents.c.status == DocumentStatus.ready.value)
        if collection is not None:
            stmt = stmt.where(documents.c.collection == collection)
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

    def abandoned_first_versions(self) -> list[str]:
        """Unfinished first versions that nobody is writing: their owner is gone, or is this process (the
        caller holds this process's ingest lock, so none of its own is in flight)."""
        me = current_owner()
        stmt = select(documents.c.id, documents.c.owner).where(documents.c.status == DocumentStatus.indexing.value)
        with self.engine.connect() as conn:
            return [row.id for row in conn.execute(stmt) if row.owner == me or not owner_alive(row.owner)]

    # --- jobs -------------------------------------------------------------------------------------------

    def create_job(
        self,
        kind: str,
        description: str,
        total: int = 0,
        *,
        source_id: str | None = None,
        owned: bool = True,
        collection: str = DEFAULT_COLLECTION,
    ) -> JobRecord:
        """A queued job. ``owned``: only this process can run it (its input is in this process's memory);
        otherwise any worker sharing the registry may claim it."""
        row = {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "status": JobStatus.queued.value,
            "description": _clip(description, 1024),
            "total": total,
            "done": 0,
            "counts": {},
            "errors": [],
            "document_id": None,
            "created_at": _now(),
            "started_at": None,
            "finished_at": None,
            "source_id": source_id,
            "collection": collection,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(jobs).values(**row, owner=current_owner() if owned else None))
        return JobRecord(**row)

    def claim_job(self, job_id: str) -> bool:
        """Take a queued job for this process; False if another process took it first."""
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.queued.value)
                .values(status=JobStatus.running.value, owner=current_owner(), started_at=_now())
            ).rowcount
        return claimed == 1

    def queued_jobs(self, kind: str) -> list[JobRecord]:
        """Jobs of ``kind`` waiting for any worker, oldest first."""
        stmt = (
            select(jobs)
            .where(jobs.c.kind == kind, jobs.c.status == JobStatus.queued.value, jobs.c.owner.is_(None))
            .order_by(jobs.c.created_at, jobs.c.id)
        )
        with self.engine.connect() as conn:
            return [JobRecord(**row) for row in conn.execute(stmt).mappings()]

    def active_job(self, source_id: str) -> JobRecord | None:
        """The queued or running job of a source, if any."""
        stmt = (
            select(jobs)
            .where(
                jobs.c.source_id == source_id,
                jobs.c.status.in_([JobStatus.queued.value, JobStatus.running.value]),
            )
            .order_by(jobs.c.created_at)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return JobRecord(**row) if row else None

    def last_job(self, source_id: str) -> JobRecord | None:
        stmt = select(jobs).where(jobs.c.source_id == source_id).order_by(jobs.c.created_at.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return JobRecord(**row) if row else None

    def last_finished_at(self, source_id: str) -> dt.datetime | None:
        """When the source's last refresh (of any outcome) ended: the schedule counts from there."""
        stmt = (
            select(jobs.c.finished_at)
            .where(jobs.c.source_id == source_id, jobs.c.finished_at.is_not(None))
            .order_by(jobs.c.finished_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            value = conn.execute(stmt).scalar()
        return _as_utc(value) if value else None

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

    def list_jobs(
        self,
        limit: int = 50,
        *,
        source_id: str | None = None,
        kind: str | None = None,
        collection: str | None = None,
    ) -> list[JobRecord]:
        stmt = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit)
        if collection is not None:
            stmt = stmt.where(jobs.c.collection == collection)
        if source_id is not None:
            stmt = stmt.where(jobs.c.source_id == source_id)
        if kind is not None:
            stmt = stmt.where(jobs.c.kind == kind)
        with self.engine.connect() as conn:
            return [JobRecord(**row) for row in conn.execute(stmt).mappings()]

    def fail_unfinished_jobs(self, reason: str) -> int:
        """Jobs whose process died can never finish; say so instead of showing them running forever.

        Only jobs of owners known to be gone: another live process sharing this registry keeps its jobs, and
        unowned queued jobs stay queued for any worker to claim. A running job that holds a lease (a refresh)
        is also gone once its lease has lapsed: that is how a dead owner on another host is noticed.
        """
        unfinished = [JobStatus.queued.value, JobStatus.running.value]
        now = _now()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(jobs.c.id, jobs.c.owner, jobs.c.status, jobs.c.source_id).where(jobs.c.status.in_(unfinished))
            ).all()
            leases = {row.name: row for row in conn.execute(select(locks))}

        def gone(row) -> bool:
            if row.owner is None:
                return False
            if not owner_alive(row.owner):
                return True
            if row.status == JobStatus.running.value and row.source_id is not None:
                lease = leases.get(source_lock_name(row.source_id))
                return lease is None or lease.owner != row.owner or _as_utc(lease.expires_at) < now
            return False

        dead = [row.id for row in rows if gone(row)]
        if not dead:
            return 0
        with self.engine.begin() as conn:
            return conn.execute(
                update(jobs)
                .where(jobs.c.id.in_(dead), jobs.c.status.in_(unfinished))
                .values(
                    status=JobStatus.failed.value,
                    finished_at=_now(),
                    errors=[JobError(source="", error=reason).model_dump()],
                )
            ).rowcount

    # --- sources --------------------------------------------------------------------------------------

    def create_source(
        self,
        path: str,
        include: list[str],
        exclude: list[str],
        interval_s: int | None,
        collection: str = DEFAULT_COLLECTION,
    ) -> SourceRecord:
        now = _now()
        row = {
            "id": uuid.uuid4().hex,
            "path": path,
            "include": include,
            "exclude": exclude,
            "interval_s": interval_s,
            "created_at": now,
            "updated_at": now,
            "collection": collection,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(sources).values(**row))
        return SourceRecord(**row)

    def get_source(self, source_id: str) -> SourceRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sources).where(sources.c.id == source_id)).mappings().first()
        return SourceRecord(**row) if row else None

    def find_source_by_path(self, path: str) -> SourceRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sources).where(sources.c.path == path)).mappings().first()
        return SourceRecord(**row) if row else None

    def list_sources(self, collection: str | None = None) -> list[SourceRecord]:
        """Sources of one collection, or of all with ``collection=None`` (the scheduler's view)."""
        stmt = select(sources).order_by(sources.c.created_at, sources.c.id)
        if collection is not None:
            stmt = stmt.where(sources.c.collection == collection)
        with self.engine.connect() as conn:
            return [SourceRecord(**row) for row in conn.execute(stmt).mappings()]

    def update_source(self, source_id: str, **values) -> SourceRecord | None:
        with self.engine.begin() as conn:
            conn.execute(update(sources).where(sources.c.id == source_id).values(**values, updated_at=_now()))
        return self.get_source(source_id)

    def delete_source(self, source_id: str) -> bool:
        """The source and its file records; its documents are the caller's to remove first."""
        with self.engine.begin() as conn:
            conn.execute(delete(source_files).where(source_files.c.source_id == source_id))
            return conn.execute(delete(sources).where(sources.c.id == source_id)).rowcount > 0

    def source_files_of(self, source_id: str) -> dict[str, SourceFile]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(source_files).where(source_files.c.source_id == source_id)).mappings()
            return {row["path"]: SourceFile(**row) for row in rows}

    def put_source_file(self, record: SourceFile) -> None:
        values = record.model_dump()
        if values["error"] is not None:
            values["error"] = _clip(values["error"], 2048)
        keys = ("source_id", "path")
        with self.engine.begin() as conn:
            dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(conn.dialect.name)
            if dialect is not None:  # one statement: no window for another writer between a miss and an insert
                stmt = dialect.insert(source_files).values(**values)
                rest = {k: v for k, v in values.items() if k not in keys}
                conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=rest))
                return
            done = conn.execute(
                update(source_files)
                .where(source_files.c.source_id == record.source_id, source_files.c.path == record.path)
                .values(**values)
            ).rowcount
            if not done:
                conn.execute(insert(source_files).values(**values))

    def delete_source_file(self, source_id: str, path: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(source_files).where(source_files.c.source_id == source_id, source_files.c.path == path))

    def files_referencing(self, document_id: str) -> int:
        """How many folder files are indexed as this document (identical files share one document)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(source_files.c.path).where(source_files.c.document_id == document_id))
            return len(rows.all())

    # --- leases ---------------------------------------------------------------------------------------

    def try_lock(self, name: str, ttl_s: float) -> bool:
        """Take the named lease for this process, or renew it; False while another live owner holds it."""
        owner, now = current_owner(), _now()
        expires = now + dt.timedelta(seconds=ttl_s)
        with self.engine.connect() as conn:
            row = conn.execute(select(locks).where(locks.c.name == name)).first()
        if row is None:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(locks).values(name=name, owner=owner, expires_at=expires))
                return True
            except IntegrityError:
                return False  # another process inserted it first
        if row.owner != owner and _as_utc(row.expires_at) > now and owner_alive(row.owner):
            return False
        with self.engine.begin() as conn:  # compare-and-swap on the owner we saw: one taker wins
            taken = conn.execute(
                update(locks)
                .where(locks.c.name == name, locks.c.owner == row.owner)
                .values(owner=owner, expires_at=expires)
            ).rowcount
        return taken == 1

    def release_lock(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(locks).where(locks.c.name == name, locks.c.owner == current_owner()))

    def lock_holder(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(locks.c.owner).where(locks.c.name == name)).scalar()

    # --- API keys -------------------------------------------------------------------------------------

    def create_api_key(
        self, *, prefix: str, key_hash: str, scope: str, collection: str, name: str | None
    ) -> ApiKeyRecord:
        row = {
            "id": uuid.uuid4().hex,
            "prefix": prefix,
            "key_hash": key_hash,
            "scope": scope,
            "collection": collection,
            "name": name,
            "created_at": _now(),
            "revoked_at": None,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(api_keys).values(**row))
        return ApiKeyRecord(**row)

    def api_key_candidates(self, prefix: str) -> list[tuple[ApiKeyRecord, str]]:
        """Unrevoked keys whose prefix is ``prefix``, each with its stored hash, for the caller to compare."""
        stmt = select(api_keys).where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [(ApiKeyRecord(**row), row["key_hash"]) for row in conn.execute(stmt).mappings()]

    def list_api_keys(self, collection: str | None = None, include_revoked: bool = False) -> list[ApiKeyRecord]:
        stmt = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if collection is not None:
            stmt = stmt.where(api_keys.c.collection == collection)
        if not include_revoked:
            stmt = stmt.where(api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [ApiKeyRecord(**row) for row in conn.execute(stmt).mappings()]

    def revoke_api_key(self, key_id: str) -> bool:
        stmt = (
            update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=_now())
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount > 0

    def count_active_api_keys(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(api_keys.c.id).where(api_keys.c.revoked_at.is_(None))).all())
