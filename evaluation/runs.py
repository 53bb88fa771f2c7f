"""Whole evaluation runs, as ``rag eval`` starts them: an isolated index, the questions, the result files.

Each run builds the service (service.build) on settings isolated in a folder of its own under
``DATA_DIR/eval/`` (``eval_folder``), indexes the set there, runs it and writes the JSON result with its
Markdown summary and PNG chart. What a person watching should see goes through a ``Reporter``: a message now
and then, and a progress count per task; ``Quiet`` shows nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

from evaluation.answerability import make_examples, split_articles, train
from evaluation.answers import evaluate_answers, index_squad
from evaluation.datasets import squad
from evaluation.longform import evaluate_clapnq, evaluate_dolly, index_clapnq, index_dolly
from evaluation.mtrag import evaluate_mtrag, index_mtrag, mtrag_chart, mtrag_markdown
from evaluation.realq import Followups, evaluate_realq, index_realq
from evaluation.report import (
    beir_chart,
    beir_markdown,
    clapnq_chart,
    clapnq_markdown,
    dolly_chart,
    dolly_markdown,
    realq_chart,
    realq_markdown,
    rgb_chart,
    rgb_markdown,
    squad_chart,
    squad_markdown,
    write_reports,
)
from evaluation.retrieval import evaluate_beir_answers, evaluate_retrieval, index_beir
from evaluation.rgb import DEFAULT_MODES, Mode, evaluate_rgb, index_rgb, rgb_file, rgb_result, run_questions
from rag.config import Settings
from rag.evidence import EvidenceSelector
from rag.pipeline import RAGPipeline
from service import Services, build

Half = Literal["even", "odd"]
Articles = Literal["even", "odd", "all"]  # for training: a file kept only for training can give all its articles


class Tick(Protocol):
    """Progress of one task: ``done`` of ``total`` (None: not known, or as before), optionally what it is doing."""

    def __call__(self, done: int, total: int | None, note: str | None = None) -> None: ...


class Reporter(Protocol):
    def say(self, message: str) -> None:
        """A line for the person running the evaluation."""

    def track(self, stage: str, task: str, total: int | None) -> Tick:
        """Start counting ``task`` of ``stage`` (tasks of one stage run one after another, then the next stage)."""


class Quiet:
    """Reports nothing."""

    def say(self, message: str) -> None:
        pass

    def track(self, stage: str, task: str, total: int | None) -> Tick:
        return lambda done, total, note=None: None


def eval_folder(settings: Settings, name: str) -> Path:
    """Where the evaluation of the set ``name`` keeps its index: one per set, embedder, embedding backend and chunk
    size, so a rerun with the same settings finds its documents already indexed (and an index built by one embedder
    is never asked with another: rag/store/identity.py refuses that)."""
    embedder = "" if settings.embedder in ("auto", "minilm") else f"-{settings.embedder}"
    return settings.data_dir / "eval" / f"{name}{embedder}-{settings.embedding_backend}-{settings.chunk_size}"


def trained_articles(training: dict, path: Path) -> list[str]:
    """The articles of this SQuAD file that a model's training.json lists."""
    _, questions = squad(path)
    return sorted({q.article for q in questions} & set(training.get("articles", [])))


def write_outputs(out: Path, result: object, markdown: str, chart: Callable[[Path], Path]) -> tuple[Path, Path, Path]:
    """The JSON result, and next to it the Markdown summary and the PNG chart."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    md, png = write_reports(out, markdown, chart)
    return out, md, png


@dataclass
class BeirRun:
    retrieval: list[dict[str, Any]]  # one result per retrieval mode
    answers: dict[str, Any] | None  # the answered sample, when asked for
    written: tuple[Path, Path, Path]  # JSON, Markdown, PNG


def run_beir(
    settings: Settings,
    corpus_dir: Path,
    *,
    split: str = "test",
    modes: list[str] | tuple[str, ...] = ("hybrid", "dense", "keyword"),
    limit: int | None = None,
    seed: int = 0,
    answers: int = 0,
    out: Path | None = None,
    command: str = "",
    reporter: Reporter | None = None,
) -> BeirRun:
    """Retrieval quality per mode on an isolated index of the BEIR folder; with ``answers``, also that many
    queries answered through the pipeline (citation relevance, latency per stage)."""
    reporter = reporter or Quiet()
    folder = eval_folder(settings, corpus_dir.name)
    services = build(settings.isolated(folder), load_llm=answers > 0)
    started = time.perf_counter()
    counts = index_beir(services.indexer, corpus_dir)
    reporter.say(f"index {folder}: {counts} in {time.perf_counter() - started:.0f}s")
    results = []
    for mode in modes:
        tick = reporter.track("retrieving", mode, limit)
        results.append(
            evaluate_retrieval(
                services.retriever,
                corpus_dir,
                split,
                mode,
                limit,
                seed=seed,
                on_query=tick,
            )
        )
    answered = None
    if answers:
        assert services.pipeline is not None
        tick = reporter.track("answering", "answers", answers)
        answered = evaluate_beir_answers(
            services.pipeline, corpus_dir, split, answers, seed, lambda n, total: tick(n, total)
        )
    out = out or settings.data_dir / "eval" / f"beir-{corpus_dir.name}.json"
    payload = {"retrieval": results, "answers": answered}
    written = write_outputs(out, payload, beir_markdown(results, answered, command), partial(beir_chart, results))
    return BeirRun(results, answered, written)


@dataclass
class SquadRun:
    results: list[dict[str, Any]]  # one result per top_k
    written: tuple[Path, Path, Path]  # JSON, Markdown, PNG


def run_squad(
    settings: Settings,
    path: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    top_ks: list[int] | None = None,
    held_out: bool = True,
    articles: Half | None = None,
    out: Path | None = None,
    command: str = "",
    reporter: Reporter | None = None,
) -> SquadRun:
    """Answer quality, open-book, on an isolated index of every paragraph of the SQuAD file: a sample of its
    questions asked through the same pipeline as the API, once per ``top_k`` (default: the settings').

    ``held_out`` leaves out the questions of articles the answerability model was trained on; ``articles``
    keeps only one half of the articles (sorted by title), the other half of ``rag eval train-answerability``."""
    reporter = reporter or Quiet()
    folder = eval_folder(settings, path.stem)
    services = build(settings.isolated(folder))
    assert services.pipeline is not None
    counts = index_squad(services.indexer, path)
    reporter.say(f"index {folder}: {counts}")
    checker = services.pipeline.abstention.model
    excluded = trained_articles(checker.training if checker else {}, path) if held_out else []
    if articles:
        even, odd = split_articles(path)
        excluded = sorted(set(excluded) | set(odd if articles == "even" else even))
    if excluded:
        reporter.say(f"left out: questions of {len(excluded)} articles (answerability training, --articles)")
    results = []
    for k in top_ks or [settings.top_k]:
        tick = reporter.track("asking", f"top_k {k}", limit)
        results.append(
            evaluate_answers(
                services.pipeline,
                path,
                limit,
                seed,
                tick,
                top_k=k,
                exclude_articles=excluded,
            )
        )
    out = out or settings.data_dir / "eval" / f"squad-{path.stem}.json"
    payload = results[0] if len(results) == 1 else results
    written = write_outputs(out, payload, squad_markdown(results, command), partial(squad_chart, results))
    return SquadRun(results, written)


@dataclass
class AnswerRun:
    result: dict[str, Any]
    written: tuple[Path, Path, Path]  # JSON, Markdown, PNG


Index = Callable[[Any, Path, Callable | None], dict[str, int]]


def _indexed(
    settings: Settings,
    name: str,
    index: Index,
    folder: Path,
    reporter: Reporter,
    build_with: Callable[[Settings], Services] | None,
) -> Services:
    """The service on an isolated index of the set ``name``, with every document of ``folder`` indexed there
    (a rerun finds them unchanged); failures to index are said, not fatal. ``build_with`` builds the service
    instead of service.build (tests give it the fake models)."""
    isolated = eval_folder(settings, name)
    services = (build_with or build)(settings.isolated(isolated))
    tick = reporter.track("indexing", name, None)
    seen: list[str] = []

    def on_result(source: str, result: object) -> None:
        seen.append(source)
        tick(len(seen), None)
        if isinstance(result, Exception):
            reporter.say(f"not indexed: {source}: {result}")

    started = time.perf_counter()
    counts = index(services.indexer, folder, on_result)
    reporter.say(f"index {isolated}: {counts} in {time.perf_counter() - started:.0f}s")
    return services


Ask = Callable[[RAGPipeline, Callable[[int, int | None], None]], dict[str, Any]]
Report = Callable[[dict[str, Any], str], str]
Chart = Callable[[dict[str, Any], Path], Path]


def _ask_and_write(
    settings: Settings,
    name: str,
    source: Path,
    index: Index,
    ask: Ask,
    task: tuple[str, int | None],
    out: Path,
    report: tuple[Report, Chart],
    command: str,
    reporter: Reporter | None,
    build_with: Callable[[Settings], Services] | None,
) -> AnswerRun:
    """One answer evaluation: the set indexed in isolation (``_indexed``), its questions asked through the pipeline
    (``ask`` counts them as ``task``: a name and a total), and the JSON result written with its Markdown summary
    and chart."""
    reporter = reporter or Quiet()
    services = _indexed(settings, name, index, source, reporter, build_with)
    assert services.pipeline is not None
    tick = reporter.track("asking", *task)
    result = ask(services.pipeline, lambda n, total: tick(n, total))
    markdown, chart = report
    return AnswerRun(result, write_outputs(out, result, markdown(result, command), partial(chart, result)))


def run_realq(
    settings: Settings,
    folder: Path,
    *,
    followups: Followups = "skip",
    out: Path | None = None,
    command: str = "",
    reporter: Reporter | None = None,
    build_with: Callable[[Settings], Services] | None = None,
) -> AnswerRun:
    """Key-fact recall, citations and abstention on the realq set (``questions.json`` and ``docs/``), overall,
    by language and by type; follow-ups left out or asked alone."""
    return _ask_and_write(
        settings,
        folder.name,
        folder,
        index_realq,
        lambda pipeline, tick: evaluate_realq(pipeline, folder, followups, tick),
        (f"followups {followups}", None),
        out or settings.data_dir / "eval" / f"realq-{folder.name}-{followups}.json",
        (realq_markdown, realq_chart),
        command,
        reporter,
        build_with,
    )


def run_clapnq(
    settings: Settings,
    folder: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    command: str = "",
    reporter: Reporter | None = None,
    build_with: Callable[[Settings], Services] | None = None,
) -> AnswerRun:
    """Long answers and abstention on CLAPNQ: every passage indexed, a sample (or all) of the questions asked."""
    return _ask_and_write(
        settings,
        folder.name,
        folder,
        index_clapnq,
        lambda pipeline, tick: evaluate_clapnq(pipeline, folder, tick, limit=limit, seed=seed),
        ("questions", limit),
        out or settings.data_dir / "eval" / f"clapnq-{folder.name}.json",
        (clapnq_markdown, clapnq_chart),
        command,
        reporter,
        build_with,
    )


def run_mtrag(
    settings: Settings,
    folder: Path,
    *,
    history: bool = True,
    limit: int | None = None,
    seed: int = 0,
    part: Half | None = None,
    out: Path | None = None,
    command: str = "",
    reporter: Reporter | None = None,
    build_with: Callable[[Settings], Services] | None = None,
) -> AnswerRun:
    """Conversations on MTRAG-UN: every passage indexed, each task's last user turn asked with its earlier turns as
    history (``history`` False: alone, as before conversations); a sample (or all) of the tasks, or of the odd or
    even ones (``part``)."""
    suffix = ("history" if history else "alone") + (f"-{part}" if part else "")
    return _ask_and_write(
        settings,
        folder.name,
        folder,
        index_mtrag,
        lambda pipeline, tick: evaluate_mtrag(
            pipeline, folder, tick, history=history, limit=limit, seed=seed, part=part
        ),
        ("tasks", limit),
        out or settings.data_dir / "eval" / f"mtrag-{folder.name}-{suffix}.json",
        (mtrag_markdown, mtrag_chart),
        command,
        reporter,
        build_with,
    )


def run_dolly(
    settings: Settings,
    folder: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    command: str = "",
    reporter: Reporter | None = None,
    build_with: Callable[[Settings], Services] | None = None,
) -> AnswerRun:
    """Answers against Dolly's human responses per category: every context indexed, a sample (or all) asked."""
    return _ask_and_write(
        settings,
        folder.name,
        folder,
        index_dolly,
        lambda pipeline, tick: evaluate_dolly(pipeline, folder, tick, limit=limit, seed=seed),
        ("instructions", limit),
        out or settings.data_dir / "eval" / f"dolly-{folder.name}.json",
        (dolly_markdown, dolly_chart),
        command,
        reporter,
        build_with,
    )


def run_rgb(
    settings: Settings,
    path: Path,
    *,
    modes: tuple[Mode, ...] = DEFAULT_MODES,
    limit: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    command: str = "",
    reporter: Reporter | None = None,
    build_with: Callable[[Settings], Services] | None = None,
) -> AnswerRun:
    """Negative rejection and noise robustness (and, asked for, counterfactuals) on RGB: a sample (or all) of the
    questions, each question's passages indexed for each mode in a collection of their own, and asked there."""
    questions = run_questions(path, limit, seed)

    def index(indexer: Any, _file: Path, on_result: Callable | None) -> dict[str, int]:
        return index_rgb(indexer, questions, modes, on_result)

    def ask(pipeline: RAGPipeline, tick: Callable[[int, int | None], None]) -> dict[str, Any]:
        return rgb_result(path, evaluate_rgb(pipeline, questions, modes, tick), modes, limit, seed)

    file = rgb_file(path)
    return _ask_and_write(
        settings,
        f"rgb-{file.stem}",
        file,
        index,
        ask,
        (", ".join(modes), len(questions) * len(modes)),
        out or settings.data_dir / "eval" / f"rgb-{file.stem}.json",
        (rgb_markdown, rgb_chart),
        command,
        reporter,
        build_with,
    )


def train_answerability(
    settings: Settings,
    path: Path,
    out: Path,
    *,
    articles: Articles = "even",
    epochs: float = 3.0,
    learning_rate: float = 5e-4,
    seed: int = 0,
    target_false_abstentions: float = 0.01,
    command: str = "",
    reporter: Reporter | None = None,
) -> dict[str, Any]:
    """Train the answerability cross-encoder on one half (or all) of a SQuAD 2.0 file's articles, with examples made
    on the same isolated index ``run_squad`` uses; writes the adapter and training.json to ``out`` and returns
    what training.json holds."""
    reporter = reporter or Quiet()
    isolated = settings.isolated(eval_folder(settings, path.stem))
    services = build(isolated, load_llm=False)  # examples need retrieval and evidence, not the LLM
    # The evidence as the pipeline selects it, with the selector's default number of sentences.
    evidence = EvidenceSelector(services.embedder, services.retriever.keyword)
    index_squad(services.indexer, path)
    even, odd = split_articles(path)
    chosen = set({"even": even, "odd": odd, "all": even + odd}[articles])
    questions = [q for q in squad(path)[1] if q.article in chosen]
    tick = reporter.track("examples", "retrieval + evidence", len(questions))
    examples = make_examples(services.retriever, evidence, isolated.top_k, questions, lambda n, total: tick(n, None))
    tick = reporter.track("training", "steps", None)
    info = train(
        examples,
        out,
        epochs=epochs,
        learning_rate=learning_rate,
        seed=seed,
        target_false_abstentions=target_false_abstentions,
        on_step=lambda n, total, loss: tick(n, total, f"loss {loss:.3f}"),
    )
    info["command"] = command
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
