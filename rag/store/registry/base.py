"""What the registry's parts share: one engine, and turning rows into records and records into rows."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Table, insert
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Executable

R = TypeVar("R", bound=BaseModel)


def new_id() -> str:
    """A row id: 32 hex digits, unique without asking the database."""
    return uuid.uuid4().hex


class RegistryPart:
    """Base of the parts the Registry is made of (one per concern: documents, jobs, sources, leases, API keys);
    each reads and writes its own tables over the engine they all share."""

    engine: Engine

    def _first(self, stmt: Executable, record: type[R]) -> R | None:
        """The first row ``stmt`` selects as a ``record``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return record(**row) if row else None

    def _all(self, stmt: Executable, record: type[R]) -> list[R]:
        """Every row ``stmt`` selects, each as a ``record``."""
        with self.engine.connect() as conn:
            return [record(**row) for row in conn.execute(stmt).mappings()]

    def _add(self, table: Table, record: type[R], row: dict[str, Any], **hidden: Any) -> R:
        """Insert ``row`` (with columns the record does not show, such as the owner) and return it as a record."""
        with self.engine.begin() as conn:
            conn.execute(insert(table).values(**row, **hidden))
        return record(**row)
