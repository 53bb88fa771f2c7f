import numpy as np
import pytest

from rag.retrieval import RetrievalFilter, RetrievalOptions, mmr_order, reciprocal_rank_fusion

DOCS = {
    "handbook.md": b"# Travel\n\nTrains are preferred for trips under six hours. Flights are booked in economy.",
    "incident.md": b"# Incidents\n\nThe pager code XJ-4471 escalates to the head of engineering.",
    "bees.txt": b"Honeybees dance to show where flowers are. The queen lays eggs all summer.",
    "notes.json": b'{"owner": "Dana", "topic": "trains and flights"}',
}


@pytest.fixture
def indexed(services):
    ids = {name: services.indexer.ingest_bytes(data, name).document.id for name, data in DOCS.items()}
    return services, ids


def test_rrf_rewards_agreement():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]], k=60)
    assert fused["a"] == fused["b"] > fused["c"] > 0 and fused["c"] == fused["d"]
    assert max(fused, key=fused.get) in ("a", "b")


def test_mmr_prefers_novel_results():
    query = np.array([1.0, 0.0])
    vectors = np.array([[0.99, 0.14], [0.99, 0.14], [0.8, -0.6]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert mmr_order(query, vectors, 2, lam=1.0) == [0, 1]
    assert mmr_order(query, vectors, 2, lam=0.5) == [0, 2]


def test_keyword_mode_finds_exact_codes(indexed):
    services, ids = indexed
    chunks = services.retriever.retrieve("XJ-4471", RetrievalOptions(top_k=2, mode="keyword"))
    assert chunks and chunks[0].document_id == ids["incident.md"]
    assert services.retriever.retrieve("zebra quantum", RetrievalOptions(mode="keyword")) == []


def test_hybrid_ranks_and_scores(indexed):
    services, ids = indexed
    chunks = services.retriever.retrieve("which trips use trains", RetrievalOptions(top_k=3))
    assert chunks[0].document_id in (ids["handbook.md"], ids["notes.json"])
    assert [c.rank for c in chunks] == [1, 2, 3]
    assert all(-1 <= c.score <= 1 for c in chunks)
    assert [c.fusion_score for c in chunks] == sorted((c.fusion_score for c in chunks), reverse=True)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (RetrievalFilter(file_types=["txt"]), {"bees.txt"}),
        (RetrievalFilter(file_types=["md", "json"]), {"handbook.md", "incident.md", "notes.json"}),
        (RetrievalFilter(source_prefix="inc"), {"incident.md"}),
        (RetrievalFilter(source_prefix="%"), set()),  # LIKE wildcards are literal
    ],
)
def test_filters(indexed, flt, expected):
    services, ids = indexed
    chunks = services.retriever.retrieve("trains trips flights bees pager", RetrievalOptions(top_k=10, filter=flt))
    by_id = {v: k for k, v in ids.items()}
    assert {by_id[c.document_id] for c in chunks} == expected


def test_document_id_filter(indexed):
    services, ids = indexed
    flt = RetrievalFilter(document_ids=[ids["bees.txt"], "no-such-id"])
    chunks = services.retriever.retrieve("trains", RetrievalOptions(top_k=5, filter=flt))
    assert {c.document_id for c in chunks} == {ids["bees.txt"]}


def test_relevance_floor(indexed):
    services, _ = indexed
    everything = services.retriever.retrieve("queen eggs summer", RetrievalOptions(top_k=10))
    floor = everything[0].score - 1e-6
    kept = services.retriever.retrieve("queen eggs summer", RetrievalOptions(top_k=10, min_score=floor))
    assert [c.chunk_id for c in kept] == [c.chunk_id for c in everything if c.score >= floor]
    assert len(kept) < len(everything)


def test_keyword_index_follows_new_versions_and_deletes(indexed):
    services, ids = indexed
    keyword = RetrievalOptions(mode="keyword")
    assert services.retriever.retrieve("XJ-4471", keyword)
    services.indexer.ingest_bytes(b"# Incidents\n\nThe pager code is now QZ-9001.", "incident.md")
    assert services.retriever.retrieve("XJ-4471", keyword) == []
    assert services.retriever.retrieve("QZ-9001", keyword)[0].version == 2
    services.indexer.delete(ids["incident.md"])
    assert services.retriever.retrieve("QZ-9001", keyword) == []


def test_keyword_idf_counts_chunks_with_the_word(indexed):
    services, _ = indexed
    idf = services.retriever.keyword.idf({"train", "pager", "zebra"})  # stemmed: "trains" -> "train"
    n = len(services.retriever.keyword._ids)  # chunks indexed (one per document here)
    # "trains" is in two chunks (handbook, notes), "pager" in one, "zebra" in none.
    assert idf["train"] == pytest.approx(np.log((n + 1) / 2.5))
    assert idf["pager"] == pytest.approx(np.log((n + 1) / 1.5))
    assert idf["zebra"] > idf["pager"] > idf["train"]


def test_an_embedder_that_does_not_read_the_questions_language_is_left_out_of_hybrid(indexed, monkeypatch):
    services, _ = indexed
    services.indexer.ingest_bytes("员工出差优先乘坐火车。".encode(), "出差.md")
    queried: list[str] = []
    search = services.retriever.dense.search
    monkeypatch.setattr(services.retriever.dense, "search", lambda *a, **k: queried.append("dense") or search(*a, **k))
    monkeypatch.setattr(services.retriever.embedder, "languages", frozenset({"en"}))
    assert services.retriever.retrieve("出差乘坐什么？", RetrievalOptions(top_k=2)) and queried == []
    services.retriever.retrieve("which trips use trains", RetrievalOptions(top_k=2))
    assert queried == ["dense"]  # English questions are fused as before
    services.retriever.retrieve("埃菲尔铁塔有多高？", RetrievalOptions(top_k=2))  # no word in any document
    assert queried == ["dense", "dense"]  # then the weak dense match, for the evidence floor to judge
    monkeypatch.setattr(services.retriever.embedder, "languages", None)  # a multilingual embedder reads it
    services.retriever.retrieve("出差乘坐什么？", RetrievalOptions(top_k=2))
    assert queried == ["dense", "dense", "dense"]
