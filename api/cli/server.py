"""Running the service: ``rag prepare`` (load the models once), ``rag serve`` (the HTTP API), ``rag worker``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import console, ingest_with_progress, load_settings
from service import build


def prepare() -> None:
    """Load (and on first use, export and cache) the default models, so the first request is fast."""
    settings = load_settings()
    started = time.perf_counter()
    services = build(settings)
    assert services.llm is not None
    console.print(
        f"ready in {time.perf_counter() - started:.1f}s: embedder {settings.embedding_backend}, "
        f"LLM {services.llm.name} ({services.llm.family.name}), data in {settings.data_dir}"
    )


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

    settings = load_settings(host=host, port=port)
    configure_logging(settings.log_format)
    # uvicorn handles SIGTERM itself while serving, then re-raises it to the handler it found: this one, so a
    # completed graceful shutdown exits 0 instead of dying by the signal. Before serving it stops at once.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    services = build(settings)
    if ingest_paths:
        counts = ingest_with_progress(services, ingest_paths)
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


def worker(
    tick: Annotated[float | None, typer.Option(help="seconds between looks for work (RAG_SCHEDULER_TICK_S)")] = None,
) -> None:
    """Run refresh jobs (scheduled and requested) in this process, for deployments whose API processes run
    with RAG_SCHEDULER=false. Stops at a safe point on Ctrl-C or SIGTERM; the next worker resumes."""
    import signal
    import threading

    settings = load_settings(scheduler_tick_s=tick)
    if settings.chroma_url is None:
        console.print(
            "[yellow]warning:[/] the embedded store is not shared between processes: a service process running "
            "beside this worker would not see new vectors until restarted. Use a Chroma server (RAG_CHROMA_URL)."
        )
    services = build(settings, load_llm=False)
    for signum in (signal.SIGTERM, signal.SIGINT):  # stop at a safe point, not wherever the signal lands
        signal.signal(signum, lambda *_: services.jobs.shutdown(wait=False))
    console.print(f"worker: looking for refresh jobs every {settings.scheduler_tick_s:g}s")
    if settings.watch:
        threading.Thread(target=services.jobs.watch, args=(settings.scheduler_tick_s,), daemon=True).start()
    services.jobs.serve(settings.scheduler_tick_s)
    console.print("worker stopped")
