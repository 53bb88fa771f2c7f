"""Values that cross component boundaries. Pydantic models, so the API can return them as they are."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


def span_locations(first: str, last: str) -> str:
    """One location for a span that runs from ``first`` to ``last``: cell ranges of one sheet merge
    ("Budget!A5:C5" .. "Budget!A9:C9" -> "Budget!A5:C9"); anything else is shown as a range of the two."""
    if first == last:
        return first
    head, sep, tail = first.rpartition("!")
    last_head, last_sep, last_tail = last.rpartition("!")
    if sep and last_sep and head == last_head and ":" in tail and ":" in last_tail:
        return f"{head}!{tail.split(':')[0]}:{last_tail.split(':')[-1]}"
    return f"{first} – {last}"


class ChunkRecord(BaseModel):
    """One stored chunk: its text and where it came from."""

    chunk_id: str
    document_id: str
    version: int
    source: str
    chunk_index: int
    start: int = Field(description="character offset of the chunk in the document's parsed text")
    end: int = Field(description="end offset (exclusive); parsed_text[start:end] == text")
    page: int | None = Field(default=None, description="1-based page number, for paged formats")
    heading: str | None = Field(default=None, description="heading path, e.g. 'Policy > Equipment'")
    page_starts: list[int] = Field(
        default_factory=list,
        description="offsets in the parsed text where the pages after `page` begin, for the page breaks inside "
        "the chunk and one right after it (so a sentence's page is known; empty for unpaged formats)",
    )
    location: str | None = Field(
        default=None, description="finer provenance where the format has it: a sheet and cell range ('Budget!A5:C9')"
    )
    ocr_confidence: float | None = Field(
        default=None, description="the OCR engine's mean confidence (0..1) when the chunk's text was read by OCR"
    )
    regions: list[tuple[int, int, str]] = Field(
        default_factory=list,
        description="the located parts of the chunk as (start, end, location) in the parsed text, such as each "
        "spreadsheet row with its cell range, so a quoted sentence is cited to its own row",
    )
    text: str


class RetrievedChunk(ChunkRecord):
    score: float = Field(description="cosine similarity to the question, -1..1")
    fusion_score: float = Field(default=0.0, description="reciprocal-rank-fusion score that ordered the list")
    rank: int = Field(description="1-based position in the retrieved list")


class Citation(BaseModel):
    """Where an answer came from: the chunk (span and text) and, inside it, the sentence quoted as evidence."""

    marker: int = Field(description="the [n] that refers to this source in the answer")
    document_id: str
    chunk_id: str
    source: str
    page: int | None = Field(description="page of the quoted sentence, for paged formats")
    location: str | None = Field(default=None, description="the chunk's sheet and cell range, where the format has one")
    ocr_confidence: float | None = Field(
        default=None, description="the OCR engine's confidence (0..1) when the quoted text was read from an image"
    )
    start: int = Field(description="chunk start in the document's parsed text")
    end: int = Field(description="chunk end (exclusive); parsed_text[start:end] == text")
    score: float = Field(description="relevance of the quoted sentence to the question")
    text: str = Field(description="the chunk's text")
    quote: str = Field(description="the evidence sentence, verbatim from the chunk")
    quote_start: int = Field(description="quote start in the document's parsed text")
    quote_end: int = Field(description="quote end (exclusive); parsed_text[quote_start:quote_end] == quote")


class Timings(BaseModel):
    embed_ms: float = 0.0
    retrieve_ms: float = 0.0
    evidence_ms: float = 0.0
    answerability_ms: float = 0.0
    generate_ms: float = 0.0
    first_token_ms: float | None = None
    total_ms: float = 0.0
    prompt_tokens: int = 0
    generated_tokens: int = 0


AnswerType = Literal["generated", "composed", "extractive", "abstained", "no_documents", "clarification"]


class SentenceSupport(BaseModel):
    """One sentence of an answer and what backs it."""

    text: str = Field(description="the sentence, without citation markers")
    supported: bool = Field(description="whether one cited evidence sentence backs all its numbers and most words")
    support: float = Field(description="share of the words it adds to the question found in the best evidence, 0..1")
    citations: list[int] = Field(description="markers of the citations that support it (empty when unsupported)")


class Answer(BaseModel):
    answer: str
    answer_type: AnswerType = Field(
        description="generated: the model's answer, checked against the evidence; composed: several evidence "
        "sentences quoted and cited one by one, chosen for what the question asks (a list, steps, a summary, a "
        "comparison, a yes or no, an explanation); extractive: the model's answer was not supported by the "
        "evidence, so the best evidence sentence is returned instead; abstained: the documents do not answer the "
        "question well enough to try; no_documents: nothing indexed matches; clarification: a follow-up whose "
        "referent the conversation does not settle, met with a short clarifying question (no citations)"
    )
    standalone_question: str | None = Field(
        default=None,
        description="the question actually answered once a follow-up was resolved against the conversation's "
        "earlier turns (rag/conversation.py); null when the question was answered as asked",
    )
    question_type: str | None = Field(
        default=None,
        description="what the question asks for, which decides the answer's shape: fact, number, list, steps, "
        "summary, comparison, yes_no or explanation (rag/question.py); compound for a question of several parts, "
        "each answered in turn; null when nothing was retrieved",
    )
    citations: list[Citation]
    timings: Timings
    evidence_score: float | None = Field(
        default=None, description="relevance of the best evidence sentence; what the abstention floor compares"
    )
    answerability: float | None = Field(
        default=None,
        description="the answerability model's probability that the evidence answers the question; the service "
        "abstains below the model's threshold or RAG_ABSTAIN_BELOW_ANSWERABILITY (null when the check is off or "
        "was not reached)",
    )
    trimmed: list[str] = Field(
        default_factory=list,
        description="chunk ids whose evidence was left out of the prompt to fit the model's context window",
    )
    sentences: list[SentenceSupport] = Field(
        default_factory=list, description="each sentence of `answer`, with the citations that support it"
    )
    removed: list[SentenceSupport] = Field(
        default_factory=list,
        description="sentences the model wrote that no evidence supports; left out of `answer`",
    )
