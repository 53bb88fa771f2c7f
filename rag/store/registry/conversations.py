"""Conversations and their turns, per collection (tenant), like documents.

A turn is appended at the next position of its conversation; the (conversation, position) pair is unique, so two
answers finishing at once for one conversation cannot take the same place: the later one retries at the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from rag.store.records import DEFAULT_COLLECTION, Conversation, ConversationTurn
from rag.store.registry.base import RegistryPart, new_id
from rag.store.registry.schema import clip, conversation_turns, conversations, now
from rag.types import Citation

TITLE_CHARS = 256  # the column's width: a title made from a long first question is cut to it
_APPEND_ATTEMPTS = 20  # each round one writer wins, so any number of writers at once get through


def _turn_counts():
    """Turns per conversation, as a subquery to join."""
    return (
        select(conversation_turns.c.conversation_id, func.count().label("turn_count"))
        .group_by(conversation_turns.c.conversation_id)
        .subquery()
    )


class Conversations(RegistryPart):
    def _conversations(self):
        counts = _turn_counts()
        return select(conversations, func.coalesce(counts.c.turn_count, 0).label("turn_count")).outerjoin(
            counts, counts.c.conversation_id == conversations.c.id
        )

    def create_conversation(self, collection: str = DEFAULT_COLLECTION, title: str | None = None) -> Conversation:
        created = now()
        row = {
            "id": new_id(),
            "title": clip(title.strip(), TITLE_CHARS) if title and title.strip() else None,
            "collection": collection,
            "created_at": created,
            "updated_at": created,
        }
        return self._add(conversations, Conversation, row)

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        return self._first(self._conversations().where(conversations.c.id == conversation_id), Conversation)

    def list_conversations(self, collection: str, limit: int = 100, offset: int = 0) -> list[Conversation]:
        """The collection's conversations, the most recently used first."""
        stmt = (
            self._conversations()
            .where(conversations.c.collection == collection)
            .order_by(conversations.c.updated_at.desc(), conversations.c.id)
            .limit(limit)
            .offset(offset)
        )
        return self._all(stmt, Conversation)

    def count_conversations(self, collection: str) -> int:
        stmt = select(func.count()).select_from(conversations).where(conversations.c.collection == collection)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def conversation_turns(self, conversation_id: str, last: int | None = None) -> list[ConversationTurn]:
        """The turns in the order asked; with ``last``, only that many of the latest."""
        stmt = select(conversation_turns).where(conversation_turns.c.conversation_id == conversation_id)
        if last is None:
            return self._all(stmt.order_by(conversation_turns.c.position), ConversationTurn)
        latest = self._all(stmt.order_by(conversation_turns.c.position.desc()).limit(last), ConversationTurn)
        return latest[::-1]

    def add_turn(
        self,
        conversation_id: str,
        *,
        question: str,
        answer: str,
        answer_type: str,
        citations: Sequence[Citation] = (),
        standalone_question: str | None = None,
    ) -> ConversationTurn | None:
        """Append a turn; the conversation's first question becomes its title when it has none. None when the
        conversation is gone (deleted while its answer was being written)."""
        for attempt in range(_APPEND_ATTEMPTS):
            created = now()
            try:
                with self.engine.begin() as conn:
                    last = conn.execute(
                        select(func.max(conversation_turns.c.position)).where(
                            conversation_turns.c.conversation_id == conversation_id
                        )
                    ).scalar_one()
                    row: dict[str, Any] = {
                        "id": new_id(),
                        "conversation_id": conversation_id,
                        "position": (last or 0) + 1,
                        "question": question.replace("\x00", ""),
                        "standalone_question": standalone_question,
                        "answer": answer.replace("\x00", ""),
                        "answer_type": answer_type,
                        "citations": [c.model_dump() for c in citations],
                        "created_at": created,
                    }
                    touched = conn.execute(
                        update(conversations).where(conversations.c.id == conversation_id).values(updated_at=created)
                    )
                    if touched.rowcount == 0:  # deleted while the answer was being written
                        return None
                    conn.execute(insert(conversation_turns).values(**row))
                    conn.execute(
                        update(conversations)
                        .where(conversations.c.id == conversation_id, conversations.c.title.is_(None))
                        .values(title=clip(" ".join(question.split()), TITLE_CHARS))
                    )
                return ConversationTurn(**row)
            except IntegrityError:  # another answer took this position first
                if attempt == _APPEND_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def delete_conversation(self, conversation_id: str) -> bool:
        """The conversation and its turns; False when there was none."""
        with self.engine.begin() as conn:
            conn.execute(delete(conversation_turns).where(conversation_turns.c.conversation_id == conversation_id))
            return conn.execute(delete(conversations).where(conversations.c.id == conversation_id)).rowcount > 0
