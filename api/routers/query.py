from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

from fastapi import APIRouter, Depends
from sse_starlette.sse import EventSourceResponse

from api.auth import AUTH_RESPONSES, Caller, read_access
from api.deps import get_pipeline, get_services
from api.schemas import LLM_RESPONSES, ErrorBody, QueryRequest, QueryResponse, RetrieveRequest, RetrieveResponse
from api.services import Services
from rag.models.llm import GenerationParams
from rag.models.remote import RemoteLLMError
from rag.pipeline import RAGPipeline, StreamEvent
from rag.retrieval import RetrievalOptions
from rag.types import Timings

router = APIRouter(prefix="/v1", tags=["query"], responses=AUTH_RESPONSES)


def generation_params(body: QueryRequest, pipeline: RAGPipeline) -> GenerationParams:
    params = body.generation or GenerationParams(max_new_tokens=pipeline.default_max_new_tokens)
    if body.max_new_tokens is not None:
        params = params.model_copy(update={"max_new_tokens": body.max_new_tokens})
    return params


def retrieval_options(body: QueryRequest, pipeline: RAGPipeline) -> RetrievalOptions:
    options = body.retrieval or RetrievalOptions(top_k=pipeline.default_top_k)
    if body.top_k is not None:
        options = options.model_copy(update={"top_k": body.top_k})
    return options


def _sse(events: Iterator[StreamEvent]) -> Iterator[dict[str, str]]:
    try:
        for e in events:
            yield {"event": e.event, "data": json.dumps(e.data, ensure_ascii=False)}
    except RemoteLLMError as exc:  # after the 200 has gone out: the stream says what its status would have been
        yield {"event": "error", "data": json.dumps({"detail": str(exc), "status_code": exc.status_code})}


@router.post(
    "/query",
    response_model=QueryResponse,
    summary="Answer a question from the indexed documents, with citations",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or events with stream=true"},
        422: {"model": ErrorBody, "description": "invalid fields, or a question too long for the model's window"},
        **LLM_RESPONSES,
    },
)
def query(
    body: QueryRequest,
    pipeline: RAGPipeline = Depends(get_pipeline),
    services: Services = Depends(get_services),
    caller: Caller = Depends(read_access),
) -> QueryResponse | EventSourceResponse:
    params, retrieval = generation_params(body, pipeline), retrieval_options(body, pipeline)
    if body.stream:
        events = pipeline.answer_stream(body.question, params=params, retrieval=retrieval, collection=caller.collection)
        # Take the first event now: retrieval and the context-window check run before the 200 is sent, so their
        # errors are a 4xx with a message, not a stream broken off after it started.
        events = itertools.chain([next(events)], events)
        return EventSourceResponse(
            _sse(events),
            ping=15,
            # On SIGTERM an answer being streamed may finish (by default sse-starlette cuts it off at once).
            shutdown_grace_period=services.settings.shutdown_timeout_s,
        )
    answer = pipeline.answer(body.question, params=params, retrieval=retrieval, collection=caller.collection)
    return QueryResponse(**answer.model_dump())


@router.post(
    "/retrieve",
    response_model=RetrieveResponse,
    summary="The ranked chunks for a question, without generating an answer",
    responses={422: {"model": ErrorBody}},
)
def retrieve(
    body: RetrieveRequest, services: Services = Depends(get_services), caller: Caller = Depends(read_access)
) -> RetrieveResponse:
    timings = Timings()
    options = RetrievalOptions(**body.model_dump(exclude={"question"}))
    chunks = services.retriever.retrieve(body.question, options, timings, caller.collection)
    return RetrieveResponse(chunks=chunks, timings=timings)
