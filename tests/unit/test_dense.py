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
    """Every stored chunk's cosine with the query, computed here from what Chroma holds."""
    rows = list(services.store.iter_vectors())
    scores = np.array([float(vector @ query) for _, _, _, vector in rows])
    return [rows[i][0] for i in np.argsort(-scores, kind="stable")[:k]]


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


def test_equal_scores_keep_the_chunks_order(indexed):
    services, _ = indexed
    dense = DenseIndex(services.store, services.registry)
    assert dense.exact
    dense._vectors = np.ones_like(dense._vectors)  # every chunk equally near
    query = services.embedder.embed_query("anything")
    assert dense.search(query, k=3) == dense._ids[:3]


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
