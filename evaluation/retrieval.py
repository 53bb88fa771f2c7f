"""Retrieval quality on a BEIR set: index the corpus, run the queries through the service's retriever, score.

Documents are ranked by their best chunk (a document appears where its first chunk does), which is how a
chunked index answers a document-level benchmark. Optionally a sample of the queries is also answered through
the whole pipeline, to see how often the answer's citation points into a relevant document.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evaluation.answers import stage_latency, timing_row
from evaluation.datasets import SquadQuestion, beir_corpus, beir_queries, constant, doc_id_from_source, squad
from evaluation.metrics import cites_relevant, mrr_at_k, ndcg_at_k, percentile, recall_at_k
from ingest.indexer import Indexer
from rag.config import Settings
from rag.pipeline import RAGPipeline
from rag.retrieval import RetrievalOptions, Retriever
from rag.store.identity import identity_of
from rag.types import Timings
from service import build

Progress = Callable[[int, int], None]


def index_beir(indexer: Indexer, corpus_dir: Path, on_result: Callable | None = None) -> dict[str, int]:
    """Index (or confirm unchanged) every corpus document; unchanged ones cost a parse and a hash, no embedding."""
    counts = indexer.ingest_many(beir_corpus(corpus_dir), on_result)
    return vars(counts)


def sample_queries(query_ids: list[str], limit: int | None, seed: int) -> list[str]:
    """All query ids in order, or a reproducible random sample of ``limit`` of them."""
    ordered = sorted(query_ids)
    if limit is None or limit >= len(ordered):
        return ordered
    return sorted(random.Random(seed).sample(ordered, limit))


def evaluate_retrieval(
    retriever: Retriever,
    corpus_dir: Path,
    split: str = "test",
    mode: str = "hybrid",
    limit: int | None = None,
    chunks: int = 50,
    seed: int = 0,
    on_query: Progress | None = None,
) -> dict[str, Any]:
    data = beir_queries(corpus_dir, split)
    query_ids = sample_queries(list(data.queries), limit, seed)
    scores: dict[str, list[float]] = {m: [] for m in ("recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10")}
    latencies, embed, search = [], [], []
    for n, query_id in enumerate(query_ids, start=1):
        timings = Timings()
        started = time.perf_counter()
        options = RetrievalOptions.model_validate({"top_k": chunks, "mode": mode})  # validates the mode, a str here
        found = retriever.retrieve(data.queries[query_id], options, timings)
        latencies.append((time.perf_counter() - started) * 1000)
        embed.append(timings.embed_ms)
        search.append(timings.retrieve_ms)
        ranked = list(dict.fromkeys(doc_id_from_source(c.source) for c in found))
        relevant = data.qrels[query_id]
        scores["recall@5"].append(recall_at_k(ranked, relevant, 5))
        scores["recall@10"].append(recall_at_k(ranked, relevant, 10))
        scores["recall@100"].append(recall_at_k(ranked, relevant, 100))
        scores["mrr@10"].append(mrr_at_k(ranked, relevant, 10))
        scores["ndcg@10"].append(ndcg_at_k(ranked, relevant, 10))
        if on_query:
            on_query(n, len(query_ids))
    return {
        "dataset": corpus_dir.name,
        "split": split,
        "mode": mode,
        "queries": len(query_ids),
        "limit": limit,
        "seed": seed,
        **{name: round(statistics.fmean(values), 4) for name, values in scores.items()},
        "latency_ms_p50": round(percentile(latencies, 0.5), 1),
        "latency_ms_p95": round(percentile(latencies, 0.95), 1),
        "embed_ms_p50": round(percentile(embed, 0.5), 1),
        "embed_ms_p95": round(percentile(embed, 0.95), 1),
        "retrieve_ms_p50": round(percentile(search, 0.5), 1),
        "retrieve_ms_p95": round(percentile(search, 0.95), 1),
    }


def evaluate_beir_answers(
    pipeline: RAGPipeline,
    corpus_dir: Path,
    split: str = "test",
    limit: int | None = 50,
    seed: int = 0,
    on_query: Progress | None = None,
) -> dict[str, Any]:
    """Answer a sample of the queries through the whole pipeline: does the citation point into a relevant
    document, and how long does each stage take (time to first token and decode speed included)."""
    data = beir_queries(corpus_dir, split)
    query_ids = sample_queries(list(data.queries), limit, seed)
    rows = []
    for n, query_id in enumerate(query_ids, start=1):
        answer = pipeline.answer(data.queries[query_id])
        cited = [doc_id_from_source(c.source) for c in answer.citations]
        rows.append(
            {
                "query_id": query_id,
                "answer_type": answer.answer_type,
                "cited": cited,
                "cites_relevant": cites_relevant(cited, data.qrels[query_id]) if cited else None,
                **timing_row(answer),
            }
        )
        if on_query:
            on_query(n, len(query_ids))
    with_citations = [r for r in rows if r["cites_relevant"] is not None]
    return {
        "dataset": corpus_dir.name,
        "split": split,
        "queries": len(rows),
        "limit": limit,
        "seed": seed,
        "answered_with_citation": len(with_citations),
        "citations_relevant_share": (
            round(statistics.fmean(r["cites_relevant"] for r in with_citations), 4) if with_citations else 0.0
        ),
        **stage_latency(rows),
        "rows": rows,
    }


def evaluate_squad_retrieval(
    retriever: Retriever,
    questions: list[SquadQuestion],
    mode: str = "hybrid",
    ks: tuple[int, ...] = (1, 4, 10),
    on_query: Progress | None = None,
) -> dict[str, Any]:
    """Recall of the gold paragraph in the first k paragraphs retrieved (ranked by their best chunk), and MRR@10,
    over SQuAD-format questions: how often the paragraph that holds the answer is there to answer from."""
    depth = max(max(ks), 10)
    hits: dict[int, list[float]] = {k: [] for k in ks}
    reciprocal, embed, latencies = [], [], []
    for n, question in enumerate(questions, start=1):
        timings = Timings()
        started = time.perf_counter()
        options = RetrievalOptions.model_validate({"top_k": depth * 2, "mode": mode})
        found = retriever.retrieve(question.question, options, timings)
        latencies.append((time.perf_counter() - started) * 1000)
        embed.append(timings.embed_ms)
        ranked = list(dict.fromkeys(doc_id_from_source(c.source) for c in found))
        for k in ks:
            hits[k].append(float(question.context_id in ranked[:k]))
        reciprocal.append(mrr_at_k(ranked, {question.context_id: 1}, 10))
        if on_query:
            on_query(n, len(questions))
    return {
        "mode": mode,
        "questions": len(questions),
        **{f"recall@{k}": round(statistics.fmean(v), 4) if v else 0.0 for k, v in hits.items()},
        "mrr@10": round(statistics.fmean(reciprocal), 4) if reciprocal else 0.0,
        "latency_ms_p50": round(percentile(latencies, 0.5), 1),
        "embed_ms_p50": round(percentile(embed, 0.5), 1),
    }


def run_squad_retrieval(
    settings: Settings,
    path: Path,
    *,
    modes: tuple[str, ...] = ("dense", "hybrid"),
    paragraphs: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Index the paragraphs of a SQuAD-format file (the first ``paragraphs`` in file order, whole articles first,
    when given) on an isolated index of this embedder, and measure gold-paragraph recall per retrieval mode on a
    ``limit`` sample of the answerable questions whose paragraph is indexed. No sentence vectors are stored:
    retrieval does not read them, and they would triple the indexing time of the slow embedder."""
    contexts, all_questions = squad(path)
    kept = list(contexts)[:paragraphs] if paragraphs else list(contexts)
    folder = settings.data_dir / "eval" / f"retrieval-{path.stem}-{settings.embedder}-{settings.chunk_size}"
    isolated = settings.isolated(folder).model_copy(update={"sentence_vectors": False})
    services = build(isolated, load_llm=False)
    started = time.perf_counter()
    items = ((f"{path.stem}/{cid}.txt", constant(contexts[cid].encode())) for cid in kept)
    counts = services.indexer.ingest_many(items)
    index_s = time.perf_counter() - started
    indexed = set(kept)
    questions = [q for q in all_questions if q.answers and q.context_id in indexed]
    if limit is not None and limit < len(questions):
        questions = random.Random(seed).sample(questions, limit)
    results = []
    for mode in modes:
        tick = (lambda n, total, mode=mode: on_progress(mode, n, total)) if on_progress else None
        results.append(evaluate_squad_retrieval(services.retriever, questions, mode, on_query=tick))
    return {
        "dataset": path.stem,
        "embedder": identity_of(services.embedder).name,
        "paragraphs": len(kept),
        "chunks": services.store.count(),
        "index_s": round(index_s, 1),
        "indexed": vars(counts),
        "limit": limit,
        "seed": seed,
        "results": results,
    }
