"""Dense retrieval: the published chunks whose vectors are nearest a question's.

Chroma answers from its HNSW graph, which is approximate, and not the same approximation twice: below its sync
threshold a collection's graph is rebuilt on every start, with several threads (chroma-core/chroma#2675,
#3638). On the 1,541-chunk MTRAG index it left 11-22 of 120 questions' 2,880 true top-24 chunks out, different
ones after each restart, so one question got other chunks, other evidence and another answer from one process to
the next (an UNDERSPECIFIED task was abstained on or answered depending on the run). Exact search is cheap at the
sizes this service is run at: up to ``exact_max`` published chunks their vectors are kept in memory (1.5 MB per
1,000 chunks of 384 dimensions) and ranked by one matrix product, rebuilt like the keyword index when the
registry's generation counter says the published documents changed. Above it, Chroma's graph answers.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from rag.store.chunks import ChunkStore
from rag.store.registry import Registry

log = logging.getLogger(__name__)

EXACT_MAX = 50_000  # chunks ranked exactly; 77 MB of 384-dimension vectors


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
        self._ids: list[str] = []
        self._vectors: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self._doc_codes: np.ndarray = np.array([], dtype=np.int64)
        self._doc_index: dict[str, int] = {}

    @property
    def exact(self) -> bool:
        """Whether searches are exact now (the published chunks fit ``exact_max``)."""
        with self._lock:
            self._current()
            return self._exact

    def _current(self) -> None:
        generation = self.registry.generation()
        if generation == self._generation:
            return
        started = time.perf_counter()
        ids: list[str] = []
        documents: list[str] = []
        vectors: list[np.ndarray] = []
        exact = 0 < self.store.count() <= self.exact_max
        if exact:
            visible = self.registry.visible_versions_all()
            for chunk_id, document_id, version, vector in self.store.iter_vectors():
                if visible.get(document_id) == version:
                    ids.append(chunk_id)
                    documents.append(document_id)
                    vectors.append(vector)
        # Set together, once read: a read that fails leaves the last index in place, to be read again next time.
        self._exact, self._ids = exact, ids
        self._vectors = np.asarray(vectors, dtype=np.float32) if vectors else np.zeros((0, 0), dtype=np.float32)
        self._doc_index = {d: i for i, d in enumerate(dict.fromkeys(documents))}
        self._doc_codes = np.array([self._doc_index[d] for d in documents], dtype=np.int64)
        self._generation = generation
        if exact:
            log.info("dense index rebuilt: %d chunks in %.2fs (exact search)", len(ids), time.perf_counter() - started)

    def search(self, query: np.ndarray, k: int, document_ids: set[str] | None = None) -> list[str]:
        """The ids of the ``k`` chunks nearest ``query``, nearest first (ties in chunk order, so a question gets the
        same ranking every time), optionally only among ``document_ids``."""
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
            k = min(k, len(self._ids))
            if k == 0:
                return []
            top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
            order = top[np.lexsort((top, -scores[top]))]
            return [self._ids[i] for i in order]
