"""API keys, scopes and collections as tenants, over the real app in process (fake models).

Two tenants, ``alpha`` and ``beta``, each with its own write key; every /v1 endpoint is tried across them (403 or
404, and nothing changes) and within (success). tests/integration/test_auth.py does the same over real HTTP.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import re
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from api.app import create_app
from rag.keys import KeyService
from rag.store.registry import Registry
from tests.fakes import fake_services

ALPHA_FACT = b"The alpha vault code is 7741. It opens the north door of the Zephyr depot.\n"
BETA_FACT = b"The beta greenhouse grows violet tomatoes under orange lamps every winter.\n"


class Tenants:
    """The app with auth on, its first admin key (from the file the service wrote) and keys per tenant."""

    def __init__(self, tmp_path: Path) -> None:
        self.roots = tmp_path / "roots"
        (self.roots / "alpha-folder").mkdir(parents=True)
        (self.roots / "alpha-folder" / "note.md").write_text("The alpha folder note mentions kingfishers.\n")
        self.services = fake_services(tmp_path / "data", auth=True, scheduler=False, source_roots=[self.roots])
        self.client = TestClient(create_app(self.services.settings, self.services))
        self.client.__enter__()  # start-up: writes DATA_DIR/admin-key
        self.admin = self.services.settings.admin_key_path.read_text().strip()
        keys = self.services.keys
        self.alpha = keys.create("write", "alpha", "alpha writer")[1]
        self.beta = keys.create("write", "beta", "beta writer")[1]
        self.alpha_read = keys.create("read", "alpha")[1]
        self.alpha_admin = keys.create("admin", "alpha")[1]

    def upload(self, key: str, name: str, data: bytes, **params) -> dict:
        r = self.client.post("/v1/documents", files={"file": (name, data)}, headers=auth(key), params=params)
        assert r.status_code in (200, 201, 202), r.text
        return r.json()


def auth(key: str, collection: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    if collection is not None:
        headers["X-Collection"] = collection
    return headers


@pytest.fixture
def t(tmp_path: Path):
    tenants = Tenants(tmp_path)
    yield tenants
    tenants.client.__exit__(None, None, None)


# --- keys: made, stored, checked -------------------------------------------------------------------------


def test_first_start_writes_an_admin_key_file_readable_by_owner_only_and_logs_only_its_path(tmp_path, caplog):
    services = fake_services(tmp_path / "data", auth=True, scheduler=False)
    with caplog.at_level(logging.INFO), TestClient(create_app(services.settings, services)):
        pass
    path = services.settings.admin_key_path
    key = path.read_text().strip()
    assert re.fullmatch(r"rag_[A-Za-z0-9_-]{43}", key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path.resolve()) in caplog.text and key not in caplog.text
    [record] = services.keys.list()
    assert record.scope == "admin" and record.collection == "*" and key.startswith(record.prefix)

    # Only the hash is stored: the key appears nowhere in the database files.
    with services.registry.engine.connect() as conn:
        stored = conn.execute(text("SELECT key_hash FROM api_keys")).scalar_one()
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    for db in (tmp_path / "data").glob("registry.sqlite3*"):
        assert key.encode() not in db.read_bytes()

    # A second start with a key present makes no other key and leaves the file alone.
    with TestClient(create_app(services.settings, services)):
        pass
    assert len(services.keys.list()) == 1 and path.read_text().strip() == key


def test_verify_accepts_only_the_exact_unrevoked_key(tmp_path):
    keys = KeyService(Registry.from_url(f"sqlite:///{tmp_path / 'r.sqlite3'}"))
    record, key = keys.create("read", "alpha")
    assert keys.verify(key) == record
    assert keys.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None  # same prefix, wrong key
    assert keys.verify(key + "x") is None and keys.verify("") is None and keys.verify("Bearer " + key) is None
    keys.revoke(record)
    assert keys.verify(key) is None


@pytest.mark.parametrize(
    ("headers", "phrase"),
    [
        ({}, "this API needs a key: send an API key as 'Authorization: Bearer <key>'"),
        ({"Authorization": "Bearer rag_notarealkeyatall"}, "not valid (unknown or revoked)"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "not of the form 'Bearer <key>'"),
        ({"Authorization": "rag_plainkeywithoutscheme"}, "not of the form 'Bearer <key>'"),
    ],
    ids=["missing", "unknown", "basic", "no-scheme"],
)
def test_missing_or_unknown_key_is_401_saying_how_to_send_one(t, headers, phrase):
    r = t.client.get("/v1/documents", headers=headers)
    assert r.status_code == 401 and phrase in r.json()["detail"]
    assert "admin-key" in r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"


def test_revoked_key_is_401_at_once(t):
    assert t.client.get("/v1/documents", headers=auth(t.alpha_read)).status_code == 200
    prefix = t.alpha_read[:12]
    assert t.client.delete(f"/v1/keys/{prefix}", headers=auth(t.admin)).status_code == 204
    r = t.client.get("/v1/documents", headers=auth(t.alpha_read))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_open_routes_need_no_key(t):
    for path in ("/healthz", "/metrics", "/", "/static/app.js", "/static/style.css", "/docs", "/openapi.json"):
        assert t.client.get(path).status_code == 200, path
    assert t.client.get("/readyz").status_code in (200, 503)  # open; its status is about readiness


def test_openapi_shows_the_bearer_scheme_on_the_api_and_not_on_probes(t):
    spec = t.client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["APIKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["APIKey"]["description"],
    }
    for path, method in [
        ("/v1/documents", "get"),
        ("/v1/documents", "post"),
        ("/v1/query", "post"),
        ("/v1/chat/completions", "post"),
        ("/v1/keys", "post"),
        ("/v1/sources/{source_id}", "delete"),
    ]:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"APIKey": []}], path
        assert {"401", "403"} <= set(operation["responses"]), path
        assert any(p["name"] == "X-Collection" and p["in"] == "header" for p in operation["parameters"]), path
    for path in ("/healthz", "/readyz", "/metrics"):
        assert "security" not in spec["paths"][path]["get"], path


# --- scopes ----------------------------------------------------------------------------------------------


def test_scopes_read_write_admin_each_include_the_ones_before(t):
    r = t.client.post("/v1/documents", files={"file": ("a.txt", ALPHA_FACT)}, headers=auth(t.alpha_read))
    assert (
        r.status_code == 403
        and "has scope 'read'" in r.json()["detail"]
        and "needs scope 'write'" in r.json()["detail"]
    )
    assert t.client.get("/v1/documents", headers=auth(t.alpha_read)).status_code == 200
    t.upload(t.alpha, "a.txt", ALPHA_FACT)  # write
    assert t.client.get("/v1/documents", headers=auth(t.alpha)).json()["total"] == 1  # write includes read
    assert t.client.get("/v1/documents", headers=auth(t.alpha_admin)).json()["total"] == 1  # admin includes read
    t.upload(t.alpha_admin, "b.txt", BETA_FACT)  # admin includes write
    r = t.client.get("/v1/keys", headers=auth(t.alpha))
    assert r.status_code == 403 and "needs scope 'admin'" in r.json()["detail"]
    r = t.client.post("/v1/sources", json={"path": str(t.roots / "alpha-folder")}, headers=auth(t.alpha))
    assert r.status_code == 403 and "needs scope 'admin'" in r.json()["detail"]


def test_collection_header_is_checked_against_the_key(t):
    r = t.client.get("/v1/documents", headers=auth(t.alpha, "beta"))
    assert r.status_code == 403
    assert "is for collection 'alpha' and cannot use collection 'beta'" in r.json()["detail"]
    assert t.client.get("/v1/documents", headers=auth(t.alpha, "alpha")).status_code == 200
    r = t.client.get("/v1/documents", headers=auth(t.admin, "../etc"))
    assert r.status_code == 422 and "X-Collection" in str(r.json()["detail"])


# --- every endpoint across tenants -------------------------------------------------------------------------


def test_upload_goes_to_the_keys_collection_and_not_into_another(t):
    r = t.client.post("/v1/documents", files={"file": ("a.txt", ALPHA_FACT)}, headers=auth(t.alpha, "beta"))
    assert r.status_code == 403
    assert t.services.registry.count() == 0
    doc = t.upload(t.alpha, "a.txt", ALPHA_FACT)
    assert doc["collection"] == "alpha" and doc["outcome"] == "created"
    # Deduplication and versions are per collection: the same file in beta is beta's own document.
    other = t.upload(t.beta, "a.txt", ALPHA_FACT)
    assert other["outcome"] == "created" and other["id"] != doc["id"] and other["collection"] == "beta"
    # An admin of every collection names the collection it works in.
    third = t.upload(t.admin, "a.txt", ALPHA_FACT, background=False)
    assert third["collection"] == "default"
    assert t.client.post("/v1/documents", files={"file": ("a.txt", ALPHA_FACT)}, headers=auth(t.admin, "alpha")).json()[
        "outcome"
    ] == ("unchanged")


def test_document_list_shows_only_the_callers_collection(t):
    a = t.upload(t.alpha, "a.txt", ALPHA_FACT)
    b = t.upload(t.beta, "b.txt", BETA_FACT)
    alpha = t.client.get("/v1/documents", headers=auth(t.alpha)).json()
    beta = t.client.get("/v1/documents", headers=auth(t.beta)).json()
    assert [d["id"] for d in alpha["documents"]] == [a["id"]] and alpha["total"] == 1
    assert [d["id"] for d in beta["documents"]] == [b["id"]] and beta["total"] == 1
    assert t.client.get("/v1/documents", headers=auth(t.admin)).json()["total"] == 0  # "default" is empty


def test_document_get_of_another_collection_is_404(t):
    a = t.upload(t.alpha, "a.txt", ALPHA_FACT)
    for params in ({}, {"include_chunks": True}):
        r = t.client.get(f"/v1/documents/{a['id']}", headers=auth(t.beta), params=params)
        assert r.status_code == 404 and "in collection 'beta'" in r.json()["detail"]
    r = t.client.get(f"/v1/documents/{a['id']}", headers=auth(t.alpha), params={"include_chunks": True})
    assert r.status_code == 200 and r.json()["chunks"]


def test_document_delete_of_another_collection_is_404_and_deletes_nothing(t):
    a = t.upload(t.alpha, "a.txt", ALPHA_FACT)
    assert t.client.delete(f"/v1/documents/{a['id']}", headers=auth(t.beta)).status_code == 404
    assert t.client.delete(f"/v1/documents/{a['id']}", headers=auth(t.alpha_read)).status_code == 403
    assert t.services.registry.get(a["id"]) is not None and t.services.store.count() > 0
    assert t.client.delete(f"/v1/documents/{a['id']}", headers=auth(t.alpha)).status_code == 204
    assert t.services.registry.get(a["id"]) is None


def test_jobs_of_another_collection_are_hidden(t):
    job = t.upload(t.alpha, "a.txt", ALPHA_FACT, background=True)
    t.services.jobs.shutdown(wait=True)  # let the upload job finish
    assert t.client.get(f"/v1/jobs/{job['id']}", headers=auth(t.beta)).status_code == 404
    assert t.client.get("/v1/jobs", headers=auth(t.beta)).json()["jobs"] == []
    mine = t.client.get(f"/v1/jobs/{job['id']}", headers=auth(t.alpha)).json()
    assert mine["status"] == "succeeded" and mine["collection"] == "alpha"
    assert [j["id"] for j in t.client.get("/v1/jobs", headers=auth(t.alpha)).json()["jobs"]] == [job["id"]]
    assert t.services.registry.get(mine["document_id"]).collection == "alpha"


def test_sources_of_another_collection_can_be_neither_seen_nor_changed(t):
    folder = str(t.roots / "alpha-folder")
    # Registering a folder reads the server's files: admin only, and only for the admin key's collection.
    r = t.client.post("/v1/sources", json={"path": folder, "refresh": False}, headers=auth(t.alpha_admin, "beta"))
    assert r.status_code == 403
    r = t.client.post("/v1/sources", json={"path": folder, "refresh": False}, headers=auth(t.alpha_admin))
    assert r.status_code == 201, r.text
    source = r.json()
    assert source["collection"] == "alpha"
    sid = source["id"]
    # A folder feeds one collection: beta cannot take it over, and is not told alpha's source id.
    r = t.client.post("/v1/sources", json={"path": folder}, headers=auth(t.admin, "beta"))
    assert r.status_code == 409 and sid not in r.json()["detail"]

    assert t.client.get("/v1/sources", headers=auth(t.beta)).json()["sources"] == []
    assert t.client.get(f"/v1/sources/{sid}", headers=auth(t.beta)).status_code == 404
    assert t.client.patch(f"/v1/sources/{sid}", json={"interval_s": 60}, headers=auth(t.beta)).status_code == 404
    assert t.client.post(f"/v1/sources/{sid}/refresh", headers=auth(t.beta)).status_code == 404
    assert t.client.delete(f"/v1/sources/{sid}", headers=auth(t.beta)).status_code == 404
    assert t.services.registry.get_source(sid).interval_s is None and t.services.registry.list_jobs() == []

    assert [s["id"] for s in t.client.get("/v1/sources", headers=auth(t.alpha_read)).json()["sources"]] == [sid]
    assert t.client.patch(f"/v1/sources/{sid}", json={"interval_s": 60}, headers=auth(t.alpha)).status_code == 200
    r = t.client.post(f"/v1/sources/{sid}/refresh", headers=auth(t.alpha))
    assert r.status_code == 202 and r.json()["collection"] == "alpha"
    assert t.services.jobs.run_pending() == 1
    [doc] = t.services.registry.list()
    assert doc.collection == "alpha" and doc.source.endswith("note.md")
    assert t.client.get(f"/v1/jobs/{r.json()['id']}", headers=auth(t.beta)).status_code == 404
    assert t.client.delete(f"/v1/sources/{sid}", headers=auth(t.alpha)).status_code == 204


def test_query_answers_only_from_the_callers_collection(t):
    t.upload(t.alpha, "a.txt", ALPHA_FACT)
    question = {"question": "What is the alpha vault code?"}
    r = t.client.post("/v1/query", json=question, headers=auth(t.beta))
    assert r.status_code == 200 and r.json()["answer_type"] == "no_documents" and r.json()["citations"] == []
    t.upload(t.beta, "b.txt", BETA_FACT)
    body = t.client.post("/v1/query", json=question, headers=auth(t.beta)).json()
    assert all(c["source"] == "b.txt" for c in body["citations"])
    streamed = t.client.post("/v1/query", json={**question, "stream": True}, headers=auth(t.beta)).text
    assert "7741" not in streamed and "a.txt" not in streamed
    body = t.client.post("/v1/query", json=question, headers=auth(t.alpha)).json()
    assert "7741" in body["answer"] and body["citations"][0]["source"] == "a.txt"


def test_retrieve_never_returns_another_collections_chunks_even_when_asked_by_id(t):
    a = t.upload(t.alpha, "a.txt", ALPHA_FACT)
    t.upload(t.beta, "b.txt", BETA_FACT)
    for options in ({}, {"filter": {"document_ids": [a["id"]]}}, {"mode": "keyword"}, {"mode": "dense"}):
        body = {"question": "alpha vault code 7741", **options}
        chunks = t.client.post("/v1/retrieve", json=body, headers=auth(t.beta)).json()["chunks"]
        assert all(c["document_id"] != a["id"] for c in chunks), options
    chunks = t.client.post("/v1/retrieve", json={"question": "alpha vault code"}, headers=auth(t.alpha)).json()
    assert chunks["chunks"][0]["document_id"] == a["id"]


def test_library_callers_name_a_collection_or_search_all(t):
    from rag.langchain import DocumentRetriever

    a = t.upload(t.alpha, "a.txt", ALPHA_FACT)
    b = t.upload(t.beta, "b.txt", BETA_FACT)
    question = "alpha vault code 7741 and beta violet tomatoes"
    found = {c.document_id for c in t.services.retriever.retrieve(question)}  # the CLI and evaluation: every one
    assert found == {a["id"], b["id"]}
    docs = DocumentRetriever(retriever=t.services.retriever, collection="beta").invoke(question)
    assert {d.metadata["document_id"] for d in docs} == {b["id"]}


def test_openai_client_sends_its_api_key_and_sees_only_its_collection(t):
    from openai import OpenAI

    t.upload(t.alpha, "a.txt", ALPHA_FACT)
    question = [{"role": "user", "content": "What is the alpha vault code?"}]
    beta = OpenAI(base_url="http://testserver/v1", api_key=t.beta, http_client=t.client, max_retries=0)
    reply = beta.chat.completions.create(model="default", messages=question)
    assert reply.model_extra["sources"] == [] and reply.model_extra["answer_type"] == "no_documents"
    alpha = OpenAI(base_url="http://testserver/v1", api_key=t.alpha, http_client=t.client, max_retries=0)
    reply = alpha.chat.completions.create(model="default", messages=question)
    assert "7741" in reply.choices[0].message.content and reply.model_extra["sources"][0]["source"] == "a.txt"
    stream = beta.chat.completions.create(model="default", messages=question, stream=True)
    assert "7741" not in "".join(c.choices[0].delta.content or "" for c in stream)

    import openai

    nobody = OpenAI(base_url="http://testserver/v1", api_key="rag_wrong", http_client=t.client, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        nobody.chat.completions.create(model="default", messages=question)


def test_keys_endpoints_are_admin_only_and_confined_to_the_admins_collection(t):
    # An admin of alpha lists, makes and revokes alpha's keys only.
    listed = t.client.get("/v1/keys", headers=auth(t.alpha_admin)).json()["keys"]
    assert {k["collection"] for k in listed} == {"alpha"} and "key" not in listed[0] and "key_hash" not in listed[0]
    r = t.client.post("/v1/keys", json={"scope": "read", "collection": "beta"}, headers=auth(t.alpha_admin))
    assert r.status_code == 403 and "for collection 'alpha'" in r.json()["detail"]
    r = t.client.post("/v1/keys", json={"scope": "admin", "collection": "*"}, headers=auth(t.alpha_admin))
    assert r.status_code == 403
    beta_prefix = t.beta[:12]
    assert t.client.delete(f"/v1/keys/{beta_prefix}", headers=auth(t.alpha_admin)).status_code == 404
    assert t.client.get("/v1/documents", headers=auth(t.beta)).status_code == 200  # still valid

    made = t.client.post("/v1/keys", json={"scope": "read", "name": "dashboard"}, headers=auth(t.alpha_admin))
    assert made.status_code == 201 and made.json()["collection"] == "alpha" and made.json()["key"].startswith("rag_")
    new_key = made.json()["key"]
    assert t.client.get("/v1/documents", headers=auth(new_key)).status_code == 200
    assert t.client.delete(f"/v1/keys/{made.json()['id']}", headers=auth(t.alpha_admin)).status_code == 204
    assert t.client.get("/v1/documents", headers=auth(new_key)).status_code == 401

    # The admin of every collection sees and manages all keys.
    assert {k["collection"] for k in t.client.get("/v1/keys", headers=auth(t.admin)).json()["keys"]} >= {
        "*",
        "alpha",
        "beta",
    }
    r = t.client.post("/v1/keys", json={"scope": "write", "collection": "*"}, headers=auth(t.admin))
    assert r.status_code == 422 and "only admin keys" in r.json()["detail"]
    r = t.client.post("/v1/keys", json={"scope": "read", "collection": "no/slashes"}, headers=auth(t.admin))
    assert r.status_code == 422 and "not valid" in r.json()["detail"]
    assert t.client.delete(f"/v1/keys/{beta_prefix}", headers=auth(t.admin)).status_code == 204
    assert t.client.get("/v1/documents", headers=auth(t.beta)).status_code == 401


def test_with_auth_off_no_key_is_needed_and_the_header_picks_the_collection(tmp_path):
    services = fake_services(tmp_path / "data", scheduler=False)  # auth=False
    with TestClient(create_app(services.settings, services)) as client:
        r = client.post("/v1/documents", files={"file": ("a.txt", ALPHA_FACT)}, headers={"X-Collection": "alpha"})
        assert r.status_code == 201 and r.json()["collection"] == "alpha"
        assert client.get("/v1/documents").json()["total"] == 0
        assert client.get("/v1/documents", headers={"X-Collection": "alpha"}).json()["total"] == 1
    assert not services.settings.admin_key_path.exists()


# --- uploads never become paths, never reach a shell --------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../escape.txt",
        "../../etc/passwd.txt",
        "/etc/passwd.txt",
        "/tmp/escape.txt",
        "..\\escape.txt",
        "..",
    ],
)
def test_upload_names_with_paths_are_400_and_write_no_file(t, tmp_path, name):
    before = {p for p in tmp_path.rglob("*") if "chroma" not in p.parts and not p.name.startswith("registry")}
    r = t.client.post("/v1/documents", files={"file": (name, ALPHA_FACT)}, headers=auth(t.alpha))
    assert r.status_code == 400 and "path" in r.json()["detail"]
    after = {p for p in tmp_path.rglob("*") if "chroma" not in p.parts and not p.name.startswith("registry")}
    assert after == before and t.services.registry.count() == 0
    assert not Path("/tmp/escape.txt").exists() or Path("/tmp/escape.txt").read_bytes() != ALPHA_FACT


def test_a_windows_drive_path_is_cut_to_its_bare_name_before_it_reaches_the_service(t):
    # The multipart parser itself drops a drive path (old browsers sent whole paths); a plain name is left.
    assert t.upload(t.alpha, "C:" + chr(92) + "x.txt", ALPHA_FACT)["source"] == "x.txt"


def _process_starts(path: Path) -> list[str]:
    """Imports of subprocess/pty, calls of os.system/popen/exec*/spawn*, and shell=True arguments in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            found += [f"import {n}" for n in names if n and n.split(".")[0] in ("subprocess", "pty")]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
            if node.attr in ("system", "popen") or node.attr.startswith(("exec", "spawn", "posix_spawn")):
                found.append(f"os.{node.attr}")
        elif isinstance(node, ast.keyword) and node.arg == "shell":
            found.append("shell=")
    return [f"{path.name}: {f}" for f in found]


def test_ingestion_and_api_code_never_start_processes():
    """Uploaded bytes go to parsers in process: nothing under api/ or ingest/ starts a shell or a program, except
    the one OCR call (ingest/ocr.py), which runs Tesseract from a fixed argument list with the image on stdin."""
    root = Path(__file__).resolve().parents[2]
    hits = [
        hit for folder in ("api", "ingest") for path in (root / folder).rglob("*.py") for hit in _process_starts(path)
    ]
    assert hits == ["ocr.py: import subprocess"]
    ocr = (root / "ingest" / "ocr.py").read_text()
    assert ocr.count("subprocess.run(") == 1 and '["tesseract", "stdin", "stdout"' in ocr
    probe = root / "tests" / "unit" / "test_security.py"  # the check itself can fail: this file imports nothing
    assert _process_starts(probe) == []
    assert _process_starts(Path(__import__("subprocess").__file__))  # ... and subprocess.py does start processes


# --- the registry migration and the CLI ------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite, and a throwaway PostgreSQL database (tests/postgres.py; skipped without the server binaries)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'r.sqlite3'}"
    return request.getfixturevalue("postgres").new_database()


def test_a_registry_from_before_collections_is_migrated_into_the_default_collection(registry_url):
    engine = create_engine(registry_url)
    with engine.begin() as conn:  # the documents table as it was before collections
        conn.execute(
            text(
                "CREATE TABLE documents (id VARCHAR(32) PRIMARY KEY, source VARCHAR(1024) NOT NULL, content_hash "
                "VARCHAR(64) NOT NULL, version INTEGER NOT NULL, status VARCHAR(16) NOT NULL, media_type VARCHAR(128) "
                "NOT NULL, size_bytes INTEGER NOT NULL, chunk_count INTEGER NOT NULL, created_at TIMESTAMP NOT NULL, "
                "updated_at TIMESTAMP NOT NULL, owner VARCHAR(256))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO documents VALUES ('d1', 'old.txt', 'h1', 1, 'ready', 'text/plain', 3, 1, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00', NULL)"
            )
        )
    registry = Registry(engine)
    try:
        assert registry.get("d1").collection == "default"
        assert registry.find_by_hash("h1").id == "d1" and registry.find_by_hash("h1", "alpha") is None
        assert registry.document_ids_matching(collection="default") == {"d1"}
        assert not registry.other_collections_exist("default") and registry.other_collections_exist("alpha")
        assert "ix_documents_collection" in {i["name"] for i in inspect(engine).get_indexes("documents")}
        Registry(engine)  # a second start finds everything in place
    finally:
        engine.dispose()


def test_keys_and_collections_in_the_registry(registry_url):
    registry = Registry.from_url(registry_url)
    try:
        keys = KeyService(registry)
        alpha, alpha_key = keys.create("write", "alpha", "a")
        _, beta_key = keys.create("read", "beta")
        assert keys.verify(alpha_key) == alpha and keys.verify(beta_key).collection == "beta"
        assert [k.collection for k in keys.list("alpha")] == ["alpha"] and len(keys.list()) == 2
        assert keys.find(alpha.prefix) == alpha and keys.find(alpha.prefix, "beta") is None
        assert keys.revoke(alpha) and not keys.revoke(alpha) and keys.verify(alpha_key) is None
        assert registry.count_active_api_keys() == 1 and len(keys.list(include_revoked=True)) == 2

        for doc, collection in (("a1", "alpha"), ("b1", "beta")):
            registry.create(
                document_id=doc,
                source="same.txt",
                content_hash="h",
                media_type="text/plain",
                size_bytes=1,
                collection=collection,
            )
            registry.publish(doc, version=1, content_hash="h", media_type="text/plain", size_bytes=1, chunk_count=1)
        assert registry.find_by_source("same.txt", "alpha").id == "a1"
        assert registry.find_by_hash("h", "beta").id == "b1"
        assert [d.id for d in registry.list(collection="beta")] == ["b1"] and registry.count("alpha") == 1
        assert registry.other_collections_exist("alpha") and registry.other_collections_exist("default")
        assert registry.visible_versions(["a1", "b1"], "alpha") == {"a1": 1}
        job = registry.create_job("upload", "x", collection="beta")
        assert registry.get_job(job.id).collection == "beta" and registry.list_jobs(collection="alpha") == []
        source = registry.create_source("/srv/a", ["**/*"], [], None, "alpha")
        assert registry.list_sources("beta") == [] and registry.list_sources("alpha") == [source]
    finally:
        registry.engine.dispose()


def test_cli_creates_lists_and_revokes_keys(tmp_path, monkeypatch):
    from api.cli import app

    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "--scope", "read", "--collection", "alpha", "--name", "ci"])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("rag_")
    keys = KeyService(Registry.from_url(f"sqlite:///{tmp_path / 'data' / 'registry.sqlite3'}"))
    assert keys.verify(key).collection == "alpha"

    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0 and key[:12] in listed.stdout and "alpha" in listed.stdout
    assert key not in listed.stdout

    bad = runner.invoke(app, ["keys", "create", "--scope", "read", "--collection", "*"])
    assert bad.exit_code == 2 and "only admin keys" in bad.output
    bad = runner.invoke(app, ["keys", "create", "--scope", "owner"])
    assert bad.exit_code == 2 and "not one of read, write, admin" in bad.output
    bad = runner.invoke(app, ["keys", "create", "--scope", "read", "--name", "x" * 300])
    assert bad.exit_code == 2 and "at most 256 characters" in bad.output

    revoked = runner.invoke(app, ["keys", "revoke", key[:12]])
    assert revoked.exit_code == 0, revoked.output
    assert keys.verify(key) is None
    assert runner.invoke(app, ["keys", "revoke", key[:12]]).exit_code == 2
