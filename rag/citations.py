"""From the model's ``[n]`` markers to structured citations.

A marker refers to the n-th source in the prompt. Markers outside the retrieved list are dropped: a citation
must always point at a chunk the model was actually shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from rag.types import Citation, RetrievedChunk

_MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def cited_numbers(answer: str) -> list[int]:
    """Marker numbers in order of first appearance: ``"a [2] b [1, 2]"`` -> ``[2, 1]``."""
    seen: list[int] = []
    for match in _MARKER.finditer(answer):
        for number in re.split(r"[,;]", match.group(1)):
            n = int(number)
            if n not in seen:
                seen.append(n)
    return seen


def strip_invalid_markers(answer: str, valid: set[int]) -> str:
    def keep(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"[,;]", match.group(1)) if int(n) in valid]
        return f"[{', '.join(map(str, numbers))}]" if numbers else ""

    return re.sub(r"\s+(?=[.,;:!?]|$)", "", _MARKER.sub(keep, answer)).strip()


def to_citation(chunk: RetrievedChunk, marker: int | None) -> Citation:
    return Citation(
        marker=marker,
        document_id=chunk.document_id,
        chunk_id=chunk.chunk_id,
        source=chunk.source,
        page=chunk.page,
        start=chunk.start,
        end=chunk.end,
        score=round(chunk.score, 4),
        text=chunk.text,
    )


def citations_from_markers(answer: str, chunks: Sequence[RetrievedChunk]) -> list[Citation]:
    by_rank = {c.rank: c for c in chunks}
    return [to_citation(by_rank[n], n) for n in cited_numbers(answer) if n in by_rank]


def best_supporting_chunk(
    answer_vector: np.ndarray, chunks: Sequence[RetrievedChunk], chunk_vectors: np.ndarray
) -> RetrievedChunk | None:
    """The shown chunk most similar to the answer: the fallback when the model cites nothing."""
    if not chunks:
        return None
    return chunks[int(np.argmax(chunk_vectors @ answer_vector))]
