"""Structured citations, and cleaning of the ``[n]`` markers a model writes.

The model's own markers are not trusted: numbers outside the evidence it was shown are removed, and the
citation attached to an answer is the evidence sentence that verification found to support it.
"""

from __future__ import annotations

import re

from rag.evidence import Evidence
from rag.types import Citation

_MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def strip_invalid_markers(answer: str, valid: set[int]) -> str:
    """Drop marker numbers not in ``valid`` (all of them for an empty set), tidying the space left behind."""

    def keep(match: re.Match[str]) -> str:
        kept = [int(n) for n in re.split(r"[,;]", match.group(1)) if int(n) in valid]
        return f"[{', '.join(map(str, kept))}]" if kept else ""

    text = re.sub(r"[ \t]{2,}", " ", _MARKER.sub(keep, answer))
    return re.sub(r"[ \t]+(?=[.,;:!?]|$)", "", text).strip()


def answer_sentences(answer: str) -> list[str]:
    """The sentences of a model's answer, markers removed; pieces without a word (a lone "[1]") are dropped."""
    plain = strip_invalid_markers(answer, set())
    parts = re.split(r"(?<=[.!?])\s+(?=[\"'“(A-Z0-9])|\n+", plain)
    return [p.strip() for p in parts if re.search(r"\w", p)]


def to_citation(evidence: Evidence, marker: int) -> Citation:
    chunk = evidence.sentence.chunk
    return Citation(
        marker=marker,
        document_id=chunk.document_id,
        chunk_id=chunk.chunk_id,
        source=chunk.source,
        page=chunk.page,
        start=chunk.start,
        end=chunk.end,
        score=round(evidence.score, 4),
        text=chunk.text,
        quote=evidence.sentence.text,
        quote_start=evidence.sentence.start,
        quote_end=evidence.sentence.end,
    )
