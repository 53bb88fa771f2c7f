"""A follow-up in a conversation with the real parts: the bundled embedder and 135M model, embedded Chroma, the
answerability model. The issue's example: "What's a gliding schedule?" then "If I start at the latest time allowed,
when would I finish?", which names nothing of its own that retrieves the gliding schedule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.config import Settings
from rag.conversation import Turn
from rag.models.answerability import AnswerabilityModel
from service import build

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / "data"

# One document per schedule, as a handbook folder often has: which one a follow-up is about is retrieval's choice.
SCHEDULES = {
    "fixed-schedule.md": "# Fixed schedule\n\nYou arrive and depart at the same time every day. You work 8 hours a "
    "day, 5 days a week.\n",
    "compressed-schedule.md": "# Compressed schedule\n\nYou work longer than 8 hours each day, so that you do not "
    "have to work the full 10 days in a pay period. For example, you work four 10 hour days each week and have one "
    "specific day off each week.\n",
    "flexitour-schedule.md": "# Flexitour schedule\n\nYou choose a specific start and stop time for each day, and it "
    "can be different day to day. Once set, the times are fixed from one pay period to the next.\n",
    "gliding-schedule.md": "# Gliding schedule\n\nA gliding schedule lets you arrive and depart within a given time "
    "range each day. You work 8 hours, 5 days a week. For example, you begin working between 7 AM and 10 AM every "
    "day. Depending on when you arrive, you depart between 3:30 PM and 6:30 PM, accounting for a 30 minute lunch "
    "break.\n",
}
FOLLOWUP = "If I start at the latest time allowed, when would I finish?"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, embedder, llm, model_cache):
    root = tmp_path_factory.mktemp("conversation")
    settings = Settings(data_dir=root / "data", cache_dir=model_cache, auth=False)
    services = build(
        settings, embedder=embedder, llm=llm, answerability=AnswerabilityModel.load("default", model_cache)
    )
    services.indexer.ingest_paths([DATA / "handbook"])
    for name, text in SCHEDULES.items():
        services.indexer.ingest_bytes(text.encode(), name)
    return services.pipeline


def test_a_followup_retrieves_and_cites_the_chunk_its_conversation_is_about(pipeline):
    first = pipeline.answer("What's a gliding schedule?")
    assert first.answer_type not in ("abstained", "no_documents", "clarification")
    assert [c.source for c in first.citations][:1] == ["gliding-schedule.md"]
    history = [Turn("What's a gliding schedule?", first.answer, tuple(c.chunk_id for c in first.citations))]

    followup = pipeline.answer(FOLLOWUP, history=history)
    assert followup.standalone_question is not None and "gliding" in followup.standalone_question.lower()
    assert followup.answer_type not in ("abstained", "no_documents", "clarification")
    cited = {c.source for c in followup.citations}
    assert cited == {"gliding-schedule.md"}, [c.quote for c in followup.citations]
    assert all("6:30 PM" in c.text for c in followup.citations)  # the chunk that says when one finishes

    events = list(pipeline.answer_stream(FOLLOWUP, history=history))
    (streamed,) = [e.data for e in events if e.event == "answer"]
    assert streamed["standalone_question"] == followup.standalone_question


def test_without_the_conversation_the_same_question_is_not_about_gliding(pipeline):
    alone = pipeline.answer(FOLLOWUP)
    assert alone.standalone_question is None
    assert "gliding-schedule.md" not in {c.source for c in alone.citations}


def test_an_underspecified_question_gets_a_clarifying_question(pipeline):
    answer = pipeline.answer("How much does it cost?")
    assert answer.answer_type == "clarification" and answer.citations == [] and answer.answer.endswith("?")
    standalone = pipeline.answer("How many days a week do I work on a gliding schedule?")
    assert standalone.answer_type != "clarification"


def test_a_question_of_two_parts_answers_and_cites_each(pipeline):
    answer = pipeline.answer(
        "How many hours do I work each day on a compressed schedule? And when do I depart on a gliding schedule?"
    )
    assert answer.question_type == "compound"
    first, second = answer.answer.split("\n\n")
    by_marker = {c.marker: c.source for c in answer.citations}
    assert by_marker[int(re.findall(r"\[(\d+)\]", first)[0])] == "compressed-schedule.md", answer.answer
    assert by_marker[int(re.findall(r"\[(\d+)\]", second)[0])] == "gliding-schedule.md", answer.answer
