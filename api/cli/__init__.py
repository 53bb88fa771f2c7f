"""The ``rag`` command: prepare models, ingest files, ask questions, serve the API.

One module per command group: documents (ingest, check, ask), chat (chat, conversations), server (prepare, serve,
worker), eval, sources, keys, models; common holds what they share. Every command builds the service through
service.build.
"""

from __future__ import annotations

import logging

import typer

from api.cli import chat, documents, keys, models, server, sources
from api.cli import eval as eval_commands
from api.cli.common import console
from rag.store.identity import EmbedderMismatch

app = typer.Typer(help="Self-hosted RAG: answers from your documents, with citations.", no_args_is_help=True)
app.command()(server.prepare)
app.command()(documents.ingest)
app.command()(documents.check)
app.command()(documents.reindex)
app.command()(documents.ask)
app.command()(chat.chat)
app.add_typer(chat.app, name="conversations")
app.add_typer(eval_commands.app, name="eval")
app.command()(server.serve)
app.add_typer(sources.app, name="sources")
app.command()(server.worker)
app.add_typer(keys.app, name="keys")
app.add_typer(models.app, name="model")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "chromadb", "sentence_transformers", "nncf", "transformers", "bm25s", "optimum"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        app()
    except EmbedderMismatch as exc:  # raised while building, before any command could say it: say what to do
        console.print(f"[red]error:[/] {exc}", highlight=False)
        raise SystemExit(2) from None


__all__ = ["app", "main"]
