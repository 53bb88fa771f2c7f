"""OpenAI-compatible endpoints, so existing OpenAI clients and tools can use the service.

``/v1/chat/completions`` is RAG: the last user message is the question, and the messages before it are the
conversation it is read against (each user message with the assistant's reply after it is one earlier turn; OpenAI
clients keep the history themselves); the answer is the same grounded, verified answer as /v1/query, and the
response also carries ``sources`` (the citations), ``answer_type`` and ``standalone_question`` (the question
actually answered once a follow-up was resolved, or null).
When streaming, the model's text is sent as it is generated; if verification then rejects it, a last delta says
so and quotes the supporting evidence, so a client that only concatenates deltas still ends with a checkable
answer.

``/v1/completions`` is plain generation from a prompt with the loaded model, no retrieval: what OpenVINO Model
Server, vLLM and llama.cpp's server offer, so one instance can be another's remote LLM (``RAG_LLM_URL``).
The prompt is sent as given (format it in the model's family template); the family's own stop strings always
apply, besides the request's ``stop``. ``/v1/models`` lists the one model.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse

from api.auth import AUTH_RESPONSES, ReadCaller, read_access
from api.deps import DefaultsDep, LLMDep, PipelineDep, ServicesDep
from api.schemas import LLM_RESPONSES, ErrorBody
from api.streaming import first_event_now
from rag import metrics
from rag.conversation import Turn
from rag.errors import Unprocessable, UpstreamError
from rag.models.ports import GenerationParams, LanguageModel
from rag.options import AnswerOptions, RequestDefaults
from rag.types import Citation

# Every route here needs a read key (OpenAI clients send their api_key as the Bearer token).
router = APIRouter(prefix="/v1", tags=["openai"], responses=AUTH_RESPONSES, dependencies=[Depends(read_access)])


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(part.get("text", "") for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # clients send many optional OpenAI fields we do not use
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | Annotated[list[str], Field(max_length=8)] | None = None  # as GenerationParams.stop
    top_k: int | None = Field(default=None, ge=1, le=50, description="extension: chunks to retrieve")

    def question(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user" and message.text().strip():
                return message.text().strip()
        raise Unprocessable("messages must contain a user message with text")

    def history(self) -> list[Turn]:
        """The turns before the last user message: each user message with the assistant's reply that follows it
        (several replies joined; none: an empty answer). System and tool messages are not turns."""
        last = max(i for i, m in enumerate(self.messages) if m.role == "user" and m.text().strip())
        turns: list[Turn] = []
        question: str | None = None
        replies: list[str] = []
        for message in self.messages[:last]:
            text = message.text().strip()
            if message.role == "user" and text:
                if question is not None:
                    turns.append(Turn(question=question, answer=" ".join(replies)))
                question, replies = text, []
            elif message.role == "assistant" and text and question is not None:
                replies.append(text)
        if question is not None:
            turns.append(Turn(question=question, answer=" ".join(replies)))
        return turns

    def options(self, defaults: RequestDefaults) -> AnswerOptions:
        """The request's own settings; the rest (RAG_TOP_K, RAG_MAX_NEW_TOKENS) from ``defaults``."""
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        given = {
            "max_new_tokens": self.max_completion_tokens or self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }
        generation = {name: value for name, value in given.items() if value is not None} | {"stop": stop}
        return defaults.resolve(top_k=self.top_k, generation=generation)


def _envelope(model: str, completion_id: str, created: int, **fields: Any) -> dict[str, Any]:
    return {"id": completion_id, "created": created, "model": model, **fields}


def openai_stream(events: Iterator[dict[str, str]]) -> Iterator[dict[str, str]]:
    """A failing LLM after the 200 has gone out: an OpenAI ``error`` object in the stream (as vLLM sends), then
    ``[DONE]``; a RemoteLLM reading this stream turns it back into the error."""
    try:
        yield from events
    except UpstreamError as exc:
        error = {"message": str(exc), "type": "llm_error", "code": exc.status_code}
        yield {"data": json.dumps({"error": error}, ensure_ascii=False)}
        yield {"data": "[DONE]"}


def correction(answer: str, citations: list[dict[str, Any]]) -> str:
    quote = citations[0]["quote"] if citations else answer
    return f"\n\n(Not supported by the documents. They say: “{quote}”)"


@router.post(
    "/chat/completions",
    summary="OpenAI-compatible chat completion, grounded in the documents",
    responses={422: {"model": ErrorBody}, **LLM_RESPONSES},
)
def chat_completions(
    body: ChatRequest, pipeline: PipelineDep, defaults: DefaultsDep, services: ServicesDep, caller: ReadCaller
):
    question, history = body.question(), body.history()
    options = body.options(defaults)
    params, retrieval = options.generation, options.retrieval
    model = body.model or pipeline.llm.name
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    if not body.stream:
        answer = pipeline.answer(
            question, params=params, retrieval=retrieval, collection=caller.collection, history=history
        )
        usage = {
            "prompt_tokens": answer.timings.prompt_tokens,
            "completion_tokens": answer.timings.generated_tokens,
            "total_tokens": answer.timings.prompt_tokens + answer.timings.generated_tokens,
        }
        return _envelope(
            model,
            completion_id,
            created,
            object="chat.completion",
            choices=[{"index": 0, "message": {"role": "assistant", "content": answer.answer}, "finish_reason": "stop"}],
            usage=usage,
            sources=[c.model_dump() for c in answer.citations],
            answer_type=answer.answer_type,
            standalone_question=answer.standalone_question,
        )

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, str]:
        payload = _envelope(
            model,
            completion_id,
            created,
            object="chat.completion.chunk",
            choices=[{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        )
        return {"data": json.dumps(payload, ensure_ascii=False)}

    # A request the model cannot take (context window) gets a 4xx with a message, not a stream that breaks off.
    answer_events = first_event_now(
        pipeline.answer_stream(
            question, params=params, retrieval=retrieval, collection=caller.collection, history=history
        )
    )

    def events():
        yield chunk({"role": "assistant", "content": ""})
        streamed = ""
        for event in answer_events:
            if event.event == "delta":
                streamed += event.data["text"]
                yield chunk({"content": event.data["text"]})
            elif event.event == "answer":
                final = event.data
                # A composed answer streams whole: what was sent is the answer, nothing to correct.
                if final["answer_type"] != "generated" and streamed.strip() != final["answer"].strip():
                    text = correction(final["answer"], final["citations"]) if streamed else final["answer"]
                    yield chunk({"content": text})
                sources = [Citation(**c).model_dump() for c in final["citations"]]
                standalone = final.get("standalone_question")
                yield chunk(
                    {}, "stop", sources=sources, answer_type=final["answer_type"], standalone_question=standalone
                )
        yield {"data": "[DONE]"}

    return EventSourceResponse(
        openai_stream(events()), ping=15, shutdown_grace_period=services.settings.shutdown_timeout_s
    )


@router.get(
    "/models",
    summary="OpenAI-compatible model list: the one model this service generates with",
    responses={503: LLM_RESPONSES[503]},
)
def models(llm: LLMDep) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": llm.name, "object": "model", "created": 0, "owned_by": "rag-service", "family": llm.family.name}
        ],
    }


class StreamOptions(BaseModel):
    include_usage: bool = False


class CompletionRequest(BaseModel):
    """OpenAI's completion request, with vLLM's ``top_k`` and ``repetition_penalty``; one prompt, one choice."""

    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)] = Field(
        description="the whole prompt, already in the model's template (GET /healthz names its prompt_family)"
    )
    max_tokens: int | None = Field(default=None, ge=1, le=4096, description="default: RAG_MAX_NEW_TOKENS")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=-1, le=1000, description="sampling top-k; 0 or -1: off")
    repetition_penalty: float | None = Field(default=None, ge=1.0, le=2.0)
    stop: str | Annotated[list[str], Field(max_length=16)] | None = None
    n: int = Field(default=1, ge=1, le=1, description="only 1")
    echo: Literal[False] = Field(default=False, description="not supported")
    stream: bool = False
    stream_options: StreamOptions | None = None

    def text(self) -> str:
        prompt = self.prompt if isinstance(self.prompt, str) else self.prompt[0]
        if not prompt:
            raise Unprocessable("prompt must not be empty")
        return prompt

    def params(self, llm: LanguageModel, defaults: RequestDefaults) -> GenerationParams:
        """The request's own settings; the rest (RAG_MAX_NEW_TOKENS) from ``defaults``."""
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        # The family's stops apply anyway; a client that sends them too (a remote RAG_LLM_URL does) does not use up
        # GenerationParams' 8 places. Up to 16 are accepted here, as vLLM and llama.cpp take long lists.
        stops = [s for s in dict.fromkeys(stops) if s and s not in llm.family.stop_strings]
        given = {
            "max_new_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": None if self.top_k is None else max(self.top_k, 0),  # 0 or -1: off
            "repetition_penalty": self.repetition_penalty,
        }
        options = defaults.resolve(generation={name: value for name, value in given.items() if value is not None})
        return options.generation.model_copy(update={"stop": stops})


@router.post(
    "/completions",
    summary="OpenAI-compatible text completion: plain generation from a prompt, without retrieval",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or server-sent chunks with stream=true"},
        422: {"model": ErrorBody, "description": "invalid fields, or a prompt too long for the model's window"},
        **LLM_RESPONSES,
    },
)
def completions(body: CompletionRequest, llm: LLMDep, defaults: DefaultsDep, services: ServicesDep):
    prompt = body.text()
    params = body.params(llm, defaults)
    prompt_tokens = llm.count_tokens(prompt)
    if prompt_tokens + params.max_new_tokens > llm.context_window:
        raise Unprocessable(
            f"the prompt has {prompt_tokens} tokens; with max_tokens={params.max_new_tokens} that exceeds the "
            f"model's window of {llm.context_window} tokens: shorten the prompt or lower max_tokens"
        )
    model = body.model or llm.name
    completion_id, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())

    def usage(completion_tokens: int) -> dict[str, int]:
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    if not body.stream:
        generation = llm.generate(prompt, params)
        metrics.observe_generation(generation.prompt_tokens, generation.generated_tokens)
        finish = "length" if generation.generated_tokens >= params.max_new_tokens else "stop"
        return _envelope(
            model,
            completion_id,
            created,
            object="text_completion",
            choices=[{"index": 0, "text": generation.text, "finish_reason": finish, "logprobs": None}],
            usage=usage(generation.generated_tokens),
        )

    def chunk(text: str, finish: str | None = None, **extra: Any) -> dict[str, str]:
        choice = {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
        payload = _envelope(model, completion_id, created, object="text_completion", choices=[choice], **extra)
        return {"data": json.dumps(payload, ensure_ascii=False)}

    # A model that fails (a remote one that is down) gets its status and message, not a stream that breaks off.
    deltas = first_event_now(llm.stream(prompt, params))

    def events():
        pieces = []
        for delta in deltas:
            pieces.append(delta)
            yield chunk(delta)
        text = "".join(pieces).strip()
        generated = llm.count_tokens(text) if text else 0
        metrics.observe_generation(prompt_tokens, generated)
        yield chunk("", "length" if generated >= params.max_new_tokens else "stop")
        if body.stream_options and body.stream_options.include_usage:
            yield {
                "data": json.dumps(
                    _envelope(
                        model, completion_id, created, object="text_completion", choices=[], usage=usage(generated)
                    )
                )
            }
        yield {"data": "[DONE]"}

    return EventSourceResponse(
        openai_stream(events()), ping=15, shutdown_grace_period=services.settings.shutdown_timeout_s
    )
