"""Values that cross component boundaries. Pydantic models, so the API can return them as they are."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
    text: str


class RetrievedChunk(ChunkRecord):
    score: float = Field(description="cosine similarity to the question, -1..1")
    rank: int = Field(description="1-based position in the retrieved list; the [n] marker in prompts")


class Citation(BaseModel):
    marker: int | None = Field(description="the [n] the answer used, or null when attributed by similarity")
    document_id: str
    chunk_id: str
    source: str
    page: int | None
    start: int
    end: int
    score: float
    text: str


class Timings(BaseModel):
    embed_ms: float = 0.0
    retrieve_ms: float = 0.0
    generate_ms: float = 0.0
    first_token_ms: float | None = None
    total_ms: float = 0.0
    prompt_tokens: int = 0
    generated_tokens: int = 0


class Answer(BaseModel):
    answer: str
    citations: list[Citation]
    timings: Timings
