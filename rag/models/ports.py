"""The ports of the models: what the rest of the service needs of an embedder, a language model and an
answerability model, and the values they speak.

Retrieval, evidence selection, abstention, indexing and the answer pipeline are typed against these Protocols,
never against a concrete model: ``SentenceEmbedder`` (rag/models/embedder.py), ``LLM`` (rag/models/llm.py),
``RemoteLLM`` (rag/models/remote.py) and ``AnswerabilityModel`` (rag/models/answerability.py) implement them, and
so do the stand-ins of the tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, Field

from rag.models.families import PromptFamily


class GenerationParams(BaseModel):
    """Per-request generation settings; the ranges are what the API validates against."""

    max_new_tokens: int = Field(default=96, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 means greedy decoding")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    top_k: int = Field(default=0, ge=0, le=1000, description="0 means no top-k filtering")
    repetition_penalty: float = Field(
        default=1.0, ge=1.0, le=2.0, description="above 1 discourages repeats, also of words in the sources"
    )
    stop: list[str] = Field(default_factory=list, max_length=8)


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    generated_tokens: int
    first_token_ms: float | None
    total_ms: float


@runtime_checkable
class Embedder(Protocol):
    """Texts to unit-length vectors (cosine similarity is a dot product), all of ``dimension`` floats."""

    dimension: int
    # The languages (rag/language.py codes) whose texts it places by meaning; None: any. Retrieval does not fuse
    # its similarities for a question in another language: they are noise there (docs/evaluation.md, #16).
    languages: frozenset[str] | None

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...

    def embed_cached(self, texts: list[str]) -> np.ndarray:
        """Like ``embed``; may remember the vectors of texts it has seen (evidence sentences come back often)."""
        ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Several queries in one call, remembered as ``embed_query`` remembers one: a follow-up is retrieved for
        two readings, and one batch of two costs about what one query does."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model would read of ``text``, without special tokens (the chunker sizes chunks by it)."""
        ...


@runtime_checkable
class LanguageModel(Protocol):
    """What the pipeline needs of a model. ``LLM`` (in process) and ``RemoteLLM`` (an OpenAI-compatible server,
    rag/models/remote.py) both have this face: prompts formatted for ``family``, its stop strings enforced."""

    family: PromptFamily

    @property
    def name(self) -> str: ...

    @property
    def context_window(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def generate(self, prompt: str, params: GenerationParams | None = None) -> Generation: ...

    def stream(self, prompt: str, params: GenerationParams | None = None) -> Iterator[str]: ...

    def warm_up(self) -> None: ...


class Answerability(Protocol):
    """P(the passage answers the question), from 0 to 1, and the threshold below which to abstain."""

    @property
    def training(self) -> dict[str, Any]:
        """How it was trained (its training.json), empty when unknown."""
        ...

    @property
    def threshold(self) -> float: ...

    def score(self, question: str, passage: str) -> float: ...
