"""The issue's examples on the sample handbook, with the real embedder, Chroma and answerability check: composed
answers do not ask the model, so a stand-in LLM (tests/fakes.py) is enough here."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.models.answerability import AnswerabilityModel
from service import build
from tests.fakes import FakeLLM

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, embedder, model_cache):
    settings = Settings(data_dir=tmp_path_factory.mktemp("composed"), cache_dir=model_cache, auth=False)
    services = build(
        settings,
        embedder=embedder,
        llm=FakeLLM("unused"),
        answerability=AnswerabilityModel.load("default", model_cache),
    )
    services.indexer.ingest_paths([DATA / "handbook"])
    return services.pipeline


def test_the_rules_for_working_from_abroad_are_all_given_each_cited(pipeline):
    answer = pipeline.answer("What are the rules for working from abroad?")
    assert (answer.answer_type, answer.question_type) == ("composed", "list")
    quotes = [" ".join(c.quote.split()) for c in answer.citations]  # quotes keep the line breaks of the file
    for rule in ("up to 60 days", "Longer stays need approval", "international sanctions is never allowed"):
        assert any(rule in q for q in quotes) and rule in answer.answer


def test_the_severity_levels_are_summarized_not_abstained(pipeline):
    answer = pipeline.answer("Summarize the severity levels")
    assert (answer.answer_type, answer.question_type) == ("composed", "summary")
    assert [line.split(":")[0] for line in answer.answer.splitlines()] == ["- SEV1", "- SEV2", "- SEV3"]


def test_a_yes_no_question_gets_its_verdict(pipeline):
    answer = pipeline.answer("Can I open customer data on my personal laptop?")
    assert answer.answer.startswith("No. Customer data may only be opened on company laptops")
