import pytest

from ingest.errors import FileTooLarge, InvalidFilename
from ingest.indexer import IngestOutcome, clean_upload_name, iter_files
from rag.store.registry import DocumentStatus

V1 = b"The vault code is 4417. The vault is in the basement.\n\nVisitors sign in at the front desk."
V2 = b"The vault code changed to 9902. The vault moved to the attic.\n\nVisitors sign in at the front desk."


def test_create_then_identical_is_unchanged(services):
    first = services.indexer.ingest_bytes(V1, "vault.txt")
    assert first.outcome is IngestOutcome.created
    assert first.document.status is DocumentStatus.ready
    again = services.indexer.ingest_bytes(V1, "copy-of-vault.txt")
    assert again.outcome is IngestOutcome.unchanged and again.document.id == first.document.id
    assert services.registry.count() == 1
    assert services.store.count() == first.document.chunk_count


def test_new_content_same_source_replaces_version(services):
    first = services.indexer.ingest_bytes(V1, "vault.txt").document
    second = services.indexer.ingest_bytes(V2, "vault.txt")
    assert second.outcome is IngestOutcome.updated
    assert second.document.id == first.id and second.document.version == 2
    chunks = services.store.chunks_of(first.id)
    assert {c.version for c in chunks} == {2}
    assert services.store.count() == second.document.chunk_count
    assert not any("4417" in c.text for c in chunks)


def test_chunks_record_provenance(services):
    doc = services.indexer.ingest_bytes(V1, "vault.txt").document
    for chunk in services.store.chunks_of(doc.id):
        assert V1.decode()[chunk.start : chunk.end] == chunk.text
        assert chunk.source == "vault.txt" and chunk.document_id == doc.id
        assert chunk.chunk_id == f"{doc.id}:1:{chunk.chunk_index}"


def test_delete_removes_row_and_chunks(services):
    doc = services.indexer.ingest_bytes(V1, "vault.txt").document
    assert services.indexer.delete(doc.id) is True
    assert services.registry.get(doc.id) is None and services.store.count() == 0
    assert services.indexer.delete(doc.id) is False


def test_reconcile_removes_unpublished_versions(services):
    doc = services.indexer.ingest_bytes(V1, "vault.txt").document
    # Simulate a crash after the chunks of version 2 were written but before the registry switched to them.
    stale = services.store.chunks_of(doc.id)
    orphan = [c.model_copy(update={"version": 2, "chunk_id": c.chunk_id.replace(":1:", ":2:")}) for c in stale]
    services.store.add(orphan, services.embedder.embed([c.text for c in orphan]))
    # ...and a first ingest that died before publishing.
    services.registry.create(
        document_id="dead", source="dead.txt", content_hash="x", media_type="text/plain", size_bytes=1
    )
    assert services.indexer.reconcile() == 1
    assert {c.version for c in services.store.chunks_of(doc.id)} == {1}
    assert services.registry.get("dead") is None


def test_size_limit(services):
    services.indexer.max_bytes = 10
    with pytest.raises(FileTooLarge, match="limit is 10 bytes"):
        services.indexer.ingest_bytes(V1, "vault.txt")
    assert services.registry.count() == 0


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b.txt", "..\\x.txt", "bad\x00.txt", "tab\t.txt", "", " ", ".."])
def test_upload_names_must_be_plain(name):
    with pytest.raises(InvalidFilename):
        clean_upload_name(name)


def test_iter_files_skips_hidden_and_unsupported(tmp_path):
    (tmp_path / "a.md").write_text("x")
    (tmp_path / "b.bin").write_bytes(b"x")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "c.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.txt").write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in iter_files([tmp_path])] == ["a.md", "sub/d.txt"]


def test_ingest_many_batches_reports_and_skips_bad_files(services, tmp_path, monkeypatch):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(5):
        (folder / f"note{i}.txt").write_text(f"Note number {i} says the password is word{i}.")
    (folder / "copy.txt").write_text("Note number 0 says the password is word0.")  # same content as note0
    (folder / "broken.json").write_bytes(b'{"a": 1,')  # not valid JSON
    calls: list[int] = []
    real_embed = services.embedder.embed
    monkeypatch.setattr(
        services.embedder, "embed", lambda texts, batch_size=32: calls.append(len(texts)) or real_embed(texts)
    )
    services.indexer.batch_size = 3
    seen: dict[str, str] = {}
    counts = services.indexer.ingest_paths(
        iter_files([folder]),
        lambda source, result: seen.__setitem__(
            source.rsplit("/", 1)[-1], getattr(result, "outcome", type(result).__name__)
        ),
    )
    assert (counts.created, counts.unchanged, counts.failed) == (5, 1, 1)
    # copy.txt sorts before note0.txt: it is indexed, and note0.txt is recognised as the same content.
    assert seen["copy.txt"] is IngestOutcome.created and seen["note0.txt"] is IngestOutcome.unchanged
    assert seen["broken.json"] == "UnreadableDocument"
    assert max(calls) >= 2, "chunks of several files are embedded together"
    assert services.registry.count() == 5 and services.store.count() == counts.chunks


def test_ingest_many_same_source_twice_keeps_the_last(services, tmp_path):
    doc = tmp_path / "a.txt"
    doc.write_text("first version of the text")
    services.indexer.ingest_paths([doc])
    doc.write_text("second version of the text")
    counts = services.indexer.ingest_paths([doc, doc])
    assert (counts.updated, counts.unchanged) == (1, 1)
    record = services.registry.find_by_source("a.txt")  # a file given by itself is named as an upload is
    assert record.version == 2 and {c.version for c in services.store.chunks_of(record.id)} == {2}


def test_files_of_a_folder_are_named_relative_to_it(services, tmp_path):
    folder = tmp_path / "corpus" / "data"  # tmp_path / "data" is the service's own
    (folder / "handbook").mkdir(parents=True)
    (folder / "handbook" / "travel.md").write_text("Trains are preferred for trips under six hours.")
    (folder / "notes.txt").write_text("The office closes at six on Fridays.")
    single = tmp_path / "single.txt"
    single.write_text("The kitchen is cleaned every Thursday evening.")
    counts = services.indexer.ingest_paths([folder, single])
    assert counts.created == 3
    assert sorted(d.source for d in services.registry.list()) == [
        "data/handbook/travel.md",
        "data/notes.txt",
        "single.txt",
    ]
    assert {c.source for c in services.store.chunks_of_any(10)} == {
        "data/handbook/travel.md",
        "data/notes.txt",
        "single.txt",
    }
    # The same folder reached through another path gets the same names: nothing changes.
    again = services.indexer.ingest_paths([folder / ".." / "data"])
    assert (again.unchanged, again.created, again.updated) == (2, 0, 0)


def test_documents_named_by_absolute_path_are_renamed_once(services, tmp_path):
    folder = tmp_path / "corpus" / "data"
    folder.mkdir(parents=True)
    doc = folder / "notes.txt"
    doc.write_text("The office closes at six on Fridays.")
    # How an index made before names were relative holds it: under the file's absolute path.
    old = services.indexer.ingest_many([(str(doc.resolve()), doc.read_bytes)])
    assert old.created == 1
    (before,) = services.registry.list()

    counts = services.indexer.ingest_paths([folder])
    assert counts.updated == 1
    (after,) = services.registry.list()
    assert (after.id, after.source, after.version) == (before.id, "data/notes.txt", 2)
    assert {(c.source, c.version) for c in services.store.chunks_of(after.id)} == {("data/notes.txt", 2)}
    # From then on the folder is unchanged, as before.
    assert services.indexer.ingest_paths([folder]).unchanged == 1
    assert services.registry.get(after.id).version == 2


def test_verify_finds_each_kind_of_disagreement(services):
    doc = services.indexer.ingest_bytes(V1, "vault.txt").document
    assert services.indexer.verify() == []
    chunks = services.store.chunks_of(doc.id)
    stray = [c.model_copy(update={"document_id": "ghost", "chunk_id": "ghost:1:0"}) for c in chunks[:1]]
    services.store.add(stray, services.embedder.embed([c.text for c in stray]))
    services.store.delete(doc.id, version=1)
    problems = services.indexer.verify()
    assert any("unknown document ghost" in p for p in problems)
    assert any(f"document {doc.id}" in p and "versions []" in p for p in problems)


def test_an_upload_does_not_wait_for_a_whole_folder(services):
    """A long multi-file ingest lets a single upload in between batches instead of holding the lock to the end."""
    import threading
    import time

    services.indexer.batch_size = 1
    done: list[str] = []
    started = threading.Event()

    def slow(n: int):
        def read() -> bytes:
            started.set()
            time.sleep(0.02)
            return f"Folder file {n} mentions topic {n * 31}.".encode()

        return read

    def on_result(source, _result):
        done.append(source)

    folder = threading.Thread(
        target=services.indexer.ingest_many, args=([(f"f{n}.txt", slow(n)) for n in range(40)], on_result)
    )
    folder.start()
    started.wait()
    time.sleep(0.1)
    services.indexer.ingest_bytes(b"An upload about kestrels.", "upload.txt")
    files_done_when_upload_finished = len(done)
    folder.join()
    assert files_done_when_upload_finished < 30 and len(done) == 40
    assert services.indexer.verify() == []
