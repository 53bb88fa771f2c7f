from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import fake_services
from tests.postgres import PostgresCluster, server_binaries


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL server on loopback for the whole run (see tests/postgres.py)."""
    binaries = server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run `make postgres`")
    cluster = PostgresCluster(binaries)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
