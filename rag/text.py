"""Language knowledge the answer stages share: where sentences end, which words carry content, numbers.

Evidence selection (rag/evidence.py) splits chunks into sentences and weighs the words they share with the
question; verification (rag/verification.py) checks an answer's words and numbers against the evidence. Both
read text through these helpers, so that what counts as a word, a number or a stop word is decided once.
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass

from rag.language import CJK_CHARS, has_cjk
from rag.types import RetrievedChunk, span_locations

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
_CJK_CLOSERS = "”’」』）)\"'》】"
_BREAK = re.compile(
    r"\n[ \t]*\n\s*"
    r"|\n(?=[ \t]*(?:[-*+][ \t]|\d+[.)][ \t]|#|\|)|[^\n]* \| )"
    r"|[.!?][\"'”’)]?(?P<stop>\s+)(?=[\"'“‘(\[A-Z0-9*_`])"
)
# The same for text with CJK characters in it (a pattern of its own: its alternatives would make splitting English
# text three times slower). In Chinese and Japanese a sentence ends at 。！？； or an ellipsis after a CJK character,
# white space or not, and at an ASCII . ! ? ; between CJK characters (text typed on a Western keyboard); a closing
# quote or bracket stays with the sentence (group ``cjk``: what lies between the two sentences, perhaps nothing).
_BREAK_CJK = re.compile(
    r"\n[ \t]*\n\s*"
    r"|\n(?=[ \t]*(?:[-*+][ \t]|\d+[.)][ \t]|#|\|)|[^\n]* \| )"
    rf"|[.!?][\"'”’)]?(?P<stop>\s+)(?=[\"'“‘(\[A-Z0-9*_`{CJK_CHARS}])"
    rf"|(?:[。！？；｡]+|…(?<=[{CJK_CHARS}]…)…*"
    rf"|[.!?;](?<=[{CJK_CHARS}][.!?;])(?=[{_CJK_CLOSERS}]*[ \t]*[“‘「『（《【]?[{CJK_CHARS}]))"
    rf"[{_CJK_CLOSERS}]*(?P<cjk>[ \t]*)"
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
_ROW_CELLS = " | "  # between a table row's cells (ingest/tables.py); a line with it is a row, and one sentence
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
    def location(self) -> str | None:
        """The sentence's own location (a spreadsheet row's cell range) where the chunk's regions say, else the
        chunk's."""
        inside = [loc for start, end, loc in self.chunk.regions if start < self.end and self.start < end]
        return span_locations(inside[0], inside[-1]) if inside else self.chunk.location

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
    cjk = has_cjk(text)
    for match in (_BREAK_CJK if cjk else _BREAK).finditer(text):
        if cjk and match.group("cjk") is not None:  # CJK punctuation: always a sentence end, never structural
            begin, end = match.span("cjk")
            if end < len(text) or begin < end:
                cuts.append((begin, end, False))
            continue
        begin, end = match.span("stop") if match.group("stop") else match.span()
        # After punctuation, white space with a blank line, or a line break before a list item, heading or
        # table row, is a structural break too.
        structural = match.group("stop") is None or (
            "\n" in match.group("stop")
            and (match.group("stop").count("\n") > 1 or _BLOCK_START.match(text, end) is not None)
        )
        if structural or _ends_sentence(text, begin, end):
            cuts.append((begin, end, structural))
    if _ROW_CELLS in text:  # a table row is one sentence: only its line's end ends it, not a full stop in a cell
        cuts = [cut for cut in cuts if cut[2] or not _in_table_row(text, cut[0])]
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


_EMPHASIS = re.compile(r"\*\*|__")
_LINK = re.compile(r"\[([^\]\n]+)\]\((?:[^()\n]|\([^()\n]*\))*\)")


def readable(text: str) -> str:
    """A quoted sentence as the answer shows it: Markdown emphasis markers and link targets left out (the citation
    keeps the exact quote)."""
    return _EMPHASIS.sub("", _LINK.sub(r"\1", text))


def is_table_row(sentence: Sentence) -> bool:
    """Whether the sentence is a row of a table: one record, which other rows do not explain."""
    return _TABLE_ROW.match(sentence.text) is not None


def _in_table_row(text: str, at: int) -> bool:
    """Whether offset ``at`` lies on a line that is a table row."""
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    return _TABLE_ROW.match(text[line_start : line_end if line_end >= 0 else len(text)]) is not None


def _labelled_row(row: str) -> bool:
    """A row that names each value's column ("City: Zurich | Limit: CHF 250", as parsers write table rows): it
    needs no header row to be understood, and is not one."""
    return all(": " in cell for cell in row.split(_ROW_CELLS))


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
    return end if word_count(chunk.text[:end]) < TITLE_PAGE_WORDS else 0


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
                if _labelled_row(raw):
                    header, lead = None, None
                elif previous == "row" and header is not None:
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
        words = word_count(body) if body and informative else 0
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


_FINAL_MARKS = (".", "!", "?", ":", "。", "！", "？", "：")


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
        or (
            kind == "paragraph"
            and own_line
            and words <= TITLE_WORDS
            and not body.endswith((".", "!", "?", ":", "。", "！", "？", "："))
        )
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


# --- words: English by their letters, Chinese by a segmenter -------------------------------------------------

_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")
# Function words and question words of Chinese (simplified and traditional) that carry no content; words of one
# character are left out anyway, as in English.
_CJK_STOPWORD_TEXT = (
    "什么 什麼 哪些 哪个 哪個 哪里 哪裡 哪儿 哪兒 哪一 如何 怎么 怎麼 怎样 怎樣 为什么 為什麼 为何 為何 多少 是否 "
    "可以 没有 沒有 一个 一個 这个 這個 那个 那個 这些 這些 那些 我们 我們 他们 他們 她们 她們 它们 它們 你们 你們 "
    "因为 因為 所以 但是 而且 以及 或者 如果 虽然 雖然 其中 之一 已经 已經 还是 還是 就是 通过 通過 进行 進行 由于 "
    "由於 对于 對於 关于 關於 根据 根據 其他 什么样 什麼樣 哪种 哪種 何时 何時 何地 几个 幾個 请问 請問 以下 下列 "
    "分别 分別 主要 一些 有些 具有 作为 作為 成为 成為 时候 時候 的话 的話 之后 之後 之前 以后 以後 以前"
)
_CJK_STOPWORDS = frozenset(_CJK_STOPWORD_TEXT.split())


@functools.cache
def _segmenter() -> Callable[[str], list[str]]:
    """jieba's word segmentation (search mode: long words and the words inside them), loaded once and quietly; its
    dictionary cache goes to the temporary folder. Without jieba, overlapping character pairs stand in."""
    try:
        import jieba
    except ImportError:  # pragma: no cover - jieba is a dependency; pairs of characters are the fallback
        return _bigrams
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.tmp_dir = tempfile.gettempdir()
    lock = threading.Lock()

    def cut(run: str) -> list[str]:
        with lock:  # jieba initialises its dictionary on first use, not thread-safely
            return list(tokenizer.cut_for_search(run))

    return cut


def _bigrams(run: str) -> list[str]:
    return [run] if len(run) < 2 else [run[i : i + 2] for i in range(len(run) - 1)]


@functools.cache
def _to_simplified() -> Callable[[str], str]:
    """Traditional characters to simplified (OpenCC t2s) before segmenting: jieba's dictionary is simplified, and a
    traditional question then matches a simplified document too. On drcd-dev (traditional) keyword search finds the
    gold paragraph first for 0.911 of 1,000 questions against 0.895 without, in the top 4 for 0.986 against 0.971;
    on cmrc2018-trial (simplified) nothing changes (/work/helpers/C1-figures.md)."""
    try:
        import opencc
    except ImportError:  # pragma: no cover - opencc is a dependency; without it each script matches only itself
        return str
    return opencc.OpenCC("t2s").convert


@functools.lru_cache(maxsize=65536)
def cjk_words(run: str) -> tuple[str, ...]:
    """The words of a run of CJK characters (one or more characters each), as the segmenter cuts them."""
    return tuple(w for w in _segmenter()(_to_simplified()(run)) if w.strip())


def segment(text: str) -> str:
    """``text`` with every run of CJK characters cut into its words, separated by spaces; text without CJK
    characters comes back as it is. What keyword search indexes (rag/keyword.py)."""
    if not _CJK_CHAR.search(text):
        return text
    return _CJK_RUN.sub(lambda m: " " + " ".join(cjk_words(m.group())) + " ", text)


def word_count(text: str) -> int:
    """Words of a text: English words, and Chinese words at one and a half characters each (a cheap count, no
    segmenter: "能商用吗" counts three)."""
    words = len(_WORD.findall(text))
    return words + (2 * len(_CJK_CHAR.findall(text)) + 2) // 3 if has_cjk(text) else words


def content_words(text: str) -> set[str]:
    """Lower-cased, stemmed words that carry content (no stop words, no single characters); Chinese words as the
    segmenter cuts them."""
    words = {_stem(w) for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOPWORDS and len(w) > 1}
    for run in _CJK_RUN.findall(text) if has_cjk(text) else ():
        words.update(w for w in cjk_words(run) if len(w) > 1 and w not in _CJK_STOPWORDS and not _NUMERAL_WORD.match(w))
    return words


# --- numbers: Arabic, Chinese, and Arabic with a Chinese unit (3.5 万) --------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_CN_DIGITS |= {"七": 7, "八": 8, "九": 9, "壹": 1, "贰": 2, "貳": 2, "叁": 3, "參": 3, "肆": 4, "伍": 5, "陆": 6}
_CN_DIGITS |= {"陸": 6, "柒": 7, "捌": 8, "玖": 9}
_CN_SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG_UNITS = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}
_CN_NUMERAL = "".join([*_CN_DIGITS, *_CN_SMALL_UNITS, *_CN_BIG_UNITS])
# A run of Chinese numerals is a number when it has two or more of them (二〇二三, 三百, 十五) or one before a
# measure word or after 第; a lone 一 elsewhere is part of a word (一些, 统一), and a run may not start with a
# big unit (万一, 千万 are words).
_MEASURES = "个個年月日号號岁歲次人名位项項种種倍元米层層章条條届屆期代台部本件家座场場分秒天周週张張只隻"
_CN_NUMBER = re.compile(
    rf"(?<![{_CN_NUMERAL}])(?:第)?(?P<n>[{_CN_NUMERAL}]{{2,}}|[{_CN_NUMERAL}](?=[{_MEASURES}])|(?<=第)[{_CN_NUMERAL}])"
)
# A Chinese "word" of numerals and measure words only (一百二十, 亿个): numbers are compared as numbers (``numbers``).
_NUMERAL_WORD = re.compile(f"[{_CN_NUMERAL}第][{_CN_NUMERAL}{_MEASURES}]*$")
_ARABIC_WITH_UNIT = re.compile(r"(\d+(?:[.,]\d+)*)\s*([万萬亿億])")


def _chinese_numeral(run: str) -> int | None:
    """The value of a run of Chinese numerals: positional (二〇二三) or with units (三百五十, 三千万); None when it
    is not a well-formed number."""
    if run[0] in _CN_BIG_UNITS:
        return None
    if all(c in _CN_DIGITS for c in run):  # digit by digit: years, codes
        return int("".join(str(_CN_DIGITS[c]) for c in run))
    total, section, digit = 0, 0, None
    for c in run:
        if c in _CN_DIGITS:
            if digit is not None:  # 三五 inside a unit number: not well formed
                return None
            digit = _CN_DIGITS[c]
        elif c in _CN_SMALL_UNITS:
            section += (1 if digit is None else digit) * _CN_SMALL_UNITS[c]
            digit = None
        else:
            total = (total + section + (digit or 0)) * _CN_BIG_UNITS[c]
            section, digit = 0, None
    return total + section + (digit or 0)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def numbers(text: str) -> set[str]:
    """The numbers a text states, as strings: Arabic numerals as written (thousands separators dropped), Chinese
    numerals (二〇二三, 三百) and Arabic numerals with a Chinese unit (3.5 万) by their value, so that "三百" in an
    answer is found as "300" in the evidence."""
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    if not _CJK_CHAR.search(text):
        return found
    for m in _ARABIC_WITH_UNIT.finditer(text):
        found.discard(m.group(1).replace(",", ""))
        found.add(_number_text(float(m.group(1).replace(",", "")) * _CN_BIG_UNITS[m.group(2)]))
    for m in _CN_NUMBER.finditer(text):
        value = _chinese_numeral(m.group("n"))
        if value is not None:
            found.add(str(value))
    return found
