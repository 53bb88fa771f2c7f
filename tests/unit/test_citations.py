import numpy as np

from rag.citations import best_supporting_chunk, cited_numbers, citations_from_markers, strip_invalid_markers
from rag.types import RetrievedChunk


def _chunk(rank: int) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=f"doc:1:{rank}", document_id="doc", version=1, source="a.md", chunk_index=rank - 1,
        start=10 * rank, end=10 * rank + 5, text=f"text {rank}", score=1 - rank / 10, rank=rank,
    )


def test_cited_numbers_in_order_of_first_use():
    assert cited_numbers("A [2]. B [1, 2]. C [3;1].") == [2, 1, 3]
    assert cited_numbers("no markers, [a] or [] here") == []


def test_markers_map_to_retrieved_chunks_and_unknown_are_dropped():
    chunks = [_chunk(1), _chunk(2)]
    citations = citations_from_markers("Fact [2]. Other [7]. Again [2].", chunks)
    assert [(c.marker, c.chunk_id, c.start, c.end) for c in citations] == [(2, "doc:1:2", 20, 25)]


def test_strip_invalid_markers_keeps_valid_numbers():
    assert strip_invalid_markers("Fact [1, 9]. Bad [9].", {1, 2}) == "Fact [1]. Bad."


def test_best_supporting_chunk_by_similarity():
    chunks = [_chunk(1), _chunk(2)]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    assert best_supporting_chunk(np.array([0.1, 0.9]), chunks, vectors).rank == 2
    assert best_supporting_chunk(np.array([0.1, 0.9]), [], vectors[:0]) is None
