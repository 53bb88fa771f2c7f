"""Real parts: the bundled models, an embedded Chroma on disk, and the service as a real process on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.common import free_port
from rag.models.embedder import SentenceEmbedder
from rag.models.llm import LLM

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: it must see the marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is an integration test, whether or not its module says so (``pytestmark``), so
    ``-m "not integration"`` never runs one."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


def service_env(data_dir: Path, model_cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(data_dir), RAG_CACHE_DIR=str(model_cache), PYTHONUNBUFFERED="1", **extra)
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "rag"), *args], env=env, capture_output=True, text=True, timeout=timeout)


class LiveServer:
    """``rag serve`` as shipped: auth on, so tests send the admin key it wrote at its first start (``headers``,
    ``client()``); pass ``RAG_AUTH="false"`` to start one without."""

    def __init__(self, data_dir: Path, model_cache: Path, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.key: str | None = None
        self.headers: dict[str, str] = {}
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [str(BIN / "rag"), "serve", "--port", str(self.port)],
            env=service_env(data_dir, model_cache, **env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    # Written before the server listens; absent with auth off, or when the registry had keys.
                    key_file = self.data_dir / "admin-key"
                    self.key = key_file.read_text().strip() if key_file.exists() else None
                    self.headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"server not ready after {timeout}s:\n{self.log_path.read_text()}")

    def client(self, timeout: float = 120, **kwargs) -> httpx.Client:
        """An HTTP client for this server that sends its admin key."""
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout, **kwargs)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


@pytest.fixture(scope="session")
def embedder(model_cache: Path) -> SentenceEmbedder:
    return SentenceEmbedder.load("default", "openvino", model_cache)


@pytest.fixture(scope="session")
def llm() -> LLM:
    return LLM.load("default")


@pytest.fixture(scope="session")
def batching_llm() -> LLM:
    """The continuous-batching engine (RAG_LLM_MAX_BATCH above 1)."""
    return LLM.load("default", max_batch=4)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("server")
    server = LiveServer(root / "data", model_cache, root / "server.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real Chroma server (`chroma run`) on a loopback port, for processes that share one index."""
    port = free_port()
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "chroma"), "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError((tmp_path / "chroma.log").read_text())
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
