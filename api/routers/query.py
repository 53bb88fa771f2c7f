from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter
from sse_starlette.sse import EventSourceResponse

from api.auth import AUTH_RESPONSES, ReadCaller
from api.deps import DefaultsDep, PipelineDep, ServicesDep
from api.routers.conversations import conversation_of
from api.schemas import LLM_RESPONSES, ErrorBody, QueryRequest, QueryResponse, RetrieveRequest, RetrieveResponse
from api.streaming import first_event_now
from rag.errors import UpstreamError
from rag.pipeline import StreamEvent
from rag.retrieval import RetrievalOptions
from rag.types import Timings

router = APIRouter(prefix="/v1", tags=["query"], responses=AUTH_RESPONSES)


def _sse(events: Iterator[StreamEvent]) -> Iterator[dict[str, str]]:
    try:
        for e in events:
            yield {"event": e.event, "data": json.dumps(e.data, ensure_ascii=False)}
    except UpstreamError as exc:  # after the 200 has gone out: the stream says what its status would have been
        yield {"event": "error", "data": json.dumps({"detail": str(exc), "status_code": exc.status_code})}


@router.post(
    "/query",
    response_model=QueryResponse,
    summary="Answer a question from the indexed documents, with citations",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or events with stream=true"},
        404: {"model": ErrorBody, "description": "`conversation_id` names no conversation of the caller's collection"},
        422: {"model": ErrorBody, "description": "invalid fields, or a question too long for the model's window"},
        **LLM_RESPONSES,
    },
)
def query(
    body: QueryRequest, pipeline: PipelineDep, defaults: DefaultsDep, services: ServicesDep, caller: ReadCaller
) -> QueryResponse | EventSourceResponse:
    options = defaults.resolve(
        top_k=body.top_k, max_new_tokens=body.max_new_tokens, retrieval=body.retrieval, generation=body.generation
    )
    params, retrieval = options.generation, options.retrieval
    # In a conversation: the earlier turns are the history, and the answer is recorded as the next turn.
    conversation = conversation_of(services, caller, body.conversation_id) if body.conversation_id else None
    if body.stream:
        if conversation is None:
            events = pipeline.answer_stream(
                body.question, params=params, retrieval=retrieval, collection=caller.collection
            )
        else:
            events = services.conversations.answer_stream(
                pipeline, conversation, body.question, params=params, retrieval=retrieval
            )
        # Retrieval and the context-window check run before the 200 is sent: their errors are a 4xx with a message.
        events = first_event_now(events)
        return EventSourceResponse(
            _sse(events),
            ping=15,
            # On SIGTERM an answer being streamed may finish (by default sse-starlette cuts it off at once).
            shutdown_grace_period=services.settings.shutdown_timeout_s,
        )
    if conversation is None:
        answer = pipeline.answer(body.question, params=params, retrieval=retrieval, collection=caller.collection)
        return QueryResponse(**answer.model_dump())
    answer, turn = services.conversations.answer(
        pipeline, conversation, body.question, params=params, retrieval=retrieval
    )
    return QueryResponse(**answer.model_dump(), conversation_id=conversation.id if turn else None)


@router.post(
    "/retrieve",
    response_model=RetrieveResponse,
    summary="The ranked chunks for a question, without generating an answer",
    responses={422: {"model": ErrorBody}},
)
def retrieve(body: RetrieveRequest, services: ServicesDep, caller: ReadCaller) -> RetrieveResponse:
    timings = Timings()
    options = RetrievalOptions(**body.model_dump(exclude={"question"}))
    chunks = services.retriever.retrieve(body.question, options, timings, caller.collection)
    return RetrieveResponse(chunks=chunks, timings=timings)
