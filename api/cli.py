"""The ``rag`` command: prepare models, ingest files, ask questions, serve the API."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Literal, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.services import Services
from ingest.errors import IngestError
from ingest.indexer import IngestCounts, IngestOutcome, IngestResult, iter_files
from rag.config import Settings
from rag.keys import ALL_COLLECTIONS, SCOPES, InvalidKeyRequest, KeyService, check_collection
from rag.store.registry import DEFAULT_COLLECTION, JobStatus, Registry

app = typer.Typer(help="Self-hosted RAG: answers from your documents, with citations.", no_args_is_help=True)
console = Console(stderr=True)


def _settings(**overrides) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _ingest_paths(services: Services, paths: list[Path], collection: str = DEFAULT_COLLECTION) -> IngestCounts:
    files = list(iter_files(paths))
    started = time.perf_counter()
    chunks = 0
    with Progress(
        TextColumn("[bold]indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[rate]}"),
        console=console,
        transient=not sys.stderr.isatty(),
    ) as progress:
        task = progress.add_task("files", total=len(files), rate="")

        def on_result(source: str, result: IngestResult | IngestError) -> None:
            nonlocal chunks
            if isinstance(result, IngestError):
                console.print(f"[yellow]skipped[/] {source}: {result}")
            elif result.outcome is not IngestOutcome.unchanged:
                chunks += result.document.chunk_count
            elapsed = max(time.perf_counter() - started, 1e-9)
            done = progress.tasks[0].completed + 1
            progress.update(task, advance=1, rate=f"{done / elapsed:.1f} files/s, {chunks / elapsed:.1f} chunks/s")

        return services.indexer.ingest_paths(files, on_result, collection)


@app.command()
def prepare() -> None:
    """Load (and on first use, export and cache) the default models, so the first request is fast."""
    settings = _settings()
    started = time.perf_counter()
    services = Services.build(settings)
    assert services.llm is not None
    console.print(
        f"ready in {time.perf_counter() - started:.1f}s: embedder {settings.embedding_backend}, "
        f"LLM {services.llm.name} ({services.llm.family.name}), data in {settings.data_dir}"
    )


def _collection(name: str) -> str:
    try:
        return check_collection(name)
    except InvalidKeyRequest as exc:
        raise typer.BadParameter(str(exc)) from None


CollectionOption = Annotated[
    str, typer.Option(help="the collection (tenant) to work in; see docs/security.md", callback=_collection)
]


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or folders to index", exists=True)],
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """Index files and folders (new files are added, changed ones get a new version)."""
    services = Services.build(_settings(), load_llm=False)
    counts = _ingest_paths(services, paths, collection)
    console.print(
        f"{counts.created} added, {counts.updated} updated, {counts.unchanged} unchanged, "
        f"{counts.failed} failed; {counts.chunks} chunks written"
    )
    if counts.failed:
        raise typer.Exit(code=1)


@app.command()
def check() -> None:
    """Repair what an interrupted ingest left behind, then verify that registry and index agree."""
    services = Services.build(_settings(), load_llm=False)  # building reconciles
    problems = services.indexer.verify()
    report = {
        "documents": services.registry.count(),
        "chunks": services.store.count(),
        "problems": problems,
    }
    typer.echo(json.dumps(report, indent=2))
    if problems:
        raise typer.Exit(code=1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    top_k: Annotated[int | None, typer.Option(min=1, max=50, help="chunks to retrieve")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON object")] = False,
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """Answer a question from the indexed documents."""
    services = Services.build(_settings())
    assert services.pipeline is not None
    answer = services.pipeline.answer(question, top_k=top_k, collection=collection)
    if as_json:
        typer.echo(json.dumps(answer.model_dump(), indent=2, ensure_ascii=False))
        return
    typer.echo(answer.answer)
    if answer.citations:
        typer.echo("\nSources:")
    for i, c in enumerate(answer.citations, start=1):
        where = f"{c.source}" + (f", page {c.page}" if c.page else "") + f", chars {c.start}-{c.end}"
        snippet = " ".join(c.text.split())[:160]
        typer.echo(f"  [{c.marker or i}] {where} (score {c.score:.2f})\n      {snippet}")


eval_app = typer.Typer(help="Measure the service on standard benchmark sets (BEIR, SQuAD).")
app.add_typer(eval_app, name="eval")


def _eval_progress(label: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def _eval_outputs(out: Path, result: object, markdown: str, chart) -> None:
    """The JSON result, and next to it the Markdown summary and the PNG chart."""
    from evaluation.report import write_reports

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    md, png = write_reports(out, markdown, chart)
    console.print(f"written: {out}, {md}, {png}")


def _command_line() -> str:
    import shlex

    return " ".join(["rag", *(shlex.quote(a) for a in sys.argv[1:])])


@eval_app.command("beir")
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
    from functools import partial

    from evaluation.report import beir_chart, beir_markdown
    from evaluation.retrieval import evaluate_beir_answers, evaluate_retrieval, index_beir

    settings = _settings()
    eval_dir = settings.data_dir / "eval" / f"{corpus_dir.name}-{settings.embedding_backend}-{settings.chunk_size}"
    services = Services.build(
        settings.isolated(eval_dir),
        load_llm=answers > 0,
    )
    started = time.perf_counter()
    counts = index_beir(services.indexer, corpus_dir)
    console.print(f"index {eval_dir}: {counts} in {time.perf_counter() - started:.0f}s")
    results = []
    with _eval_progress("retrieving") as progress:
        for mode in modes.split(","):
            task = progress.add_task(mode, total=limit)
            results.append(
                evaluate_retrieval(
                    services.retriever,
                    corpus_dir,
                    split,
                    mode,
                    limit,
                    seed=seed,
                    on_query=lambda n, total, task=task: progress.update(task, completed=n, total=total),
                )
            )
    answered = None
    if answers:
        assert services.pipeline is not None
        with _eval_progress("answering") as progress:
            task = progress.add_task("answers", total=answers)
            answered = evaluate_beir_answers(
                services.pipeline,
                corpus_dir,
                split,
                answers,
                seed,
                lambda n, total: progress.update(task, completed=n, total=total),
            )
    keys = ["recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10", "latency_ms_p50", "latency_ms_p95"]
    typer.echo(f"{corpus_dir.name} {split}, {results[0]['queries']} queries")
    typer.echo(f"{'mode':<10}" + "".join(f"{k:>16}" for k in keys))
    for r in results:
        typer.echo(f"{r['mode']:<10}" + "".join(f"{r[k]:>16}" for k in keys))
    if answered:
        typer.echo(
            f"answers: {answered['queries']}, citations in a relevant document {answered['citations_relevant_share']}"
        )
    out = out or settings.data_dir / "eval" / f"beir-{corpus_dir.name}.json"
    payload = {"retrieval": results, "answers": answered}
    _eval_outputs(out, payload, beir_markdown(results, answered, _command_line()), partial(beir_chart, results))


@eval_app.command("squad")
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
    from functools import partial

    from evaluation.answers import evaluate_answers, index_squad
    from evaluation.report import squad_chart, squad_markdown

    settings = _settings()
    eval_dir = settings.data_dir / "eval" / f"{path.stem}-{settings.embedding_backend}-{settings.chunk_size}"
    services = Services.build(settings.isolated(eval_dir))
    assert services.pipeline is not None
    counts = index_squad(services.indexer, path)
    console.print(f"index {eval_dir}: {counts}")
    checker = services.pipeline.answerability
    excluded = _trained_articles(checker.training if checker else {}, path) if held_out else []
    if articles:
        from evaluation.answerability import split_articles

        if articles not in ("even", "odd"):
            raise typer.BadParameter("use even or odd", param_hint="--articles")
        even, odd = split_articles(path)
        excluded = sorted(set(excluded) | set(odd if articles == "even" else even))
    if excluded:
        console.print(f"left out: questions of {len(excluded)} articles (answerability training, --articles)")
    results = []
    with _eval_progress("asking") as progress:
        for k in [int(v) for v in top_k.split(",") if v.strip()] or [settings.top_k]:
            task = progress.add_task(f"top_k {k}", total=limit)
            results.append(
                evaluate_answers(
                    services.pipeline,
                    path,
                    limit,
                    seed,
                    lambda n, total, task=task: progress.update(task, completed=n, total=total),
                    top_k=k,
                    exclude_articles=excluded,
                )
            )
    for result in results:
        summary = {k: v for k, v in result.items() if k != "rows"}
        width = max(len(k) for k in summary)
        for key, value in summary.items():
            typer.echo(f"{key:<{width}}  {value}")
    out = out or settings.data_dir / "eval" / f"squad-{path.stem}.json"
    payload = results[0] if len(results) == 1 else results
    _eval_outputs(out, payload, squad_markdown(results, _command_line()), partial(squad_chart, results))


def _trained_articles(training: dict, path: Path) -> list[str]:
    """The articles of this SQuAD file that a model's training.json lists."""
    from evaluation.datasets import squad

    _, questions = squad(path)
    return sorted({q.article for q in questions} & set(training.get("articles", [])))


@eval_app.command("train-answerability")
def train_answerability(
    path: Annotated[Path, typer.Argument(help="a SQuAD 2.0 json file (it marks unanswerable questions)", exists=True)],
    out: Annotated[Path, typer.Option(help="folder for the adapter and training.json")],
    articles: Annotated[
        str, typer.Option(help="which half of the articles (sorted by title) to train on: even or odd")
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
    from evaluation.answerability import make_examples, split_articles, train
    from evaluation.answers import index_squad
    from evaluation.datasets import squad
    from rag.pipeline import RAGPipeline

    if articles not in ("even", "odd"):
        raise typer.BadParameter("use even or odd", param_hint="--articles")
    settings = _settings()
    eval_dir = settings.data_dir / "eval" / f"{path.stem}-{settings.embedding_backend}-{settings.chunk_size}"
    isolated = settings.isolated(eval_dir)
    services = Services.build(isolated, load_llm=False)  # examples need retrieval and evidence, not the LLM
    pipeline = RAGPipeline(services.retriever, None, isolated.top_k, isolated.max_new_tokens)
    index_squad(services.indexer, path)
    chosen = set(split_articles(path)[0 if articles == "even" else 1])
    questions = [q for q in squad(path)[1] if q.article in chosen]
    with _eval_progress("examples") as progress:
        task = progress.add_task("retrieval + evidence", total=len(questions))
        examples = make_examples(pipeline, questions, lambda n, t: progress.update(task, completed=n))
    with _eval_progress("training") as progress:
        task = progress.add_task("steps", total=None)
        info = train(
            examples,
            out,
            epochs=epochs,
            learning_rate=learning_rate,
            seed=seed,
            target_false_abstentions=target_false_abstentions,
            on_step=lambda n, total, loss: progress.update(
                task, completed=n, total=total, description=f"loss {loss:.3f}"
            ),
        )
    info["command"] = _command_line()
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    typer.echo(json.dumps(info, indent=2))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (RAG_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (RAG_PORT)")] = None,
    ingest_paths: Annotated[
        list[Path] | None, typer.Option("--ingest", help="index these paths before serving", exists=True)
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs). SIGTERM stops it gracefully: no new connections, in-flight
    requests finish (up to RAG_SHUTDOWN_TIMEOUT_S), background jobs stop at a safe point, exit code 0."""
    import signal

    import uvicorn

    from api.app import create_app
    from api.logs import configure_logging

    settings = _settings(host=host, port=port)
    configure_logging(settings.log_format)
    # uvicorn handles SIGTERM itself while serving, then re-raises it to the handler it found: this one, so a
    # completed graceful shutdown exits 0 instead of dying by the signal. Before serving it stops at once.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    services = Services.build(settings)
    if ingest_paths:
        counts = _ingest_paths(services, ingest_paths)
        console.print(
            f"indexed: {counts.created} added, {counts.updated} updated, "
            f"{counts.unchanged} unchanged, {counts.failed} failed"
        )
    console.print(f"serving on http://{settings.host}:{settings.port} (docs at /docs)")
    uvicorn.run(
        create_app(settings, services),
        host=settings.host,
        port=settings.port,
        log_level="info",
        log_config=None,  # our handlers (configure_logging), so uvicorn's lines are JSON too when asked
        access_log=False,  # the request middleware writes the access line, with route, duration and request id
        # Streams get RAG_SHUTDOWN_TIMEOUT_S to finish (api/routers/query.py); uvicorn waits a little longer.
        timeout_graceful_shutdown=settings.shutdown_timeout_s + 5,
    )


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


sources_app = typer.Typer(help="Folders the index follows: new, changed and deleted files.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/] {message}", highlight=False)
    raise typer.Exit(code=2)


@sources_app.command("add")
def sources_add(
    path: Annotated[Path, typer.Argument(help="the folder", exists=True, file_okay=False)],
    include: Annotated[list[str] | None, typer.Option(help="glob of files to take (repeatable; default **/*)")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="glob of files to leave out (repeatable)")] = None,
    interval: Annotated[int | None, typer.Option(min=10, help="refresh every this many seconds")] = None,
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """Register a folder; `rag sources refresh` (or the service's scheduler) indexes it."""
    services = Services.build(_settings(), load_llm=False)
    try:
        source, _ = services.sources.add(
            str(path.resolve()), include, exclude, interval, refresh=False, collection=collection
        )
    except IngestError as exc:
        _fail(str(exc))
    typer.echo(json.dumps(source.model_dump(mode="json"), indent=2))


@sources_app.command("list")
def sources_list() -> None:
    """Registered folders, with their last refresh job."""
    services = Services.build(_settings(), load_llm=False)
    for source in services.registry.list_sources():
        job = services.registry.last_job(source.id)
        every = f"every {source.interval_s}s" if source.interval_s else "on demand"
        last = f"last {job.status.value} {job.counts}" if job else "never refreshed"
        typer.echo(f"{source.id}  {source.path}  ({every}; {last})")


@sources_app.command("remove")
def sources_remove(
    source_id: Annotated[str, typer.Argument(help="the source's id")],
    keep_documents: Annotated[bool, typer.Option(help="leave its documents in the index")] = False,
) -> None:
    """Stop following a folder and remove the documents indexed from it."""
    services = Services.build(_settings(), load_llm=False)
    source = services.registry.get_source(source_id) or _fail(f"no source with id {source_id!r}")
    try:
        services.sources.remove(source, keep_documents=keep_documents)
    except IngestError as exc:
        _fail(str(exc))
    console.print(f"removed {source.path}")


@sources_app.command("refresh")
def sources_refresh(
    source_ids: Annotated[list[str] | None, typer.Argument(help="sources to refresh (default: all)")] = None,
) -> None:
    """Refresh sources now, in this process; a source another process is refreshing is left to it."""
    services = Services.build(_settings(), load_llm=False)
    sources = [services.registry.get_source(i) or _fail(f"no source with id {i!r}") for i in source_ids or []]
    failed = False
    for source in sources or services.registry.list_sources():
        job, _ = services.jobs.request_refresh(source)
        done = services.jobs.run_refresh(job)
        if done is None:
            console.print(f"{source.path}: another process is refreshing it (job {job.id})")
            continue
        for error in done.errors:
            console.print(f"[yellow]failed[/] {error.source}: {error.error}", highlight=False)
        failed |= done.status is not JobStatus.succeeded or bool(done.errors)
        typer.echo(f"{source.path}: {done.status.value} {json.dumps(done.counts)}")
    if failed:
        raise typer.Exit(code=1)


@app.command()
def worker(
    tick: Annotated[float | None, typer.Option(help="seconds between looks for work (RAG_SCHEDULER_TICK_S)")] = None,
) -> None:
    """Run refresh jobs (scheduled and requested) in this process, for deployments whose API processes run
    with RAG_SCHEDULER=false. Stops at a safe point on Ctrl-C or SIGTERM; the next worker resumes."""
    import signal
    import threading

    settings = _settings(scheduler_tick_s=tick)
    if settings.chroma_url is None:
        console.print(
            "[yellow]warning:[/] the embedded store is not shared between processes: a service process running "
            "beside this worker would not see new vectors until restarted. Use a Chroma server (RAG_CHROMA_URL)."
        )
    services = Services.build(settings, load_llm=False)
    for signum in (signal.SIGTERM, signal.SIGINT):  # stop at a safe point, not wherever the signal lands
        signal.signal(signum, lambda *_: services.jobs.shutdown(wait=False))
    console.print(f"worker: looking for refresh jobs every {settings.scheduler_tick_s:g}s")
    if settings.watch:
        threading.Thread(target=services.jobs.watch, args=(settings.scheduler_tick_s,), daemon=True).start()
    services.jobs.serve(settings.scheduler_tick_s)
    console.print("worker stopped")


keys_app = typer.Typer(help="API keys for the HTTP API (docs/security.md).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _keys() -> KeyService:
    """Only the registry: managing keys loads no model."""
    return KeyService(Registry.from_url(_settings().registry_url))


@keys_app.command("create")
def keys_create(
    scope: Annotated[str, typer.Option(help=f"one of {', '.join(SCOPES)}; each includes the ones before it")],
    collection: Annotated[
        str, typer.Option(help=f"the collection the key may use; {ALL_COLLECTIONS} (admin keys only): every one")
    ] = DEFAULT_COLLECTION,
    name: Annotated[str | None, typer.Option(help="what the key is for, shown in listings")] = None,
) -> None:
    """Make a key and print it (on stdout, once: only its hash is stored)."""
    if collection == ALL_COLLECTIONS and scope != "admin":
        _fail("only admin keys can be for every collection (*); name one with --collection")
    try:
        record, token = _keys().create(scope, collection, name)
    except InvalidKeyRequest as exc:
        _fail(str(exc))
    console.print(
        f"made {record.scope} key {record.prefix}... for collection {record.collection}; it is printed once, below. "
        "Send it as 'Authorization: Bearer <key>'.",
        highlight=False,
    )
    typer.echo(token)


@keys_app.command("list")
def keys_list(
    revoked: Annotated[bool, typer.Option("--revoked", help="also list revoked keys")] = False,
) -> None:
    """Keys by prefix, scope and collection (never the keys themselves)."""
    for key in _keys().list(include_revoked=revoked):
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        typer.echo(
            f"{key.prefix}  {key.scope:<5}  {key.collection:<20}  {state:<24}  "
            f"created {key.created_at:%Y-%m-%d %H:%M}  {key.name or ''}".rstrip()
        )


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="the key's prefix as listed (rag_ and 8 characters) or id")],
) -> None:
    """Revoke a key: requests with it get 401 from then on, in every process sharing the registry."""
    service = _keys()
    key = service.find(prefix) or _fail(f"no active key with prefix or id {prefix!r} (see `rag keys list`)")
    service.revoke(key)
    console.print(f"revoked {key.prefix}... ({key.scope}, collection {key.collection})", highlight=False)


model_app = typer.Typer(help="Bring your own model: export a local checkpoint for the service.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("export")
def model_export(
    src: Annotated[
        Path, typer.Argument(help="a local Hugging Face checkpoint folder: config.json, weights, tokenizer files")
    ],
    out: Annotated[Path, typer.Argument(help="the OpenVINO IR folder to write (must be new or empty)")],
    weight_format: Annotated[
        Literal["int8", "int4", "fp16"], typer.Option(help="int8: ~1 byte/param; int4: ~0.6; fp16: 2")
    ] = "int8",
    family: Annotated[
        Literal["auto", "chatml", "dolly", "oasst", "llama2", "solar"],
        typer.Option(help="prompt family to record; auto: from the chat template, then the folder name"),
    ] = "auto",
) -> None:
    """Export the local checkpoint folder SRC (Dolly 2.0, OpenAssistant Pythia, Llama-2-chat, SOLAR, ...) to a new
    OpenVINO IR folder OUT, offline, recording its prompt family; then serve it with RAG_LLM_MODEL=OUT."""
    from rag.models.export import ExportError, export_checkpoint

    def say(message: str) -> None:
        console.print(message, markup=False, highlight=False, soft_wrap=True)

    try:
        result = export_checkpoint(src, out, weight_format, family, progress=say)
    except ExportError as exc:
        say(f"export failed: {exc}")
        raise typer.Exit(code=1) from None
    if result.family:
        how = "as asked" if result.detected_by == "forced" else f"from its {result.detected_by}"
        chosen = f"prompt family {result.family} ({how})"
    else:
        chosen = "prompt family not recognised: pass --family, or set RAG_LLM_FAMILY when serving"
    size = f"{result.size_bytes / 1e9:.2f} GB" if result.size_bytes >= 1e8 else f"{result.size_bytes / 1e6:.1f} MB"
    say(f"exported to {result.path} in {result.seconds:.0f}s: {result.weight_format}, {size}, {chosen}")
    typer.echo(f"RAG_LLM_MODEL={result.path.resolve()}")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "chromadb", "sentence_transformers", "nncf", "transformers", "bm25s", "optimum"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
