"""Dense retrieval: the published chunks whose vectors are nearest a question's.

Chroma answers from its HNSW graph, which is approximate, and not the same approximation twice: below its sync
threshold a collection's graph is rebuilt on every start, with several threads (chroma-core/chroma#2675,
#3638). On the 1,541-chunk MTRAG index it left 11-22 of 120 questions' 2,880 true top-24 chunks out, different
ones after each restart, so one question got other chunks, other evidence and another answer from one process to
the next (an UNDERSPECIFIED task was abstained on or answered depending on the run). Exact search is cheap at the
sizes this service is run at: up to ``exact_max`` chunks the published chunks' vectors are kept in memory (1.5 MB
per 1,000 chunks of 384 dimensions) and ranked by one matrix product. When the registry's generation counter says
the published documents changed, only the documents whose published version changed are read again (a refresh
that replaces one file reads that file's vectors, also from a Chroma server); the first read, or one after most
documents changed, reads them all. Above ``exact_max`` chunks, Chroma's graph answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import numpy as np

from rag.store.chunks import ChunkStore
from rag.store.registry import Registry

log = logging.getLogger(__name__)

EXACT_MAX = 50_000  # chunks ranked exactly; 77 MB of 384-dimension vectors
_RELOAD_SHARE = 0.5  # more of the documents changed than this: read every vector again, in pages


class DenseIndex:
    """Nearest chunks to a query vector: exact over the published chunks up to ``exact_max`` chunks, Chroma's
    approximate graph above (``exact_max`` 0: always Chroma)."""

    def __init__(self, store: ChunkStore, registry: Registry, exact_max: int = EXACT_MAX) -> None:
        self.store = store
        self.registry = registry
        self.exact_max = exact_max
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._exact = False
        self._held: dict[str, int] = {}  # document -> the published version whose chunks are held
        self._ids: list[str] = []
        self._documents: list[str] = []
        self._vectors: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        # Each chunk's document as a small integer, so that a filter to a set of documents is an isin over
        # integers (as in rag/keyword.py).
        self._doc_index: dict[str, int] = {}
        self._doc_codes: np.ndarray = np.array([], dtype=np.int64)

    @property
    def exact(self) -> bool:
        """Whether searches are exact now (the stored chunks fit ``exact_max``)."""
        with self._lock:
            self._current()
            return self._exact

    def _current(self) -> None:
        generation = self.registry.generation()
        if generation == self._generation:
            return
        started = time.perf_counter()
        exact = 0 < self.store.count() <= self.exact_max
        visible = self.registry.visible_versions_all() if exact else {}
        changed = [d for d, v in visible.items() if self._held.get(d) != v]
        whole = not self._exact or len(changed) > _RELOAD_SHARE * max(len(visible), 1)
        ids: list[str] = []
        documents: list[str] = []
        parts: list[np.ndarray] = []
        if exact:
            keep = set() if whole else {d for d in visible if d not in changed}
            kept = np.fromiter((d in keep for d in self._documents), dtype=bool, count=len(self._documents))
            if kept.any():
                ids += [c for c, k in zip(self._ids, kept, strict=True) if k]
                documents += [d for d, k in zip(self._documents, kept, strict=True) if k]
                parts.append(self._vectors[kept])
            read = self.store.iter_vectors() if whole else self.store.vectors_of(changed)
            fresh = _published(read, visible, keep)
            ids += [c for c, _, _ in fresh]
            documents += [d for _, d, _ in fresh]
            if fresh:
                parts.append(np.stack([v for _, _, v in fresh]))
        # Set together, once read: a read that fails leaves the last index in place, to be read again next time.
        # Held: the documents read. One a paged read missed (rows shift under a concurrent delete) reads again.
        self._exact, self._ids, self._documents = exact, ids, documents
        self._held = {d: visible[d] for d in dict.fromkeys(documents)}
        self._vectors = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
        self._doc_index = {d: i for i, d in enumerate(dict.fromkeys(documents))}
        self._doc_codes = np.array([self._doc_index[d] for d in documents], dtype=np.int64)
        self._generation = generation
        if exact:
            how = "all read" if whole else f"{len(changed)} changed documents read"
            log.info("dense index: %d chunks (%s) in %.2fs", len(ids), how, time.perf_counter() - started)

    def search(self, query: np.ndarray, k: int, document_ids: set[str] | None = None) -> list[str]:
        """The ids of the ``k`` chunks nearest ``query``, nearest first (equal scores by chunk id, so a question
        gets the same ranking whatever order the chunks were read in), optionally only among ``document_ids``."""
        if k <= 0:
            return []
        with self._lock:
            self._current()
            if not self._exact:
                where = {"document_id": {"$in": sorted(document_ids)}} if document_ids is not None else None
                return [c.chunk_id for c in self.store.query(query, k=k, where=where)]
            if not self._ids:
                return []
            scores = self._vectors @ np.asarray(query, dtype=np.float32)
            if document_ids is not None:
                codes = [self._doc_index[d] for d in document_ids if d in self._doc_index]
                allowed = np.isin(self._doc_codes, np.array(codes, dtype=np.int64))
                scores = np.where(allowed, scores, -np.inf)
                k = min(k, int(allowed.sum()))
            k = min(k, len(scores))
            if k == 0:
                return []
            if k < len(scores):  # the k best, and every chunk as near as the k-th: ties are cut by id below
                kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
                top = np.flatnonzero(scores >= kth)
            else:
                top = np.arange(len(scores))
            return [self._ids[i] for i in sorted(top, key=lambda i: (-scores[i], self._ids[i]))[:k]]


def _published(
    rows: Iterable[tuple[str, str, int, np.ndarray]], visible: dict[str, int], skip: set[str]
) -> list[tuple[str, str, np.ndarray]]:
    """The rows of each document's published version, but for documents in ``skip`` (already held)."""
    return [(c, d, v) for c, d, version, v in rows if d not in skip and visible.get(d) == version]
