"""Language knowledge the answer stages share: where sentences end, which words carry content, numbers.

Evidence selection (rag/evidence.py) splits chunks into sentences and weighs the words they share with the
question; verification (rag/verification.py) checks an answer's words and numbers against the evidence. Both
read text through these helpers, so that what counts as a word, a number or a stop word is decided once.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from rag.types import RetrievedChunk

_WORD = re.compile(r"[A-Za-z0-9]+(?:[.,:'][A-Za-z0-9]+)*")
_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "may",
        "might",
        "must",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "shall",
        "should",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "about",
        "after",
        "also",
        "any",
        "because",
        "been",
        "before",
        "being",
        "both",
        "each",
        "few",
        "more",
        "most",
        "much",
        "other",
        "over",
        "same",
        "some",
        "such",
        "only",
        "own",
        "very",
        "just",
        "into",
        "out",
        "up",
        "down",
        "per",
    ]
)


# --- sentences ---------------------------------------------------------------------------------------------

# Where a sentence may end. Blank lines, and line breaks before a list item, heading or table row, always end
# one (a single line break is only a wrapped line). A full stop, ! or ? (perhaps closed by a quote or
# bracket) followed by white space and a capital, digit, quote or markup ends one unless it closes an
# abbreviation (``_ends_sentence``).
# Every alternative starts with a line break or the punctuation: a pattern that may start anywhere (white space
# first) is tried at every character and made splitting four times slower.
_BREAK = re.compile(
    r"\n[ \t]*\n\s*"
    r"|\n(?=[ \t]*(?:[-*+][ \t]|\d+[.)][ \t]|#|\|)|[^\n]* \| )"
    r"|[.!?][\"'”’)]?(?P<stop>\s+)(?=[\"'“‘(\[A-Z0-9*_`])"
)
_BLOCK_START = re.compile(r"[-*+][ \t]|\d+[.)][ \t]|#|\||[^\n]* \| ")
# A heading line ends its block even when text follows on the very next line ("## Definitions\n**Work ...").
_HEADING_END = re.compile(r"^[ \t]*#{1,6}[ \t][^\n]*(\n)", re.MULTILINE)


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Titles and abbreviations that come before a name or phrase and never end a sentence.
_NEVER_FINAL = _word_set(
    "mr mrs ms dr prof gen col lt capt sgt rev hon gov sen rep pres e.g i.e cf viz vs al approx ca incl esp "
    "resp fig figs eq eqs"
)
# Abbreviations that come before a number: "No. 5", "p. 12", "Vol. 2", "Jan. 5", "v. 2".
_BEFORE_NUMBER = _word_set(
    "no nos nr p pp vol vols ch chap sec art ref refs op pt para tab app v ver ed jan feb mar apr jun jul aug "
    "sep sept oct nov dec"
)
# Abbreviations that may end a sentence too ("... Acme Inc. The company ..."): they end one only when a word
# that typically opens a sentence follows. Initials ("Samuel P. Langley") and dotted acronyms ("the U.S.
# Army", "9 a.m.") are treated the same way.
_MAYBE_FINAL = _word_set("jr sr inc ltd co corp bros st mt ft etc dept univ ave rd blvd")
_OPENERS = _word_set(
    "the a an this that these those it its he she his her they their we our i you your in on at for but and or "
    "if when while as after before however there here then thus so since because although though also each all "
    "some many most both one two what who which where why how yet still such no not only once during today "
    "later finally first second meanwhile other another every from with by to of under over between among "
    "despite unlike until unless moreover furthermore nevertheless instead indeed"
)
_INITIAL_OR_ACRONYM = re.compile(r"[A-Z]|(?:[A-Za-z]\.)+[A-Za-z]")
_NEXT_WORD = re.compile(r"[\"'“‘*_`\[]*([A-Za-z]+)")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d+[.)])[ \t]")
_TABLE_ROW = re.compile(r"[ \t]*\||[^\n]* \| ")
_HEADING_LINE = re.compile(r"[ \t]*(#{1,6})[ \t]")
_MARKUP = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|#+\s+)?(?:\*\*|__)?")
# Files whose parsed text is one record per line (parsers.py: CSV rows, JSON leaves): every line is a sentence.
_LINE_RECORDS = (".csv", ".json")

# Boilerplate: text a document carries that answers nothing about its subject.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?:.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_CONTENTS_HEADING = re.compile(r"(?:table of )?contents|toc|目录|目錄", re.IGNORECASE)
# A list item that is only a link to a place in the document, or a line ending in dot leaders and a page number.
_TOC_HINTS = ("](#", "....", ". . . .", "……")  # one of which every _TOC_LINE holds: a cheap test first
_TOC_LINE = re.compile(r"\[[^\]]+\]\(#[^)]*\)[ \t]*|.*?(?:\.[ \t]?){4,}[ \t]*\d+|.*?…{2,}[ \t]*\d+")
_LICENCE = re.compile(
    r"^(?:copyright\s*)?(?:\(c\)|©)|^copyright\s+(?:\d{4}|the\b)|all rights reserved|spdx-license-identifier"
    r"|licensed under the apache license|you may not use this file except in compliance"
    r"|unless required by applicable law or agreed to in writing|without warranties or conditions of any kind"
    r"|you may obtain a copy of the license at|permission is hereby granted, free of charge"
    r"|the above copyright notice and this permission notice|the software is provided [\"“]as is"
    r"|this program is free software|distributed in the hope that it will be useful",
    re.IGNORECASE,
)
# Words one of which every _LICENCE phrase holds: a cheap test first, as the pattern is slow to search.
_LICENCE_HINTS = ("copyright", "(c)", "©", "reserved", "spdx", "licen", "warrant", "permission", "software", "the hope")
# A first PDF page with fewer words than this is a title page (title, authors, date), not content. A judgement,
# not fitted: the evaluation sets hold no PDFs; a title page rarely has 60 words, a page of content rarely fewer.
TITLE_PAGE_WORDS = 60
TITLE_WORDS = 12  # the longest first line still taken for a document's title


@dataclass(frozen=True)
class Sentence:
    chunk: RetrievedChunk
    text: str  # verbatim: parsed_text[start:end]
    start: int  # offsets in the document's parsed text
    end: int
    heading: bool = False
    # What a reader needs to understand the sentence out of place: the heading path it sits under ("Changelog >
    # 3.2.0") and, for a list item, the sentence that introduces the list, or for a table row, the header row.
    section: str | None = None
    lead: str | None = None
    # Why the sentence is not evidence, if it is boilerplate: "title", "front_matter", "toc", "licence" or
    # "title_page"; None for content.
    boilerplate: str | None = None

    @property
    def flat(self) -> str:
        """The text on one line, as shown to the model."""
        return " ".join(self.text.split())

    @property
    def context(self) -> str | None:
        """Section and lead in one line ("Remote Work Policy > Working from abroad: The rules are:"), or None."""
        parts = [p for p in (self.section, self.lead) if p]
        return ": ".join(parts) if parts else None

    @property
    def page(self) -> int | None:
        """The page the sentence starts on (paged formats): a chunk can run over a page break."""
        if self.chunk.page is None:
            return None
        return self.chunk.page + bisect.bisect_right(self.chunk.page_starts, self.start)


def _ends_sentence(text: str, stop: int, after: int) -> bool:
    """Whether the punctuation just before ``stop`` ends a sentence; the next one would start at ``after``."""
    if text[stop - 1] != ".":
        return True
    begin = stop - 1
    while begin > 0 and not text[begin - 1].isspace():
        begin -= 1
    token = text[begin : stop - 1].lstrip("([\"'“‘*_")
    word = token.lower()
    if word in _NEVER_FINAL:
        return False
    before = text[:begin].rstrip(" \t")
    if token.isdigit() and (not before or before.endswith("\n")):
        return False  # "1. Open the portal": a numbered item's marker at the start of a line, not a sentence end
    if text[after].isdigit():  # "No. 5"; dot leaders before a page number ("Introduction ...... 3")
        return word not in _BEFORE_NUMBER and not token.endswith(".")
    if word in _MAYBE_FINAL or _INITIAL_OR_ACRONYM.fullmatch(token):
        following = _NEXT_WORD.match(text, after)
        return following is not None and following.group(1).lower() in _OPENERS
    return True


@dataclass(frozen=True)
class _Piece:
    start: int  # offsets in the chunk's text
    end: int
    opens_block: bool  # starts a paragraph, list item, heading or table row (not after a full stop)
    closes_block: bool


def _pieces(text: str, line_records: bool, block_ends: tuple[int, ...] = ()) -> list[_Piece]:
    """The spans between sentence ends, in order; ``block_ends`` are offsets where a block ends regardless (the
    end of front matter, which a single line break may separate from the text)."""
    cuts: list[tuple[int, int, bool]] = []  # (where the break starts, where it ends, whether it is structural)
    for match in _BREAK.finditer(text):
        begin, end = match.span("stop") if match.group("stop") else match.span()
        # After punctuation, white space with a blank line, or a line break before a list item, heading or
        # table row, is a structural break too.
        structural = match.group("stop") is None or (
            "\n" in match.group("stop")
            and (match.group("stop").count("\n") > 1 or _BLOCK_START.match(text, end) is not None)
        )
        if structural or _ends_sentence(text, begin, end):
            cuts.append((begin, end, structural))
    at_cut = {c[0] for c in cuts}
    headings = [(m.start(1), m.end(1), True) for m in _HEADING_END.finditer(text) if m.start(1) not in at_cut]
    if line_records:
        cuts += [(m.start(), m.end(), True) for m in re.finditer(r"\n", text) if m.start() not in at_cut]
    if line_records or block_ends or headings:
        cuts = sorted(cuts + headings + [(at, at, True) for at in block_ends])
    pieces: list[_Piece] = []
    position, opens = 0, True
    for begin, end, structural in cuts:
        if begin < position:  # a line break inside a break already made
            continue
        pieces.append(_Piece(position, begin, opens, structural))
        position, opens = end, structural
    pieces.append(_Piece(position, len(text), opens, True))
    return pieces


class _Sections:
    """The heading path in force while reading a chunk, starting from the chunk's own (``ChunkRecord.heading``).

    The chunk's path does not say its headings' levels; they are taken to be consecutive, ending at the level of
    the chunk's first heading when the chunk starts with its own section's heading (the usual case)."""

    def __init__(self, path: str | None) -> None:
        self._titles = path.split(" > ") if path else []
        self._levels = list(range(1, len(self._titles) + 1))
        self._first = True

    def enter(self, level: int, title: str) -> None:
        if self._first and self._titles and self._titles[-1] == title:
            n = len(self._titles)
            self._levels = [level - n + 1 + i for i in range(n)]
        else:
            keep = [i for i, lvl in enumerate(self._levels) if lvl < level]
            self._titles = [self._titles[i] for i in keep] + [title]
            self._levels = [self._levels[i] for i in keep] + [level]
        self._first = False

    def seen_text(self) -> None:
        self._first = False

    @property
    def path(self) -> str | None:
        return " > ".join(self._titles) if self._titles else None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _title_page_end(chunk: RetrievedChunk) -> int:
    """Where a PDF title page at the start of this chunk ends (an offset in the chunk), or 0 if there is none."""
    if chunk.page != 1 or not chunk.page_starts:
        return 0
    end = chunk.page_starts[0] - chunk.start
    return end if len(_WORD.findall(chunk.text[:end])) < TITLE_PAGE_WORDS else 0


def split_sentences(chunk: RetrievedChunk, min_words: int = 3) -> list[Sentence]:
    """Sentences (and headings that carry numbers) of a chunk, with document offsets, context and boilerplate.

    Fragments shorter than ``min_words`` are skipped; list and heading markers are left out of the span. A full
    stop after an abbreviation, an initial or inside a number does not end a sentence.
    """
    text = chunk.text
    first_chunk = chunk.chunk_index == 0
    front_matter = m.end() if first_chunk and (m := _FRONT_MATTER.match(text)) else 0
    title_page = _title_page_end(chunk)
    sections = _Sections(chunk.heading)
    kind = "paragraph"  # of the block being read: paragraph, item, row or heading
    intro: str | None = None  # the last sentence of the paragraph before a list
    header: str | None = None  # the first row of the table being read
    lead: str | None = None
    line_records = chunk.source.lower().endswith(_LINE_RECORDS)
    untitled = first_chunk and not line_records  # the document's first line (its title?) is still to come
    contents_of: tuple[str | None, bool] = (None, False)  # a section, and whether it is a table of contents
    sentences: list[Sentence] = []
    for piece in _pieces(text, line_records, (front_matter,) if front_matter else ()):
        raw = text[piece.start : piece.end]
        if not raw.strip():
            continue
        heading_line = _HEADING_LINE.match(raw) if piece.opens_block else None
        if piece.opens_block:
            previous = kind
            if heading_line:
                kind, intro, header, lead = "heading", None, None, None
            elif _LIST_ITEM.match(raw) or (previous == "item" and raw[:1] in " \t"):
                kind, header = "item", None
                lead = _one_line(intro) if intro and intro.rstrip().endswith((":", "：")) else None
            elif _TABLE_ROW.match(raw):
                kind, intro = "row", None
                if previous == "row" and header is not None:
                    lead = header
                else:
                    header, lead = _one_line(raw), None
            else:
                kind, header, lead = "paragraph", None, None
        if kind == "paragraph":
            intro = raw
        markup = _MARKUP.match(raw)
        skip = markup.end() if markup else 0
        body = raw[skip:].rstrip()
        start = chunk.start + piece.start + skip
        section = sections.path
        if heading_line:
            sections.enter(len(heading_line.group(1)), _one_line(raw[heading_line.end() :]).rstrip("# \t"))
        elif piece.start >= front_matter:
            sections.seen_text()
        first_line = untitled and piece.start >= front_matter
        if piece.start >= front_matter:
            untitled = False
        # A heading of words only names a topic ("Zephyr Kitchen Notes") and would out-score the sentence that
        # answers; a heading with numbers can carry the fact itself ("Aurora 3.2 (released 14 October 2026)").
        informative = kind != "heading" or _DIGIT.search(body)
        words = len(_WORD.findall(body)) if body and informative else 0
        if words < min_words:
            continue
        if section != contents_of[0]:
            contents_of = (section, bool(section and _CONTENTS_HEADING.fullmatch(section.rsplit(" > ", 1)[-1])))
        boilerplate = _boilerplate(
            body,
            kind,
            words,
            in_front_matter=piece.start < front_matter,
            on_title_page=piece.start < title_page,
            first_line=first_line,
            heading_level=len(heading_line.group(1)) if heading_line else 0,
            own_line=piece.opens_block and piece.closes_block and "\n" not in body,
            in_contents=contents_of[1],
        )
        sentences.append(Sentence(chunk, body, start, start + len(body), kind == "heading", section, lead, boilerplate))
    return sentences


def _boilerplate(
    body: str,
    kind: str,
    words: int,
    *,
    in_front_matter: bool,
    on_title_page: bool,
    first_line: bool,
    heading_level: int,
    own_line: bool,
    in_contents: bool,
) -> str | None:
    """Why a sentence is boilerplate (see ``Sentence.boilerplate``), or None. Cheap tests come first: this runs
    for every sentence of every retrieved chunk."""
    if in_front_matter:
        return "front_matter"
    if on_title_page:
        return "title_page"
    if first_line and (
        heading_level == 1
        or (kind == "paragraph" and own_line and words <= TITLE_WORDS and not body.endswith((".", "!", "?", ":")))
    ):
        return "title"
    if in_contents:
        return "toc"
    flat = _one_line(body) if "\n" in body else body
    if (len(flat) <= 20 and _CONTENTS_HEADING.fullmatch(flat)) or (
        kind != "heading" and any(h in flat for h in _TOC_HINTS) and _TOC_LINE.fullmatch(flat)
    ):
        return "toc"
    lower = flat.lower()
    if any(hint in lower for hint in _LICENCE_HINTS) and _LICENCE.search(flat):
        return "licence"
    return None


try:  # the same English stemmer BM25 uses, so "closes" matches "close"
    import Stemmer

    _stem = Stemmer.Stemmer("english").stemWord
except ImportError:  # pragma: no cover - PyStemmer is a dependency; without it words match exactly

    def _stem(word: str) -> str:
        return word


def content_words(text: str) -> set[str]:
    """Lower-cased, stemmed words that carry content (no stop words, no single characters)."""
    return {_stem(w) for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOPWORDS and len(w) > 1}


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}
