"""Who is calling and which collection they may use: the dependency every /v1 route declares.

A request sends its key as ``Authorization: Bearer <key>`` (what OpenAI clients send as ``api_key``) and may
name a collection in ``X-Collection``; without that header it uses its key's collection, or ``default`` for a
key of every collection. 401: no key or one that is unknown or revoked; 403: a valid key without the scope or
the collection the request needs. With ``RAG_AUTH=false`` every request is an admin of every collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import ServicesDep
from api.schemas import ErrorBody
from rag.keys import ALL_COLLECTIONS, COLLECTION_PATTERN, Scope, scope_allows
from rag.store.registry import DEFAULT_COLLECTION, ApiKeyRecord
from service import Services

COLLECTION_HEADER = "X-Collection"

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="APIKey",
    description="An API key (`rag_...`) as `Authorization: Bearer <key>`. The service writes its first admin key "
    "to DATA_DIR/admin-key; `rag keys create` and POST /v1/keys make more. Not needed with RAG_AUTH=false.",
)

HOW_TO_SEND = (
    "send an API key as 'Authorization: Bearer <key>' (OpenAI clients: api_key=<key>); the service's first admin "
    "key is in the file admin-key in its data directory, and `rag keys create` makes more"
)

# Documented on every protected route, so clients (and the fuzzer) know the shape of these answers.
AUTH_RESPONSES: dict[int | str, dict] = {
    401: {"model": ErrorBody, "description": "no API key, or one that is unknown or revoked"},
    403: {"model": ErrorBody, "description": "the key lacks the scope or the collection this request needs"},
}


@dataclass(frozen=True)
class Caller:
    """The key a request came with (None when auth is off) and the one collection it works in."""

    key: ApiKeyRecord | None
    scope: Scope
    collection: str
    all_collections: bool  # the key may use any collection (admin keys made with "*", or auth off)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def _caller(
    request: Request,
    services: Services,
    credentials: HTTPAuthorizationCredentials | None,
    collection: str | None,
    need: Scope,
) -> Caller:
    if not services.settings.auth:
        return Caller(None, "admin", collection or DEFAULT_COLLECTION, True)
    if credentials is None:
        sent = request.headers.get("authorization")
        if sent:
            raise _unauthorized(f"the Authorization header is not of the form 'Bearer <key>'; {HOW_TO_SEND}")
        raise _unauthorized(f"this API needs a key: {HOW_TO_SEND}")
    key = services.keys.verify(credentials.credentials)
    if key is None:
        raise _unauthorized(f"the API key is not valid (unknown or revoked); {HOW_TO_SEND}")
    route = getattr(request.scope.get("route"), "path", request.url.path)
    if not scope_allows(key.scope, need):
        raise HTTPException(
            status_code=403,
            detail=f"API key {key.prefix}... has scope '{key.scope}'; {request.method} {route} needs scope '{need}'"
            + (" or higher" if need != "admin" else ""),
        )
    if key.collection == ALL_COLLECTIONS:
        return Caller(key, key.scope, collection or DEFAULT_COLLECTION, True)  # type: ignore[arg-type]
    if collection is not None and collection != key.collection:
        raise HTTPException(
            status_code=403,
            detail=f"API key {key.prefix}... is for collection '{key.collection}' and cannot use collection "
            f"'{collection}'; use a key for '{collection}', or leave out {COLLECTION_HEADER}",
        )
    return Caller(key, key.scope, key.collection, False)  # type: ignore[arg-type]


def require(need: Scope):
    """A dependency admitting callers whose key has scope ``need`` (or higher) for the requested collection."""

    def dependency(
        request: Request,
        services: ServicesDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        collection: Annotated[
            str | None,
            Header(
                alias=COLLECTION_HEADER,
                pattern=COLLECTION_PATTERN,
                description="the collection to work in; default: the key's own collection (`default` for keys of "
                "every collection)",
            ),
        ] = None,
    ) -> Caller:
        return _caller(request, services, credentials, collection, need)

    return dependency


read_access = require("read")
write_access = require("write")
admin_access = require("admin")

# What a route declares to know its caller: ``caller: ReadCaller`` admits read keys and above, and so on.
ReadCaller = Annotated[Caller, Depends(read_access)]
WriteCaller = Annotated[Caller, Depends(write_access)]
AdminCaller = Annotated[Caller, Depends(admin_access)]
