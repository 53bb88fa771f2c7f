"""Schemathesis against the service's own OpenAPI spec, in process over ASGI with the fake models.

Every operation gets generated requests, valid ones (within the schema) and invalid ones (outside it: wrong
types, out-of-range numbers, broken JSON, bytes that are not UTF-8). The service must never answer 5xx, every
4xx must carry a non-empty ``detail`` saying what is wrong, and every answer must match the response schema the
spec documents for its status. A document is indexed first so that queries reach evidence, prompt, generation
and verification (fake LLM), and folder sources are confined to an empty folder so no request can make the
service walk the disk. Streaming (``stream: true``) is exercised too: the test client reads each stream to the
end. Authentication is on, as shipped: requests carry an admin key of every collection, so they get past it and
the generated ``X-Collection`` headers pick collections (the document is in ``default``, used when none is named).

Derandomized (the same requests every run) and bounded: FUZZ_EXAMPLES (default 20) examples per operation and
mode, about 500 requests in 7 s on two cores, and FUZZ_BUDGET_S (default 100 s), after which it stops and
fails. Raise both to search further (docs/operations.md has the command).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from api.app import create_app
from tests.fakes import fake_services

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
BUDGET_S = float(os.environ.get("FUZZ_BUDGET_S", "100"))

DOC = b"""# Zephyr Kitchen Notes

The secret ingredient in the Zephyr Kitchen tomato soup is smoked paprika from the village of Zarnesti.
The soup is served every Thursday, and the kitchen closes at 21:30.
"""


def _problem(response: Any) -> str | None:
    """What is wrong with this answer by our rules, or None."""
    if response.status_code >= 500:
        return f"server error {response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except (ValueError, AttributeError):
            detail = None
        if not detail:
            return f"{response.status_code} without a detail message: {response.text[:300]}"
    return None


def _fuzz(operation: Any, mode: GenerationMode, failures: dict[tuple[str, str], str], calls: list[int], headers: dict):
    """A Hypothesis test sending generated requests of one mode to one operation, recording what is wrong."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        calls[0] += 1
        response = case.call(headers=headers)
        problem = _problem(response)
        if problem is None:
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except BaseException as exc:  # schemathesis raises a group of check failures
                problem = f"response does not match the spec: {exc}"[:600]
        if problem is not None:
            key = (f"{operation.label} ({mode.value})", problem.splitlines()[0])
            failures.setdefault(key, f"{problem}\n    request: {case!r}")

    return run


def test_openapi_fuzz_no_server_errors_and_4xx_explain(tmp_path: Path) -> None:
    roots = tmp_path / "roots"
    roots.mkdir()
    services = fake_services(tmp_path / "data", source_roots=[roots], scheduler=False, auth=True)
    services.indexer.ingest_bytes(DOC, "zephyr.md")
    headers = {"Authorization": f"Bearer {services.keys.create('admin', '*', 'fuzz')[1]}"}
    app = create_app(services.settings, services)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)

    failures: dict[tuple[str, str], str] = {}
    calls = [0]
    started = time.monotonic()
    over_budget = False
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            over_budget = over_budget or time.monotonic() - started > BUDGET_S
            if over_budget:
                break
            # Unsatisfiable: nothing invalid can be generated for this operation (e.g. it takes no parameters).
            with contextlib.suppress(Unsatisfiable):
                _fuzz(operation, mode, failures, calls, headers)()

    assert not failures, "\n\n".join(f"{label}: {text}" for (label, _), text in failures.items())
    assert not over_budget, f"fuzzing took over {BUDGET_S}s ({calls[0]} requests); lower FUZZ_EXAMPLES"
    assert calls[0] > 300, f"only {calls[0]} requests were generated"
