"""Long answers: CLAPNQ (grounded multi-sentence answers, and unanswerable questions) and Dolly (closed QA,
information extraction, summarization against human responses).

Open-book, as the shared sets' README asks: every passage (CLAPNQ) or context (Dolly) is indexed as its own
document, one index per set, and each question goes through the same pipeline as the API. The main figure is
content-word recall: the share of the reference answer's content words that the answer holds (the README's
normalisation, evaluation/metrics.py), with token F1 beside it so that a long answer that holds everything but
says much more is visible.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from evaluation.datasets import constant
from evaluation.metrics import content_word_recall, token_f1
from ingest.indexer import Indexer
from rag.pipeline import RAGPipeline

ABSTAINED = ("abstained", "no_documents")
DOLLY_CATEGORIES = ("closed_qa", "information_extraction", "summarization")


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 4) if values else 0.0


def _plain(answer: str) -> str:
    import re

    return re.sub(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]", "", answer).strip()


# --- CLAPNQ ---------------------------------------------------------------------------------------------------


def clapnq_files(folder: Path) -> dict[str, Path]:
    return {
        "answerable": folder / "clapnq_dev_answerable.jsonl",
        "unanswerable": folder / "clapnq_dev_unanswerable.jsonl",
    }


def clapnq_source(record_id: str, n: int) -> str:
    return f"clapnq/{record_id}-{n}.txt"


def clapnq_documents(folder: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """Each passage as a document: its title, a blank line, its text."""
    for path in clapnq_files(folder).values():
        for record in _jsonl(path):
            for n, passage in enumerate(record["passages"]):
                body = f"{passage.get('title', '')}\n\n{passage['text']}".strip().encode()
                yield clapnq_source(record["id"], n), constant(body)


def index_clapnq(indexer: Indexer, folder: Path, on_result: Callable | None = None) -> dict[str, int]:
    return vars(indexer.ingest_many(clapnq_documents(folder), on_result))


def evaluate_clapnq(
    pipeline: RAGPipeline, folder: Path, on_question: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    records = [(label, r) for label, path in clapnq_files(folder).items() for r in _jsonl(path)]
    rows: list[dict[str, Any]] = []
    for n, (label, record) in enumerate(records, start=1):
        answer = pipeline.answer(record["input"])
        abstained = answer.answer_type in ABSTAINED
        text = _plain(answer.answer)
        references = [o["answer"] for o in record.get("output", []) if o.get("answer")]
        gold = {clapnq_source(record["id"], i) for i in range(len(record["passages"]))}
        row: dict[str, Any] = {
            "id": record["id"],
            "answerable": label == "answerable",
            "abstained": abstained,
            "answer_type": answer.answer_type,
            "words": len(text.split()),
            "total_ms": answer.timings.total_ms,
        }
        if label == "answerable":
            row.update(
                content_recall=max((content_word_recall(text, ref) for ref in references), default=0.0)
                if not abstained
                else 0.0,
                f1=token_f1(text, references) if references and not abstained else 0.0,
                first_citation_gold=bool(answer.citations) and answer.citations[0].source in gold,
            )
        rows.append(row)
        if on_question:
            on_question(n, len(records))
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    return {
        "dataset": folder.name,
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "content_word_recall": _mean([r["content_recall"] for r in answerable]),
        "f1": _mean([r["f1"] for r in answerable]),
        "first_citation_gold": _mean([float(r["first_citation_gold"]) for r in answerable if not r["abstained"]]),
        "abstain_on_unanswerable": _mean([float(r["abstained"]) for r in unanswerable]),
        "false_abstain_on_answerable": _mean([float(r["abstained"]) for r in answerable]),
        "answer_words_avg": _mean([float(r["words"]) for r in answerable if not r["abstained"]]),
        "total_ms_p50": round(statistics.median([r["total_ms"] for r in rows]), 1) if rows else 0.0,
        "rows": rows,
    }


# --- Dolly ----------------------------------------------------------------------------------------------------


def dolly_records(folder: Path) -> list[dict[str, Any]]:
    return [r for category in DOLLY_CATEGORIES for r in _jsonl(folder / f"dolly_{category}.jsonl")]


def dolly_documents(folder: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    for record in dolly_records(folder):
        body = record["context"].encode()
        yield f"dolly/{record['id']}.txt", constant(body)


def index_dolly(indexer: Indexer, folder: Path, on_result: Callable | None = None) -> dict[str, int]:
    return vars(indexer.ingest_many(dolly_documents(folder), on_result))


def evaluate_dolly(
    pipeline: RAGPipeline, folder: Path, on_question: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    records = dolly_records(folder)
    rows: list[dict[str, Any]] = []
    for n, record in enumerate(records, start=1):
        answer = pipeline.answer(record["instruction"])
        abstained = answer.answer_type in ABSTAINED
        text = _plain(answer.answer)
        rows.append(
            {
                "id": record["id"],
                "category": record["category"],
                "abstained": abstained,
                "answer_type": answer.answer_type,
                "content_recall": content_word_recall(text, record["response"]) if not abstained else 0.0,
                "f1": token_f1(text, [record["response"]]) if not abstained else 0.0,
                "cites_own_context": any(c.source == f"dolly/{record['id']}.txt" for c in answer.citations),
                "words": len(text.split()),
                "total_ms": answer.timings.total_ms,
            }
        )
        if on_question:
            on_question(n, len(records))

    def summary(subset: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "questions": len(subset),
            "content_word_recall": _mean([r["content_recall"] for r in subset]),
            "f1": _mean([r["f1"] for r in subset]),
            "cites_own_context": _mean([float(r["cites_own_context"]) for r in subset]),
            "abstained": _mean([float(r["abstained"]) for r in subset]),
            "answer_words_avg": _mean([float(r["words"]) for r in subset if not r["abstained"]]),
        }

    return {
        "dataset": folder.name,
        "by_category": {c: summary([r for r in rows if r["category"] == c]) for c in DOLLY_CATEGORIES},
        "rows": rows,
    }
