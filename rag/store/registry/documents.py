"""Documents: which exist, their content hash, current version and status, and the generation counter.

Visibility rule: a chunk in the vector store is visible only if its (document_id, version) is the document's
``version`` here and the document is ``ready``. Swapping a version is therefore one row update, which is what
makes re-ingestion atomic for readers.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Connection

from rag.store.owners import current_owner, owner_alive
from rag.store.records import DEFAULT_COLLECTION, DocumentRecord, DocumentStatus
from rag.store.registry.base import RegistryPart, new_id
from rag.store.registry.schema import documents, now, state


def new_document_id() -> str:
    return new_id()


def _bump(conn: Connection) -> None:
    conn.execute(update(state).where(state.c.key == "generation").values(value=state.c.value + 1))


class Documents(RegistryPart):
    def generation(self) -> int:
        """Changes whenever the set of visible document versions changes."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(state.c.value).where(state.c.key == "generation")).scalar_one())

    def get(self, document_id: str) -> DocumentRecord | None:
        return self._first(select(documents).where(documents.c.id == document_id), DocumentRecord)

    def find_by_hash(self, content_hash: str, collection: str = DEFAULT_COLLECTION) -> DocumentRecord | None:
        """A ready document of ``collection`` with this content: deduplication is per collection."""
        return self._first(
            select(documents)
            .where(
                documents.c.content_hash == content_hash,
                documents.c.status == DocumentStatus.ready.value,
                documents.c.collection == collection,
            )
            .limit(1),
            DocumentRecord,
        )

    def find_by_source(self, source: str, collection: str = DEFAULT_COLLECTION) -> DocumentRecord | None:
        return self._first(
            select(documents).where(documents.c.source == source, documents.c.collection == collection).limit(1),
            DocumentRecord,
        )

    def list(self, limit: int | None = 100, offset: int = 0, *, collection: str | None = None) -> list[DocumentRecord]:
        """Documents, oldest first; of one collection, or of all with ``collection=None``."""
        stmt = select(documents).order_by(documents.c.created_at, documents.c.id).limit(limit).offset(offset)
        if collection is not None:
            stmt = stmt.where(documents.c.collection == collection)
        return self._all(stmt, DocumentRecord)

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
        created = now()
        row = {
            "id": document_id,
            "source": source,
            "content_hash": content_hash,
            "version": 1,
            "status": DocumentStatus.indexing.value,
            "media_type": media_type,
            "size_bytes": size_bytes,
            "chunk_count": 0,
            "created_at": created,
            "updated_at": created,
            "collection": collection,
        }
        return self._add(documents, DocumentRecord, row, owner=current_owner())

    def publish(
        self,
        document_id: str,
        *,
        version: int,
        content_hash: str,
        media_type: str,
        size_bytes: int,
        chunk_count: int,
        source: str | None = None,
    ) -> DocumentRecord:
        """Make ``version`` the visible one, in a single row update; ``source`` renames the document with it."""
        renamed = {} if source is None else {"source": source}
        with self.engine.begin() as conn:
            conn.execute(
                update(documents)
                .where(documents.c.id == document_id)
                .values(
                    **renamed,
                    version=version,
                    status=DocumentStatus.ready.value,
                    content_hash=content_hash,
                    media_type=media_type,
                    size_bytes=size_bytes,
                    chunk_count=chunk_count,
                    updated_at=now(),
                )
            )
            _bump(conn)
        record = self.get(document_id)
        assert record is not None
        return record

    def delete(self, document_id: str) -> bool:
        with self.engine.begin() as conn:
            deleted = conn.execute(delete(documents).where(documents.c.id == document_id)).rowcount > 0
            if deleted:
                _bump(conn)
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
        ids: builtins.list[str] | None = None,
        source_prefix: str | None = None,
        media_types: builtins.list[str] | None = None,
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

    def abandoned_first_versions(self) -> builtins.list[str]:
        """Unfinished first versions that nobody is writing: their owner is gone, or is this process (the
        caller holds this process's ingest lock, so none of its own is in flight)."""
        me = current_owner()
        stmt = select(documents.c.id, documents.c.owner).where(documents.c.status == DocumentStatus.indexing.value)
        with self.engine.connect() as conn:
            return [row.id for row in conn.execute(stmt) if row.owner == me or not owner_alive(row.owner)]
