"""What the composition root builds: the components, wired, and what the surfaces ask of them as a whole."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ingest.errors import IngestError
from ingest.indexer import Indexer, IngestCounts, IngestResult
from ingest.jobs import JobRunner
from ingest.source_service import SourceService
from rag.config import Settings
from rag.keys import KeyService
from rag.models.ports import Embedder, LanguageModel
from rag.models.remote import RemoteLLM
from rag.pipeline import RAGPipeline
from rag.retrieval import Retriever
from rag.store.chunks import ChunkStore
from rag.store.registry import DEFAULT_COLLECTION, Registry
from service.conversations import ConversationService

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    registry: Registry
    store: ChunkStore
    embedder: Embedder
    indexer: Indexer
    retriever: Retriever
    jobs: JobRunner
    sources: SourceService
    llm: LanguageModel | None = None
    pipeline: RAGPipeline | None = None

    @cached_property
    def keys(self) -> KeyService:
        """API keys, kept in the registry."""
        return KeyService(self.registry)

    @cached_property
    def conversations(self) -> ConversationService:
        """Conversations, kept in the registry: history for follow-ups, each answer recorded as a turn."""
        return ConversationService(self.registry)

    def ingest_paths(
        self,
        paths: Iterable[Path],
        collection: str = DEFAULT_COLLECTION,
        on_result: Callable[[str, IngestResult | IngestError], None] | None = None,
    ) -> IngestCounts:
        """Index files and the supported files under folders (``rag ingest``, ``rag serve --ingest``), each named
        relative to the folder given (ingest.indexer.named_files); ``on_result`` hears of every file, indexed or
        skipped."""
        return self.indexer.ingest_paths(paths, on_result, collection)

    def readiness(self) -> dict[str, str]:
        """Each component's state, "ok" or what is wrong: the embedder and the LLM loaded, the chunk store and
        the registry database answering a trivial query. The API loads the LLM in every process, so a missing
        one means this process cannot answer questions; a remote LLM (RAG_LLM_URL) must answer its /models."""
        checks = {
            "embedder": "ok" if self.embedder is not None else "not loaded",
            "llm": "ok" if self.llm is not None and self.pipeline is not None else "not loaded in this process",
        }
        if isinstance(self.llm, RemoteLLM):
            checks["llm"] = self.llm.check()
        for name, probe in (("store", self.store.count), ("registry", self.registry.count)):
            try:
                probe()
                checks[name] = "ok"
            except Exception as exc:  # any failure means not ready; the message says which and why
                log.warning("readiness: %s is not answering: %s", name, exc)
                checks[name] = f"unreachable: {type(exc).__name__}: {exc}"
        return checks
