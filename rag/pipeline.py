"""Question in, grounded answer out: embed, retrieve, select evidence, prompt, generate, verify, cite.

Each step is a small component; this class wires them and times them. It depends only on the store and the
models, never on how documents got into the store.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rag.citations import strip_invalid_markers, to_citation
from rag.evidence import Evidence, Sentence, check_support, embedding_texts, select_evidence, split_sentences
from rag.models.llm import LLM, GenerationParams
from rag.prompts import build_rag_prompt
from rag.retrieval import RetrievalOptions, Retriever
from rag.types import Answer, AnswerType, RetrievedChunk, Timings

NO_DOCUMENTS_ANSWER = "No indexed document matches the question, so there is nothing to answer from."
# The prompt asks for one sentence; a blank line means the model has moved on to something else.
ANSWER_STOPS = ["\n\n"]


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


class RAGPipeline:
    def __init__(
        self,
        retriever: Retriever,
        llm: LLM,
        default_top_k: int,
        default_max_new_tokens: int,
        evidence_sentences: int = 3,
    ) -> None:
        self.retriever = retriever
        self.llm = llm
        self.default_top_k = default_top_k
        self.default_max_new_tokens = default_max_new_tokens
        self.evidence_sentences = evidence_sentences

    def gather_evidence(self, question: str, chunks: Sequence[RetrievedChunk]) -> list[Evidence]:
        sentences = [s for chunk in chunks for s in split_sentences(chunk)]
        if not sentences:  # chunks without full sentences (tables, lists of words): use them whole
            sentences = [Sentence(c, c.text, c.start, c.end) for c in chunks]
        vectors = self.retriever.embedder.embed([question, *embedding_texts(sentences)])
        return select_evidence(vectors[0], sentences, vectors[1:], question, self.evidence_sentences)

    def prompt_for(self, question: str, evidence: Sequence[Evidence]) -> str:
        return build_rag_prompt(self.llm.family, question, evidence)

    def answer(
        self,
        question: str,
        top_k: int | None = None,
        params: GenerationParams | None = None,
        retrieval: RetrievalOptions | None = None,
    ) -> Answer:
        started_all = time.perf_counter()
        timings = Timings()
        retrieval = retrieval or RetrievalOptions(top_k=self.default_top_k)
        if top_k is not None:
            retrieval = retrieval.model_copy(update={"top_k": top_k})
        chunks = self.retriever.retrieve(question, retrieval, timings)
        if not chunks:
            timings.total_ms = _ms(started_all)
            return Answer(answer=NO_DOCUMENTS_ANSWER, answer_type="no_documents", citations=[], timings=timings)

        started = time.perf_counter()
        evidence = self.gather_evidence(question, chunks)
        timings.evidence_ms = _ms(started)

        params = params or GenerationParams(max_new_tokens=self.default_max_new_tokens)
        params = params.model_copy(update={"stop": [*params.stop, *ANSWER_STOPS]})
        started = time.perf_counter()
        generation = self.llm.generate(self.prompt_for(question, evidence), params)
        timings.generate_ms = _ms(started)
        timings.first_token_ms = generation.first_token_ms
        timings.prompt_tokens = generation.prompt_tokens
        timings.generated_tokens = generation.generated_tokens

        text = strip_invalid_markers(generation.text, {e.number for e in evidence})
        support = check_support(text, evidence, question)
        if support.supported and support.evidence is not None:
            # Cite the sentence that was checked to support the answer, whatever number the model wrote.
            text = f"{strip_invalid_markers(text, set())} [{support.evidence.number}]"
            citations = [to_citation(support.evidence, support.evidence.number)]
            answer_type: AnswerType = "generated"
        else:
            best = evidence[0]
            text = f"{best.sentence.flat} [{best.number}]"
            citations = [to_citation(best, best.number)]
            answer_type = "extractive"
        timings.total_ms = _ms(started_all)
        return Answer(answer=text, answer_type=answer_type, citations=citations, timings=timings)
