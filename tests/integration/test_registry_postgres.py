"""The service on a PostgreSQL registry: two `rag serve` processes and a `rag ingest` process share one
PostgreSQL database (a throwaway server on loopback, tests/postgres.py) and one Chroma server, and each sees
what the others wrote. The registry's own tests run on PostgreSQL in tests/unit/test_registry.py."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from rag.store.registry import Registry
from tests.integration.conftest import LiveServer, run_cli, service_env

pytestmark = pytest.mark.integration

SOUP = (
    "# Zephyr Kitchen Notes\n\nThe secret ingredient in the Zephyr Kitchen tomato soup is smoked paprika from the "
    "village of Zarnesti.\n\nThe soup is served every Thursday, and the kitchen closes at 21:30.\n"
)
PARKING = "# Orchid Garage\n\nVisitor parking for the Orchid office is on level minus two of the garage.\n"


def auth_headers(*data_dirs: Path) -> dict[str, str]:
    """The admin key that one of the servers wrote on first start, if the API asks for keys (the registry is
    shared, so one key works on every process)."""
    for data_dir in data_dirs:
        key_file = data_dir / "admin-key"
        if key_file.exists():
            return {"Authorization": f"Bearer {key_file.read_text().strip()}"}
    return {}


def test_two_servers_and_the_cli_share_a_postgres_registry(tmp_path, model_cache, chroma_server, postgres):
    url = postgres.new_database()
    shared = {"RAG_REGISTRY_URL": url, "RAG_CHROMA_URL": chroma_server}
    # Both start at once on an empty database: one sets the schema up, the other waits for it (advisory lock).
    a = LiveServer(tmp_path / "a", model_cache, tmp_path / "a.log", **shared)
    b = LiveServer(tmp_path / "b", model_cache, tmp_path / "b.log", **shared)
    try:
        a.wait_ready()
        b.wait_ready()
        headers = auth_headers(tmp_path / "a", tmp_path / "b")
        with (
            httpx.Client(base_url=a.url, timeout=120, headers=headers) as ca,
            httpx.Client(base_url=b.url, timeout=120, headers=headers) as cb,
        ):
            r = ca.post("/v1/documents", files={"file": ("zephyr.md", SOUP.encode(), "text/markdown")})
            assert r.status_code == 201, r.text
            soup = r.json()

            answer = ca.post("/v1/query", json={"question": "What is the secret ingredient in the tomato soup?"})
            assert answer.status_code == 200, answer.text
            assert "smoked paprika" in answer.json()["answer"]
            assert answer.json()["citations"][0]["document_id"] == soup["id"]

            # The other server reads the same registry row and the same vectors.
            listed = {d["id"]: d for d in cb.get("/v1/documents").json()["documents"]}
            assert listed[soup["id"]]["content_hash"] == soup["content_hash"]
            assert listed[soup["id"]]["status"] == "ready"
            from_b = cb.post("/v1/query", json={"question": "What is the secret ingredient in the tomato soup?"})
            assert from_b.status_code == 200 and from_b.json()["citations"][0]["document_id"] == soup["id"]

            # A third process, the CLI, indexes a file into the same registry and index.
            (tmp_path / "docs").mkdir()
            (tmp_path / "docs" / "parking.md").write_text(PARKING)
            cli = run_cli(["ingest", str(tmp_path / "docs")], service_env(tmp_path / "c", model_cache, **shared))
            assert cli.returncode == 0, cli.stdout + cli.stderr
            sources = {d["source"]: d["id"] for d in ca.get("/v1/documents").json()["documents"]}
            assert set(sources) == {"zephyr.md", "docs/parking.md"}  # #14: named relative to the folder ingested
            parking = ca.post("/v1/query", json={"question": "Which level is visitor parking on?"}).json()
            assert parking["citations"][0]["document_id"] == sources["docs/parking.md"]

            # A delete through B is gone for A at once.
            assert cb.delete(f"/v1/documents/{soup['id']}").status_code == 204
            assert ca.get(f"/v1/documents/{soup['id']}").status_code == 404
            again = ca.post("/v1/query", json={"question": "What is the secret ingredient in the tomato soup?"})
            assert soup["id"] not in {c["document_id"] for c in again.json()["citations"]}
    finally:
        a.stop()
        b.stop()

    # The rows are in PostgreSQL, not in a SQLite file of either data directory.
    registry = Registry.from_url(url)
    assert [d.source for d in registry.list()] == ["docs/parking.md"]
    registry.engine.dispose()
    assert not list(tmp_path.glob("*/registry.sqlite3"))
