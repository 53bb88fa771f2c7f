"""Realistic questions over real documents (``realq-dev``): does the answer hold the key facts a right answer needs?

The set (``../shared/evaldata/realq-dev``): ``questions.json`` lists questions of several types (fact, numeric,
list, procedure, summary, comparison, yes/no, unanswerable, follow-up) in English and Chinese, each with the key
facts a right answer contains (each fact a list of literal variants) and the documents that hold them; the
documents are under ``docs/``. Scoring follows the set's README: a fact is found when a variant is a substring of
the answer (NFKC, lower case, white space collapsed); an abstention gets no credit; unanswerable questions score
whether the service abstained; a citation hits when a cited source is an expected document.

Follow-up questions need the conversation; until the service keeps one they are left out unless asked to be
asked alone (``followups="alone"``: the last turn without the earlier ones), which shows what is lost.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evaluation.metrics import key_facts_found
from ingest.indexer import Indexer
from rag.pipeline import RAGPipeline

ABSTAINED = ("abstained", "no_documents")


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


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 4) if values else 0.0


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Key-fact recall, all facts present, citation hit and false abstention over answerable rows; abstention
    over unanswerable ones."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    return {
        "questions": len(rows),
        "key_fact_recall": _mean([r["recall"] for r in answerable]),
        "all_facts_present": _mean([float(r["all_facts"]) for r in answerable]),
        "citation_hit": _mean([float(r["citation_hit"]) for r in answerable]),
        "false_abstain": _mean([float(r["abstained"]) for r in answerable]),
        "abstain_on_unanswerable": _mean([float(r["abstained"]) for r in unanswerable]),
        "answer_words_avg": _mean([float(r["words"]) for r in answerable if not r["abstained"]]),
        "total_ms_p50": round(statistics.median([r["total_ms"] for r in rows]), 1) if rows else 0.0,
    }


def evaluate_realq(
    pipeline: RAGPipeline,
    folder: Path,
    followups: Literal["skip", "alone"] = "skip",
    on_question: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Ask every question (follow-ups as ``followups`` says); the summary overall, by type and by language."""
    questions = [q for q in load_questions(folder) if followups == "alone" or len(q.turns) == 1]
    rows: list[dict[str, Any]] = []
    for n, q in enumerate(questions, start=1):
        answer = pipeline.answer(q.turns[-1])
        abstained = answer.answer_type in ABSTAINED
        found = key_facts_found(answer.answer, q.key_facts) if not abstained else [False] * len(q.key_facts)
        cited = [c.source for c in answer.citations]
        rows.append(
            {
                "id": q.id,
                "type": q.type,
                "lang": q.lang,
                "answerable": q.answerable,
                "question": q.turns[-1],
                "answer": answer.answer,
                "answer_type": answer.answer_type,
                "abstained": abstained,
                "facts_found": found,
                "recall": sum(found) / len(found) if found else 0.0,
                "all_facts": bool(found) and all(found),
                "citation_hit": any(s in q.expected_docs for s in cited),
                "cited": cited,
                "words": len(answer.answer.split()),
                "total_ms": answer.timings.total_ms,
            }
        )
        if on_question:
            on_question(n, len(questions))
    types = sorted({r["type"] for r in rows})
    langs = sorted({r["lang"] for r in rows})
    return {
        "dataset": folder.name,
        "followups": followups,
        "overall": summarize(rows),
        "by_language": {lang: summarize([r for r in rows if r["lang"] == lang]) for lang in langs},
        "by_type": {t: summarize([r for r in rows if r["type"] == t]) for t in types},
        "by_type_english": {t: summarize([r for r in rows if r["type"] == t and r["lang"] == "en"]) for t in types},
        "rows": rows,
    }
