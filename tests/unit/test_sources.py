"""Folder sources and refresh jobs, with the fake embedder: change detection, globs, leases, scheduling, API."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.app import create_app
from ingest.sources import FileFilter, SourceConflict, SourceError, SourceForbidden, scan
from rag.store.owners import current_owner, owner_alive
from rag.store.registry import JobStatus, Registry


def write(path: Path, body: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write(root / "alpha.md", "# Alpha\n\nThe alpha reactor runs on molten salt at 700 degrees.\n")
    write(root / "sub" / "beta.txt", "Beta team meets on Thursdays in room 12.\n")
    write(root / "sub" / "gamma.txt", "Gamma rays were observed by the orbital telescope Vega.\n")
    return root


def refresh(services, source):
    job, _ = services.jobs.request_refresh(source)
    done = services.jobs.run_refresh(job)
    assert done is not None and done.status is JobStatus.succeeded, done
    return done


def test_globs_match_like_gitignore():
    f = FileFilter(["*.md", "notes/**/*.txt"], ["drafts/**", "*secret*"])
    assert f.wants("a.md") and f.wants("x/y/a.md")
    assert f.wants("notes/a.txt") and f.wants("notes/deep/er/a.txt")
    assert not f.wants("other/a.txt")
    assert not f.wants("drafts/a.md") and not f.wants("x/my-secret.md")
    assert not f.wants("setup.exe")  # not a type the parsers accept, whatever the globs say
    assert FileFilter([], []).wants("any/where/file.pdf")


def test_scan_skips_hidden_files_and_links_out_of_the_folder(tmp_path, folder):
    write(folder / ".hidden.md", "hidden")
    write(folder / ".git" / "x.md", "hidden too")
    outside = write(tmp_path / "outside.md", "secret outside the source")
    (folder / "link.md").symlink_to(outside)
    (folder / "inner-link.md").symlink_to(folder / "alpha.md")
    found = [f.relative for f in scan(folder, FileFilter([], []))]
    assert found == ["alpha.md", "inner-link.md", "sub/beta.txt", "sub/gamma.txt"]


def test_refresh_follows_additions_changes_and_deletions(services, folder):
    source, _ = services.sources.add(str(folder), refresh=False)
    first = refresh(services, source)
    assert first.counts == {"added": 3, "updated": 0, "deleted": 0, "unchanged": 0, "failed": 0, "chunks": 3}
    assert first.total == first.done == 3
    # Named after the folder and the path inside it, as `rag ingest docs` names them.
    assert {d.source for d in services.registry.list()} == {"docs/alpha.md", "docs/sub/beta.txt", "docs/sub/gamma.txt"}

    # Nothing changed: no file is even read.
    reads = []
    original = services.indexer.ingest_many
    services.indexer.ingest_many = lambda items, cb=None, **kw: original(list(items) + reads, cb, **kw)
    second = refresh(services, source)
    assert second.counts["unchanged"] == 3 and second.counts["added"] + second.counts["updated"] == 0
    services.indexer.ingest_many = original

    # Touched but same bytes: read and hashed, no new version.
    alpha = services.registry.find_by_source("docs/alpha.md")
    os.utime(folder / "alpha.md", (time.time() + 5, time.time() + 5))
    third = refresh(services, source)
    assert third.counts["unchanged"] == 3 and services.registry.get(alpha.id).version == 1

    # Changed content: a new version of the same document; a deleted file: its document is gone.
    write(folder / "alpha.md", "# Alpha\n\nThe alpha reactor now runs on thorium.\n", mtime=time.time() + 10)
    (folder / "sub" / "gamma.txt").unlink()
    write(folder / "new.md", "Delta is the newest project.\n")
    fourth = refresh(services, source)
    assert (fourth.counts["added"], fourth.counts["updated"], fourth.counts["deleted"], fourth.counts["unchanged"]) == (
        1,
        1,
        1,
        1,
    )
    assert services.registry.get(alpha.id).version == 2
    assert services.registry.find_by_source("docs/sub/gamma.txt") is None
    assert services.indexer.verify() == []
    assert {c.version for c in services.store.chunks_of(alpha.id)} == {2}


def test_a_file_that_fails_is_reported_and_retried(services, folder):
    write(folder / "broken.txt", "")  # empty: cannot be indexed
    source, _ = services.sources.add(str(folder), refresh=False)
    job = refresh(services, source)
    assert job.counts["added"] == 3 and job.counts["failed"] == 1
    assert job.errors[0].source == "broken.txt" and "empty" in job.errors[0].error.lower()
    assert services.registry.source_files_of(source.id)["broken.txt"].error

    again = refresh(services, source)  # retried (not skipped as unchanged), fails again
    assert again.counts["failed"] == 1 and again.counts["unchanged"] == 3

    write(folder / "broken.txt", "Now the file holds a fact about epsilon.\n")
    fixed = refresh(services, source)
    assert fixed.counts["added"] == 1 and fixed.counts["failed"] == 0
    assert services.registry.source_files_of(source.id)["broken.txt"].error is None


def test_identical_files_share_a_document_until_both_are_gone(services, folder):
    write(folder / "copy.txt", (folder / "sub" / "beta.txt").read_text())
    source, _ = services.sources.add(str(folder), refresh=False)
    refresh(services, source)
    assert services.registry.count() == 3  # the copy is indexed as the same content
    (folder / "sub" / "beta.txt").unlink()
    refresh(services, source)
    assert services.registry.count() == 3  # the copy still holds that content
    (folder / "copy.txt").unlink()
    refresh(services, source)
    assert services.registry.count() == 2 and services.indexer.verify() == []


def test_a_file_changed_into_a_copy_of_another_drops_its_old_document(services, folder):
    source, _ = services.sources.add(str(folder), refresh=False)
    refresh(services, source)
    gamma = services.registry.find_by_source("docs/sub/gamma.txt")
    write(folder / "sub" / "gamma.txt", (folder / "sub" / "beta.txt").read_text(), mtime=time.time() + 10)
    job = refresh(services, source)
    assert job.counts["updated"] == 1
    assert services.registry.get(gamma.id) is None and services.registry.count() == 2
    assert services.indexer.verify() == []


def test_a_missing_folder_does_not_delete_its_documents(services, folder, tmp_path):
    source, _ = services.sources.add(str(folder), refresh=False)
    refresh(services, source)
    folder.rename(tmp_path / "unmounted")
    job, _ = services.jobs.request_refresh(source)
    done = services.jobs.run_refresh(job)
    assert done.counts["failed"] == 1 and "does not exist" in done.errors[0].error
    assert services.registry.count() == 3


def test_documents_of_a_source_named_by_absolute_path_are_renamed_by_the_next_refresh(services, folder):
    source, _ = services.sources.add(str(folder), refresh=False)
    refresh(services, source)
    before = {d.source: d for d in services.registry.list()}
    # An index made before names were relative: the same documents under their files' absolute paths.
    for name, document in before.items():
        services.registry.publish(
            document.id,
            source=str(folder / name.removeprefix("docs/")),
            version=document.version,
            content_hash=document.content_hash,
            media_type=document.media_type,
            size_bytes=document.size_bytes,
            chunk_count=document.chunk_count,
        )
    job = refresh(services, source)  # no file changed, yet each is read once more and renamed
    assert job.counts["unchanged"] == 3 and job.counts["added"] == job.counts["deleted"] == 0
    after = {d.source: d for d in services.registry.list()}
    assert sorted(after) == sorted(before) and {d.id for d in after.values()} == {d.id for d in before.values()}
    assert {c.source for c in services.store.chunks_of_any(10)} == set(before)
    assert services.indexer.verify() == []
    reads = []
    original = services.indexer.ingest_many
    services.indexer.ingest_many = lambda items, cb=None, **kw: original(reads.extend(items) or [], cb, **kw)
    refresh(services, source)
    assert reads == []  # renamed once: from then on an unchanged folder is not read


def test_two_sources_of_one_collection_cannot_share_a_folder_name(services, folder, tmp_path):
    services.sources.add(str(folder), refresh=False)
    namesake = tmp_path / "elsewhere" / "docs"
    namesake.mkdir(parents=True)
    with pytest.raises(SourceConflict, match="same folder name 'docs'"):
        services.sources.add(str(namesake), refresh=False)
    services.sources.add(str(namesake), refresh=False, collection="other")  # another collection: other names


def test_source_paths_are_checked(services, folder, tmp_path):
    with pytest.raises(SourceError, match="must be absolute"):
        services.sources.add("docs")
    with pytest.raises(SourceError, match="not a folder"):
        services.sources.add(str(tmp_path / "nowhere"))
    with pytest.raises(SourceError, match="relative to the folder"):
        services.sources.add(str(folder), include=["../*.md"])
    services.sources.add(str(folder), refresh=False)
    with pytest.raises(SourceConflict, match="already a source"):
        services.sources.add(str(folder) + "/")
    services.sources.roots = [tmp_path / "allowed"]
    with pytest.raises(SourceForbidden, match="outside the folders"):
        services.sources.add(str(folder / "sub"))


def test_removing_a_source_removes_its_documents_but_not_uploads(services, folder):
    services.indexer.ingest_bytes(b"An uploaded note about zeta.", "upload.txt")
    source, _ = services.sources.add(str(folder), refresh=False)
    refresh(services, source)
    assert services.registry.count() == 4
    services.sources.remove(source)
    assert [d.source for d in services.registry.list()] == ["upload.txt"]
    assert services.registry.get_source(source.id) is None and services.indexer.verify() == []


# --- leases and jobs across processes -----------------------------------------------------------------


def _owner_of(pid: int) -> str:
    import socket

    return f"{socket.gethostname()}:{pid}:{psutil.Process(pid).create_time():.2f}"


def test_owner_liveness():
    assert owner_alive(current_owner())
    assert owner_alive(_owner_of(os.getppid()))
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = _owner_of(child.pid)
    child.wait()
    assert not owner_alive(owner)
    assert not owner_alive(None)
    assert owner_alive("another-host:1:0")  # cannot be checked: only its lease expiry frees its work


def _set_lock(registry: Registry, name: str, owner: str, expires: dt.datetime) -> None:
    with registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM locks WHERE name = :n"), {"n": name})
        conn.execute(
            text("INSERT INTO locks (name, owner, expires_at) VALUES (:n, :o, :e)"),
            {"n": name, "o": owner, "e": expires},
        )


def test_leases(services):
    registry, later = services.registry, dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    assert registry.try_lock("x", 60) and registry.try_lock("x", 60)  # taken, then renewed
    registry.release_lock("x")
    assert registry.lock_holder("x") is None

    _set_lock(registry, "x", _owner_of(os.getppid()), later)  # a live process on this host holds it
    assert not registry.try_lock("x", 60)
    _set_lock(registry, "x", "other-host:7:1", later)  # another host, lease still valid
    assert not registry.try_lock("x", 60)
    _set_lock(registry, "x", "other-host:7:1", later - dt.timedelta(hours=2))  # expired
    assert registry.try_lock("x", 60) and registry.lock_holder("x") == current_owner()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    dead = _owner_of(child.pid)
    child.wait()
    _set_lock(registry, "x", dead, later)  # its owner crashed: free at once, whatever the expiry says
    assert registry.try_lock("x", 60)


def test_a_busy_source_is_not_refreshed_twice(services, folder):
    source, job = services.sources.add(str(folder))
    again, created = services.jobs.request_refresh(source)
    assert not created and again.id == job.id
    _set_lock(services.registry, f"refresh:{source.id}", _owner_of(os.getppid()), dt.datetime(2100, 1, 1))
    assert services.jobs.run_refresh(job) is None  # another process holds the source: the job stays queued
    assert services.registry.get_job(job.id).status is JobStatus.queued
    services.registry.release_lock(f"refresh:{source.id}")
    with services.registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM locks"))
    assert services.jobs.run_pending() == 1
    assert services.registry.get_job(job.id).status is JobStatus.succeeded


def test_schedule_queues_due_sources(services, folder):
    source, _ = services.sources.add(str(folder), interval_s=60, refresh=False)
    manual, _ = services.sources.add(str(folder / "sub"), refresh=False)
    assert [j.source_id for j in services.jobs.enqueue_due()] == [source.id]  # never ran: due now
    services.jobs.run_pending()
    now = dt.datetime.now(dt.timezone.utc)
    assert services.jobs.enqueue_due(now + dt.timedelta(seconds=30)) == []
    assert [j.source_id for j in services.jobs.enqueue_due(now + dt.timedelta(seconds=61))] == [source.id]
    assert services.registry.last_job(manual.id) is None


def test_start_up_fails_only_jobs_of_dead_processes(services):
    registry = services.registry
    mine = registry.create_job("upload", "mine")
    unowned = registry.create_job("refresh", "anyone's", owned=False)
    orphan = registry.create_job("upload", "dead")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    dead = _owner_of(child.pid)
    child.wait()
    with registry.engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET owner = :o, status = 'running' WHERE id = :i"), {"o": dead, "i": orphan.id})
    assert registry.fail_unfinished_jobs("gone") == 1
    assert registry.get_job(orphan.id).status is JobStatus.failed
    assert registry.get_job(mine.id).status is JobStatus.queued
    assert registry.get_job(unowned.id).status is JobStatus.queued


def test_old_registries_gain_new_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    with create_engine(url).begin() as conn:
        conn.execute(text("CREATE TABLE jobs (id VARCHAR(32) PRIMARY KEY, kind VARCHAR(32) NOT NULL)"))
    registry = Registry.from_url(url)
    with registry.engine.connect() as conn:
        columns = {row[1] for row in conn.execute(text("PRAGMA table_info(jobs)"))}
    assert {"source_id", "owner"} <= columns


# --- HTTP ---------------------------------------------------------------------------------------------


@pytest.fixture
def client(services):
    with TestClient(create_app(services.settings, services)) as c:
        yield c


def wait_for_job(client, job_id: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_sources_api(client, folder):
    r = client.post("/v1/sources", json={"path": str(folder), "exclude": ["sub/gamma.txt"]})
    assert r.status_code == 201, r.text
    source = r.json()
    job = wait_for_job(client, r.headers["Location"].rsplit("/", 1)[1])  # the scheduler runs it
    assert job["status"] == "succeeded" and job["counts"]["added"] == 2 and job["source_id"] == source["id"]

    listed = client.get("/v1/sources").json()["sources"]
    assert listed[0]["id"] == source["id"] and listed[0]["files"] == 2 and listed[0]["last_job"]["id"] == job["id"]
    assert client.get("/v1/documents").json()["total"] == 2

    r = client.patch(f"/v1/sources/{source['id']}", json={"exclude": [], "interval_s": 3600})
    assert r.status_code == 200 and r.json()["interval_s"] == 3600
    r = client.post(f"/v1/sources/{source['id']}/refresh")
    assert r.status_code in (200, 202)
    job = wait_for_job(client, r.json()["id"])
    assert job["counts"]["added"] == 1 and job["counts"]["unchanged"] == 2
    jobs = client.get("/v1/jobs", params={"source_id": source["id"]}).json()["jobs"]
    assert jobs[0]["id"] == job["id"] and len(jobs) == 2

    assert client.delete(f"/v1/sources/{source['id']}").status_code == 204
    assert client.get("/v1/documents").json()["total"] == 0
    assert client.get(f"/v1/sources/{source['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"path": "relative/docs"}, 422, "must be absolute"),
        ({"path": "/no/such/folder"}, 422, "not a folder"),
        ({"path": "/tmp", "include": ["/etc/*"]}, 422, "relative to the folder"),
        ({"path": "/tmp", "interval_s": 1}, 422, "greater than or equal to 10"),
    ],
)
def test_sources_api_rejects_bad_input(client, body, status, message):
    r = client.post("/v1/sources", json=body)
    assert r.status_code == status and message in r.text
    assert client.get("/v1/sources").json()["sources"] == []


def test_sources_api_conflicts(client, folder):
    assert client.post("/v1/sources", json={"path": str(folder), "refresh": False}).status_code == 201
    r = client.post("/v1/sources", json={"path": str(folder)})
    assert r.status_code == 409 and "already a source" in r.json()["detail"]
    assert client.post("/v1/sources/nope/refresh").status_code == 404


def test_watch_mode_refreshes_soon_after_a_change(services, folder):
    source, _ = services.sources.add(str(folder), refresh=False)
    refresh(services, source)
    services.jobs.start_scheduler(0.2, watch=True)
    try:
        time.sleep(1.0)  # let the watcher start on the folder
        write(folder / "sub" / "new.md", "Watched files are indexed without asking.\n")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            last = services.registry.last_job(source.id)
            if last.status is JobStatus.succeeded and last.counts.get("added") == 1:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"no refresh after the change: {services.registry.last_job(source.id)}")
    finally:
        services.jobs.shutdown()
    assert services.registry.find_by_source("docs/sub/new.md") is not None


def test_a_running_job_whose_lease_lapsed_is_failed(services, folder):
    source, job = services.sources.add(str(folder))
    with services.registry.engine.begin() as conn:  # claimed by a process on another host, which then vanished
        conn.execute(text("UPDATE jobs SET status = 'running', owner = 'other-host:7:1' WHERE id = :i"), {"i": job.id})
    _set_lock(services.registry, f"refresh:{source.id}", "other-host:7:1", dt.datetime(2100, 1, 1))
    assert services.registry.fail_unfinished_jobs("gone") == 0  # its lease is still valid
    _set_lock(services.registry, f"refresh:{source.id}", "other-host:7:1", dt.datetime(2000, 1, 1))
    assert services.registry.fail_unfinished_jobs("gone") == 1
    assert services.jobs.request_refresh(source)[1]  # a new refresh can be queued
