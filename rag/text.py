"""Language knowledge the answer stages share: where sentences end, which words carry content, numbers.

Evidence selection (rag/evidence.py) splits chunks into sentences and weighs the words they share with the
question; verification (rag/verification.py) checks an answer's words and numbers against the evidence. Both
read text through these helpers, so that what counts as a word, a number or a stop word is decided once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.types import RetrievedChunk

# A sentence ends at . ! ? followed by white space and a capital, digit or quote; a blank line or the start of
# a list item or heading also ends one. A single line break is only a wrapped line.
_SENTENCE_END = re.compile(
    r"(?<=[.!?])\s+(?=[\"'“(\[A-Z0-9*_`])|\n[ \t]*\n\s*|\n(?=[ \t]*(?:[-*+][ \t]|\d+[.)][ \t]|#))"
)
_WORD = re.compile(r"[A-Za-z0-9]+(?:[.,:'][A-Za-z0-9]+)*")
_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_MARKUP = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|#+\s+)?(?:\*\*|__)?")
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


@dataclass(frozen=True)
class Sentence:
    chunk: RetrievedChunk
    text: str  # verbatim: parsed_text[start:end]
    start: int  # offsets in the document's parsed text
    end: int
    heading: bool = False

    @property
    def flat(self) -> str:
        """The text on one line, as shown to the model."""
        return " ".join(self.text.split())


def split_sentences(chunk: RetrievedChunk, min_words: int = 3) -> list[Sentence]:
    """Sentences (and headings that carry numbers) of a chunk, with document offsets.

    Fragments shorter than ``min_words`` are skipped; list and heading markers are left out of the span.
    """
    sentences: list[Sentence] = []
    position = 0
    for match in [*_SENTENCE_END.finditer(chunk.text), None]:
        end = match.start() if match else len(chunk.text)
        raw = chunk.text[position:end]
        lead = _MARKUP.match(raw)
        skip = lead.end() if lead else 0
        body = raw[skip:].rstrip()
        body_start = position + skip
        is_heading = raw.lstrip().startswith("#")
        # A heading of words only names a topic ("Zephyr Kitchen Notes") and would out-score the sentence that
        # answers; a heading with numbers can carry the fact itself ("Aurora 3.2 (released 14 October 2026)").
        informative = not is_heading or _DIGIT.search(body)
        if body and informative and len(_WORD.findall(body)) >= min_words:
            sentences.append(
                Sentence(chunk, body, chunk.start + body_start, chunk.start + body_start + len(body), is_heading)
            )
        position = match.end() if match else end
    return sentences


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
