"""Sentence vectors computed at ingest, so that evidence selection need not embed a chunk's sentences on its first
sight (about 230 ms of a 600-750 ms answer on 2 cores when the retrieved chunks are new to the embedder's cache).

Evidence selection (rag/evidence.py) embeds every sentence of the retrieved chunks, alone and paired with the one
before it in the same chunk. The indexer embeds those same texts with the chunk (``chunk_embedding_texts``) and
stores them here, one record per chunk under the chunk's id, in a second Chroma collection of the same store
(``<collection>-sentences``): the vectors as a float32 blob in the record's metadata, each keyed by a hash of the
text it was computed from. Measured against the alternatives (docs/benchmarks.md): a record per sentence puts
every sentence into the HNSW index (about 5x slower to write, 9 ms to read 8 chunks); a blob as the record's
document goes through Chroma's trigram full-text index (about 10x slower to write, 3x the disk); a blob in the
chunk's own metadata would be read by every metadata scan of the chunk collection (reconcile, keyword index).
Here: under 1 ms to read 8 chunks.

A vector is used only for exactly the text it was computed from (same text, same model: the same vector), so the
store cannot make an answer differ from one computed at query time. When the sentence rules change (rag/text.py),
sentences that now split differently miss and are embedded at query time as before; each record carries the
fingerprint of the rules it was made under, so that ``Indexer.refresh_sentence_vectors`` (``rag check
--refresh-sentences``) can bring an index up to date, also one built before sentence vectors were stored.

Consistency with the chunks: sentence records are written after their chunks and deleted before them
(``ChunkStore.delete``), so every record belongs to stored chunks; reconciliation removes any that do not.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag import metrics
from rag.models.ports import Embedder
from rag.store.chroma import read_retrying
from rag.types import ChunkRecord

SUFFIX = "-sentences"
_DUMMY = [1.0]  # Chroma wants an embedding per record; these records are read by id, never searched


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """A 64-bit hash of each text: what a stored vector is looked up by."""
    return np.array(
        [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") for t in texts],
        dtype=np.uint64,
    )


def _encode(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _decode(blob: str, dtype: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(blob), dtype=dtype)


class SentenceStore:
    """Per chunk: the vectors of the texts evidence selection embeds for it, keyed by text hash."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection

    @property
    def collection(self) -> Any:
        """The Chroma collection: ``ChunkStore.record_embedder`` records the embedder in its metadata too."""
        return self._collection

    def count(self) -> int:
        return int(self._collection.count())

    def add(
        self,
        chunks: Sequence[ChunkRecord],
        texts: Sequence[Sequence[str]],
        vectors: Sequence[np.ndarray],
        rules: str,
        batch_size: int = 100,
    ) -> None:
        """Upsert the vectors of ``texts[i]`` (rows of ``vectors[i]``) for ``chunks[i]``, made under ``rules``."""
        for begin in range(0, len(chunks), batch_size):
            part = range(begin, min(begin + batch_size, len(chunks)))
            self._collection.upsert(
                ids=[chunks[i].chunk_id for i in part],
                embeddings=[_DUMMY for _ in part],
                metadatas=[
                    {
                        "document_id": chunks[i].document_id,
                        "version": chunks[i].version,
                        "rules": rules,
                        "dimension": int(vectors[i].shape[1]),
                        "keys": _encode(text_keys(texts[i]).astype("<u8")),
                        "vectors": _encode(vectors[i].astype("<f4")),
                    }
                    for i in part
                ],
            )

    def lookup(self, chunk_ids: Sequence[str], dimension: int) -> dict[int, np.ndarray]:
        """Stored vectors of these chunks by text key; records of another dimension (another model) are skipped."""
        if not chunk_ids:
            return {}
        result = read_retrying(lambda: self._collection.get(ids=list(chunk_ids), include=["metadatas"]))
        found: dict[int, np.ndarray] = {}
        for meta in result["metadatas"]:
            if meta is None or int(meta["dimension"]) != dimension:
                continue
            keys = _decode(meta["keys"], "<u8")
            vectors = _decode(meta["vectors"], "<f4").reshape(len(keys), dimension)
            found.update(zip(keys.tolist(), vectors, strict=True))
        return found

    def delete(self, document_id: str, version: int | None = None, keep_version: int | None = None) -> None:
        """Delete a document's records: all, one version, or all but ``keep_version`` (as ``ChunkStore.delete``)."""
        clauses: list[dict[str, Any]] = [{"document_id": document_id}]
        if version is not None:
            clauses.append({"version": version})
        if keep_version is not None:
            clauses.append({"version": {"$ne": keep_version}})
        self._collection.delete(where=clauses[0] if len(clauses) == 1 else {"$and": clauses})

    def delete_ids(self, chunk_ids: Sequence[str]) -> None:
        if chunk_ids:
            self._collection.delete(ids=list(chunk_ids))

    def chunk_ids(self, rules: str | None = None) -> set[str]:
        """Ids of the chunks with stored vectors (made under ``rules`` only, when given); no vectors are read."""
        where = {"rules": rules} if rules is not None else None
        return set(self._collection.get(where=where, include=[])["ids"])


class StoredSentenceVectors:
    """Vectors of the texts evidence selection asks for: stored at ingest where the store has them, the rest
    embedded through the embedder's cache (old indexes, texts the current sentence rules split differently, and
    the question)."""

    def __init__(self, store: SentenceStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder

    def vectors(self, chunks: Sequence[ChunkRecord], texts: list[str]) -> np.ndarray:
        found = self.store.lookup([c.chunk_id for c in chunks], self.embedder.dimension)
        rows = [found.get(key) for key in text_keys(texts).tolist()]
        missing = [t for t, row in zip(texts, rows, strict=True) if row is None]
        metrics.observe_sentence_vectors(stored=len(texts) - len(missing), embedded=len(missing))
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        fresh = iter(self.embedder.embed_cached(missing) if missing else ())
        return np.stack([row if row is not None else next(fresh) for row in rows]).astype(np.float32, copy=False)
