"""Question in, grounded answer out: the answer stages, wired and timed.

Each stage is a module of its own, and this class only calls them in order and records their times:

0. resolve (rag/conversation.py): a follow-up read against the conversation's earlier turns, into the standalone
   question answered below (its chunks fused with those of the question as asked), or a clarifying question;
1. retrieve (rag/retrieval.py): the chunks closest to the question;
2. classify (rag/question.py): what the question asks for (a fact, a list, steps, a summary, ...), which decides
   the answer's shape;
3. select evidence (rag/evidence.py): their sentences, scored against the question;
4. abstain (rag/abstention.py): or not, when the evidence is too weak to answer from;
5. compose, by what the question asks (``compose``; the seam where a model profile picks another path):
   - one fact or number: prompt (rag/prompt.py: the numbered evidence and the question, fitted into the model's
     window), generate (rag/generation.py: the model's draft, whole or streamed), verify (rag/verification.py:
     keep the draft's sentences the evidence backs, each cited to its sentence, else quote the best evidence);
   - anything else: composed from evidence (rag/composition.py: several sentences chosen for coverage, each
     quoted and cited on its own; a list as a list, steps in order, a yes or no when the evidence settles it);
   - with a capable model (its profile, rag/models/profile.py, says generative): the model writes the answer from
     the chunks whole and each of its sentences is verified (rag/generative.py), the above when none is supported;
6. assemble (rag/answer.py): the ``Answer``, with structured citations.

It depends only on the store and on the model ports (rag/models/ports.py), never on how documents got into the
store; what a request leaves unset comes from ``RequestDefaults`` (rag/options.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rag import generation
from rag.abstention import Abstention
from rag.answer import abstained, answered, clarification, combined, no_documents, verified_answer
from rag.composition import Composer, context_for
from rag.conversation import (
    FollowupResolver,
    ModelRewriter,
    Resolution,
    Turn,
    fuse,
    is_followup,
    with_history_retrieves_better,
)
from rag.evidence import Evidence, EvidenceSelector, Ranked
from rag.generative import ChunkPrompt, GenerativeAnswerer, is_refusal
from rag.language import detect
from rag.models.ports import GenerationParams, LanguageModel
from rag.options import AnswerOptions, RequestDefaults
from rag.prompt import build_rag_prompt, fit_to_window
from rag.question import Question, classify, parts
from rag.retrieval import RetrievalOptions, Retriever
from rag.timing import elapsed_ms
from rag.types import Answer, RetrievedChunk, Timings
from rag.verification import Verified, verify

# Chunks retrieved for each side of a comparison, besides those for the whole question.
SIDE_CHUNKS = 4


class RAGPipeline:
    """The answer stages over one retriever, evidence selector and model. ``abstention`` None never abstains."""

    def __init__(
        self,
        retriever: Retriever,
        evidence: EvidenceSelector,
        llm: LanguageModel,
        defaults: RequestDefaults,
        abstention: Abstention | None = None,
        composer: Composer | None = None,
        compose_answers: bool = True,
        compose_chunks: int = 6,
        generative: GenerativeAnswerer | None = None,
        languages: frozenset[str] | None = None,
        resolver: FollowupResolver | None = None,
    ) -> None:
        self.retriever = retriever
        self.evidence = evidence
        self.llm = llm
        self.defaults = defaults
        self.abstention = abstention or Abstention()
        self.composer = composer or Composer(following=self.following, embed=evidence.embedder.embed_cached)
        self.compose_answers = compose_answers  # False: every question gets the single-fact path (RAG_COMPOSE_ANSWERS)
        self.compose_chunks = compose_chunks  # the fewest chunks a composed answer draws on (RAG_COMPOSE_CHUNKS)
        # A capable model's path (rag/generative.py, chosen by its profile): whole chunks in, each sentence verified.
        self.generative = generative
        self.languages = languages  # the languages the model writes (its profile's); None: any
        # Follow-ups read against the conversation (rag/conversation.py): a capable model rewrites them.
        self.resolver = resolver or FollowupResolver(
            ModelRewriter(llm) if generative is not None else None, rarity=retriever.keyword.idf
        )

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
        self,
        question: str,
        options: AnswerOptions,
        timings: Timings,
        collection: str | None = None,
        retrieved: list[RetrievedChunk] | None = None,
    ) -> Prepared | Answer:
        """Retrieve (unless a follow-up's chunks were ``retrieved`` already), classify, select evidence and decide
        whether to abstain; or the final Answer when there is nothing to ask."""
        asked = classify(question)
        chunks = self.retrieve(asked, options, timings, collection) if retrieved is None else retrieved
        if not chunks:
            return no_documents(timings)
        started = time.perf_counter()
        ranked = self.evidence.rank(asked.text, chunks)
        evidence = ranked.best(self.evidence.limit)
        timings.evidence_ms = elapsed_ms(started)
        best = round(evidence[0].score, 4)
        if self.composed(asked) or (self.compose_answers and not asked.one_value):
            # A summary of a section may share no word with the question, only its heading; so may the section a
            # question about a subject names ("What's a gliding schedule?" under "Gliding": "You can arrive ...").
            by_heading = round(float(self.composer.relevance(asked, ranked).max()), 4)
            if by_heading > best and not self.composed(asked):  # that section answers it: summarised, as one would
                asked = replace(asked, type="summary")
            best = max(best, by_heading)
        if self.abstention.below_floor(best) or self.abstention.lacks_expected_answer(asked.text, evidence):
            return abstained(self.abstention.text_for(question), timings, best, question_type=asked.type)
        started = time.perf_counter()
        answerable = self.abstention.answerability(asked.text, evidence)
        if answerable is not None:
            timings.answerability_ms = elapsed_ms(started)
            if self.abstention.doubts(answerable):
                return abstained(self.abstention.text_for(question), timings, best, answerable, asked.type)
        return Prepared(asked, chunks, ranked, evidence, options, best, answerable)

    def retrieve(
        self, question: Question, options: AnswerOptions, timings: Timings, collection: str | None
    ) -> list[RetrievedChunk]:
        """The chunks to answer from: for a composed answer at least ``compose_chunks`` (a list or a summary spans
        more of a document than one fact), and for a comparison also the best chunks on each thing compared, so
        that both sides are there to quote."""
        retrieval = options.retrieval
        if not self.composed(question):
            return self.retriever.retrieve(question.text, retrieval, timings, collection)
        if retrieval.top_k < self.compose_chunks:
            retrieval = retrieval.model_copy(update={"top_k": self.compose_chunks})
        chunks = self.retriever.retrieve(question.text, retrieval, timings, collection)
        if not chunks or not question.compared:
            return chunks
        seen = {c.chunk_id for c in chunks}
        side_options = retrieval.model_copy(update={"top_k": SIDE_CHUNKS})
        for thing in question.compared:
            side_timings = Timings()
            for chunk in self.retriever.retrieve(thing, side_options, side_timings, collection):
                if chunk.chunk_id not in seen:
                    seen.add(chunk.chunk_id)
                    chunks.append(chunk.model_copy(update={"rank": len(chunks) + 1}))
            timings.embed_ms += side_timings.embed_ms
            timings.retrieve_ms += side_timings.retrieve_ms
        return chunks

    def read_followup(
        self, resolution: Resolution, options: AnswerOptions, timings: Timings, collection: str | None
    ) -> tuple[Resolution, list[RetrievedChunk] | None]:
        """A follow-up's chunks: those for the standalone question, boosted where the previous answer cited them
        (rag/conversation.py ``fuse``). A question with no follow-up cue is also retrieved as asked (one more
        embedding and BM25 query, no model call): read alone when it retrieves better so, else the two fused."""
        if not resolution.followup:
            return resolution, None
        standalone, asked = classify(resolution.standalone), classify(resolution.question)
        if not resolution.certain:  # both readings embedded in one batch: the second costs little more than one
            self.retriever.embed_ahead([standalone.text, asked.text], timings)
        with_history = self.retrieve(standalone, options, timings, collection)
        if resolution.certain:  # fusing in the question as asked found no more reference passages on MTRAG
            return resolution, fuse(with_history, (), resolution.cited_chunk_ids, len(with_history))
        side_timings = Timings()
        alone = self.retrieve(asked, options, side_timings, collection)
        timings.embed_ms += side_timings.embed_ms
        timings.retrieve_ms += side_timings.retrieve_ms
        top_k = max(len(with_history), len(alone))
        if not with_history_retrieves_better(with_history, alone):
            return resolution.as_asked(), fuse(alone, with_history, (), top_k)
        return resolution, fuse(with_history, alone, resolution.cited_chunk_ids, top_k)

    def following(self, chunk: RetrievedChunk) -> RetrievedChunk | None:
        """The chunk after ``chunk`` in its document version (ids are ``document:version:index``, ingest/indexer.py),
        for a list that runs past the end of a retrieved chunk; None at the document's end."""
        records, _ = self.retriever.store.get([f"{chunk.document_id}:{chunk.version}:{chunk.chunk_index + 1}"])
        return RetrievedChunk(**records[0].model_dump(), score=0.0, rank=chunk.rank) if records else None

    def _one_fact(self, prepared: Prepared) -> Drafting:
        """The prompt for the single-fact path: the evidence that fits the model's window."""
        params = generation.answer_params(prepared.options.generation)
        kept, prompt = self.fit_to_window(prepared.question.text, prepared.evidence, params.max_new_tokens)
        trimmed = list(dict.fromkeys(e.sentence.chunk.chunk_id for e in prepared.evidence[len(kept) :]))
        return Drafting(kept, prompt, params, trimmed)

    def writes(self, prepared: Prepared) -> bool:
        """Whether the model is asked to phrase the answer: not when it cannot write the question's language (the
        bundled model writes no Chinese; rag/models/profile.py), then the evidence itself is quoted, unframed."""
        return self.languages is None or detect(prepared.question.text) in self.languages

    def _verified_fact(self, prepared: Prepared, draft: str, drafting: Drafting) -> tuple[Verified, str]:
        """The single-fact path's answer: the draft's supported sentences (or the best evidence quoted), then the
        evidence sentences around it that score nearly as well (rag/composition.py ``with_context``); and the text
        that adds to the draft (empty when nothing does)."""
        verified = verify(prepared.question.text, draft, drafting.evidence)
        return self._read_on(prepared, verified)

    def _read_on(self, prepared: Prepared, verified: Verified) -> tuple[Verified, str]:
        """The answer followed by the evidence a person reads on with, as far as the question reaches (a little for
        one value, more for a question about a subject: rag/composition.py ``context_for``); and the text added."""
        if not self.compose_answers:
            return verified, ""
        margin, limit = context_for(prepared.question)
        return self.composer.with_context(verified, prepared.ranked, margin, limit)

    def _composed(self, prepared: Prepared) -> Verified:
        """The answer composed from evidence (rag/composition.py), read on as far as the question reaches."""
        return self._read_on(prepared, self.composer.compose(prepared.question, prepared.ranked))[0]

    def composed(self, question: Question) -> bool:
        """Whether the question's answer is composed from evidence (several sentences) rather than one fact the
        model phrases."""
        return self.compose_answers and question.shape.composed

    def composes(self, prepared: Prepared) -> bool:
        """Whether this answer is composed from evidence: the seam for other answer paths (a capable model's profile,
        rag/models/profile.py, branches here)."""
        return self.composed(prepared.question)

    def _finish(self, prepared: Prepared, verified: Verified, timings: Timings, trimmed: list[str]) -> Answer:
        return verified_answer(
            verified, timings, trimmed, prepared.evidence_score, prepared.answerability, prepared.question.type
        )

    def _chunk_prompt(self, prepared: Prepared) -> ChunkPrompt:
        """The generative path's prompt: the chunks whole, fitted to the profile's budget and the model's window."""
        assert self.generative is not None
        max_new_tokens = prepared.options.generation.max_new_tokens
        return self.generative.prompt(prepared.question.text, prepared.chunks, max_new_tokens)

    def _from_draft(self, prepared: Prepared, draft: str, chunk_prompt: ChunkPrompt, timings: Timings) -> Answer:
        """The generative path's answer: the draft's supported sentences; an abstention when the model said that the
        sources do not answer and nothing it wrote is supported; else the evidence path's answer."""
        assert self.generative is not None
        verified = self.generative.verify(prepared.question.text, draft, chunk_prompt)
        if verified is not None:
            return self._finish(prepared, verified, timings, chunk_prompt.trimmed)
        if is_refusal(draft):
            score, answerability, kind = prepared.evidence_score, prepared.answerability, prepared.question.type
            return abstained(self.abstention.text_for(prepared.question.text), timings, score, answerability, kind)
        if self.composes(prepared):
            return self._finish(prepared, self.composer.compose(prepared.question, prepared.ranked), timings, [])
        drafting = self._one_fact(prepared)
        fallback = generation.generate(self.llm, drafting.prompt, drafting.params, Timings())
        verified, _ = self._verified_fact(prepared, fallback, drafting)
        return self._finish(prepared, verified, timings, drafting.trimmed)

    # --- answering ----------------------------------------------------------------------------------------------

    def answer(
        self,
        question: str,
        top_k: int | None = None,
        params: GenerationParams | None = None,
        retrieval: RetrievalOptions | None = None,
        collection: str | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """The verified answer from documents of ``collection`` (None: every collection). ``history``: the
        conversation's earlier turns, oldest first, against which a follow-up is read (rag/conversation.py); a
        question that cannot be read gets a clarifying question (``answer_type`` clarification)."""
        started_all = time.perf_counter()
        timings = Timings()
        resolution = self.resolver.resolve(question, history)
        if resolution.clarify is not None:
            timings.total_ms = elapsed_ms(started_all)
            return clarification(resolution.clarify, timings)
        options = self.defaults.resolve(top_k=top_k, retrieval=retrieval, generation=params)
        pieces = self.parts_of(question)
        if len(pieces) > 1:
            answer = self._answer_parts(pieces, history, options, timings, collection)
        else:
            resolution, retrieved = self.read_followup(resolution, options, timings, collection)
            answer = self._answer(resolution.standalone, options, timings, collection, retrieved)
        timings.total_ms = elapsed_ms(started_all)
        return standalone(answer, resolution)

    def parts_of(self, question: str) -> list[str]:
        """The questions a question asks (rag/question.py ``parts``), each answered in turn by the evidence path; a
        capable model (``generative``) answers a question of several parts whole."""
        return [question] if self.generative is not None else parts(question)

    def _answer_parts(
        self,
        pieces: Sequence[str],
        history: Sequence[Turn],
        options: AnswerOptions,
        timings: Timings,
        collection: str | None,
    ) -> Answer:
        """A question of several parts: each part read as a follow-up of the conversation, and one that points back
        ("why does it matter?") also of the part before it ("(about: base schedule)"; rag/conversation.py), then
        retrieved and answered on its own; the answers joined (rag/answer.py ``combined``), saying which parts the
        documents do not answer. A part that names its own subject is not read with the part before: one message's
        parts are separate questions, where a conversation's next turn may not be."""
        answers: list[tuple[str, Answer]] = []
        before: Turn | None = None
        for piece in pieces:
            turns = [*history, before] if before is not None and is_followup(piece) else list(history)
            resolution = self.resolver.resolve(piece, turns)
            if resolution.clarify is not None:  # the whole question named what it needs; a part may lean on it
                resolution = Resolution(question=piece, standalone=piece)
            resolution, retrieved = self.read_followup(resolution, options, timings, collection)
            answers.append((piece, self._answer(resolution.standalone, options, timings, collection, retrieved)))
            before = Turn(question=piece, answer="", standalone=resolution.standalone)
        return combined(answers, self.abstention.part_text_for, timings)

    def _answer(
        self,
        question: str,
        options: AnswerOptions,
        timings: Timings,
        collection: str | None,
        retrieved: list[RetrievedChunk] | None,
    ) -> Answer:
        """The answer to ``question`` (a follow-up's standalone question, its chunks already ``retrieved``)."""
        prepared = self._prepare(question, options, timings, collection, retrieved)
        if isinstance(prepared, Answer):
            return prepared
        if self.generative is not None:
            chunk_prompt = self._chunk_prompt(prepared)
            draft = generation.generate(self.llm, chunk_prompt.prompt, prepared.options.generation, timings)
            return self._from_draft(prepared, draft, chunk_prompt, timings)
        if self.composes(prepared):
            verified, trimmed = self._composed(prepared), []
        else:
            drafting = self._one_fact(prepared)
            draft = (
                generation.generate(self.llm, drafting.prompt, drafting.params, timings)
                if self.writes(prepared)
                else ""
            )
            verified, trimmed = self._verified_fact(prepared, draft, drafting)[0], drafting.trimmed
        return self._finish(prepared, verified, timings, trimmed)

    def answer_stream(
        self,
        question: str,
        top_k: int | None = None,
        params: GenerationParams | None = None,
        retrieval: RetrievalOptions | None = None,
        collection: str | None = None,
        history: Sequence[Turn] = (),
    ) -> Iterator[StreamEvent]:
        """The answer as events: ``delta`` (model text as it is decoded; a composed answer comes whole, in one),
        ``answer`` (the verified answer and its citations; replaces the streamed text when ``answer_type`` is
        ``extractive``), then ``done``."""
        started_all = time.perf_counter()
        timings = Timings()
        resolution = self.resolver.resolve(question, history)
        options = self.defaults.resolve(top_k=top_k, retrieval=retrieval, generation=params)
        prepared: Prepared | Answer
        pieces = self.parts_of(question)
        if resolution.clarify is not None:
            prepared = clarification(resolution.clarify, timings)
        elif len(pieces) > 1:  # each part answered in turn; the joined answer comes whole, in one delta
            prepared = self._answer_parts(pieces, history, options, timings, collection)
            if answered(prepared):
                timings.first_token_ms = elapsed_ms(started_all)
                yield StreamEvent("delta", {"text": prepared.answer})
                yield StreamEvent("answer", standalone(prepared, resolution).model_dump(exclude={"timings"}))
                timings.total_ms = elapsed_ms(started_all)
                yield StreamEvent("done", {"timings": timings.model_dump()})
                return
        else:
            resolution, retrieved = self.read_followup(resolution, options, timings, collection)
            prepared = self._prepare(resolution.standalone, options, timings, collection, retrieved)
        if isinstance(prepared, Answer):
            yield StreamEvent(
                "answer",
                standalone(prepared, resolution).model_dump(
                    include={"answer", "answer_type", "question_type", "citations", "trimmed", "standalone_question"}
                ),
            )
        elif self.generative is not None:
            chunk_prompt = self._chunk_prompt(prepared)
            stream = generation.stream(self.llm, chunk_prompt.prompt, prepared.options.generation, timings)
            for delta in stream:
                yield StreamEvent("delta", {"text": delta})
            answer = self._from_draft(prepared, stream.text, chunk_prompt, timings)
            yield StreamEvent("answer", standalone(answer, resolution).model_dump(exclude={"timings"}))
        elif self.composes(prepared):
            verified = self._composed(prepared)
            timings.first_token_ms = elapsed_ms(started_all)
            yield StreamEvent("delta", {"text": verified.answer})
            answer = self._finish(prepared, verified, timings, [])
            yield StreamEvent("answer", standalone(answer, resolution).model_dump(exclude={"timings"}))
        else:
            drafting = self._one_fact(prepared)
            text = ""
            if self.writes(prepared):
                draft = generation.stream(self.llm, drafting.prompt, drafting.params, timings)
                for delta in draft:
                    yield StreamEvent("delta", {"text": delta})
                text = draft.text
            verified, added = self._verified_fact(prepared, text, drafting)
            if added and verified.answer_type == "generated":  # the streamed text stands; its context follows it
                yield StreamEvent("delta", {"text": added})
            answer = self._finish(prepared, verified, timings, drafting.trimmed)
            yield StreamEvent("answer", standalone(answer, resolution).model_dump(exclude={"timings"}))
        timings.total_ms = elapsed_ms(started_all)
        yield StreamEvent("done", {"timings": timings.model_dump()})


def standalone(answer: Answer, resolution: Resolution) -> Answer:
    """The answer with the standalone question it answered, when that is not the question as asked."""
    answer.standalone_question = resolution.standalone if resolution.changed else None
    return answer


@dataclass(frozen=True)
class Prepared:
    """What answering needs once retrieval, evidence and the abstention checks have passed."""

    question: Question
    chunks: list[RetrievedChunk]
    ranked: Ranked  # every evidence sentence, scored
    evidence: list[Evidence]  # the best few, as the abstention checks and the single-fact prompt see them
    options: AnswerOptions
    evidence_score: float  # reported with the answer, as is the answerability (None when not checked)
    answerability: float | None


@dataclass(frozen=True)
class Drafting:
    """The single-fact path's prompt: the evidence that fits the model's window, and the chunks left out."""

    evidence: list[Evidence]
    prompt: str
    params: GenerationParams
    trimmed: list[str]


@dataclass(frozen=True)
class StreamEvent:
    event: str  # delta | answer | done
    data: dict[str, Any]
