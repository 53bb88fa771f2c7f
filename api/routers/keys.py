"""API keys over HTTP, for admins. An admin key bound to a collection manages that collection's keys only; an
admin key of every collection (``*``) manages all of them."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.auth import AUTH_RESPONSES, AdminCaller
from api.deps import ServicesDep
from api.schemas import ErrorBody, KeyCreate, KeyCreated, KeyList, KeyOut
from rag.errors import Forbidden, NotFound, Unprocessable
from rag.keys import ALL_COLLECTIONS, check_collection

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=AUTH_RESPONSES)


@router.get("", response_model=KeyList, summary="API keys (never the keys themselves)")
def list_keys(services: ServicesDep, caller: AdminCaller) -> KeyList:
    keys = services.keys.list(None if caller.all_collections else caller.collection)
    return KeyList(keys=[KeyOut(**k.model_dump()) for k in keys])


@router.post(
    "",
    response_model=KeyCreated,
    status_code=status.HTTP_201_CREATED,
    responses={422: {"model": ErrorBody}},
    summary="Make an API key",
    description="The answer holds the key itself; it is stored only as a hash and cannot be shown again.",
)
def create_key(body: KeyCreate, services: ServicesDep, caller: AdminCaller) -> KeyCreated:
    collection = check_collection(body.collection or caller.collection, allow_all=True)
    if not caller.all_collections and collection != caller.collection:
        raise Forbidden(
            f"this admin key is for collection '{caller.collection}' and can make keys for it only, not for "
            f"'{collection}'"
        )
    if collection == ALL_COLLECTIONS and body.scope != "admin":
        raise Unprocessable("only admin keys can be for every collection (*); name one")
    record, token = services.keys.create(body.scope, collection, body.name)
    return KeyCreated(**record.model_dump(), key=token)


@router.delete(
    "/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorBody}},
    summary="Revoke an API key, by its id or its prefix (rag_ and 8 characters)",
)
def revoke_key(key: str, services: ServicesDep, caller: AdminCaller) -> Response:
    record = services.keys.find(key, None if caller.all_collections else caller.collection)
    if record is None or not services.keys.revoke(record):
        raise NotFound(f"no active API key with id or prefix {key!r} that this admin key manages")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
