"""The evidence stage: the sentences of the retrieved chunks that best answer the question.

A small model given whole chunks often answers with numbers that are in none of them (see
../shared/PLATFORM.md: 27% of answers contain the gold answer even with the right paragraph, while the best
single sentence contains it 77% of the time). So the answer step works on evidence: the sentences of the
retrieved chunks closest to the question, each with its exact span in the document. The model phrases an
answer from those (rag/prompt.py), and verification (rag/verification.py) keeps it only when the evidence
backs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rag.keyword import KeywordIndex
from rag.models.ports import Embedder
from rag.text import Sentence, content_words, split_sentences
from rag.types import RetrievedChunk

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


class EvidenceSelector:
    """Splits the retrieved chunks into sentences, embeds them with the question (through the embedder's cache)
    and keeps the best ``limit``, rare shared words weighed by the keyword index's document frequencies."""

    def __init__(self, embedder: Embedder, keyword: KeywordIndex | None, limit: int = 3) -> None:
        self.embedder = embedder
        self.keyword = keyword
        self.limit = limit

    def select(self, question: str, chunks: Sequence[RetrievedChunk]) -> list[Evidence]:
        sentences = [s for chunk in chunks for s in split_sentences(chunk)]
        if not sentences:  # chunks without full sentences (tables, lists of words): use them whole
            sentences = [Sentence(c, c.text, c.start, c.end) for c in chunks]
        vectors = self.embedder.embed_cached([question, *embedding_texts(sentences)])
        idf = self.keyword.idf if self.keyword else None
        return select_evidence(vectors[0], sentences, vectors[1:], question, self.limit, idf)
