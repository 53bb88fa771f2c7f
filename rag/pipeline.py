"""Question in, grounded answer out: embed, retrieve, prompt, generate, cite.

Each step is a small component; this class wires them and times them. It depends only on the store and the
models, never on how documents got into the store.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rag.citations import best_supporting_chunk, citations_from_markers, strip_invalid_markers, to_citation
from rag.models.embedder import Embedder
from rag.models.llm import LLM, GenerationParams
from rag.prompts import build_rag_prompt
from rag.store.chunks import ChunkStore
from rag.store.registry import Registry
from rag.types import Answer, RetrievedChunk, Timings

NO_DOCUMENTS_ANSWER = "No indexed document matches the question, so there is nothing to answer from."


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


class Retriever:
    """Dense retrieval over the chunk store, showing only the published version of each document."""

    def __init__(self, embedder: Embedder, store: ChunkStore, registry: Registry) -> None:
        self.embedder = embedder
        self.store = store
        self.registry = registry

    def retrieve(self, question: str, top_k: int, timings: Timings | None = None) -> list[RetrievedChunk]:
        timings = timings if timings is not None else Timings()
        started = time.perf_counter()
        vector = self.embedder.embed_query(question)
        timings.embed_ms = _ms(started)

        started = time.perf_counter()
        # Ask for extra rows: chunks of a version being replaced right now are filtered out below.
        candidates = self.store.query(vector, k=top_k * 2)
        visible = self.registry.visible_versions(c.document_id for c in candidates)
        chunks = [c for c in candidates if visible.get(c.document_id) == c.version][:top_k]
        for rank, chunk in enumerate(chunks, start=1):
            chunk.rank = rank
        timings.retrieve_ms = _ms(started)
        return chunks


class RAGPipeline:
    def __init__(self, retriever: Retriever, llm: LLM, default_top_k: int, default_max_new_tokens: int) -> None:
        self.retriever = retriever
        self.llm = llm
        self.default_top_k = default_top_k
        self.default_max_new_tokens = default_max_new_tokens

    def prompt_for(self, question: str, chunks: Sequence[RetrievedChunk]) -> str:
        return build_rag_prompt(self.llm.family, question, chunks)

    def answer(self, question: str, top_k: int | None = None, params: GenerationParams | None = None) -> Answer:
        started_all = time.perf_counter()
        timings = Timings()
        chunks = self.retriever.retrieve(question, top_k or self.default_top_k, timings)
        if not chunks:
            timings.total_ms = _ms(started_all)
            return Answer(answer=NO_DOCUMENTS_ANSWER, citations=[], timings=timings)

        params = params or GenerationParams(max_new_tokens=self.default_max_new_tokens)
        started = time.perf_counter()
        generation = self.llm.generate(self.prompt_for(question, chunks), params)
        timings.generate_ms = _ms(started)
        timings.first_token_ms = generation.first_token_ms
        timings.prompt_tokens = generation.prompt_tokens
        timings.generated_tokens = generation.generated_tokens

        text = strip_invalid_markers(generation.text, {c.rank for c in chunks})
        citations = citations_from_markers(text, chunks)
        if not citations and text:
            vectors = self.retriever.embedder.embed([text, *(c.text for c in chunks)])
            best = best_supporting_chunk(vectors[0], chunks, vectors[1:])
            citations = [to_citation(best, None)] if best else []
        timings.total_ms = _ms(started_all)
        return Answer(answer=text, citations=citations, timings=timings)
