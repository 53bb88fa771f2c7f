"""The registry's tables, and setting them up on SQLite or PostgreSQL.

SQLAlchemy Core with portable types only, so the same tables serve SQLite (the default) and PostgreSQL
(``postgresql+psycopg://``). What differs between the two at start-up is kept here: SQLite's pragmas and its
retried set-up, PostgreSQL's schema lock. Migrations are additive: columns added since a registry was made are
nullable or have a server default, so adding them (and their indexes) is all an old registry needs.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.schema import CreateColumn

from rag.store.records import DEFAULT_COLLECTION

metadata = MetaData()


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

# Conversations: threads of questions in one collection, and their turns in order. The answer and its citations
# are kept as the service gave them, so a reopened conversation shows what was seen, and the next follow-up is
# read against what was asked and answered before.
conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("title", String(256), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
    _collection_column(),
)

conversation_turns = Table(
    "conversation_turns",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), nullable=False, index=True),
    Column("position", Integer, nullable=False),  # 1, 2, ...: unique per conversation, so appends cannot interleave
    Column("question", Text, nullable=False),
    Column("standalone_question", Text, nullable=True),
    Column("answer", Text, nullable=False),
    Column("answer_type", String(32), nullable=False),
    Column("citations", JSON, nullable=False, default=list),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("conversation_id", "position"),
)

# Any constant: the transaction-scoped advisory lock that serialises schema set-up of processes starting together.
_SCHEMA_LOCK_KEY = 0x5241_4752  # "RAGR"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def clip(value: str, limit: int) -> str:
    """Free text (job descriptions, parse errors) cut to its column: PostgreSQL enforces VARCHAR lengths and
    refuses NUL characters, SQLite does neither."""
    value = value.replace("\x00", "")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def connect(url: str) -> Engine:
    """An engine for the registry at ``url``; on SQLite its folder is made and WAL mode set."""
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

    return engine


def set_up(engine: Engine) -> None:
    """Tables, columns added since, and the generation row: made or completed, whoever else starts at once."""
    for attempt in range(3):
        try:
            _set_up(engine)
            return
        except (OperationalError, IntegrityError):
            # SQLite has no schema lock: a process starting beside this one can create a table or column
            # between this one's check and its CREATE ("already exists"); the next pass finds it there.
            if engine.dialect.name != "sqlite" or attempt == 2:
                raise
            time.sleep(0.05 * (attempt + 1))


def _set_up(engine: Engine) -> None:
    """Tables, columns added since, and the generation row, in one transaction."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Processes starting together would both find a table missing and both create it (a unique
            # violation in the catalogue); DDL is transactional here, so one lock makes set-up one step.
            conn.execute(select(text("pg_advisory_xact_lock(:key)")), {"key": _SCHEMA_LOCK_KEY})
        metadata.create_all(conn)
        _add_missing_columns(conn)
        _add_missing_indexes(conn)
        if conn.execute(select(state.c.value).where(state.c.key == "generation")).first() is None:
            conn.execute(insert(state).values(key="generation", value=0))


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


def _add_missing_indexes(conn: Connection) -> None:
    """Indexes of columns added by ``_add_missing_columns`` (create_all only indexes the tables it creates)."""
    for table in metadata.sorted_tables:
        for index in table.indexes:
            index.create(conn, checkfirst=True)
