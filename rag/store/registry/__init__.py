"""The registry: documents and their versions, jobs, folder sources, leases and API keys, in one database.

SQLAlchemy Core over SQLite by default; the schema uses only portable types so the same code runs on
PostgreSQL (``postgresql+psycopg://``) when the deployment needs a registry shared across machines (what differs
between the two is in ``schema``, and the upsert of each dialect in ``sources``).

``Registry`` is this package's one entry point, made of one part per concern over a shared engine:

- ``schema``: the tables, their set-up and additive migrations, SQLite's pragmas, PostgreSQL's schema lock;
- ``documents``: documents, their visible versions (the visibility rule) and the generation counter;
- ``jobs``: background jobs, who runs them and how far they got;
- ``sources``: folder sources and what the last refresh saw of each file;
- ``locks``: named leases shared by every process on the registry;
- ``api_keys``: API keys, stored as hashes;
- ``conversations``: conversations and their turns, per collection.

The records these return (rag/store/records.py) are also the API's response shapes; they are re-exported here.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from rag.store.records import (
    DEFAULT_COLLECTION,
    ApiKeyRecord,
    Conversation,
    ConversationTurn,
    DocumentRecord,
    DocumentStatus,
    JobError,
    JobRecord,
    JobStatus,
    SourceFile,
    SourceRecord,
)
from rag.store.registry.api_keys import ApiKeys
from rag.store.registry.conversations import Conversations
from rag.store.registry.documents import Documents, new_document_id
from rag.store.registry.jobs import Jobs
from rag.store.registry.locks import Locks, source_lock_name
from rag.store.registry.schema import (
    api_keys,
    connect,
    conversation_turns,
    conversations,
    documents,
    jobs,
    locks,
    metadata,
    set_up,
    source_files,
    sources,
    state,
)
from rag.store.registry.sources import Sources

__all__ = [
    "DEFAULT_COLLECTION",
    "ApiKeyRecord",
    "Conversation",
    "ConversationTurn",
    "DocumentRecord",
    "DocumentStatus",
    "JobError",
    "JobRecord",
    "JobStatus",
    "Registry",
    "SourceFile",
    "SourceRecord",
    "api_keys",
    "conversation_turns",
    "conversations",
    "documents",
    "jobs",
    "locks",
    "metadata",
    "new_document_id",
    "source_files",
    "source_lock_name",
    "sources",
    "state",
]


class Registry(Documents, Jobs, Sources, Locks, ApiKeys, Conversations):
    """The registry database: every part's methods over one engine, its schema set up when it is made."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        set_up(engine)

    @classmethod
    def from_url(cls, url: str) -> Registry:
        return cls(connect(url))
