"""RGB (Chen et al., 2024, "Benchmarking LLMs in Retrieval-Augmented Generation"): abstention on questions the
documents do not cover, and answers among noise (issue #14).

Each question of ``en_fact.json`` comes with its own passages: ``positive`` ones that hold the answer,
``negative`` ones about the same topic that do not, and ``positive_wrong`` ones, the positives with the answer
replaced by ``fakeanswer``. Each question is asked against its own passages only: every (question, mode) pair is a
collection (tenant) of its own, and ``pipeline.answer(..., collection=...)`` retrieves from it alone. Modes:

- ``negative`` (negative rejection): only the negative passages; the right behaviour is to abstain.
- ``noise`` (noise robustness): positive and negative passages; the answer should contain the gold answer and the
  first citation should be a positive passage.
- ``counterfactual`` (optional): only the ``positive_wrong`` passages; how often the fake answer is repeated.

A gold answer is a string, or a list of parts that must all be present, each a string or a list of alternatives
(RGB's own rule); text is normalised as SQuAD does (evaluation/metrics.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from evaluation.answers import plain_answer, stage_latency, timing_row
from evaluation.datasets import constant
from evaluation.longform import ABSTAINED, sample
from evaluation.metrics import contains_answer, mean_or_none, shares
from ingest.indexer import Indexer
from rag.pipeline import RAGPipeline

Mode = Literal["negative", "noise", "counterfactual"]
MODES: tuple[Mode, ...] = ("negative", "noise", "counterfactual")
DEFAULT_MODES: tuple[Mode, ...] = ("negative", "noise")
DEFAULT_FILE = "en_fact.json"
# The passage kinds each mode indexes, positives first: the indexer keeps the first name of a text it is given
# twice in one collection, so a text that is also a negative one counts as the positive it is.
KINDS: dict[Mode, tuple[str, ...]] = {
    "negative": ("negative",),
    "noise": ("positive", "negative"),
    "counterfactual": ("positive_wrong",),
}

Gold = list[list[str]]  # parts that must all be present, each a list of alternatives


class RGBQuestion(BaseModel):
    """One line of an RGB file, with the gold answer in one shape."""

    id: int
    query: str
    answer: Gold
    fakeanswer: list[str]
    positive: list[str]
    negative: list[str]
    positive_wrong: list[str] = []

    def passages(self, kind: str) -> list[str]:
        return list(getattr(self, kind))


def gold_parts(answer: str | Sequence[Any]) -> Gold:
    """RGB's answer field as parts: a string is one part; a list holds parts, each a string or alternatives."""
    if isinstance(answer, str):
        return [[answer]]
    return [[part] if isinstance(part, str) else [str(a) for a in part] for part in answer]


def contains_gold(text: str, gold: Gold) -> bool:
    """Every part of the gold answer is in the text (any alternative of it), after SQuAD normalisation."""
    return bool(gold) and all(contains_answer(text, alternatives) for alternatives in gold)


def rgb_file(path: Path) -> Path:
    """The RGB file itself, or ``en_fact.json`` in the folder given."""
    return path / DEFAULT_FILE if path.is_dir() else path


def load_rgb(path: Path) -> list[RGBQuestion]:
    """The questions of an RGB json-lines file, in file order."""
    questions = []
    with rgb_file(path).open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                fake = record.get("fakeanswer", [])
                questions.append(
                    RGBQuestion(
                        **{k: v for k, v in record.items() if k not in ("answer", "fakeanswer")},
                        answer=gold_parts(record["answer"]),
                        fakeanswer=[fake] if isinstance(fake, str) else [str(f) for f in fake],
                    )
                )
    return questions


def rgb_collection(question_id: int, mode: Mode) -> str:
    """The collection (tenant) that holds one question's passages for one mode."""
    return f"rgb-{question_id}-{mode}"


def rgb_source(question_id: int, kind: str, n: int) -> str:
    return f"rgb/{question_id}/{kind}-{n}.txt"


def _documents(question: RGBQuestion, mode: Mode) -> Iterator[tuple[str, Callable[[], bytes]]]:
    for kind in KINDS[mode]:
        for n, text in enumerate(question.passages(kind)):
            yield rgb_source(question.id, kind, n), constant(text.encode())


def index_rgb(
    indexer: Indexer,
    questions: Sequence[RGBQuestion],
    modes: Sequence[Mode],
    on_result: Callable | None = None,
) -> dict[str, int]:
    """Each question's passages for each mode, in that pair's own collection; the counts summed."""
    totals: dict[str, int] = {}
    for question in questions:
        for mode in modes:
            counts = vars(indexer.ingest_many(_documents(question, mode), on_result, rgb_collection(question.id, mode)))
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
    return totals


def _row(question: RGBQuestion, mode: Mode, pipeline: RAGPipeline) -> dict[str, Any]:
    answer = pipeline.answer(question.query, collection=rgb_collection(question.id, mode))
    abstained = answer.answer_type in ABSTAINED
    text = "" if abstained else plain_answer(answer.answer)
    first = answer.citations[0].source if answer.citations else None
    return {
        "id": question.id,
        "mode": mode,
        "question": question.query,
        "answer": answer.answer,
        "answer_type": answer.answer_type,
        "abstained": abstained,
        "contains_gold": contains_gold(text, question.answer),
        "contains_fake": contains_gold(text, [question.fakeanswer]),
        "first_citation": first,
        "first_citation_positive": first is not None and first.startswith(f"rgb/{question.id}/positive-"),
        "negatives_hold_gold": any(contains_gold(p, question.answer) for p in question.negative),
        "evidence_score": answer.evidence_score,
        "answerability": answer.answerability,
        **timing_row(answer),
    }


def evaluate_rgb(
    pipeline: RAGPipeline,
    questions: Sequence[RGBQuestion],
    modes: Sequence[Mode] = DEFAULT_MODES,
    on_question: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Ask every question once per mode, each against its own collection; one row per (question, mode)."""
    rows = []
    total = len(questions) * len(modes)
    for question in questions:
        for mode in modes:
            rows.append(_row(question, mode, pipeline))
            if on_question:
                on_question(len(rows), total)
    return rows


def _mode_summary(mode: Mode, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one mode: what its right behaviour is, and how often it happened."""

    def share(key: str, subset: list[dict[str, Any]] | None = None) -> float | None:
        return mean_or_none([float(r[key]) for r in (rows if subset is None else subset)])

    answered = [r for r in rows if not r["abstained"]]
    summary: dict[str, Any] = {"questions": len(rows), "answer_types": shares([r["answer_type"] for r in rows])}
    if mode == "negative":
        clean = [r for r in rows if not r["negatives_hold_gold"]]
        summary.update(
            abstained=share("abstained"),
            abstained_where_negatives_lack_gold=share("abstained", clean),
            negatives_hold_gold=len(rows) - len(clean),
            answered_with_gold=share("contains_gold"),
        )
    elif mode == "noise":
        summary.update(
            contains_gold=share("contains_gold"),
            first_citation_positive=share("first_citation_positive"),
            false_abstention=share("abstained"),
            contains_gold_of_answers=share("contains_gold", answered),
            first_citation_positive_of_answers=share("first_citation_positive", answered),
        )
    else:
        summary.update(
            gives_fake=share("contains_fake"),
            gives_gold=share("contains_gold"),
            abstained=share("abstained"),
            gives_fake_of_answers=share("contains_fake", answered),
        )
    return summary


def rgb_summary(rows: list[dict[str, Any]], modes: Sequence[Mode]) -> dict[str, Any]:
    """Per mode its figures, and latency per stage over every row."""
    return {
        "questions": len({r["id"] for r in rows}),
        "modes": {m: _mode_summary(m, [r for r in rows if r["mode"] == m]) for m in modes},
        "latency": stage_latency(rows),
    }


def run_questions(path: Path, limit: int | None, seed: int) -> list[RGBQuestion]:
    """The questions a run asks: all, or a random sample of ``limit`` in file order."""
    return sample(load_rgb(path), limit, seed)


def rgb_result(
    path: Path, rows: list[dict[str, Any]], modes: Sequence[Mode], limit: int | None, seed: int
) -> dict[str, Any]:
    return {
        "dataset": rgb_file(path).name,
        "limit": limit,
        "seed": seed,
        **rgb_summary(rows, modes),
        "rows": rows,
    }
