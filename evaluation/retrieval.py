"""Retrieval quality on a BEIR set: index the corpus, run the queries through the service's retriever, score.

Documents are ranked by their best chunk (a document appears where its first chunk does), which is how a
chunked index answers a document-level benchmark.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evaluation.datasets import beir_corpus, beir_queries, doc_id_from_source
from evaluation.metrics import mrr_at_k, ndcg_at_k, recall_at_k
from ingest.indexer import Indexer
from rag.retrieval import RetrievalOptions, Retriever


def index_beir(indexer: Indexer, corpus_dir: Path, on_result: Callable | None = None) -> dict[str, int]:
    """Index (or confirm unchanged) every corpus document; unchanged ones cost a parse and a hash, no embedding."""
    counts = indexer.ingest_many(beir_corpus(corpus_dir), on_result)
    return vars(counts)


def evaluate_retrieval(
    retriever: Retriever,
    corpus_dir: Path,
    split: str = "test",
    mode: str = "hybrid",
    limit: int | None = None,
    chunks: int = 50,
) -> dict[str, Any]:
    data = beir_queries(corpus_dir, split)
    query_ids = sorted(data.queries)[:limit] if limit else sorted(data.queries)
    scores: dict[str, list[float]] = {m: [] for m in ("recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10")}
    latencies = []
    for query_id in query_ids:
        started = time.perf_counter()
        found = retriever.retrieve(data.queries[query_id], RetrievalOptions(top_k=chunks, mode=mode))  # type: ignore[arg-type]
        latencies.append((time.perf_counter() - started) * 1000)
        ranked = list(dict.fromkeys(doc_id_from_source(c.source) for c in found))
        relevant = data.qrels[query_id]
        scores["recall@5"].append(recall_at_k(ranked, relevant, 5))
        scores["recall@10"].append(recall_at_k(ranked, relevant, 10))
        scores["recall@100"].append(recall_at_k(ranked, relevant, 100))
        scores["mrr@10"].append(mrr_at_k(ranked, relevant, 10))
        scores["ndcg@10"].append(ndcg_at_k(ranked, relevant, 10))
    latencies.sort()
    return {
        "dataset": corpus_dir.name,
        "split": split,
        "mode": mode,
        "queries": len(query_ids),
        **{name: round(statistics.fmean(values), 4) for name, values in scores.items()},
        "latency_ms_p50": round(latencies[len(latencies) // 2], 1),
        "latency_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
    }
