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
from evaluation.datasets import beir_corpus, beir_queries, doc_id_from_source
from evaluation.metrics import cites_relevant, mrr_at_k, ndcg_at_k, percentile, recall_at_k
from ingest.indexer import Indexer
from rag.pipeline import RAGPipeline
from rag.retrieval import RetrievalOptions, Retriever
from rag.types import Timings

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
