"""The whole service as a user runs it: a real server process on loopback, real models, real Chroma."""

import json

import httpx
import pytest

from tests.integration.conftest import run_cli, service_env

pytestmark = pytest.mark.integration

UNIQUE = (
    "# Zephyr Kitchen Notes\n\n"
    "The secret ingredient in the Zephyr Kitchen tomato soup is smoked paprika from the village of Zarnesti.\n\n"
    "The soup is served every Thursday, and the kitchen closes at 21:30.\n"
)


def test_upload_then_ask_cites_the_uploaded_document(live_server):
    with live_server.client() as client:
        up = client.post("/v1/documents", files={"file": ("zephyr.md", UNIQUE.encode(), "text/markdown")})
        assert up.status_code == 201, up.text
        doc_id = up.json()["id"]

        r = client.post("/v1/query", json={"question": "What is the secret ingredient in the tomato soup?"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert "smoked paprika" in body["answer"], body
        assert body["answer_type"] in ("generated", "extractive")
        assert body["timings"]["generate_ms"] > 0 and body["timings"]["generated_tokens"] > 0

        cited = [c for c in body["citations"] if c["document_id"] == doc_id]
        assert cited, body
        chunks = client.get(f"/v1/documents/{doc_id}", params={"include_chunks": True}).json()["chunks"]
        by_id = {c["chunk_id"]: c for c in chunks}
        for citation in cited:
            assert UNIQUE[citation["start"] : citation["end"]] == citation["text"]
            assert UNIQUE[citation["quote_start"] : citation["quote_end"]] == citation["quote"]
            assert by_id[citation["chunk_id"]]["text"] == citation["text"]
        assert "smoked paprika" in cited[0]["quote"]


def test_bad_upload_is_rejected_and_server_stays_up(live_server):
    with live_server.client(timeout=60) as client:
        before = client.get("/v1/documents").json()["total"]
        r = client.post("/v1/documents", files={"file": ("x.exe", b"MZ\x90\x00binary", "application/x-msdownload")})
        assert r.status_code == 415 and "accepted types" in r.json()["detail"]
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/documents").json()["total"] == before


def test_cli_ingest_and_ask_json(tmp_path, model_cache):
    env = service_env(tmp_path / "data", model_cache)
    doc = tmp_path / "lab.txt"
    doc.write_text("The cryostat in lab 4B is cooled to minus 196 degrees with liquid nitrogen.\n")
    ingest = run_cli(["ingest", str(doc)], env)
    assert ingest.returncode == 0, ingest.stderr
    assert "1 added" in ingest.stderr

    again = run_cli(["ingest", str(doc)], env)
    assert "1 unchanged" in again.stderr

    ask = run_cli(["ask", "What temperature is the cryostat in lab 4B cooled to?", "--json"], env)
    assert ask.returncode == 0, ask.stderr
    body = json.loads(ask.stdout)
    assert set(body) == {
        "answer",
        "answer_type",
        "citations",
        "timings",
        "trimmed",
        "evidence_score",
        "answerability",
        "sentences",
        "removed",
        "question_type",  # #14: what the question asks for (rag/question.py) decides the answer's shape
        "standalone_question",  # #15: the question answered after reading a follow-up (None when asked alone)
    }
    assert body["standalone_question"] is None
    assert "196" in body["answer"]
    assert body["citations"][0]["source"] == doc.name  # a file given by itself is named as an upload is
    assert body["citations"][0]["text"] == doc.read_text().strip()


def test_streaming_query_over_http(live_server):
    with live_server.client() as client:
        client.post("/v1/documents", files={"file": ("zephyr.md", UNIQUE.encode(), "text/markdown")})
        body = {"question": "When does the Zephyr kitchen close?", "stream": True}
        with client.stream("POST", "/v1/query", json=body) as r:
            assert r.status_code == 200
            events, current = [], {}
            for line in r.iter_lines():
                if line.startswith("event: "):
                    current["event"] = line[7:]
                elif line.startswith("data: "):
                    events.append((current.pop("event"), json.loads(line[6:])))
    kinds = [k for k, _ in events]
    assert kinds[-2:] == ["answer", "done"] and "delta" in kinds
    streamed = "".join(d["text"] for k, d in events if k == "delta")
    assert "<|im_end|>" not in streamed and "<|im" not in streamed
    answer = events[-2][1]
    assert "21:30" in answer["answer"] and answer["citations"][0]["source"] == "zephyr.md"


def test_unmodified_openai_client_gets_a_grounded_answer(live_server):
    from openai import OpenAI

    # The client sends its api_key as "Authorization: Bearer", which is how the service takes its keys.
    client = OpenAI(base_url=f"{live_server.url}/v1", api_key=live_server.key, max_retries=0, timeout=120)
    httpx.post(
        f"{live_server.url}/v1/documents",
        files={"file": ("zephyr.md", UNIQUE.encode(), "text/markdown")},
        headers=live_server.headers,
        timeout=60,
    )
    question = [{"role": "user", "content": "What is the secret ingredient in the Zephyr Kitchen tomato soup?"}]
    reply = client.chat.completions.create(model="default", messages=question)
    assert "paprika" in reply.choices[0].message.content
    assert reply.model_extra["sources"][0]["source"] == "zephyr.md"

    stream = client.chat.completions.create(model="default", messages=question, stream=True)
    text, sources = "", None
    for chunk in stream:
        text += chunk.choices[0].delta.content or ""
        sources = (chunk.model_extra or {}).get("sources", sources)
    assert "paprika" in text and sources and sources[0]["source"] == "zephyr.md"


def test_off_topic_question_abstains(live_server):
    with live_server.client() as client:
        client.post("/v1/documents", files={"file": ("zephyr.md", UNIQUE.encode(), "text/markdown")})
        body = client.post("/v1/query", json={"question": "Who won the 2018 football World Cup?"}).json()
    assert body["answer_type"] == "abstained" and body["citations"] == []
    assert body["answer"] == "The documents do not contain an answer to this question."
    assert body["evidence_score"] < 0.4
