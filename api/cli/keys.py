"""``rag keys``: API keys for the HTTP API. Managing keys opens only the registry: no model is loaded."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import console, fail, load_settings
from rag.keys import ALL_COLLECTIONS, SCOPES, InvalidKeyRequest, KeyService
from rag.store.registry import DEFAULT_COLLECTION, Registry

app = typer.Typer(help="API keys for the HTTP API (docs/security.md).", no_args_is_help=True)


def _keys() -> KeyService:
    """Only the registry: managing keys loads no model."""
    return KeyService(Registry.from_url(load_settings().registry_url))


@app.command("create")
def keys_create(
    scope: Annotated[str, typer.Option(help=f"one of {', '.join(SCOPES)}; each includes the ones before it")],
    collection: Annotated[
        str, typer.Option(help=f"the collection the key may use; {ALL_COLLECTIONS} (admin keys only): every one")
    ] = DEFAULT_COLLECTION,
    name: Annotated[str | None, typer.Option(help="what the key is for, shown in listings")] = None,
) -> None:
    """Make a key and print it (on stdout, once: only its hash is stored)."""
    if collection == ALL_COLLECTIONS and scope != "admin":
        fail("only admin keys can be for every collection (*); name one with --collection")
    try:
        record, token = _keys().create(scope, collection, name)
    except InvalidKeyRequest as exc:
        fail(str(exc))
    console.print(
        f"made {record.scope} key {record.prefix}... for collection {record.collection}; it is printed once, below. "
        "Send it as 'Authorization: Bearer <key>'.",
        highlight=False,
    )
    typer.echo(token)


@app.command("list")
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


@app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="the key's prefix as listed (rag_ and 8 characters) or id")],
) -> None:
    """Revoke a key: requests with it get 401 from then on, in every process sharing the registry."""
    service = _keys()
    key = service.find(prefix) or fail(f"no active key with prefix or id {prefix!r} (see `rag keys list`)")
    service.revoke(key)
    console.print(f"revoked {key.prefix}... ({key.scope}, collection {key.collection})", highlight=False)
