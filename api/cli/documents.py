"""Working with the index from the command line: ``rag ingest``, ``rag check``, ``rag reindex``, ``rag ask``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from api.cli.common import CollectionOption, console, fail, ingest_with_progress, load_settings
from rag.store.registry import DEFAULT_COLLECTION
from service import build


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or folders to index", exists=True)],
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """Index files and folders (new files are added, changed ones get a new version)."""
    services = build(load_settings(), load_llm=False)
    counts = ingest_with_progress(services, paths, collection)
    console.print(
        f"{counts.created} added, {counts.updated} updated, {counts.unchanged} unchanged, "
        f"{counts.failed} failed; {counts.chunks} chunks written"
    )
    if counts.failed:
        raise typer.Exit(code=1)


def check(
    refresh_sentences: Annotated[
        bool,
        typer.Option(
            "--refresh-sentences",
            help="also store sentence vectors for chunks indexed without them (before they were stored, or under "
            "other sentence rules), so that their first sight embeds no sentences at query time",
        ),
    ] = False,
) -> None:
    """Repair what an interrupted ingest left behind, then verify that registry and index agree."""
    services = build(load_settings(), load_llm=False)  # building reconciles
    refreshed = services.indexer.refresh_sentence_vectors() if refresh_sentences else 0
    problems = services.indexer.verify()
    report = {
        "documents": services.registry.count(),
        "chunks": services.store.count(),
        "chunks_without_sentence_vectors": len(services.indexer.stale_sentence_chunks()),
        "sentence_vectors_refreshed": refreshed,
        "problems": problems,
    }
    typer.echo(json.dumps(report, indent=2))
    if problems:
        raise typer.Exit(code=1)


def reindex() -> None:
    """Re-embed every chunk with the embedder RAG_EMBEDDER names (after changing it on a built index); stop the
    service first. An interrupted run leaves the index refused until a rerun finishes it."""
    from ingest.reindex import reindex as reindex_all

    settings = load_settings()
    if settings.embedder == "auto":
        fail("set RAG_EMBEDDER to the embedder to re-embed with (minilm or multilingual-e5-small), not auto")
    services = build(settings, load_llm=False, check_index=False)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(f"re-embedding {stage}", total=total)
            progress.update(tasks[stage], completed=done, total=total)

        result = reindex_all(services.indexer, on_progress=on_progress)
    typer.echo(result.model_dump_json(indent=2))


def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    top_k: Annotated[int | None, typer.Option(min=1, max=50, help="chunks to retrieve")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON object")] = False,
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """Answer a question from the indexed documents."""
    services = build(load_settings())
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
