"""Load test: concurrent uploads, deletes and queries against one real ``rag serve`` for minutes, then checks.

    .venv/bin/python -m bench load --minutes 5                  # SQLite registry, embedded Chroma (the defaults)
    .venv/bin/python -m bench load --minutes 3 --registry-url postgresql://postgres@127.0.0.1:5432/rag

Loopback only and bounded both in time (``--minutes``) and in count (``--max-uploads``). Clients are threads,
each with its own HTTP connection:

- uploaders add documents, each with a made-up word (``Kavorelu``) and a locker code no other document has,
  until ``--live`` documents exist; then they re-upload one of theirs with a new code (a new version) or with
  the same bytes (``unchanged``). One upload in six goes through a background job (``?background=true``);
- a deleter removes documents while more than half of ``--live`` exist (so the live set stays bounded), and
  now and then asks to delete an id that never existed (404 expected);
- queriers ask which locker belongs to a word's depot (``/v1/query``, the real model), one time in four only
  ``/v1/retrieve``.

Every client keeps a ledger of what it knows: which documents it created, the SHA-256 of the bytes it last
sent for each, which it deleted and when the delete was answered. At the end, with all clients stopped:

- no 5xx and no transport error; every 4xx was one the client asked for (the 404 of an unknown id);
- ``GET /v1/documents`` (all pages) holds exactly the ledger's live documents: same ids, each source name once,
  each content hash the one last uploaded; every document's chunks are there (``chunk_count`` of them), and the
  store holds no other chunks (``/healthz`` chunks = the sum of ``chunk_count``);
- every query got 200; no citation or retrieved chunk names a document whose delete had been answered before
  the query was sent; a query about a document nobody may delete (the first ``--pinned``) got citations;
- memory is flat: the server's resident set (psutil, every second) in the last window after warm-up peaks at
  most ``--memory-tolerance`` (10 %) above its peak in the first window after warm-up. Warm-up is the first
  fifth of the run (at most 60 s), a window is a third of what remains (at most 60 s).

The figures are printed and written to var/bench/load.json. tests/integration/test_load.py runs the same code
for 150 s inside the test suite (``LOAD_SECONDS`` changes that).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.common import ROOT, free_port, summary, table, write_result

FILLER = [
    "The notes are kept for the night shift and checked each morning by the duty officer.",
    "Deliveries arrive through the north gate between six and nine in the morning.",
    "Questions about these notes go to the operations desk on the second floor.",
    "Each depot keeps a paper copy of this page in the binder by the door.",
    "Visitors sign the logbook and wear a badge while they are on the premises.",
    "The heating in the storage hall is switched off during the summer months.",
]


@dataclass
class LoadConfig:
    duration_s: float = 150.0
    uploaders: int = 2
    deleters: int = 1
    queriers: int = 2
    live: int = 40  # uploaders add documents up to this many; the deleter removes while more than half exist
    pinned: int = 6  # the first documents, never deleted: queries about them must find them
    max_uploads: int = 3000  # the count bound, whatever the time
    memory_tolerance: float = 0.10
    seed: int = 7


@dataclass
class Doc:
    id: str
    name: str
    word: str
    sha256: str
    pinned: bool
    busy: bool = False  # a request about it is in flight; nobody else picks it meanwhile


@dataclass
class Ledger:
    """What the clients know they did; the server's final state must match it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    live: dict[str, Doc] = field(default_factory=dict)
    deleted_at: dict[str, float] = field(default_factory=dict)  # id -> when its delete was answered
    ever: set[str] = field(default_factory=set)
    sent: dict[str, bytes] = field(default_factory=dict)  # the bytes last uploaded per document
    cited: list[tuple[str, float]] = field(default_factory=list)  # (document id, when the query was sent)
    ops: Counter = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    server_errors: int = 0
    queries_expected_cited: Counter = field(default_factory=Counter)
    uploads: int = 0

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    def timed(self, kind: str, ms: float) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(ms)
            self.ops[kind] += 1


def _word(rng: random.Random) -> str:
    syllables = [rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(4)]
    return "".join(syllables).capitalize()


def _content(rng: random.Random, name: str, word: str) -> bytes:
    code = rng.randrange(1000, 9999)
    paragraphs = [f"# Depot {word}\n", f"The depot called {word} keeps its spare keys in locker {code}."]
    paragraphs += rng.sample(FILLER, 3) * (8 if rng.random() < 0.25 else 1)  # some documents span several chunks
    return ("\n\n".join(paragraphs) + f"\n\n(file {name})\n").encode()


def _question(word: str) -> str:
    return f"Which locker holds the spare keys of the depot called {word}?"


class Client:
    """One thread's HTTP connection; every answer is checked for 5xx and unexpected 4xx on the way."""

    def __init__(self, url: str, headers: dict[str, str], ledger: Ledger) -> None:
        self.http = httpx.Client(base_url=url, headers=headers, timeout=300)
        self.ledger = ledger

    def call(self, kind: str, method: str, path: str, expect: tuple[int, ...], **kwargs) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.ledger.problem(f"{kind}: {method} {path}: {type(exc).__name__}: {exc}")
            return None
        self.ledger.timed(kind, (time.perf_counter() - started) * 1000)
        if response.status_code >= 500:
            with self.ledger.lock:
                self.ledger.server_errors += 1
        if response.status_code not in expect:
            self.ledger.problem(f"{kind}: {method} {path}: {response.status_code} {response.text[:300]}")
            return None
        return response

    def close(self) -> None:
        self.http.close()


def _uploader(n: int, client: Client, ledger: Ledger, cfg: LoadConfig, stop: threading.Event) -> None:
    rng = random.Random(cfg.seed * 1000 + n)
    made = 0
    while not stop.is_set():
        with ledger.lock:
            if ledger.uploads >= cfg.max_uploads:
                return
            ledger.uploads += 1
            mine = [d for d in ledger.live.values() if d.name.startswith(f"u{n}-") and not d.busy]
            doc = rng.choice(mine) if mine and len(ledger.live) >= cfg.live else None
            if doc is None:  # a new document
                name, word, same = f"u{n}-{made:05d}.md", _word(rng), False
                made += 1
            else:  # a new version of one of this client's documents, or the same bytes again
                doc.busy = True
                name, word, same = doc.name, doc.word, rng.random() < 0.3
            data = ledger.sent[doc.id] if same and doc else _content(rng, name, word)
        background = rng.random() < 1 / 6
        response = client.call(
            "upload (job)" if background else "upload",
            "POST",
            "/v1/documents",
            (201, 200, 202),
            files={"file": (name, data, "text/markdown")},
            params={"background": "true"} if background else None,
        )
        result = _finish_upload(client, response) if response is not None else None
        with ledger.lock:
            if doc is not None:
                doc.busy = False
            if result is None:
                continue
            doc_id, outcome = result
            ledger.ops[f"outcome {outcome}"] += 1
            expected = "created" if doc is None else ("unchanged" if same else "updated")
            if outcome != expected or (doc is not None and doc_id != doc.id):
                ledger.problems.append(f"upload {name}: {outcome} as {doc_id}, expected {expected} of {doc}")
            sha = hashlib.sha256(data).hexdigest()
            if doc is None:
                ledger.live[doc_id] = Doc(doc_id, name, word, sha, pinned=len(ledger.ever) < cfg.pinned)
                ledger.ever.add(doc_id)
            else:
                doc.sha256 = sha
            ledger.sent[doc_id] = data
        time.sleep(0.05)


def _finish_upload(client: Client, response: httpx.Response) -> tuple[str, str] | None:
    """(document id, outcome) of an upload, following a background job to its end."""
    body = response.json()
    if response.status_code != 202:
        return body["id"], body["outcome"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = client.call("job poll", "GET", f"/v1/jobs/{body['id']}", (200,))
        if job is None:
            return None
        job = job.json()
        if job["status"] == "succeeded":
            counts = job["counts"]
            outcome = next((k for k in ("created", "updated", "unchanged") if counts.get(k)), "?")
            return job["document_id"], outcome
        if job["status"] == "failed":
            client.ledger.problem(f"upload job {job['id']} failed: {job['errors']}")
            return None
        time.sleep(0.2)
    client.ledger.problem(f"upload job {body['id']} did not finish")
    return None


def _deleter(n: int, client: Client, ledger: Ledger, cfg: LoadConfig, stop: threading.Event) -> None:
    rng = random.Random(cfg.seed * 2000 + n)
    while not stop.is_set():
        if rng.random() < 0.1:
            client.call("delete (unknown id)", "DELETE", f"/v1/documents/{uuid.uuid4().hex}", (404,))
            continue
        with ledger.lock:
            candidates = [d for d in ledger.live.values() if not d.pinned and not d.busy]
            doc = rng.choice(candidates) if len(ledger.live) > cfg.live // 2 and candidates else None
            if doc is not None:
                doc.busy = True
        if doc is None:
            time.sleep(0.2)
            continue
        response = client.call("delete", "DELETE", f"/v1/documents/{doc.id}", (204,))
        with ledger.lock:
            doc.busy = False
            if response is not None:
                del ledger.live[doc.id]
                ledger.deleted_at[doc.id] = time.monotonic()
        time.sleep(0.1)


def _querier(n: int, client: Client, ledger: Ledger, cfg: LoadConfig, stop: threading.Event) -> None:
    rng = random.Random(cfg.seed * 3000 + n)
    while not stop.is_set():
        with ledger.lock:
            pinned = [d for d in ledger.live.values() if d.pinned]
            others = list(ledger.live.values())
        pool = pinned if pinned and rng.random() < 0.5 else others
        if not pool:
            time.sleep(0.2)
            continue
        doc = rng.choice(pool)
        sent = time.monotonic()
        if rng.random() < 0.25:
            response = client.call("retrieve", "POST", "/v1/retrieve", (200,), json={"question": _question(doc.word)})
            cited = [c["document_id"] for c in response.json()["chunks"]] if response is not None else []
        else:
            response = client.call("query", "POST", "/v1/query", (200,), json={"question": _question(doc.word)})
            cited = [c["document_id"] for c in response.json()["citations"]] if response is not None else []
            if response is not None:
                with ledger.lock:
                    ledger.ops[f"answer {response.json()['answer_type']}"] += 1
                    ledger.queries_expected_cited["cited" if doc.id in cited else "not cited"] += 1
                if doc.pinned and not cited:
                    ledger.problem(f"query about pinned {doc.name} ({doc.word}): no citations: {response.text[:300]}")
        with ledger.lock:  # checked at the end: an upload may be answered after a query already cites it
            ledger.cited.extend((doc_id, sent) for doc_id in cited)


def _check_citations(ledger: Ledger) -> None:
    """Every cited or retrieved document was uploaded by a client and not yet deleted when the query was sent."""
    for doc_id, sent in ledger.cited:
        gone = ledger.deleted_at.get(doc_id)
        if doc_id not in ledger.ever:
            ledger.problems.append(f"a citation names {doc_id}, which no client uploaded")
        elif gone is not None and gone < sent:
            ledger.problems.append(f"a citation names {doc_id}, deleted {sent - gone:.1f}s before the query")


def _sample_memory(pid: int, samples: list[tuple[float, float]], stop: threading.Event, started: float) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        try:
            samples.append((time.monotonic() - started, process.memory_info().rss / 2**20))
        except psutil.Error:
            return
        stop.wait(1.0)


def memory_figures(samples: list[tuple[float, float]], duration_s: float, tolerance: float) -> dict[str, Any]:
    """Is memory flat? Peak of the last window after warm-up against the peak of the first."""
    warmup = min(60.0, duration_s / 5)
    window = min(60.0, (duration_s - warmup) / 3)
    after = [(t, m) for t, m in samples if t >= warmup]
    first = [m for t, m in after if t < warmup + window]
    last = [m for t, m in after if t >= duration_s - window]
    if not first or not last:
        return {"flat": False, "reason": "too few memory samples", "samples": len(samples)}
    slope = 0.0
    if len(after) > 2:
        ts, ms = [t for t, _ in after], [m for _, m in after]
        mt, mm = sum(ts) / len(ts), sum(ms) / len(ms)
        var = sum((t - mt) ** 2 for t in ts)
        slope = sum((t - mt) * (m - mm) for t, m in after) / var * 60 if var else 0.0
    growth = max(last) / max(first) - 1
    return {
        "warmup_s": round(warmup, 1),
        "window_s": round(window, 1),
        "rss_start_mb": round(samples[0][1], 1),
        "rss_first_window_max_mb": round(max(first), 1),
        "rss_last_window_max_mb": round(max(last), 1),
        "rss_max_mb": round(max(m for _, m in samples), 1),
        "growth_pct": round(growth * 100, 2),
        "slope_mb_per_min": round(slope, 2),
        "tolerance_pct": tolerance * 100,
        "flat": growth <= tolerance,
        "samples": len(samples),
    }


def _verify(client: Client, ledger: Ledger) -> dict[str, Any]:
    """The server's documents against the ledger, with all clients stopped."""
    listed: list[dict] = []
    while True:
        page = client.call("verify", "GET", "/v1/documents", (200,), params={"limit": 1000, "offset": len(listed)})
        if page is None:
            return {}
        docs = page.json()["documents"]
        listed += docs
        if len(docs) < 1000:
            break
    problems = ledger.problems
    by_id = {d["id"]: d for d in listed}
    names = Counter(d["source"] for d in listed)
    if len(by_id) != len(listed) or any(count > 1 for count in names.values()):
        problems.append(f"duplicated documents: {[n for n, c in names.items() if c > 1]}")
    missing = set(ledger.live) - set(by_id)
    extra = set(by_id) - set(ledger.live)
    if missing:
        problems.append(f"lost documents (uploaded, never deleted, not listed): {sorted(missing)[:10]}")
    if extra:
        problems.append(f"documents listed that the clients deleted or never made: {sorted(extra)[:10]}")
    for doc_id, doc in ledger.live.items():
        row = by_id.get(doc_id)
        if row and (row["content_hash"] != doc.sha256 or row["source"] != doc.name or row["status"] != "ready"):
            problems.append(
                f"{doc.name}: listed as {row['content_hash'][:12]} {row['status']}, last sent {doc.sha256[:12]}"
            )
    chunk_total = 0
    for doc_id in by_id:
        detail = client.call("verify", "GET", f"/v1/documents/{doc_id}", (200,), params={"include_chunks": "true"})
        if detail is None:
            continue
        detail = detail.json()
        chunk_total += detail["chunk_count"]
        if not detail["chunks"] or len(detail["chunks"]) != detail["chunk_count"]:
            problems.append(f"{doc_id}: {len(detail['chunks'])} chunks found, chunk_count {detail['chunk_count']}")
    health = client.call("verify", "GET", "/healthz", (200,))
    if health is not None:
        health = health.json()
        if health["documents"] != len(ledger.live) or health["chunks"] != chunk_total:
            problems.append(
                f"/healthz counts {health['documents']} documents and {health['chunks']} chunks; "
                f"expected {len(ledger.live)} and {chunk_total}"
            )
    return {"documents": len(listed), "chunks": chunk_total}


def run_load(url: str, headers: dict[str, str], pid: int, cfg: LoadConfig) -> dict[str, Any]:
    """Drive the server at ``url`` (process ``pid``) for ``cfg.duration_s``; figures and a list of problems."""
    ledger, stop, mem_stop = Ledger(), threading.Event(), threading.Event()
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    sampler = threading.Thread(target=_sample_memory, args=(pid, samples, mem_stop, started), daemon=True)
    sampler.start()
    roles = [(_uploader, cfg.uploaders), (_deleter, cfg.deleters), (_querier, cfg.queriers)]
    clients, threads = [], []
    for role, count in roles:
        for n in range(count):
            client = Client(url, headers, ledger)
            clients.append(client)
            threads.append(threading.Thread(target=role, args=(n, client, ledger, cfg, stop), name=role.__name__))
    for t in threads:
        t.start()
    stop.wait(cfg.duration_s)
    stop.set()
    for t in threads:
        t.join(timeout=600)
    elapsed = time.monotonic() - started
    mem_stop.set()
    sampler.join(timeout=5)
    memory = memory_figures(samples, cfg.duration_s, cfg.memory_tolerance)
    _check_citations(ledger)
    checker = Client(url, headers, ledger)
    final = _verify(checker, ledger)
    for client in [*clients, checker]:
        client.close()
    if not memory.get("flat"):
        ledger.problems.append(f"memory not flat: {memory}")
    hits = ledger.queries_expected_cited
    return {
        "config": cfg.__dict__,
        "elapsed_s": round(elapsed, 1),
        "ops": dict(sorted(ledger.ops.items())),
        "requests_per_s": round(sum(len(v) for k, v in ledger.latencies.items() if k != "verify") / elapsed, 2),
        "latency_ms": {kind: summary(values) for kind, values in sorted(ledger.latencies.items())},
        "server_errors": ledger.server_errors,
        "deleted": len(ledger.deleted_at),
        "created": len(ledger.ever),
        "final": final,
        "citations_checked": len(ledger.cited),
        "queries_citing_the_asked_document": round(hits["cited"] / max(1, sum(hits.values())), 3),
        "memory": memory,
        "problems": ledger.problems,
    }


def report(result: dict[str, Any]) -> str:
    rows = [(kind, s.get("n", 0), s.get("p50", "-"), s.get("p95", "-")) for kind, s in result["latency_ms"].items()]
    mem = result["memory"]
    lines = [
        table(["request", "n", "p50 ms", "p95 ms"], rows),
        "",
        f"{result['elapsed_s']} s, {result['requests_per_s']} requests/s; {result['created']} documents created, "
        f"{result['deleted']} deleted, {result['final'].get('documents')} at the end "
        f"({result['final'].get('chunks')} chunks); 5xx: {result['server_errors']}",
        f"outcomes and answers: {result['ops']}",
        f"queries citing the document asked about: {result['queries_citing_the_asked_document']:.1%}",
        f"memory (RSS, MiB): start {mem.get('rss_start_mb')}, first window max {mem.get('rss_first_window_max_mb')}, "
        f"last window max {mem.get('rss_last_window_max_mb')} ({mem.get('growth_pct')} %, tolerance "
        f"{mem.get('tolerance_pct')} %), slope {mem.get('slope_mb_per_min')} MiB/min, flat: {mem.get('flat')}",
        f"problems: {len(result['problems'])}",
        *(f"  - {p}" for p in result["problems"][:20]),
    ]
    return "\n".join(lines)


def admin_headers(data_dir: Path) -> dict[str, str]:
    """The admin key the service wrote on first start, when it asks for keys."""
    key_file = data_dir / "admin-key"
    return {"Authorization": f"Bearer {key_file.read_text().strip()}"} if key_file.exists() else {}


def add_arguments(p: argparse.ArgumentParser) -> None:
    defaults = LoadConfig()
    p.add_argument("--minutes", type=float, default=5.0, help="how long the clients run")
    p.add_argument("--uploaders", type=int, default=defaults.uploaders)
    p.add_argument("--deleters", type=int, default=defaults.deleters)
    p.add_argument("--queriers", type=int, default=defaults.queriers)
    p.add_argument("--live", type=int, default=defaults.live, help="documents kept alive (bounded)")
    p.add_argument("--max-uploads", type=int, default=defaults.max_uploads)
    p.add_argument("--memory-tolerance", type=float, default=defaults.memory_tolerance)
    p.add_argument("--registry-url", help="RAG_REGISTRY_URL for the server (default: SQLite in its data directory)")
    p.add_argument("--chroma-url", help="RAG_CHROMA_URL for the server (default: embedded Chroma)")
    p.add_argument("--out", type=Path, help="JSON result file (default var/bench/load.json)")


def main(args: argparse.Namespace) -> None:
    cfg = LoadConfig(
        duration_s=args.minutes * 60,
        uploaders=args.uploaders,
        deleters=args.deleters,
        queriers=args.queriers,
        live=args.live,
        max_uploads=args.max_uploads,
        memory_tolerance=args.memory_tolerance,
    )
    data_dir = Path(tempfile.mkdtemp(prefix="rag-bench-load-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(data_dir), RAG_CACHE_DIR=str(ROOT / "var" / "cache"), RAG_PORT=str(port))
    if args.registry_url:
        env["RAG_REGISTRY_URL"] = args.registry_url
    if args.chroma_url:
        env["RAG_CHROMA_URL"] = args.chroma_url
    log = (data_dir / "server.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "rag"), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{(data_dir / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        print(f"server ready on {url} (pid {server.pid}); running {args.minutes} min ...", flush=True)
        result = run_load(url, admin_headers(data_dir), server.pid, cfg)
        result["registry"] = "postgresql" if args.registry_url else "sqlite"
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    print(report(result))
    print(f"written to {write_result('load', result, args.out)}")
    if result["problems"]:
        print(f"the server's log and data are kept in {data_dir}")
        raise SystemExit(1)
    shutil.rmtree(data_dir, ignore_errors=True)
