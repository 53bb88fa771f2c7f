"""Long answers: CLAPNQ (grounded multi-sentence answers, and unanswerable questions) and Dolly (closed QA,
information extraction, summarization against human responses).

Open-book, as the shared sets' README asks: every passage (CLAPNQ) or context (Dolly) is indexed as its own
document, one index per set, and each question goes through the same pipeline as the API. The main figure is
content-word recall: the share of the reference answer's content words that the answer holds (the README's
normalisation, evaluation/metrics.py), with token F1 beside it so that a long answer that holds everything but
says much more is visible. An abstention scores 0 on both.

The indexer keeps one document per content: a passage or context that two records share is indexed under the
first record's name only, so "the gold passage" of a record is every name its text was offered under.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from evaluation.answers import plain_answer, stage_latency, timing_row
from evaluation.datasets import constant
from evaluation.metrics import content_word_recall, mean_or_none, shares, token_f1
from ingest.indexer import Indexer
from rag.pipeline import RAGPipeline

ABSTAINED = ("abstained", "no_documents")
DOLLY_CATEGORIES = ("closed_qa", "information_extraction", "summarization")
T = TypeVar("T")


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def sample(items: list[T], limit: int | None, seed: int) -> list[T]:
    """A random sample of ``limit`` items in their original order (all of them without ``limit``)."""
    if limit is None or limit >= len(items):
        return items
    chosen = set(random.Random(seed).sample(range(len(items)), limit))
    return [item for i, item in enumerate(items) if i in chosen]


def _aliases(bodies: Iterator[tuple[str, bytes]]) -> dict[str, set[str]]:
    """Each source name -> every source name offered with the same bytes (the indexer keeps one of them)."""
    by_body: dict[bytes, set[str]] = defaultdict(set)
    names: dict[str, bytes] = {}
    for name, body in bodies:
        by_body[body].add(name)
        names[name] = body
    return {name: by_body[body] for name, body in names.items()}


def _overall(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What every long-answer result reports besides its quality figures: answers by type, latency per stage."""
    return {"answer_types": shares([r["answer_type"] for r in rows]), "latency": stage_latency(rows)}


# --- CLAPNQ ---------------------------------------------------------------------------------------------------


def clapnq_files(folder: Path) -> dict[str, Path]:
    return {
        "answerable": folder / "clapnq_dev_answerable.jsonl",
        "unanswerable": folder / "clapnq_dev_unanswerable.jsonl",
    }


def clapnq_source(record_id: str, n: int) -> str:
    return f"clapnq/{record_id}-{n}.txt"


def _clapnq_bodies(folder: Path) -> Iterator[tuple[str, bytes]]:
    """Each passage as a document: its title, a blank line, its text."""
    for path in clapnq_files(folder).values():
        for record in _jsonl(path):
            for n, passage in enumerate(record["passages"]):
                yield (
                    clapnq_source(record["id"], n),
                    f"{passage.get('title', '')}\n\n{passage['text']}".strip().encode(),
                )


def clapnq_documents(folder: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    for source, body in _clapnq_bodies(folder):
        yield source, constant(body)


def index_clapnq(indexer: Indexer, folder: Path, on_result: Callable | None = None) -> dict[str, int]:
    return vars(indexer.ingest_many(clapnq_documents(folder), on_result))


def evaluate_clapnq(
    pipeline: RAGPipeline,
    folder: Path,
    on_question: Callable[[int, int], None] | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Answerable questions: content-word recall and token F1 against the reference answer (the best of several),
    whether the first citation is the gold passage; unanswerable ones: whether the service abstained. With
    ``limit``, a random sample of the questions (every passage is indexed all the same)."""
    records = sample([(label, r) for label, path in clapnq_files(folder).items() for r in _jsonl(path)], limit, seed)
    aliases = _aliases(_clapnq_bodies(folder))
    rows: list[dict[str, Any]] = []
    for n, (label, record) in enumerate(records, start=1):
        answer = pipeline.answer(record["input"])
        abstained = answer.answer_type in ABSTAINED
        text = plain_answer(answer.answer)
        references = [o["answer"] for o in record.get("output", []) if o.get("answer")]
        gold = {a for i in range(len(record["passages"])) for a in aliases[clapnq_source(record["id"], i)]}
        row: dict[str, Any] = {
            "id": record["id"],
            "answerable": label == "answerable",
            "question": record["input"],
            "answer": answer.answer,
            "abstained": abstained,
            "answer_type": answer.answer_type,
            "words": len(text.split()),
            **timing_row(answer),
        }
        if label == "answerable":
            row.update(
                content_recall=0.0 if abstained else max((content_word_recall(text, r) for r in references), default=0),
                f1=token_f1(text, references) if references and not abstained else 0.0,
                first_citation_gold=bool(answer.citations) and answer.citations[0].source in gold,
            )
        rows.append(row)
        if on_question:
            on_question(n, len(records))
    return {"dataset": folder.name, "limit": limit, "seed": seed, **clapnq_summary(rows), "rows": rows}


def clapnq_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures over CLAPNQ rows. The first citation is scored over all answerable questions (an abstention
    cites nothing: a miss, as for SQuAD and as issue 14 counts it), and also over the answers given."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "content_word_recall": mean_or_none([r["content_recall"] for r in answerable]),
        "f1": mean_or_none([r["f1"] for r in answerable]),
        "first_citation_gold": mean_or_none([float(r["first_citation_gold"]) for r in answerable]),
        "first_citation_gold_of_answers": mean_or_none(
            [float(r["first_citation_gold"]) for r in answerable if not r["abstained"]]
        ),
        "abstain_on_unanswerable": mean_or_none([float(r["abstained"]) for r in unanswerable]),
        "false_abstain_on_answerable": mean_or_none([float(r["abstained"]) for r in answerable]),
        "answer_words_avg": mean_or_none([float(r["words"]) for r in answerable if not r["abstained"]]),
        **_overall(rows),
    }


# --- Dolly ----------------------------------------------------------------------------------------------------


def dolly_records(folder: Path) -> list[dict[str, Any]]:
    return [r for category in DOLLY_CATEGORIES for r in _jsonl(folder / f"dolly_{category}.jsonl")]


def dolly_source(record_id: str) -> str:
    return f"dolly/{record_id}.txt"


def _dolly_bodies(folder: Path) -> Iterator[tuple[str, bytes]]:
    for record in dolly_records(folder):
        yield dolly_source(record["id"]), record["context"].encode()


def dolly_documents(folder: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    for source, body in _dolly_bodies(folder):
        yield source, constant(body)


def index_dolly(indexer: Indexer, folder: Path, on_result: Callable | None = None) -> dict[str, int]:
    return vars(indexer.ingest_many(dolly_documents(folder), on_result))


def _dolly_summary(subset: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "questions": len(subset),
        "content_word_recall": mean_or_none([r["content_recall"] for r in subset]),
        "f1": mean_or_none([r["f1"] for r in subset]),
        "cites_own_context": mean_or_none([float(r["cites_own_context"]) for r in subset]),
        "abstained": mean_or_none([float(r["abstained"]) for r in subset]),
        "answer_words_avg": mean_or_none([float(r["words"]) for r in subset if not r["abstained"]]),
    }


def evaluate_dolly(
    pipeline: RAGPipeline,
    folder: Path,
    on_question: Callable[[int, int], None] | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Each instruction asked as a question over all the contexts: content-word recall and token F1 against the
    human response, whether the answer cites the record's own context; per category and overall. With
    ``limit``, a random sample of the instructions (every context is indexed all the same)."""
    records = sample(dolly_records(folder), limit, seed)
    aliases = _aliases(_dolly_bodies(folder))
    rows: list[dict[str, Any]] = []
    for n, record in enumerate(records, start=1):
        answer = pipeline.answer(record["instruction"])
        abstained = answer.answer_type in ABSTAINED
        text = plain_answer(answer.answer)
        own = aliases[dolly_source(record["id"])]
        rows.append(
            {
                "id": record["id"],
                "category": record["category"],
                "question": record["instruction"],
                "answer": answer.answer,
                "abstained": abstained,
                "answer_type": answer.answer_type,
                "content_recall": content_word_recall(text, record["response"]) if not abstained else 0.0,
                "f1": token_f1(text, [record["response"]]) if not abstained else 0.0,
                "cites_own_context": any(c.source in own for c in answer.citations),
                "words": len(text.split()),
                **timing_row(answer),
            }
        )
        if on_question:
            on_question(n, len(records))
    return {"dataset": folder.name, "limit": limit, "seed": seed, **dolly_summary(rows), "rows": rows}


def dolly_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures over Dolly rows: overall and per category, answers by type, latency."""
    return {
        "questions": len(rows),
        "overall": _dolly_summary(rows),
        "by_category": {
            c: _dolly_summary([r for r in rows if r["category"] == c])
            for c in DOLLY_CATEGORIES
            if any(r["category"] == c for r in rows)
        },
        **_overall(rows),
    }
