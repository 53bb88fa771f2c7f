"""What the command groups share: settings from the environment, the console, options, errors, progress."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ingest.errors import IngestError
from ingest.indexer import IngestCounts, IngestOutcome, IngestResult, iter_files
from rag.config import Settings
from rag.keys import InvalidKeyRequest, check_collection
from rag.store.registry import DEFAULT_COLLECTION
from service import Services

console = Console(stderr=True)


def load_settings(**overrides) -> Settings:
    """The settings from the environment (RAG_*), with the options given on the command line."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/] {message}", highlight=False)
    raise typer.Exit(code=2)


def command_line() -> str:
    """This command as typed, for the reports it writes."""
    return " ".join(["rag", *(shlex.quote(a) for a in sys.argv[1:])])


def _collection(name: str) -> str:
    try:
        return check_collection(name)
    except InvalidKeyRequest as exc:
        raise typer.BadParameter(str(exc)) from None


CollectionOption = Annotated[
    str, typer.Option(help="the collection (tenant) to work in; see docs/security.md", callback=_collection)
]


def ingest_with_progress(services: Services, paths: list[Path], collection: str = DEFAULT_COLLECTION) -> IngestCounts:
    """``Services.ingest_paths`` with a progress bar: files done, files/s and chunks/s; skipped files said."""
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

        return services.ingest_paths(paths, collection, on_result)
