"""What keys and tenants cost per request: the API-key check, and retrieval restricted to a collection.

    .venv/bin/python -m bench.tenants                      # 2,000 documents per tenant, 200 keys
    .venv/bin/python -m bench.tenants --docs 500           # a quick sample

Retrieval is timed for the same questions in three layouts of the same documents: one tenant holding them all
(the fast path: no id list, the registry check on the results enforces the collection), two tenants holding half
each (the searched collection's document ids go to Chroma as a ``where`` list and to BM25 as a mask), and no
collection at all (library callers). The embedder is a stand-in (hashed words, 384 dimensions): embedding costs
the same in every layout, so it is left out of what is compared.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import HashedWordsEmbedder, summary, write_result

VOCABULARY = [f"w{i}" for i in range(3000)]


def _build(data_dir: Path, layout: list[tuple[str, int]], seed: int):
    from rag.config import Settings
    from service import build

    settings = Settings(chunk_size=200, chunk_overlap=20, max_upload_bytes=1 << 20, embedding_batch_size=256)
    # Isolated: its own SQLite registry and embedded Chroma in data_dir, whatever RAG_* the shell sets.
    services = build(settings.isolated(data_dir), load_llm=False, embedder=HashedWordsEmbedder(384))
    indexer = services.indexer
    rng = random.Random(seed)
    n = 0
    for collection, count in layout:
        items = []
        for _ in range(count):
            text = " ".join(rng.choices(VOCABULARY, k=40)) + ".\n"
            items.append((f"doc-{n}.txt", (lambda t=text: t.encode())))
            n += 1
        indexer.ingest_many(items, collection=collection)
    return services.retriever


def _time_queries(retriever, questions: list[str], collection: str | None, mode: str) -> dict[str, float]:
    from rag.retrieval import RetrievalOptions

    options = RetrievalOptions.model_validate({"top_k": 5, "mode": mode})  # validates the mode, a str here
    retriever.retrieve(questions[0], options, collection=collection)  # warm: the BM25 index is built once
    times = []
    for question in questions:
        started = time.perf_counter()
        chunks = retriever.retrieve(question, options, collection=collection)
        times.append((time.perf_counter() - started) * 1000)
        assert len(chunks) == 5, "every layout must fill top_k from the searched collection"
    return summary(times, 2)


def run(args: argparse.Namespace) -> dict:
    from rag.keys import KeyService
    from rag.store.registry import Registry

    root = Path(tempfile.mkdtemp(prefix="rag-bench-tenants-"))
    try:
        keys = KeyService(Registry.from_url(f"sqlite:///{root / 'keys.sqlite3'}"))
        tokens = [keys.create("read", f"c{i}")[1] for i in range(args.keys)]
        for token in tokens[:50]:
            keys.verify(token)
        checks = []
        for i in range(2000):
            started = time.perf_counter()
            assert keys.verify(tokens[i % len(tokens)]) is not None
            checks.append((time.perf_counter() - started) * 1000)

        rng = random.Random(args.seed + 1)
        questions = [" ".join(rng.choices(VOCABULARY, k=8)) for _ in range(args.queries)]
        layouts = {
            "one tenant (fast path)": ([("alpha", 2 * args.docs)], "alpha"),
            "two tenants (id list)": ([("alpha", args.docs), ("beta", args.docs)], "alpha"),
            "no collection (library)": ([("alpha", 2 * args.docs)], None),
        }
        retrieval: dict[str, dict] = {}
        for name, (layout, collection) in layouts.items():
            data_dir = root / name.split(" (")[0].replace(" ", "-")
            retriever = _build(data_dir, layout, args.seed)
            retrieval[name] = {
                mode: _time_queries(retriever, questions, collection, mode) for mode in ("dense", "hybrid")
            }
            print(
                f"{name:<26} "
                + "  ".join(f"{m} p50 {r['p50']} ms p95 {r['p95']} ms" for m, r in retrieval[name].items())
            )
        result = {
            "docs_per_tenant": args.docs,
            "keys": args.keys,
            "key_check_ms": summary(checks, 3),
            "retrieve_ms": retrieval,
        }
        print(f"key check with {args.keys} keys: {result['key_check_ms']}")
        print("written to", write_result("tenants", result, args.out))
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--docs", type=int, default=2000, help="documents per tenant in the two-tenant layout")
    parser.add_argument("--keys", type=int, default=200, help="API keys in the registry")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="JSON result file (default var/bench/tenants.json)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    run(parser.parse_args())
