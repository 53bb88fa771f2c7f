"""Sentence vectors stored at ingest, with the real embedder and Chroma: the evidence chosen from them is the
evidence chosen from sentences embedded at query time, and a Chroma server stores them as the embedded store does."""

from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.evidence import EvidenceSelector, chunk_embedding_texts
from rag.store.chunks import ChunkStore
from rag.store.sentences import StoredSentenceVectors, text_keys
from rag.types import ChunkRecord
from service import build
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_stored_vectors_match_query_time_ones_and_choose_the_same_evidence(tmp_path, embedder):
    services = build(Settings(data_dir=tmp_path, auth=False), load_llm=False, embedder=embedder)
    services.ingest_paths([ROOT / "data"])
    store = services.store
    assert store.sentences is not None and store.sentences.count() == store.count()

    for chunk in store.chunks_of_any(100):
        texts = chunk_embedding_texts(chunk)
        stored = store.sentences.lookup([chunk.chunk_id], embedder.dimension)
        rows = np.stack([stored[k] for k in text_keys(texts).tolist()])
        fresh = embedder.embed(texts)  # in other batches than at ingest: equal up to float rounding and padding
        assert (rows * fresh).sum(axis=1).min() > 0.9999

    stored_vectors = StoredSentenceVectors(store.sentences, embedder)
    with_store = EvidenceSelector(embedder, services.retriever.keyword, 3, stored_vectors)
    without = EvidenceSelector(embedder, services.retriever.keyword, 3)
    questions = [q for q in (ROOT / "bench" / "questions.txt").read_text().splitlines() if q.strip()]
    for question in questions:
        chunks = services.retriever.retrieve(question)
        embedder.clear_cache()
        a = with_store.select(question, chunks)
        embedder.clear_cache()
        b = without.select(question, chunks)
        assert [e.sentence for e in a] == [e.sentence for e in b], question
        assert np.allclose([e.score for e in a], [e.score for e in b], atol=1e-3)


def test_a_chroma_server_holds_sentence_vectors(chroma_server):
    store = ChunkStore.remote(chroma_server, "remote-docs")
    assert store.sentences is not None
    text = "The vault code is 4417. It is in the basement."
    chunk = ChunkRecord(
        chunk_id="d:1:0", document_id="d", version=1, source="a.md", chunk_index=0, start=0, end=len(text), text=text
    )
    texts = chunk_embedding_texts(chunk)
    vectors = FakeEmbedder().embed(texts)
    store.add([chunk], vectors[:1])
    store.sentences.add([chunk], [texts], [vectors], rules="r")
    found = store.sentences.lookup(["d:1:0"], vectors.shape[1])
    assert len(found) == len(texts)
    store.delete("d")
    assert store.sentences.count() == 0 and store.count() == 0
