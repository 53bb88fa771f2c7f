"""Sentence splitting for evidence: where sentences end, what context a sentence carries, what is boilerplate."""

import pytest

from rag.text import TITLE_PAGE_WORDS, split_sentences
from rag.types import RetrievedChunk


def _chunk(text: str, start: int = 0, source: str = "doc.md", **fields) -> RetrievedChunk:
    """A retrieved chunk holding ``text``, which starts at ``start`` in its document."""
    values = {"chunk_index": 1, **fields}
    return RetrievedChunk(
        chunk_id=f"{source}:1:{values['chunk_index']}",
        document_id=source,
        version=1,
        source=source,
        start=start,
        end=start + len(text),
        text=text,
        score=1.0,
        rank=1,
        **values,
    )


def _texts(text: str, **fields) -> list[str]:
    return [s.text for s in split_sentences(_chunk(text, **fields))]


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "The first heavier-than-air craft to fly under its own power was built by Samuel P. Langley in 1896. "
            "It flew for ninety seconds over the Potomac.",
            [
                "The first heavier-than-air craft to fly under its own power was built by Samuel P. Langley in 1896.",
                "It flew for ninety seconds over the Potomac.",
            ],
        ),
        (
            "Eisenhower commanded the U.S. Army in Europe from 1942. After the war he became president.",
            ["Eisenhower commanded the U.S. Army in Europe from 1942.", "After the war he became president."],
        ),
        (
            "He left the U.S. The next year he moved to Canada with his family.",
            ["He left the U.S.", "The next year he moved to Canada with his family."],
        ),
        (
            "Pick a small model, e.g. SmolLM2 or Qwen2.5, for laptops. Dr. Smith measured 3.5 GB of memory on v1.2.3 "
            "of the service. See No. 5 on the list and Fig. 2 for details.",
            [
                "Pick a small model, e.g. SmolLM2 or Qwen2.5, for laptops.",
                "Dr. Smith measured 3.5 GB of memory on v1.2.3 of the service.",
                "See No. 5 on the list and Fig. 2 for details.",
            ],
        ),
        (
            "Office hours start at 9 a.m. Monday to Friday in Lisbon. Martin Luther King Jr. spoke in Washington.",
            ["Office hours start at 9 a.m. Monday to Friday in Lisbon.", "Martin Luther King Jr. spoke in Washington."],
        ),
        (
            'The sign said "Closed for winter." The next ferry leaves in April from the harbour.',
            ['The sign said "Closed for winter."', "The next ferry leaves in April from the harbour."],
        ),
        (
            "The shop sells pens, paper, ink etc. The owner opens it every Monday morning.",
            ["The shop sells pens, paper, ink etc.", "The owner opens it every Monday morning."],
        ),
    ],
)
def test_abbreviations_initials_and_decimals_do_not_end_sentences(text, expected):
    offset = 17
    document = "x" * offset + text
    sentences = split_sentences(_chunk(text, start=offset))
    assert [s.text for s in sentences] == expected
    for sentence in sentences:
        assert document[sentence.start : sentence.end] == sentence.text


def test_changelog_bullets_carry_their_version():
    text = "# Changelog\n\n## 3.2.0\n\n- Added PDF export to dashboards.\n\n## 3.1.0\n\n- Added a heat-map chart type."
    sentences = split_sentences(_chunk(text, heading="Changelog"))
    assert [(s.text, s.section) for s in sentences] == [
        ("Added PDF export to dashboards.", "Changelog > 3.2.0"),
        ("Added a heat-map chart type.", "Changelog > 3.1.0"),
    ]


def test_heading_path_continues_from_a_chunk_that_starts_mid_section():
    text = "- Fixed the broken export button in charts.\n\n## 3.1.0\n\n- Added a heat-map chart type."
    sentences = split_sentences(_chunk(text, heading="Changelog > 3.2.0"))
    assert [s.section for s in sentences] == ["Changelog > 3.2.0", "Changelog > 3.1.0"]


def test_list_items_carry_the_sentence_that_introduces_the_list():
    text = (
        "## Working from abroad\n\nThe rules for working from abroad are:\n\n"
        "- You may work abroad for up to 30 days a year.\n- Tell your manager two weeks before you go. "
        "Use the travel form for it.\n\nTaxes are a separate matter for the finance team."
    )
    sentences = split_sentences(_chunk(text, heading="Remote Work Policy > Working from abroad"))
    intro = "The rules for working from abroad are:"
    assert [(s.text, s.lead) for s in sentences] == [
        (intro, None),
        ("You may work abroad for up to 30 days a year.", intro),
        ("Tell your manager two weeks before you go.", intro),
        ("Use the travel form for it.", intro),
        ("Taxes are a separate matter for the finance team.", None),
    ]
    assert sentences[1].context == f"Remote Work Policy > Working from abroad: {intro}"
    assert sentences[-1].context == "Remote Work Policy > Working from abroad"


def test_a_list_after_a_plain_paragraph_has_no_lead():
    text = "Bees are insects with six legs.\n\n- Workers live five to six weeks in summer."
    assert [s.lead for s in split_sentences(_chunk(text))] == [None, None]


def test_markdown_table_rows_are_sentences_with_their_header():
    text = (
        "| Version | Release date | Support ends |\n|---|---|---|\n"
        "| 3.2 | 14 October 2026 | October 2027 |\n| 3.1 | 2 June 2026 | June 2027 |\n"
    )
    sentences = split_sentences(_chunk(text))
    header = "| Version | Release date | Support ends |"
    assert [(s.text, s.lead) for s in sentences] == [
        (header, None),
        ("| 3.2 | 14 October 2026 | October 2027 |", header),
        ("| 3.1 | 2 June 2026 | June 2027 |", header),
    ]


def test_rendered_table_rows_from_html_and_word_get_their_header():
    text = "Name | Team | Room\n\nAda Lovelace | Analytics | 4.12\n\nAlan Turing | Security | 2.01"
    sentences = split_sentences(_chunk(text, source="people.html"))
    assert [s.lead for s in sentences] == [None, "Name | Team | Room", "Name | Team | Room"]


def test_csv_rows_are_sentences():
    text = "name: Ada Lovelace; team: Analytics; room: 4.12\nname: Alan Turing; team: Security; room: 2.01"
    assert _texts(text, source="people.csv", chunk_index=0) == text.split("\n")
    assert all(s.boilerplate is None for s in split_sentences(_chunk(text, source="people.csv", chunk_index=0)))


def _boilerplate(text: str, **fields) -> list[tuple[str, str | None]]:
    return [(s.text, s.boilerplate) for s in split_sentences(_chunk(text, **fields))]


def test_front_matter_is_boilerplate():
    text = (
        "---\ntitle: Requirements for Passwords\nquestions:\n  - it-issues\n---\n\n"
        "Follow the steps below to create and maintain secure passwords."
    )
    marks = _boilerplate(text, chunk_index=0)
    assert marks[-1] == ("Follow the steps below to create and maintain secure passwords.", None)
    assert {kind for _, kind in marks[:-1]} == {"front_matter"}
    # The same text further down a document is content (a horizontal rule, not front matter).
    assert {kind for _, kind in _boilerplate(text, chunk_index=3)} == {None}
    # A single line break after the closing line still ends the front matter.
    tight = "---\ntitle: Work schedules\nkeywords: work hours, schedule\n---\nEach of us has a work schedule."
    assert _boilerplate(tight, chunk_index=0)[-1] == ("Each of us has a work schedule.", None)


def test_a_documents_first_line_title_is_boilerplate():
    assert _boilerplate(
        "Employee Handbook of Northwind Analytics\n\nThe handbook explains how we work.", chunk_index=0
    ) == [
        ("Employee Handbook of Northwind Analytics", "title"),
        ("The handbook explains how we work.", None),
    ]
    assert _boilerplate("# Aurora 3 Release Notes\n\n## Aurora 3.2 (released 14 October 2026)", chunk_index=0) == [
        ("Aurora 3 Release Notes", "title"),
        ("Aurora 3.2 (released 14 October 2026)", None),
    ]
    # A first line that is a sentence is content, and so is a short line further down.
    assert _boilerplate("The handbook explains how we work.", chunk_index=0) == [
        ("The handbook explains how we work.", None)
    ]
    assert _boilerplate("Employee Handbook of Northwind Analytics\n\nMore text here.", chunk_index=2)[0][1] is None


def test_tables_of_contents_are_boilerplate():
    faq = (
        "## FAQ\n\n* [Does ripgrep support configuration files?](#config)\n* [How is ripgrep licensed?](#license)\n\n"
        "ripgrep is dual licensed under the Unlicense and MIT licenses."
    )
    assert _boilerplate(faq) == [
        ("[Does ripgrep support configuration files?](#config)", "toc"),
        ("[How is ripgrep licensed?](#license)", "toc"),
        ("ripgrep is dual licensed under the Unlicense and MIT licenses.", None),
    ]
    contents = "## Contents\n\n1. Introduction to the policy\n2. Working from abroad rules"
    assert {kind for _, kind in _boilerplate(contents, heading="Handbook")} == {"toc"}
    leaders = "Table of Contents\n\nIntroduction to remote work .......... 3\n\nThe policy applies to all staff."
    assert _boilerplate(leaders) == [
        ("Table of Contents", "toc"),
        ("Introduction to remote work .......... 3", "toc"),
        ("The policy applies to all staff.", None),
    ]


def test_licence_boilerplate_is_marked_but_a_sentence_about_the_licence_is_not():
    text = (
        "Copyright (c) 2024 Northwind Analytics. All rights reserved.\n\n"
        'Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except in '
        "compliance with the License.\n\nSPDX-License-Identifier: MIT\n\n"
        "The exporter is licensed under the MIT licence and may be used freely."
    )
    assert [kind for _, kind in _boilerplate(text)] == ["licence", "licence", "licence", "licence", None]


def _pdf_chunk(text: str, page_two_at: int, **fields) -> RetrievedChunk:
    return _chunk(text, source="report.pdf", page=1, page_starts=[page_two_at], **fields)


def test_sentences_know_their_page():
    page_one = "The survey covers every office in the company and was held in May."
    text = page_one + "\n\nRevenue grew by 12 percent in 2026. Costs fell by 3 percent."
    sentences = split_sentences(_pdf_chunk(text, len(page_one) + 2, start=0, chunk_index=3))
    assert [s.page for s in sentences] == [1, 2, 2]
    # A chunk of an unpaged format has no pages; a chunk stored before pages were recorded cites its own page.
    assert {s.page for s in split_sentences(_chunk(text))} == {None}
    assert {s.page for s in split_sentences(_chunk(text, page=4))} == {4}


def test_a_pdf_title_page_is_boilerplate():
    title_page = "Annual Report 2026\nNorthwind Analytics\nPrepared by the board of directors"
    text = title_page + "\n\nRevenue grew by 12 percent in 2026. Costs fell by 3 percent over the year."
    marks = [(s.boilerplate, s.page) for s in split_sentences(_pdf_chunk(text, len(title_page) + 2, chunk_index=0))]
    assert marks == [("title_page", 1), (None, 2), (None, 2)]
    # A first page with a page of words is content.
    long_page = " ".join(["Revenue grew again this year."] * (TITLE_PAGE_WORDS // 4))
    text = long_page + "\n\nCosts fell by 3 percent over the year."
    assert {s.boilerplate for s in split_sentences(_pdf_chunk(text, len(long_page) + 2, chunk_index=0))} == {None}
