"""The capable model's answer path (rag/generative.py): whole chunks in, every sentence of the answer verified."""

import pytest

from rag.generative import (
    GUIDANCE,
    REFUSAL,
    build_chunk_prompt,
    chunk_label,
    draft_sentences,
    fit_chunks,
    is_refusal,
    verify_generated,
)
from rag.models.families import get_family
from rag.models.profile import GENERATIVE
from rag.prompt import ContextOverflow
from rag.types import RetrievedChunk
from tests.fakes import FakeLLM

ABROAD = (
    "Employees may work from abroad for up to 30 days a year. They must tell their manager two weeks ahead.\n\n"
    "While abroad, the following rules apply:\n\n- Laptops must use the VPN at all times.\n"
    "- No work from sanctioned countries."
)
STIPEND = "New employees receive a home-office stipend of 600 euros. It is paid with the first salary."


def chunk(n: int, text: str, heading: str | None = None, source: str = "/srv/docs/handbook.md") -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=f"d{n}:1:0",
        document_id=f"d{n}",
        version=1,
        source=source,
        chunk_index=1,
        start=1000,
        end=1000 + len(text),
        heading=heading,
        text=text,
        score=0.8 - 0.1 * n,
        rank=n,
    )


CHUNKS = [chunk(1, ABROAD, "Remote work > Abroad"), chunk(2, STIPEND, source="/srv/docs/benefits.md")]


def test_prompt_numbers_whole_chunks_with_source_and_heading():
    prompt = build_chunk_prompt(get_family("chatml"), " Can I work from abroad? ", CHUNKS)
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
    assert f"[1] {ABROAD}\n(from handbook.md > Remote work > Abroad)" in prompt
    assert f"[2] {STIPEND}\n(from benefits.md)" in prompt
    assert prompt.index("[1] ") < prompt.index("[2] ") < prompt.index("Question: Can I work from abroad?")
    system, asked = prompt.split("<|im_end|>")[0], prompt.split("Question: Can I work from abroad?")[1]
    assert "like [1]" in system and REFUSAL in system and GUIDANCE["yes_no"] in asked


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What sections go into a weekly ship email?", "list"),
        ("How do I change my work schedule?", "steps"),
        ("Summarize the severity levels.", "summary"),
        ("What is the maximum line length?", "number"),
        ("Which password manager should we use?", "fact"),
    ],
)
def test_the_answer_asked_for_fits_the_question(question, kind):
    prompt = build_chunk_prompt(get_family("chatml"), question, CHUNKS)
    assert GUIDANCE[kind] in prompt and sum(g in prompt for g in GUIDANCE.values()) == 1


def test_label_names_the_page_of_a_paged_source():
    paged = chunk(1, "x", "Intro", source="report.pdf").model_copy(update={"page": 3})
    assert chunk_label(paged) == "report.pdf, page 3 > Intro"


def test_lowest_ranked_chunks_are_dropped_to_fit():
    llm = FakeLLM()  # counts words
    whole = fit_chunks(llm, GENERATIVE, "Can I work from abroad?", CHUNKS, 64)
    assert whole.chunks == CHUNKS and whole.trimmed == []
    llm.context_window = llm.count_tokens(whole.prompt) + 64 - 1
    fitted = fit_chunks(llm, GENERATIVE, "Can I work from abroad?", CHUNKS, 64)
    assert fitted.chunks == CHUNKS[:1] and fitted.trimmed == ["d2:1:0"] and "[2]" not in fitted.prompt


def test_profile_caps_the_chunks_and_the_prompt():
    from dataclasses import replace

    many = [chunk(n, STIPEND) for n in range(1, 9)]
    assert len(fit_chunks(FakeLLM(), replace(GENERATIVE, max_chunks=3), "q?", many, 64).chunks) == 3
    small_budget = replace(
        GENERATIVE, max_prompt_tokens=len(build_chunk_prompt(get_family("chatml"), "q?", many[:2]).split())
    )
    assert len(fit_chunks(FakeLLM(), small_budget, "q?", many, 64).chunks) == 2


def test_too_long_for_the_window_is_refused():
    llm = FakeLLM()
    llm.context_window = 30
    with pytest.raises(ContextOverflow, match="max_new_tokens"):
        fit_chunks(llm, GENERATIVE, "Can I work from abroad?", CHUNKS, 16)


def test_markers_after_the_full_stop_belong_to_the_sentence_before():
    first, second = draft_sentences("They may stay 30 days. [1] Tell the manager [1, 2]. ")
    assert (first.text, first.markers) == ("They may stay 30 days.", {1})
    assert (second.text, second.markers) == ("Tell the manager.", {1, 2})


def test_supported_sentences_are_kept_and_cited_to_their_sentence():
    draft = (
        "Employees may work from abroad for up to 30 days a year [1]. "
        "They must tell their manager two weeks ahead [1]. The CEO approves every trip [1]."
    )
    verified = verify_generated("Can I work from abroad?", draft, CHUNKS)
    assert verified.answer_type == "generated"
    assert verified.answer == (
        "Employees may work from abroad for up to 30 days a year. [1] They must tell their manager two weeks ahead. [2]"
    )
    assert [e.number for e in verified.cited] == [1, 2]
    assert [e.sentence.text for e in verified.cited] == [
        "Employees may work from abroad for up to 30 days a year.",
        "They must tell their manager two weeks ahead.",
    ]
    assert ABROAD[verified.cited[1].sentence.start - 1000 : verified.cited[1].sentence.end - 1000] == (
        "They must tell their manager two weeks ahead."
    )
    assert [s.text for s in verified.removed] == ["The CEO approves every trip."]


def test_invented_numbers_are_removed_and_nothing_supported_is_none():
    assert verify_generated("How large is the stipend?", "The stipend is 900 euros [2].", CHUNKS) is None
    verified = verify_generated(
        "How large is the stipend?", "The stipend is 900 euros [2]. New employees receive 600 euros [2].", CHUNKS
    )
    assert verified.answer == "New employees receive 600 euros. [1]"
    assert verified.cited[0].sentence.chunk.chunk_id == "d2:1:0"


def test_a_list_stays_a_list_and_the_lead_line_is_kept_only_if_supported():
    draft = (
        "While abroad, these rules apply:\n- Laptops must use the VPN at all times [1]\n"
        "- No work from sanctioned countries [1]\n- Bring a passport [1]"
    )
    verified = verify_generated("What rules apply while abroad?", draft, CHUNKS)
    assert verified.answer.splitlines() == [
        "- Laptops must use the VPN at all times [1]",
        "- No work from sanctioned countries [2]",
    ]
    assert {s.text for s in verified.removed} == {"While abroad, these rules apply:", "Bring a passport"}


def test_yes_or_no_is_kept_in_front_of_its_supported_reason():
    verified = verify_generated(
        "Can I work from abroad?", "Yes. Employees may work from abroad for up to 30 days a year [1].", CHUNKS
    )
    assert verified.answer == "Yes. Employees may work from abroad for up to 30 days a year. [1]"
    same_line = verify_generated(
        "Can I work from abroad?", "Yes, employees may work from abroad for 30 days [1].", CHUNKS
    )
    assert same_line.answer.startswith("Yes, employees may work from abroad for 30 days.")
    assert verify_generated("Can I work from abroad?", "Yes. The CEO said so [1].", CHUNKS) is None


def test_the_cited_chunk_is_preferred_and_repeats_are_dropped():
    twin = [chunk(1, STIPEND), chunk(2, STIPEND)]
    draft = "New employees receive a stipend of 600 euros [2]. New employees receive a stipend of 600 euros [2]."
    verified = verify_generated("What do new employees receive?", draft, twin)
    assert [e.sentence.chunk.chunk_id for e in verified.cited] == ["d2:1:0"] and len(verified.sentences) == 1


def test_a_list_item_is_read_with_the_sentence_that_introduces_it():
    limits = chunk(1, "Each language has its own column limit:\n\n- Java: 100 characters.\n- Python: 79 characters.")
    verified = verify_generated(
        "What is the column limit?", "The column limit for Java is 100 characters [1].", [limits]
    )
    assert verified is not None and verified.cited[0].sentence.text == "Java: 100 characters."


def test_refusals_are_recognised():
    assert is_refusal(REFUSAL)
    assert is_refusal("The provided documents don't mention the CEO's salary.")
    assert is_refusal("I cannot answer this from the sources.")
    assert not is_refusal("Employees may work from abroad for up to 30 days a year [1].")


def test_numbered_steps_keep_their_order_and_are_renumbered_over_the_kept_ones():
    draft = (
        "1. Tell your manager two weeks ahead [1]\n2. Book a flight to the moon [1]\n"
        "3. Laptops must use the VPN at all times [1]"
    )
    verified = verify_generated("How do I work from abroad?", draft, CHUNKS)
    assert verified.answer.splitlines() == [
        "1. Tell your manager two weeks ahead [1]",
        "2. Laptops must use the VPN at all times [2]",
    ]
