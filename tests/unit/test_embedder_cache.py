"""Embedder.embed_cached: the same vectors as embed, without recomputing texts seen recently."""

import numpy as np

from rag.models import embedder as embedder_module
from rag.models.embedder import SentenceEmbedder as Embedder


class CountingModel:
    """Stands in for a SentenceTransformer: a deterministic vector per text, and a log of what it encoded."""

    tokenizer = None
    max_seq_length = 256

    def __init__(self):
        self.encoded: list[str] = []

    def get_embedding_dimension(self):
        return 4

    def encode(self, texts, **_):
        self.encoded += texts
        return np.array([[len(t), t.count("a"), t.count("e"), 1.0] for t in texts], dtype=np.float32)


def test_cached_vectors_equal_fresh_ones_and_are_not_recomputed():
    model = CountingModel()
    embedder = Embedder(model)
    first = embedder.embed_cached(["alpha", "beta", "alpha"])
    np.testing.assert_array_equal(first, embedder.embed(["alpha", "beta", "alpha"]))
    model.encoded.clear()
    second = embedder.embed_cached(["beta", "gamma", "alpha"])
    assert model.encoded == ["gamma"]  # only the new text reaches the model
    np.testing.assert_array_equal(second, embedder.embed(["beta", "gamma", "alpha"]))
    assert embedder.embed_cached([]).shape == (0, 4)


def test_least_recently_used_texts_are_forgotten(monkeypatch):
    monkeypatch.setattr(embedder_module, "CACHE_SIZE", 2)
    model = CountingModel()
    embedder = Embedder(model)
    embedder.embed_cached(["a1", "a2"])
    embedder.embed_cached(["a1"])  # a1 is now the most recent
    embedder.embed_cached(["a3"])  # evicts a2
    model.encoded.clear()
    embedder.embed_cached(["a1", "a3", "a2"])
    assert model.encoded == ["a2"]


def test_the_question_embedded_for_retrieval_is_not_embedded_again_for_evidence():
    model = CountingModel()
    embedder = Embedder(model)
    query = embedder.embed_query("how long is the alpha phase")
    model.encoded.clear()
    np.testing.assert_array_equal(embedder.embed_cached(["how long is the alpha phase"])[0], query)
    assert model.encoded == []
