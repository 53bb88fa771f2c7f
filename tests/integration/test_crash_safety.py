"""SIGKILL during ingestion, at every named step and at random moments; then restart and check the index.

Each ingest runs as a real `rag ingest` process that kills itself at a failpoint (see ingest/failpoints.py)
or is killed from outside. `rag check` then starts like the service does (which reconciles) and verifies that
every document is wholly one version, with no orphan chunks and no registry row without its chunks.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time

import pytest

from ingest.failpoints import POINTS
from tests.integration.conftest import BIN, run_cli, service_env

pytestmark = pytest.mark.integration

OLD = "# Reactor\n\nThe reactor coolant is heavy water.\n\n" + "Old filler sentence about the reactor. " * 40
NEW = "# Reactor\n\nThe reactor coolant is liquid sodium.\n\n" + "New filler sentence about the reactor. " * 40


def _check(env: dict[str, str]) -> dict:
    result = run_cli(["check"], env)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["problems"] == [], report
    return report


def _ask_chunks(env: dict[str, str], doc_source: str) -> set[str]:
    """Texts of the chunks of one document, through the registry's current version (via `rag check` above)."""
    script = (
        "import json,sys\nfrom rag.config import Settings\nfrom rag.store.registry import Registry\n"
        "from rag.store.chunks import ChunkStore\ns=Settings()\nr=Registry.from_url(s.registry_url)\n"
        "d=r.find_by_source(sys.argv[1])\nc=ChunkStore.persistent(s.chroma_path, s.chroma_collection)\n"
        "print(json.dumps([] if d is None else [x.text for x in c.chunks_of(d.id, d.version)]))"
    )
    out = subprocess.run([str(BIN / "python"), "-c", script, doc_source], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_step_of_an_update_leaves_one_whole_version(point, tmp_path, model_cache):
    env = service_env(tmp_path / "data", model_cache)
    doc = tmp_path / "reactor.md"
    doc.write_text(OLD)
    assert run_cli(["ingest", str(doc)], env).returncode == 0

    doc.write_text(NEW)
    killed = run_cli(["ingest", str(doc)], {**env, "RAG_FAILPOINT": point})
    reached = point != "after_registry_create"  # an update does not create a registry row
    assert killed.returncode == (-signal.SIGKILL if reached else 0), killed.stderr

    _check(env)
    texts = " ".join(_ask_chunks(env, doc.name))
    new_published = point == "after_publish" or not reached
    assert ("liquid sodium" in texts) == new_published and ("heavy water" in texts) != new_published

    # The next run finishes the work.
    assert run_cli(["ingest", str(doc)], env).returncode == 0
    assert "liquid sodium" in " ".join(_ask_chunks(env, doc.name))
    assert _check(env)["documents"] == 1


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_step_of_a_first_ingest(point, tmp_path, model_cache):
    env = service_env(tmp_path / "data", model_cache)
    doc = tmp_path / "reactor.md"
    doc.write_text(OLD)
    killed = run_cli(["ingest", str(doc)], {**env, "RAG_FAILPOINT": point})
    assert killed.returncode == -signal.SIGKILL
    report = _check(env)
    assert report["documents"] == (1 if point == "after_publish" else 0)
    assert run_cli(["ingest", str(doc)], env).returncode == 0
    assert _check(env)["documents"] == 1


def test_kill_at_random_moments_of_a_folder_ingest(tmp_path, model_cache):
    env = service_env(tmp_path / "data", model_cache)
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(60):
        (folder / f"doc{i:02}.md").write_text(f"# Doc {i}\n\n" + f"Sentence {i} about topic {i}. " * 60)
    rng = random.Random(7)
    for _ in range(3):
        process = subprocess.Popen(
            [str(BIN / "rag"), "ingest", str(folder)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(5.0, 9.0))  # model loading takes a few seconds; then it is mid-ingest
        process.send_signal(signal.SIGKILL)
        process.wait()
        _check(env)
    assert run_cli(["ingest", str(folder)], env).returncode == 0
    assert _check(env)["documents"] == 60
