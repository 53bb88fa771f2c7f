"""Folder sources with the real parts: the service on loopback, `rag` processes killed mid-refresh, a `rag worker`
beside API processes on a real Chroma server."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.failpoints import REFRESH_POINTS
from tests.integration.conftest import BIN, LiveServer, run_cli, service_env

pytestmark = pytest.mark.integration


def wait_job(client: httpx.Client, job_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job did not finish in {timeout}s: {job}")


def wait_next_job(client: httpx.Client, source_id: str, after: str, timeout: float = 60) -> dict:
    """The first refresh job of the source after job ``after``, once finished (started by the schedule)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = client.get(f"/v1/sources/{source_id}").json()["last_job"]
        if last and last["id"] != after and last["status"] in ("succeeded", "failed"):
            return last
        time.sleep(0.3)
    raise AssertionError(f"no scheduled refresh within {timeout}s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("sources-server")
    live = LiveServer(root / "data", model_cache, root / "server.log", RAG_SCHEDULER_TICK_S="1")
    try:
        live.wait_ready()
        yield live
    finally:
        live.stop()


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def test_the_index_follows_a_folder_on_its_schedule(client, tmp_path):
    folder = tmp_path / "team-docs"
    folder.mkdir()
    (folder / "boiler.md").write_text("# Boiler\n\nThe boiler room key is kept in the blue cabinet.\n")
    (folder / "parking.txt").write_text("Visitor parking is on level minus two of the Orchid garage.\n")
    (folder / "old.txt").write_text("The retired mascot of the team was a purple heron named Ignatius.\n")
    (folder / "junk.txt").write_bytes(b"\x00\x01\x02binary\x00" * 50)

    r = client.post("/v1/sources", json={"path": str(folder), "interval_s": 10})
    assert r.status_code == 201, r.text
    source = r.json()
    first = wait_job(client, r.headers["Location"].rsplit("/", 1)[1])
    assert first["counts"]["added"] == 3 and first["counts"]["failed"] == 1, first
    assert first["errors"][0]["source"] == "junk.txt" and "binary" in first["errors"][0]["error"]
    assert client.get(f"/v1/sources/{source['id']}").json()["failed_files"][0]["path"] == "junk.txt"

    answer = client.post("/v1/query", json={"question": "Where is the boiler room key kept?"}).json()
    assert "blue cabinet" in answer["answer"]
    assert answer["citations"][0]["source"] == "team-docs/boiler.md"  # named after the folder, not the server's path

    # Change the folder; nobody asks for a refresh: the schedule does it.
    (folder / "boiler.md").write_text("# Boiler\n\nThe boiler room key is now kept at the front desk.\n")
    (folder / "badges.md").write_text("# Badges\n\nLost badges are replaced by the security office in hall C.\n")
    (folder / "old.txt").unlink()
    scheduled = wait_next_job(client, source["id"], after=first["id"])
    counts = scheduled["counts"]
    assert (counts["added"], counts["updated"], counts["deleted"], counts["failed"]) == (1, 1, 1, 1), scheduled

    answer = client.post("/v1/query", json={"question": "Where is the boiler room key kept?"}).json()
    assert "front desk" in answer["answer"] and "blue cabinet" not in json.dumps(answer)
    hits = client.post("/v1/retrieve", json={"question": "retired purple heron mascot Ignatius"}).json()["chunks"]
    assert all(h["source"] != "team-docs/old.txt" for h in hits)
    sources = {d["source"] for d in client.get("/v1/documents").json()["documents"]}
    assert {f"team-docs/{n}" for n in ("boiler.md", "parking.txt", "badges.md")} <= sources
    assert "team-docs/old.txt" not in sources

    assert client.delete(f"/v1/sources/{source['id']}").status_code in (204, 409)


def test_queries_see_whole_versions_while_a_refresh_runs(client, tmp_path):
    folder = tmp_path / "editions"
    folder.mkdir()
    filler = "This paragraph pads the file so that it spans several chunks of text. " * 25

    def write_all(edition: str) -> None:
        for n in range(12):
            body = "\n\n".join(f"Edition {edition} of report {n}, section {s}. {filler}" for s in range(3))
            (folder / f"report{n:02d}.md").write_text(body)

    write_all("alpha")
    r = client.post("/v1/sources", json={"path": str(folder)})
    source_id = r.json()["id"]
    wait_job(client, r.headers["Location"].rsplit("/", 1)[1])

    write_all("omega")
    job = client.post(f"/v1/sources/{source_id}/refresh").json()
    seen: list[list[dict]] = []
    done = threading.Event()

    def ask() -> None:
        with httpx.Client(base_url=client.base_url, headers=client.headers, timeout=60) as c:
            while not done.is_set():
                body = {"question": "edition of report section", "top_k": 30, "mode": "dense"}
                seen.append(c.post("/v1/retrieve", json=body).json()["chunks"])

    reader = threading.Thread(target=ask)
    reader.start()
    finished = wait_job(client, job["id"])
    done.set()
    reader.join()
    assert finished["counts"]["updated"] == 12, finished
    assert len(seen) >= 3
    for chunks in seen:
        versions: dict[str, set[int]] = {}
        for chunk in chunks:
            versions.setdefault(chunk["document_id"], set()).add(chunk["version"])
            edition = "alpha" if chunk["version"] == 1 else "omega"
            assert f"Edition {edition}" in chunk["text"] or "Edition" not in chunk["text"]
        assert all(len(v) == 1 for v in versions.values()), versions  # never two versions of one document
    client.delete(f"/v1/sources/{source_id}")


# --- crash safety ---------------------------------------------------------------------------------------


def _folder_state(env: dict[str, str]) -> dict:
    """Documents (source -> hash), source file records, and `rag check`'s verdict, read by a fresh process."""
    script = (
        "import json\nfrom rag.config import Settings\nfrom rag.store.registry import Registry\n"
        "s=Settings()\nr=Registry.from_url(s.registry_url)\n"
        "docs={d.source: d.content_hash for d in r.list(limit=None)}\n"
        "files={p: f.document_id for src in r.list_sources() for p, f in r.source_files_of(src.id).items()}\n"
        "print(json.dumps({'docs': docs, 'files': files}))"
    )
    out = subprocess.run([str(BIN / "python"), "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    check = run_cli(["check"], env)
    assert check.returncode == 0, check.stdout + check.stderr
    return {**json.loads(out.stdout), "check": json.loads(check.stdout)}


def _assert_index_matches(folder: Path, env: dict[str, str]) -> None:
    state = _folder_state(env)
    expected = {
        f"{folder.name}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.md"))
    }
    assert state["docs"] == expected  # every file indexed at its current content, nothing else, no duplicates
    assert sorted(state["files"]) == sorted(p.name for p in folder.glob("*.md"))
    assert state["check"]["problems"] == []


def _populate(folder: Path, n: int, tag: str) -> None:
    for i in range(n):
        (folder / f"note{i:03d}.md").write_text(f"# Note {i}\n\nNote {i} records fact {tag}-{i * 7919 % 1000}.\n")


def _change(folder: Path) -> None:
    """Update some files, delete some, add some."""
    for i in (1, 2, 3):
        (folder / f"note{i:03d}.md").write_text(f"# Note {i}\n\nNote {i} was revised to fact R-{i}.\n")
    for i in (4, 5):
        (folder / f"note{i:03d}.md").unlink()
    for i in (100, 101):
        (folder / f"note{i:03d}.md").write_text(f"# Note {i}\n\nNote {i} is new with fact N-{i}.\n")


@pytest.mark.parametrize("point", [*REFRESH_POINTS, "after_publish", "random"])
def test_kill_during_a_refresh_then_the_next_run_finishes(point, tmp_path, model_cache):
    env = service_env(tmp_path / "data", model_cache)
    folder = tmp_path / "notes"
    folder.mkdir()
    _populate(folder, 40 if point == "random" else 8, "A")
    added = run_cli(["sources", "add", str(folder)], env)
    assert added.returncode == 0, added.stderr
    assert run_cli(["sources", "refresh"], env).returncode == 0
    _assert_index_matches(folder, env)

    _change(folder)
    if point == "random":
        _populate(folder, 40, "B")  # many changes, so that the kill lands in the middle of real work
        proc = subprocess.Popen([str(BIN / "rag"), "sources", "refresh"], env=env, stderr=subprocess.PIPE, text=True)
        time.sleep(random.Random(7).uniform(6.0, 9.0))  # model load is ~5 s; then files are being indexed
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    else:
        killed = run_cli(["sources", "refresh"], {**env, "RAG_FAILPOINT": point})
        assert killed.returncode == -signal.SIGKILL, killed.stderr

    rerun = run_cli(["sources", "refresh"], env)  # starts like any process: reconciles, fails the dead job
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    _assert_index_matches(folder, env)
    again = run_cli(["sources", "refresh"], env)
    assert '"added": 0, "updated": 0, "deleted": 0' in again.stdout, again.stdout


# --- a separate worker process beside the API, sharing a Chroma server -------------------------------------


def test_a_worker_process_runs_refreshes_for_the_api(tmp_path, model_cache, chroma_server):
    shared = {"RAG_CHROMA_URL": chroma_server}
    api = LiveServer(tmp_path / "data", model_cache, tmp_path / "api.log", RAG_SCHEDULER="false", **shared)
    worker_log = (tmp_path / "worker.log").open("w")
    worker = None
    try:
        api.wait_ready()
        folder = tmp_path / "handbook"
        folder.mkdir()
        (folder / "leave.md").write_text("# Leave\n\nParental leave lasts twenty-six weeks at full pay.\n")
        with api.client() as c:
            r = c.post("/v1/sources", json={"path": str(folder)})
            job_id = r.json()["last_job"]["id"]
            time.sleep(3)
            assert c.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"  # the API process does not index

            worker = subprocess.Popen(
                [str(BIN / "rag"), "worker", "--tick", "1"],
                env=service_env(tmp_path / "data", model_cache, **shared),
                stdout=worker_log,
                stderr=subprocess.STDOUT,
            )
            job = wait_job(c, job_id)
            assert job["status"] == "succeeded" and job["counts"]["added"] == 1, job
            # The API process finds the worker's vectors through the shared server (dense search alone).
            hits = c.post("/v1/retrieve", json={"question": "How long is parental leave?", "mode": "dense"}).json()
            assert hits["chunks"] and hits["chunks"][0]["source"] == "handbook/leave.md"
            answer = c.post("/v1/query", json={"question": "How long does parental leave last?"}).json()
            assert "twenty-six weeks" in answer["answer"]

            worker.send_signal(signal.SIGTERM)  # stops at a safe point
            assert worker.wait(timeout=60) == 0
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        worker_log.close()
        api.stop()
