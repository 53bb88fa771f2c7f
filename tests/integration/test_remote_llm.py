"""A remote LLM for real: one `rag serve` generates (its /v1/completions, the bundled SmolLM2), a second one
answers questions with RAG_LLM_URL pointing at the first, both on loopback. The answer, its citations and the
streamed text must be what the model gives in process, and the second instance must say when the first is gone.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from rag.models.families import get_family
from rag.models.remote import RemoteLLM, RemoteLLMError, estimate_tokens, load_tokenizer
from tests.integration.conftest import LiveServer

pytestmark = pytest.mark.integration

DOC = (
    "# Zephyr Kitchen Notes\n\n"
    "The secret ingredient in the Zephyr Kitchen tomato soup is smoked paprika from the village of Zarnesti.\n\n"
    "The soup is served every Thursday, and the kitchen closes at 21:30.\n"
)
QUESTION = "What is the secret ingredient in the tomato soup?"
CHATML = get_family("chatml")


def admin_key(data_dir: Path) -> str | None:
    """The key a service with auth on wrote at its first start (None: this build has no auth)."""
    path = data_dir / "admin-key"
    return path.read_text().strip() if path.exists() else None


def headers(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def generated_tokens(server: LiveServer) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "rag_llm_generated_tokens_total":
                return sample.value
    return 0.0


class Pair:
    def __init__(self, root: Path, model_cache: Path) -> None:
        # The generator starts first: the second instance writes its own admin key, but needs the first one's.
        self.llm_data, self.rag_data = root / "llm-data", root / "rag-data"
        self.llm = LiveServer(self.llm_data, model_cache, root / "llm.log")
        self.llm.wait_ready()
        self.llm_key = admin_key(self.llm_data)
        # The remote serves the bundled 135M model: compared with the local one on the same (evidence) answer path,
        # which a remote server would otherwise not get by default (rag/models/profile.py).
        remote = {
            "RAG_LLM_URL": f"{self.llm.url}/v1",
            "RAG_LLM_API_KEY": self.llm_key or "",
            "RAG_LLM_PROFILE": "evidence",
        }
        self.rag = LiveServer(self.rag_data, model_cache, root / "rag.log", **remote)
        self.rag.wait_ready()
        self.rag_key = admin_key(self.rag_data)

    def client(self, server: LiveServer, key: str | None) -> httpx.Client:
        return httpx.Client(base_url=server.url, headers=headers(key), timeout=180)

    def stop(self) -> None:
        self.rag.stop()
        self.llm.stop()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, model_cache: Path):
    pair = Pair(tmp_path_factory.mktemp("remote-llm"), model_cache)
    try:
        yield pair
    finally:
        pair.stop()


def test_rag_through_a_remote_llm_answers_with_citations_like_the_local_model(pair: Pair) -> None:
    before = generated_tokens(pair.llm)
    with pair.client(pair.rag, pair.rag_key) as rag, pair.client(pair.llm, pair.llm_key) as llm:
        assert rag.get("/healthz").json()["llm"] == llm.get("/v1/models").json()["data"][0]["id"]
        assert rag.get("/readyz").json()["checks"]["llm"] == "ok"
        up = rag.post("/v1/documents", files={"file": ("zephyr.md", DOC.encode(), "text/markdown")})
        assert up.status_code == 201, up.text
        remote = rag.post("/v1/query", json={"question": QUESTION})
        assert remote.status_code == 200, remote.text
        assert llm.get("/healthz").json()["documents"] == 0  # the generator has no documents to answer from
        assert generated_tokens(pair.llm) > before  # ... but it generated the answer

        # The same question answered in process by the generator, from the same document: the same answer.
        llm.post("/v1/documents", files={"file": ("zephyr.md", DOC.encode(), "text/markdown")})
        local = llm.post("/v1/query", json={"question": QUESTION}).json()

    answer = remote.json()
    assert answer["answer_type"] == "generated", answer
    assert "paprika" in answer["answer"] and "<|im" not in answer["answer"]
    (citation,) = answer["citations"]
    assert (
        citation["source"] == "zephyr.md" and DOC[citation["quote_start"] : citation["quote_end"]] == citation["quote"]
    )
    assert answer["answer"] == local["answer"]
    assert [c["quote"] for c in answer["citations"]] == [c["quote"] for c in local["citations"]]


def test_streamed_answer_through_the_remote_llm(pair: Pair) -> None:
    body = {"question": "When does the kitchen close?", "stream": True}
    events: list[tuple[str, str]] = []
    with pair.client(pair.rag, pair.rag_key) as rag, rag.stream("POST", "/v1/query", json=body) as response:
        assert response.status_code == 200
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event:
                events.append((event, line.removeprefix("data: ")))
    kinds = [e for e, _ in events]
    assert kinds[0] == "delta" and kinds[-2:] == ["answer", "done"], kinds
    streamed = "".join(json.loads(data)["text"] for event, data in events if event == "delta")
    assert streamed.strip() and "<|im" not in streamed
    final = json.loads(events[-2][1])
    assert "21:30" in final["answer"] and final["citations"][0]["source"] == "zephyr.md"


def test_the_service_is_an_openai_completions_server(pair: Pair) -> None:
    """What RemoteLLM relies on, through the official OpenAI client: plain completion, stops, streaming."""
    client = OpenAI(base_url=f"{pair.llm.url}/v1", api_key=pair.llm_key or "unused")
    prompt = CHATML.format(user="Name one colour of the rainbow.", system="Answer in one word.")
    reply = client.completions.create(model="default", prompt=prompt, max_tokens=16, stop=["<|im_end|>"])
    text = reply.choices[0].text
    assert text.strip() and "<|im" not in text and reply.usage.completion_tokens >= 1
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(model="x", prompt=prompt, max_tokens=16, stream=True)
        if c.choices
    )
    assert streamed.strip() == text.strip()  # greedy: the same words, streamed

    # The bundled model's own tokenizer counts exactly what the server counts; the estimate counts more.
    tokenizer = RemoteLLM(f"{pair.llm.url}/v1", CHATML, model="x", tokenizer=load_tokenizer("default"))
    assert tokenizer.count_tokens(prompt) == reply.usage.prompt_tokens
    assert estimate_tokens(prompt) >= reply.usage.prompt_tokens


def test_wrong_key_is_a_502_that_names_the_setting(pair: Pair) -> None:
    if pair.llm_key is None:
        pytest.skip("this build has no API keys")
    llm = RemoteLLM(f"{pair.llm.url}/v1", CHATML, model="x", api_key="rag_wrong")
    with pytest.raises(RemoteLLMError, match="RAG_LLM_API_KEY") as info:
        llm.generate("Hello")
    assert info.value.status_code == 502
    assert llm.check().startswith("rejected")


def test_readiness_and_answers_when_the_remote_llm_is_gone(pair: Pair) -> None:
    """Last in this module: it stops the generator."""
    pair.llm.stop()
    with pair.client(pair.rag, pair.rag_key) as rag:
        ready = rag.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json()["checks"]["llm"].startswith(f"unreachable: {pair.llm.url}/v1")
        for stream in (False, True):
            r = rag.post("/v1/query", json={"question": QUESTION, "stream": stream})
            assert r.status_code == 503, r.text
            assert "cannot connect to the remote LLM" in r.json()["detail"]
        assert rag.get("/v1/documents").status_code == 200  # everything else still works
