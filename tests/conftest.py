from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fakes import fake_services


@pytest.fixture(autouse=True)
def _no_stray_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from the defaults, whatever the developer's shell exports."""
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture
def services(tmp_path: Path):
    return fake_services(tmp_path / "data")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One exported-model cache for the whole run, as a deployment would keep one."""
    return tmp_path_factory.mktemp("model-cache")
