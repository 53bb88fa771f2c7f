"""``RAG_EMBEDDER=auto`` on a new index: the language of the first document indexed chooses the embedder.

Measured for issue #16 (docs/evaluation.md): on Chinese documents multilingual-e5-small finds the paragraph that
holds the answer far more often than MiniLM, which reads English only; on English MiniLM is as good and 7-40x
faster to index. So a new index whose first document is mostly CJK (``rag.language.detect``) is embedded by the
multilingual embedder, any other by MiniLM. The choice is made once, before that document is chunked (chunks are
sized in the chosen model's tokens), and recorded with the index like any embedder (rag/store/identity.py):
later documents, in any language, use it, and ``rag reindex`` with ``RAG_EMBEDDER`` set changes it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from rag.language import detect
from rag.models.ports import Embedder


class AutoEmbedder:
    """The ``Embedder`` port for an index that has no embedder yet: ``english`` until ``choose`` is called
    with the first document's text, then the embedder that text asks for, for good.

    Before the choice only queries reach it (an empty index has nothing to find); ``on_chosen`` is told the
    choice so that it is recorded with the index before the first chunk is written."""

    def __init__(
        self,
        english: Embedder,
        multilingual: Callable[[], Embedder],
        on_chosen: Callable[[Embedder], None],
    ) -> None:
        self._current = english
        self._multilingual = multilingual
        self._on_chosen = on_chosen
        self._lock = threading.Lock()
        self.chosen = False
        self._follow(english)

    def _follow(self, embedder: Embedder) -> None:
        self._current = embedder
        self.name = str(getattr(embedder, "name", type(embedder).__name__))
        self.dimension = embedder.dimension
        self.languages = embedder.languages

    def choose(self, text: str) -> Embedder:
        """The embedder of this index: chosen by ``text`` (the first document's) the first time, then kept; a text
        without letters (a blank page, a table of numbers) leaves the choice to the next document."""
        with self._lock:
            if not self.chosen and any(c.isalpha() for c in text):
                embedder = self._multilingual() if detect(text) == "zh" else self._current
                self._on_chosen(embedder)  # may refuse (another process recorded another embedder meanwhile)
                self._follow(embedder)
                self.chosen = True
            return self._current

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self._current.embed(texts, batch_size)

    def embed_cached(self, texts: list[str]) -> np.ndarray:
        return self._current.embed_cached(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._current.embed_query(text)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._current.embed_queries(texts)

    def count_tokens(self, text: str) -> int:
        return self._current.count_tokens(text)
