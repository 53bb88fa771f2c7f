"""``rag sources``: folders the index follows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import CollectionOption, console, fail, load_settings
from ingest.errors import IngestError
from rag.store.registry import DEFAULT_COLLECTION, JobStatus
from service import build

app = typer.Typer(help="Folders the index follows: new, changed and deleted files.", no_args_is_help=True)


@app.command("add")
def sources_add(
    path: Annotated[Path, typer.Argument(help="the folder", exists=True, file_okay=False)],
    include: Annotated[list[str] | None, typer.Option(help="glob of files to take (repeatable; default **/*)")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="glob of files to leave out (repeatable)")] = None,
    interval: Annotated[int | None, typer.Option(min=10, help="refresh every this many seconds")] = None,
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """Register a folder; `rag sources refresh` (or the service's scheduler) indexes it."""
    services = build(load_settings(), load_llm=False)
    try:
        source, _ = services.sources.add(
            str(path.resolve()), include, exclude, interval, refresh=False, collection=collection
        )
    except IngestError as exc:
        fail(str(exc))
    typer.echo(json.dumps(source.model_dump(mode="json"), indent=2))


@app.command("list")
def sources_list() -> None:
    """Registered folders, with their last refresh job."""
    services = build(load_settings(), load_llm=False)
    for source in services.registry.list_sources():
        job = services.registry.last_job(source.id)
        every = f"every {source.interval_s}s" if source.interval_s else "on demand"
        last = f"last {job.status.value} {job.counts}" if job else "never refreshed"
        typer.echo(f"{source.id}  {source.path}  ({every}; {last})")


@app.command("remove")
def sources_remove(
    source_id: Annotated[str, typer.Argument(help="the source's id")],
    keep_documents: Annotated[bool, typer.Option(help="leave its documents in the index")] = False,
) -> None:
    """Stop following a folder and remove the documents indexed from it."""
    services = build(load_settings(), load_llm=False)
    source = services.registry.get_source(source_id) or fail(f"no source with id {source_id!r}")
    try:
        services.sources.remove(source, keep_documents=keep_documents)
    except IngestError as exc:
        fail(str(exc))
    console.print(f"removed {source.path}")


@app.command("refresh")
def sources_refresh(
    source_ids: Annotated[list[str] | None, typer.Argument(help="sources to refresh (default: all)")] = None,
) -> None:
    """Refresh sources now, in this process; a source another process is refreshing is left to it."""
    services = build(load_settings(), load_llm=False)
    sources = [services.registry.get_source(i) or fail(f"no source with id {i!r}") for i in source_ids or []]
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
