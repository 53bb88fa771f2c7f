"""Readers for standard benchmark formats, so any BEIR or SQuAD set can be pointed at."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


def constant(body: bytes) -> Callable[[], bytes]:
    """A reader for bytes already in memory, for ``Indexer.ingest_many``'s (source, read) items."""
    return lambda: body


def beir_source(corpus_dir: Path, doc_id: str) -> str:
    """The source name a BEIR document is indexed under; retrieval results map back to ids through it."""
    return f"{corpus_dir.name}/{doc_id}.txt"


def doc_id_from_source(source: str) -> str:
    return source.rsplit("/", 1)[-1].removesuffix(".txt")


def beir_corpus(corpus_dir: Path, limit: int | None = None) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """``corpus.jsonl`` records as lazily read (source, read) items: title, blank line, text."""
    with (corpus_dir / "corpus.jsonl").open(encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            if limit is not None and n >= limit:
                return
            record = json.loads(line)
            body = f"{record.get('title', '')}\n\n{record['text']}".strip().encode()
            yield beir_source(corpus_dir, str(record["_id"])), constant(body)


@dataclass
class BeirQueries:
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)  # query id -> {doc id: relevance}


def beir_queries(corpus_dir: Path, split: str = "test") -> BeirQueries:
    queries = {}
    with (corpus_dir / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            queries[str(record["_id"])] = record["text"]
    qrels: dict[str, dict[str, int]] = {}
    with (corpus_dir / "qrels" / f"{split}.tsv").open(encoding="utf-8") as f:
        rows: Iterator[list[str]] = csv.reader(f, delimiter="\t")
        header = next(rows)
        if header[0].isdigit():  # a file without the usual header line
            rows = iter([header, *rows])
        for query_id, doc_id, score in rows:
            if int(score) > 0:
                qrels.setdefault(query_id, {})[doc_id] = int(score)
    return BeirQueries({q: queries[q] for q in qrels if q in queries}, qrels)


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: list[str]  # empty when the question has no answer in the text (SQuAD 2.0)
    context_id: str
    article: str = ""  # the title of the article the paragraph is from


def squad(path: Path) -> tuple[dict[str, str], list[SquadQuestion]]:
    """Paragraphs by id (the document collection) and questions, from SQuAD v1.1 or v2.0 json."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs: dict[str, str] = {}
    questions: list[SquadQuestion] = []
    for article in data:
        for i, paragraph in enumerate(article["paragraphs"]):
            context_id = f"{article['title']}-{i}"
            paragraphs[context_id] = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else [a["text"] for a in qa["answers"]]
                questions.append(SquadQuestion(qa["id"], qa["question"], answers, context_id, article["title"]))
    return paragraphs, questions
