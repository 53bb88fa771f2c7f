"""Evidence selection and answer verification.

A small model given whole chunks often answers with numbers that are in none of them (see
../shared/PLATFORM.md: 27% of answers contain the gold answer even with the right paragraph, while the best
single sentence contains it 77% of the time). So the answer step works on evidence: the sentences of the
retrieved chunks closest to the question, each with its exact span in the document. The model phrases an
answer from those; the answer is kept only when its numbers and content words are found in the evidence,
otherwise the best evidence sentence itself is the answer, quoted with its citation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

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


PAIR_DISCOUNT = 0.05
HEADING_PENALTY = 0.1
DENSE_WEIGHT = 0.8
LEXICAL_WEIGHT = 0.2
RARE_WEIGHT = 0.4
RANK_PENALTY = 0.02
# Scores stay on the scale of cosine similarity: a sentence that is the question itself scores about 1.
SCALE = DENSE_WEIGHT + LEXICAL_WEIGHT + RARE_WEIGHT


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


@dataclass(frozen=True)
class Evidence:
    sentence: Sentence
    score: float
    number: int  # the [n] it is shown to the model as


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


def embedding_texts(sentences: Sequence[Sentence]) -> list[str]:
    """Each sentence alone, then with the sentence before it in the same chunk.

    The pair catches facts stated with a pronoun ("she can lay 1,500 eggs") whose subject is one sentence back.
    """
    alone = [s.text for s in sentences]
    paired = [
        f"{prev.text} {cur.text}" if prev is not None and prev.chunk is cur.chunk else cur.text
        for prev, cur in zip([None, *sentences[:-1]], sentences, strict=True)
    ]
    return alone + paired


def evidence_passage(evidence: Sequence[Evidence], limit: int = 3) -> str:
    """What the answerability model reads: the best evidence sentences, best first, each flattened to one line.

    Training (evaluation/answerability.py) builds its passages with this same function."""
    return " ".join(e.sentence.flat for e in evidence[:limit])


def select_evidence(
    question_vector: np.ndarray,
    sentences: Sequence[Sentence],
    sentence_vectors: np.ndarray,
    question: str,
    limit: int,
    idf: Callable[[set[str]], Mapping[str, float]] | None = None,
) -> list[Evidence]:
    """Rank sentences by similarity to the question, plus the question words they share, rare words counting
    more (``idf``; without it all words count alike), and a little for their chunk's retrieval rank.

    ``sentence_vectors`` holds the vectors of ``embedding_texts(sentences)``: alone first, then paired. The
    weights were fitted on SQuAD 2.0 samples (seed 1) and checked on others (seeds 2, 3): the evidence
    sentence's chunk holds the gold answer for 0.886 of answerable questions, against 0.858 for similarity
    and plain word overlap alone (docs/evaluation.md).
    """
    if not sentences:
        return []
    n = len(sentences)
    # The paired text also contains the previous sentence; the small discount keeps a sentence from winning
    # only on the strength of its predecessor.
    dense = np.maximum(sentence_vectors[:n] @ question_vector, sentence_vectors[n:] @ question_vector - PAIR_DISCOUNT)
    asked = content_words(question)
    weight = dict(idf(asked)) if idf is not None else dict.fromkeys(asked, 1.0)
    total = sum(weight.values()) or 1.0
    shared = [asked & content_words(s.text) for s in sentences]
    lexical = np.array([len(w) / max(len(asked), 1) for w in shared], dtype=np.float32)
    rare = np.array([sum(weight[t] for t in w) / total for w in shared], dtype=np.float32)
    # A heading names the topic the question is about more often than it answers it ("Zephyr Kitchen Notes"),
    # so it must beat the sentences below it clearly ("Aurora 3.2 (released 14 October 2026)" still does).
    headings = np.array([s.heading for s in sentences], dtype=np.float32)
    ranks = np.array([s.chunk.rank - 1 for s in sentences], dtype=np.float32)
    scores = (
        DENSE_WEIGHT * dense
        + LEXICAL_WEIGHT * lexical
        + RARE_WEIGHT * rare
        - RANK_PENALTY * ranks
        - HEADING_PENALTY * headings
    ) / SCALE
    order = np.argsort(-scores, kind="stable")[:limit]
    return [Evidence(sentences[i], float(scores[i]), n) for n, i in enumerate(order, start=1)]


@dataclass(frozen=True)
class Support:
    supported: bool
    evidence: Evidence | None  # the evidence sentence that supports the answer best
    word_coverage: float  # share of the answer's new content words found in that sentence
    missing_numbers: frozenset[str]


def check_support(
    answer: str,
    evidence: Sequence[Evidence],
    question: str = "",
    min_added_coverage: float = 0.6,
    min_coverage: float = 0.75,
) -> Support:
    """Is the answer backed by one evidence sentence: all its numbers, and most of its words?

    The words the answer adds to the question must mostly come from the sentence (repeating the question is no
    answer), and so must its words overall. Support must come from a single sentence, so that facts from
    different sentences cannot be spliced into a wrong one ("the on-call allowance is 55 euros").
    """
    body = re.sub(r"\[\d+(?:\s*[,;]\s*\d+)*\]", " ", answer)
    all_words = content_words(body)
    added = all_words - content_words(question)
    answer_numbers = numbers(body)
    best = Support(False, None, 0.0, frozenset(answer_numbers))
    if not added:
        return best
    for e in evidence:
        words = content_words(e.sentence.text)
        coverage = len(added & words) / len(added)
        overall = len(all_words & words) / len(all_words)
        missing = frozenset(answer_numbers - numbers(e.sentence.text))
        supported = coverage >= min_added_coverage and overall >= min_coverage and not missing
        if (supported, coverage) > (best.supported, best.word_coverage):
            best = Support(supported, e, coverage, missing)
    return best
