"""Question in, grounded answer out: embed, retrieve, select evidence, prompt, generate, verify, cite.

Each step is a small component; this class wires them and times them. It depends only on the store and the
models, never on how documents got into the store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rag import metrics
from rag.citations import answer_sentences, strip_invalid_markers, to_citation
from rag.evidence import (
    Evidence,
    Sentence,
    check_support,
    embedding_texts,
    evidence_passage,
    select_evidence,
    split_sentences,
)
from rag.models.answerability import AnswerabilityModel
from rag.models.llm import GenerationParams, LanguageModel
from rag.prompts import build_rag_prompt
from rag.retrieval import RetrievalOptions, Retriever
from rag.types import Answer, AnswerType, Citation, RetrievedChunk, SentenceSupport, Timings

NO_DOCUMENTS_ANSWER = "No indexed document matches the question, so there is nothing to answer from."
# The prompt asks for one sentence; a blank line means the model has moved on to something else.
ANSWER_STOPS = ["\n\n"]


class ContextOverflow(ValueError):
    """Even one evidence sentence does not fit: the request itself is too large for the model."""


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


class RAGPipeline:
    def __init__(
        self,
        retriever: Retriever,
        llm: LanguageModel,
        default_top_k: int,
        default_max_new_tokens: int,
        evidence_sentences: int = 3,
        abstain_below: float | None = None,
        abstain_text: str = "The documents do not contain an answer to this question.",
        answerability: AnswerabilityModel | None = None,
        abstain_below_answerability: float | None = None,
    ) -> None:
        self.retriever = retriever
        self.llm = llm
        self.default_top_k = default_top_k
        self.default_max_new_tokens = default_max_new_tokens
        self.evidence_sentences = evidence_sentences
        self.abstain_below = abstain_below
        self.abstain_text = abstain_text
        self.answerability = answerability
        self.abstain_below_answerability = abstain_below_answerability

    def gather_evidence(self, question: str, chunks: Sequence[RetrievedChunk]) -> list[Evidence]:
        sentences = [s for chunk in chunks for s in split_sentences(chunk)]
        if not sentences:  # chunks without full sentences (tables, lists of words): use them whole
            sentences = [Sentence(c, c.text, c.start, c.end) for c in chunks]
        vectors = self.retriever.embedder.embed_cached([question, *embedding_texts(sentences)])
        keyword = getattr(self.retriever, "keyword", None)
        return select_evidence(
            vectors[0], sentences, vectors[1:], question, self.evidence_sentences, keyword.idf if keyword else None
        )

    def prompt_for(self, question: str, evidence: Sequence[Evidence]) -> str:
        return build_rag_prompt(self.llm.family, question, evidence)

    def _prepare(
        self,
        question: str,
        top_k: int | None,
        params: GenerationParams | None,
        retrieval: RetrievalOptions | None,
        timings: Timings,
        collection: str | None = None,
    ) -> Prepared | Answer:
        """Retrieve, select evidence and build the prompt; or the final Answer when there is nothing to ask."""
        retrieval = retrieval or RetrievalOptions(top_k=self.default_top_k)
        if top_k is not None:
            retrieval = retrieval.model_copy(update={"top_k": top_k})
        chunks = self.retriever.retrieve(question, retrieval, timings, collection)
        if not chunks:
            return Answer(answer=NO_DOCUMENTS_ANSWER, answer_type="no_documents", citations=[], timings=timings)
        started = time.perf_counter()
        evidence = self.gather_evidence(question, chunks)
        timings.evidence_ms = _ms(started)
        best = round(evidence[0].score, 4)
        if self.abstain_below is not None and evidence[0].score < self.abstain_below:
            return self._abstain(timings, best)
        answerable = None
        if self.answerability is not None:
            started = time.perf_counter()
            answerable = round(self.answerability.score(question, evidence_passage(evidence)), 4)
            timings.answerability_ms = _ms(started)
            threshold = self.abstain_below_answerability
            if answerable < (self.answerability.threshold if threshold is None else threshold):
                return self._abstain(timings, best, answerable)
        params = params or GenerationParams(max_new_tokens=self.default_max_new_tokens)
        params = params.model_copy(update={"stop": [*params.stop, *ANSWER_STOPS]})
        kept, prompt = self.fit_to_window(question, evidence, params.max_new_tokens)
        trimmed = list(dict.fromkeys(e.sentence.chunk.chunk_id for e in evidence[len(kept) :]))
        return Prepared(kept, prompt, params, trimmed, {"evidence_score": best, "answerability": answerable})

    def _abstain(self, timings: Timings, evidence_score: float, answerability: float | None = None) -> Answer:
        return Answer(
            answer=self.abstain_text,
            answer_type="abstained",
            citations=[],
            timings=timings,
            evidence_score=evidence_score,
            answerability=answerability,
        )

    def fit_to_window(self, question: str, evidence: list[Evidence], max_new_tokens: int) -> tuple[list[Evidence], str]:
        """Drop the lowest-ranked evidence until prompt plus answer fit the model's window, counted with the
        model's own tokenizer."""
        budget = self.llm.context_window - max_new_tokens
        kept = list(evidence)
        prompt = self.prompt_for(question, kept)
        while len(kept) > 1 and self.llm.count_tokens(prompt) > budget:
            kept.pop()
            prompt = self.prompt_for(question, kept)
        if self.llm.count_tokens(prompt) > budget:
            raise ContextOverflow(
                f"the question and its best evidence need more than the model's {self.llm.context_window} tokens "
                f"with max_new_tokens={max_new_tokens}; ask a shorter question or lower max_new_tokens"
            )
        return kept, prompt

    @staticmethod
    def _verify(question: str, draft: str, evidence: Sequence[Evidence]) -> Verified:
        """Check each sentence of the model's answer against the evidence; keep the supported ones, each cited
        to the sentence that supports it (whatever number the model wrote), and drop the rest. With none
        supported, quote the best evidence sentence instead."""
        text = strip_invalid_markers(draft, {e.number for e in evidence})  # markers to unseen evidence go
        kept: list[SentenceSupport] = []
        removed: list[SentenceSupport] = []
        citations: dict[int, Citation] = {}
        for sentence in answer_sentences(text):
            support = check_support(sentence, evidence, question)
            coverage = round(support.word_coverage, 3)
            if support.supported and support.evidence is not None:
                number = support.evidence.number
                citations.setdefault(number, to_citation(support.evidence, number))
                kept.append(SentenceSupport(text=sentence, supported=True, support=coverage, citations=[number]))
            else:
                removed.append(SentenceSupport(text=sentence, supported=False, support=coverage, citations=[]))
        if kept:
            answer = " ".join(f"{s.text} [{s.citations[0]}]" for s in kept)
            return Verified(answer, "generated", list(citations.values()), kept, removed)
        best = evidence[0]
        quote = SentenceSupport(text=best.sentence.flat, supported=True, support=1.0, citations=[best.number])
        return Verified(
            f"{best.sentence.flat} [{best.number}]", "extractive", [to_citation(best, best.number)], [quote], removed
        )

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
        prepared = self._prepare(question, top_k, params, retrieval, timings, collection)
        if isinstance(prepared, Answer):
            timings.total_ms = _ms(started_all)
            return prepared
        evidence, prompt, params = prepared.evidence, prepared.prompt, prepared.params

        started = time.perf_counter()
        generation = self.llm.generate(prompt, params)
        timings.generate_ms = _ms(started)
        timings.first_token_ms = generation.first_token_ms
        timings.prompt_tokens = generation.prompt_tokens
        timings.generated_tokens = generation.generated_tokens
        metrics.observe_generation(generation.prompt_tokens, generation.generated_tokens)

        verified = self._verify(question, generation.text, evidence)
        timings.total_ms = _ms(started_all)
        return Answer(**verified.fields(), timings=timings, trimmed=prepared.trimmed, **prepared.scores)

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
        prepared = self._prepare(question, top_k, params, retrieval, timings, collection)
        if isinstance(prepared, Answer):
            yield StreamEvent("answer", prepared.model_dump(include={"answer", "answer_type", "citations", "trimmed"}))
        else:
            evidence, prompt, params = prepared.evidence, prepared.prompt, prepared.params
            started = time.perf_counter()
            pieces: list[str] = []
            for delta in self.llm.stream(prompt, params):
                if not pieces:
                    timings.first_token_ms = _ms(started)
                pieces.append(delta)
                yield StreamEvent("delta", {"text": delta})
            timings.generate_ms = _ms(started)
            draft = "".join(pieces).strip()
            timings.prompt_tokens = self.llm.count_tokens(prompt)
            timings.generated_tokens = self.llm.count_tokens(draft) if draft else 0
            metrics.observe_generation(timings.prompt_tokens, timings.generated_tokens)
            verified = self._verify(question, draft, evidence)
            answer = Answer(**verified.fields(), timings=timings, trimmed=prepared.trimmed, **prepared.scores)
            yield StreamEvent("answer", answer.model_dump(exclude={"timings"}))
        timings.total_ms = _ms(started_all)
        yield StreamEvent("done", {"timings": timings.model_dump()})


@dataclass(frozen=True)
class Prepared:
    """Everything generation needs, once retrieval, evidence and the abstention checks have passed."""

    evidence: list[Evidence]
    prompt: str
    params: GenerationParams
    trimmed: list[str]
    scores: dict[str, float | None]  # evidence_score and answerability, reported with the answer


@dataclass(frozen=True)
class Verified:
    answer: str
    answer_type: AnswerType
    citations: list[Citation]
    sentences: list[SentenceSupport]
    removed: list[SentenceSupport]

    def fields(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "answer_type": self.answer_type,
            "citations": self.citations,
            "sentences": self.sentences,
            "removed": self.removed,
        }


@dataclass(frozen=True)
class StreamEvent:
    event: str  # delta | answer | done
    data: dict[str, Any]
