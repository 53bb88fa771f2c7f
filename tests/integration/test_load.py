"""Load: a real `rag serve` (real models, embedded Chroma, SQLite registry) under concurrent uploads, deletes
and queries for LOAD_SECONDS (150 by default), then every check of bench/load.py: no 5xx, no lost, invented
or duplicated documents (ids, names, content hashes, chunks), every query answered with citations of live
documents, memory flat. `python -m bench load --minutes 5` is the longer run, with figures."""

from __future__ import annotations

import os

import pytest

from bench.load import LoadConfig, admin_headers, report, run_load
from tests.integration.conftest import LiveServer

pytestmark = pytest.mark.integration

LOAD_SECONDS = float(os.environ.get("LOAD_SECONDS", "150"))


def test_concurrent_uploads_deletes_and_queries(tmp_path, model_cache):
    server = LiveServer(tmp_path / "data", model_cache, tmp_path / "server.log")
    try:
        server.wait_ready()
        result = run_load(server.url, admin_headers(tmp_path / "data"), server.process.pid, LoadConfig(LOAD_SECONDS))
    finally:
        server.stop()
    print(report(result))
    assert result["server_errors"] == 0
    assert result["problems"] == [], report(result)
    assert result["memory"]["flat"], result["memory"]
    # It was real load: documents came and went and the model answered, within the count bound.
    ops = result["ops"]
    assert result["created"] >= 30 and result["deleted"] >= 10 and ops.get("outcome updated", 0) >= 5, ops
    assert ops.get("query", 0) >= 20 and ops.get("upload (job)", 0) >= 3, ops
    assert result["citations_checked"] >= 40
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log[-5000:]
