"""The service over HTTP on loopback: query latency with 1, 2, 4, 8 concurrent clients, and its memory.

    .venv/bin/python -m bench service                       # batching on and off (off is the default), side by side
    .venv/bin/python -m bench service --variants batching --levels 1,4
    .venv/bin/python -m bench memory                        # peak memory of the service process only

Each variant is a real ``rag serve`` process on a free loopback port with a fresh data directory holding the
sample corpus (data/, indexed before serving). Clients are threads with their own HTTP connection; each asks
the questions of bench/questions.txt in turn (``top_k`` 5, the default 64 new tokens), after one warm-up pass.
Per level: client-side latency p50/p95, queries/s over the wall time, the server's own stage timings, and the
throughput gain over one client. Then one streamed pass with a single client: time to the first ``delta``
event (the first token a user sees, retrieval and evidence included).

Memory: the server's resident set is sampled every 100 ms; reported at ready (models loaded, corpus indexed)
and as the peak under load, plus the kernel's high-water mark (VmHWM) over the whole life of the process.

Variants: ``serial`` is the service as shipped (the LLM serves one request at a time, ``max_batch=1``);
``batching`` is the same service with continuous batching (up to 8 requests decoded together).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import ROOT, free_port, rss_mb, summary, table, write_result

VARIANTS = {"batching": 8, "serial": 1}


class Server:
    """A ``rag serve`` subprocess with its own data directory, and a sampler of its memory."""

    def __init__(self, max_batch: int, corpus: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="rag-bench-service-"))
        env = {
            **os.environ,
            "RAG_DATA_DIR": str(self.data_dir),
            "RAG_CACHE_DIR": str(ROOT / "var" / "cache"),
            "RAG_PORT": str(self.port),
        }
        command = [sys.executable, "-m", "bench.service", "--serve", str(max_batch), "--corpus", str(corpus)]
        self.log = (self.data_dir / "server.log").open("w")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.samples: list[float] = []
        self.headers: dict[str, str] = {}
        self._stop = threading.Event()

    def wait_ready(self, timeout: float = 600) -> float:
        import httpx

        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {(self.data_dir / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    # As shipped, auth is on: the server wrote its first admin key before listening.
                    key_file = self.data_dir / "admin-key"
                    if key_file.exists():
                        self.headers = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
                    threading.Thread(target=self._sample, daemon=True).start()
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError("server did not become ready")

    def _sample(self) -> None:
        while not self._stop.is_set() and self.process.poll() is None:
            try:
                self.samples.append(rss_mb(self.process.pid)["rss_mb"])
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.1)

    def memory(self) -> dict[str, float]:
        return rss_mb(self.process.pid)

    def stop(self) -> None:
        self._stop.set()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _load(
    url: str, questions: list[str], clients: int, per_client: int, top_k: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """``clients`` threads, each asking ``per_client`` questions back to back; latencies and wall time."""
    import httpx

    barrier = threading.Barrier(clients)

    def client(n: int) -> list[dict[str, Any]]:
        rows = []
        with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
            barrier.wait()
            for i in range(per_client):
                question = questions[(n * per_client + i) % len(questions)]
                started = time.perf_counter()
                body = http.post("/v1/query", json={"question": question, "top_k": top_k}).raise_for_status().json()
                rows.append({"client_ms": (time.perf_counter() - started) * 1000, **body["timings"]})
        return rows

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        rows = [r for rs in pool.map(client, range(clients)) for r in rs]
    wall = time.perf_counter() - started
    return {"rows": rows, "wall_s": wall, "queries_per_s": len(rows) / wall}


def _first_delta(url: str, questions: list[str], top_k: int, headers: dict[str, str] | None = None) -> list[float]:
    """Time to the first streamed ``delta`` event, one client, each question once."""
    import httpx

    times = []
    with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
        for question in questions:
            started = time.perf_counter()
            body = {"question": question, "top_k": top_k, "stream": True}
            first = None
            with http.stream("POST", "/v1/query", json=body) as response:
                for line in response.iter_lines():  # read to the end: the answer and done events follow
                    if first is None and line.startswith("event: delta"):
                        first = (time.perf_counter() - started) * 1000
            if first is not None:
                times.append(first)
    return times


def measure(variant: str, levels: list[int], per_client: int, top_k: int, corpus: Path, stream: bool) -> dict:
    questions = [q.strip() for q in (ROOT / "bench" / "questions.txt").read_text().splitlines() if q.strip()]
    server = Server(VARIANTS[variant], corpus)
    try:
        ready_s = server.wait_ready()
        at_ready = server.memory()
        print(f"{variant}: ready in {ready_s:.0f}s, RSS {at_ready['rss_mb']:.0f} MB", flush=True)
        _load(server.url, questions, 1, len(questions), top_k, server.headers)  # warm-up: every question once
        out: dict[str, Any] = {"variant": variant, "max_batch": VARIANTS[variant], "levels": []}
        for level in levels:
            server.samples.clear()
            run = _load(server.url, questions, level, per_client, top_k, server.headers)
            rows = run["rows"]
            entry = {
                "clients": level,
                "queries": len(rows),
                "queries_per_s": round(run["queries_per_s"], 3),
                "client_ms": summary([r["client_ms"] for r in rows]),
                **{
                    stage: summary([r[stage] for r in rows if r.get(stage) is not None])
                    for stage in ("embed_ms", "retrieve_ms", "evidence_ms", "first_token_ms", "generate_ms")
                },
                "rss_peak_mb": max(server.samples, default=0.0),
            }
            out["levels"].append(entry)
            print(
                f"  {level} clients: {entry['queries_per_s']:.2f} queries/s, latency p50 "
                f"{entry['client_ms']['p50']:.0f} ms p95 {entry['client_ms']['p95']:.0f} ms",
                flush=True,
            )
        if stream:
            out["first_delta_ms"] = summary(_first_delta(server.url, questions, top_k, server.headers))
        base = out["levels"][0]["queries_per_s"]
        out["throughput_gain"] = {str(e["clients"]): round(e["queries_per_s"] / base, 2) for e in out["levels"]}
        out["memory"] = {
            "ready_rss_mb": at_ready["rss_mb"],
            "peak_rss_under_load_mb": max(e["rss_peak_mb"] for e in out["levels"]),
            "high_water_mark_mb": server.memory()["peak_rss_mb"],
        }
        return out
    finally:
        server.stop()


def run(args: argparse.Namespace, name: str = "service") -> dict[str, Any]:
    levels = [int(n) for n in args.levels.split(",")]
    results = [
        measure(v, levels, args.per_client, args.top_k, args.corpus, not args.no_stream)
        for v in args.variants.split(",")
    ]
    print()
    print(
        table(
            ["variant", "clients", "queries/s", "gain", "p50 ms", "p95 ms", "TTFT p50", "evidence p50", "peak RSS MB"],
            [
                [
                    r["variant"],
                    e["clients"],
                    e["queries_per_s"],
                    r["throughput_gain"][str(e["clients"])],
                    e["client_ms"]["p50"],
                    e["client_ms"]["p95"],
                    e["first_token_ms"].get("p50", "-"),
                    e["evidence_ms"].get("p50", "-"),
                    e["rss_peak_mb"],
                ]
                for r in results
                for e in r["levels"]
            ],
        )
    )
    for r in results:
        m = r["memory"]
        print(
            f"{r['variant']}: RSS at ready {m['ready_rss_mb']:.0f} MB, "
            f"peak under load {m['peak_rss_under_load_mb']:.0f} MB, high-water mark {m['high_water_mark_mb']:.0f} MB"
            + (f"; first streamed token p50 {r['first_delta_ms']['p50']:.0f} ms" if "first_delta_ms" in r else "")
        )
    if len(results) == 2:
        a, b = results
        for ea, eb in zip(a["levels"], b["levels"], strict=True):
            print(
                f"{ea['clients']} clients: {a['variant']}/{b['variant']} queries/s "
                f"{ea['queries_per_s'] / eb['queries_per_s']:.2f}x"
            )
    result = {"top_k": args.top_k, "per_client": args.per_client, "corpus": str(args.corpus), "variants": results}
    print("written to", write_result(name, result, args.out))
    return result


def serve(max_batch: int, corpus: Path) -> None:
    """The server process: the service as ``rag serve`` runs it, with the LLM's batch size set."""
    os.environ["RAG_LLM_MAX_BATCH"] = str(max_batch)
    from api.cli import main as cli

    sys.argv = ["rag", "serve", "--ingest", str(corpus)]
    cli()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variants", default="batching,serial", help="serial (the default service), batching, or both")
    parser.add_argument("--levels", default="1,2,4,8", help="concurrent clients")
    parser.add_argument("--per-client", type=int, default=6, help="questions each client asks per level")
    parser.add_argument("--top-k", type=int, default=5, help="chunks retrieved per question")
    parser.add_argument("--corpus", type=Path, default=ROOT / "data", help="indexed before serving")
    parser.add_argument("--no-stream", action="store_true", help="skip the streamed first-token pass")
    parser.add_argument("--out", type=Path, help="JSON result file (default var/bench/service.json)")


def main(args: argparse.Namespace) -> None:
    run(args)


if __name__ == "__main__":  # the server subprocess
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    known = parser.parse_args()
    serve(known.serve, known.corpus)
