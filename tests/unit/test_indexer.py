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
