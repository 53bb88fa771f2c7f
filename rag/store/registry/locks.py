"""Leases: named locks shared by every process on one registry (at most one refresh per source).

A lease ends when released, when it expires without renewal, or when its owner is known to be dead.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from rag.store.owners import current_owner, owner_alive
from rag.store.records import as_utc
from rag.store.registry.base import RegistryPart
from rag.store.registry.schema import locks, now


def source_lock_name(source_id: str) -> str:
    """The lease that at most one refresh of a source holds at a time."""
    return f"refresh:{source_id}"


class Locks(RegistryPart):
    def try_lock(self, name: str, ttl_s: float) -> bool:
        """Take the named lease for this process, or renew it; False while another live owner holds it."""
        owner, taken_at = current_owner(), now()
        expires = taken_at + dt.timedelta(seconds=ttl_s)
        with self.engine.connect() as conn:
            row = conn.execute(select(locks).where(locks.c.name == name)).first()
        if row is None:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(locks).values(name=name, owner=owner, expires_at=expires))
                return True
            except IntegrityError:
                return False  # another process inserted it first
        if row.owner != owner and as_utc(row.expires_at) > taken_at and owner_alive(row.owner):
            return False
        with self.engine.begin() as conn:  # compare-and-swap on the owner we saw: one taker wins
            taken = conn.execute(
                update(locks)
                .where(locks.c.name == name, locks.c.owner == row.owner)
                .values(owner=owner, expires_at=expires)
            ).rowcount
        return taken == 1

    def release_lock(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(locks).where(locks.c.name == name, locks.c.owner == current_owner()))

    def lock_holder(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(locks.c.owner).where(locks.c.name == name)).scalar()
