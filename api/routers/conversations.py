"""Conversations: threads of questions whose follow-ups are read against the earlier turns.

A conversation belongs to the caller's collection (tenant), like documents: another collection's is as absent as a
missing one. Ask in one with ``conversation_id`` on ``POST /v1/query``; each answer is recorded as its next turn.
A read key is enough: a conversation is the asker's own state, not the documents'.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response, status

from api.auth import AUTH_RESPONSES, Caller, ReadCaller
from api.deps import ServicesDep
from api.schemas import ConversationCreate, ConversationDetail, ConversationList, ConversationOut, ErrorBody
from api.tenancy import owned_or_404
from rag.store.registry import Conversation
from service import Services

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], responses=AUTH_RESPONSES)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such conversation in the caller's collection"}
}


def conversation_of(services: Services, caller: Caller, conversation_id: str) -> Conversation:
    """The conversation if it is in the caller's collection; another collection's is as absent as a missing one."""
    return owned_or_404(services.registry.get_conversation(conversation_id), caller, "conversation", conversation_id)


@router.post(
    "",
    response_model=ConversationOut,
    status_code=status.HTTP_201_CREATED,
    summary="Start a conversation",
    description="An empty conversation in the caller's collection. Ask in it with `conversation_id` on "
    "`POST /v1/query`: follow-up questions are read against its earlier turns, and each answer is recorded.",
)
def create_conversation(
    services: ServicesDep, caller: ReadCaller, response: Response, body: ConversationCreate | None = None
) -> ConversationOut:
    conversation = services.registry.create_conversation(caller.collection, body.title if body else None)
    response.headers["Location"] = f"/v1/conversations/{conversation.id}"
    return ConversationOut(**conversation.model_dump())


@router.get(
    "",
    response_model=ConversationList,
    summary="The caller's conversations, the most recently used first",
)
def list_conversations(
    services: ServicesDep,
    caller: ReadCaller,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=2**31, description="conversations to skip"),
) -> ConversationList:
    records = services.registry.list_conversations(caller.collection, limit=limit, offset=offset)
    return ConversationList(
        conversations=[ConversationOut(**c.model_dump()) for c in records],
        total=services.registry.count_conversations(caller.collection),
    )


@router.get(
    "/{conversation_id}",
    response_model=ConversationDetail,
    responses=_NOT_FOUND,
    summary="One conversation with its turns: each question, the standalone question answered, the answer and "
    "its citations",
)
def get_conversation(conversation_id: str, services: ServicesDep, caller: ReadCaller) -> ConversationDetail:
    conversation = conversation_of(services, caller, conversation_id)
    turns = services.registry.conversation_turns(conversation.id)
    return ConversationDetail(**conversation.model_dump(), turns=turns)


@router.delete(
    "/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_NOT_FOUND,
    summary="Delete a conversation and its turns",
)
def delete_conversation(conversation_id: str, services: ServicesDep, caller: ReadCaller) -> Response:
    conversation = conversation_of(services, caller, conversation_id)
    services.registry.delete_conversation(conversation.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
