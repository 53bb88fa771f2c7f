"""``rag chat``: a conversation in the terminal; ``rag conversations``: list, show and delete conversations.

``rag chat`` reads questions from stdin, one a line, until end of input or ``/exit``, and answers each read
against the questions and answers before it (a follow-up such as "and when does it close?" is resolved against
the conversation), printing the answer and its sources on stdout. ``/new`` starts a new conversation. Each
conversation is kept in the registry, like those of the API and the web page, so it can be listed, shown, resumed
(``--conversation``) and deleted. Prompts and notes go to stderr, so stdout holds only the answers.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import Annotated

import typer

from api.cli.common import CollectionOption, console, fail, load_settings
from rag.store.registry import DEFAULT_COLLECTION, Conversation, Registry
from rag.types import Answer, Citation
from service import build

EXIT_COMMANDS = frozenset({"/exit", "/quit"})
NEW_COMMAND = "/new"

app = typer.Typer(help="Conversations kept by the service (web page, API, `rag chat`).", no_args_is_help=True)


def _owned(registry: Registry, conversation_id: str, collection: str) -> Conversation:
    conversation = registry.get_conversation(conversation_id)
    if conversation is None or conversation.collection != collection:
        fail(f"no conversation with id {conversation_id!r} in collection {collection!r} (see `rag conversations list`)")
    return conversation


def source_line(citation: Citation) -> str:
    where = citation.source + (f", page {citation.page}" if citation.page else "")
    return f"  [{citation.marker}] {where}: “{' '.join(citation.quote.split())}”"


def print_answer(answer: Answer) -> None:
    """The answer, the question it answers when a follow-up was resolved, and its sources (stdout)."""
    if answer.standalone_question:
        typer.echo(f"(answering: {answer.standalone_question})")
    typer.echo(answer.answer)
    if answer.citations:
        typer.echo("Sources:")
        for citation in answer.citations:
            typer.echo(source_line(citation))
    typer.echo("")


def chat(
    collection: CollectionOption = DEFAULT_COLLECTION,
    conversation_id: Annotated[
        str | None, typer.Option("--conversation", help="resume this conversation (see `rag conversations list`)")
    ] = None,
    top_k: Annotated[int | None, typer.Option(min=1, max=50, help="chunks to retrieve")] = None,
) -> None:
    """Ask questions in a conversation: one a line on stdin; /new starts another conversation, /exit ends."""
    services = build(load_settings())
    assert services.pipeline is not None
    registry, pipeline = services.registry, services.pipeline
    conversation = _owned(registry, conversation_id, collection) if conversation_id else None
    interactive = sys.stdin.isatty()
    if interactive:
        console.print("Ask a question. /new starts a new conversation, /exit (or Ctrl-D) ends.", highlight=False)
    if conversation is not None:
        console.print(f"resuming conversation {conversation.id} ({conversation.turn_count} earlier questions)")
    while True:
        if interactive:
            console.print("[bold]you>[/] ", end="")
        line = sys.stdin.readline()
        if not line:
            break
        question = line.strip()
        if not question:
            continue
        if question in EXIT_COMMANDS:
            break
        if question == NEW_COMMAND:
            conversation = None
            console.print("new conversation")
            continue
        if conversation is None:  # made on its first question, so a session that asks nothing leaves nothing
            conversation = registry.create_conversation(collection)
            console.print(f"conversation {conversation.id}", highlight=False)
        with console.status("answering…", spinner="dots") if interactive else nullcontext():
            answer, _ = services.conversations.answer(pipeline, conversation, question, top_k=top_k)
        print_answer(answer)


def _registry() -> Registry:
    """Only the registry: listing and deleting conversations loads no model."""
    return Registry.from_url(load_settings().registry_url)


@app.command("list")
def conversations_list(
    collection: CollectionOption = DEFAULT_COLLECTION,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="at most this many, the most recent first")] = 100,
) -> None:
    """Conversations of a collection, the most recently used first."""
    for c in _registry().list_conversations(collection, limit=limit):
        typer.echo(f"{c.id}  {c.updated_at:%Y-%m-%d %H:%M}  {c.turn_count:>3} turns  {c.title or ''}".rstrip())


@app.command("show")
def conversations_show(
    conversation_id: Annotated[str, typer.Argument(help="the conversation's id, as listed")],
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """A conversation's questions and answers, with their sources."""
    registry = _registry()
    conversation = _owned(registry, conversation_id, collection)
    typer.echo(f"{conversation.title or conversation.id} ({conversation.turn_count} turns)\n")
    for turn in registry.conversation_turns(conversation.id):
        typer.echo(f"you> {turn.question}")
        if turn.standalone_question:
            typer.echo(f"(answering: {turn.standalone_question})")
        typer.echo(turn.answer)
        for citation in turn.citations:
            typer.echo(source_line(citation))
        typer.echo("")


@app.command("delete")
def conversations_delete(
    conversation_id: Annotated[str, typer.Argument(help="the conversation's id, as listed")],
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """Delete a conversation and its turns."""
    registry = _registry()
    registry.delete_conversation(_owned(registry, conversation_id, collection).id)
    console.print(f"deleted conversation {conversation_id}", highlight=False)
