"""OpenAI-compatible chat completions, so existing OpenAI clients and tools can ask the service.

The last user message is the question; the answer is the same grounded, verified answer as /v1/query, and the
response also carries ``sources`` (the citations) and ``answer_type``. When streaming, the model's text is sent
as it is generated; if verification then rejects it, a last delta says so and quotes the supporting evidence,
so a client that only concatenates deltas still ends with a checkable answer.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse

from api.deps import get_pipeline, get_services
from api.schemas import ErrorBody
from api.services import Services
from rag.models.llm import GenerationParams
from rag.pipeline import RAGPipeline
from rag.retrieval import RetrievalOptions
from rag.types import Citation

router = APIRouter(prefix="/v1", tags=["openai"])


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
        raise HTTPException(status_code=422, detail="messages must contain a user message with text")

    def params(self, default_max_new_tokens: int) -> GenerationParams:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return GenerationParams(
            max_new_tokens=self.max_completion_tokens or self.max_tokens or default_max_new_tokens,
            temperature=self.temperature or 0.0,
            top_p=self.top_p or 1.0,
            stop=stop,
        )


def _envelope(model: str, completion_id: str, created: int, **fields: Any) -> dict[str, Any]:
    return {"id": completion_id, "created": created, "model": model, **fields}


def correction(answer: str, citations: list[dict[str, Any]]) -> str:
    quote = citations[0]["quote"] if citations else answer
    return f"\n\n(Not supported by the documents. They say: “{quote}”)"


@router.post(
    "/chat/completions",
    summary="OpenAI-compatible chat completion, grounded in the documents",
    responses={422: {"model": ErrorBody}},
)
def chat_completions(
    body: ChatRequest, pipeline: RAGPipeline = Depends(get_pipeline), services: Services = Depends(get_services)
):
    question = body.question()
    params = body.params(pipeline.default_max_new_tokens)
    retrieval = RetrievalOptions(top_k=body.top_k or pipeline.default_top_k)
    model = body.model or pipeline.llm.name
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    if not body.stream:
        answer = pipeline.answer(question, params=params, retrieval=retrieval)
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

    answer_events = pipeline.answer_stream(question, params=params, retrieval=retrieval)
    # The first event is taken before the 200 goes out, so a request the model cannot take (context window) gets
    # a 4xx with a message rather than a stream that breaks off.
    answer_events = itertools.chain([next(answer_events)], answer_events)

    def events():
        yield chunk({"role": "assistant", "content": ""})
        streamed = False
        for event in answer_events:
            if event.event == "delta":
                streamed = True
                yield chunk({"content": event.data["text"]})
            elif event.event == "answer":
                final = event.data
                if final["answer_type"] != "generated":
                    text = correction(final["answer"], final["citations"]) if streamed else final["answer"]
                    yield chunk({"content": text})
                sources = [Citation(**c).model_dump() for c in final["citations"]]
                yield chunk({}, "stop", sources=sources, answer_type=final["answer_type"])
        yield {"data": "[DONE]"}

    return EventSourceResponse(events(), ping=15, shutdown_grace_period=services.settings.shutdown_timeout_s)
