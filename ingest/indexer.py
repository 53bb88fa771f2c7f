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
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePath

import numpy as np

from ingest.chunking import Chunker
from ingest.errors import (
    EmptyDocument,
    FileTooLarge,
    IngestError,
    InvalidFilename,
    UnreadableDocument,
    UnsupportedFileType,
)
from ingest.failpoints import failpoint
from ingest.parsed import ParsedDocument
from ingest.parsers import parse, supported_suffixes
from rag import metrics
from rag.models.choice import AutoEmbedder
from rag.models.ports import Embedder
from rag.store.chunks import ChunkStore
from rag.store.owners import current_owner, owner_alive
from rag.store.registry import DEFAULT_COLLECTION, DocumentRecord, DocumentStatus, Registry, new_document_id
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


@dataclass
class _Prepared:
    """A parsed, chunked document waiting for its vectors."""

    document_id: str
    version: int
    source: str
    content_hash: str
    media_type: str
    size_bytes: int
    records: list[ChunkRecord]
    replaces: bool  # a previous version exists
    collection: str


@dataclass
class IngestCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks: int = 0

    def add(self, result: IngestResult) -> None:
        setattr(self, result.outcome.value, getattr(self, result.outcome.value) + 1)
        if result.outcome is not IngestOutcome.unchanged:
            self.chunks += result.document.chunk_count


def _count(result: IngestResult | IngestError) -> None:
    """Report one document's outcome to the metrics."""
    if isinstance(result, IngestError):
        metrics.observe_ingest("failed")
    elif result.outcome is IngestOutcome.unchanged:
        metrics.observe_ingest("unchanged")
    else:
        metrics.observe_ingest(result.outcome.value, result.document.chunk_count)


class FairLock:
    """A re-entrant lock granted in arrival order.

    A long ``ingest_many`` (a folder refresh) offers the lock to waiting threads between batches; with a plain
    lock the releasing thread would take it straight back and an upload would wait for the whole folder.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0
        self._owner: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            ticket = self._next_ticket
            self._next_ticket += 1
            self._cond.wait_for(lambda: self._serving == ticket)
            self._owner, self._depth = me, 1

    def release(self) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._serving += 1
                self._cond.notify_all()

    def yield_to_waiters(self) -> None:
        """Let threads that queued while we held the lock go first, then queue again behind them."""
        with self._cond:
            if self._depth != 1 or self._next_ticket == self._serving + 1:
                return  # nested, or nobody is waiting
        self.release()
        self.acquire()

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class Indexer:
    """Turns bytes into published document versions.

    One ingest at a time per process (a lock): the version number of a source is read and then written, and
    the embedder is busy anyway. ``ingest_many`` batches chunks of several small files into one embedding
    call, and keeps memory bounded by the batch, not by the collection; between batches it lets other
    ingests (an upload during a folder refresh) take their turn.
    """

    def __init__(
        self,
        registry: Registry,
        store: ChunkStore,
        embedder: Embedder,
        chunker: Chunker,
        max_bytes: int,
        batch_size: int = 32,
        sentence_texts: Callable[[ChunkRecord], list[str]] | None = None,
        sentence_rules: str = "",
    ) -> None:
        """``sentence_texts`` (rag.evidence.chunk_embedding_texts) gives the texts of a chunk whose vectors are
        stored with it for evidence selection, made under ``sentence_rules``; None stores none."""
        self.registry = registry
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.max_bytes = max_bytes
        self.batch_size = batch_size
        self.sentence_texts = sentence_texts if store.sentences is not None else None
        self.sentence_rules = sentence_rules
        self._lock = FairLock()

    def check_size(self, size: int, source: str) -> None:
        if size > self.max_bytes:
            raise FileTooLarge(f"{source} is {size} bytes; the limit is {self.max_bytes} bytes (RAG_MAX_UPLOAD_BYTES)")

    def _prepare(
        self,
        data: bytes,
        source: str,
        collection: str,
        legacy: str | None = None,
        parsed: ParsedDocument | None = None,
    ) -> _Prepared | IngestResult:
        """Parse and chunk; returns the existing document instead when the content is already indexed in
        ``collection`` (documents, their sources and deduplication are per collection).

        ``legacy`` is the name the file had before names were relative (its absolute path): a document still
        under that name is renamed to ``source`` by a new version, once, even when its content is unchanged.
        ``parsed`` is ``data`` parsed already (``ingest_bytes`` parses outside the lock)."""
        self.check_size(len(data), source)
        content_hash = hashlib.sha256(data).hexdigest()
        same = self.registry.find_by_hash(content_hash, collection)
        if same is not None and (legacy is None or same.source != legacy):
            return IngestResult(same, IngestOutcome.unchanged)  # found before parsing: a scan's OCR takes minutes
        parsed = parsed or parse(data, source)
        if isinstance(self.embedder, AutoEmbedder):
            self.embedder.choose(parsed.text)  # a new index under RAG_EMBEDDER=auto: its first document decides
        chunks = self.chunker.split(parsed)
        if not chunks:
            raise EmptyDocument(f"{source} produced no chunks to index")

        previous = self.registry.find_by_source(source, collection)
        if previous is None and legacy is not None:
            previous = self.registry.find_by_source(legacy, collection)
        if previous is None:
            document_id = new_document_id()
            self.registry.create(
                document_id=document_id,
                source=source,
                content_hash=content_hash,
                media_type=parsed.media_type,
                size_bytes=len(data),
                collection=collection,
            )
            failpoint("after_registry_create")
            version = 1
        else:
            document_id, version = previous.id, previous.version + 1
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
                page_starts=chunk.page_starts,
                location=chunk.location,
                ocr_confidence=chunk.ocr_confidence,
                regions=chunk.regions,
                text=chunk.text,
            )
            for chunk in chunks
        ]
        return _Prepared(
            document_id,
            version,
            source,
            content_hash,
            parsed.media_type,
            len(data),
            records,
            previous is not None,
            collection,
        )

    def _flush(self, batch: list[_Prepared]) -> list[IngestResult]:
        """Embed and write the chunks of ``batch``, then publish each document and drop its old version."""
        records = [r for doc in batch for r in doc.records]
        # Embed with the heading in front: it carries the topic that a short section's text may leave out.
        texts = [f"{r.heading}\n{r.text}" if r.heading else r.text for r in records]
        # The chunks' sentence texts go into the same call: one pass of the model, sorted by length inside.
        sentences = [self.sentence_texts(r) for r in records] if self.sentence_texts else []
        unique = list(dict.fromkeys(t for chunk in sentences for t in chunk))
        vectors = self.embedder.embed(texts + unique, batch_size=self.batch_size)
        half = len(records) // 2
        self.store.add(records[:half], vectors[:half])
        failpoint("mid_chunk_write")
        self.store.add(records[half : len(records)], vectors[half : len(records)])
        failpoint("after_chunk_write")
        if sentences:  # after the chunks: sentence vectors never exist without their chunks
            self._store_sentences(records, sentences, dict(zip(unique, vectors[len(records) :], strict=True)))
            failpoint("after_sentence_write")
        results = []
        for doc in batch:
            document = self.registry.publish(
                doc.document_id,
                source=doc.source,  # differs from the row's only for a document renamed (see _prepare)
                version=doc.version,
                content_hash=doc.content_hash,
                media_type=doc.media_type,
                size_bytes=doc.size_bytes,
                chunk_count=len(doc.records),
            )
            failpoint("after_publish")
            if doc.replaces:
                self.store.delete(doc.document_id, keep_version=doc.version)
            outcome = IngestOutcome.updated if doc.replaces else IngestOutcome.created
            log.info("%s %s (%d chunks, version %d)", outcome.value, doc.source, len(doc.records), doc.version)
            results.append(IngestResult(document, outcome))
        return results

    def _store_sentences(
        self, records: list[ChunkRecord], texts: list[list[str]], vectors: dict[str, np.ndarray]
    ) -> None:
        assert self.store.sentences is not None
        rows = [np.stack([vectors[t] for t in chunk]) for chunk in texts]
        self.store.sentences.add(records, texts, rows, self.sentence_rules)

    def stale_sentence_chunks(self) -> list[str]:
        """Chunks without sentence vectors made under the current sentence rules (indexed before sentence vectors
        were stored, or before the rules changed): their first sight embeds sentences at query time."""
        if self.sentence_texts is None or self.store.sentences is None:
            return []
        return sorted(self.store.chunk_ids() - self.store.sentences.chunk_ids(self.sentence_rules))

    def refresh_sentence_vectors(self, batch: int = 64, on_progress: Callable[[int, int], None] | None = None) -> int:
        """Store the sentence vectors of ``stale_sentence_chunks``, ``batch`` chunks at a time (other ingests may
        go between batches). Returns the number of chunks refreshed."""
        with self._lock:
            todo = self.stale_sentence_chunks()
        done = 0
        for begin in range(0, len(todo), batch):
            with self._lock:  # a chunk deleted meanwhile is simply not found
                records, _ = self.store.get(todo[begin : begin + batch])
                assert self.sentence_texts is not None
                texts = [self.sentence_texts(r) for r in records]
                unique = list(dict.fromkeys(t for chunk in texts for t in chunk))
                vectors = self.embedder.embed(unique, batch_size=self.batch_size)
                self._store_sentences(records, texts, dict(zip(unique, vectors, strict=True)))
                done += len(records)
            if on_progress:
                on_progress(done, len(todo))
        return done

    def ingest_bytes(
        self, data: bytes, source: str, collection: str = DEFAULT_COLLECTION, legacy: str | None = None
    ) -> IngestResult:
        with metrics.ingest_timer("single"):
            try:
                parsed = self._parse_unless_known(data, source, collection)
                with self._lock:
                    prepared = self._prepare(data, source, collection, legacy, parsed)
                    result = prepared if isinstance(prepared, IngestResult) else self._flush([prepared])[0]
            except IngestError as exc:
                _count(exc)
                raise
            _count(result)
            return result

    def _parse_unless_known(self, data: bytes, source: str, collection: str) -> ParsedDocument | None:
        """``data`` parsed without holding the lock, so the minutes of a scan's OCR do not hold up other uploads
        and deletes; None when the content is indexed already (``_prepare`` then finds it unchanged)."""
        self.check_size(len(data), source)
        if self.registry.find_by_hash(hashlib.sha256(data).hexdigest(), collection) is not None:
            return None
        return parse(data, source)

    def ingest_file(self, path: Path, collection: str = DEFAULT_COLLECTION) -> IngestResult:
        """One file, named by its file name as an upload is."""
        (file,) = named_files([path])
        return self.ingest_bytes(path.read_bytes(), file.name, collection, legacy=file.legacy)

    def ingest_many(
        self,
        items: Iterable[tuple[str, Callable[[], bytes]]],
        on_result: Callable[[str, IngestResult | IngestError], None] | None = None,
        collection: str = DEFAULT_COLLECTION,
        legacy: Mapping[str, str] | None = None,
    ) -> IngestCounts:
        """Index ``(source, read)`` items one by one, embedding chunks of consecutive items together in batches.

        ``read`` is called only when the item's turn comes, so a large collection streams through with memory
        bounded by the batch. An item that cannot be read or parsed is reported through ``on_result`` and
        skipped; it does not stop the rest. ``legacy`` maps a source to the name its document may still have
        from before names were relative (``NamedFile.legacy``); such a document is renamed.
        """
        counts = IngestCounts()
        pending: list[_Prepared] = []

        def report(source: str, result: IngestResult | IngestError) -> None:
            _count(result)
            if isinstance(result, IngestError):
                counts.failed += 1
            else:
                counts.add(result)
            if on_result:
                on_result(source, result)

        def flush() -> None:
            for doc, result in zip(pending, self._flush(pending), strict=True):
                report(doc.source, result)
            pending.clear()
            self._lock.yield_to_waiters()

        with self._lock, metrics.ingest_timer("many"):
            for source, read in items:
                try:
                    data = read()
                    if hashlib.sha256(data).hexdigest() in {doc.content_hash for doc in pending}:
                        flush()  # publish the first copy so that this one is recognised as unchanged
                    prepared = self._prepare(data, source, collection, legacy.get(source) if legacy else None)
                except IngestError as exc:
                    report(source, exc)
                    continue
                except OSError as exc:
                    report(source, UnreadableDocument(f"{source} could not be read: {exc}"))
                    continue
                if isinstance(prepared, IngestResult):
                    report(source, prepared)
                    continue
                if any(doc.source == prepared.source for doc in pending):
                    flush()  # the same source twice in one batch: the first version must be published first
                pending.append(prepared)
                if sum(len(doc.records) for doc in pending) >= self.batch_size:
                    flush()
            if pending:
                flush()
        return counts

    def ingest_paths(
        self,
        paths: Iterable[Path],
        on_result: Callable[[str, IngestResult | IngestError], None] | None = None,
        collection: str = DEFAULT_COLLECTION,
    ) -> IngestCounts:
        """Files, and the supported files under folders, each under its name from ``named_files``."""
        files = list(named_files(paths))
        items = ((f.name, f.path.read_bytes) for f in files)
        return self.ingest_many(items, on_result, collection, {f.name: f.legacy for f in files})

    def delete(self, document_id: str) -> bool:
        """Registry row first: once it is gone no query can see the chunks, even if we die before removing them."""
        with self._lock:
            if not self.registry.delete(document_id):
                return False
            self.store.delete(document_id)
            return True

    def reconcile(self) -> int:
        """Remove what a crashed ingest left: unpublished chunk versions and unfinished first versions.

        Returns the number of chunk versions removed. Work of another live process sharing the store (a new
        version it is writing right now) is left alone; only a gone writer's leftovers, and versions older
        than the published one, are removed.
        """
        with self._lock:
            known = self.registry.all_versions()
            me = current_owner()
            removed = 0
            for (document_id, version), writer in self.store.version_writers().items():
                current = known.get(document_id)
                if current is not None and current[0] == version and current[1] is DocumentStatus.ready:
                    continue
                in_progress = current is not None and version >= current[0]  # no row: garbage
                if in_progress and writer != me and owner_alive(writer):
                    continue
                self.store.delete(document_id, version=version)
                removed += 1
            for document_id in self.registry.abandoned_first_versions():
                self.registry.delete(document_id)
                self.store.delete(document_id)
            orphans = self._orphan_sentences()
            if orphans and self.store.sentences is not None:
                log.warning("removing sentence vectors of %d chunks that are not stored", len(orphans))
                self.store.sentences.delete_ids(orphans)
            return removed

    def _orphan_sentences(self) -> list[str]:
        """Chunks whose sentence vectors are stored but not the chunks themselves (a refresh racing a delete in
        another process). Sentence ids are listed first: a writer adds chunks before their sentence vectors."""
        if self.store.sentences is None:
            return []
        listed = self.store.sentences.chunk_ids()
        return sorted(listed - self.store.chunk_ids())

    def verify(self) -> list[str]:
        """Every way the registry and the chunk store disagree; empty when the index is consistent."""
        counts = self.store.version_counts()
        stored: dict[str, dict[int, int]] = {}
        for (document_id, version), n in counts.items():
            stored.setdefault(document_id, {})[version] = n
        problems = []
        documents = self.registry.list(limit=None)
        for doc in documents:
            versions = stored.get(doc.id, {})
            if doc.status is not DocumentStatus.ready:
                problems.append(f"document {doc.id} ({doc.source}) is {doc.status.value}, not ready")
            elif set(versions) != {doc.version}:
                problems.append(
                    f"document {doc.id} ({doc.source}) is at version {doc.version} but the store holds versions "
                    f"{sorted(versions)}"
                )
            elif versions[doc.version] != doc.chunk_count:
                problems.append(
                    f"document {doc.id} ({doc.source}) should have {doc.chunk_count} chunks, the store has "
                    f"{versions[doc.version]}"
                )
        for document_id in set(stored) - {d.id for d in documents}:
            problems.append(f"the store holds chunks of unknown document {document_id}")
        orphans = self._orphan_sentences()
        if orphans:
            problems.append(f"the store holds sentence vectors of {len(orphans)} chunks it does not have")
        return problems


@dataclass(frozen=True)
class NamedFile:
    """A file to index and the name its document gets (``source``: what citations and document lists show)."""

    name: str
    path: Path
    legacy: str  # its name before names were relative to their folder: the absolute path, renamed on next ingest


def folder_document_name(folder: Path, relative: str) -> str:
    """The name of a file indexed from a folder: the folder's own name, then the file's path inside it
    ("data/handbook/remote-work.md" for ``rag ingest data``, whatever the server's working directory).

    The folder's name keeps two folders' files apart ("README.md" is common); two folders with the same name
    give the same names, so indexing the second into the same collection replaces the first's documents of the
    same path (a new version), as an upload of an existing file name does. See docs/ingestion.md."""
    prefix = folder.resolve().name
    return f"{prefix}/{relative}" if prefix else relative


def named_files(paths: Iterable[Path]) -> Iterator[NamedFile]:
    """Supported files under the given paths, in a stable order, with their names: a file given by itself is
    named by its file name, as an upload is; a file under a given folder by ``folder_document_name``. Hidden
    files and folders are skipped."""
    suffixes = set(supported_suffixes())
    for path in paths:
        if path.is_file():
            yield NamedFile(path.name, path, str(path.resolve()))
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and PurePath(name).suffix.lower() in suffixes:
                        file = Path(root) / name
                        relative = file.relative_to(path).as_posix()
                        yield NamedFile(folder_document_name(path, relative), file, str(file.resolve()))
        else:
            raise FileNotFoundError(f"{path} does not exist")


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The files of ``named_files``, without their names."""
    return (file.path for file in named_files(paths))


__all__ = [
    "Indexer",
    "IngestOutcome",
    "IngestResult",
    "UnsupportedFileType",
    "clean_upload_name",
    "folder_document_name",
    "iter_files",
    "named_files",
]
