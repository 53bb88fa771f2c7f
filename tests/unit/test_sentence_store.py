"""Sentence vectors stored at ingest (rag/store/sentences.py): first sight of a chunk embeds nothing but the
question, answers are the same as when the sentences are embedded at query time, and the records follow their
chunks through new versions, deletes and crashes."""

import json

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings
from typer.testing import CliRunner

from api.cli import app, documents
from rag.evidence import EvidenceSelector, chunk_embedding_texts
from rag.store.sentences import SentenceStore, StoredSentenceVectors, text_keys
from rag.types import ChunkRecord
from tests.fakes import fake_services

HANDBOOK = (
    b"# Remote work\n\nEmployees may work from abroad for up to 30 days a year. They must tell their manager two "
    b"weeks before. It needs written approval from HR.\n\n## Equipment\n\nNew employees receive a home-office "
    b"stipend of 600 euros. Laptops are renewed every three years. Co-working memberships are reimbursed up to "
    b"150 euros per month.\n\n## Severity levels\n\n- SEV1: the whole service is down for every customer.\n"
    b"- SEV2: a major feature is broken for many users.\n- SEV3: a minor problem with a workaround."
)
QUESTIONS = [
    "What are the rules for working from abroad?",
    "How large is the home-office stipend?",
    "What does SEV2 mean?",
    "How often are laptops renewed?",
]


class _Recorder:
    """Wraps an embedder's ``embed_cached`` to log the texts evidence selection embeds at query time."""

    def __init__(self, embedder) -> None:
        self.texts: list[str] = []
        self._embed_cached = embedder.embed_cached
        embedder.embed_cached = self

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.texts += texts
        return self._embed_cached(texts)


def _services(tmp_path, **overrides):
    services = fake_services(tmp_path / "data", **overrides)
    services.indexer.ingest_bytes(HANDBOOK, "handbook.md")
    return services


def _without_store(services) -> EvidenceSelector:
    selector = services.pipeline.evidence
    return EvidenceSelector(selector.embedder, selector.keyword, selector.limit)


def test_first_sight_embeds_only_the_question_and_selects_the_same_evidence(tmp_path):
    services = _services(tmp_path)
    assert services.store.sentences.count() == services.store.count() > 2
    selector = services.pipeline.evidence
    for question in QUESTIONS:
        chunks = services.retriever.retrieve(question)
        recorder = _Recorder(services.embedder)
        stored = selector.select(question, chunks)
        assert recorder.texts == [question], "every sentence vector came from the store"
        del services.embedder.embed_cached
        computed = _without_store(services).select(question, chunks)
        assert [(e.sentence, e.score, e.number) for e in stored] == [(e.sentence, e.score, e.number) for e in computed]


def test_an_index_without_sentence_vectors_still_answers_and_is_refreshed(tmp_path):
    services = _services(tmp_path, sentence_vectors=False)
    assert services.store.sentences.count() == 0
    question = QUESTIONS[1]
    chunks = services.retriever.retrieve(question)
    recorder = _Recorder(services.embedder)
    before = services.pipeline.evidence.select(question, chunks)
    assert len(recorder.texts) > 1  # the sentences were embedded at query time, as before

    services.indexer.sentence_texts = chunk_embedding_texts  # as built with sentence vectors on
    assert len(services.indexer.stale_sentence_chunks()) == services.store.count()
    assert services.indexer.refresh_sentence_vectors(batch=1) == services.store.count()
    assert services.indexer.stale_sentence_chunks() == []
    recorder.texts.clear()
    after = services.pipeline.evidence.select(question, chunks)
    assert recorder.texts == [question]
    assert [(e.sentence, e.score) for e in after] == [(e.sentence, e.score) for e in before]


def test_vectors_are_only_used_for_the_exact_text_they_were_made_from(tmp_path):
    """Sentence rules changed since indexing: a sentence that splits differently now is embedded afresh, the
    others still come from the store, and the records are listed as stale until refreshed."""
    services = _services(tmp_path)
    chunk = services.store.chunks_of_any(1)[0]
    texts = chunk_embedding_texts(chunk)
    old = [texts[0] + " (split differently before)", *texts[1:]]
    vectors = services.embedder.embed(old)
    services.store.sentences.add([chunk], [old], [vectors], rules="older rules")
    assert services.indexer.stale_sentence_chunks() == [chunk.chunk_id]

    recorder = _Recorder(services.embedder)
    source = StoredSentenceVectors(services.store.sentences, services.embedder)
    got = source.vectors([chunk], ["the question", *texts])
    assert recorder.texts == ["the question", texts[0]]
    np.testing.assert_allclose(got, services.embedder.embed(["the question", *texts]), atol=1e-6)


def test_records_follow_their_chunks_through_versions_and_deletes(tmp_path):
    services = _services(tmp_path)
    doc = services.registry.find_by_source("handbook.md")
    edited = HANDBOOK.replace(b"600 euros", b"750 euros")
    services.indexer.ingest_bytes(edited, "handbook.md")
    ids = services.store.chunk_ids()
    assert services.store.sentences.chunk_ids() == ids and all(":2:" in i for i in ids)
    assert services.indexer.delete(doc.id)
    assert services.store.sentences.count() == 0


def test_reconcile_removes_sentence_vectors_without_chunks_and_verify_reports_them(tmp_path):
    services = _services(tmp_path)
    chunk = services.store.chunks_of_any(1)[0]
    ghost = chunk.model_copy(update={"chunk_id": "ghost:1:0", "document_id": "ghost"})
    texts = chunk_embedding_texts(chunk)
    services.store.sentences.add([ghost], [texts], [services.embedder.embed(texts)], rules="r")
    assert services.indexer.verify() == ["the store holds sentence vectors of 1 chunks it does not have"]
    services.indexer.reconcile()
    assert services.indexer.verify() == []
    assert "ghost:1:0" not in services.store.sentences.chunk_ids()


def test_a_crash_between_chunks_and_sentence_vectors_is_reconciled(tmp_path, monkeypatch):
    """Killed after the new version's chunks and sentence vectors were written, before publishing."""
    services = _services(tmp_path)
    old_ids = services.store.chunk_ids()

    def die(*_args, **_kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(services.registry, "publish", die)
    with pytest.raises(SystemExit):
        services.indexer.ingest_bytes(HANDBOOK.replace(b"600", b"750"), "handbook.md")
    assert len(services.store.sentences.chunk_ids()) > len(old_ids)
    monkeypatch.undo()
    assert services.indexer.reconcile() == 1
    assert services.store.chunk_ids() == services.store.sentences.chunk_ids() == old_ids
    assert services.indexer.verify() == []


def test_lookup_skips_records_of_another_dimension(tmp_path):
    client = chromadb.PersistentClient(path=str(tmp_path), settings=Settings(anonymized_telemetry=False))
    store = SentenceStore(client.get_or_create_collection("test-sentences", embedding_function=None))
    record = ChunkRecord(
        chunk_id="d:1:0", document_id="d", version=1, source="s", chunk_index=0, start=0, end=4, text="text"
    )
    vectors = np.arange(8, dtype=np.float32).reshape(2, 4)
    store.add([record], [["a", "b"]], [vectors], rules="r")
    found = store.lookup(["d:1:0", "missing:1:0"], dimension=4)
    assert set(found) == set(text_keys(["a", "b"]).tolist())
    np.testing.assert_array_equal(found[int(text_keys(["b"])[0])], vectors[1])
    assert store.lookup(["d:1:0"], dimension=8) == {}
    assert store.chunk_ids("r") == {"d:1:0"} and store.chunk_ids("other") == set()


def test_rag_check_reports_and_refreshes_chunks_without_sentence_vectors(tmp_path, monkeypatch):
    services = _services(tmp_path, sentence_vectors=False)
    services.indexer.sentence_texts = chunk_embedding_texts  # as `rag check` builds it, sentence vectors on
    monkeypatch.setattr(documents, "build", lambda *_args, **_kwargs: services)
    report = json.loads(CliRunner().invoke(app, ["check"]).stdout)
    assert report["chunks_without_sentence_vectors"] == services.store.count() > 0
    assert report["sentence_vectors_refreshed"] == 0 and report["problems"] == []
    report = json.loads(CliRunner().invoke(app, ["check", "--refresh-sentences"]).stdout)
    assert report["sentence_vectors_refreshed"] == services.store.count()
    assert report["chunks_without_sentence_vectors"] == 0 and report["problems"] == []
