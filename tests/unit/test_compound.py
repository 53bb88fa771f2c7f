"""A question of several parts (rag/question.py ``parts``): each part answered on its own and the answers joined
(rag/answer.py ``combined``), with a scripted model (the real one: tests/integration/test_conversation.py)."""

import re

from rag.answer import combined
from rag.types import Answer, Citation, SentenceSupport, Timings
from tests.fakes import FakeLLM, fake_services

DOC = (
    b"# Stipend\n\nNew employees receive a home-office stipend of 600 euros.\n\n# Laptops\n\nLaptops are renewed "
    b"every three years by the IT desk.\n\n# Coworking\n\nCo-working memberships are reimbursed up to 150 euros per "
    b"month."
)
COMPOUND = "How large is the home-office stipend? And how often are laptops renewed?"


def _services(tmp_path, **settings):
    services = fake_services(tmp_path / "data", llm=FakeLLM(), **settings)
    services.indexer.ingest_bytes(DOC, "benefits.md")
    return services


def _markers_match_citations(answer: Answer) -> None:
    shown = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    assert shown == [c.marker for c in answer.citations] == list(range(1, len(shown) + 1))
    for citation in answer.citations:
        assert citation.quote.split()[0] in answer.answer


def test_each_part_is_answered_and_cited(tmp_path):
    services = _services(tmp_path)
    answer = services.pipeline.answer(COMPOUND)
    assert answer.question_type == "compound"
    quotes = " ".join(c.quote for c in answer.citations)
    assert "600 euros" in quotes and "three years" in quotes
    first, second = answer.answer.split("\n\n")
    assert "600 euros" in first and "three years" in second
    _markers_match_citations(answer)


def test_a_single_question_is_not_split(tmp_path):
    services = _services(tmp_path)
    assert services.pipeline.answer("How large is the home-office stipend?").question_type != "compound"


def test_the_part_the_documents_do_not_answer_is_named(tmp_path):
    services = _services(tmp_path, abstain_below=0.3)
    answer = services.pipeline.answer("How large is the home-office stipend? Who invented rigid airships in Germany?")
    assert answer.answer_type not in ("abstained", "no_documents")
    assert "600 euros" in answer.answer
    assert answer.answer.endswith('The documents do not answer "Who invented rigid airships in Germany?".')
    _markers_match_citations(answer)


def test_a_question_no_part_of_which_is_answered_abstains(tmp_path):
    services = _services(tmp_path, abstain_below=0.99)
    answer = services.pipeline.answer(COMPOUND)
    assert answer.answer_type == "abstained" and answer.citations == []


def test_the_stream_gives_the_joined_answer(tmp_path):
    services = _services(tmp_path)
    events = list(services.pipeline.answer_stream(COMPOUND))
    assert [e.event for e in events] == ["delta", "answer", "done"]
    assert events[0].data["text"] == events[1].data["answer"] == services.pipeline.answer(COMPOUND).answer


def _citation(marker: int, quote: str, start: int) -> Citation:
    return Citation(
        marker=marker,
        document_id="d",
        chunk_id="d:1:0",
        source="d.md",
        page=None,
        start=0,
        end=99,
        score=0.5,
        text=quote,
        quote=quote,
        quote_start=start,
        quote_end=start + len(quote),
    )


def _answer(quotes: list[tuple[str, int]], answer_type="composed") -> Answer:
    citations = [_citation(n, q, start) for n, (q, start) in enumerate(quotes, start=1)]
    return Answer(
        answer=" ".join(f"{c.quote} [{c.marker}]" for c in citations),
        answer_type=answer_type,
        citations=citations,
        sentences=[SentenceSupport(text=c.quote, supported=True, support=1.0, citations=[c.marker]) for c in citations],
        timings=Timings(),
        evidence_score=0.6,
    )


def test_combined_numbers_on_and_leaves_out_what_an_earlier_part_quoted():
    first = _answer([("A base schedule is a template.", 0), ("It is set up at onboarding.", 40)])
    second = _answer([("It is set up at onboarding.", 40), ("It keeps your pay right.", 80)])
    third = _answer([("A base schedule is a template.", 0)])  # adds nothing: left out
    joined = combined([("What is it?", first), ("Why?", second), ("Where?", third)], str, Timings())
    assert joined.answer == (
        "A base schedule is a template. [1] It is set up at onboarding. [2]\n\nIt keeps your pay right. [3]"
    )
    assert [c.marker for c in joined.citations] == [1, 2, 3]
    assert [s.citations for s in joined.sentences] == [[1], [2], [3]]
    assert joined.answer_type == "composed" and joined.question_type == "compound"


def test_combined_says_which_part_is_unanswered_and_abstains_when_none_is():
    abstained = Answer(answer="No.", answer_type="abstained", citations=[], timings=Timings())
    answered = _answer([("Laptops are renewed every three years.", 0)], "extractive")
    joined = combined([("Who?", abstained), ("How often?", answered)], lambda p: f"Not answered: {p}", Timings())
    assert joined.answer == "Not answered: Who?\n\nLaptops are renewed every three years. [1]"
    assert joined.answer_type == "extractive"
    alone = combined([("Who?", abstained), ("Where?", abstained)], str, Timings())
    assert alone.answer_type == "abstained" and alone.answer == "No."
