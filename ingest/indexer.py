"""The indexing pipeline: bytes -> parsed text -> chunks -> vectors -> store, recorded in the registry.

Write order is what keeps the index consistent when a process dies half-way: chunks of a new version are
written first (invisible, because the registry does not point at them yet), then the registry row is switched
to the new version in one update, then the old version's chunks are removed. ``reconcile`` cleans up whatever
a crash left between those steps.
"""

from __future__ import annotations

import hashlib
import logging
import os
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePath

from ingest.chunking import Chunker
from ingest.errors import EmptyDocument, FileTooLarge, InvalidFilename, UnsupportedFileType
from ingest.parsers import parse, supported_suffixes
from rag.models.embedder import Embedder
from rag.store.chunks import ChunkStore
from rag.store.registry import DocumentRecord, DocumentStatus, Registry, new_document_id
from rag.types import ChunkRecord

log = logging.getLogger(__name__)


class IngestOutcome(str, Enum):
    created = "created"
    updated = "updated"  # a new version replaced the previous one
    unchanged = "unchanged"  # identical content was already indexed


@dataclass
class IngestResult:
    document: DocumentRecord
    outcome: IngestOutcome


def clean_upload_name(name: str | None) -> str:
    """Accept only a plain file name: it becomes the document's source, never a path on disk."""
    if not name or not name.strip():
        raise InvalidFilename("the upload has no file name; send the file as multipart form field 'file'")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise InvalidFilename("the file name contains control characters; rename the file and upload again")
    if "/" in name or "\\" in name or name.strip() in (".", ".."):
        raise InvalidFilename(f"the file name {name!r} contains a path; send the bare file name")
    return name.strip()


class Indexer:
    def __init__(
        self,
        registry: Registry,
        store: ChunkStore,
        embedder: Embedder,
        chunker: Chunker,
        max_bytes: int,
        batch_size: int = 32,
    ) -> None:
        self.registry = registry
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.max_bytes = max_bytes
        self.batch_size = batch_size

    def ingest_bytes(self, data: bytes, source: str) -> IngestResult:
        if len(data) > self.max_bytes:
            raise FileTooLarge(
                f"{source} is {len(data)} bytes; the limit is {self.max_bytes} bytes (RAG_MAX_UPLOAD_BYTES)"
            )
        parsed = parse(data, source)
        content_hash = hashlib.sha256(data).hexdigest()

        same = self.registry.find_by_hash(content_hash)
        if same is not None:
            return IngestResult(same, IngestOutcome.unchanged)

        chunks = self.chunker.split(parsed)
        if not chunks:
            raise EmptyDocument(f"{source} produced no chunks to index")

        previous = self.registry.find_by_source(source)
        if previous is None:
            document_id = new_document_id()
            self.registry.create(
                document_id=document_id,
                source=source,
                content_hash=content_hash,
                media_type=parsed.media_type,
                size_bytes=len(data),
            )
            version = 1
        else:
            document_id = previous.id
            version = previous.version + 1

        records = [
            ChunkRecord(
                chunk_id=f"{document_id}:{version}:{chunk.index}",
                document_id=document_id,
                version=version,
                source=source,
                chunk_index=chunk.index,
                start=chunk.start,
                end=chunk.end,
                page=chunk.page,
                heading=chunk.heading,
                text=chunk.text,
            )
            for chunk in chunks
        ]
        # Embed with the heading in front: it carries the topic that a short section's text may leave out.
        texts = [f"{r.heading}\n{r.text}" if r.heading else r.text for r in records]
        self.store.add(records, self.embedder.embed(texts, batch_size=self.batch_size))
        document = self.registry.publish(
            document_id,
            version=version,
            content_hash=content_hash,
            media_type=parsed.media_type,
            size_bytes=len(data),
            chunk_count=len(records),
        )
        if previous is not None:
            self.store.delete(document_id, keep_version=version)
        outcome = IngestOutcome.created if previous is None else IngestOutcome.updated
        log.info("%s %s (%d chunks, version %d)", outcome.value, source, len(records), version)
        return IngestResult(document, outcome)

    def ingest_file(self, path: Path) -> IngestResult:
        return self.ingest_bytes(path.read_bytes(), str(path.resolve()))

    def delete(self, document_id: str) -> bool:
        """Registry row first: once it is gone no query can see the chunks, even if we die before removing them."""
        if not self.registry.delete(document_id):
            return False
        self.store.delete(document_id)
        return True

    def reconcile(self) -> int:
        """Remove chunks that no published version points at (left by a crash); returns versions removed."""
        known = self.registry.all_versions()
        removed = 0
        for document_id, version in self.store.document_versions():
            current = known.get(document_id)
            if current is None or current[0] != version or current[1] is not DocumentStatus.ready:
                self.store.delete(document_id, version=version)
                removed += 1
        for document_id, (_, status) in known.items():
            if status is DocumentStatus.indexing:  # its first version never finished
                self.registry.delete(document_id)
        return removed


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Supported files under the given paths, in a stable order; hidden files and folders are skipped."""
    suffixes = set(supported_suffixes())
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and PurePath(name).suffix.lower() in suffixes:
                        yield Path(root) / name
        else:
            raise FileNotFoundError(f"{path} does not exist")


__all__ = [
    "Indexer",
    "IngestOutcome",
    "IngestResult",
    "UnsupportedFileType",
    "clean_upload_name",
    "iter_files",
]
