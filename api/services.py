"""The composition root: builds every component once from the settings and hands them to the surfaces."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

from ingest.chunking import Chunker
from ingest.indexer import Indexer
from ingest.jobs import JobRunner
from ingest.source_service import SourceService
from rag.config import Settings
from rag.keys import KeyService
from rag.keyword import KeywordIndex
from rag.models.answerability import AnswerabilityModel
from rag.models.embedder import Embedder
from rag.models.llm import LLM, LanguageModel
from rag.models.remote import RemoteLLM
from rag.pipeline import RAGPipeline
from rag.retrieval import Retriever
from rag.store.chunks import ChunkStore
from rag.store.registry import Registry

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

    @classmethod
    def build(cls, settings: Settings, *, load_llm: bool = True) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        registry = Registry.from_url(settings.registry_url)
        store = (
            ChunkStore.remote(settings.chroma_url, settings.collection)
            if settings.chroma_url
            else ChunkStore.persistent(settings.chroma_path, settings.collection)
        )
        embedder = Embedder.load(settings.embedding_model, settings.embedding_backend, settings.model_cache_dir)
        chunker = Chunker(embedder.count_tokens, settings.chunk_size, settings.chunk_overlap)
        indexer = Indexer(
            registry,
            store,
            embedder,
            chunker,
            max_bytes=settings.max_upload_bytes,
            batch_size=settings.embedding_batch_size,
        )
        removed = indexer.reconcile()
        if removed:
            log.warning("removed %d unpublished chunk versions left by an interrupted ingest", removed)
        interrupted = registry.fail_unfinished_jobs("interrupted: the service stopped before the job finished")
        if interrupted:
            log.warning("marked %d unfinished jobs of a previous run as failed", interrupted)
        retriever = Retriever(embedder, store, registry, KeywordIndex(store, registry))
        jobs = JobRunner(indexer, registry, lock_ttl_s=settings.refresh_lock_ttl_s)
        sources = SourceService(registry, jobs, settings.source_roots)
        services = cls(settings, registry, store, embedder, indexer, retriever, jobs, sources)
        if load_llm:
            services.llm = (
                RemoteLLM.from_settings(settings)
                if settings.llm_url
                else LLM.load(settings.llm_model, settings.llm_family, settings.llm_device, settings.llm_max_batch)
            )
            services.llm.warm_up()
            embedder.embed(["warm up"])
            services.pipeline = RAGPipeline(
                retriever,
                services.llm,
                settings.top_k,
                settings.max_new_tokens,
                evidence_sentences=settings.evidence_sentences,
                abstain_below=settings.abstain_below,
                abstain_text=settings.abstain_text,
                answerability=AnswerabilityModel.load(settings.answerability_model, settings.model_cache_dir),
                abstain_below_answerability=settings.abstain_below_answerability,
            )
        return services
