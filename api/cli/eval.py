"""``rag eval``: options in, progress bars and a summary out; the runs themselves are in evaluation/runs.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli.common import command_line, console, load_settings
from evaluation import runs
from evaluation.mtrag import mtrag_tables
from evaluation.realq import Followups
from evaluation.report import clapnq_tables, dolly_tables, realq_tables, rgb_tables
from evaluation.rgb import MODES, Mode
from evaluation.runs import Articles, Half, Tick

app = typer.Typer(help="Measure the service on standard benchmark sets (BEIR, SQuAD, realq, CLAPNQ, Dolly, RGB).")


class ProgressBars:
    """An evaluation's ``Reporter`` on the console: a group of bars per stage, a bar per task."""

    def __init__(self) -> None:
        self._stage: str | None = None
        self._progress: Progress | None = None

    def say(self, message: str) -> None:
        console.print(message)

    def track(self, stage: str, task: str, total: int | None) -> Tick:
        if stage != self._stage or self._progress is None:
            self.close()
            self._progress = Progress(
                TextColumn(f"[bold]{stage}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
            )
            self._progress.start()
            self._stage = stage
        progress = self._progress
        task_id = progress.add_task(task, total=total)

        def tick(done: int, total: int | None, note: str | None = None) -> None:
            progress.update(task_id, completed=done, total=total, description=note)

        return tick

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress = self._stage = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _half(articles: str, option: str = "--articles") -> Half:
    if articles == "even":
        return "even"
    if articles == "odd":
        return "odd"
    raise typer.BadParameter("use even or odd", param_hint=option)


def _training_articles(articles: str) -> Articles:
    return "all" if articles == "all" else _half(articles)


def _followups(value: str) -> Followups:
    if value == "skip":
        return "skip"
    if value == "alone":
        return "alone"
    if value == "history":
        return "history"
    raise typer.BadParameter("use history, alone or skip", param_hint="--followups")


def _written(paths: tuple[Path, ...]) -> None:
    console.print(f"written: {', '.join(str(p) for p in paths)}")


def _answer_run(
    run: Callable[..., runs.AnswerRun], tables: Callable[[dict[str, Any]], str], target: Path, **options: Any
) -> None:
    """An answer evaluation of ``target`` with progress bars, its tables printed and the files it wrote named."""
    with ProgressBars() as bars:
        done = run(load_settings(), target, command=command_line(), reporter=bars, **options)
    typer.echo(tables(done.result))
    _written(done.written)


@app.command("beir")
def eval_beir(
    corpus_dir: Annotated[Path, typer.Argument(help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/", exists=True)],
    split: Annotated[str, typer.Option(help="qrels split")] = "test",
    modes: Annotated[str, typer.Option(help="comma-separated: hybrid, dense, keyword")] = "hybrid,dense,keyword",
    limit: Annotated[int | None, typer.Option(help="a random sample of N queries")] = None,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 0,
    answers: Annotated[
        int, typer.Option(help="also answer N of the queries: citation relevance, latency per stage, TTFT")
    ] = 0,
    out: Annotated[
        Path | None, typer.Option(help="JSON result (default DATA_DIR/eval/beir-NAME.json); .md and .png next to it")
    ] = None,
) -> None:
    """Retrieval quality: recall@5/10/100, MRR@10, nDCG@10 per retrieval mode, on an isolated index."""
    with ProgressBars() as bars:
        run = runs.run_beir(
            load_settings(),
            corpus_dir,
            split=split,
            modes=modes.split(","),
            limit=limit,
            seed=seed,
            answers=answers,
            out=out,
            command=command_line(),
            reporter=bars,
        )
    results, answered = run.retrieval, run.answers
    keys = ["recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10", "latency_ms_p50", "latency_ms_p95"]
    typer.echo(f"{corpus_dir.name} {split}, {results[0]['queries']} queries")
    typer.echo(f"{'mode':<10}" + "".join(f"{k:>16}" for k in keys))
    for r in results:
        typer.echo(f"{r['mode']:<10}" + "".join(f"{r[k]:>16}" for k in keys))
    if answered:
        typer.echo(
            f"answers: {answered['queries']}, citations in a relevant document {answered['citations_relevant_share']}"
        )
    _written(run.written)


@app.command("squad")
def eval_squad(
    path: Annotated[Path, typer.Argument(help="a SQuAD v1.1 or v2.0 json file", exists=True)],
    limit: Annotated[int | None, typer.Option(help="a random sample of N questions")] = None,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 0,
    top_k: Annotated[str, typer.Option(help="chunks retrieved per question; a list (2,4,8) runs each")] = "",
    out: Annotated[
        Path | None, typer.Option(help="JSON result (default DATA_DIR/eval/squad-NAME.json); .md and .png next to it")
    ] = None,
    held_out: Annotated[
        bool, typer.Option(help="leave out the questions of articles the answerability model was trained on")
    ] = True,
    articles: Annotated[
        str, typer.Option(help="only this half of the articles (sorted by title): even or odd; default all")
    ] = "",
) -> None:
    """Answer quality, open-book: all paragraphs indexed, questions asked through the same pipeline as the API."""
    half = _half(articles) if articles else None
    with ProgressBars() as bars:
        run = runs.run_squad(
            load_settings(),
            path,
            limit=limit,
            seed=seed,
            top_ks=[int(v) for v in top_k.split(",") if v.strip()] or None,
            held_out=held_out,
            articles=half,
            out=out,
            command=command_line(),
            reporter=bars,
        )
    for result in run.results:
        summary = {k: v for k, v in result.items() if k != "rows"}
        width = max(len(k) for k in summary)
        for key, value in summary.items():
            typer.echo(f"{key:<{width}}  {value}")
    _written(run.written)


Limit = Annotated[int | None, typer.Option(help="a random sample of N questions (every document is indexed)")]
Seed = Annotated[int, typer.Option(help="sampling seed")]


def _out(default: str) -> object:
    return typer.Option(help=f"JSON result (default DATA_DIR/eval/{default}); .md and .png next to it")


@app.command("realq")
def eval_realq(
    folder: Annotated[Path, typer.Argument(help="a realq folder: questions.json and docs/", exists=True)],
    followups: Annotated[
        str,
        typer.Option(help="follow-up questions: their earlier turns first (history), their last turn alone, or skip"),
    ] = "history",
    out: Annotated[Path | None, _out("realq-NAME-FOLLOWUPS.json")] = None,
) -> None:
    """Key-fact recall, citations and abstention on realistic questions over real documents, by language and
    by question type."""
    mode = _followups(followups)
    _answer_run(runs.run_realq, realq_tables, folder, followups=mode, out=out)


@app.command("mtrag")
def eval_mtrag(
    folder: Annotated[Path, typer.Argument(help="an MTRAG folder: reference.jsonl and corpus.jsonl", exists=True)],
    history: Annotated[
        bool, typer.Option("--history/--no-history", help="give each task's earlier turns (--no-history: ask alone)")
    ] = True,
    limit: Limit = None,
    seed: Seed = 0,
    part: Annotated[
        str | None,
        typer.Option(help="only the tasks at odd or even positions of reference.jsonl (from 0): fit on one half"),
    ] = None,
    out: Annotated[Path | None, _out("mtrag-NAME-history.json")] = None,
) -> None:
    """Conversations: each task's last user turn asked with its earlier turns; answers, citations, abstention and
    clarifying questions by answerability label and by first turn vs follow-up."""
    half = _half(part, "--part") if part else None
    _answer_run(runs.run_mtrag, mtrag_tables, folder, history=history, limit=limit, seed=seed, part=half, out=out)


@app.command("clapnq")
def eval_clapnq(
    folder: Annotated[Path, typer.Argument(help="a CLAPNQ folder: clapnq_dev_(un)answerable.jsonl", exists=True)],
    limit: Limit = None,
    seed: Seed = 0,
    out: Annotated[Path | None, _out("clapnq-NAME.json")] = None,
) -> None:
    """Long answers (content-word recall, F1, first citation on the gold passage) and abstention on questions
    the passages do not answer."""
    _answer_run(runs.run_clapnq, clapnq_tables, folder, limit=limit, seed=seed, out=out)


@app.command("dolly")
def eval_dolly(
    folder: Annotated[Path, typer.Argument(help="a Dolly folder: dolly_CATEGORY.jsonl", exists=True)],
    limit: Limit = None,
    seed: Seed = 0,
    out: Annotated[Path | None, _out("dolly-NAME.json")] = None,
) -> None:
    """Answers against human responses per category (closed QA, information extraction, summarization):
    content-word recall and token F1."""
    _answer_run(runs.run_dolly, dolly_tables, folder, limit=limit, seed=seed, out=out)


def _rgb_modes(value: str) -> tuple[Mode, ...]:
    chosen = tuple(m for m in MODES if m in {v.strip() for v in value.split(",")})
    unknown = {v.strip() for v in value.split(",")} - set(MODES)
    if unknown or not chosen:
        raise typer.BadParameter(f"use a comma-separated list of {', '.join(MODES)}", param_hint="--modes")
    return chosen


@app.command("rgb")
def eval_rgb(
    path: Annotated[Path, typer.Argument(help="an RGB json-lines file, or a folder with en_fact.json", exists=True)],
    modes: Annotated[
        str, typer.Option(help="comma-separated: negative (rejection), noise (robustness), counterfactual")
    ] = "negative,noise",
    limit: Limit = None,
    seed: Seed = 0,
    out: Annotated[Path | None, _out("rgb-NAME.json")] = None,
) -> None:
    """Abstention when only negative passages are indexed, and answers (gold answer, first citation on a positive
    passage) when the positives are mixed with them; each question against its own passages only."""
    _answer_run(runs.run_rgb, rgb_tables, path, modes=_rgb_modes(modes), limit=limit, seed=seed, out=out)


@app.command("train-answerability")
def train_answerability(
    path: Annotated[Path, typer.Argument(help="a SQuAD 2.0 json file (it marks unanswerable questions)", exists=True)],
    out: Annotated[Path, typer.Option(help="folder for the adapter and training.json")],
    articles: Annotated[
        str,
        typer.Option(
            help="which half of the articles (sorted by title) to train on: even or odd; all for a file kept only "
            "for training (then every article of it is left out of `rag eval squad` on that file)"
        ),
    ] = "even",
    epochs: Annotated[float, typer.Option(help="passes over the examples")] = 3.0,
    learning_rate: Annotated[float, typer.Option(help="peak learning rate (one-cycle schedule)")] = 5e-4,
    seed: Annotated[int, typer.Option(help="shuffling and initialisation seed")] = 0,
    target_false_abstentions: Annotated[
        float, typer.Option(help="share of answerable validation questions the chosen threshold may refuse")
    ] = 0.01,
) -> None:
    """Train the answerability cross-encoder on half of a SQuAD 2.0 file's articles; the other half stays a fair
    test for `rag eval squad` (which leaves the training articles out). Use it with RAG_ANSWERABILITY_MODEL=OUT."""
    chosen = _training_articles(articles)
    with ProgressBars() as bars:
        info = runs.train_answerability(
            load_settings(),
            path,
            out,
            articles=chosen,
            epochs=epochs,
            learning_rate=learning_rate,
            seed=seed,
            target_false_abstentions=target_false_abstentions,
            command=command_line(),
            reporter=bars,
        )
    typer.echo(json.dumps(info, indent=2))


@app.command("squad-retrieval")
def eval_squad_retrieval(
    path: Annotated[Path, typer.Argument(help="a SQuAD-format json file (SQuAD, CMRC 2018, DRCD)", exists=True)],
    modes: Annotated[str, typer.Option(help="comma-separated: dense, hybrid, keyword")] = "dense,hybrid",
    paragraphs: Annotated[int | None, typer.Option(help="index only the first N paragraphs (file order)")] = None,
    limit: Limit = None,
    seed: Seed = 0,
    out: Annotated[Path | None, typer.Option(help="JSON result file")] = None,
) -> None:
    """Gold-paragraph recall@1/4/10 and MRR@10 per retrieval mode, on an isolated index of this embedder
    (RAG_EMBEDDER): how well each embedder finds the paragraph that holds the answer."""
    from evaluation.retrieval import run_squad_retrieval

    with ProgressBars() as bars:
        ticks: dict[str, Tick] = {}

        def progress(mode: str, done: int, total: int) -> None:
            ticks.setdefault(mode, bars.track("retrieving", mode, total))(done, total)

        result = run_squad_retrieval(
            load_settings(),
            path,
            modes=tuple(modes.split(",")),
            paragraphs=paragraphs,
            limit=limit,
            seed=seed,
            on_progress=progress,
        )
    result["command"] = command_line()
    typer.echo(json.dumps(result, indent=2))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
