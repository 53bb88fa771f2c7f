"""Folder sources the index follows, and what the last refresh saw of each of their files."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from rag.store.records import DEFAULT_COLLECTION, SourceFile, SourceRecord
from rag.store.registry.base import RegistryPart, new_id
from rag.store.registry.schema import clip, now, source_files, sources


class Sources(RegistryPart):
    def create_source(
        self,
        path: str,
        include: list[str],
        exclude: list[str],
        interval_s: int | None,
        collection: str = DEFAULT_COLLECTION,
    ) -> SourceRecord:
        created = now()
        row = {
            "id": new_id(),
            "path": path,
            "include": include,
            "exclude": exclude,
            "interval_s": interval_s,
            "created_at": created,
            "updated_at": created,
            "collection": collection,
        }
        return self._add(sources, SourceRecord, row)

    def get_source(self, source_id: str) -> SourceRecord | None:
        return self._first(select(sources).where(sources.c.id == source_id), SourceRecord)

    def find_source_by_path(self, path: str) -> SourceRecord | None:
        return self._first(select(sources).where(sources.c.path == path), SourceRecord)

    def list_sources(self, collection: str | None = None) -> list[SourceRecord]:
        """Sources of one collection, or of all with ``collection=None`` (the scheduler's view)."""
        stmt = select(sources).order_by(sources.c.created_at, sources.c.id)
        if collection is not None:
            stmt = stmt.where(sources.c.collection == collection)
        return self._all(stmt, SourceRecord)

    def update_source(self, source_id: str, **values) -> SourceRecord | None:
        with self.engine.begin() as conn:
            conn.execute(update(sources).where(sources.c.id == source_id).values(**values, updated_at=now()))
        return self.get_source(source_id)

    def delete_source(self, source_id: str) -> bool:
        """The source and its file records; its documents are the caller's to remove first."""
        with self.engine.begin() as conn:
            conn.execute(delete(source_files).where(source_files.c.source_id == source_id))
            return conn.execute(delete(sources).where(sources.c.id == source_id)).rowcount > 0

    def source_files_of(self, source_id: str) -> dict[str, SourceFile]:
        stmt = select(source_files).where(source_files.c.source_id == source_id)
        return {record.path: record for record in self._all(stmt, SourceFile)}

    def put_source_file(self, record: SourceFile) -> None:
        values = record.model_dump()
        if values["error"] is not None:
            values["error"] = clip(values["error"], 2048)
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
