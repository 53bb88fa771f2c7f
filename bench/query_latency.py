"""Query latency on the sample corpus: p50/p95 per stage, in-process or over HTTP.

    .venv/bin/python -m bench.query_latency                 # in-process, fresh index of data/ in a temp dir
    .venv/bin/python -m bench.query_latency --url http://127.0.0.1:8000   # against a running `make run`

Prints one line per question (answer type, total ms, the answer) and a summary table. Each question is asked
once as a warm-up and then --repeat times; figures are medians over those runs, and the "(first)" rows are the
warm-up asks, before the evidence sentences' vectors were cached (in-process the cache is emptied before each).

In-process, first sight is measured twice per question, the embedder's cache emptied before each: with the
sentence vectors stored at ingest ("first, stored": rag/store/sentences.py) and with them embedded at query time
as before they were stored ("first, embedded"), in alternating order; the report says whether both chose the
same evidence and how far apart its scores were (the same texts and model: they should only differ by float
rounding between batches).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="base URL of a running service; default: run in-process")
    parser.add_argument("--key", help="API key for --url (e.g. $(cat var/admin-key)); not needed with RAG_AUTH=false")
    parser.add_argument("--questions", type=Path, default=ROOT / "bench" / "questions.txt")
    parser.add_argument("--corpus", type=Path, default=ROOT / "data")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    questions = [q.strip() for q in args.questions.read_text().splitlines() if q.strip()]

    if args.url:
        import httpx

        headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
        client = httpx.Client(base_url=args.url, headers=headers, timeout=300)

        def ask(q: str) -> dict:
            started = time.perf_counter()
            body = client.post("/v1/query", json={"question": q}).raise_for_status().json()
            body["timings"]["client_ms"] = (time.perf_counter() - started) * 1000
            return body
    else:
        from rag.config import Settings
        from rag.models.embedder import SentenceEmbedder
        from service import build

        tmp = tempfile.mkdtemp(prefix="rag-bench-")
        services = build(Settings(data_dir=Path(tmp), cache_dir=ROOT / "var" / "cache"))
        services.ingest_paths([args.corpus])
        assert services.pipeline is not None
        pipeline = services.pipeline
        embedder = services.embedder
        assert isinstance(embedder, SentenceEmbedder)
        selector = pipeline.evidence
        stored = selector.stored

        def ask(q: str) -> dict:
            return pipeline.answer(q).model_dump()

        def first_sight(q: str, from_store: bool) -> dict:
            embedder.clear_cache()  # the next ask embeds what it needs afresh
            selector.stored = stored if from_store else None
            try:
                return ask(q)
            finally:
                selector.stored = stored

    rows: list[dict] = []
    firsts: dict[str, list[dict]] = {"first": [], "first, stored": [], "first, embedded": []}
    same, score_gaps = 0, []
    for n, q in enumerate(questions):
        if args.url:
            firsts["first"].append(ask(q)["timings"])
        else:
            order = [True, False] if n % 2 == 0 else [False, True]
            bodies = {mode: first_sight(q, mode) for mode in order}
            firsts["first, stored"].append(bodies[True]["timings"])
            firsts["first, embedded"].append(bodies[False]["timings"])
            quotes = [[(c["quote_start"], c["score"]) for c in bodies[mode]["citations"]] for mode in (True, False)]
            same += [s for s, _ in quotes[0]] == [s for s, _ in quotes[1]]
            score_gaps += [abs(a[1] - b[1]) for a, b in zip(*quotes, strict=False)]
        for _ in range(args.repeat):
            body = ask(q)
            rows.append({"question": q, **body["timings"], "answer_type": body["answer_type"]})
        print(f"{body['answer_type']:<10} {body['timings']['total_ms']:8.1f} ms  {q} -> {body['answer'][:90]!r}")

    stages = ["embed_ms", "retrieve_ms", "evidence_ms", "answerability_ms", "first_token_ms", "generate_ms", "total_ms"]
    if args.url:
        stages.append("client_ms")
    print(f"\n{len(rows)} queries over {len(questions)} questions ({'HTTP ' + args.url if args.url else 'in-process'})")
    print(f"{'stage':<16}{'p50 ms':>10}{'p95 ms':>10}")
    for stage in stages:
        values = [r[stage] for r in rows if r.get(stage) is not None]
        print(f"{stage:<16}{statistics.median(values):>10.1f}{percentile(values, 0.95):>10.1f}")
    medians: dict[str, float] = {}
    for mode, timings in firsts.items():
        for stage in ("evidence_ms", "first_token_ms", "total_ms") if timings else ():
            values = [r[stage] for r in timings if r.get(stage) is not None]
            label = f"{stage} ({mode})"
            medians[label] = statistics.median(values)
            print(f"{label:<32}{statistics.median(values):>10.1f}{percentile(values, 0.95):>10.1f}")
    if not args.url:
        evidence, total = (
            medians[f"{stage} (first, embedded)"] / max(medians[f"{stage} (first, stored)"], 1e-9)
            for stage in ("evidence_ms", "total_ms")
        )
        print(f"first sight p50, embedded / stored: evidence {evidence:.1f}x, total {total:.2f}x")
        print(
            f"same evidence stored and embedded: {same} of {len(questions)} questions; largest score gap "
            f"{max(score_gaps, default=0.0):.2g}"
        )
    tokens = [r["generated_tokens"] / (r["generate_ms"] / 1000) for r in rows if r["generate_ms"]]
    print(f"{'decode tok/s':<16}{statistics.median(tokens):>10.1f}")
    types = ("generated", "extractive", "abstained", "no_documents")
    kinds = {k: sum(r["answer_type"] == k for r in rows) for k in types}
    print("answer types:", kinds)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
