import numpy as np
import pytest

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


class _FlakyCollection:
    """Embedded Chroma's other answer to a read racing a delete: an error naming an id it no longer finds."""

    def __init__(self, failures: int, message: str = "Error executing plan: Internal error: Error finding id") -> None:
        self.failures, self.message, self.calls = failures, message, 0

    def get(self, **_kwargs):
        from chromadb.errors import InternalError

        self.calls += 1
        if self.calls <= self.failures:
            raise InternalError(self.message)
        return {"ids": [], "documents": [], "metadatas": [], "embeddings": []}


def test_a_read_racing_a_delete_is_read_again():
    flaky = _FlakyCollection(failures=2)
    records, _ = ChunkStore(flaky).get(["gone:1:0"])
    assert records == [] and flaky.calls == 3


class _PagedRacingCollection(_FlakyCollection):
    """A whole-index read (the keyword and dense indexes' rebuild) while a document is deleted: the first page
    read fails once, then comes back with one chunk that lost its record meanwhile."""

    def get(self, **kwargs):
        super().get(**kwargs)
        if kwargs["offset"] > 0:
            return {"ids": [], "documents": [], "metadatas": [], "embeddings": []}
        meta = {"document_id": "d1", "version": 1}
        return {
            "ids": ["gone:1:0", "d1:1:0"],
            "documents": [None, "hello"],
            "metadatas": [None, meta],
            "embeddings": [[0.0, 1.0], [1.0, 0.0]],
        }


def test_whole_index_reads_racing_a_delete_are_read_again_and_skip_what_went():
    texts = list(ChunkStore(_PagedRacingCollection(failures=1)).iter_texts(page=2))
    assert texts == [("d1:1:0", "hello", "d1", 1)]
    ((chunk_id, document_id, version, vector),) = ChunkStore(_PagedRacingCollection(failures=1)).iter_vectors(page=2)
    assert (chunk_id, document_id, version, vector.tolist()) == ("d1:1:0", "d1", 1, [1.0, 0.0])


def test_other_errors_and_persistent_ones_are_raised():
    from chromadb.errors import InternalError

    for collection, calls in ((_FlakyCollection(failures=9), 3), (_FlakyCollection(failures=1, message="disk"), 1)):
        with pytest.raises(InternalError):
            ChunkStore(collection).get(["x"])
        assert collection.calls == calls


def test_location_and_ocr_confidence_survive_chroma_metadata():
    from rag.store.chunks import _from_metadata, _to_metadata
    from rag.types import ChunkRecord

    record = ChunkRecord(
        chunk_id="d1:1:0", document_id="d1", version=1, source="a.xlsx", chunk_index=0, start=0, end=5,
        location="Budget!A2:C9", ocr_confidence=0.91, text="hello",
    )  # fmt: skip
    assert ChunkRecord(**_from_metadata("d1:1:0", "hello", _to_metadata(record))) == record
    plain = record.model_copy(update={"location": None, "ocr_confidence": None})
    assert ChunkRecord(**_from_metadata("d1:1:0", "hello", _to_metadata(plain))) == plain
