"""API keys and tenants over real HTTP: ``rag serve`` as shipped (auth on), keys made with the CLI beside it and
through /v1/keys, two collections that cannot see each other, an OpenAI client with a key."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import LiveServer, run_cli, service_env

pytestmark = pytest.mark.integration

ALPHA = b"# Alpha depot\n\nThe alpha depot vault code is 7741, and the vault opens at nine in the morning.\n"


@pytest.fixture(scope="module")
def server(live_server: LiveServer) -> LiveServer:
    """``rag serve`` as shipped, auth on (conftest's ``live_server``, one for this module)."""
    return live_server


def cli(server: LiveServer, model_cache: Path, *args: str):
    return run_cli(["keys", *args], service_env(server.data_dir, model_cache))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_first_start_wrote_an_admin_key_only_its_owner_can_read_and_logged_where(server):
    key_file = server.data_dir / "admin-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert server.key and server.key.startswith("rag_")
    log = server.log_path.read_text()
    assert str(key_file.resolve()) in log and server.key not in log


def test_without_a_key_the_api_is_closed_and_the_probes_page_and_docs_are_open(server):
    r = httpx.get(f"{server.url}/v1/documents", timeout=30)
    assert r.status_code == 401 and "Authorization: Bearer <key>" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"
    for path in ("/healthz", "/readyz", "/metrics", "/", "/static/app.js", "/docs", "/openapi.json"):
        assert httpx.get(f"{server.url}{path}", timeout=30).status_code == 200, path


def test_two_tenants_over_http_with_cli_and_api_made_keys(server, model_cache):
    from openai import AuthenticationError, OpenAI

    made = cli(server, model_cache, "create", "--scope", "write", "--collection", "alpha", "--name", "alpha team")
    assert made.returncode == 0, made.stderr
    alpha = made.stdout.strip()
    with server.client() as admin:
        r = admin.post("/v1/keys", json={"scope": "write", "collection": "beta", "name": "beta team"})
        assert r.status_code == 201, r.text
        beta = r.json()["key"]
        r = admin.post("/v1/keys", json={"scope": "read", "collection": "alpha"})
        alpha_reader = r.json()["key"]

    with (
        httpx.Client(base_url=server.url, headers=bearer(alpha), timeout=120) as a,
        httpx.Client(base_url=server.url, headers=bearer(beta), timeout=120) as b,
    ):
        up = a.post("/v1/documents", files={"file": ("depot.md", ALPHA, "text/markdown")})
        assert up.status_code == 201 and up.json()["collection"] == "alpha", up.text
        doc = up.json()["id"]
        r = a.post("/v1/documents", files={"file": ("depot.md", ALPHA)}, headers={"X-Collection": "beta"})
        assert r.status_code == 403 and "cannot use collection 'beta'" in r.json()["detail"]

        assert b.get("/v1/documents").json() == {"documents": [], "total": 0}
        assert b.get(f"/v1/documents/{doc}").status_code == 404
        assert b.delete(f"/v1/documents/{doc}").status_code == 404
        question = {"question": "What is the alpha depot vault code?"}
        answer = b.post("/v1/query", json=question).json()
        assert answer["answer_type"] == "no_documents" and "7741" not in answer["answer"]
        assert b.post("/v1/retrieve", json={**question, "filter": {"document_ids": [doc]}}).json()["chunks"] == []

        answer = a.post("/v1/query", json=question).json()
        assert "7741" in answer["answer"] and answer["citations"][0]["document_id"] == doc

        r = httpx.post(
            f"{server.url}/v1/documents", files={"file": ("x.md", b"x y z.\n")}, headers=bearer(alpha_reader)
        )
        assert r.status_code == 403 and "needs scope 'write'" in r.json()["detail"]

    asked = [{"role": "user", "content": "What is the alpha depot vault code?"}]
    reply = OpenAI(base_url=f"{server.url}/v1", api_key=alpha, max_retries=0, timeout=120).chat.completions.create(
        model="default", messages=asked
    )
    assert "7741" in reply.choices[0].message.content and reply.model_extra["sources"][0]["document_id"] == doc
    reply = OpenAI(base_url=f"{server.url}/v1", api_key=beta, max_retries=0, timeout=120).chat.completions.create(
        model="default", messages=asked
    )
    assert reply.model_extra["sources"] == [] and "7741" not in reply.choices[0].message.content
    with pytest.raises(AuthenticationError):
        OpenAI(base_url=f"{server.url}/v1", api_key="rag_wrong", max_retries=0).chat.completions.create(
            model="default", messages=asked
        )

    # Revoked with the CLI (another process, same registry): the running server refuses the key at once.
    listed = cli(server, model_cache, "list")
    assert alpha[:12] in listed.stdout and alpha not in listed.stdout
    revoked = cli(server, model_cache, "revoke", alpha[:12])
    assert revoked.returncode == 0, revoked.stderr
    r = httpx.get(f"{server.url}/v1/documents", headers=bearer(alpha), timeout=30)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
