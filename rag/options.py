"""Per-request options, with the service's defaults filled in once, here.

Every surface (the query route, the OpenAI routes, the CLI, evaluations) and the pipeline itself resolve what a
request leaves unset through ``RequestDefaults.resolve``, so a default lives in one place: the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rag.models.ports import GenerationParams
from rag.retrieval import RetrievalOptions


@dataclass(frozen=True)
class AnswerOptions:
    """What one question is answered with: how to retrieve and how to generate."""

    retrieval: RetrievalOptions
    generation: GenerationParams


@dataclass(frozen=True)
class RequestDefaults:
    """The settings' values for what a request may leave out (``RAG_TOP_K``, ``RAG_MAX_NEW_TOKENS``)."""

    top_k: int
    max_new_tokens: int

    def resolve(
        self,
        *,
        top_k: int | None = None,
        max_new_tokens: int | None = None,
        retrieval: RetrievalOptions | None = None,
        generation: GenerationParams | Mapping[str, Any] | None = None,
    ) -> AnswerOptions:
        """Given option objects are taken as they are; ``generation`` may also be the fields a client set (an
        OpenAI request), the rest from the defaults. ``top_k`` and ``max_new_tokens``, when given, override the
        field of the same name."""
        retrieval = retrieval or RetrievalOptions(top_k=self.top_k)
        if top_k is not None:
            retrieval = retrieval.model_copy(update={"top_k": top_k})
        if generation is None or isinstance(generation, Mapping):
            generation = GenerationParams(**{"max_new_tokens": self.max_new_tokens, **(generation or {})})
        if max_new_tokens is not None:
            generation = generation.model_copy(update={"max_new_tokens": max_new_tokens})
        return AnswerOptions(retrieval, generation)
