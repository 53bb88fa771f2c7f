"""Split parsed text into chunks that fit the embedder and remember exactly where they came from.

LangChain's recursive splitter does the splitting, measuring length in the embedder's own tokens so that no
chunk is silently truncated at embedding time. We then locate each chunk in the parsed text ourselves: the
splitter strips whitespace, so every chunk is an exact substring, and chunks come in text order.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

from ingest.parsed import ParsedDocument

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    start: int
    end: int
    page: int | None
    heading: str | None
    page_starts: list[int] = field(default_factory=list)  # ParsedDocument.page_starts: pages begun inside
    location: str | None = None  # ParsedDocument.provenance: sheet and cell range, slide, ...
    ocr_confidence: float | None = None  # set when the text was read by OCR
    regions: list[tuple[int, int, str]] = field(default_factory=list)  # ParsedDocument.located: rows, ...


class _Headings:
    """Markdown heading path in force at any offset of a text."""

    def __init__(self, text: str) -> None:
        self._offsets: list[int] = []
        self._paths: list[str] = []
        stack: list[tuple[int, str]] = []
        for match in _HEADING.finditer(text):
            level = len(match.group(1))
            stack = [(lvl, title) for lvl, title in stack if lvl < level] + [(level, match.group(2).strip())]
            self._offsets.append(match.start())
            self._paths.append(" > ".join(title for _, title in stack))

    def at(self, offset: int) -> str | None:
        i = bisect.bisect_right(self._offsets, offset) - 1
        return self._paths[i] if i >= 0 else None


# The white space after . ! ? or ;, but not after an initial ("Samuel P. Langley"), a dotted abbreviation ("the
# U.S. Army", "e.g. this") or a title ("Dr. Smith", "No. 5"): a chunk must not end inside a sentence there.
# (rag/text.py decides sentence ends for evidence more carefully; this only keeps chunk boundaries off them.)
SENTENCE_END = (
    r"(?<=[.!?;])(?<![\s(\[][A-Z]\.)(?<!\.[A-Za-z]\.)(?<!\b(?:Mr|Ms|Dr|St|No|vs|pp)\.)"
    r"(?<!\b(?:Mrs|Fig|Vol|Gen|Col|Rev|Sgt)\.)(?<!\b(?:Prof|Capt)\.)\s"
)


# After 。！？； (and a closing quote or bracket that follows): Chinese and Japanese sentences end there with no white
# space, so without this a long Chinese paragraph would be cut in the middle of a sentence, at any character.
CJK_SENTENCE_END = r"(?<=[。！？；])(?![”’」』）])|(?<=[。！？；][”’」』）])"


def _with_sentences(separators: list[str]) -> list[str]:
    """Within a paragraph, split at sentence ends (the white space after . ! ? or ;, or right after 。！？；) before
    lines and words.

    Chunks then end on sentences (hard-wrapped text has a line break every 80 characters), and a long
    paragraph is cut into sentences rather than into hundreds of words that each need a token count. The
    separator is only the white space, so no chunk starts with punctuation.
    """
    at = separators.index("\n")
    return [*separators[:at], SENTENCE_END, CJK_SENTENCE_END, *separators[at:]]


class Chunker:
    def __init__(self, count_tokens: Callable[[str], int], chunk_size: int, chunk_overlap: int) -> None:
        self.count_tokens = count_tokens
        self.chunk_size = chunk_size

        def splitter(separators: list[str]) -> RecursiveCharacterTextSplitter:
            return RecursiveCharacterTextSplitter(
                separators=_with_sentences(separators),
                chunk_size=chunk_size,
                chunk_overlap=chunk_overlap,
                length_function=count_tokens,
                strip_whitespace=True,
                is_separator_regex=True,
            )

        self._markdown = splitter(RecursiveCharacterTextSplitter.get_separators_for_language(Language.MARKDOWN))
        self._plain = splitter(["\n\n", "\n", " ", ""])

    def split(self, parsed: ParsedDocument) -> list[Chunk]:
        text = parsed.text
        splitter = self._markdown if parsed.markdown_headings else self._plain
        headings = _Headings(text) if parsed.markdown_headings else None
        chunks: list[Chunk] = []
        cursor = 0
        for piece in splitter.split_text(text):
            if headings is not None and _HEADING.fullmatch(piece):
                continue  # a heading cut off from its section: the chunks after it carry it as their heading path
            start = text.find(piece, cursor)
            if start == -1:  # cannot happen with strip_whitespace splitting; fail loudly if it ever does
                raise AssertionError(f"chunk not found in parsed text after offset {cursor}")
            end = start + len(piece)
            location, ocr_confidence = parsed.provenance(start, end)
            chunks.append(
                Chunk(
                    index=len(chunks),
                    text=piece,
                    start=start,
                    end=end,
                    page=parsed.page_at(start),
                    heading=headings.at(start) if headings else None,
                    page_starts=parsed.page_starts(start, end),
                    location=location,
                    ocr_confidence=ocr_confidence,
                    regions=parsed.located(start, end),
                )
            )
            cursor = start + 1
        return chunks
