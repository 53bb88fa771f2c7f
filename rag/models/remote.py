"""Generation by a remote OpenAI-compatible server (OpenVINO Model Server, vLLM, llama.cpp's server, or another
instance of this service) instead of the model in this process.

``RemoteLLM`` has the in-process ``LLM``'s face, so the pipeline, citations and verification do not change:

- Prompts are formatted here, in the family's own template, and sent to ``/completions`` as they are, so the
  template and the stop strings are ours whatever the server would do with chat messages. Servers that only
  offer ``/chat/completions`` can be used with ``api="chat"``: the prompt is split back into its system and user
  parts and the server's chat template lays them out.
- Stop strings (the family's and the request's) are sent as ``stop`` and also enforced here, with the same
  ``StopHoldback`` as the local model, since not every server honours them, or honours all of them. A stream is
  closed as soon as one appears, which stops the server's generation too.
- Tokens for the context-window budget are counted with a local tokenizer of the same model when one is given
  (``tokenizer``), else bounded from above by the UTF-8 length (``ESTIMATE_BYTES_PER_TOKEN``), so that a prompt
  the budget admits fits the window.
- Failures of the remote become ``RemoteLLMError`` with the HTTP status the service answers: 503 when it cannot
  be reached or says it is busy, 504 when it does not answer in time, 502 when it answers with an error or
  something that is not an OpenAI reply. The message says what to check.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import httpx

from rag.errors import UpstreamError
from rag.models.families import FAMILIES, PromptFamily, detect_family, get_family
from rag.models.ports import Generation, GenerationParams
from rag.models.stops import StopHoldback, cut_at_stops

log = logging.getLogger(__name__)

# Without the model's tokenizer, count one token per UTF-8 byte: an upper bound, since every token of a byte-level
# BPE (SmolLM2, Llama 3, Qwen, GPT-NeoX) or byte-fallback SentencePiece (Llama 2) vocabulary stands for at least
# one byte. English prose has about 3-4 bytes a token, but digits are one token each and Chinese about 1.5 bytes
# a token, so any smaller divisor undercounts some text (docs/deploy.md has the measurements). A prompt the budget
# admits thus always fits the real window; the price is that evidence is trimmed early near a small window.
ESTIMATE_BYTES_PER_TOKEN = 1.0

RemoteAPI = Literal["completions", "chat"]


class RemoteLLMError(UpstreamError):
    """The remote LLM failed; ``status_code`` is what the service answers (502, 503 or 504)."""


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / ESTIMATE_BYTES_PER_TOKEN)


def _reply_message(response: httpx.Response) -> str:
    """The server's own words: OpenAI's ``{"error": {"message"}}``, FastAPI's ``detail``, or the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if error:
            return str(error)
        if body.get("detail"):
            return str(body["detail"])
    return json.dumps(body)[:300]


class RemoteLLM:
    def __init__(
        self,
        url: str,
        family: PromptFamily | None = None,
        *,
        model: str | None = None,
        api_key: str | None = None,
        api: RemoteAPI = "completions",
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        tokenizer: Any = None,
        context_window: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``url`` is the API base, as OpenAI clients take it (``http://host:8000/v1``); ``family`` None detects it
        from the served model's name; ``tokenizer`` an ``openvino_genai.Tokenizer`` of the served model, or None to
        estimate; ``transport`` is for tests."""
        self.url = url.rstrip("/")
        self._family = family
        self._next_lookup = 0.0
        self.api = api
        self.timeout_s = timeout_s
        self._model = model
        self._tokenizer = tokenizer
        self._context_window = context_window
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings, transport: httpx.BaseTransport | None = None) -> RemoteLLM:
        """Family: ``llm_family``, else detected from the remote model's name (ChatML when that is unknown)."""
        llm = cls(
            settings.llm_url,
            None if settings.llm_family == "auto" else get_family(settings.llm_family),
            model=settings.llm_remote_model,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            api=settings.llm_remote_api,
            timeout_s=settings.llm_timeout_s,
            connect_timeout_s=settings.llm_connect_timeout_s,
            tokenizer=load_tokenizer(settings.llm_tokenizer) if settings.llm_tokenizer else None,
            context_window=settings.llm_context_window,
            transport=transport,
        )
        log.info("remote LLM at %s (%s API, %s prompt family)", llm.url, llm.api, llm.family.name)
        return llm

    # --- the LLM's face --------------------------------------------------------------------------------------

    @property
    def family(self) -> PromptFamily:
        """The configured family, else the one the served model's name says. While the server cannot be asked
        (it may start after this service, as in docker compose) ChatML stands in, and it is asked again at most
        every 10 s, so a prompt is never held up by more than one failed lookup at a time."""
        if self._family is None:
            if self._model is None and time.monotonic() < self._next_lookup:
                return FAMILIES["chatml"]
            try:
                self._family = detect_family(self.model)
            except RemoteLLMError as exc:
                self._next_lookup = time.monotonic() + 10.0
                log.warning("remote LLM: %s; the ChatML prompt family stands in until it answers", exc)
                return FAMILIES["chatml"]
        return self._family

    @family.setter
    def family(self, family: PromptFamily) -> None:
        self._family = family

    @property
    def model(self) -> str:
        """The model name sent with each request: the configured one, else the first the server lists."""
        if self._model is None:
            with self._errors("/models"):
                response = self._client.get("/models")
            self._raise_for_status(response, "/models")
            try:
                self._model = str(response.json()["data"][0]["id"])
            except (ValueError, KeyError, IndexError, TypeError):
                raise RemoteLLMError(
                    f"the remote LLM at {self.url} lists no model at /models; set RAG_LLM_REMOTE_MODEL", 502
                ) from None
        return self._model

    @property
    def name(self) -> str:
        return self._model or "remote"

    @property
    def context_window(self) -> int:
        return self._context_window or self.family.context_window

    def count_tokens(self, text: str) -> int:
        if self._tokenizer is not None:
            return int(self._tokenizer.encode(text).input_ids.get_shape()[1])
        return estimate_tokens(text)

    def warm_up(self) -> None:
        """Nothing to compile here; say at start-up whether the remote answers, without failing if it does not yet."""
        state = self.check()
        if state != "ok":
            log.warning("remote LLM at %s: %s", self.url, state)

    def check(self) -> str:
        """Readiness: "ok" when the server answers ``GET /models`` (any status below 500 but 401 and 403)."""
        try:
            response = self._client.get("/models", timeout=min(self.timeout_s, 5.0))
        except httpx.HTTPError as exc:
            return f"unreachable: {self.url}: {type(exc).__name__}: {exc}"
        if response.status_code in (401, 403):
            return f"rejected: {self.url} answered {response.status_code}; check RAG_LLM_API_KEY"
        if response.status_code >= 500:
            return f"failing: {self.url} answered {response.status_code}: {_reply_message(response)}"
        return "ok"

    def generate(self, prompt: str, params: GenerationParams | None = None) -> Generation:
        params = params or GenerationParams()
        path, payload = self._request(prompt, params, stream=False)
        started = time.perf_counter()
        with self._errors(path):
            response = self._client.post(path, json=payload)
        total_ms = (time.perf_counter() - started) * 1000
        self._raise_for_status(response, path)
        try:
            body = response.json()
            choice = body["choices"][0]
            raw = choice["message"]["content"] if self.api == "chat" else choice["text"]
            usage = body.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError):
            raise RemoteLLMError(
                f"the remote LLM at {self.url} sent a reply to {path} that is not an OpenAI completion: "
                f"{response.text[:200]!r}",
                502,
            ) from None
        text = cut_at_stops(raw or "", self._stops(params))
        return Generation(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or self.count_tokens(prompt)),
            generated_tokens=int(usage.get("completion_tokens") or (self.count_tokens(text) if text else 0)),
            first_token_ms=None,
            total_ms=total_ms,
        )

    def stream(self, prompt: str, params: GenerationParams | None = None) -> Iterator[str]:
        """Deltas as the server sends them, never a stop string or a piece of one; leaving early (or a stop string)
        closes the connection, which ends the server's generation."""
        params = params or GenerationParams()
        path, payload = self._request(prompt, params, stream=True)
        holdback = StopHoldback(list(self._stops(params)))
        with self._errors(path), self._client.stream("POST", path, json=payload) as response:
            if response.status_code >= 400:
                response.read()
                self._raise_for_status(response, path)
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise RemoteLLMError(
                    f"the remote LLM at {self.url} did not stream {path} (content-type "
                    f"{response.headers.get('content-type')!r}, not text/event-stream)",
                    502,
                )
            for piece in self._pieces(response, path):
                delta, stopped = holdback.feed(piece)
                if delta:
                    yield delta
                if stopped:
                    return
            if rest := holdback.flush():
                yield rest

    # --- plumbing --------------------------------------------------------------------------------------------

    def _stops(self, params: GenerationParams) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for s in (*self.family.stop_strings, *params.stop) if s))

    def _request(self, prompt: str, params: GenerationParams, stream: bool) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stop": list(self._stops(params)),
            "stream": stream,
        }
        # Extensions that vLLM, OpenVINO Model Server, llama.cpp and this service take; sent only when asked for.
        if params.top_k:
            payload["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            payload["repetition_penalty"] = params.repetition_penalty
        if self.api == "completions":
            return "/completions", {**payload, "prompt": prompt}
        parts = self.family.parse(prompt)
        system, user = parts if parts is not None else ("", prompt)
        messages = [{"role": "system", "content": system}] if system else []
        return "/chat/completions", {**payload, "messages": [*messages, {"role": "user", "content": user}]}

    def _pieces(self, response: httpx.Response, path: str) -> Iterator[str]:
        """Text pieces of a server-sent event stream of OpenAI chunks."""
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue  # blank separators, comments (": ping"), event names
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                chunk = json.loads(data)
            except ValueError:
                raise RemoteLLMError(
                    f"the remote LLM at {self.url} sent a stream event that is not JSON", 502
                ) from None
            if isinstance(chunk, dict) and chunk.get("error"):
                error = chunk["error"]
                message = error.get("message", error) if isinstance(error, dict) else error
                raise RemoteLLMError(f"the remote LLM at {self.url} failed while generating: {message}", 502)
            try:
                choices = chunk["choices"]
                if not choices:  # a usage-only chunk
                    continue
                piece = choices[0]["delta"].get("content") if self.api == "chat" else choices[0].get("text")
            except (KeyError, IndexError, TypeError, AttributeError):
                raise RemoteLLMError(
                    f"the remote LLM at {self.url} sent a stream event that is not an OpenAI chunk: {data[:200]!r}",
                    502,
                ) from None
            if piece:
                yield piece

    @contextmanager
    def _errors(self, path: str) -> Iterator[None]:
        """Transport failures as the status the service answers, with what to check."""
        try:
            yield
        except httpx.TimeoutException as exc:
            what = "accept a connection" if isinstance(exc, httpx.ConnectTimeout) else "answer"
            raise RemoteLLMError(
                f"the remote LLM at {self.url} did not {what} in time ({type(exc).__name__} on {path}; "
                f"RAG_LLM_TIMEOUT_S={self.timeout_s:g})",
                504,
            ) from exc
        except httpx.ConnectError as exc:
            raise RemoteLLMError(
                f"cannot connect to the remote LLM at {self.url} ({exc}); is it running, and is RAG_LLM_URL right?",
                503,
            ) from exc
        except httpx.TransportError as exc:
            raise RemoteLLMError(
                f"the connection to the remote LLM at {self.url} failed on {path}: {type(exc).__name__}: {exc}", 502
            ) from exc

    def _raise_for_status(self, response: httpx.Response, path: str) -> None:
        status = response.status_code
        if status < 400:
            return
        message = _reply_message(response)
        where = f"the remote LLM at {self.url} answered {status} to {path}"
        if status in (401, 403):
            raise RemoteLLMError(f"{where}: {message}; set RAG_LLM_API_KEY to a key it accepts", 502)
        if status == 404:
            raise RemoteLLMError(
                f"{where}: {message}; RAG_LLM_URL must be the API base (ending in /v1, or /v3 for OpenVINO Model "
                f"Server) and RAG_LLM_REMOTE_MODEL a model it serves",
                502,
            )
        if status in (429, 503):
            raise RemoteLLMError(f"{where} (busy or not ready): {message}; try again later", 503)
        raise RemoteLLMError(f"{where}: {message}", 502)


def load_tokenizer(setting: str):
    """The served model's tokenizer, for exact counts: 'default', a .gguf file or an OpenVINO IR folder."""
    import openvino_genai as ov_genai

    from rag.models.locate import resolve_llm

    return ov_genai.Tokenizer(str(resolve_llm(setting)))
