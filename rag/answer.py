"""The assembly stage: the ``Answer`` a caller gets, from a verified draft or from a decision not to ask the model
(nothing retrieved, or abstention), with structured citations of the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.evidence import Evidence
from rag.types import Answer, Citation, SentenceSupport, Timings
from rag.verification import Verified

NO_DOCUMENTS_ANSWER = "No indexed document matches the question, so there is nothing to answer from."


def to_citation(evidence: Evidence, marker: int) -> Citation:
    chunk = evidence.sentence.chunk
    return Citation(
        marker=marker,
        document_id=chunk.document_id,
        chunk_id=chunk.chunk_id,
        source=chunk.source,
        page=evidence.sentence.page,  # the quoted sentence's page: a chunk can run over a page break
        location=evidence.sentence.location,  # the quoted row's own cell range, where the format has one
        ocr_confidence=chunk.ocr_confidence,
        start=chunk.start,
        end=chunk.end,
        score=round(evidence.score, 4),
        text=chunk.text,
        quote=evidence.sentence.text,
        quote_start=evidence.sentence.start,
        quote_end=evidence.sentence.end,
    )


def no_documents(timings: Timings) -> Answer:
    """Retrieval found nothing: there is no evidence to answer from."""
    return Answer(answer=NO_DOCUMENTS_ANSWER, answer_type="no_documents", citations=[], timings=timings)


def clarification(text: str, timings: Timings) -> Answer:
    """The question points at something the conversation does not name (rag/conversation.py): a short clarifying
    question instead of a guess; nothing is cited."""
    return Answer(answer=text, answer_type="clarification", citations=[], timings=timings)


def abstained(
    text: str,
    timings: Timings,
    evidence_score: float,
    answerability: float | None = None,
    question_type: str | None = None,
) -> Answer:
    """The evidence is not good enough to answer from (rag/abstention.py): ``text`` instead of an answer."""
    return Answer(
        answer=text,
        answer_type="abstained",
        question_type=question_type,
        citations=[],
        timings=timings,
        evidence_score=evidence_score,
        answerability=answerability,
    )


def verified_answer(
    verified: Verified,
    timings: Timings,
    trimmed: list[str],
    evidence_score: float,
    answerability: float | None,
    question_type: str | None = None,
) -> Answer:
    """The verified draft (or composed answer), each cited evidence sentence a citation under the number the answer
    shows."""
    return Answer(
        answer=verified.answer,
        answer_type=verified.answer_type,
        question_type=question_type,
        citations=[to_citation(e, e.number) for e in verified.cited],
        sentences=verified.sentences,
        removed=verified.removed,
        timings=timings,
        trimmed=trimmed,
        evidence_score=evidence_score,
        answerability=answerability,
    )


UNANSWERED = ("abstained", "no_documents", "clarification")
# An answer's text as quoted pieces, each up to and with the marker that cites it ("... sentence. [2]").
_CITED_PIECE = re.compile(r"(.*?)\s*\[(\d+)\]", re.DOTALL)


def answered(answer: Answer) -> bool:
    return answer.answer_type not in UNANSWERED


def _quoted(citation: Citation) -> tuple[str, int, int]:
    return citation.document_id, citation.quote_start, citation.quote_end


def combined(parts: Sequence[tuple[str, Answer]], unanswered: Callable[[str], str], timings: Timings) -> Answer:
    """One answer to a question of several parts (rag/question.py ``parts``) from the answer to each, in order: each
    part's text with its citations numbered on from the part before, less the sentences an earlier part already
    quoted (a part may add nothing: "What is a base schedule and why does it matter?"), and for a part the
    documents do not answer, ``unanswered(part)`` saying so. When no part is answered, the first part's answer
    stands for all."""
    if not any(answered(a) for _, a in parts):
        return parts[0][1].model_copy(update={"timings": timings, "question_type": "compound"})
    texts: list[str] = []
    citations: list[Citation] = []
    sentences: list[SentenceSupport] = []
    removed: list[SentenceSupport] = []
    trimmed: list[str] = []
    quoted: set[tuple[str, int, int]] = set()
    for part, answer in parts:
        if not answered(answer):
            texts.append(unanswered(part))
            continue
        by_marker = {c.marker: c for c in answer.citations}
        renumbered: dict[int, int] = {}
        kept: list[str] = []
        end = 0
        for piece in _CITED_PIECE.finditer(answer.answer):
            end = piece.end()
            citation = by_marker.get(int(piece[2]))
            if citation is None:  # not a citation marker: text as it is
                kept.append(piece[0])
                continue
            if _quoted(citation) in quoted and citation.marker not in renumbered:
                continue
            if citation.marker not in renumbered:
                quoted.add(_quoted(citation))
                renumbered[citation.marker] = len(citations) + 1
                citations.append(citation.model_copy(update={"marker": renumbered[citation.marker]}))
            kept.append(f"{piece[1]} [{renumbered[citation.marker]}]")
        if not renumbered:  # everything it quotes was quoted for an earlier part
            continue
        texts.append(("".join(kept) + answer.answer[end:]).strip())
        for sentence in answer.sentences:
            markers = [renumbered[n] for n in sentence.citations if n in renumbered]
            if markers or not sentence.citations:
                sentences.append(sentence.model_copy(update={"citations": markers}))
        removed += answer.removed
        trimmed += [t for t in answer.trimmed if t not in trimmed]
    kinds = {a.answer_type for _, a in parts if answered(a)}
    scores = [a.evidence_score for _, a in parts if a.evidence_score is not None]
    probabilities = [a.answerability for _, a in parts if a.answerability is not None]
    return Answer(
        answer="\n\n".join(texts),
        answer_type=kinds.pop() if len(kinds) == 1 else "composed",
        question_type="compound",
        citations=citations,
        sentences=sentences,
        removed=removed,
        timings=timings,
        trimmed=trimmed,
        evidence_score=max(scores) if scores else None,
        answerability=min(probabilities) if probabilities else None,
    )
