"""Retrieval latency as the collection grows: 1k, 10k, 100k chunks.

    .venv/bin/python -m bench retrieval                     # 1k, 10k, 100k chunks
    .venv/bin/python -m bench retrieval --sizes 1000,10000  # quicker

A throwaway Chroma collection and registry in a temporary directory are filled with synthetic chunks
(normalised random 384-dim vectors, texts of 60 words drawn from a Zipf-like vocabulary, 10 chunks per
published document) up to each size in turn, and the same queries are timed at each size:

- dense: one Chroma HNSW query for the retriever's candidate pool (20 chunks);
- exact: the same pool ranked exactly over every published chunk's vector held in memory (rag/dense.py; the
  service does this up to ``RAG_EXACT_SEARCH_MAX_CHUNKS``), with the time to read every vector (the first
  search, or after most documents changed), the time to take in one changed document, and how many of the
  exact pool HNSW's pool holds (recall@20);
- keyword: BM25 (bm25s) over all published chunks, same pool;
- hybrid: the service's whole retrieval path without the question embedding (dense + BM25, fusion, vectors
  fetched back from Chroma, published-version check, top 4), as ``timings.retrieve_ms`` reports it.

Synthetic vectors have no cluster structure, which is the hard case for HNSW; query vectors are random too.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import summary, table, write_result

DIM = 384
CHUNKS_PER_DOCUMENT = 10


def _vocabulary(rng: np.random.Generator, size: int = 5000) -> tuple[list[str], np.ndarray]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = sorted({"".join(rng.choice(letters, rng.integers(3, 10))) for _ in range(size * 2)})[:size]
    weights = 1.0 / np.arange(1, len(words) + 1)  # Zipf: a few words are everywhere, most are rare
    return words, weights / weights.sum()


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class _FixedQuery:
    """Stands in for the embedder: retrieval latency without the cost of embedding the question. Chunks are
    written to the store directly, with their vectors, so nothing else of it is used."""

    dimension = DIM
    languages: frozenset[str] | None = None

    def __init__(self) -> None:
        self.vector = np.zeros(DIM, dtype=np.float32)

    def embed_query(self, _question: str) -> np.ndarray:
        return self.vector

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        raise NotImplementedError("the benchmark writes its vectors itself")

    def embed_cached(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError("the benchmark selects no evidence")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def _new_version(store, registry, rng, words, weights, document: str, version: int) -> None:
    """A new published version of one document (what a refresh that changed one file does)."""
    from rag.types import ChunkRecord

    records = [
        ChunkRecord(
            chunk_id=f"{document}:{version}:{i}",
            document_id=document,
            version=version,
            source=f"synthetic/{document}.txt",
            chunk_index=i,
            start=0,
            end=1,
            text=" ".join(rng.choice(words, 60, p=weights)),
        )
        for i in range(CHUNKS_PER_DOCUMENT)
    ]
    store.add(records, _unit(rng, len(records)))
    registry.publish(
        document,
        version=version,
        content_hash=f"{document}v{version}",
        media_type="text/plain",
        size_bytes=1,
        chunk_count=CHUNKS_PER_DOCUMENT,
    )
    store.delete(document, keep_version=version)


def _fill(store, registry, rng, words, weights, start: int, stop: int) -> None:
    from rag.types import ChunkRecord

    for first in range(start, stop, 5000):
        last = min(stop, first + 5000)
        records = []
        for n in range(first, last):
            doc = n // CHUNKS_PER_DOCUMENT
            text = " ".join(rng.choice(words, 60, p=weights))
            records.append(
                ChunkRecord(
                    chunk_id=f"d{doc}:1:{n % CHUNKS_PER_DOCUMENT}",
                    document_id=f"d{doc}",
                    version=1,
                    source=f"synthetic/{doc}.txt",
                    chunk_index=n % CHUNKS_PER_DOCUMENT,
                    start=0,
                    end=len(text),
                    text=text,
                )
            )
        store.add(records, _unit(rng, len(records)), batch_size=5000)
    for doc in range(start // CHUNKS_PER_DOCUMENT, (stop + CHUNKS_PER_DOCUMENT - 1) // CHUNKS_PER_DOCUMENT):
        registry.create(
            document_id=f"d{doc}",
            source=f"synthetic/{doc}.txt",
            content_hash=f"h{doc}",
            media_type="text/plain",
            size_bytes=1,
        )
        registry.publish(
            f"d{doc}",
            version=1,
            content_hash=f"h{doc}",
            media_type="text/plain",
            size_bytes=1,
            chunk_count=CHUNKS_PER_DOCUMENT,
        )


def run(sizes: list[int], queries: int = 200, seed: int = 0, out: Path | None = None) -> dict[str, Any]:
    from rag.config import Settings
    from rag.dense import DenseIndex
    from rag.retrieval import RetrievalOptions
    from rag.types import Timings
    from service import build

    rng = np.random.default_rng(seed)
    words, weights = _vocabulary(rng)
    tmp = Path(tempfile.mkdtemp(prefix="rag-bench-retrieval-"))
    rows: list[dict[str, Any]] = []
    try:
        embedder = _FixedQuery()
        # Isolated: its own SQLite registry and embedded Chroma in tmp, whatever RAG_* the shell sets.
        services = build(Settings(chroma_collection="bench").isolated(tmp), load_llm=False, embedder=embedder)
        store, registry, retriever = services.store, services.registry, services.retriever
        keyword = retriever.keyword
        exact_index = DenseIndex(store, registry, exact_max=max(sizes))  # exact at every size, for comparison
        query_vectors = _unit(rng, queries)
        query_texts = [" ".join(rng.choice(words, 8, p=weights)) for _ in range(queries)]
        filled = 0
        for size in sorted(sizes):
            started = time.perf_counter()
            _fill(store, registry, rng, words, weights, filled, size)
            filled = size
            fill_s = time.perf_counter() - started
            started = time.perf_counter()
            keyword.search("warm up", 1)  # the BM25 index is rebuilt once after a change, not per query
            bm25_build_s = time.perf_counter() - started
            started = time.perf_counter()
            exact_index.search(query_vectors[0], 1)  # the vectors are loaded once after a change, not per query
            exact_load_s = time.perf_counter() - started
            retriever.dense.search(query_vectors[0], 1)  # and the service's own index (exact up to its limit)
            dense, exact, kw, hybrid, recall = [], [], [], [], []
            for vector, text in zip(query_vectors, query_texts, strict=True):
                t = time.perf_counter()
                approximate = [c.chunk_id for c in store.query(vector, k=20)]
                dense.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                nearest = exact_index.search(vector, 20)
                exact.append((time.perf_counter() - t) * 1000)
                recall.append(len(set(approximate) & set(nearest)) / len(nearest))
                t = time.perf_counter()
                keyword.search(text, k=20)
                kw.append((time.perf_counter() - t) * 1000)
                embedder.vector = vector
                timings = Timings()
                retriever.retrieve(text, RetrievalOptions(top_k=4), timings)
                hybrid.append(timings.retrieve_ms)
            _new_version(store, registry, rng, words, weights, "d0", version=len(rows) + 2)
            started = time.perf_counter()
            exact_index.search(query_vectors[0], 1)  # only d0's vectors are read again
            exact_update_s = time.perf_counter() - started
            row = {
                "chunks": size,
                "exact_update_s": round(exact_update_s, 3),
                "fill_s": round(fill_s, 1),
                "bm25_index_s": round(bm25_build_s, 2),
                "dense_ms": summary(dense, 2),
                "exact_ms": summary(exact, 2),
                "exact_load_s": round(exact_load_s, 2),
                "hnsw_recall_at_20": round(float(np.mean(recall)), 4),
                "exact_path": retriever.dense.exact,
                "keyword_ms": summary(kw, 2),
                "hybrid_ms": summary(hybrid, 2),
            }
            rows.append(row)
            print(
                f"{size:>7} chunks: dense p50 {row['dense_ms']['p50']} p95 {row['dense_ms']['p95']} ms, "
                f"exact p50 {row['exact_ms']['p50']} p95 {row['exact_ms']['p95']} ms "
                f"(load {row['exact_load_s']} s, one document changed {row['exact_update_s']} s, "
                f"HNSW recall@20 {row['hnsw_recall_at_20']}), "
                f"keyword p50 {row['keyword_ms']['p50']} p95 {row['keyword_ms']['p95']} ms, "
                f"hybrid p50 {row['hybrid_ms']['p50']} p95 {row['hybrid_ms']['p95']} ms",
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(
        table(
            [
                "chunks",
                "HNSW p50",
                "HNSW p95",
                "HNSW recall@20",
                "exact p50",
                "exact p95",
                "exact load s",
                "exact update s",
                "BM25 p50",
                "BM25 p95",
                "hybrid path",
                "hybrid p50",
                "hybrid p95",
                "fill s",
            ],
            [
                [
                    f"{r['chunks']:,}",
                    r["dense_ms"]["p50"],
                    r["dense_ms"]["p95"],
                    r["hnsw_recall_at_20"],
                    r["exact_ms"]["p50"],
                    r["exact_ms"]["p95"],
                    r["exact_load_s"],
                    r["exact_update_s"],
                    r["keyword_ms"]["p50"],
                    r["keyword_ms"]["p95"],
                    "exact" if r["exact_path"] else "HNSW",
                    r["hybrid_ms"]["p50"],
                    r["hybrid_ms"]["p95"],
                    r["fill_s"],
                ]
                for r in rows
            ],
        )
    )
    result = {"queries": queries, "pool": 20, "top_k": 4, "sizes": rows, "target_hybrid_p95_ms_at_100k": 25}
    print("written to", write_result("retrieval", result, out))
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated collection sizes (chunks)")
    parser.add_argument("--queries", type=int, default=200, help="queries timed at each size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="JSON result file (default var/bench/retrieval.json)")


def main(args: argparse.Namespace) -> None:
    run([int(s) for s in args.sizes.split(",")], args.queries, args.seed, args.out)
