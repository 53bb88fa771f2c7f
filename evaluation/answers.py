"""Answer quality on a SQuAD file, open-book: every paragraph is a document, questions go through the pipeline.

For answerable questions: does the answer contain a gold answer, EM and token F1 (official normalisation, on
the answer without its [n] markers), and does the first citation's chunk contain a gold answer. For
unanswerable ones (SQuAD 2.0): did the service abstain. Latency per stage as p50/p95.
"""

from __future__ import annotations

import random
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evaluation.datasets import squad
from evaluation.metrics import contains_answer, exact_match, token_f1
from ingest.indexer import Indexer
from rag.pipeline import RAGPipeline

_MARKERS = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")


def index_squad(indexer: Indexer, path: Path, on_result: Callable | None = None) -> dict[str, int]:
    paragraphs, _ = squad(path)
    items = ((f"{path.stem}/{cid}.txt", (lambda text=text: text.encode())) for cid, text in paragraphs.items())
    return vars(indexer.ingest_many(items, on_result))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1) if ordered else 0.0


def evaluate_answers(
    pipeline: RAGPipeline,
    path: Path,
    limit: int | None = None,
    seed: int = 0,
    on_question: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    _, questions = squad(path)
    if limit is not None and limit < len(questions):
        questions = random.Random(seed).sample(questions, limit)
    rows = []
    for n, q in enumerate(questions, start=1):
        answer = pipeline.answer(q.question)
        text = _MARKERS.sub("", answer.answer).strip()
        abstained = answer.answer_type in ("abstained", "no_documents")
        row: dict[str, Any] = {
            "answerable": bool(q.answers),
            "abstained": abstained,
            "words": len(text.split()),
            "evidence_score": answer.evidence_score,
            **answer.timings.model_dump(),
        }
        if q.answers:
            row.update(
                contains=contains_answer(text, q.answers) and not abstained,
                em=exact_match(text, q.answers) if not abstained else 0.0,
                f1=token_f1(text, q.answers) if not abstained else 0.0,
                citation_contains=bool(answer.citations) and contains_answer(answer.citations[0].text, q.answers),
                generated=answer.answer_type == "generated",
            )
        rows.append(row)
        if on_question:
            on_question(n, len(questions))

    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def mean(key: str, subset: list[dict]) -> float:
        return round(statistics.fmean(float(r[key]) for r in subset), 4) if subset else 0.0

    result: dict[str, Any] = {
        "dataset": path.name,
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answer_contains_gold": mean("contains", answerable),
        "first_citation_contains_gold": mean("citation_contains", answerable),
        "exact_match": mean("em", answerable),
        "f1": mean("f1", answerable),
        "generated_share": mean("generated", answerable),
        "abstain_on_unanswerable": mean("abstained", unanswerable),
        "false_abstain_on_answerable": mean("abstained", answerable),
        "answer_words_avg": mean("words", [r for r in answerable if not r["abstained"]]),
    }
    result["rows"] = rows  # per question, for calibration (e.g. of the abstention floor)
    for stage in ("embed_ms", "retrieve_ms", "evidence_ms", "first_token_ms", "generate_ms", "total_ms"):
        values = [r[stage] for r in rows if r.get(stage)]
        result[f"{stage}_p50"], result[f"{stage}_p95"] = _pct(values, 0.5), _pct(values, 0.95)
    return result
