"""The evidence stage: the sentences of the retrieved chunks that best answer the question.

A small model given whole chunks often answers with numbers that are in none of them (see
../shared/PLATFORM.md: 27% of answers contain the gold answer even with the right paragraph, while the best
single sentence contains it 77% of the time). So the answer step works on evidence: the sentences of the
retrieved chunks closest to the question, each with its exact span in the document. The model phrases an
answer from those (rag/prompt.py), and verification (rag/verification.py) keeps it only when the evidence
backs it.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.keyword import KeywordIndex
from rag.language import detect
from rag.models.ports import Embedder
from rag.text import Sentence, content_words, split_sentences
from rag.types import ChunkRecord, RetrievedChunk

PAIR_DISCOUNT = 0.05
HEADING_PENALTY = 0.1
DENSE_WEIGHT = 0.8
LEXICAL_WEIGHT = 0.2
RARE_WEIGHT = 0.4
RANK_PENALTY = 0.02
# Scores stay on the scale of cosine similarity: a sentence that is the question itself scores about 1.
SCALE = DENSE_WEIGHT + LEXICAL_WEIGHT + RARE_WEIGHT


@dataclass(frozen=True)
class Evidence:
    sentence: Sentence
    score: float
    number: int  # the [n] it is shown to the model as


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


def chunk_embedding_texts(chunk: ChunkRecord) -> list[str]:
    """The texts ``EvidenceSelector.select`` embeds for one chunk, each once: what the indexer stores vectors for
    (rag/store/sentences.py). Pairs never cross chunks, so a chunk's texts do not depend on its neighbours; a
    chunk without sentences is embedded whole."""
    retrieved = chunk if isinstance(chunk, RetrievedChunk) else RetrievedChunk(**chunk.model_dump(), score=0.0, rank=1)
    sentences = split_sentences(retrieved) or [Sentence(retrieved, chunk.text, chunk.start, chunk.end)]
    return list(dict.fromkeys(embedding_texts(sentences)))


@functools.cache
def sentence_rules() -> str:
    """A fingerprint of the code that decides which texts a chunk's sentences are embedded as, stored with the
    sentence vectors so that those made under other rules can be found and refreshed."""
    import rag.text

    try:
        code = "".join(inspect.getsource(o) for o in (rag.text, embedding_texts, chunk_embedding_texts))
    except (OSError, TypeError):  # no source files: installed without them
        return "unknown"
    return hashlib.sha256(code.encode()).hexdigest()[:16]


_SECTION_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)*\.?\s+")


def numbered_heading(sentence: Sentence) -> str | None:
    """The heading a sentence sits under, when it carries a number of its own (a version, a date, a limit:
    "Aurora 3.2 (released 14 October 2026)", "4.4 Column limit: 100" without its "4.4"): what a reader needs
    to know of a sentence shown out of place, as a changelog bullet needs its version. None otherwise."""
    title = sentence.section.rsplit(" > ", 1)[-1] if sentence.section else ""
    title = _SECTION_NUMBER.sub("", title).strip()
    return title if re.search(r"\d", title) else None


def with_heading(sentence: Sentence, text: str) -> str:
    """``text`` (the sentence as shown) after its ``numbered_heading``, unless it already says it; joined by a
    full-width colon when the sentence is Chinese, as Chinese text writes it ("2.1 版本：支持……")."""
    heading = numbered_heading(sentence)
    if not heading or heading.lower() in text.lower():
        return text
    return f"{heading}：{text}" if detect(text) == "zh" else f"{heading}: {text}"


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
    """The ``limit`` best sentences by ``score_sentences``, best first, numbered from 1."""
    scores = score_sentences(question_vector, sentences, sentence_vectors, question, idf)
    order = np.argsort(-scores, kind="stable")[:limit]
    return [Evidence(sentences[i], float(scores[i]), n) for n, i in enumerate(order, start=1)]


def score_sentences(
    question_vector: np.ndarray,
    sentences: Sequence[Sentence],
    sentence_vectors: np.ndarray,
    question: str,
    idf: Callable[[set[str]], Mapping[str, float]] | None = None,
) -> np.ndarray:
    """Score sentences by similarity to the question, plus the question words they share, rare words counting
    more (``idf``; without it all words count alike), and a little for their chunk's retrieval rank.

    ``sentence_vectors`` holds the vectors of ``embedding_texts(sentences)``: alone first, then paired. The
    weights were fitted on SQuAD 2.0 samples (seed 1) and checked on others (seeds 2, 3): the evidence
    sentence's chunk holds the gold answer for 0.886 of answerable questions, against 0.858 for similarity
    and plain word overlap alone (docs/evaluation.md).
    """
    if not sentences:
        return np.zeros(0, dtype=np.float32)
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
    return np.asarray(scores, dtype=np.float32)


@dataclass(frozen=True)
class Ranked:
    """Every sentence of the retrieved chunks that may be evidence, scored, with its own vector: what answers drawing
    on several sentences choose from (rag/composition.py). Boilerplate (``Sentence.boilerplate``: titles, front
    matter, tables of contents, licence text) is left out, and so is the second copy of a sentence that two
    overlapping chunks share."""

    sentences: list[Sentence]
    scores: np.ndarray
    vectors: np.ndarray  # each sentence alone, unit length: how alike two sentences are

    def best(self, limit: int) -> list[Evidence]:
        """The ``limit`` best sentences, best first, numbered from 1 as they are shown to the model."""
        order = np.argsort(-self.scores, kind="stable")[:limit]
        return [Evidence(self.sentences[i], float(self.scores[i]), n) for n, i in enumerate(order, start=1)]

    @classmethod
    def of(cls, sentences: Sequence[Sentence], scores: np.ndarray, vectors: np.ndarray) -> Ranked:
        """The pool from all sentences of the chunks: boilerplate and repeated sentences dropped (all boilerplate:
        all kept, there being nothing else to answer from)."""
        best: dict[tuple[str, int, int], int] = {}
        for i, s in enumerate(sentences):
            if s.boilerplate is not None:
                continue
            key = (s.chunk.document_id, s.start, s.end)
            if key not in best or scores[i] > scores[best[key]]:
                best[key] = i
        keep = sorted(best.values()) or list(range(len(sentences)))
        return cls([sentences[i] for i in keep], scores[keep], vectors[keep])


class SentenceVectorSource(Protocol):
    """Where the selector gets the vectors of the texts it embeds: ``StoredSentenceVectors`` (rag/store/sentences.py)
    reads those stored at ingest; without one, everything is embedded at query time through the embedder's cache."""

    def vectors(self, chunks: Sequence[ChunkRecord], texts: list[str]) -> np.ndarray: ...


class EvidenceSelector:
    """Splits the retrieved chunks into sentences, embeds them with the question (vectors stored at ingest where
    ``stored`` has them, otherwise through the embedder's cache) and keeps the best ``limit``, rare shared words
    weighed by the keyword index's document frequencies."""

    def __init__(
        self,
        embedder: Embedder,
        keyword: KeywordIndex | None,
        limit: int = 3,
        stored: SentenceVectorSource | None = None,
    ) -> None:
        self.embedder = embedder
        self.keyword = keyword
        self.limit = limit
        self.stored = stored

    def vectors(self, chunks: Sequence[ChunkRecord], texts: list[str]) -> np.ndarray:
        """The vectors of ``texts`` (the question and the chunks' ``embedding_texts``)."""
        return self.stored.vectors(chunks, texts) if self.stored else self.embedder.embed_cached(texts)

    def rank(self, question: str, chunks: Sequence[RetrievedChunk]) -> Ranked:
        """Every sentence of the chunks that may be evidence, scored against the question."""
        sentences = [s for chunk in chunks for s in split_sentences(chunk)]
        if not sentences:  # chunks without full sentences (tables, lists of words): use them whole
            sentences = [Sentence(c, c.text, c.start, c.end) for c in chunks]
        vectors = self.vectors(chunks, [question, *embedding_texts(sentences)])
        idf = self.keyword.idf if self.keyword else None
        scores = score_sentences(vectors[0], sentences, vectors[1:], question, idf)
        return Ranked.of(sentences, scores, vectors[1 : 1 + len(sentences)])

    def select(self, question: str, chunks: Sequence[RetrievedChunk]) -> list[Evidence]:
        """The ``limit`` best evidence sentences, best first."""
        return self.rank(question, chunks).best(self.limit)
