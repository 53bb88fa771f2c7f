"""RemoteLLM over a fake OpenAI server (httpx.MockTransport): requests, stops, errors; /v1/completions and
/v1/models over the fake model. tests/integration/test_remote_llm.py runs a real server on loopback."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.config import Settings
from rag.models.families import FAMILIES, get_family
from rag.models.ports import GenerationParams
from rag.models.remote import RemoteLLM, RemoteLLMError, estimate_tokens
from rag.pipeline import RAGPipeline
from tests.fakes import FakeLLM, fake_services

URL = "http://llm.test/v1"
CHATML = get_family("chatml")
FACT = b"Project Bluefin ships on 3 March. The launch owner is Dana Okafor.\n"


def sse(*chunks: dict) -> bytes:
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def event_stream(*chunks: dict) -> httpx.Response:
    return httpx.Response(200, content=sse(*chunks), headers={"content-type": "text/event-stream; charset=utf-8"})


def text_chunk(text: str) -> dict:
    return {"object": "text_completion", "choices": [{"index": 0, "text": text, "finish_reason": None}]}


class FakeServer:
    """An OpenAI-compatible server that ignores `stop` and writes on past the stop strings."""

    def __init__(self, reply: str = "Bluefin ships on 3 March. [1]<|im_end|>\n<|im_start|>user\nmore", pieces=None):
        self.reply = reply
        self.pieces = pieces
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"object": "list", "data": [{"id": "SmolLM2-135M-Instruct"}]})
        body = json.loads(request.content)
        if body.get("stream"):
            pieces = self.pieces or list(self.reply)
            return event_stream(*(text_chunk(p) for p in pieces))
        if request.url.path == "/v1/chat/completions":
            choice = {"index": 0, "message": {"role": "assistant", "content": self.reply}, "finish_reason": "stop"}
        else:
            choice = {"index": 0, "text": self.reply, "finish_reason": "stop"}
        usage = {"prompt_tokens": 42, "completion_tokens": 9, "total_tokens": 51}
        return httpx.Response(200, json={"object": "text_completion", "choices": [choice], "usage": usage})

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]


def remote(handler, **kwargs) -> RemoteLLM:
    return RemoteLLM(URL, kwargs.pop("family", CHATML), transport=httpx.MockTransport(handler), **kwargs)


def test_completions_sends_our_template_stops_key_and_model():
    server = FakeServer()
    llm = remote(server, api_key="secret-key")
    prompt = CHATML.format(user="When does Bluefin ship?", system="Answer briefly.")
    generation = llm.generate(prompt, GenerationParams(max_new_tokens=20, stop=["\n\n"]))
    assert generation.text == "Bluefin ships on 3 March. [1]"  # cut at <|im_end|> although the server was not
    assert (generation.prompt_tokens, generation.generated_tokens) == (42, 9)  # the server's usage
    models, completion = server.requests
    assert models.url.path == "/v1/models" and completion.url.path == "/v1/completions"
    assert all(r.headers["authorization"] == "Bearer secret-key" for r in server.requests)
    body = json.loads(completion.content)
    assert body["prompt"] == prompt and body["model"] == "SmolLM2-135M-Instruct"
    assert body["stop"] == ["<|im_end|>", "<|im_start|>", "\n\n"] and body["max_tokens"] == 20
    assert body["temperature"] == 0.0 and "top_k" not in body and "repetition_penalty" not in body
    llm.generate(prompt)
    assert len(server.requests) == 3  # the model name is asked once


def test_configured_model_is_not_looked_up_and_no_key_sends_no_header():
    server = FakeServer(reply="Fine.")
    llm = remote(server, model="my-model")
    assert llm.generate("x").text == "Fine."
    (request,) = server.requests
    assert "authorization" not in request.headers and json.loads(request.content)["model"] == "my-model"


def test_stream_holds_back_stop_strings_split_over_chunks():
    pieces = ["Bluefin ships", " on 3 March.", " [1]<|im", "_end|>", "\n<|im_start|>user\n", "never shown"]
    llm = remote(FakeServer(pieces=pieces))
    deltas = list(llm.stream("prompt"))
    assert "".join(deltas) == "Bluefin ships on 3 March. [1]"
    assert not any("<" in d for d in deltas)


def test_stream_stops_at_request_stop_and_flushes_partial_prefix_at_end():
    llm = remote(FakeServer(pieces=["One.", "\n", "\nTwo."]))
    assert "".join(llm.stream("p", GenerationParams(stop=["\n\n"]))) == "One."
    llm = remote(FakeServer(pieces=["Ends with <|im"]))  # a stop's prefix that never completes is text after all
    assert "".join(llm.stream("p")) == "Ends with <|im"


def test_chat_api_sends_the_prompt_back_as_messages():
    for family in FAMILIES.values():
        server = FakeServer(reply="Answer. [1]")
        llm = remote(server, family=family, api="chat", model="m")
        prompt = family.format(user="Facts:\n[1] A fact.\n\nQuestion: what?", system="Be brief.")
        assert llm.generate(prompt).text == "Answer. [1]"
        (body,) = server.bodies()
        assert server.requests[0].url.path == "/v1/chat/completions"
        assert body["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Facts:\n[1] A fact.\n\nQuestion: what?"},
        ], family.name


def test_chat_stream_reads_deltas():
    chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    chunks += [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in ("Hi", " there<|im_end|>", "x")]
    chunks.append({"choices": [], "usage": {"prompt_tokens": 3}})

    def handler(request):
        return event_stream(*chunks)

    assert "".join(remote(handler, api="chat", model="m").stream("plain prompt")) == "Hi there"


def _raise(exc: Exception):
    def handler(request):
        raise exc

    return handler


@pytest.mark.parametrize(
    ("handler", "status", "phrase"),
    [
        (_raise(httpx.ConnectError("Connection refused")), 503, "cannot connect"),
        (_raise(httpx.ReadTimeout("timed out")), 504, "did not answer in time"),
        (_raise(httpx.ConnectTimeout("timed out")), 504, "did not accept a connection"),
        (_raise(httpx.RemoteProtocolError("peer closed")), 502, "connection to the remote LLM"),
        (lambda r: httpx.Response(500, json={"error": {"message": "CUDA out of memory"}}), 502, "CUDA out of memory"),
        (lambda r: httpx.Response(503, json={"detail": "loading"}), 503, "busy or not ready"),
        (lambda r: httpx.Response(401, json={"detail": "a valid API key is required"}), 502, "RAG_LLM_API_KEY"),
        (lambda r: httpx.Response(404, text="Not Found"), 502, "API base"),
        (lambda r: httpx.Response(200, text="<html>proxy</html>"), 502, "not an OpenAI completion"),
    ],
    ids=["refused", "read-timeout", "connect-timeout", "broken", "500", "503", "401", "404", "not-json"],
)
def test_remote_failures_become_gateway_errors(handler, status, phrase):
    llm = remote(handler, model="m")
    for call, streamed in ((lambda: llm.generate("p"), False), (lambda: list(llm.stream("p")), True)):
        with pytest.raises(RemoteLLMError) as info:
            call()
        assert info.value.status_code == status
        assert URL in str(info.value)
        expected = "did not stream" if streamed and phrase == "not an OpenAI completion" else phrase
        assert expected in str(info.value)


def test_broken_stream_events_are_502():
    broken = {"content-type": "text/event-stream"}
    llm = remote(lambda r: httpx.Response(200, content=b"data: {not json\n\n", headers=broken), model="m")
    with pytest.raises(RemoteLLMError, match="not JSON") as info:
        list(llm.stream("p"))
    assert info.value.status_code == 502
    error = {"error": {"message": "generation failed"}}
    llm = remote(lambda r: event_stream(text_chunk("a"), error), model="m")
    with pytest.raises(RemoteLLMError, match="generation failed"):
        list(llm.stream("p"))


def test_model_lookup_failure_says_what_to_set():
    llm = remote(lambda r: httpx.Response(200, json={"object": "list", "data": []}))
    with pytest.raises(RemoteLLMError, match="RAG_LLM_REMOTE_MODEL"):
        llm.generate("p")


def test_check_reports_reachability():
    assert remote(FakeServer()).check() == "ok"
    assert remote(_raise(httpx.ConnectError("Connection refused"))).check().startswith("unreachable: " + URL)
    assert "RAG_LLM_API_KEY" in remote(lambda r: httpx.Response(401)).check()
    assert remote(lambda r: httpx.Response(502, text="bad gateway")).check().startswith("failing:")


def test_estimate_is_an_upper_bound_of_byte_level_tokens():
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 4 and estimate_tokens("é") == 2 and estimate_tokens("汤") == 3
    assert remote(FakeServer()).count_tokens("x" * 100) == 100


def test_family_is_detected_once_the_remote_answers(monkeypatch):
    """Started before its model server (compose): ChatML stands in, asked again at most every 10 s."""
    state = {"up": False, "asked": 0}

    def handler(request):
        state["asked"] += 1
        if not state["up"]:
            raise httpx.ConnectError("Connection refused")
        return httpx.Response(200, json={"data": [{"id": "Llama-2-7b-chat-int4"}]})

    clock = [1000.0]
    monkeypatch.setattr("rag.models.remote.time.monotonic", lambda: clock[0])
    llm = RemoteLLM(URL, transport=httpx.MockTransport(handler))
    assert llm.family.name == "chatml" and llm.family.name == "chatml" and state["asked"] == 1
    state["up"] = True
    assert llm.family.name == "chatml" and state["asked"] == 1  # not yet: within 10 s of the failed lookup
    clock[0] += 11
    assert llm.family.name == "llama2" and llm.name == "Llama-2-7b-chat-int4"
    assert llm.family.name == "llama2" and state["asked"] == 2


def test_from_settings_detects_family_from_the_served_model_and_falls_back():
    server = FakeServer()

    def dolly(request):
        return httpx.Response(200, json={"data": [{"id": "databricks/dolly-v2-3b"}]})

    settings = Settings(llm_url=URL + "/", llm_api_key="k", llm_timeout_s=7, llm_context_window=4096)
    llm = RemoteLLM.from_settings(settings, transport=httpx.MockTransport(dolly))
    assert llm.family.name == "dolly" and llm.url == URL and llm.context_window == 4096 and llm.timeout_s == 7
    down = RemoteLLM.from_settings(settings, transport=httpx.MockTransport(_raise(httpx.ConnectError("refused"))))
    assert down.family.name == "chatml" and down.name == "remote"
    fixed = Settings(llm_url=URL, llm_family="llama2", llm_remote_model="x")
    llm = RemoteLLM.from_settings(fixed, transport=httpx.MockTransport(server))
    assert llm.family.name == "llama2" and llm.context_window == 4096 and server.requests == []


# --- through the API ----------------------------------------------------------------------------------------


def open_api(services):
    """Auth off: these tests are about the LLM (tests/integration/test_remote_llm.py runs with keys)."""
    services.settings = services.settings.model_copy(update={"auth": False})
    return services


def _client_with(services, llm) -> TestClient:
    open_api(services)
    services.llm = llm
    pipeline = services.pipeline
    services.pipeline = RAGPipeline(services.retriever, pipeline.evidence, llm, pipeline.defaults, pipeline.abstention)
    return TestClient(create_app(services.settings, services))


def test_query_through_a_remote_llm_is_grounded_and_cited(tmp_path):
    services = fake_services(tmp_path / "data")
    server = FakeServer(reply="Project Bluefin ships on 3 March. [1]<|im_end|> and then rambles")
    with _client_with(services, remote(server, model="m")) as client:
        client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
        r = client.post("/v1/query", json={"question": "When does Project Bluefin ship?"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["answer_type"] == "generated" and body["answer"] == "Project Bluefin ships on 3 March. [1]"
        assert body["citations"][0]["source"] == "bluefin.txt"
        assert "Project Bluefin ships on 3 March" in server.bodies()[0]["prompt"]  # the evidence went in the prompt
        assert client.get("/readyz").json()["checks"]["llm"] == "ok"


def test_remote_down_gives_503_with_a_message_and_readyz_says_so(tmp_path):
    services = fake_services(tmp_path / "data")
    llm = remote(_raise(httpx.ConnectError("Connection refused")), model="m")
    with _client_with(services, llm) as client:
        client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
        for stream in (False, True):
            r = client.post("/v1/query", json={"question": "When does Project Bluefin ship?", "stream": stream})
            assert r.status_code == 503, r.text
            assert "cannot connect to the remote LLM" in r.json()["detail"]
        chat = {"messages": [{"role": "user", "content": "When does Project Bluefin ship?"}], "stream": True}
        assert client.post("/v1/chat/completions", json=chat).status_code == 503
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["llm"].startswith("unreachable")
        paths = client.get("/openapi.json").json()["paths"]
        for path in ("/v1/query", "/v1/chat/completions", "/v1/completions"):
            assert {"502", "503", "504"} <= set(paths[path]["post"]["responses"]), path


def test_remote_timeout_gives_504(tmp_path):
    services = fake_services(tmp_path / "data")
    with _client_with(services, remote(_raise(httpx.ReadTimeout("timed out")), model="m")) as client:
        client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
        r = client.post("/v1/query", json={"question": "When does Project Bluefin ship?"})
        assert r.status_code == 504 and "RAG_LLM_TIMEOUT_S" in r.json()["detail"]


class BreaksOff(httpx.SyncByteStream):
    """A stream that sends some text, then loses the connection."""

    def __iter__(self):
        yield sse(text_chunk("Project Bluefin"), text_chunk(" ships")).removesuffix(b"data: [DONE]\n\n")
        raise httpx.ReadError("connection reset by peer")


def _breaks_off(request):
    if json.loads(request.content).get("stream"):
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=BreaksOff())
    return httpx.Response(200, json={"choices": [{"index": 0, "text": "unused"}]})


def _sse_events(response) -> list[tuple[str | None, str]]:
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, line[6:]))
    return events


def test_a_remote_failing_mid_stream_ends_the_stream_with_an_error_event(tmp_path):
    services = fake_services(tmp_path / "data")
    with _client_with(services, remote(_breaks_off, model="m")) as client:
        client.post("/v1/documents", files={"file": ("bluefin.txt", FACT, "text/plain")})
        question = "When does Project Bluefin ship?"
        with client.stream("POST", "/v1/query", json={"question": question, "stream": True}) as r:
            assert r.status_code == 200
            events = _sse_events(r)
        assert [e for e, _ in events] == ["delta", "delta", "error"]
        error = json.loads(events[-1][1])
        assert error["status_code"] == 502 and "ReadError" in error["detail"]

        for path, body in (
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": question}], "stream": True}),
            ("/v1/completions", {"prompt": "Say something", "stream": True}),
        ):
            with client.stream("POST", path, json=body) as r:
                assert r.status_code == 200
                data = [d for _, d in _sse_events(r)]
            assert data[-1] == "[DONE]"
            error = json.loads(data[-2])["error"]
            assert error["code"] == 502 and "connection reset by peer" in error["message"], path
            # ... which a RemoteLLM reading this service's stream turns back into the error
            llm = remote(lambda request, d=data: event_stream(*(json.loads(x) for x in d[:-1])), model="m")
            with pytest.raises(RemoteLLMError, match=r"failed while generating: .*connection reset"):
                list(llm.stream("p"))


# --- this service as an OpenAI completion server ------------------------------------------------------------


class EchoLLM(FakeLLM):
    """Writes the prompt's last word back, and records its params."""

    def __init__(self) -> None:
        super().__init__()
        self.params: list[GenerationParams] = []

    def generate(self, prompt, params=None):
        self.params.append(params)
        generation = super().generate(prompt, params)
        generation.text = "You said " + prompt.split()[-1]
        return generation


@pytest.fixture
def echo_client(tmp_path):
    llm = EchoLLM()
    with TestClient(create_app(None, open_api(fake_services(tmp_path / "data", llm=llm)))) as client:
        yield client, llm


def test_completions_generates_from_the_prompt_without_retrieval(echo_client):
    client, llm = echo_client
    stop = ["<|im_end|>", "###", "", "###"]
    r = client.post("/v1/completions", json={"model": "x", "prompt": "say hello", "max_tokens": 7, "stop": stop})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "text_completion" and body["choices"][0]["text"] == "You said hello"
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}
    assert llm.prompts == ["say hello"]  # exactly the prompt: no retrieval, no template
    assert llm.params[0].max_new_tokens == 7 and llm.params[0].stop == ["###"]  # the family's own stop applies anyway


def test_completions_stream_and_models(echo_client):
    client, _llm = echo_client
    body = {"prompt": ["say hi"], "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", "/v1/completions", json=body) as r:
        assert r.status_code == 200
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]).strip() == "You said hi"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["usage"]["completion_tokens"] == 3
    models = client.get("/v1/models").json()
    assert models["data"][0]["id"] == "fake-llm" and models["data"][0]["family"] == "chatml"


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"prompt": "x", "n": 2}, "n"),
        ({"prompt": "x", "echo": True}, "echo"),
        ({"prompt": ""}, "prompt must not be empty"),
        ({"prompt": ["a", "b"]}, "prompt"),
        ({"prompt": "x", "stop": ["s"] * 17}, "stop"),
        ({"prompt": "word " * 2000, "max_tokens": 100}, "exceeds the model's window of 2048 tokens"),
    ],
    ids=["n", "echo", "empty", "batch", "stops", "window"],
)
def test_completions_bad_requests_are_422(echo_client, body, phrase):
    client, llm = echo_client
    r = client.post("/v1/completions", json=body)
    assert r.status_code == 422
    assert phrase in json.dumps(r.json()["detail"])
    assert llm.prompts == []
