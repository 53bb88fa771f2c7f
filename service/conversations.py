"""Answering inside a conversation: its earlier turns are the history a follow-up is read against, and each answer
is kept as the conversation's next turn. The HTTP routes and ``rag chat`` both answer through here."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from rag.conversation import Turn
from rag.pipeline import RAGPipeline, StreamEvent
from rag.store.registry import Conversation, ConversationTurn, Registry
from rag.types import Answer, Citation

# How many of the latest turns are handed to the pipeline as history. Follow-ups refer to the last few turns; the
# bound keeps a long conversation's cost per question flat.
HISTORY_TURNS = 20


def as_turn(turn: ConversationTurn) -> Turn:
    """A stored turn as the answer path sees an earlier exchange."""
    return Turn(
        question=turn.question,
        answer=turn.answer,
        cited_chunk_ids=tuple(dict.fromkeys(c.chunk_id for c in turn.citations)),
        standalone=turn.standalone_question,
    )


class ConversationService:
    """Conversations over the registry: history in, the new turn recorded."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def history(self, conversation_id: str) -> list[Turn]:
        return [as_turn(t) for t in self.registry.conversation_turns(conversation_id, last=HISTORY_TURNS)]

    def record(
        self,
        conversation_id: str,
        question: str,
        answer: str,
        answer_type: str,
        citations: Sequence[Citation],
        standalone_question: str | None,
    ) -> ConversationTurn | None:
        return self.registry.add_turn(
            conversation_id,
            question=question,
            answer=answer,
            answer_type=answer_type,
            citations=citations,
            standalone_question=standalone_question,
        )

    def answer(
        self, pipeline: RAGPipeline, conversation: Conversation, question: str, **options: Any
    ) -> tuple[Answer, ConversationTurn | None]:
        """The answer to ``question`` read against the conversation so far, recorded as its next turn (None when
        the conversation was deleted meanwhile). ``options`` are ``RAGPipeline.answer``'s."""
        answer = pipeline.answer(
            question, collection=conversation.collection, history=self.history(conversation.id), **options
        )
        turn = self.record(
            conversation.id, question, answer.answer, answer.answer_type, answer.citations, answer.standalone_question
        )
        return answer, turn

    def answer_stream(
        self, pipeline: RAGPipeline, conversation: Conversation, question: str, **options: Any
    ) -> Iterator[StreamEvent]:
        """``RAGPipeline.answer_stream`` in the conversation: the turn is recorded before the ``answer`` event goes
        out, so a client that has the answer finds it in the conversation. A stream the client leaves early
        records nothing."""
        events = pipeline.answer_stream(
            question, collection=conversation.collection, history=self.history(conversation.id), **options
        )
        for event in events:
            if event.event == "answer":
                data = event.data
                citations = [Citation(**c) for c in data.get("citations", [])]
                standalone = data.get("standalone_question")
                turn = self.record(
                    conversation.id, question, data["answer"], data["answer_type"], citations, standalone
                )
                event = StreamEvent("answer", {**data, "conversation_id": conversation.id if turn else None})
            yield event
