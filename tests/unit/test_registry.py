from rag.store.registry import DocumentStatus, Registry


def _registry(tmp_path) -> Registry:
    return Registry.from_url(f"sqlite:///{tmp_path / 'r.sqlite3'}")


def test_create_is_invisible_until_published(tmp_path):
    r = _registry(tmp_path)
    doc = r.create(document_id="d1", source="a.txt", content_hash="h1", media_type="text/plain", size_bytes=3)
    assert doc.status is DocumentStatus.indexing and doc.version == 1
    assert r.visible_versions(["d1"]) == {}
    assert r.find_by_hash("h1") is None
    r.publish("d1", version=1, content_hash="h1", media_type="text/plain", size_bytes=3, chunk_count=2)
    assert r.visible_versions(["d1", "other"]) == {"d1": 1}
    assert r.find_by_hash("h1").id == "d1"


def test_publish_new_version_switches_in_one_step(tmp_path):
    r = _registry(tmp_path)
    r.create(document_id="d1", source="a.txt", content_hash="h1", media_type="text/plain", size_bytes=3)
    r.publish("d1", version=1, content_hash="h1", media_type="text/plain", size_bytes=3, chunk_count=2)
    doc = r.publish("d1", version=2, content_hash="h2", media_type="text/plain", size_bytes=4, chunk_count=5)
    assert (doc.version, doc.content_hash, doc.chunk_count) == (2, "h2", 5)
    assert r.find_by_hash("h1") is None
    assert r.find_by_source("a.txt").version == 2


def test_list_count_delete(tmp_path):
    r = _registry(tmp_path)
    for i in range(3):
        r.create(document_id=f"d{i}", source=f"{i}.txt", content_hash=f"h{i}", media_type="text/plain", size_bytes=1)
    assert r.count() == 3
    assert [d.id for d in r.list(limit=2, offset=1)] == ["d1", "d2"]
    assert r.delete("d1") is True and r.delete("d1") is False
    assert r.count() == 2 and r.get("d1") is None


def test_times_come_back_as_utc(tmp_path):
    r = _registry(tmp_path)
    r.create(document_id="d1", source="a.txt", content_hash="h1", media_type="text/plain", size_bytes=3)
    doc = r.get("d1")
    assert doc.created_at.utcoffset().total_seconds() == 0
    assert doc.model_dump(mode="json")["created_at"].endswith(("Z", "+00:00"))
