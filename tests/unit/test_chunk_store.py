import numpy as np

from rag.store.chunks import ChunkStore


class _RacingCollection:
    """What embedded Chroma answered under the load test: a chunk deleted during the query comes back as an id
    from the vector index with no text and no metadata."""

    def query(self, **_kwargs):
        meta = {"document_id": "d1", "version": 1, "source": "a.md", "chunk_index": 0, "start": 0, "end": 5}
        return {
            "ids": [["gone:1:0", "d1:1:0"]],
            "documents": [[None, "hello"]],
            "metadatas": [[None, meta]],
            "distances": [[0.1, 0.2]],
        }


def test_a_chunk_deleted_during_a_query_is_left_out():
    hits = ChunkStore(_RacingCollection()).query(np.zeros(4, dtype=np.float32), k=2)
    assert [(h.chunk_id, h.rank) for h in hits] == [("d1:1:0", 1)]
    assert abs(hits[0].score - 0.8) < 1e-9
