"""The generative answer path wired into the service: chosen by the profile, whole chunks in, each sentence of the
answer verified, the evidence path's answer when nothing is supported (scripted model; tests/fakes.py)."""

import pytest

from rag.generative import REFUSAL
from tests.fakes import FakeLLM, fake_services

DOC = (
    "# Working abroad\n\nEmployees may work from abroad for up to 30 days a year. They must tell their manager two "
    "weeks ahead.\n\nNew employees receive a home-office stipend of 600 euros. Laptops are renewed every three years."
)
QUESTION = "Can employees work from abroad?"


def _services(tmp_path, reply, **settings):
    services = fake_services(tmp_path / "data", llm=FakeLLM(reply), **{"llm_profile": "generative", **settings})
    services.indexer.ingest_bytes(DOC.encode(), "handbook.md")
    return services


def test_the_profile_setting_picks_the_path(tmp_path):
    assert fake_services(tmp_path / "a").pipeline.generative is None  # a stand-in model: the evidence path
    services = _services(tmp_path, "x")
    assert services.pipeline.generative is not None
    assert services.pipeline.defaults.max_new_tokens == 256  # the generative profile's answer length
    assert _services(tmp_path / "b", "x", max_new_tokens=100).pipeline.defaults.max_new_tokens == 100


def test_the_model_reads_whole_chunks_and_each_sentence_is_verified(tmp_path):
    reply = (
        "Yes. Employees may work from abroad for up to 30 days a year [1]. They must tell their manager two weeks "
        "ahead [1]. They also get a free flight [1]."
    )
    services = _services(tmp_path, reply)
    answer = services.pipeline.answer(QUESTION)
    prompt = services.llm.prompts[-1]
    assert "Sources:" in prompt and "(from handbook.md" in prompt and "home-office stipend of 600 euros" in prompt
    assert answer.answer_type == "generated"
    assert answer.answer == (
        "Yes. Employees may work from abroad for up to 30 days a year. [1] They must tell their manager two weeks "
        "ahead. [2]"
    )
    assert [c.marker for c in answer.citations] == [1, 2]
    for citation in answer.citations:
        assert DOC[citation.quote_start : citation.quote_end] == citation.quote
    assert [r.text for r in answer.removed] == ["They also get a free flight."]


def test_nothing_supported_gives_the_evidence_paths_answer(tmp_path):
    services = _services(tmp_path, "Employees may work abroad for 90 days [1].")
    answer = services.pipeline.answer("How many days a year may employees work from abroad?")
    assert answer.answer_type in ("extractive", "generated", "composed")
    assert "90 days" not in answer.answer and "30 days" in answer.answer


def test_a_refusal_abstains(tmp_path):
    services = _services(tmp_path, REFUSAL)
    answer = services.pipeline.answer("How many days a year may employees work from abroad?")
    assert answer.answer_type == "abstained" and answer.citations == []


def test_streaming_sends_the_models_text_then_the_verified_answer(tmp_path):
    reply = "Employees may work from abroad for up to 30 days a year [1]. The CEO approves it [1]."
    services = _services(tmp_path, reply)
    events = list(services.pipeline.answer_stream(QUESTION))
    deltas = "".join(e.data["text"] for e in events if e.event == "delta")
    assert deltas.strip() == reply
    (answer,) = [e.data for e in events if e.event == "answer"]
    assert answer["answer"] == "Employees may work from abroad for up to 30 days a year. [1]"
    assert answer["answer_type"] == "generated" and events[-1].event == "done"


@pytest.mark.parametrize("profile", ["evidence", "auto"])
def test_evidence_profiles_never_show_the_model_whole_chunks(tmp_path, profile):
    services = fake_services(tmp_path / "data", llm=FakeLLM("whatever"), llm_profile=profile)
    services.indexer.ingest_bytes(DOC.encode(), "handbook.md")
    services.pipeline.answer("How many days a year may employees work from abroad?")
    assert all("Sources:" not in p for p in services.llm.prompts)
