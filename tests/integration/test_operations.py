"""Operations with the real server process: graceful shutdown on SIGTERM, readiness, metrics and JSON logs."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import LiveServer

pytestmark = pytest.mark.integration

DOC = (
    "# Zephyr Kitchen Notes\n\n"
    "The secret ingredient in the Zephyr Kitchen tomato soup is smoked paprika from the village of Zarnesti.\n\n"
    "The soup is served every Thursday, and the kitchen closes at 21:30.\n"
)


def test_sigterm_lets_a_streamed_answer_finish_then_exits_0(tmp_path: Path, model_cache: Path) -> None:
    server = LiveServer(tmp_path / "data", model_cache, tmp_path / "server.log", RAG_LOG_FORMAT="json")
    try:
        server.wait_ready()
        with server.client() as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
            up = client.post("/v1/documents", files={"file": ("zephyr.md", DOC.encode(), "text/markdown")})
            assert up.status_code == 201, up.text

            before: list[str] = []  # events read before SIGTERM
            after: list[str] = []
            body = {"question": "What is the secret ingredient in the tomato soup?", "stream": True}
            with client.stream("POST", "/v1/query", json=body, headers={"X-Request-ID": "drain-1"}) as response:
                assert response.status_code == 200
                signalled_at = None
                for line in response.iter_lines():
                    if not line.startswith("event: "):
                        continue
                    (after if signalled_at else before).append(line.removeprefix("event: "))
                    if signalled_at is None and before[-1] == "delta":
                        server.process.send_signal(signal.SIGTERM)  # mid-answer
                        signalled_at = time.monotonic()
            assert before == ["delta"], before
            # The request in flight finished: the verified answer and the timings came after the signal.
            assert after[-2:] == ["answer", "done"], after

        assert server.process.wait(timeout=60) == 0, server.log_path.read_text()[-3000:]
        with pytest.raises(httpx.TransportError):  # and it is gone
            httpx.get(f"{server.url}/healthz", timeout=2)
    finally:
        server.stop()

    records = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    assert records, "no JSON log lines"
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= set(record)
    streamed = [r for r in records if r["request_id"] == "drain-1"]
    access = [r for r in streamed if r["logger"] == "api.access"]
    assert len(access) == 1 and access[0]["status"] == 200 and access[0]["route"] == "/v1/query", streamed
    messages = [r["message"] for r in records]
    assert any("Application shutdown complete" in m for m in messages), messages[-10:]
    assert not any(r["level"] == "ERROR" for r in records), [r for r in records if r["level"] == "ERROR"]


def test_metrics_and_readiness_on_the_live_server(live_server: LiveServer) -> None:
    with live_server.client() as client:
        assert client.get("/readyz").json()["checks"] == {
            "embedder": "ok",
            "llm": "ok",
            "store": "ok",
            "registry": "ok",
        }
        client.post("/v1/documents", files={"file": ("zephyr.md", DOC.encode(), "text/markdown")})
        answer = client.post("/v1/query", json={"question": "When is the soup served?"}).json()
        text = client.get("/metrics").text
    assert 'rag_http_requests_total{method="POST",route="/v1/query",status="200"}' in text
    generated = next(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("rag_llm_generated_tokens_total")
    )
    assert generated >= answer["timings"]["generated_tokens"] > 0
