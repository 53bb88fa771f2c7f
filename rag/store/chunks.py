"""Chunk vectors and their provenance in a Chroma collection.

We always pass our own embeddings: Chroma's default embedding function downloads a model, which cannot work
offline. The collection uses cosine space, so Chroma's distance is ``1 - cosine similarity``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from rag.store.chroma import open_collection
from rag.store.chroma import read_retrying as _read
from rag.store.identity import EmbedderIdentity
from rag.store.owners import current_owner
from rag.store.sentences import SUFFIX, SentenceStore
from rag.types import ChunkRecord, RetrievedChunk

_ABSENT = -1  # Chroma metadata cannot hold None
_EMBEDDER = "embedder"  # collection metadata: the embedder of the vectors, and of a re-embedding under way
_REINDEXING = "embedder_reindexing"


def _identity(metadata: dict[str, Any] | None, prefix: str) -> EmbedderIdentity | None:
    metadata = metadata or {}
    if prefix not in metadata:
        return None
    return EmbedderIdentity(name=str(metadata[prefix]), dimension=int(metadata[f"{prefix}_dimension"]))


def _to_metadata(chunk: ChunkRecord) -> dict[str, Any]:
    return {
        "document_id": chunk.document_id,
        "version": chunk.version,
        "source": chunk.source,
        "chunk_index": chunk.chunk_index,
        "start": chunk.start,
        "end": chunk.end,
        "page": chunk.page if chunk.page is not None else _ABSENT,
        "heading": chunk.heading or "",
        "page_starts": ",".join(map(str, chunk.page_starts)),  # Chroma metadata holds no lists
        "location": chunk.location or "",
        "ocr_confidence": chunk.ocr_confidence if chunk.ocr_confidence is not None else float(_ABSENT),
        "regions": json.dumps(chunk.regions, ensure_ascii=False) if chunk.regions else "",
    }


def _vector_rows(result: dict[str, Any]) -> Iterator[tuple[str, str, int, np.ndarray]]:
    """(chunk id, document id, version, vector) of a read's chunks, but those deleted while it ran (no metadata)."""
    for chunk_id, meta, vector in zip(result["ids"], result["metadatas"], result["embeddings"], strict=True):
        if meta is not None:
            yield chunk_id, meta["document_id"], int(meta["version"]), np.asarray(vector, dtype=np.float32)


def _from_metadata(chunk_id: str, text: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "chunk_id": chunk_id,
        "document_id": meta["document_id"],
        "version": int(meta["version"]),
        "source": meta["source"],
        "chunk_index": int(meta["chunk_index"]),
        "start": int(meta["start"]),
        "end": int(meta["end"]),
        "page": None if int(meta.get("page", _ABSENT)) == _ABSENT else int(meta["page"]),
        "heading": meta.get("heading") or None,
        "page_starts": [int(n) for n in str(meta.get("page_starts") or "").split(",") if n],  # absent before #14
        "location": meta.get("location") or None,  # absent before #17
        "ocr_confidence": None if float(meta.get("ocr_confidence", _ABSENT)) < 0 else float(meta["ocr_confidence"]),
        "regions": [tuple(r) for r in json.loads(meta.get("regions") or "[]")],  # absent before #17
        "text": text,
    }


class ChunkStore:
    """Chunks with their vectors, and (``sentences``) the vectors of their sentences stored at ingest."""

    def __init__(self, collection, sentences: SentenceStore | None = None) -> None:
        self._collection = collection
        self.sentences = sentences

    @classmethod
    def _open(cls, client, collection: str) -> ChunkStore:
        return cls(open_collection(client, collection), SentenceStore(open_collection(client, collection + SUFFIX)))

    @classmethod
    def persistent(cls, path: Path, collection: str) -> ChunkStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )
        return cls._open(client, collection)

    @classmethod
    def remote(cls, url: str, collection: str) -> ChunkStore:
        """A Chroma server (`chroma run`), which several service and worker processes can share.

        The embedded store cannot: another process's writes reach its metadata but not its in-memory vector
        index, so dense search would miss them until a restart.
        """
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"RAG_CHROMA_URL must look like http://host:port, not {url!r}")
        client = chromadb.HttpClient(
            host=parsed.hostname,
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        return cls._open(client, collection)

    def count(self) -> int:
        return int(self._collection.count())

    def recorded_embedder(self) -> EmbedderIdentity | None:
        """The embedder whose vectors this index holds (rag/store/identity.py); None before one was recorded."""
        return _identity(self._collection.metadata, _EMBEDDER)

    def reindexing_to(self) -> EmbedderIdentity | None:
        """The embedder a `rag reindex` is converting the index to, while it runs or after it was interrupted."""
        return _identity(self._collection.metadata, _REINDEXING)

    def stored_dimension(self) -> int | None:
        """The dimension of a stored chunk vector; None when the index is empty."""
        result = self._collection.get(limit=1, include=["embeddings"])
        embeddings = result.get("embeddings")
        return None if embeddings is None or len(embeddings) == 0 else len(embeddings[0])

    def record_embedder(self, identity: EmbedderIdentity, *, reindexing: EmbedderIdentity | None = None) -> None:
        """Record whose vectors the index holds, on both collections; ``reindexing`` marks a conversion to
        another embedder as under way (``None`` clears the mark)."""
        fields = {_EMBEDDER: identity, _REINDEXING: reindexing}
        for collection in (self._collection, self.sentences.collection if self.sentences else None):
            if collection is None:
                continue
            metadata = {k: v for k, v in (collection.metadata or {}).items() if not k.startswith(("hnsw:", "embedder"))}
            for prefix, value in fields.items():
                if value is not None:
                    metadata |= {prefix: value.name, f"{prefix}_dimension": value.dimension}
            collection.modify(metadata=metadata)

    def add(self, chunks: Sequence[ChunkRecord], embeddings: np.ndarray, batch_size: int = 1000) -> None:
        """Upsert chunks, stamped with the writing process so reconciliation can leave live writers alone."""
        writer = current_owner()
        for begin in range(0, len(chunks), batch_size):
            part = chunks[begin : begin + batch_size]
            self._collection.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=embeddings[begin : begin + batch_size],
                documents=[c.text for c in part],
                metadatas=[{**_to_metadata(c), "writer": writer} for c in part],
            )

    def update_vectors(self, chunk_ids: Sequence[str], embeddings: np.ndarray) -> None:
        """Replace the vectors of stored chunks, keeping their text and metadata (`rag reindex`)."""
        if len(chunk_ids):
            self._collection.update(ids=list(chunk_ids), embeddings=embeddings)

    def query(self, embedding: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[RetrievedChunk]:
        if k <= 0:
            return []
        result = _read(
            lambda: self._collection.query(
                query_embeddings=[embedding],
                n_results=k,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        )
        out: list[RetrievedChunk] = []
        rows = zip(
            result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
        )
        for chunk_id, text, meta, distance in rows:
            if meta is None or text is None:
                # Deleted while this query ran: embedded Chroma found the id in its vector index, then no record.
                continue
            out.append(RetrievedChunk(**_from_metadata(chunk_id, text, meta), score=1.0 - distance, rank=len(out) + 1))
        return out

    def get(self, chunk_ids: list[str]) -> tuple[list[ChunkRecord], np.ndarray]:
        """Chunks and their vectors, in the order asked; ids that do not exist are left out."""
        if not chunk_ids:
            return [], np.zeros((0, 0), dtype=np.float32)
        result = _read(lambda: self._collection.get(ids=chunk_ids, include=["documents", "metadatas", "embeddings"]))
        found = {
            i: (ChunkRecord(**_from_metadata(i, t, m)), e)
            for i, t, m, e in zip(
                result["ids"], result["documents"], result["metadatas"], result["embeddings"], strict=True
            )
            if m is not None and t is not None  # deleted while this read ran
        }
        ordered = [found[i] for i in chunk_ids if i in found]
        vectors = np.asarray([e for _, e in ordered], dtype=np.float32)
        return [r for r, _ in ordered], vectors

    def chunks_of(self, document_id: str, version: int | None = None) -> list[ChunkRecord]:
        where: dict[str, Any] = {"document_id": document_id}
        if version is not None:
            where = {"$and": [where, {"version": version}]}
        result = self._collection.get(where=where, include=["documents", "metadatas"])
        chunks = [
            ChunkRecord(**_from_metadata(i, t, m))
            for i, t, m in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
        ]
        return sorted(chunks, key=lambda c: (c.version, c.chunk_index))

    def delete(self, document_id: str, version: int | None = None, keep_version: int | None = None) -> None:
        """Delete a document's chunks: all, one version, or all but ``keep_version``. Their sentence vectors go
        first, so that a crash in between leaves chunks without sentence vectors (answered as before they were
        stored), never sentence vectors without chunks."""
        if self.sentences is not None:
            self.sentences.delete(document_id, version, keep_version)
        clauses: list[dict[str, Any]] = [{"document_id": document_id}]
        if version is not None:
            clauses.append({"version": version})
        if keep_version is not None:
            clauses.append({"version": {"$ne": keep_version}})
        self._collection.delete(where=clauses[0] if len(clauses) == 1 else {"$and": clauses})

    def chunks_of_any(self, limit: int) -> list[ChunkRecord]:
        """Up to ``limit`` stored chunks, in no particular order (samples for benchmarks and checks)."""
        result = self._collection.get(limit=limit, include=["documents", "metadatas"])
        return [
            ChunkRecord(**_from_metadata(i, t, m))
            for i, t, m in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
        ]

    def _pages(self, include: list[str], page: int) -> Iterator[dict[str, Any]]:
        """Every chunk, a page at a time, read as a concurrent delete allows (``read_retrying``); a page holds what
        was there when it was read, so a chunk deleted meanwhile may be missing or come without its metadata."""
        offset = 0
        while True:
            result = _read(partial(self._collection.get, limit=page, offset=offset, include=include))
            if not result["ids"]:
                return
            yield result
            offset += len(result["ids"])

    def iter_texts(self, page: int = 5000) -> Iterator[tuple[str, str, str, int]]:
        """(chunk id, text, document id, version) of every chunk, fetched a page at a time (rag/keyword.py)."""
        for result in self._pages(["documents", "metadatas"], page):
            for chunk_id, text, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True):
                if meta is not None and text is not None:  # not deleted while this page was read
                    yield chunk_id, text, meta["document_id"], int(meta["version"])

    def iter_vectors(self, page: int = 5000) -> Iterator[tuple[str, str, int, np.ndarray]]:
        """(chunk id, document id, version, vector) of every chunk, fetched a page at a time (rag/dense.py)."""
        for result in self._pages(["metadatas", "embeddings"], page):
            yield from _vector_rows(result)

    def vectors_of(self, document_ids: Sequence[str], batch: int = 500) -> Iterator[tuple[str, str, int, np.ndarray]]:
        """(chunk id, document id, version, vector) of every chunk of these documents, any version (rag/dense.py
        reads what changed)."""
        ids = list(document_ids)
        for at in range(0, len(ids), batch):
            where = {"document_id": {"$in": ids[at : at + batch]}}
            yield from _vector_rows(
                _read(partial(self._collection.get, where=where, include=["metadatas", "embeddings"]))
            )

    def chunk_ids(self) -> set[str]:
        """Ids of every stored chunk (no texts, vectors or metadata are read)."""
        return set(self._collection.get(include=[])["ids"])

    def version_counts(self) -> Counter[tuple[str, int]]:
        """Chunks per (document id, version): what reconciliation and verification compare with the registry."""
        result = self._collection.get(include=["metadatas"])
        return Counter((m["document_id"], int(m["version"])) for m in result["metadatas"])

    def version_writers(self) -> dict[tuple[str, int], str | None]:
        """The process that wrote each (document id, version) stored."""
        result = self._collection.get(include=["metadatas"])
        return {(m["document_id"], int(m["version"])): m.get("writer") for m in result["metadatas"]}
