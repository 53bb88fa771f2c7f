"""Conversations end to end: a real `rag serve` on loopback with the bundled models, real Chroma, and `rag chat`
driven through its stdin. A follow-up here names nothing of its own ("When does it close on Saturdays?"): two
indexed places close on Saturdays, so only the conversation says which one is meant."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from tests.integration.conftest import BIN, run_cli, service_env

pytestmark = pytest.mark.integration

LIBRARY = (
    "# Marlow Public Library\n\n"
    "The Marlow Public Library lends telescopes to its members for two weeks at a time.\n\n"
    "The Marlow Public Library closes at 18:00 on Saturdays.\n"
)
KITCHEN = (
    "# Zephyr Kitchen\n\n"
    "The Zephyr Kitchen serves a tomato soup seasoned with smoked paprika.\n\n"
    "The Zephyr Kitchen closes at 21:30 on Saturdays.\n"
)
FIRST = "What does the Marlow Public Library lend to its members?"
FOLLOW_UP = "When does it close on Saturdays?"


@pytest.fixture(scope="module")
def indexed(live_server) -> dict[str, str]:
    """Both documents in the default collection; their ids by name."""
    ids = {}
    with live_server.client() as client:
        for name, text in (("library.md", LIBRARY), ("kitchen.md", KITCHEN)):
            r = client.post("/v1/documents", files={"file": (name, text.encode(), "text/markdown")})
            assert r.status_code == 201, r.text
            ids[name] = r.json()["id"]
    return ids


def _sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.replace("\r\n", "\n").strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_follow_up_through_query_is_answered_from_the_conversation_and_recorded(live_server, indexed):
    with live_server.client() as client:
        made = client.post("/v1/conversations", json={})
        assert made.status_code == 201, made.text
        conversation = made.json()["id"]
        first = client.post("/v1/query", json={"question": FIRST, "conversation_id": conversation})
        assert first.status_code == 200, first.text
        assert "telescopes" in first.json()["answer"], first.json()
        assert first.json()["conversation_id"] == conversation

        # The follow-up streamed, as the web page asks.
        body = {"question": FOLLOW_UP, "conversation_id": conversation, "stream": True}
        with client.stream("POST", "/v1/query", json=body) as r:
            assert r.status_code == 200
            events = _sse(r.read().decode())
        answer = next(data for kind, data in events if kind == "answer")
        # The history reached the answer path: the follow-up was read as being about the library, and only the
        # library is cited (asked alone, either place could be meant). Which sentence answers best is the answer
        # path's own concern (rag/conversation.py, its tests).
        assert "Marlow" in (answer.get("standalone_question") or ""), answer
        assert "21:30" not in answer["answer"], answer
        assert {c["document_id"] for c in answer["citations"]} == {indexed["library.md"]}, answer
        assert answer["conversation_id"] == conversation

        detail = client.get(f"/v1/conversations/{conversation}").json()
        assert detail["title"] == FIRST and detail["turn_count"] == 2
        turns = detail["turns"]
        assert [t["question"] for t in turns] == [FIRST, FOLLOW_UP]
        assert turns[1]["answer"] == answer["answer"] and turns[1]["answer_type"] == answer["answer_type"]
        assert turns[1]["standalone_question"] == answer.get("standalone_question")
        assert [c["chunk_id"] for c in turns[1]["citations"]] == [c["chunk_id"] for c in answer["citations"]]
        assert any(c["id"] == conversation for c in client.get("/v1/conversations").json()["conversations"])


def test_follow_up_through_chat_completions_uses_the_messages_history(live_server, indexed):
    messages = [
        {"role": "system", "content": "Answer from the documents."},
        {"role": "user", "content": "What soup does the Zephyr Kitchen serve?"},
        {"role": "assistant", "content": "A tomato soup seasoned with smoked paprika."},
        {"role": "user", "content": FOLLOW_UP},
    ]
    with live_server.client() as client:
        r = client.post("/v1/chat/completions", json={"model": "rag", "messages": messages})
        assert r.status_code == 200, r.text
        out = r.json()
    content = out["choices"][0]["message"]["content"]
    assert "Zephyr" in (out["standalone_question"] or ""), out  # read against the messages before it
    assert "18:00" not in content, out
    assert {s["document_id"] for s in out["sources"]} == {indexed["kitchen.md"]}, out


def test_conversations_are_per_collection_and_deleted_with_their_turns(live_server, indexed):
    alpha = {**live_server.headers, "X-Collection": "alpha"}
    beta = {**live_server.headers, "X-Collection": "beta"}
    with httpx.Client(base_url=live_server.url, timeout=120) as client:
        mine = client.post("/v1/conversations", json={"title": "alpha's"}, headers=alpha).json()
        r = client.post("/v1/query", json={"question": FIRST, "conversation_id": mine["id"]}, headers=alpha)
        assert r.status_code == 200, r.text  # alpha has no documents: answered, and recorded, all the same
        assert r.json()["answer_type"] == "no_documents"

        assert mine["id"] not in {
            c["id"] for c in client.get("/v1/conversations", headers=beta).json()["conversations"]
        }
        assert client.get(f"/v1/conversations/{mine['id']}", headers=beta).status_code == 404
        asked = client.post("/v1/query", json={"question": FIRST, "conversation_id": mine["id"]}, headers=beta)
        assert asked.status_code == 404 and "no conversation with id" in asked.json()["detail"]
        assert client.delete(f"/v1/conversations/{mine['id']}", headers=beta).status_code == 404

        assert client.get(f"/v1/conversations/{mine['id']}", headers=alpha).json()["turn_count"] == 1
        assert client.delete(f"/v1/conversations/{mine['id']}", headers=alpha).status_code == 204
        assert client.get(f"/v1/conversations/{mine['id']}", headers=alpha).status_code == 404


def test_rag_chat_in_the_terminal(tmp_path, model_cache):
    env = service_env(tmp_path / "data", model_cache)
    for name, text in (("library.md", LIBRARY), ("kitchen.md", KITCHEN)):
        (tmp_path / name).write_text(text)
    ingest = run_cli(["ingest", str(tmp_path / "library.md"), str(tmp_path / "kitchen.md")], env)
    assert ingest.returncode == 0, ingest.stderr

    script = f"{FIRST}\n{FOLLOW_UP}\n/new\nWhat soup does the Zephyr Kitchen serve?\n/exit\nnever asked\n"
    chat = subprocess.run(
        [str(BIN / "rag"), "chat"], input=script, env=env, capture_output=True, text=True, timeout=600
    )
    assert chat.returncode == 0, chat.stderr
    answers = [block for block in chat.stdout.split("\n\n") if block.strip()]
    assert len(answers) == 3, chat.stdout
    assert "telescopes" in answers[0] and "library.md" in answers[0], chat.stdout
    assert "(answering:" in answers[1] and "Marlow" in answers[1].splitlines()[0], chat.stdout
    assert "library.md" in answers[1] and "kitchen.md" not in answers[1], chat.stdout
    assert "smoked paprika" in answers[2] and "kitchen.md" in answers[2], chat.stdout
    assert "never asked" not in chat.stdout + chat.stderr

    listed = run_cli(["conversations", "list"], env)
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.strip().splitlines()
    assert len(rows) == 2, listed.stdout  # /new started a second conversation
    first_id = next(row.split()[0] for row in rows if FIRST in row)
    assert "2 turns" in next(row for row in rows if FIRST in row)

    shown = run_cli(["conversations", "show", first_id], env)
    assert shown.returncode == 0 and f"you> {FOLLOW_UP}" in shown.stdout and "(answering:" in shown.stdout
    other = run_cli(["conversations", "show", first_id, "--collection", "beta"], env)
    assert other.returncode == 2 and "no conversation with id" in other.stderr

    resumed = subprocess.run(
        [str(BIN / "rag"), "chat", "--conversation", first_id],
        input="What does it lend to its members?\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0 and "telescopes" in resumed.stdout, resumed.stdout + resumed.stderr

    deleted = run_cli(["conversations", "delete", first_id], env)
    assert deleted.returncode == 0, deleted.stderr
    assert len(run_cli(["conversations", "list"], env).stdout.strip().splitlines()) == 1
