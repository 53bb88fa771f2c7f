"""Answer quality on a SQuAD file, open-book: every paragraph is a document, questions go through the pipeline.

For answerable questions: does the answer contain a gold answer, EM and token F1 (official normalisation, on
the answer without its [n] markers), and does the first citation's chunk contain a gold answer. For
unanswerable ones (SQuAD 2.0): did the service abstain. Latency per stage as p50/p95, time to first token and
decode tokens/s included.
"""

from __future__ import annotations

import random
import re
import statistics
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from evaluation.datasets import squad
from evaluation.metrics import contains_answer, decode_rate, exact_match, percentile, token_f1
from ingest.indexer import Indexer
from rag.pipeline import RAGPipeline
from rag.types import Answer

_MARKERS = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")


def plain_answer(answer: str) -> str:
    """The answer without its ``[n]`` citation markers: what is scored against the gold text."""
    return _MARKERS.sub("", answer).strip()


def index_squad(indexer: Indexer, path: Path, on_result: Callable | None = None) -> dict[str, int]:
    paragraphs, _ = squad(path)
    items = ((f"{path.stem}/{cid}.txt", (lambda text=text: text.encode())) for cid, text in paragraphs.items())
    return vars(indexer.ingest_many(items, on_result))


STAGES = (
    "embed_ms",
    "retrieve_ms",
    "evidence_ms",
    "answerability_ms",
    "first_token_ms",
    "generate_ms",
    "total_ms",
    "tokens_per_s",
)


def stage_latency(rows: list[dict[str, Any]]) -> dict[str, float]:
    """``<stage>_p50`` and ``<stage>_p95`` over the rows that have the stage (abstentions never generate)."""
    out = {}
    for stage in STAGES:
        values = [r[stage] for r in rows if r.get(stage)]
        out[f"{stage}_p50"] = round(percentile(values, 0.5), 1)
        out[f"{stage}_p95"] = round(percentile(values, 0.95), 1)
    return out


def timing_row(answer: Answer) -> dict[str, Any]:
    """The answer's stage timings plus its decode speed."""
    t = answer.timings
    return {**t.model_dump(), "tokens_per_s": decode_rate(t.generated_tokens, t.generate_ms, t.first_token_ms)}


def evaluate_answers(
    pipeline: RAGPipeline,
    path: Path,
    limit: int | None = None,
    seed: int = 0,
    on_question: Callable[[int, int], None] | None = None,
    top_k: int | None = None,
    exclude_articles: Collection[str] = (),
) -> dict[str, Any]:
    """Ask a sample of the file's questions (all of them without ``limit``); ``top_k`` chunks per question.

    Questions of ``exclude_articles`` are left out before sampling: those a trained component has seen."""
    _, questions = squad(path)
    excluded = set(exclude_articles)
    questions = [q for q in questions if q.article not in excluded]
    if limit is not None and limit < len(questions):
        questions = random.Random(seed).sample(questions, limit)
    rows = []
    for n, q in enumerate(questions, start=1):
        answer = pipeline.answer(q.question, top_k=top_k)
        text = plain_answer(answer.answer)
        abstained = answer.answer_type in ("abstained", "no_documents")
        row: dict[str, Any] = {
            "answerable": bool(q.answers),
            "abstained": abstained,
            "words": len(text.split()),
            "evidence_score": answer.evidence_score,
            "answerability": answer.answerability,
            **timing_row(answer),
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
        "top_k": top_k or pipeline.default_top_k,
        "limit": limit,
        "seed": seed,
        "excluded_articles": sorted(exclude_articles),
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
    result.update(stage_latency(rows))
    result["rows"] = rows  # per question, for calibration (e.g. of the abstention floor)
    return result
