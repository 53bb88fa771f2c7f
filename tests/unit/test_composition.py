"""Composed answers (rag/composition.py): several evidence sentences chosen for what the question asks, each quoted
and cited on its own. Unit tests on hand-scored evidence, then through the pipeline with the fake models."""

import re
from pathlib import Path

import numpy as np

from rag.composition import CONTEXT_MARGIN, CONTEXT_SENTENCES, Composer, context_for, list_of, yes_or_no
from rag.evidence import Ranked
from rag.question import classify
from rag.text import Sentence, readable, split_sentences
from rag.types import RetrievedChunk
from rag.verification import check_support
from tests.fakes import FakeLLM, fake_services

DATA = Path(__file__).resolve().parents[2] / "data"


def _chunk(
    text: str, index: int = 0, document: str = "d", heading: str | None = None, start: int = 0
) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=f"{document}:1:{index}",
        document_id=document,
        version=1,
        source=f"{document}.md",
        chunk_index=index,
        start=start,
        end=start + len(text),
        text=text,
        heading=heading,
        score=0.5,
        rank=1,
    )


def _ranked(chunk: RetrievedChunk, scores: dict[str, float], default: float = 0.0) -> Ranked:
    """Every sentence of the chunk, scored by the first key its text starts with; orthogonal vectors (none alike)."""
    sentences = split_sentences(chunk)
    values = [next((v for k, v in scores.items() if s.text.startswith(k)), default) for s in sentences]
    return Ranked.of(sentences, np.array(values, dtype=np.float32), np.eye(len(sentences), dtype=np.float32))


def _quotes_are_exact(answer, text: str) -> None:
    for c in answer.citations if hasattr(answer, "citations") else []:
        assert text[c.quote_start : c.quote_end] == c.quote


SCHEDULES = (
    "# Schedules\n\nEmployees choose one of these schedules when they join:\n\n"
    "- Standard: 8 hours a day, every work day.\n"
    "- Compressed: longer days, one day off every two weeks.\n"
    "- Flexible: start and stop times change day to day.\n"
    "- Maxiflex: fewer than 10 days per pay period.\n\n"
    "Supervisors approve every change of schedule."
)


def test_a_list_is_quoted_whole_as_a_list_with_its_introduction():
    chunk = _chunk(SCHEDULES)
    ranked = _ranked(chunk, {"Employees choose": 0.7, "Standard": 0.3, "Supervisors": 0.2})
    answer = Composer().compose(classify("Which schedules can employees choose?"), ranked)
    lines = answer.answer.splitlines()
    assert lines[0] == "Employees choose one of these schedules when they join: [1]"
    assert lines[1:] == [
        "- Standard: 8 hours a day, every work day. [2]",
        "- Compressed: longer days, one day off every two weeks. [3]",
        "- Flexible: start and stop times change day to day. [4]",
        "- Maxiflex: fewer than 10 days per pay period. [5]",
    ]
    assert answer.answer_type == "composed" and [e.number for e in answer.cited] == [1, 2, 3, 4, 5]
    assert all(SCHEDULES[e.sentence.start : e.sentence.end] == e.sentence.text for e in answer.cited)
    assert [s.citations for s in answer.sentences] == [[1], [2], [3], [4], [5]]


def test_a_list_that_runs_past_its_chunk_goes_on_in_the_next_one():
    document = (
        "To request a laptop:\n\n1. Open the IT portal.\n2. Choose a model from the list.\n"
        "3. Ask your manager to approve it.\n\nDone."
    )
    cut, overlap = document.index("\n3."), document.index("2.")  # the chunks overlap by one item
    first, second = _chunk(document[:cut], 0), _chunk(document[overlap:], 1, start=overlap)
    following = {first.chunk_id: second}
    intro = split_sentences(first)[0]
    found = list_of(intro, lambda c: following.get(c.chunk_id))
    assert found is not None
    assert [s.text for s, _ in found[1]] == [
        "Open the IT portal.",
        "Choose a model from the list.",
        "Ask your manager to approve it.",
    ]
    assert list_of(intro) is not None and len(list_of(intro)[1]) == 2  # without the next chunk: what this one has


def test_steps_keep_the_documents_order_and_are_numbered():
    text = (
        "## Requesting a laptop\n\nTo request a laptop:\n\n1. Open the IT portal.\n2. Choose a model.\n"
        "3. Ask your manager to approve it.\n\nLaptops arrive within a week."
    )
    ranked = _ranked(_chunk(text), {"Ask your manager": 0.8, "To request": 0.5, "Laptops arrive": 0.45})
    answer = Composer().compose(classify("How do I request a laptop?"), ranked)
    assert answer.answer.splitlines()[:4] == [
        "To request a laptop: [1]",
        "1. Open the IT portal. [2]",
        "2. Choose a model. [3]",
        "3. Ask your manager to approve it. [4]",
    ]


def test_sentences_nearly_as_good_as_the_best_join_it_and_repeats_do_not():
    text = (
        "Employees may work abroad for up to 60 days a year. Longer stays need approval from the People team. "
        "Working from sanctioned countries is never allowed. The office has a coffee machine."
    )
    chunk = _chunk(text)
    sentences = split_sentences(chunk)
    scores = np.array([0.6, 0.52, 0.55, 0.2], dtype=np.float32)
    vectors = np.eye(4, dtype=np.float32)
    vectors[2] = vectors[0]  # says what the best one says
    answer = Composer(margin=0.12).compose(
        classify("What are the rules for working abroad?"), Ranked.of(sentences, scores, vectors)
    )
    assert [e.sentence.text for e in answer.cited] == [
        "Employees may work abroad for up to 60 days a year.",
        "Longer stays need approval from the People team.",
    ]
    wider = Composer(margin=0.12, redundant=1.1).compose(
        classify("What are the rules for working abroad?"), Ranked.of(sentences, scores, np.eye(4, dtype=np.float32))
    )
    assert len(wider.cited) == 3 and "coffee" not in wider.answer  # the fourth is far below the best


def test_a_sentence_that_refers_back_comes_with_the_one_it_continues():
    text = (
        "ripgrep's -z flag makes it search compressed files. Currently, this supports gzip, bzip2 and xz. "
        "(Archives are skipped!) You can turn it off with --no-search-zip. Unrelated facts follow here."
    )
    ranked = _ranked(_chunk(text), {"ripgrep's": 0.8})
    answer = Composer().compose(classify("Which compressed formats can ripgrep search?"), ranked)
    assert [e.sentence.text for e in answer.cited] == [
        "ripgrep's -z flag makes it search compressed files.",
        "Currently, this supports gzip, bzip2 and xz.",
        "You can turn it off with --no-search-zip.",
    ]


def test_headings_questions_and_boilerplate_are_not_quoted():
    text = "How do I search compressed files?\n\nUse the -z flag to search compressed files in place."
    chunk = _chunk(text)
    sentences = split_sentences(chunk)
    licence = Sentence(chunk, "Licensed under the Apache License.", 0, 10, boilerplate="licence")
    ranked = Ranked.of([licence, *sentences], np.array([0.9, 0.8, 0.5], dtype=np.float32), np.eye(3, dtype=np.float32))
    assert [s.text for s in ranked.sentences] == [s.text for s in sentences]  # boilerplate is no evidence
    answer = Composer().compose(classify("What are the ways to search compressed files?"), ranked)
    assert [e.sentence.text for e in answer.cited] == ["Use the -z flag to search compressed files in place."]


def test_a_sentence_two_overlapping_chunks_share_is_evidence_once():
    text = "Core hours are 10:00 to 15:00. Fridays have no meetings."
    a, b = _chunk(text, 0), _chunk(text, 1)
    sentences = split_sentences(a) + split_sentences(b)
    ranked = Ranked.of(sentences, np.array([0.5, 0.2, 0.7, 0.1], dtype=np.float32), np.eye(4, dtype=np.float32))
    assert len(ranked.sentences) == 2
    assert ranked.best(1)[0].score == np.float32(0.7) and ranked.best(1)[0].sentence.chunk is b


def test_yes_or_no_from_the_evidence_and_no_verdict_when_it_is_unclear():
    text = (
        "Customer data may only be opened on company laptops, never on personal devices. "
        "Public Wi-Fi is acceptable only with the company VPN switched on. "
        "Laptops must use full-disk encryption. Wildcard imports are not used."
    )
    data, wifi, encryption, wildcard = split_sentences(_chunk(text))
    assert yes_or_no(classify("Can I open customer data on personal devices?"), data) == "No"
    assert yes_or_no(classify("Is public Wi-Fi acceptable?"), wifi) is None  # only with the VPN: not a plain yes
    assert yes_or_no(classify("Must laptops use full-disk encryption?"), encryption) == "Yes"
    assert yes_or_no(classify("Are wildcard imports OK?"), wildcard) == "No"
    assert yes_or_no(classify("Do laptops use encryption or passwords?"), encryption) is None  # alternatives
    assert yes_or_no(classify("Is the cafeteria open on Sundays?"), encryption) is None  # not about the question


def test_a_yes_no_answer_starts_with_the_verdict_and_cites_its_evidence():
    text = "Wildcard imports, static or otherwise, are not used. Each import is on its own line."
    ranked = _ranked(_chunk(text), {"Wildcard": 0.8, "Each": 0.3})
    answer = Composer().compose(classify("Are wildcard imports OK?"), ranked)
    assert answer.answer == "No. Wildcard imports, static or otherwise, are not used. [1]"
    assert [(s.text, s.citations) for s in answer.sentences] == [
        ("No.", [1]),
        ("Wildcard imports, static or otherwise, are not used.", [1]),
    ]
    unsure = Composer().compose(classify("Are imports sorted?"), _ranked(_chunk(text), {"Each": 0.8}))
    assert unsure.answer.startswith("The documents say: Each import is on its own line. [1]")
    assert all(s.text != "Yes." and s.text != "No." for s in unsure.sentences)


def test_a_comparison_quotes_both_sides():
    text = (
        "## Standard schedule\n\nYou work 8 hours every day. Start and stop times are fixed.\n\n"
        "## Compressed schedule\n\nYou work longer than 8 hours a day. You get a day off every two weeks.\n\n"
        "## Compressed schedule examples\n\nFour 10-hour days a week."
    )
    chunk = _chunk(text)
    ranked = _ranked(chunk, {"You work longer": 0.7, "Four": 0.65}, default=0.05)
    answer = Composer().compose(
        classify("What's the difference between a standard schedule and a compressed schedule?"), ranked
    )
    quoted = [e.sentence.text for e in answer.cited]
    assert "You work 8 hours every day." in quoted and "You work longer than 8 hours a day." in quoted


def test_a_section_whose_heading_is_the_topic_is_relevant_as_a_whole():
    text = (
        "## Severity levels\n\n- SEV1: the product is down.\n- SEV2: a major feature is broken.\n"
        "- SEV3: a minor feature is degraded.\n\n## On-call\n\nThe rotation changes every Wednesday."
    )
    chunk = _chunk(text, heading="Runbook")
    ranked = _ranked(chunk, {"The rotation": 0.3}, default=0.05)
    question = classify("Summarize the severity levels")
    composer = Composer()  # without an embedder: headings compared by the topic's words
    assert composer.relevance(question, ranked).max() >= 0.55
    answer = composer.compose(question, ranked)
    assert answer.answer.splitlines() == [
        "- SEV1: the product is down. [1]",
        "- SEV2: a major feature is broken. [2]",
        "- SEV3: a minor feature is degraded. [3]",
    ]


def test_numbers_in_headings_tell_sections_apart():
    text = (
        "## Aurora 3.2\n\n- Dashboards export to PDF.\n- Single sign-on supports SAML.\n\n"
        "## Aurora 3.0\n\n- The editor was redesigned.\n- Python 3.9 support was removed."
    )
    ranked = _ranked(_chunk(text), {"The editor": 0.5}, default=0.3)
    answer = Composer().compose(classify("What changed in Aurora 3.2?"), ranked)
    assert answer.answer.splitlines() == ["- Dashboards export to PDF. [1]", "- Single sign-on supports SAML. [2]"]


def test_the_answer_reads_without_markdown_while_the_citation_quotes_exactly():
    assert readable("**SEV1**: see [the runbook](https://x.example/a_(b)) now") == "SEV1: see the runbook now"
    text = "- **SEV1**: the product is down.\n- **SEV2**: a major feature is broken."
    answer = Composer().compose(classify("What are the severity levels?"), _ranked(_chunk(text), {"SEV1": 0.5}))
    assert answer.answer.splitlines()[0] == "- SEV1: the product is down. [1]"
    assert answer.cited[0].sentence.text == "SEV1**: the product is down."  # as in the document


def test_the_model_repeating_the_question_is_no_answer():
    text = "Use KeePassXC as your password manager."
    evidence = Ranked.of(split_sentences(_chunk(text)), np.array([0.5]), np.eye(1)).best(1)
    question = "Which password manager should I use?"
    assert not check_support("Question: Which password manager should I use?", evidence, question).supported
    assert check_support("Use KeePassXC.", evidence, question).supported


# --- through the pipeline, with the sample handbook and the fake models ---------------------------------------------


def _handbook(tmp_path, **overrides):
    services = fake_services(tmp_path / "data", llm=FakeLLM("The answer is 42."), **overrides)
    for name in ("remote-work.md", "incident-response.md"):
        services.indexer.ingest_bytes((DATA / "handbook" / name).read_bytes(), name)
    return services


def test_the_rules_for_working_from_abroad_are_all_quoted_and_cited(tmp_path):
    services = _handbook(tmp_path)
    answer = services.pipeline.answer("What are the rules for working from abroad?")
    assert (answer.answer_type, answer.question_type) == ("composed", "list")
    for rule in ("up to 60 days", "Longer stays need approval", "international sanctions is never allowed"):
        assert rule in answer.answer
    assert services.llm.prompts == []  # composed from evidence: the model is not asked
    text = (DATA / "handbook" / "remote-work.md").read_text()
    for c in answer.citations:
        assert text[c.quote_start : c.quote_end] == c.quote and f"[{c.marker}]" in answer.answer
    assert all(s.supported and s.citations for s in answer.sentences)


def test_a_summary_of_the_severity_levels_is_given_not_abstained(tmp_path):
    services = _handbook(tmp_path)
    services.pipeline.abstention.floor = 0.4
    answer = services.pipeline.answer("Summarize the severity levels")
    assert (answer.answer_type, answer.question_type) == ("composed", "summary")
    assert all(level in answer.answer for level in ("SEV1", "SEV2", "SEV3"))
    assert answer.evidence_score >= 0.4  # the section's heading names the topic though no sentence does
    services.pipeline.compose_answers = False  # one sentence for every question: the best sentence is too weak
    assert services.pipeline.answer("Summarize the severity levels").answer_type == "abstained"


def test_one_fact_still_takes_the_single_sentence_path(tmp_path):
    services = _handbook(tmp_path)
    answer = services.pipeline.answer("How many days may employees work from another country?")
    assert answer.question_type == "number" and answer.answer_type in ("generated", "extractive")
    assert len(services.llm.prompts) == 1 and len(answer.citations) == 1


def test_a_composed_answer_streams_whole(tmp_path):
    services = _handbook(tmp_path)
    events = list(services.pipeline.answer_stream("What are the rules for working from abroad?"))
    assert [e.event for e in events] == ["delta", "answer", "done"]
    assert events[0].data["text"] == events[1].data["answer"] and events[1].data["answer_type"] == "composed"


def test_a_list_of_subsections_names_each_by_its_heading_reading_on_into_the_next_chunks():
    document = (
        "## Types of schedules\n\nGSA allows all 3 types of flexible schedules.\n\n"
        "### Flexitour\n\nYou choose fixed start and stop times.\n\n"
        "### Gliding\n\nYou arrive within a time range each day.\n\n"
        "### Maxiflex\n\nYou may work fewer than 10 days per pay period."
    )
    cut = document.index("### Gliding")
    first = _chunk(document[:cut], 0, heading="Types of schedules")
    second = _chunk(document[cut:], 1, heading="Types of schedules > Gliding", start=cut)
    ranked = _ranked(first, {"GSA allows": 0.8}, default=0.1)
    following = {first.chunk_id: second}
    composer = Composer(following=lambda c: following.get(c.chunk_id))
    answer = composer.compose(classify("What types of flexible schedules does GSA allow?"), ranked)
    assert answer.answer.splitlines() == [
        "GSA allows all 3 types of flexible schedules. [1]",
        "- Flexitour: You choose fixed start and stop times. [2]",
        "- Gliding: You arrive within a time range each day. [3]",
        "- Maxiflex: You may work fewer than 10 days per pay period. [4]",
    ]
    assert [e.sentence.text for e in answer.cited][1] == "You choose fixed start and stop times."  # quoted exactly
    assert all(document[e.sentence.start : e.sentence.end] == e.sentence.text for e in answer.cited)


def test_what_both_sides_of_a_comparison_say_alike_is_not_quoted_as_a_difference():
    text = (
        "## Standard schedule\n\nYou arrive at the same time every day. You work 8 hours a day.\n\n"
        "## Compressed schedule\n\nYou arrive at the same time every day. You work longer than 8 hours a day."
    )
    ranked = _ranked(_chunk(text), {"You work longer": 0.7}, default=0.1)
    answer = Composer().compose(classify("How does a standard schedule differ from a compressed schedule?"), ranked)
    assert [e.sentence.text for e in answer.cited] == ["You work 8 hours a day.", "You work longer than 8 hours a day."]


def test_a_sentence_out_of_place_keeps_the_number_its_heading_carries():
    from rag.evidence import numbered_heading, with_heading
    from rag.verification import verify

    text = (
        "## 4.4 Column limit: 100\n\nAny line that would exceed this limit must be wrapped.\n\n"
        "## 4.5 Line-wrapping\n\nThere is no comprehensive formula for wrapping.\n\n"
        "## Aurora 3.2 (released 14 October 2026)\n\n- Single sign-on supports SAML.\n\n"
        "## Aurora 3.1\n\n- Alerts can be sent to Slack."
    )
    limit, wrapping, sso, _ = [s for s in split_sentences(_chunk(text)) if not s.heading]
    assert numbered_heading(limit) == "Column limit: 100" and numbered_heading(wrapping) is None  # not "4.5"
    assert with_heading(sso, sso.flat) == "Aurora 3.2 (released 14 October 2026): Single sign-on supports SAML."
    evidence = Ranked.of([limit], np.array([0.5]), np.eye(1)).best(1)
    fallback = verify("What is the maximum line length?", "It is 80 characters.", evidence)  # unsupported draft
    assert fallback.answer_type == "extractive"
    assert fallback.answer == "Column limit: 100: Any line that would exceed this limit must be wrapped. [1]"
    ranked = _ranked(_chunk(text), {"Single": 0.6, "Alerts": 0.6}, default=0.0)
    answer = Composer().compose(classify("List the integrations added in the Aurora releases."), ranked)
    assert "Aurora 3.2 (released 14 October 2026): Single sign-on supports SAML. [1]" in answer.answer
    assert "Aurora 3.1: Alerts can be sent to Slack. [2]" in answer.answer


def test_the_quoted_fallback_reads_like_a_composed_answer_and_cites_the_exact_text():
    from rag.answer import to_citation
    from rag.verification import verify

    text = "**Base schedule**: a template of your work schedule, kept in [HRLinks](https://hrlinks.example/a_(b))."
    (sentence,) = split_sentences(_chunk(text))
    evidence = Ranked.of([sentence], np.array([0.6]), np.eye(1)).best(1)
    fallback = verify("What is a base schedule?", "It is a calendar.", evidence)  # unsupported draft
    assert fallback.answer_type == "extractive"
    assert fallback.answer == "Base schedule: a template of your work schedule, kept in HRLinks. [1]"
    citation = to_citation(fallback.cited[0], 1)
    assert "**" in citation.quote and "(https://hrlinks.example/a_(b))" in citation.quote  # the source's own text


def test_an_openai_stream_of_a_composed_answer_is_the_answer_once(tmp_path):
    import json

    from fastapi.testclient import TestClient

    from api.app import create_app

    services = _handbook(tmp_path)
    with TestClient(create_app(services.settings, services)) as client:
        body = {
            "messages": [{"role": "user", "content": "What are the rules for working from abroad?"}],
            "stream": True,
        }
        with client.stream("POST", "/v1/chat/completions", json=body) as r:
            lines = [line[6:] for line in r.read().decode().splitlines() if line.startswith("data: ")]
    chunks = [json.loads(line) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert chunks[-1]["answer_type"] == "composed" and "Not supported by the documents" not in text
    assert text.count("Longer stays need approval") == 1


def _quoted(ranked: Ranked, i: int):
    """The single-fact path's answer when the model's draft failed: sentence ``i`` quoted and cited [1]."""
    from rag.evidence import Evidence
    from rag.types import SentenceSupport
    from rag.verification import Verified

    s = ranked.sentences[i]
    support = SentenceSupport(text=s.text, supported=True, support=1.0, citations=[1])
    return Verified(f"{s.text} [1]", "extractive", [Evidence(s, float(ranked.scores[i]), 1)], [support], [])


WAR = (
    "The United States entered the war on 8 December 1941. The attack on Pearl Harbor came the day before. "
    "Congress declared war within hours. Rationing began a year later."
)


def test_a_single_fact_is_followed_by_the_evidence_that_scores_nearly_as_well_in_document_order():
    ranked = _ranked(_chunk(WAR), {"The United": 0.8, "The attack": 0.75, "Congress": 0.72, "Rationing": 0.3})
    verified, added = Composer().with_context(_quoted(ranked, 0), ranked, margin=0.1, limit=2)
    assert verified.answer == (
        "The United States entered the war on 8 December 1941. [1] The attack on Pearl Harbor came the day before."
        " [2] Congress declared war within hours. [3]"
    )
    assert added == " The attack on Pearl Harbor came the day before. [2] Congress declared war within hours. [3]"
    assert [e.number for e in verified.cited] == [1, 2, 3] and len(verified.sentences) == 3
    # a tighter margin or a smaller limit adds less; a sentence far below the best never joins
    assert Composer().with_context(_quoted(ranked, 0), ranked, margin=0.06, limit=2)[0].answer.count("[") == 2
    assert Composer().with_context(_quoted(ranked, 0), ranked, margin=0.1, limit=1)[0].answer.count("[") == 2
    assert "Rationing" not in Composer().with_context(_quoted(ranked, 0), ranked, margin=0.6, limit=2)[0].answer


def test_context_that_says_again_what_the_answer_says_is_not_added():
    chunk = _chunk(WAR)
    sentences = split_sentences(chunk)
    vectors = np.eye(len(sentences), dtype=np.float32)
    vectors[1] = vectors[0]  # the second sentence says what the first says
    ranked = Ranked.of(sentences, np.array([0.8, 0.79, 0.75, 0.1], dtype=np.float32), vectors)
    verified, _ = Composer().with_context(_quoted(ranked, 0), ranked, margin=0.1, limit=2)
    assert "Pearl Harbor" not in verified.answer and "Congress declared war" in verified.answer


def test_nothing_is_added_to_an_answer_that_cites_nothing():
    from rag.verification import Verified

    ranked = _ranked(_chunk(WAR), {"The United": 0.8, "The attack": 0.79})
    empty = Verified("No answer.", "extractive", [], [], [])
    assert Composer().with_context(empty, ranked) == (empty, "")


def test_a_chinese_yes_no_question_gets_a_chinese_verdict_and_no_english_frame():
    chunk = _chunk("公司不允许员工在国外远程办公。员工每年有二十天年假。")
    ranked = _ranked(chunk, {"公司": 0.9, "员工每年": 0.2})
    answer = Composer().compose(classify("公司允许员工在国外远程办公吗？"), ranked).answer
    assert answer.startswith("不是。") and "No" not in answer and "The documents" not in answer
    unsure = Composer().compose(classify("员工每年可以休假吗？"), _ranked(chunk, {"员工每年": 0.9})).answer
    assert not re.search(r"[A-Za-z]", re.sub(r"\[\d+\]", "", unsure)), unsure


def test_an_answer_reads_on_as_far_as_the_question_reaches():
    # one value: the sentence and a little context; a subject: up to five sentences in all; a shape of its own: none
    assert context_for(classify("When did the United States enter the war?")) == (CONTEXT_MARGIN, CONTEXT_SENTENCES)
    margin, limit = context_for(classify("What was the attack on Pearl Harbor?"))
    assert margin > CONTEXT_MARGIN and limit == 4
    assert context_for(classify("Did the attack come before the declaration?"))[1] == 3  # a yes/no quotes two itself
    assert context_for(classify("List the causes of the war.")) == (0.0, 0)
    ranked = _ranked(_chunk(WAR), {"The United": 0.8, "The attack": 0.62, "Congress": 0.6, "Rationing": 0.58})
    narrow = Composer().with_context(_quoted(ranked, 0), ranked, *context_for(classify("When did it enter the war?")))
    broad = Composer().with_context(_quoted(ranked, 0), ranked, *context_for(classify("What about the war?")))
    assert narrow[0].answer.count("[") == 1 and broad[0].answer.count("[") == 4


def test_a_table_row_answer_is_not_followed_by_other_rows():
    """Rows around the cited one are other records (other cities): context for a row is prose, not rows (#17)."""
    table = (
        "Hotel limits apply per night.\n\n"
        "City: Zurich | Hotel nights limit: CHF 250\n\n"
        "City: Bern | Hotel nights limit: CHF 180\n\n"
        "City: Lugano | Hotel nights limit: CHF 160"
    )
    ranked = _ranked(_chunk(table), {"City: Zurich": 0.8, "City: Bern": 0.78, "City: Lugano": 0.77, "Hotel": 0.76})
    row = next(i for i, s in enumerate(ranked.sentences) if s.text.startswith("City: Zurich"))
    verified, _ = Composer().with_context(_quoted(ranked, row), ranked, margin=0.1, limit=2)
    assert "Zurich" in verified.answer and "Hotel limits apply per night." in verified.answer
    assert "Bern" not in verified.answer and "Lugano" not in verified.answer
