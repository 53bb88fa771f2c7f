"""Streamed answers: what must happen before the 200 goes out."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")


def first_event_now(events: Iterator[T]) -> Iterator[T]:
    """``events`` with its first item already taken, so whatever that raises (retrieval, the context-window
    check, a remote LLM that is down) is answered with its own status and message, not a stream that breaks off
    after its 200. An empty stream stays empty."""
    try:
        first = next(events)
    except StopIteration:
        return iter(())
    return itertools.chain([first], events)
