"""``build``: every component made once from the settings and wired; any of the heavy ones can be handed in.

The API, the CLI, the evaluations, the benchmarks and the tests all build through here, so the wiring exists
once. Overrides replace a component without changing anything else: a stand-in embedder or LLM (tests,
benchmarks), no answerability model, a store or registry made elsewhere.
"""

from __future__ import annotations

import enum
import logging

from ingest import ocr
from ingest.chunking import Chunker
from ingest.indexer import Indexer
from ingest.jobs import JobRunner
from ingest.source_service import SourceService
from rag.abstention import Abstention
from rag.config import Settings
from rag.dense import DenseIndex
from rag.evidence import EvidenceSelector, chunk_embedding_texts, sentence_rules
from rag.generative import GenerativeAnswerer
from rag.keyword import KeywordIndex
from rag.models.answerability import AnswerabilityModel
from rag.models.choice import AutoEmbedder
from rag.models.embedder import SentenceEmbedder
from rag.models.llm import LLM
from rag.models.multilingual import NAME as MULTILINGUAL
from rag.models.multilingual import MultilingualEmbedder
from rag.models.multilingual import installed as multilingual_installed
from rag.models.ports import Embedder, LanguageModel
from rag.models.profile import profile_of
from rag.models.remote import RemoteLLM
from rag.options import RequestDefaults
from rag.pipeline import RAGPipeline
from rag.retrieval import Retriever
from rag.store.chunks import ChunkStore
from rag.store.identity import check_embedder, identity_of, setting_value
from rag.store.registry import Registry
from rag.store.sentences import StoredSentenceVectors
from service.services import Services

log = logging.getLogger(__name__)


class _FromSettings(enum.Enum):
    token = "from settings"


FROM_SETTINGS = _FromSettings.token
"""``build``'s default for the answerability model: the one the settings name (RAG_ANSWERABILITY_MODEL)."""


def build(
    settings: Settings,
    *,
    load_llm: bool = True,
    embedder: Embedder | None = None,
    llm: LanguageModel | None = None,
    answerability: AnswerabilityModel | _FromSettings | None = FROM_SETTINGS,
    store: ChunkStore | None = None,
    registry: Registry | None = None,
    check_index: bool = True,
) -> Services:
    """The service's components for ``settings``. Building also repairs what a crash left behind: chunk
    versions an interrupted ingest never published, and jobs of a process that is gone.

    ``load_llm=False`` builds no LLM and no answer pipeline (ingestion, retrieval and key management need
    neither). A given ``llm`` is used instead of loading one, and implies the pipeline; ``answerability=None``
    answers without the answerability model. Components built here are warmed up; given ones are the
    caller's to warm.

    The embedder must be the one the index was built with (rag/store/identity.py): another is refused with
    ``EmbedderMismatch``, saying what to do; ``check_index=False`` skips that for `rag reindex`, which converts
    the index."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    registry = registry or Registry.from_url(settings.registry_url)
    store = store or (
        ChunkStore.remote(settings.chroma_url, settings.chroma_collection)
        if settings.chroma_url
        else ChunkStore.persistent(settings.chroma_path, settings.chroma_collection)
    )
    loaded_embedder = embedder is None
    if embedder is None:
        embedder = load_embedder(settings, store)
    if check_index and not isinstance(embedder, AutoEmbedder):  # an AutoEmbedder checks when it has chosen
        _check_index(store, embedder)
    chunker = Chunker(embedder.count_tokens, settings.chunk_size, settings.chunk_overlap)
    ocr.configure(
        ocr.OcrOptions(
            enabled=settings.ocr,
            languages=settings.ocr_languages,
            max_pages=settings.ocr_max_pages,
            page_timeout_s=settings.ocr_page_timeout_s,
        )
    )
    indexer = Indexer(
        registry,
        store,
        embedder,
        chunker,
        max_bytes=settings.max_upload_bytes,
        batch_size=settings.embedding_batch_size,
        sentence_texts=chunk_embedding_texts if settings.sentence_vectors else None,
        sentence_rules=sentence_rules(),
    )
    removed = indexer.reconcile()
    if removed:
        log.warning("removed %d unpublished chunk versions left by an interrupted ingest", removed)
    interrupted = registry.fail_unfinished_jobs("interrupted: the service stopped before the job finished")
    if interrupted:
        log.warning("marked %d unfinished jobs of a previous run as failed", interrupted)
    keyword = KeywordIndex(store, registry)
    dense = DenseIndex(store, registry, exact_max=settings.exact_search_max_chunks)
    retriever = Retriever(embedder, store, registry, keyword, dense)
    jobs = JobRunner(indexer, registry, lock_ttl_s=settings.refresh_lock_ttl_s)
    sources = SourceService(registry, jobs, settings.source_roots)
    services = Services(settings, registry, store, embedder, indexer, retriever, jobs, sources)
    if not load_llm and llm is None:
        return services
    if llm is None:
        llm = _load_llm(settings)
        llm.warm_up()
    if loaded_embedder:
        embedder.embed(["warm up"])
    if answerability is FROM_SETTINGS:
        answerability = AnswerabilityModel.load(settings.answerability_model, settings.model_cache_dir)
    services.llm = llm
    profile = profile_of(settings.llm_profile, llm)
    log.info("answer path: %s (%s)", profile.answers, profile.reason)
    services.pipeline = RAGPipeline(
        retriever,
        EvidenceSelector(
            embedder,
            keyword,
            settings.evidence_sentences,
            StoredSentenceVectors(store.sentences, embedder) if store.sentences is not None else None,
        ),
        llm,
        RequestDefaults(top_k=settings.top_k, max_new_tokens=settings.max_new_tokens or profile.max_answer_tokens),
        Abstention(
            floor=settings.abstain_below,
            model=answerability,
            threshold=settings.abstain_below_answerability,
            text=settings.abstain_text,
        ),
        compose_answers=settings.compose_answers,
        compose_chunks=settings.compose_chunks,
        generative=GenerativeAnswerer(llm, profile, lambda ids: store.get(ids)[0])
        if profile.answers == "generative"
        else None,
        languages=profile.languages,
    )
    return services


def load_embedder(settings: Settings, store: ChunkStore) -> Embedder:
    """The embedder RAG_EMBEDDER names; ``auto``: the one the index was built with (or is being converted to);
    for a new index, the one its first document asks for (rag/models/choice.py) when the multilingual extra is
    installed, else MiniLM: English only, but 7-40x faster to index than the multilingual one (issue #16)."""
    choice: str = settings.embedder
    if choice == "auto":
        recorded = store.reindexing_to() or store.recorded_embedder()
        if recorded is None and store.count() == 0 and multilingual_installed():
            english = SentenceEmbedder.load(
                settings.embedding_model, settings.embedding_backend, settings.model_cache_dir
            )
            return AutoEmbedder(english, MultilingualEmbedder.load, lambda chosen: _check_index(store, chosen))
        choice = setting_value(recorded.name) if recorded else "minilm"
    if choice == MULTILINGUAL:
        return MultilingualEmbedder.load()
    return SentenceEmbedder.load(settings.embedding_model, settings.embedding_backend, settings.model_cache_dir)


def _check_index(store: ChunkStore, embedder: Embedder) -> None:
    """``check_embedder`` for ``embedder``: an index from before identities is taken to be MiniLM's."""
    check_embedder(store, identity_of(embedder), adopt_unrecorded=not isinstance(embedder, MultilingualEmbedder))


def _load_llm(settings: Settings) -> LanguageModel:
    """The LLM the settings name: a remote OpenAI-compatible server (RAG_LLM_URL) or a model in process."""
    if settings.llm_url:
        return RemoteLLM.from_settings(settings)
    return LLM.load(settings.llm_model, settings.llm_family, settings.llm_device, settings.llm_max_batch)
