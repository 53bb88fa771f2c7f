"""Conversations: MTRAG-UN (IBM, 2025), multi-turn questions to a RAG assistant, replayed turn by turn.

The set (``../shared/evaldata/mtrag-un-half``): ``reference.jsonl`` has one task a line, the conversation so far
(``input``: user and agent turns, the last a user turn), the reference passages (``contexts``), a reference answer
(``targets``) and the task's ``answerability`` (ANSWERABLE, UNANSWERABLE, UNDERSPECIFIED, PARTIAL);
``corpus.jsonl`` pools the reference passages (BEIR style). Open-book, as the sets' README asks: every passage is
indexed as its own document, one index for the set.

Each task's earlier turns are given as history (the user turns and the reference agent turns, as the set gives
them: a replay, so one weak answer does not spoil the turns after it) and the last user turn is asked. Scored: the
reference answer's content words the answer holds (answerable and partial tasks; an abstention scores 0), whether a
reference passage is cited, abstention (right on UNANSWERABLE, false on ANSWERABLE), a clarifying question (right
on UNDERSPECIFIED, false elsewhere). ``history=False`` asks the last turn alone: the service before conversations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from evaluation.answers import plain_answer, stage_latency, timing_row
from evaluation.datasets import constant
from evaluation.longform import sample
from evaluation.metrics import content_word_recall, mean_or_none, percentile, shares
from evaluation.report import _grouped_bars, _latency_table, _table
from ingest.indexer import Indexer
from rag.conversation import Turn
from rag.pipeline import RAGPipeline

ABSTAINED = ("abstained", "no_documents")
LABELS = ("ANSWERABLE", "PARTIAL", "UNANSWERABLE", "UNDERSPECIFIED")
PARTS = {"even": 0, "odd": 1}  # ``part``: the remainder of a task's position (from 0) divided by 2


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def passage_source(passage_id: str) -> str:
    return f"mtrag/{passage_id}.txt"


def _bodies(folder: Path) -> Iterator[tuple[str, bytes]]:
    for record in _jsonl(folder / "corpus.jsonl"):
        yield passage_source(record["_id"]), f"{record.get('title', '')}\n\n{record['text']}".strip().encode()


def mtrag_documents(folder: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    for source, body in _bodies(folder):
        yield source, constant(body)


def index_mtrag(indexer: Indexer, folder: Path, on_result: Callable | None = None) -> dict[str, int]:
    return vars(indexer.ingest_many(mtrag_documents(folder), on_result))


def _aliases(folder: Path) -> dict[str, set[str]]:
    """Each passage's source -> every source with the same text (the indexer keeps one document per content)."""
    by_body: dict[bytes, set[str]] = {}
    names: dict[str, bytes] = {}
    for name, body in _bodies(folder):
        by_body.setdefault(body, set()).add(name)
        names[name] = body
    return {name: by_body[body] for name, body in names.items()}


def history_of(task: dict[str, Any]) -> tuple[list[Turn], str]:
    """The task's earlier exchanges as turns (each user turn with the agent turn after it) and its last question."""
    turns = task["input"]
    question = turns[-1]["text"].strip()
    history: list[Turn] = []
    pending: str | None = None
    for turn in turns[:-1]:
        if turn["speaker"] == "user":
            if pending is not None:
                history.append(Turn(question=pending, answer=""))
            pending = turn["text"].strip()
        elif pending is not None:
            history.append(Turn(question=pending, answer=turn["text"].strip()))
            pending = None
    if pending is not None:
        history.append(Turn(question=pending, answer=""))
    return history, question


def label_of(task: dict[str, Any]) -> str:
    value = task.get("answerability")
    return (value[0] if isinstance(value, list) and value else str(value or "")).upper()


def ask(
    pipeline: RAGPipeline, task: dict[str, Any], aliases: dict[str, set[str]], history: bool, index: int = 0
) -> dict[str, Any]:
    """One task asked (its last user turn, with or without its earlier turns) and scored: a row of the result;
    ``index`` is the task's position in reference.jsonl (which half it is in)."""
    turns, question = history_of(task)
    answer = pipeline.answer(question, history=turns if history else ())
    label = label_of(task)
    abstained = answer.answer_type in ABSTAINED
    clarified = answer.answer_type == "clarification"
    text = plain_answer(answer.answer)
    references = [t["text"] for t in task.get("targets", []) if t.get("text")]
    gold = {a for c in task.get("contexts", []) for a in aliases.get(passage_source(c["document_id"]), set())}
    cited = list(dict.fromkeys(c.source for c in answer.citations))
    scored = label in ("ANSWERABLE", "PARTIAL") and not abstained and not clarified
    return {
        "id": task["task_id"],
        "index": index,
        "label": label,
        "followup": len(turns) > 0,
        "multi_turn": (task.get("Multi-Turn") or ["N/A"])[0],
        "question": question,
        "standalone": answer.standalone_question,
        "answer": answer.answer,
        "answer_type": answer.answer_type,
        "abstained": abstained,
        "clarified": clarified,
        "content_recall": max((content_word_recall(text, r) for r in references), default=0.0) if scored else 0.0,
        "reference_cited": bool(gold) and any(s in gold for s in cited),
        "has_reference": bool(gold),
        "cited": cited,
        "words": len(text.split()),
        "evidence_score": answer.evidence_score,
        "answerability": answer.answerability,
        **timing_row(answer),
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures over a group of rows (None where the group has no rows of a kind)."""
    answerable = [r for r in rows if r["label"] == "ANSWERABLE"]
    with_reference = [r for r in answerable if r["has_reference"]]
    totals = [r["total_ms"] for r in rows]
    return {
        "tasks": len(rows),
        "content_recall_answerable": mean_or_none([r["content_recall"] for r in answerable]),
        "content_recall_partial": mean_or_none([r["content_recall"] for r in rows if r["label"] == "PARTIAL"]),
        "reference_cited_answerable": mean_or_none([float(r["reference_cited"]) for r in with_reference]),
        "false_abstain_answerable": mean_or_none([float(r["abstained"]) for r in answerable]),
        "false_clarify_answerable": mean_or_none([float(r["clarified"]) for r in answerable]),
        "abstain_unanswerable": mean_or_none([float(r["abstained"]) for r in rows if r["label"] == "UNANSWERABLE"]),
        "clarify_underspecified": mean_or_none([float(r["clarified"]) for r in rows if r["label"] == "UNDERSPECIFIED"]),
        "abstain_underspecified": mean_or_none([float(r["abstained"]) for r in rows if r["label"] == "UNDERSPECIFIED"]),
        "false_clarify_not_underspecified": mean_or_none(
            [float(r["clarified"]) for r in rows if r["label"] != "UNDERSPECIFIED"]
        ),
        "answer_words_avg": mean_or_none([float(r["words"]) for r in answerable if not r["abstained"]]),
        "answer_types": shares([r["answer_type"] for r in rows]),
        "total_ms_p50": round(percentile(totals, 0.5), 1) if totals else None,
    }


def evaluate_mtrag(
    pipeline: RAGPipeline,
    folder: Path,
    on_task: Callable[[int, int], None] | None = None,
    *,
    history: bool = True,
    limit: int | None = None,
    seed: int = 0,
    part: Literal["odd", "even"] | None = None,
) -> dict[str, Any]:
    """Ask every task (or a seeded sample of ``limit``; ``part``: only the tasks at odd or even positions of
    reference.jsonl, counted from 0, so that a constant fitted on one half is reported on the other); the summary
    overall, by answerability label, by first turn vs follow-up (and both), latency per stage."""
    indexed = [(i, t) for i, t in enumerate(_jsonl(folder / "reference.jsonl")) if part is None or i % 2 == PARTS[part]]
    tasks = sample(indexed, limit, seed)
    aliases = _aliases(folder)
    rows: list[dict[str, Any]] = []
    for n, (index, task) in enumerate(tasks, start=1):
        rows.append(ask(pipeline, task, aliases, history, index))
        if on_task:
            on_task(n, len(tasks))
    return {
        "dataset": folder.name,
        "history": history,
        "limit": limit,
        "seed": seed,
        "part": part,
        "overall": summarize(rows),
        "by_label": {label: summarize([r for r in rows if r["label"] == label]) for label in LABELS},
        "by_turn": {
            "first": summarize([r for r in rows if not r["followup"]]),
            "followup": summarize([r for r in rows if r["followup"]]),
        },
        "followup_by_label": {
            label: summarize([r for r in rows if r["followup"] and r["label"] == label]) for label in LABELS
        },
        "latency": stage_latency(rows),
        "rows": rows,
    }


MTRAG_FIGURES = [
    ("content-word recall, answerable", "content_recall_answerable"),
    ("content-word recall, partial", "content_recall_partial"),
    ("reference passage cited, answerable", "reference_cited_answerable"),
    ("false abstention, answerable", "false_abstain_answerable"),
    ("false clarification, answerable", "false_clarify_answerable"),
    ("abstained, unanswerable", "abstain_unanswerable"),
    ("clarifying question, underspecified", "clarify_underspecified"),
    ("abstained, underspecified", "abstain_underspecified"),
    ("clarification, not underspecified", "false_clarify_not_underspecified"),
    ("answer words (average)", "answer_words_avg"),
    ("total ms p50", "total_ms_p50"),
]


def _figures(groups: dict[str, dict[str, Any]]) -> str:
    header = ["", *(f"{name} ({g['tasks']})" for name, g in groups.items())]
    rows = [[label, *(g[key] for g in groups.values())] for label, key in MTRAG_FIGURES]
    return _table(header, rows)


def mtrag_tables(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            "By answerability label:",
            "",
            _figures({**result["by_label"], "all": result["overall"]}),
            "",
            "By turn:",
            "",
            _figures(result["by_turn"]),
            "",
            "Follow-ups by label:",
            "",
            _figures(result["followup_by_label"]),
            "",
            _latency_table(result["latency"]),
        ]
    )


def mtrag_markdown(result: dict[str, Any], command: str) -> str:
    sample_note = f"A seeded sample (seed {result['seed']}) of" if result["limit"] else "All"
    which = f" {result['part']}-position" if result.get("part") else ""
    how = "with its earlier turns as history" if result["history"] else "alone (history ignored)"
    return "\n".join(
        [
            f"# MTRAG evaluation: {result['dataset']}",
            "",
            f"```sh\n{command}\n```",
            "",
            f"{sample_note} {result['overall']['tasks']}{which} tasks; each task's last user turn asked {how}, every "
            "passage indexed as its own document. Content-word recall: share of the reference answer's content "
            "words in the answer (an abstention or a clarifying question scores 0).",
            "",
            mtrag_tables(result),
            "",
        ]
    )


def mtrag_chart(result: dict[str, Any], path: Path) -> Path:
    keys = ("content_recall_answerable", "reference_cited_answerable", "abstain_unanswerable", "clarify_underspecified")
    groups = {name: {k: g[k] for k in keys} for name, g in result["by_turn"].items()}
    return _grouped_bars(path, f"{result['dataset']}: by turn", groups, "share")
