"""The registry on each database it supports: SQLite (a file) and PostgreSQL (a throwaway server on loopback,
tests/postgres.py; those cases are marked ``integration`` and skipped when the server binaries are absent)."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, insert, inspect, update

from rag.store.registry import DocumentStatus, JobError, JobStatus, Registry, SourceFile, locks

# PostgreSQL databases of these tests run their sessions in a zone far from UTC, so that a time read back in
# the session's zone instead of UTC shows up as a wrong value.
PG_TIMEZONE = "America/St_Johns"  # UTC-03:30 (or -02:30 in summer)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def registry_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'r.sqlite3'}"
    return request.getfixturevalue("postgres").new_database(timezone=PG_TIMEZONE)


@pytest.fixture
def r(registry_url: str) -> Iterator[Registry]:
    registry = Registry.from_url(registry_url)
    yield registry
    registry.engine.dispose()


def _doc(r: Registry, doc_id: str, source: str | None = None, content_hash: str | None = None) -> None:
    r.create(
        document_id=doc_id,
        source=source or f"{doc_id}.txt",
        content_hash=content_hash or f"h-{doc_id}",
        media_type="text/plain",
        size_bytes=3,
    )


def _publish(r: Registry, doc_id: str, version: int = 1) -> None:
    r.publish(doc_id, version=version, content_hash=f"h-{doc_id}", media_type="text/plain", size_bytes=3, chunk_count=1)


def test_create_is_invisible_until_published(r):
    doc = r.create(document_id="d1", source="a.txt", content_hash="h1", media_type="text/plain", size_bytes=3)
    assert doc.status is DocumentStatus.indexing and doc.version == 1
    assert r.visible_versions(["d1"]) == {}
    assert r.find_by_hash("h1") is None
    r.publish("d1", version=1, content_hash="h1", media_type="text/plain", size_bytes=3, chunk_count=2)
    assert r.visible_versions(["d1", "other"]) == {"d1": 1}
    assert r.find_by_hash("h1").id == "d1"


def test_publish_new_version_switches_in_one_step(r):
    r.create(document_id="d1", source="a.txt", content_hash="h1", media_type="text/plain", size_bytes=3)
    r.publish("d1", version=1, content_hash="h1", media_type="text/plain", size_bytes=3, chunk_count=2)
    doc = r.publish("d1", version=2, content_hash="h2", media_type="text/plain", size_bytes=4, chunk_count=5)
    assert (doc.version, doc.content_hash, doc.chunk_count) == (2, "h2", 5)
    assert r.find_by_hash("h1") is None
    assert r.find_by_source("a.txt").version == 2


def test_list_count_delete(r):
    for i in range(3):
        r.create(document_id=f"d{i}", source=f"{i}.txt", content_hash=f"h{i}", media_type="text/plain", size_bytes=1)
    assert r.count() == 3
    assert [d.id for d in r.list(limit=2, offset=1)] == ["d1", "d2"]
    assert r.delete("d1") is True and r.delete("d1") is False
    assert r.count() == 2 and r.get("d1") is None


def test_times_come_back_as_utc(r):
    before = dt.datetime.now(dt.timezone.utc)
    r.create(document_id="d1", source="a.txt", content_hash="h1", media_type="text/plain", size_bytes=3)
    doc = r.get("d1")
    assert doc.created_at.utcoffset().total_seconds() == 0
    assert doc.model_dump(mode="json")["created_at"].endswith(("Z", "+00:00"))
    assert abs(doc.created_at - before) < dt.timedelta(seconds=30)  # the same instant, not shifted by a zone
    job = r.create_job("upload", "x")
    r.update_job(job.id, status=JobStatus.succeeded)
    finished = r.get_job(job.id).finished_at
    assert finished.utcoffset().total_seconds() == 0 and abs(finished - before) < dt.timedelta(seconds=30)


def test_generation_counts_every_publish_and_delete(r):
    start = r.generation()
    _doc(r, "d1")
    assert r.generation() == start  # an unpublished first version changes nothing visible
    _publish(r, "d1")
    _publish(r, "d1", version=2)
    r.delete("d1")
    assert r.generation() == start + 3


def test_concurrent_publishes_are_each_counted(r):
    """The counter is incremented in the database, so writers in parallel never lose an increment."""
    for i in range(4):
        _doc(r, f"d{i}")
    start = r.generation()
    gate = threading.Barrier(4)

    def writer(i: int) -> None:
        gate.wait()
        for version in range(1, 11):
            _publish(r, f"d{i}", version)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert r.generation() == start + 40
    assert r.visible_versions_all() == {f"d{i}": 10 for i in range(4)}


def test_filters_escape_like_wildcards(r):
    for doc_id, source in (("a", "team_a/x.md"), ("b", "teamXa/y.md"), ("c", "100%/z.md"), ("d", "1000/w.md")):
        _doc(r, doc_id, source=source)
        _publish(r, doc_id)
    assert r.document_ids_matching(source_prefix="team_a/") == {"a"}
    assert r.document_ids_matching(source_prefix="100%") == {"c"}
    assert r.document_ids_matching(ids=["a", "b", "zz"], media_types=["text/plain"]) == {"a", "b"}


def test_long_text_fits_every_database(r):
    """PostgreSQL enforces column lengths and refuses NUL characters; SQLite does neither."""
    deep = "/srv/" + "/".join(["folder" * 10] * 40) + "/notes.md"  # about 2,500 characters
    _doc(r, "d1", source=deep)
    assert r.find_by_source(deep).id == "d1"
    job = r.create_job("refresh", "refresh " + "x" * 5000 + "\x00")
    assert len(r.get_job(job.id).description) == 1024 and "\x00" not in r.get_job(job.id).description


def test_jobs_keep_json_and_find_their_source(r):
    job = r.create_job("refresh", "refresh /docs", total=3, source_id="s1", owned=False)
    assert r.queued_jobs("refresh")[0].id == job.id and r.active_job("s1").id == job.id
    assert r.claim_job(job.id) is True and r.claim_job(job.id) is False
    errors = [JobError(source="bad.pdf", error="the PDF is encrypted; ünïcode ok")]
    r.update_job(job.id, done=3, counts={"added": 2, "failed": 1}, errors=errors, status=JobStatus.failed)
    got = r.get_job(job.id)
    assert got.counts == {"added": 2, "failed": 1} and got.errors == errors
    assert got.status is JobStatus.failed and got.started_at <= got.finished_at
    assert r.active_job("s1") is None and r.last_job("s1").id == job.id
    assert r.last_finished_at("s1") == got.finished_at
    assert [j.id for j in r.list_jobs(source_id="s1", kind="refresh")] == [job.id]


def test_claim_job_has_one_winner(r):
    job = r.create_job("refresh", "contested", owned=False)
    gate, wins = threading.Barrier(6), []

    def claim() -> None:
        gate.wait()
        wins.append(r.claim_job(job.id))

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 5 + [True]


def test_sources_and_file_records_upsert(r):
    source = r.create_source("/docs", ["**/*.md"], ["drafts/**"], 3600)
    assert r.find_source_by_path("/docs").include == ["**/*.md"]
    record = SourceFile(
        source_id=source.id, path="a.md", size=10, mtime_ns=2**62, content_hash="h", document_id="d1", error=None
    )
    r.put_source_file(record)
    r.put_source_file(record.model_copy(update={"size": 11, "error": "bad\x00 " + "e" * 3000}))
    files = r.source_files_of(source.id)
    assert files["a.md"].size == 11 and files["a.md"].mtime_ns == 2**62 and len(files["a.md"].error) == 2048
    assert r.files_referencing("d1") == 1
    updated = r.update_source(source.id, interval_s=None)
    assert updated.interval_s is None and updated.updated_at >= source.updated_at
    assert r.delete_source(source.id) and r.source_files_of(source.id) == {} and r.list_sources() == []


def test_leases(r):
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    assert r.try_lock("x", 60) and r.try_lock("x", 60)  # taken, then renewed
    r.release_lock("x")
    assert r.lock_holder("x") is None
    with r.engine.begin() as conn:
        conn.execute(insert(locks).values(name="x", owner="other-host:7:1", expires_at=later))
    assert not r.try_lock("x", 60)  # another host, lease still valid
    with r.engine.begin() as conn:
        conn.execute(update(locks).values(expires_at=later - dt.timedelta(hours=2)))
    assert r.try_lock("x", 60)  # expired: taken over


def _race_for_lock(url: str, gate, results) -> None:
    """In a process of its own (its own owner string): try to take the lease when everyone is ready."""
    registry = Registry.from_url(url)
    gate.wait()
    results.put(registry.try_lock("contested", 60))
    gate.wait()  # stay alive until all have tried: a dead owner's lease is free to take


def _set_up(url: str, gate, results) -> None:
    gate.wait()
    try:
        Registry.from_url(url)
        results.put("ok")
    except Exception as exc:  # reported to the test, which shows it
        results.put(f"{type(exc).__name__}: {exc}")


def _in_processes(target, url: str, n: int) -> list:
    ctx = multiprocessing.get_context("spawn")
    gate, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=target, args=(url, gate, results)) for _ in range(n)]
    for p in procs:
        p.start()
    out = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return out


def test_one_process_wins_a_lease(registry_url):
    Registry.from_url(registry_url).engine.dispose()  # schema in place: the race is for the lease alone
    assert sorted(_in_processes(_race_for_lock, registry_url, 4)) == [False, False, False, True]


def test_processes_starting_together_set_up_one_schema(registry_url):
    assert _in_processes(_set_up, registry_url, 4) == ["ok"] * 4
    r = Registry.from_url(registry_url)
    assert r.generation() == 0
    r.engine.dispose()


def test_columns_added_since_a_registry_was_created(registry_url):
    """An older registry without the ``owner`` column gets it; its rows stay readable."""
    old = MetaData()
    Table(
        "documents",
        old,
        *(Column(name, String(64), primary_key=name == "id") for name in ("id", "source", "content_hash", "status")),
        *(Column(name, Integer) for name in ("version", "size_bytes", "chunk_count")),
        Column("media_type", String(128)),
        Column("created_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True)),
    )
    engine = create_engine(registry_url)
    old.create_all(engine)
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        row = {"id": "old", "source": "o.txt", "content_hash": "h", "status": "ready", "version": 1}
        conn.execute(
            insert(old.tables["documents"]).values(
                **row, size_bytes=1, chunk_count=1, media_type="text/plain", created_at=now, updated_at=now
            )
        )
    engine.dispose()

    r = Registry.from_url(registry_url)
    assert "owner" in {c["name"] for c in inspect(r.engine).get_columns("documents")}
    assert r.get("old").source == "o.txt" and r.visible_versions_all() == {"old": 1}
    _doc(r, "new")
    assert r.count() == 2
    r.engine.dispose()
