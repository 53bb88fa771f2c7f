"""Stand-ins for the models, for fast unit tests only. Integration tests use the real ones."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from api.services import Services
from ingest.chunking import Chunker
from ingest.indexer import Indexer
from ingest.jobs import JobRunner
from ingest.source_service import SourceService
from rag.config import Settings
from rag.keyword import KeywordIndex
from rag.models.llm import Generation, GenerationParams
from rag.pipeline import RAGPipeline
from rag.prompts import get_family
from rag.retrieval import Retriever
from rag.store.chunks import ChunkStore
from rag.store.registry import Registry

_WORD = re.compile(r"\w+")


class FakeEmbedder:
    """Bag of hashed words: texts sharing words are similar, which is all retrieval tests need."""

    dimension = 64
    max_tokens = 256

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out

    def embed_cached(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))


class FakeLLM:
    """Answers with the first sentence of source [1], cited; records the prompts it was given."""

    name = "fake-llm"
    context_window = 2048

    def __init__(self, reply: str | None = None) -> None:
        self.family = get_family("chatml")
        self.reply = reply
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, prompt: str, params: GenerationParams | None = None):
        text = self.generate(prompt, params).text
        for word in text.split(" "):
            yield word + " "

    def generate(self, prompt: str, params: GenerationParams | None = None) -> Generation:
        self.prompts.append(prompt)
        if self.reply is not None:
            text = self.reply
        else:
            source = prompt.split("[1] ", 1)[1] if "[1] " in prompt else ""
            text = source.split(".")[0].strip() + ". [1]"
        return Generation(
            text=text, prompt_tokens=len(prompt.split()), generated_tokens=5, first_token_ms=1.0, total_ms=2.0
        )


def fake_services(data_dir: Path, llm: FakeLLM | None = None, **overrides) -> Services:
    """Auth is off unless ``auth=True``: tests of other features send no key (tests/unit/test_security.py and
    tests/unit/test_fuzz.py run with it on)."""
    settings = Settings(data_dir=data_dir, chunk_size=40, chunk_overlap=5, **{"auth": False, **overrides})
    registry = Registry.from_url(settings.registry_url)
    store = ChunkStore.persistent(settings.chroma_path, settings.collection)
    embedder = FakeEmbedder()
    indexer = Indexer(
        registry,
        store,
        embedder,
        Chunker(embedder.count_tokens, 40, 5),  # type: ignore[arg-type]
        max_bytes=settings.max_upload_bytes,
    )
    retriever = Retriever(embedder, store, registry, KeywordIndex(store, registry))  # type: ignore[arg-type]
    llm = llm or FakeLLM()
    pipeline = RAGPipeline(retriever, llm, settings.top_k, settings.max_new_tokens)  # type: ignore[arg-type]
    jobs = JobRunner(indexer, registry, lock_ttl_s=settings.refresh_lock_ttl_s)
    sources = SourceService(registry, jobs, settings.source_roots)
    return Services(settings, registry, store, embedder, indexer, retriever, jobs, sources, llm, pipeline)  # type: ignore[arg-type]
