"""The load test's driver and checks (bench/load.py) against the fake-model service on loopback: a correct
service passes, and a service that loses, invents or alters documents, or whose memory grows, is caught. The
real load test is tests/integration/test_load.py."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from api.app import create_app
from bench.common import free_port
from bench.load import Client, Doc, Ledger, LoadConfig, _verify, memory_figures, report, run_load
from tests.fakes import fake_services


@contextmanager
def serve(services) -> Iterator[str]:
    """The app on a real loopback port, as ``rag serve`` runs it, in a thread of this process."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(services.settings, services), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.parametrize("registry", ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def test_a_correct_service_passes(registry, request, tmp_path):
    """Also on a PostgreSQL registry: the same concurrent writers, through the registry's other dialect."""
    url = request.getfixturevalue("postgres").new_database() if registry == "postgresql" else ""
    services = fake_services(tmp_path / "data", registry_url=url)
    cfg = LoadConfig(duration_s=6, live=10, pinned=3, memory_tolerance=1.0)  # memory is the test process's own
    with serve(services) as url:
        result = run_load(url, {}, os.getpid(), cfg)
    print(report(result))
    assert result["problems"] == []
    ops = result["ops"]
    assert ops["outcome created"] >= 10 and ops["outcome updated"] >= 1 and result["deleted"] >= 1
    assert ops["query"] >= 3 and ops["retrieve"] >= 1 and ops["delete (unknown id)"] >= 1
    assert result["server_errors"] == 0 and result["final"]["documents"] == result["created"] - result["deleted"]


def _upload(http: httpx.Client, name: str, text: str) -> Doc:
    body = http.post("/v1/documents", files={"file": (name, text.encode(), "text/plain")}).json()
    return Doc(body["id"], name, "w", body["content_hash"], pinned=False)


def test_lost_extra_and_altered_documents_are_reported(services):
    with serve(services) as url, httpx.Client(base_url=url) as http:
        ledger = Ledger()
        kept, lost, altered = (_upload(http, f"{n}.txt", f"Document {n} says {n * 7}.") for n in range(3))
        ledger.live = {d.id: d for d in (kept, lost, altered)}
        services.indexer.delete(lost.id)  # behind the clients' backs
        extra = _upload(http, "extra.txt", "Nobody in the ledger uploaded this.")
        altered.sha256 = "0" * 64
        final = _verify(Client(url, {}, ledger), ledger)
    problems = "\n".join(ledger.problems)
    assert f"lost documents (uploaded, never deleted, not listed): ['{lost.id}']" in problems
    assert f"documents listed that the clients deleted or never made: ['{extra.id}']" in problems
    assert f"{altered.name}: listed as" in problems
    assert final["documents"] == 3 and len(ledger.problems) == 3


def test_memory_is_flat_only_within_the_tolerance():
    steady = [(float(t), 1000.0 + (t % 7)) for t in range(300)]
    figures = memory_figures(steady, 300, 0.10)
    assert figures["flat"] and figures["warmup_s"] == 60 and figures["window_s"] == 60
    assert abs(figures["slope_mb_per_min"]) < 1
    leaking = [(float(t), 1000.0 + 2 * t) for t in range(300)]  # 120 MiB a minute
    figures = memory_figures(leaking, 300, 0.10)
    assert not figures["flat"] and figures["growth_pct"] > 10 and 119 < figures["slope_mb_per_min"] < 121
