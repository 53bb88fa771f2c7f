"""Conversations: the registry's part (SQLite, and PostgreSQL when its binaries are there) and the HTTP contract
over fake models. tests/integration/test_conversations.py runs the same routes with the real model."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routers.openai import ChatRequest
from rag.conversation import Turn
from rag.store.registry import Registry
from rag.types import Citation
from service.conversations import as_turn

FACT = b"Project Bluefin ships on 3 March. The launch owner is Dana Okafor.\n"


# --------------------------------------------------------------------------------------------- the registry


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def registry(request: pytest.FixtureRequest, tmp_path) -> Iterator[Registry]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres").new_database(timezone="America/St_Johns")
    r = Registry.from_url(url)
    yield r
    r.engine.dispose()


def _citation(chunk_id: str) -> Citation:
    return Citation(
        marker=1,
        document_id="d1",
        chunk_id=chunk_id,
        source="a.txt",
        page=None,
        start=0,
        end=10,
        score=0.5,
        text="0123456789",
        quote="0123",
        quote_start=0,
        quote_end=4,
    )


def test_turns_are_kept_in_order_with_answer_citations_and_standalone_question(registry):
    c = registry.create_conversation("alpha")
    assert c.title is None and c.turn_count == 0 and c.collection == "alpha"
    registry.add_turn(
        c.id, question="What is a gliding schedule?", answer="One that...", answer_type="generated",
        citations=[_citation("d1:1:0")],
    )  # fmt: skip
    registry.add_turn(
        c.id, question="When would I finish?", answer="At 18:00.", answer_type="generated",
        citations=[_citation("d1:1:2")], standalone_question="When would I finish a gliding schedule?",
    )  # fmt: skip
    turns = registry.conversation_turns(c.id)
    assert [t.position for t in turns] == [1, 2]
    assert turns[1].standalone_question == "When would I finish a gliding schedule?"
    assert turns[1].citations[0].chunk_id == "d1:1:2" and turns[0].standalone_question is None
    assert turns[0].created_at.tzinfo is not None and turns[0].created_at <= turns[1].created_at
    assert [t.question for t in registry.conversation_turns(c.id, last=1)] == ["When would I finish?"]
    got = registry.get_conversation(c.id)
    assert got is not None and got.turn_count == 2
    assert got.title == "What is a gliding schedule?"  # the first question, when made without one
    assert got.updated_at >= c.updated_at


def test_a_given_title_is_kept(registry):
    c = registry.create_conversation("alpha", title="  Parking  ")
    registry.add_turn(c.id, question="Where do visitors park?", answer="Level -2.", answer_type="generated")
    assert registry.get_conversation(c.id).title == "Parking"


def test_listing_is_per_collection_most_recent_first(registry):
    first = registry.create_conversation("alpha")
    second = registry.create_conversation("alpha")
    other = registry.create_conversation("beta")
    registry.add_turn(first.id, question="q", answer="a", answer_type="abstained")  # used last: listed first
    assert [c.id for c in registry.list_conversations("alpha")] == [first.id, second.id]
    assert [c.id for c in registry.list_conversations("beta")] == [other.id]
    assert registry.count_conversations("alpha") == 2
    assert [c.id for c in registry.list_conversations("alpha", limit=1, offset=1)] == [second.id]


def test_delete_removes_the_turns_and_a_late_answer_is_not_recorded(registry):
    c = registry.create_conversation("alpha")
    registry.add_turn(c.id, question="q", answer="a", answer_type="generated")
    assert registry.delete_conversation(c.id)
    assert registry.get_conversation(c.id) is None and registry.conversation_turns(c.id) == []
    assert not registry.delete_conversation(c.id)
    assert registry.add_turn(c.id, question="late", answer="a", answer_type="generated") is None
    assert registry.conversation_turns(c.id) == []


def test_answers_finishing_at_once_take_distinct_places(registry):
    c = registry.create_conversation("alpha")
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            registry.add_turn(c.id, question=f"q{n}", answer="a", answer_type="generated")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(t.position for t in registry.conversation_turns(c.id)) == [1, 2, 3, 4, 5, 6]


def test_a_stored_turn_becomes_the_pipelines_history_turn(registry):
    c = registry.create_conversation("alpha")
    stored = registry.add_turn(
        c.id, question="q", answer="a", answer_type="generated", standalone_question="sq",
        citations=[_citation("d1:1:0"), _citation("d1:1:0"), _citation("d1:1:3")],
    )  # fmt: skip
    assert as_turn(stored) == Turn(question="q", answer="a", cited_chunk_ids=("d1:1:0", "d1:1:3"), standalone="sq")


# --------------------------------------------------------------------------------------------- the HTTP API


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services)) as c:
        yield c


@pytest.fixture
def seen_history(services, monkeypatch) -> list[tuple[str, list[Turn]]]:
    """What the pipeline was asked, with the history it was given (answer and answer_stream alike)."""
    seen: list[tuple[str, list[Turn]]] = []
    pipeline = services.pipeline
    for name in ("answer", "answer_stream"):
        original = getattr(pipeline, name)

        def spy(question: str, *args: Any, _original=original, **kwargs: Any):
            seen.append((question, list(kwargs.get("history", ()))))
            return _original(question, *args, **kwargs)

        monkeypatch.setattr(pipeline, name, spy)
    return seen


def _sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.replace("\r\n", "\n").strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_create_list_get_delete(client):
    r = client.post("/v1/conversations", json={"title": "Bluefin"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["title"] == "Bluefin" and made["turn_count"] == 0 and made["collection"] == "default"
    assert r.headers["location"] == f"/v1/conversations/{made['id']}"
    assert client.post("/v1/conversations").status_code == 201  # the body is optional
    listed = client.get("/v1/conversations").json()
    assert listed["total"] == 2 and made["id"] in {c["id"] for c in listed["conversations"]}
    detail = client.get(f"/v1/conversations/{made['id']}").json()
    assert detail["id"] == made["id"] and detail["turns"] == []
    assert client.delete(f"/v1/conversations/{made['id']}").status_code == 204
    missing = client.get(f"/v1/conversations/{made['id']}")
    assert missing.status_code == 404 and "no conversation with id" in missing.json()["detail"]
    assert client.delete(f"/v1/conversations/{made['id']}").status_code == 404


def test_another_collections_conversation_is_absent(client):
    alpha = {"X-Collection": "alpha"}
    mine = client.post("/v1/conversations", headers=alpha).json()
    beta = {"X-Collection": "beta"}
    assert client.get("/v1/conversations", headers=beta).json() == {"conversations": [], "total": 0}
    assert client.get(f"/v1/conversations/{mine['id']}", headers=beta).status_code == 404
    assert client.delete(f"/v1/conversations/{mine['id']}", headers=beta).status_code == 404
    r = client.post("/v1/query", json={"question": "q?", "conversation_id": mine["id"]}, headers=beta)
    assert r.status_code == 404 and "in collection 'beta'" in r.json()["detail"]
    assert client.get(f"/v1/conversations/{mine['id']}", headers=alpha).status_code == 200


def test_query_in_a_conversation_passes_history_and_records_each_turn(client, seen_history):
    client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    conversation = client.post("/v1/conversations").json()["id"]
    first = client.post(
        "/v1/query", json={"question": "When does Project Bluefin ship?", "conversation_id": conversation}
    )
    assert first.status_code == 200, first.text
    assert first.json()["conversation_id"] == conversation
    second = client.post("/v1/query", json={"question": "Who owns its launch?", "conversation_id": conversation})
    assert second.status_code == 200, second.text

    assert seen_history[0] == ("When does Project Bluefin ship?", [])
    question, history = seen_history[1]
    assert question == "Who owns its launch?" and len(history) == 1
    assert history[0].question == "When does Project Bluefin ship?"
    assert history[0].answer == first.json()["answer"]
    assert history[0].cited_chunk_ids == tuple(dict.fromkeys(c["chunk_id"] for c in first.json()["citations"]))

    detail = client.get(f"/v1/conversations/{conversation}").json()
    assert detail["turn_count"] == 2 and detail["title"] == "When does Project Bluefin ship?"
    turns = detail["turns"]
    assert [t["question"] for t in turns] == ["When does Project Bluefin ship?", "Who owns its launch?"]
    assert turns[1]["answer"] == second.json()["answer"]
    assert turns[1]["answer_type"] == second.json()["answer_type"]
    assert turns[1]["standalone_question"] == second.json()["standalone_question"]
    assert turns[0]["citations"] == first.json()["citations"]


def test_query_without_a_conversation_records_nothing(client, services, seen_history):
    client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    r = client.post("/v1/query", json={"question": "When does Project Bluefin ship?"})
    assert r.status_code == 200 and r.json()["conversation_id"] is None
    assert seen_history == [("When does Project Bluefin ship?", [])]
    assert services.registry.count_conversations("default") == 0


def test_unknown_conversation_is_a_404_before_any_answer(client, services):
    r = client.post("/v1/query", json={"question": "q?", "conversation_id": "nope", "stream": True})
    assert r.status_code == 404 and "no conversation with id 'nope'" in r.json()["detail"]
    assert services.llm.prompts == []


def test_streamed_query_in_a_conversation_records_the_turn(client, seen_history):
    client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    conversation = client.post("/v1/conversations").json()["id"]
    client.post("/v1/query", json={"question": "When does Project Bluefin ship?", "conversation_id": conversation})
    body = {"question": "Who is the launch owner?", "conversation_id": conversation, "stream": True}
    with client.stream("POST", "/v1/query", json=body) as r:
        assert r.status_code == 200
        events = _sse(r.read().decode())
    answer = next(data for kind, data in events if kind == "answer")
    assert answer["conversation_id"] == conversation and [k for k, _ in events][-1] == "done"
    assert [len(history) for _, history in seen_history] == [0, 1]
    turns = client.get(f"/v1/conversations/{conversation}").json()["turns"]
    assert len(turns) == 2 and turns[1]["answer"] == answer["answer"]
    assert turns[1]["citations"] == answer["citations"]


def test_chat_messages_pair_into_turns():
    request = ChatRequest.model_validate(
        {
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "What's a gliding schedule?"},
                {"role": "assistant", "content": "Hours that start and end within a window."},
                {"role": "user", "content": [{"type": "text", "text": "And core hours?"}]},
                {"role": "user", "content": "Sorry, I mean the window."},
                {"role": "assistant", "content": "7:00 to 19:00."},
                {"role": "assistant", "content": "Ask HR for more."},
                {"role": "user", "content": "If I start at the latest time, when do I finish?"},
                {"role": "assistant", "content": ""},
            ]
        }
    )
    assert request.question() == "If I start at the latest time, when do I finish?"
    assert request.history() == [
        Turn(question="What's a gliding schedule?", answer="Hours that start and end within a window."),
        Turn(question="And core hours?", answer=""),
        Turn(question="Sorry, I mean the window.", answer="7:00 to 19:00. Ask HR for more."),
    ]
    alone = ChatRequest.model_validate({"messages": [{"role": "user", "content": "Hi?"}]})
    assert alone.history() == []


@pytest.mark.parametrize("stream", [False, True])
def test_chat_completions_pass_the_history_and_show_the_standalone_question(client, seen_history, stream):
    client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
    messages = [
        {"role": "user", "content": "When does Project Bluefin ship?"},
        {"role": "assistant", "content": "On 3 March."},
        {"role": "user", "content": "Who owns its launch?"},
    ]
    r = client.post("/v1/chat/completions", json={"messages": messages, "stream": stream})
    assert r.status_code == 200, r.text
    if stream:
        lines = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
        last = json.loads(lines[-2])
    else:
        last = r.json()
    assert "standalone_question" in last and "sources" in last and "answer_type" in last
    assert seen_history == [
        ("Who owns its launch?", [Turn(question="When does Project Bluefin ship?", answer="On 3 March.")])
    ]


def test_openapi_documents_the_conversation_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/conversations"]) == {"get", "post"}
    assert set(paths["/v1/conversations/{conversation_id}"]) == {"get", "delete"}
    for operation in [*paths["/v1/conversations"].values(), *paths["/v1/conversations/{conversation_id}"].values()]:
        assert operation["summary"] and operation["tags"] == ["conversations"]
    query = client.get("/openapi.json").json()["components"]["schemas"]["QueryRequest"]["properties"]
    assert "earlier turns" in query["conversation_id"]["description"]


# --------------------------------------------------------------------------------------------- the terminal


def test_rag_chat_reads_stdin_records_turns_and_new_starts_over(services, monkeypatch, seen_history):
    from typer.testing import CliRunner

    from api.cli import app, chat

    monkeypatch.setattr(chat, "build", lambda *_args, **_kwargs: services)
    monkeypatch.setenv("RAG_DATA_DIR", str(services.settings.data_dir))
    services.ingest_paths([_write(services.settings.data_dir / "bluefin.txt", FACT)])
    script = "When does Project Bluefin ship?\n\nWho owns its launch?\n/new\nWho owns the launch?\n/exit\nnot asked\n"
    result = CliRunner().invoke(app, ["chat"], input=script)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Project Bluefin ships on 3 March") >= 1 and "Sources:" in result.stdout
    assert "[1] bluefin.txt" in result.stdout
    assert [(q, len(h)) for q, h in seen_history] == [
        ("When does Project Bluefin ship?", 0),
        ("Who owns its launch?", 1),
        ("Who owns the launch?", 0),  # /new: asked on its own
    ]
    conversations = services.registry.list_conversations("default")
    assert sorted(c.turn_count for c in conversations) == [1, 2]

    listed = CliRunner().invoke(app, ["conversations", "list"])
    assert listed.exit_code == 0 and len(listed.stdout.strip().splitlines()) == 2
    two = next(c for c in conversations if c.turn_count == 2)
    shown = CliRunner().invoke(app, ["conversations", "show", two.id])
    assert shown.exit_code == 0 and "you> Who owns its launch?" in shown.stdout and "bluefin.txt" in shown.stdout
    elsewhere = CliRunner().invoke(app, ["conversations", "delete", two.id, "--collection", "beta"])
    assert elsewhere.exit_code == 2 and services.registry.get_conversation(two.id) is not None
    assert CliRunner().invoke(app, ["conversations", "delete", two.id]).exit_code == 0
    assert services.registry.get_conversation(two.id) is None


def _write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
