"""Operations surface over fake models: readiness, Prometheus metrics, request ids in logs, body limits."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.logs import JsonFormatter, RequestIdFilter
from tests.fakes import fake_services

FACT = b"Project Bluefin ships on 3 March. The launch owner is Dana Okafor.\n"


@pytest.fixture
def client(services):
    with TestClient(create_app(services.settings, services)) as c:
        yield c


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


# --- readiness --------------------------------------------------------------------------------------------


def test_readyz_ready(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["status"] == "ready"
    assert r.json()["checks"] == {"embedder": "ok", "llm": "ok", "store": "ok", "registry": "ok"}


def _broken(*_args, **_kwargs):
    raise ConnectionError("database is locked")


@pytest.mark.parametrize("component", ["store", "registry"])
def test_readyz_names_what_is_not_ready(client, services, monkeypatch, component):
    monkeypatch.setattr(getattr(services, component), "count", _broken)
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not ready"
    assert body["checks"][component] == "unreachable: ConnectionError: database is locked"
    assert all(state == "ok" for name, state in body["checks"].items() if name != component)
    assert component in body["detail"]


def test_readyz_without_llm(services):
    services.llm = services.pipeline = None
    with TestClient(create_app(services.settings, services)) as c:
        r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["llm"] == "not loaded in this process"


# --- metrics ----------------------------------------------------------------------------------------------


def test_metrics_move_after_upload_and_query(client):
    before = scrape(client)
    up = client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    assert up.status_code == 201
    again = client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    assert again.status_code == 200
    bad = client.post("/v1/documents", files={"file": ("empty.txt", b"", "text/plain")})
    assert bad.status_code == 422
    q = client.post("/v1/query", json={"question": "When does Project Bluefin ship?"})
    assert q.status_code == 200 and q.json()["answer_type"] == "generated"
    assert client.get(f"/v1/documents/{up.json()['id']}").status_code == 200
    assert client.get("/v1/documents/nope").status_code == 404
    after = scrape(client)

    requests = "rag_http_requests_total"
    assert moved(before, after, requests, method="POST", route="/v1/documents", status="201") == 1
    assert moved(before, after, requests, method="POST", route="/v1/documents", status="422") == 1
    assert moved(before, after, requests, method="POST", route="/v1/query", status="200") == 1
    # the route template, not the raw path: one series for every document id
    assert moved(before, after, requests, method="GET", route="/v1/documents/{document_id}", status="200") == 1
    assert moved(before, after, requests, method="GET", route="/v1/documents/{document_id}", status="404") == 1
    assert not any("nope" in str(labels) for _, labels in after)
    assert moved(before, after, "rag_http_request_duration_seconds_count", method="POST", route="/v1/query") == 1
    assert moved(before, after, "rag_http_request_duration_seconds_sum", method="POST", route="/v1/query") > 0

    assert moved(before, after, "rag_llm_generated_tokens_total") == q.json()["timings"]["generated_tokens"] > 0
    assert moved(before, after, "rag_llm_prompt_tokens_total") == q.json()["timings"]["prompt_tokens"] > 0

    assert moved(before, after, "rag_documents_ingested_total", outcome="created") == 1
    assert moved(before, after, "rag_documents_ingested_total", outcome="unchanged") == 1
    assert moved(before, after, "rag_documents_ingested_total", outcome="failed") == 1
    assert moved(before, after, "rag_chunks_written_total") == up.json()["chunk_count"]
    assert moved(before, after, "rag_ingest_duration_seconds_count", mode="single") == 3


def test_metrics_count_jobs_and_streamed_tokens(client, services):
    before = scrape(client)
    r = client.post("/v1/documents", params={"background": True}, files={"file": ("bluefin.txt", FACT)})
    assert r.status_code == 202
    deadline = time.monotonic() + 30
    while client.get(f"/v1/jobs/{r.json()['id']}").json()["status"] != "succeeded":
        assert time.monotonic() < deadline, "the upload job did not finish"
        time.sleep(0.05)
    with client.stream("POST", "/v1/query", json={"question": "When does Project Bluefin ship?", "stream": True}) as s:
        events = "".join(s.iter_text())
    assert "event: done" in events
    deadline = time.monotonic() + 5  # the job's metrics are recorded just after its status is
    while moved(before, scrape(client), "rag_jobs_finished_total", kind="upload", status="succeeded") != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    after = scrape(client)
    assert moved(before, after, "rag_job_duration_seconds_count", kind="upload") == 1
    assert moved(before, after, "rag_llm_generated_tokens_total") > 0


def test_metrics_count_refresh_jobs(tmp_path):
    services = fake_services(tmp_path / "data", scheduler=False)  # the job runs here, not in a scheduler thread
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.md").write_bytes(FACT)
    (folder / "b.md").write_bytes(b"")  # fails: empty
    with TestClient(create_app(services.settings, services)) as client:
        before = scrape(client)
        _, job = services.sources.add(str(folder), None, None, None, refresh=True)
        assert job is not None
        done = services.jobs.run_refresh(job)
        assert done is not None and done.status.value == "succeeded"
        after = scrape(client)
    assert moved(before, after, "rag_jobs_finished_total", kind="refresh", status="succeeded") == 1
    assert moved(before, after, "rag_ingest_duration_seconds_count", mode="many") == 1
    assert moved(before, after, "rag_documents_ingested_total", outcome="created") == 1
    assert moved(before, after, "rag_documents_ingested_total", outcome="failed") == 1


# --- request ids and JSON logs ----------------------------------------------------------------------------


@pytest.fixture
def json_log():
    """The root logger also writes JSON lines (as `rag serve` with RAG_LOG_FORMAT=json) into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_request_log_lines_carry_the_request_id(client, json_log):
    r = client.post(
        "/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")}, headers={"X-Request-ID": "req-42"}
    )
    assert r.status_code == 201 and r.headers["X-Request-ID"] == "req-42"
    lines = [line for line in json_log() if line["request_id"] == "req-42"]
    loggers = {line["logger"] for line in lines}
    assert "ingest.indexer" in loggers  # logged from the endpoint's worker thread
    access = next(line for line in lines if line["logger"] == "api.access")
    assert access["route"] == "/v1/documents" and access["status"] == 201 and access["duration_ms"] > 0
    for line in lines:
        assert set(line) >= {"time", "level", "logger", "message", "request_id"}
        assert line["time"].endswith("+00:00")


def test_request_id_is_made_when_missing_or_unfit(client, json_log):
    made = client.get("/v1/documents").headers["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/v1/documents").headers["X-Request-ID"]
    forged = client.get("/v1/documents", headers={"X-Request-ID": "a b\tfake line"}).headers["X-Request-ID"]
    assert forged != "a b\tfake line" and len(forged) == 32
    ids = {line["request_id"] for line in json_log() if line["logger"] == "api.access"}
    assert made in ids and forged in ids


def test_unhandled_error_is_json_500_with_the_request_id(client, services, monkeypatch, json_log):
    monkeypatch.setattr(services.registry, "list", _broken)
    r = client.get("/v1/documents", headers={"X-Request-ID": "boom-1"})
    assert r.status_code == 500 and "boom-1" in r.json()["detail"] and r.headers["X-Request-ID"] == "boom-1"
    error = next(line for line in json_log() if line["level"] == "ERROR")
    assert error["request_id"] == "boom-1" and "ConnectionError" in error["exception"]


def test_json_formatter_outside_a_request():
    record = logging.LogRecord("rag.test", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello world" and line["level"] == "WARNING" and line["request_id"] is None


# --- body size limits -------------------------------------------------------------------------------------


@pytest.fixture
def small_limits(tmp_path):
    services = fake_services(tmp_path / "small", max_request_bytes=2048, max_upload_bytes=1024)
    with TestClient(create_app(services.settings, services)) as c:
        yield c, services


def test_json_body_over_limit_is_413_before_reading(small_limits):
    client, _ = small_limits
    r = client.post("/v1/query", json={"question": "x" * 3000})
    assert r.status_code == 413
    assert "2048 bytes" in r.json()["detail"] and "RAG_MAX_REQUEST_BYTES" in r.json()["detail"]
    assert client.post("/v1/query", json={"question": "small enough"}).status_code == 200


def test_chunked_body_over_limit_is_cut_off(small_limits):
    client, _ = small_limits
    sent = 0

    def body():
        nonlocal sent
        for _ in range(1000):  # would be 1 MB; the server stops reading after the limit
            sent += 1000
            yield b"x" * 1000

    r = client.post("/v1/query", content=body(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "RAG_MAX_REQUEST_BYTES" in r.json()["detail"]
    assert "content-length" not in {k.lower() for k in r.request.headers}  # it really was chunked


def test_upload_limits(small_limits):
    client, services = small_limits
    # just over RAG_MAX_UPLOAD_BYTES: the indexer's message with the file's size
    r = client.post("/v1/documents", files={"file": ("big.txt", b"x" * 1025, "text/plain")})
    assert r.status_code == 413 and "big.txt is 1025 bytes" in r.json()["detail"]
    # far over: refused by the body limit before the form is parsed
    r = client.post("/v1/documents", files={"file": ("huge.txt", b"x" * 200_000, "text/plain")})
    assert r.status_code == 413 and "RAG_MAX_UPLOAD_BYTES" in r.json()["detail"]
    # uploads are not held to the JSON limit
    r = client.post("/v1/documents", files={"file": ("ok.txt", b"A fact. " * 120, "text/plain")})
    assert r.status_code == 201, r.text
    assert services.registry.count() == 1


def test_body_that_is_not_utf8_gets_a_reason(client):
    r = client.post("/v1/query", content=b'{"question": "\xff\xfe"}', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "utf-8" in r.json()["detail"].lower()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/query", {"question": "When does Project Bluefin ship?", "stream": True, "max_new_tokens": 2100}),
        (
            "/v1/chat/completions",
            {
                "messages": [{"role": "user", "content": "When does Project Bluefin ship?"}],
                "stream": True,
                "max_tokens": 2100,
            },
        ),
    ],
)
def test_stream_that_cannot_fit_the_window_is_422_not_a_broken_stream(client, path, body):
    """Found by schemathesis: the window check ran inside the stream, after the 200 had gone out."""
    client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    r = client.post(path, json=body)
    assert r.status_code == 422 and "max_new_tokens" in r.json()["detail"]


def test_list_offset_beyond_sqlite_integers_is_422(client):
    """Found by schemathesis: an offset past 2**63 reached SQLite and came back as a 500."""
    r = client.get("/v1/documents", params={"offset": 2**80})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "offset"]


def test_chat_with_too_many_stop_strings_is_422(client):
    """Found by schemathesis: more than 8 stop strings passed validation and failed inside the endpoint (500)."""
    body = {"messages": [{"role": "user", "content": "hi"}], "stop": [str(i) for i in range(9)]}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 422 and "stop" in str(r.json()["detail"])
