"""Hybrid retrieval: dense (exact, or Chroma's graph for large indexes: rag/dense.py) and keyword (BM25) candidates
fused by reciprocal rank fusion.

Options per request: how many chunks, which mode, metadata filters, a relevance floor and MMR for diversity.
Only chunks of each document's published version are ever returned (see rag/store/registry/). This is the
first answer stage (rag/pipeline.py); it is also used on its own (``/v1/retrieve``, LangChain).
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from rag.dense import DenseIndex
from rag.keyword import KeywordIndex
from rag.language import detect
from rag.media import FILE_TYPES, FileType
from rag.models.ports import Embedder
from rag.store.chunks import ChunkStore
from rag.store.registry import Registry
from rag.timing import elapsed_ms
from rag.types import RetrievedChunk, Timings

RRF_K = 60  # the constant of Cormack et al.; ranks past ~60 contribute little


class RetrievalFilter(BaseModel):
    document_ids: list[str] | None = Field(default=None, max_length=1000, description="only these documents")
    source_prefix: str | None = Field(default=None, max_length=1024, description="sources starting with this")
    file_types: list[FileType] | None = Field(default=None, description="only documents of these types")

    def is_empty(self) -> bool:
        return self.document_ids is None and not self.source_prefix and self.file_types is None


class RetrievalOptions(BaseModel):
    top_k: int = Field(default=4, ge=1, le=50, description="chunks to return")
    mode: Literal["hybrid", "dense", "keyword"] = Field(default="hybrid", description="which retrievers to fuse")
    mmr: bool = Field(default=False, description="diversify with maximal marginal relevance")
    mmr_lambda: float = Field(default=0.7, ge=0.0, le=1.0, description="MMR: 1 is pure relevance, 0 pure novelty")
    min_score: float | None = Field(
        default=None, ge=-1.0, le=1.0, description="relevance floor: drop chunks whose cosine similarity is lower"
    )
    filter: RetrievalFilter | None = None


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = RRF_K) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def mmr_order(query: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> list[int]:
    """Indices chosen greedily by ``lam * sim(query) - (1 - lam) * max sim(already chosen)``."""
    relevance = vectors @ query
    chosen: list[int] = []
    remaining = list(range(len(vectors)))
    while remaining and len(chosen) < k:
        if chosen:
            redundancy = (vectors[remaining] @ vectors[chosen].T).max(axis=1)
        else:
            redundancy = np.zeros(len(remaining))
        best = int(np.argmax(lam * relevance[remaining] - (1 - lam) * redundancy))
        chosen.append(remaining.pop(best))
    return chosen


class Retriever:
    def __init__(
        self,
        embedder: Embedder,
        store: ChunkStore,
        registry: Registry,
        keyword: KeywordIndex,
        dense: DenseIndex | None = None,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.registry = registry
        self.keyword = keyword
        self.dense = dense or DenseIndex(store, registry)

    def warm_up(self) -> None:
        """Build the keyword and dense indexes now (a service start), not on the first question, which would wait
        for them (about 5 s each at 50,000 chunks; docs/benchmarks.md)."""
        self.keyword.idf(set())
        _ = self.dense.exact

    def _allowed(self, flt: RetrievalFilter | None, collection: str | None) -> set[str] | None:
        """The documents a search may return, resolved in the registry; None: any.

        A collection alone needs no list when it is the only one holding documents (the usual single-tenant
        case): the search then runs unfiltered, and the registry check on the results still enforces it."""
        if flt is None or flt.is_empty():
            if collection is None or not self.registry.other_collections_exist(collection):
                return None
            return self.registry.document_ids_matching(collection=collection)
        media = [FILE_TYPES[t] for t in flt.file_types] if flt.file_types is not None else None
        return self.registry.document_ids_matching(
            ids=flt.document_ids, source_prefix=flt.source_prefix, media_types=media, collection=collection
        )

    def embed_ahead(self, questions: list[str], timings: Timings) -> None:
        """Embed questions about to be retrieved in one batch (``retrieve`` then finds their vectors remembered):
        a follow-up is retrieved for two readings, and a batch of two costs about what one question does."""
        started = time.perf_counter()
        self.embedder.embed_queries(questions)
        timings.embed_ms += elapsed_ms(started)

    def retrieve(
        self,
        question: str,
        options: RetrievalOptions | None = None,
        timings: Timings | None = None,
        collection: str | None = None,
    ) -> list[RetrievedChunk]:
        """The ranked chunks for ``question``, from documents of ``collection`` only (None: every collection,
        for callers inside a trusted single-tenant process such as the CLI and evaluation)."""
        options = options or RetrievalOptions()
        timings = timings if timings is not None else Timings()
        started = time.perf_counter()
        query = self.embedder.embed_query(question)
        timings.embed_ms += elapsed_ms(started)

        started = time.perf_counter()
        allowed = self._allowed(options.filter, collection)
        if allowed is not None and not allowed:
            timings.retrieve_ms = elapsed_ms(started)
            return []
        pool = max(options.top_k * 4, 20)
        rankings: list[list[str]] = []
        mode = options.mode
        languages = self.embedder.languages
        if mode in ("hybrid", "keyword"):
            rankings.append([h.chunk_id for h in self.keyword.search(question, k=pool, document_ids=allowed)])
        # An English embedder places Chinese at random: fused with keyword search it cost cmrc 10 points of recall.
        # Its ranking is left out for a question in a language it does not read, unless keywords found nothing
        # (then the evidence floor and the answerability check decide, as for any weak match).
        unread = languages is not None and detect(question) not in languages
        if mode == "dense" or (mode == "hybrid" and not (unread and rankings[0])):
            rankings.insert(0, self.dense.search(query, k=pool, document_ids=allowed))
        fused = reciprocal_rank_fusion(rankings)
        records, vectors = self.store.get(list(fused))
        visible = self.registry.visible_versions((r.document_id for r in records), collection)
        keep = [i for i, r in enumerate(records) if visible.get(r.document_id) == r.version]
        records = [records[i] for i in keep]
        vectors = vectors[keep] if len(keep) else np.zeros((0, len(query)), dtype=np.float32)
        similarity = vectors @ query if len(records) else np.zeros(0)
        if options.min_score is not None:
            passing = [i for i in range(len(records)) if similarity[i] >= options.min_score]
            records, vectors, similarity = [records[i] for i in passing], vectors[passing], similarity[passing]

        order = sorted(range(len(records)), key=lambda i: -fused[records[i].chunk_id])
        if options.mmr and order:
            picked = mmr_order(query, vectors[order], options.top_k, options.mmr_lambda)
            order = [order[i] for i in picked]
        chunks = [
            RetrievedChunk(
                **records[i].model_dump(),
                score=round(float(similarity[i]), 4),
                fusion_score=round(fused[records[i].chunk_id], 6),
                rank=rank,
            )
            for rank, i in enumerate(order[: options.top_k], start=1)
        ]
        timings.retrieve_ms = elapsed_ms(started)
        return chunks
