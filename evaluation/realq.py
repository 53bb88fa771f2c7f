"""Realistic questions over real documents (``realq-dev``): does the answer hold the key facts a right answer needs?

The set (``../shared/evaldata/realq-dev``): ``questions.json`` lists questions of several types (fact, numeric,
list, procedure, summary, comparison, yes/no, unanswerable, follow-up) in English and Chinese, each with the key
facts a right answer contains (each fact a list of literal variants) and the documents that hold them; the
documents are under ``docs/``. Scoring follows the set's README: a fact is found when a variant is a substring of
the answer (NFKC, lower case, white space collapsed; the answer's ``[n]`` markers left out); an abstention gets no
credit; unanswerable questions score whether the service abstained; a citation hits when a cited source is an
expected document.

Follow-up questions need the conversation: by default (``followups="history"``) the earlier turns are asked
first and each answer, with its citations, becomes history for the next (rag/conversation.py), as the set's README
says; ``"alone"`` asks the last turn without them (the service before conversations), ``"skip"`` leaves them out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evaluation.answers import plain_answer, stage_latency, timing_row
from evaluation.metrics import key_facts_found, mean_or_none, shares
from ingest.indexer import Indexer
from rag.conversation import Turn
from rag.pipeline import RAGPipeline

ABSTAINED = ("abstained", "no_documents")
Followups = Literal["skip", "alone", "history"]


@dataclass(frozen=True)
class RealQuestion:
    id: str
    type: str
    lang: str
    turns: list[str]
    expected_docs: list[str]  # source names as indexed (see ``source_name``)
    key_facts: list[list[str]]

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"

    @property
    def followup(self) -> bool:
        """Needs the earlier turns of its conversation."""
        return len(self.turns) > 1


def source_name(relative: str) -> str:
    """The name a document of the set is uploaded under: its path below ``docs/`` with ``/`` as ``__``."""
    return relative.removeprefix("docs/").replace("/", "__")


def load_questions(folder: Path) -> list[RealQuestion]:
    items = json.loads((folder / "questions.json").read_text(encoding="utf-8"))
    return [
        RealQuestion(
            id=item["id"],
            type=item["type"],
            lang=item.get("lang", "en"),
            turns=[t["question"] for t in item["turns"]],
            expected_docs=[source_name(d) for d in item.get("expected_docs", [])],
            key_facts=item.get("key_facts", []),
        )
        for item in items
    ]


def documents(folder: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """Every file under ``docs/`` as a lazily read (source, read) item, named by ``source_name``."""
    root = folder / "docs"
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        yield source_name(path.relative_to(root).as_posix()), path.read_bytes


def index_realq(indexer: Indexer, folder: Path, on_result: Callable | None = None) -> dict[str, int]:
    return vars(indexer.ingest_many(documents(folder), on_result))


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Key-fact recall, all facts present, citation hit and false abstention over answerable rows; abstention
    over unanswerable ones (None where a group has no such rows); answers by type and total latency over all."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "key_fact_recall": mean_or_none([r["recall"] for r in answerable]),
        # the same with unanswerable questions counted as 0, as the figures quoted in issue 14 were computed
        "key_fact_recall_all_questions": mean_or_none([r["recall"] if r["answerable"] else 0.0 for r in rows]),
        "all_facts_present": mean_or_none([float(r["all_facts"]) for r in answerable]),
        "citation_hit": mean_or_none([float(r["citation_hit"]) for r in answerable]),
        "false_abstain": mean_or_none([float(r["abstained"]) for r in answerable]),
        "abstain_on_unanswerable": mean_or_none([float(r["abstained"]) for r in unanswerable]),
        "answer_words_avg": mean_or_none([float(r["words"]) for r in answerable if not r["abstained"]]),
        "answer_types": shares([r["answer_type"] for r in rows]),
        "total_ms_p50": stage_latency(rows)["total_ms_p50"] if rows else None,
    }


def conversation(pipeline: RAGPipeline, turns: list[str]) -> list[Turn]:
    """The earlier turns asked in order, each with the ones before as history: the history of the last turn."""
    history: list[Turn] = []
    for turn in turns:
        answer = pipeline.answer(turn, history=history)
        cited = tuple(dict.fromkeys(c.chunk_id for c in answer.citations))
        history.append(Turn(turn, answer.answer, cited, answer.standalone_question))
    return history


def ask(pipeline: RAGPipeline, q: RealQuestion, history: bool = False) -> dict[str, Any]:
    """One question asked (its last turn; with ``history``, after its earlier turns) and scored: a row."""
    turns = conversation(pipeline, q.turns[:-1]) if history else []
    answer = pipeline.answer(q.turns[-1], history=turns)
    abstained = answer.answer_type in ABSTAINED
    text = plain_answer(answer.answer)
    found = key_facts_found(text, q.key_facts) if not abstained else [False] * len(q.key_facts)
    cited = list(dict.fromkeys(c.source for c in answer.citations))
    return {
        "id": q.id,
        "type": q.type,
        "lang": q.lang,
        "answerable": q.answerable,
        "question": q.turns[-1],
        "standalone": answer.standalone_question,
        "answer": answer.answer,
        "answer_type": answer.answer_type,
        "abstained": abstained,
        "facts_found": found,
        "recall": sum(found) / len(found) if found else 0.0,
        "all_facts": bool(found) and all(found),
        "citation_hit": any(s in q.expected_docs for s in cited),
        "cited": cited,
        "words": len(text.split()),
        **timing_row(answer),
    }


def evaluate_realq(
    pipeline: RAGPipeline,
    folder: Path,
    followups: Followups = "skip",
    on_question: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Ask every question (follow-ups as ``followups`` says); the summary overall, by language, by type (all
    languages and English only), latency per stage."""
    questions = [q for q in load_questions(folder) if followups != "skip" or not q.followup]
    rows: list[dict[str, Any]] = []
    for n, q in enumerate(questions, start=1):
        rows.append(ask(pipeline, q, history=followups == "history"))
        if on_question:
            on_question(n, len(questions))
    return {"dataset": folder.name, "followups": followups, **realq_summary(rows), "rows": rows}


def realq_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures over realq rows: overall, by language, by type (all languages and English only), latency."""
    types = sorted({r["type"] for r in rows})
    english = [r for r in rows if r["lang"] == "en"]
    return {
        "overall": summarize(rows),
        "by_language": {
            lang: summarize([r for r in rows if r["lang"] == lang]) for lang in sorted({r["lang"] for r in rows})
        },
        "by_type": {t: summarize([r for r in rows if r["type"] == t]) for t in types},
        "by_type_english": {
            t: summarize([r for r in english if r["type"] == t]) for t in types if any(r["type"] == t for r in english)
        },
        "latency": stage_latency(rows),
    }
