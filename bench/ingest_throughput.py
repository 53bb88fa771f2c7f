"""Ingestion throughput: OpenVINO against torch embedding backend, or with against without sentence vectors
stored at ingest (rag/store/sentences.py), measured in the same run.

    .venv/bin/python -m bench.ingest_throughput                      # SciFact corpus, 5,183 abstracts
    .venv/bin/python -m bench.ingest_throughput --limit 500          # a quick sample
    .venv/bin/python -m bench.ingest_throughput --limit 300 --backends openvino --sentence-vectors on,off

Each backend runs in its own subprocess (so peak memory is its own) on a fresh data directory: the corpus is
streamed from the BEIR ``corpus.jsonl`` through the real indexer (parse, chunk, embed, Chroma, registry).
Reports documents/s, chunks/s, the embedder alone in texts/s, peak RSS and RSS at each quarter of the run
(flat means memory does not grow with the collection), the data directory's size on disk, then the ratios of
the first two runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evaluation.datasets import beir_corpus

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "evaldata" / "scifact" / "corpus.jsonl"


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def worker(backend: str, corpus: Path, limit: int | None, batch: int, sentence_vectors: bool = True) -> dict:
    from rag.config import Settings
    from rag.models.embedder import SentenceEmbedder
    from service import build

    data_dir = Path(tempfile.mkdtemp(prefix=f"rag-ingest-{backend}-"))
    # Isolated: its own SQLite registry and embedded Chroma in data_dir, whatever RAG_* the shell sets.
    settings = Settings(
        cache_dir=ROOT / "var" / "cache",
        embedding_backend=backend,
        embedding_batch_size=batch,
        sentence_vectors=sentence_vectors,
    )
    settings = settings.isolated(data_dir)
    started = time.perf_counter()
    embedder = SentenceEmbedder.load(settings.embedding_model, backend, settings.model_cache_dir)
    load_s = time.perf_counter() - started  # the embedder alone: loaded here, then handed to build
    indexer = build(settings, load_llm=False, embedder=embedder).indexer
    total = limit or sum(1 for _ in corpus.open())
    marks = {round(total * q / 4) for q in (1, 2, 3, 4)}
    rss_at: list[float] = []
    done = 0

    def on_result(_source, _result) -> None:
        nonlocal done
        done += 1
        if done in marks:
            rss_at.append(round(rss_mb(), 1))

    started = time.perf_counter()
    counts = indexer.ingest_many(beir_corpus(corpus.parent, limit), on_result)
    ingest_s = time.perf_counter() - started

    sample = [c.text for c in indexer.store.chunks_of_any(512)]
    started = time.perf_counter()
    embedder.embed(sample, batch_size=batch)
    embed_s = time.perf_counter() - started
    return {
        "backend": backend if sentence_vectors else f"{backend}, no sentences",
        "sentence_records": indexer.store.sentences.count() if indexer.store.sentences else 0,
        "disk_mb": round(disk_mb(data_dir), 1),
        "documents": counts.created,
        "failed": counts.failed,
        "chunks": counts.chunks,
        "load_s": round(load_s, 2),
        "ingest_s": round(ingest_s, 2),
        "docs_per_s": round(counts.created / ingest_s, 1),
        "chunks_per_s": round(counts.chunks / ingest_s, 1),
        "embed_texts_per_s": round(len(sample) / embed_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_by_quarter_mb": rss_at,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="a BEIR corpus.jsonl")
    parser.add_argument("--limit", type=int, help="only the first N documents")
    parser.add_argument("--batch", type=int, default=64, help="embedding batch size")
    parser.add_argument("--backends", default="openvino,torch")
    parser.add_argument("--sentence-vectors", default="on", help="on, off, or on,off to compare (each backend)")
    parser.add_argument("--json", type=Path, help="JSON result file (default var/bench/ingest.json)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        on = args.sentence_vectors == "on"
        print(json.dumps(worker(args.worker, args.corpus, args.limit, args.batch, on)))
        return

    results = []
    runs = [(b, v) for b in args.backends.split(",") for v in args.sentence_vectors.split(",")]
    for backend, vectors in runs:
        command = [
            sys.executable,
            "-m",
            "bench.ingest_throughput",
            "--worker",
            backend,
            "--corpus",
            str(args.corpus),
            "--batch",
            str(args.batch),
            "--sentence-vectors",
            vectors,
        ] + (["--limit", str(args.limit)] if args.limit else [])
        print(f"running {backend}, sentence vectors {vectors} ...", file=sys.stderr, flush=True)
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ}, check=False)
        if out.returncode != 0:
            sys.exit(f"{backend} worker failed:\n{out.stderr[-3000:]}")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))

    keys = [
        "documents",
        "chunks",
        "sentence_records",
        "load_s",
        "ingest_s",
        "docs_per_s",
        "chunks_per_s",
        "embed_texts_per_s",
        "peak_rss_mb",
        "rss_by_quarter_mb",
        "disk_mb",
    ]
    print(f"\ncorpus {args.corpus} ({results[0]['documents']} documents), batch {args.batch}, {os.cpu_count()} cores")
    print(f"{'':<20}" + "".join(f"{r['backend']:>26}" for r in results))
    for key in keys:
        print(f"{key:<20}" + "".join(f"{r[key]!s:>26}" for r in results))
    ratios = {}
    if len(results) >= 2:
        a, b = results[:2]
        for key in ("docs_per_s", "chunks_per_s", "embed_texts_per_s"):
            ratios[f"{a['backend']}/{b['backend']} {key}"] = round(a[key] / b[key], 2)
            print(f"ratio {a['backend']}/{b['backend']} {key}: {a[key] / b[key]:.2f}x")
    from bench.common import write_result

    result = {"corpus": str(args.corpus), "limit": args.limit, "batch": args.batch, "backends": results}
    print("written to", write_result("ingest", {**result, "ratios": ratios}, args.json))


if __name__ == "__main__":
    main()
