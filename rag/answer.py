"""The assembly stage: the ``Answer`` a caller gets, from a verified draft or from a decision not to ask the model
(nothing retrieved, or abstention), with structured citations of the evidence.
"""

from __future__ import annotations

from rag.evidence import Evidence
from rag.types import Answer, Citation, Timings
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
