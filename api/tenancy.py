"""Tenancy in the routes: a record of another collection is as absent as a missing one."""

from __future__ import annotations

from typing import Protocol, TypeVar

from api.auth import Caller
from rag.errors import NotFound


class _Owned(Protocol):
    @property
    def collection(self) -> str: ...


R = TypeVar("R", bound=_Owned)


def not_found(what: str, id: str, caller: Caller) -> NotFound:
    """The 404 for a ``what`` (document, source, job) that the caller's collection does not hold."""
    return NotFound(f"no {what} with id {id!r} in collection {caller.collection!r}")


def owned_or_404(record: R | None, caller: Caller, what: str, id: str) -> R:
    """``record`` if it is in the caller's collection, else the 404 of ``not_found``."""
    if record is None or record.collection != caller.collection:
        raise not_found(what, id, caller)
    return record
