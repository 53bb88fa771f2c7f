"""What the Chroma-backed stores (chunks, sentence vectors) share: opening a collection, reads that race deletes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


def open_collection(client: Any, name: str) -> Any:
    """The named collection, created on first use. We always pass our own embeddings: Chroma's default embedding
    function downloads a model, which cannot work offline. Cosine space: Chroma's distance is ``1 - cosine``."""
    return client.get_or_create_collection(name, embedding_function=None, metadata={"hnsw:space": "cosine"})


def read_retrying(call: Callable[[], _T], attempts: int = 3) -> _T:
    """A read that a concurrent delete of the same records can make embedded Chroma fail ("Error finding id": the
    ids left its index between two steps of the read). Read again: the delete has finished by then, and the
    records it removed are simply not found."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            from chromadb.errors import InternalError

            if not isinstance(exc, InternalError) or "finding id" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")
