"""`rag reindex`: re-embed a whole index with the configured embedder, from the chunk texts it stores.

Changing RAG_EMBEDDER on a built index is refused (rag/store/identity.py) because vectors of two models cannot be
compared. This is the way forward: every chunk vector is replaced, the stored sentence vectors are dropped and
computed again, and only then is the new embedder recorded. While it runs the index is marked as being converted,
so a service started meanwhile, or after a crash, refuses it until a rerun of `rag reindex` finishes (a rerun
starts over: the texts are all there, nothing else is needed). The service must be stopped while it runs: a
running one would answer from half-converted vectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel

from ingest.indexer import Indexer
from rag.store.identity import EmbedderIdentity, identity_of

Progress = Callable[[str, int, int], None]  # stage ("chunks", "sentences"), done, total


class ReindexResult(BaseModel):
    previous: EmbedderIdentity | None
    embedder: EmbedderIdentity
    chunks: int
    sentence_chunks: int
    seconds: float


def reindex(indexer: Indexer, batch: int = 256, on_progress: Progress | None = None) -> ReindexResult:
    """Re-embed every chunk (and its stored sentence vectors) of the indexer's store with its embedder."""
    store, embedder = indexer.store, indexer.embedder
    target = identity_of(embedder)
    previous = store.recorded_embedder()
    started = time.perf_counter()
    store.record_embedder(previous or target, reindexing=target)
    if store.sentences is not None:
        store.sentences.delete_ids(sorted(store.sentences.chunk_ids()))  # of the old model: computed again below
    rows = [(chunk_id, text) for chunk_id, text, _, _ in store.iter_texts()]
    for begin in range(0, len(rows), batch):
        part = rows[begin : begin + batch]
        vectors = embedder.embed([text for _, text in part], batch_size=indexer.batch_size)
        store.update_vectors([chunk_id for chunk_id, _ in part], vectors)
        if on_progress:
            on_progress("chunks", begin + len(part), len(rows))
    sentence_chunks = 0
    if store.sentences is not None and indexer.sentence_texts is not None:
        sentence_chunks = indexer.refresh_sentence_vectors(
            on_progress=(lambda done, total: on_progress("sentences", done, total)) if on_progress else None
        )
    store.record_embedder(target)
    return ReindexResult(
        previous=previous,
        embedder=target,
        chunks=len(rows),
        sentence_chunks=sentence_chunks,
        seconds=round(time.perf_counter() - started, 1),
    )
