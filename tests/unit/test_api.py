"""The HTTP contract, over fake models (fast). tests/integration runs the same routes with the real ones."""

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.formats import make_docx_bomb, make_encrypted_pdf, make_pdf

FACT = b"Project Bluefin ships on 3 March. The launch owner is Dana Okafor.\n"


@pytest.fixture
def client(services):
    with TestClient(create_app(services.settings, services)) as c:
        yield c


def test_upload_list_get_delete(client):
    r = client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["outcome"] == "created" and doc["chunk_count"] >= 1 and doc["source"] == "bluefin.txt"

    again = client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"

    listed = client.get("/v1/documents").json()
    assert listed["total"] == 1 and listed["documents"][0]["id"] == doc["id"]

    detail = client.get(f"/v1/documents/{doc['id']}", params={"include_chunks": True}).json()
    assert detail["chunks"][0]["text"] == FACT.decode()[detail["chunks"][0]["start"] : detail["chunks"][0]["end"]]

    assert client.delete(f"/v1/documents/{doc['id']}").status_code == 204
    assert client.get(f"/v1/documents/{doc['id']}").status_code == 404
    assert client.delete(f"/v1/documents/{doc['id']}").status_code == 404


def test_query_returns_answer_citations_timings(client):
    client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    r = client.post("/v1/query", json={"question": "When does Project Bluefin ship?", "top_k": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answer"].startswith("Project Bluefin ships on 3 March")
    citation = body["citations"][0]
    assert citation["source"] == "bluefin.txt" and citation["marker"] == 1
    assert FACT.decode()[citation["start"] : citation["end"]] == citation["text"]
    assert set(body["timings"]) >= {"embed_ms", "retrieve_ms", "generate_ms", "total_ms"}


def test_query_on_empty_index_does_not_call_the_model(client, services):
    r = client.post("/v1/query", json={"question": "anything?"})
    assert r.status_code == 200 and r.json()["citations"] == []
    assert services.llm.prompts == []


_PDF = make_pdf(["Page one holds a fact.", "Page two holds another."])


@pytest.mark.parametrize(
    ("name", "data", "status", "phrase"),
    [
        ("tool.exe", b"MZ\x90\x00", 415, "accepted types are"),
        ("empty.txt", b"", 422, "empty"),
        ("noise.txt", bytes(range(1, 256)) * 16, 415, "UTF-8"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00", 415, "binary"),
        ("disguised.txt", _PDF, 415, "looks like a PDF"),
        ("corrupt.pdf", _PDF[: len(_PDF) // 3], 422, "damaged or incomplete"),
        ("notreally.pdf", b"just some text, no PDF header", 415, "not a PDF"),
        ("locked.pdf", make_encrypted_pdf(["Secret plans."]), 422, "password"),
        ("bomb.docx", make_docx_bomb(300 * 1024 * 1024), 413, "unpacked"),
        ("fake.docx", b"plain text pretending", 415, "not a Word"),
        ("broken.json", b'{"a": 1,', 422, "not valid JSON"),
        ("../../etc/passwd.txt", b"x", 400, "path"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)
def test_bad_uploads_get_clear_errors_and_change_nothing(client, services, name, data, status, phrase):
    r = client.post("/v1/documents", files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == status
    assert phrase in r.json()["detail"]
    assert services.registry.count() == 0 and services.store.count() == 0


def test_upload_over_limit_is_413(client, services):
    services.indexer.max_bytes = 16
    r = client.post("/v1/documents", files={"file": ("big.txt", b"x" * 17, "text/plain")})
    assert r.status_code == 413 and "limit" in r.json()["detail"]


@pytest.mark.parametrize("body", [{"question": ""}, {"question": "q", "top_k": 0}, {"question": "q", "top_k": 99}])
def test_invalid_query_is_422(client, body):
    assert client.post("/v1/query", json=body).status_code == 422


def test_health_and_openapi(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["prompt_family"] == "chatml"
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/documents", "/v1/documents/{document_id}", "/v1/query", "/healthz"} <= set(paths)


def _wait_for_job(client, job_id: str) -> dict:
    import time

    for _ in range(200):
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_background_upload_returns_a_job_then_the_document(client):
    r = client.post("/v1/documents", params={"background": True}, files={"file": ("bluefin.txt", FACT, "text/plain")})
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}" and job["status"] in ("queued", "running", "succeeded")
    done = _wait_for_job(client, job["id"])
    assert done["status"] == "succeeded" and done["counts"]["created"] == 1 and done["done"] == done["total"] == 1
    assert client.get(f"/v1/documents/{done['document_id']}").json()["source"] == "bluefin.txt"
    assert [j["id"] for j in client.get("/v1/jobs").json()["jobs"]] == [job["id"]]


def test_large_upload_goes_to_background_and_parse_errors_are_reported_in_the_job(client, services):
    object.__setattr__(services.settings, "background_upload_bytes", 8)
    r = client.post("/v1/documents", files={"file": ("bad.txt", bytes(range(1, 256)) * 16, "text/plain")})
    assert r.status_code == 202
    done = _wait_for_job(client, r.json()["id"])
    assert done["status"] == "failed" and "UTF-8" in done["errors"][0]["error"]
    assert done["errors"][0]["source"] == "bad.txt" and done["counts"]["failed"] == 1
    assert services.registry.count() == 0


def test_unknown_job_is_404(client):
    assert client.get("/v1/jobs/nope").status_code == 404


def _sse(text: str) -> list[tuple[str, dict]]:
    import json

    events = []
    for block in text.replace("\r\n", "\n").strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_streaming_query_sends_deltas_then_verified_answer_then_timings(client):
    client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    with client.stream("POST", "/v1/query", json={"question": "When does Project Bluefin ship?", "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = _sse(r.read().decode())
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "delta" and kinds[-2:] == ["answer", "done"] and set(kinds[:-2]) == {"delta"}
    streamed = "".join(data["text"] for kind, data in events if kind == "delta")
    answer = events[-2][1]
    assert streamed.strip().startswith("Project Bluefin ships on 3 March")
    assert answer["answer_type"] == "generated" and answer["citations"][0]["source"] == "bluefin.txt"
    assert events[-1][1]["timings"]["total_ms"] > 0


@pytest.mark.parametrize(
    ("generation", "field"),
    [
        ({"temperature": 3}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"repetition_penalty": 0.5}, "repetition_penalty"),
        ({"top_k": -1}, "top_k"),
    ],
)
def test_generation_settings_out_of_range_are_422_with_the_range(client, generation, field):
    r = client.post("/v1/query", json={"question": "q", "generation": generation})
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert error["loc"][-1] == field and any(w in error["msg"] for w in ("greater", "less"))


def test_retrieve_endpoint_returns_ranked_chunks_without_generating(client, services):
    client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    r = client.post("/v1/retrieve", json={"question": "Bluefin launch owner", "top_k": 3, "mode": "keyword"})
    assert r.status_code == 200, r.text
    chunk = r.json()["chunks"][0]
    assert chunk["source"] == "bluefin.txt" and chunk["rank"] == 1 and "Dana Okafor" in chunk["text"]
    assert services.llm.prompts == []


def test_openai_chat_completion(client):
    client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    body = {
        "model": "anything",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "When does Project Bluefin ship?"},
        ],
        "temperature": 0,
        "n": 1,
        "presence_penalty": 0,
    }
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["object"] == "chat.completion" and out["id"].startswith("chatcmpl-")
    assert out["choices"][0]["message"]["role"] == "assistant"
    assert out["choices"][0]["message"]["content"].startswith("Project Bluefin ships on 3 March")
    assert out["sources"][0]["source"] == "bluefin.txt" and out["usage"]["total_tokens"] > 0


def test_openai_stream_ends_with_sources_and_done(client):
    client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    body = {"messages": [{"role": "user", "content": "When does Project Bluefin ship?"}], "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        lines = [line[6:] for line in r.read().decode().splitlines() if line.startswith("data: ")]
    import json

    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text.strip().startswith("Project Bluefin ships on 3 March")
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["sources"][0]["source"] == "bluefin.txt"


def test_openai_stream_corrects_an_unsupported_answer(tmp_path):
    from tests.fakes import FakeLLM, fake_services

    services = fake_services(tmp_path / "data", llm=FakeLLM("Bluefin ships in 2031 on Mars."))
    services.indexer.ingest_bytes(FACT, "bluefin.txt")
    with TestClient(create_app(services.settings, services)) as c:
        body = {"messages": [{"role": "user", "content": "When does Project Bluefin ship?"}], "stream": True}
        with c.stream("POST", "/v1/chat/completions", json=body) as r:
            text = r.read().decode()
    assert "Not supported by the documents" in text and "3 March" in text


def test_openai_request_without_user_message_is_422(client):
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "hi"}]})
    assert r.status_code == 422 and "user message" in r.json()["detail"]


def test_the_search_indexes_are_built_at_start_not_on_the_first_question(services, monkeypatch):
    services.indexer.ingest_bytes(FACT, "bluefin.txt")
    read: list[str] = []
    iter_texts, iter_vectors = services.store.iter_texts, services.store.iter_vectors
    monkeypatch.setattr(services.store, "iter_texts", lambda: read.append("keyword") or iter_texts())
    monkeypatch.setattr(services.store, "iter_vectors", lambda: read.append("dense") or iter_vectors())
    with TestClient(create_app(services.settings, services)) as c:
        assert sorted(read) == ["dense", "keyword"]  # at start
        assert c.post("/v1/retrieve", json={"question": "When does Bluefin ship?"}).status_code == 200
        assert sorted(read) == ["dense", "keyword"]  # nothing read again for the question
