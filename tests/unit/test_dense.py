"""Dense search (rag/dense.py): exact over the published chunks up to a size, Chroma's graph above it."""

import numpy as np
import pytest

from rag.dense import DenseIndex
from rag.retrieval import RetrievalOptions

DOCS = {
    "handbook.md": b"# Travel\n\nTrains are preferred for trips under six hours. Flights are booked in economy.",
    "incident.md": b"# Incidents\n\nThe pager code XJ-4471 escalates to the head of engineering.",
    "bees.txt": b"Honeybees dance to show where flowers are. The queen lays eggs all summer.",
    "garden.txt": b"Tomatoes need full sun. Water them in the morning, never at noon.",
    "notes.json": b'{"owner": "Dana", "topic": "trains and flights"}',
}
QUESTIONS = ["which trips use trains", "who gets the pager", "when do bees dance", "watering tomatoes"]


@pytest.fixture
def indexed(services):
    ids = {name: services.indexer.ingest_bytes(data, name).document.id for name, data in DOCS.items()}
    return services, ids


def brute_force(services, query: np.ndarray, k: int) -> list[str]:
    """Every published chunk's cosine with the query, computed here from what Chroma holds."""
    visible = services.registry.visible_versions_all()
    got = services.store._collection.get(include=["metadatas", "embeddings"])
    rows = [
        (chunk_id, meta["document_id"], meta["version"], np.asarray(vector))
        for chunk_id, meta, vector in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True)
        if visible.get(meta["document_id"]) == meta["version"]
    ]
    ranked = sorted(rows, key=lambda row: (-float(row[3] @ query), row[0]))  # equal scores: by chunk id
    return [chunk_id for chunk_id, *_ in ranked[:k]]


def test_exact_search_ranks_every_chunk_by_cosine(indexed):
    services, _ = indexed
    dense = DenseIndex(services.store, services.registry)
    assert dense.exact
    for question in QUESTIONS:
        query = services.embedder.embed_query(question)
        assert dense.search(query, k=3) == brute_force(services, query, 3)
    assert len(dense.search(query, k=50)) == len(DOCS)  # k beyond the index: every chunk, once


def test_exact_search_filters_and_follows_new_versions_and_deletes(indexed):
    services, ids = indexed
    dense = services.retriever.dense
    query = services.embedder.embed_query("pager code")
    assert dense.search(query, k=2, document_ids={ids["bees.txt"], "no-such-id"}) == [f"{ids['bees.txt']}:1:0"]
    assert dense.search(query, k=2, document_ids={"no-such-id"}) == []
    assert dense.search(query, k=1) == [f"{ids['incident.md']}:1:0"]
    services.indexer.ingest_bytes(b"# Incidents\n\nThe pager code is now QZ-9001.", "incident.md")
    assert dense.search(query, k=1) == [f"{ids['incident.md']}:2:0"]  # the new version, not the old one
    services.indexer.delete(ids["incident.md"])
    assert ids["incident.md"] not in {c.split(":")[0] for c in dense.search(query, k=10)}


def test_equal_scores_are_ranked_by_chunk_id_whatever_the_reading_order(indexed):
    services, _ = indexed
    dense = DenseIndex(services.store, services.registry)
    assert dense.exact
    dense._vectors = np.ones_like(dense._vectors)[::-1]  # every chunk equally near
    dense._ids, dense._documents = dense._ids[::-1], dense._documents[::-1]
    query = services.embedder.embed_query("anything")
    assert dense.search(query, k=3) == sorted(dense._ids)[:3]


def test_a_change_reads_only_the_changed_documents_again(indexed, monkeypatch):
    services, ids = indexed
    dense = DenseIndex(services.store, services.registry)
    assert dense.exact  # the first search reads every vector
    read: list[list[str]] = []
    vectors_of = services.store.vectors_of
    monkeypatch.setattr(services.store, "vectors_of", lambda d: read.append(sorted(d)) or vectors_of(d))
    monkeypatch.setattr(services.store, "iter_vectors", lambda: pytest.fail("read every vector again"))
    services.indexer.ingest_bytes(b"Honeybees sleep in the hive at night.", "bees.txt")  # a new version
    owls = services.indexer.ingest_bytes(b"Owls hunt mice in the dark.", "owls.txt").document.id  # a new one
    services.indexer.delete(ids["garden.txt"])
    for question in [*QUESTIONS, "which birds hunt at night"]:
        query = services.embedder.embed_query(question)
        assert dense.search(query, k=4) == brute_force(services, query, 4)
    assert read == [sorted([ids["bees.txt"], owls])]  # once, for the two documents that changed
    assert not any(c.startswith(ids["garden.txt"]) for c in dense._ids)


def test_above_the_limit_chroma_answers(indexed):
    services, ids = indexed
    dense = DenseIndex(services.store, services.registry, exact_max=len(DOCS) - 1)
    assert not dense.exact
    query = services.embedder.embed_query("which trips use trains")
    assert dense.search(query, k=3) == [c.chunk_id for c in services.store.query(query, k=3)]
    only = {ids["bees.txt"]}
    assert dense.search(query, k=3, document_ids=only) == [f"{ids['bees.txt']}:1:0"]


def test_retrieval_uses_the_exact_ranking(indexed):
    services, _ = indexed
    for question in QUESTIONS:
        query = services.embedder.embed_query(question)
        chunks = services.retriever.retrieve(question, RetrievalOptions(top_k=5, mode="dense"))
        assert [c.chunk_id for c in chunks] == brute_force(services, query, 5)
