"""The answer step's decisions, with a scripted model (the real one is in tests/integration)."""

from tests.fakes import FakeLLM, fake_services

DOC = (
    b"# Stipend\n\nNew employees receive a home-office stipend of 600 euros. Laptops are renewed every "
    b"three years.\n\nCo-working memberships are reimbursed up to 150 euros per month."
)


def _services(tmp_path, reply):
    services = fake_services(tmp_path / "data", llm=FakeLLM(reply))
    services.indexer.ingest_bytes(DOC, "stipend.md")
    return services


def test_supported_answer_is_kept_and_cites_the_supporting_sentence(tmp_path):
    services = _services(tmp_path, "The home-office stipend is 600 euros [2].")
    answer = services.pipeline.answer("How large is the home-office stipend?")
    assert answer.answer_type == "generated"
    assert answer.answer.startswith("The home-office stipend is 600 euros")
    (citation,) = answer.citations
    assert citation.quote == "New employees receive a home-office stipend of 600 euros."
    assert answer.answer.endswith(f"[{citation.marker}]")
    assert DOC.decode()[citation.quote_start : citation.quote_end] == citation.quote


def test_invented_number_falls_back_to_the_evidence_sentence(tmp_path):
    services = _services(tmp_path, "The stipend is about 1.5 million euros [1].")
    answer = services.pipeline.answer("How large is the home-office stipend?")
    assert answer.answer_type == "extractive"
    assert "600 euros" in answer.answer and "1.5 million" not in answer.answer
    assert answer.citations[0].quote in answer.answer


def test_prompt_holds_numbered_evidence_sentences_in_the_family_format(tmp_path):
    services = _services(tmp_path, "whatever")
    services.pipeline.answer("How large is the home-office stipend?", top_k=2)
    prompt = services.llm.prompts[-1]
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
    assert "[1] " in prompt and "Question: How large is the home-office stipend?" in prompt


def test_no_documents(tmp_path):
    services = fake_services(tmp_path / "data", llm=FakeLLM("x"))
    answer = services.pipeline.answer("anything?")
    assert answer.answer_type == "no_documents" and answer.citations == [] and services.llm.prompts == []


def test_evidence_is_trimmed_lowest_first_to_fit_the_window(tmp_path):
    services = _services(tmp_path, "The home-office stipend is 600 euros.")
    full = services.pipeline.answer("How large is the home-office stipend?")
    assert full.trimmed == []
    prompt_tokens = services.llm.count_tokens(services.llm.prompts[-1])
    services.llm.context_window = prompt_tokens + 64 - 1  # one token short for three sentences and 64 new tokens
    trimmed = services.pipeline.answer("How large is the home-office stipend?")
    assert len(trimmed.trimmed) >= 1 and services.llm.count_tokens(services.llm.prompts[-1]) < prompt_tokens
    assert trimmed.answer_type == "generated"


def test_request_that_cannot_fit_is_refused(tmp_path):
    import pytest

    from rag.prompt import ContextOverflow

    services = _services(tmp_path, "x")
    services.llm.context_window = 20
    with pytest.raises(ContextOverflow, match="max_new_tokens"):
        services.pipeline.answer("How large is the home-office stipend?")


def test_abstains_below_the_evidence_floor_without_calling_the_model(tmp_path):
    services = _services(tmp_path, "should not be generated")
    services.pipeline.abstention.floor = 0.99
    services.pipeline.abstention.text = "Not in the documents."
    answer = services.pipeline.answer("Which submarine did the navy commission?")
    assert (answer.answer_type, answer.answer, answer.citations) == ("abstained", "Not in the documents.", [])
    assert services.llm.prompts == []
    services.pipeline.abstention.floor = -1.0
    assert services.pipeline.answer("How large is the home-office stipend?").answer_type != "abstained"


class ScriptedAnswerability:
    """Says the evidence answers the question with a fixed probability; records what it was asked."""

    threshold = 0.5  # what a real model's training.json would say

    def __init__(self, probability):
        self.probability = probability
        self.asked = []

    def score(self, question, passage):
        self.asked.append((question, passage))
        return self.probability


def test_abstains_when_the_answerability_model_doubts_the_evidence(tmp_path):
    services = _services(tmp_path, "The home-office stipend is 600 euros [1].")
    services.pipeline.abstention.floor = None
    services.pipeline.abstention.model = checker = ScriptedAnswerability(0.2)  # below the model's own threshold
    answer = services.pipeline.answer("How large is the home-office stipend?")
    assert (answer.answer_type, answer.citations, answer.answerability) == ("abstained", [], 0.2)
    assert services.llm.prompts == [] and answer.timings.answerability_ms >= 0
    # it reads the question and the three best evidence sentences, best first
    ((question, passage),) = checker.asked
    assert question == "How large is the home-office stipend?"
    assert passage.startswith("New employees receive a home-office stipend of 600 euros.")

    checker.probability = 0.8
    answer = services.pipeline.answer("How large is the home-office stipend?")
    assert answer.answer_type == "generated" and answer.answerability == 0.8
    events = list(services.pipeline.answer_stream("How large is the home-office stipend?"))
    assert [e.data["answerability"] for e in events if e.event == "answer"] == [0.8]

    services.pipeline.abstention.threshold = 0.9  # RAG_ABSTAIN_BELOW_ANSWERABILITY overrides the model's
    assert services.pipeline.answer("How large is the home-office stipend?").answer_type == "abstained"


def test_each_sentence_is_checked_and_unsupported_ones_are_removed(tmp_path):
    services = _services(
        tmp_path,
        "The home-office stipend is 600 euros [1]. Co-working memberships are reimbursed up to 150 euros per "
        "month [9]. Employees also get a free car worth 40000 euros [1].",
    )
    answer = services.pipeline.answer("What do new employees receive for working from home or co-working?")
    assert answer.answer_type == "generated"
    assert [s.text for s in answer.sentences] == [
        "The home-office stipend is 600 euros.",
        "Co-working memberships are reimbursed up to 150 euros per month.",
    ]
    assert [s.text for s in answer.removed] == ["Employees also get a free car worth 40000 euros."]
    assert not answer.removed[0].supported and answer.removed[0].citations == []
    assert "free car" not in answer.answer
    by_marker = {c.marker: c for c in answer.citations}
    first, second = answer.sentences
    assert "600 euros" in by_marker[first.citations[0]].quote  # each sentence cites the sentence backing it
    assert "150 euros" in by_marker[second.citations[0]].quote
    assert first.citations != second.citations and all(s.supported for s in answer.sentences)
    assert answer.answer == (
        f"The home-office stipend is 600 euros. [{first.citations[0]}] Co-working memberships are reimbursed up "
        f"to 150 euros per month. [{second.citations[0]}]"
    )


def test_an_extractive_answer_reports_the_quote_and_the_removed_sentence(tmp_path):
    services = _services(tmp_path, "The stipend is about 1.5 million euros [1].")
    answer = services.pipeline.answer("How large is the home-office stipend?")
    assert answer.answer_type == "extractive"
    assert answer.sentences[0].text == answer.citations[0].quote and answer.sentences[0].supported
    assert [s.text for s in answer.removed] == ["The stipend is about 1.5 million euros."]


SOUP = (
    b"# Zephyr tomato soup\n\nThe Zephyr tomato soup is made with smoked paprika. The Zephyr tomato soup is served on "
    b"Thursday. The Zephyr tomato soup came from Zarnesti. The Zephyr tomato soup costs 4 euros. The Zephyr tomato "
    b"soup is vegan."
)


def test_a_question_about_a_subject_reads_on_further_than_one_for_one_value(tmp_path):
    services = fake_services(tmp_path / "data", llm=FakeLLM())
    services.indexer.ingest_bytes(SOUP, "soup.md")
    about = services.pipeline.answer("What is the Zephyr tomato soup?")
    when = services.pipeline.answer("When is the Zephyr tomato soup served?")
    assert len(about.citations) == 5 and len({c.quote for c in about.citations}) == 5
    assert 1 <= len(when.citations) <= 3 and "Thursday" in when.answer.split(" [")[0]
    services.pipeline.compose_answers = False  # RAG_COMPOSE_ANSWERS=false: the one sentence alone
    assert len(services.pipeline.answer("What is the Zephyr tomato soup?").citations) == 1


SCHEDULES = (
    b"# Work schedules\n\nEach of us has a work schedule.\n\n## Types of flexible schedules\n\n"
    b"### Flexitour\n\nYou choose a start time once and keep it every day.\n\n"
    b"### Gliding\n\n- You can arrive and depart within a given time range each day.\n"
    b"- You begin working between 7 AM and 10 AM.\n- Depending on when you arrive, you depart between 3:30 and "
    b"6:30 PM.\n"
)


def test_a_question_about_a_subject_that_only_a_heading_names_gets_that_section(tmp_path):
    services = fake_services(tmp_path / "data", llm=FakeLLM("It is a schedule [1]."))
    services.indexer.ingest_bytes(SCHEDULES, "schedules.md")
    answer = services.pipeline.answer("What's a gliding schedule?")  # no sentence of the section says "gliding"
    assert answer.answer_type == "composed" and answer.question_type == "summary"
    gliding = SCHEDULES.decode().split("### Gliding")[1]
    assert answer.citations and all(c.quote in gliding for c in answer.citations)
    assert "7 AM and 10 AM" in answer.answer
    services.pipeline.compose_answers = False  # RAG_COMPOSE_ANSWERS=false: the one-fact path, as before
    assert services.pipeline.answer("What's a gliding schedule?").answer_type != "composed"


def test_an_extractive_answer_quotes_an_answer_not_a_faqs_own_question(tmp_path):
    services = fake_services(tmp_path / "data", llm=FakeLLM("It costs a fortune, about 9,999 dollars [1]."))
    faq = b"# Fees\n\nQ: How much does it cost to file a claim?\n\nA: Filing a claim costs 30 dollars.\n"
    services.indexer.ingest_bytes(faq, "faq.md")
    answer = services.pipeline.answer("How much does it cost to file a claim?")
    assert answer.answer_type == "extractive"
    assert "30 dollars" in answer.citations[0].quote and "?" not in answer.citations[0].quote
