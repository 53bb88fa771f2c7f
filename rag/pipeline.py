"""Question in, grounded answer out: the answer stages, wired and timed.

Each stage is a module of its own, and this class only calls them in order and records their times:

1. retrieve (rag/retrieval.py): the chunks closest to the question;
2. select evidence (rag/evidence.py): their sentences that best answer it;
3. abstain (rag/abstention.py): or not, when the evidence is too weak to answer from;
4. prompt (rag/prompt.py): the numbered evidence and the question, fitted into the model's window;
5. generate (rag/generation.py): the model's draft, whole or streamed;
6. verify (rag/verification.py): keep the draft's sentences the evidence backs, each cited to its sentence;
7. assemble (rag/answer.py): the ``Answer``, with structured citations.

It depends only on the store and on the model ports (rag/models/ports.py), never on how documents got into the
store; what a request leaves unset comes from ``RequestDefaults`` (rag/options.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rag import generation
from rag.abstention import Abstention
from rag.answer import abstained, no_documents, verified_answer
from rag.evidence import Evidence, EvidenceSelector
from rag.models.ports import GenerationParams, LanguageModel
from rag.options import AnswerOptions, RequestDefaults
from rag.prompt import build_rag_prompt, fit_to_window
from rag.retrieval import RetrievalOptions, Retriever
from rag.timing import elapsed_ms
from rag.types import Answer, RetrievedChunk, Timings
from rag.verification import verify


class RAGPipeline:
    """The answer stages over one retriever, evidence selector and model. ``abstention`` None never abstains."""

    def __init__(
        self,
        retriever: Retriever,
        evidence: EvidenceSelector,
        llm: LanguageModel,
        defaults: RequestDefaults,
        abstention: Abstention | None = None,
    ) -> None:
        self.retriever = retriever
        self.evidence = evidence
        self.llm = llm
        self.defaults = defaults
        self.abstention = abstention or Abstention()

    # --- the service's defaults, as the surfaces name them ---------------------------------------------------

    @property
    def default_top_k(self) -> int:
        return self.defaults.top_k

    @property
    def default_max_new_tokens(self) -> int:
        return self.defaults.max_new_tokens

    # --- the stages ---------------------------------------------------------------------------------------------

    def gather_evidence(self, question: str, chunks: Sequence[RetrievedChunk]) -> list[Evidence]:
        return self.evidence.select(question, chunks)

    def prompt_for(self, question: str, evidence: Sequence[Evidence]) -> str:
        return build_rag_prompt(self.llm.family, question, evidence)

    def fit_to_window(self, question: str, evidence: list[Evidence], max_new_tokens: int) -> tuple[list[Evidence], str]:
        """Drop the lowest-ranked evidence until prompt plus answer fit the model's window (rag/prompt.py)."""
        return fit_to_window(self.llm, question, evidence, max_new_tokens)

    def _prepare(
        self, question: str, options: AnswerOptions, timings: Timings, collection: str | None = None
    ) -> Prepared | Answer:
        """Retrieve, select evidence, decide whether to abstain and build the prompt; or the final Answer when
        there is nothing to ask."""
        chunks = self.retriever.retrieve(question, options.retrieval, timings, collection)
        if not chunks:
            return no_documents(timings)
        started = time.perf_counter()
        evidence = self.gather_evidence(question, chunks)
        timings.evidence_ms = elapsed_ms(started)
        best = round(evidence[0].score, 4)
        if self.abstention.below_floor(evidence):
            return abstained(self.abstention.text, timings, best)
        started = time.perf_counter()
        answerable = self.abstention.answerability(question, evidence)
        if answerable is not None:
            timings.answerability_ms = elapsed_ms(started)
            if self.abstention.doubts(answerable):
                return abstained(self.abstention.text, timings, best, answerable)
        params = generation.answer_params(options.generation)
        kept, prompt = self.fit_to_window(question, evidence, params.max_new_tokens)
        trimmed = list(dict.fromkeys(e.sentence.chunk.chunk_id for e in evidence[len(kept) :]))
        return Prepared(kept, prompt, params, trimmed, best, answerable)

    # --- answering ----------------------------------------------------------------------------------------------

    def answer(
        self,
        question: str,
        top_k: int | None = None,
        params: GenerationParams | None = None,
        retrieval: RetrievalOptions | None = None,
        collection: str | None = None,
    ) -> Answer:
        """The verified answer from documents of ``collection`` (None: every collection)."""
        started_all = time.perf_counter()
        timings = Timings()
        options = self.defaults.resolve(top_k=top_k, retrieval=retrieval, generation=params)
        prepared = self._prepare(question, options, timings, collection)
        if isinstance(prepared, Answer):
            timings.total_ms = elapsed_ms(started_all)
            return prepared
        draft = generation.generate(self.llm, prepared.prompt, prepared.params, timings)
        verified = verify(question, draft, prepared.evidence)
        timings.total_ms = elapsed_ms(started_all)
        return verified_answer(verified, timings, prepared.trimmed, prepared.evidence_score, prepared.answerability)

    def answer_stream(
        self,
        question: str,
        top_k: int | None = None,
        params: GenerationParams | None = None,
        retrieval: RetrievalOptions | None = None,
        collection: str | None = None,
    ) -> Iterator[StreamEvent]:
        """The answer as events: ``delta`` (model text as it is decoded), ``answer`` (the verified answer and
        its citations; replaces the streamed text when ``answer_type`` is ``extractive``), then ``done``."""
        started_all = time.perf_counter()
        timings = Timings()
        options = self.defaults.resolve(top_k=top_k, retrieval=retrieval, generation=params)
        prepared = self._prepare(question, options, timings, collection)
        if isinstance(prepared, Answer):
            yield StreamEvent("answer", prepared.model_dump(include={"answer", "answer_type", "citations", "trimmed"}))
        else:
            draft = generation.stream(self.llm, prepared.prompt, prepared.params, timings)
            for delta in draft:
                yield StreamEvent("delta", {"text": delta})
            verified = verify(question, draft.text, prepared.evidence)
            answer = verified_answer(
                verified, timings, prepared.trimmed, prepared.evidence_score, prepared.answerability
            )
            yield StreamEvent("answer", answer.model_dump(exclude={"timings"}))
        timings.total_ms = elapsed_ms(started_all)
        yield StreamEvent("done", {"timings": timings.model_dump()})


@dataclass(frozen=True)
class Prepared:
    """Everything generation needs, once retrieval, evidence and the abstention checks have passed."""

    evidence: list[Evidence]
    prompt: str
    params: GenerationParams
    trimmed: list[str]
    evidence_score: float  # reported with the answer, as is the answerability (None when not checked)
    answerability: float | None


@dataclass(frozen=True)
class StreamEvent:
    event: str  # delta | answer | done
    data: dict[str, Any]
