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
import hashlib
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import summary, write_result

WORD = re.compile(r"\w+")
VOCABULARY = [f"w{i}" for i in range(3000)]


class HashedWords:
    """Texts sharing words get similar vectors; deterministic and fast."""

    dimension = 384

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in WORD.findall(text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
            out[row] /= max(np.linalg.norm(out[row]), 1e-9)
        return out

    def embed_cached(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(WORD.findall(text))


def _build(data_dir: Path, layout: list[tuple[str, int]], seed: int):
    from ingest.chunking import Chunker
    from ingest.indexer import Indexer
    from rag.keyword import KeywordIndex
    from rag.retrieval import Retriever
    from rag.store.chunks import ChunkStore
    from rag.store.registry import Registry

    registry = Registry.from_url(f"sqlite:///{data_dir / 'registry.sqlite3'}")
    store = ChunkStore.persistent(data_dir / "chroma", "documents")
    embedder = HashedWords()
    indexer = Indexer(registry, store, embedder, Chunker(embedder.count_tokens, 200, 20), 1 << 20, 256)  # type: ignore[arg-type]
    rng = random.Random(seed)
    n = 0
    for collection, count in layout:
        items = []
        for _ in range(count):
            text = " ".join(rng.choices(VOCABULARY, k=40)) + ".\n"
            items.append((f"doc-{n}.txt", (lambda t=text: t.encode())))
            n += 1
        indexer.ingest_many(items, collection=collection)
    return Retriever(embedder, store, registry, KeywordIndex(store, registry))  # type: ignore[arg-type]


def _time_queries(retriever, questions: list[str], collection: str | None, mode: str) -> dict[str, float]:
    from rag.retrieval import RetrievalOptions

    options = RetrievalOptions(top_k=5, mode=mode)  # type: ignore[arg-type]
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
