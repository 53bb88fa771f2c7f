import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.config import Settings


def test_defaults_are_the_embedded_models():
    s = Settings()
    assert s.llm_model == "default" and s.embedding_model == "default"
    assert s.embedding_backend == "openvino"
    assert s.model_cache_dir == Path("var") / "cache"


def test_environment_overrides_with_prefix(monkeypatch):
    monkeypatch.setenv("RAG_PORT", "9123")
    monkeypatch.setenv("RAG_DATA_DIR", "/srv/rag")
    s = Settings()
    assert s.port == 9123
    assert s.chroma_path == Path("/srv/rag/chroma")
    assert s.registry_url == "sqlite:////srv/rag/registry.sqlite3"


def test_registry_url_defaults_to_sqlite_and_postgres_gets_psycopg(monkeypatch):
    monkeypatch.setenv("RAG_DATA_DIR", "/srv/rag")
    assert Settings(registry_url="").registry_url == "sqlite:////srv/rag/registry.sqlite3"
    monkeypatch.setenv("RAG_REGISTRY_URL", "postgresql://rag:secret@db:5432/rag")
    assert Settings().registry_url == "postgresql+psycopg://rag:secret@db:5432/rag"
    assert Settings(registry_url="postgres://db/rag").registry_url == "postgresql+psycopg://db/rag"
    url = "postgresql+psycopg://db/rag"
    assert Settings(registry_url=url).registry_url == url


def test_isolated_settings_never_touch_the_services_registry_or_chroma(monkeypatch):
    """An evaluation index once shared the service's registry with its own Chroma folder; the next start's
    reconciliation then deleted every chunk of the evaluation index as unknown."""
    monkeypatch.setenv("RAG_DATA_DIR", "/srv/rag")
    default = Settings().isolated(Path("/srv/rag/eval/x"))
    assert default.registry_url == "sqlite:////srv/rag/eval/x/registry.sqlite3"
    assert default.chroma_path == Path("/srv/rag/eval/x/chroma")
    assert default.model_cache_dir == Path("/srv/rag/cache")  # exported models are shared
    monkeypatch.setenv("RAG_REGISTRY_URL", "postgresql://rag:secret@db:5432/rag")
    monkeypatch.setenv("RAG_CHROMA_URL", "http://chroma:8000")
    shared = Settings(chunk_size=123).isolated(Path("/tmp/e"))
    assert shared.registry_url == "sqlite:////tmp/e/registry.sqlite3"
    assert shared.chroma_url is None and shared.chunk_size == 123


def test_toml_file_below_environment(tmp_path, monkeypatch):
    config = tmp_path / "rag.toml"
    config.write_text('top_k = 7\nport = 8100\ncollection = "team-docs"\n')
    monkeypatch.setenv("RAG_CONFIG_FILE", str(config))
    monkeypatch.setenv("RAG_PORT", "8200")
    s = Settings()
    assert (s.top_k, s.port, s.collection) == (7, 8200, "team-docs")


def test_missing_config_file_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_CONFIG_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        Settings()


def test_overlap_must_be_below_size():
    with pytest.raises(ValidationError, match="chunk_overlap"):
        Settings(chunk_size=50, chunk_overlap=50)


def test_chroma_collection_and_its_deprecated_old_name(monkeypatch, tmp_path, caplog):
    """RAG_CHROMA_COLLECTION names the Chroma collection; RAG_COLLECTION, its old name, still works (in the
    environment, a .env file and a TOML file) with a warning; where both are given, the new name wins."""
    caplog.set_level(logging.WARNING, logger="rag.config")
    assert Settings().chroma_collection == "documents" and not caplog.records

    monkeypatch.setenv("RAG_CHROMA_COLLECTION", "new-name")
    assert Settings().chroma_collection == "new-name" and not caplog.records

    monkeypatch.setenv("RAG_COLLECTION", "old-name")
    assert Settings().chroma_collection == "new-name"  # the new name wins
    monkeypatch.delenv("RAG_CHROMA_COLLECTION")
    caplog.clear()
    s = Settings()
    assert s.chroma_collection == "old-name" and s.collection == "old-name"
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "RAG_COLLECTION" in record.getMessage() and "deprecated" in record.getMessage()
    assert "use RAG_CHROMA_COLLECTION" in record.getMessage()
    monkeypatch.delenv("RAG_COLLECTION")

    env_file = tmp_path / ".env"
    env_file.write_text("RAG_COLLECTION=from-dotenv\nCOLLECTION=unprefixed-is-not-a-setting\n")
    caplog.clear()
    assert Settings(_env_file=env_file).chroma_collection == "from-dotenv"
    assert "RAG_CHROMA_COLLECTION" in caplog.text

    config = tmp_path / "rag.toml"
    config.write_text('collection = "from-toml"\n')
    monkeypatch.setenv("RAG_CONFIG_FILE", str(config))
    caplog.clear()
    assert Settings().chroma_collection == "from-toml" and "deprecated" in caplog.text
    monkeypatch.setenv("RAG_CHROMA_COLLECTION", "env-beats-file")
    assert Settings().chroma_collection == "env-beats-file"


def test_empty_abstention_settings_mean_unset(monkeypatch):
    monkeypatch.setenv("RAG_ABSTAIN_BELOW", "")
    monkeypatch.setenv("RAG_ABSTAIN_BELOW_ANSWERABILITY", " ")
    settings = Settings()
    assert settings.abstain_below is None
    assert settings.abstain_below_answerability is None
    monkeypatch.setenv("RAG_ABSTAIN_BELOW", "0.25")
    assert Settings().abstain_below == 0.25
