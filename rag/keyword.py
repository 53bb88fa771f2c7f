"""Keyword retrieval: BM25 (bm25s) over the published chunks.

Dense retrieval misses exact terms (names, codes, rare words) that BM25 finds, and the reverse; the retriever
fuses both. bm25s builds a static index, so this keeps one per process and rebuilds it when the registry's
generation counter says the published documents changed. Rebuilding is fast (about a second per 10,000
chunks) next to embedding them, and happens on the first query after a change, not on every ingest. Chinese
text is cut into words by jieba first (rag/text.py ``segment``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import bm25s
import numpy as np

from rag.store.chunks import ChunkStore
from rag.store.registry import Registry
from rag.text import segment

log = logging.getLogger(__name__)


def _stemmer():
    try:
        import Stemmer  # PyStemmer

        return Stemmer.Stemmer("english").stemWords
    except ImportError:  # optional: without it BM25 matches exact word forms only
        return None


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    document_id: str
    version: int
    score: float


class KeywordIndex:
    def __init__(self, store: ChunkStore, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self._stem = _stemmer()
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._bm25: bm25s.BM25 | None = None
        self._ids: list[str] = []
        self._documents: np.ndarray = np.array([], dtype=object)
        self._versions: np.ndarray = np.array([], dtype=np.int64)
        # Each chunk's document as a small integer, so a filter to a set of documents (a collection's, or a
        # request's) is a sort-based isin over integers: np.isin over the object array compares pairwise.
        self._doc_codes: np.ndarray = np.array([], dtype=np.int64)
        self._doc_index: dict[str, int] = {}
        self._df: dict[str, int] = {}

    def _tokenize(self, texts: list[str], ids: bool = True):
        """Words for BM25: English words stemmed, stop words out; Chinese cut into words first (``segment``), so
        that a question's words match a chunk's, where a run of Chinese characters would be one token."""
        segmented = [segment(t) for t in texts]
        return bm25s.tokenize(segmented, stopwords="en", stemmer=self._stem, show_progress=False, return_ids=ids)

    def _current(self) -> None:
        generation = self.registry.generation()
        if generation == self._generation:
            return
        started = time.perf_counter()
        visible = self.registry.visible_versions_all()
        ids, texts, documents, versions = [], [], [], []
        for chunk_id, text, document_id, version in self.store.iter_texts():
            if visible.get(document_id) == version:
                ids.append(chunk_id)
                texts.append(text)
                documents.append(document_id)
                versions.append(version)
        bm25 = None
        df: dict[str, int] = {}
        if texts:
            bm25 = bm25s.BM25()
            tokenized = self._tokenize(texts)
            bm25.index(tokenized, show_progress=False)
            counts = np.zeros(len(tokenized.vocab), dtype=np.int64)
            for token_ids in tokenized.ids:
                counts[np.unique(np.asarray(token_ids, dtype=np.int64))] += 1
            df = {word: int(counts[i]) for word, i in tokenized.vocab.items()}
        self._bm25, self._ids, self._generation, self._df = bm25, ids, generation, df
        self._documents = np.array(documents, dtype=object)
        self._versions = np.array(versions, dtype=np.int64)
        self._doc_index = {d: i for i, d in enumerate(dict.fromkeys(documents))}
        self._doc_codes = np.array([self._doc_index[d] for d in documents], dtype=np.int64)
        log.info("keyword index rebuilt: %d chunks in %.2fs", len(ids), time.perf_counter() - started)

    def idf(self, words: set[str]) -> dict[str, float]:
        """Inverse document frequency of (stemmed, lower-case) words over the published chunks.

        Evidence selection weighs the question words a sentence shares by how rare they are: sharing "Normandy"
        says more than sharing "century". A word in no chunk gets the highest value.
        """
        with self._lock:
            self._current()
            n = len(self._ids)
            return {w: float(np.log((n + 1) / (self._df.get(w, 0) + 0.5))) for w in words}

    def search(self, query: str, k: int, document_ids: set[str] | None = None) -> list[KeywordHit]:
        """Top ``k`` chunks by BM25, optionally only among ``document_ids``; zero-score chunks are left out."""
        with self._lock:
            self._current()
            if self._bm25 is None or k <= 0:
                return []
            mask = None
            if document_ids is not None:
                codes = np.array([self._doc_index[d] for d in document_ids if d in self._doc_index], dtype=np.int64)
                mask = np.isin(self._doc_codes, codes).astype(np.float32)
                if not mask.any():
                    return []
            # Query words as strings: the index maps them to its own vocabulary; unknown words cannot match.
            words = [w for w in self._tokenize([query], ids=False)[0] if w in self._bm25.vocab_dict]
            if not words:
                return []
            tokens = [words]
            k = min(k, len(self._ids))
            indices, scores = self._bm25.retrieve(tokens, k=k, show_progress=False, weight_mask=mask, n_threads=1)
        return [
            KeywordHit(self._ids[i], str(self._documents[i]), int(self._versions[i]), float(s))
            for i, s in zip(indices[0], scores[0], strict=True)
            if s > 0
        ]
