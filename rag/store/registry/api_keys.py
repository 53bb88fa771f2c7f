"""API keys: only a key's SHA-256 and first characters are stored; the key itself is the caller's (rag/keys.py)."""

from __future__ import annotations

from sqlalchemy import select, update

from rag.store.records import ApiKeyRecord
from rag.store.registry.base import RegistryPart, new_id
from rag.store.registry.schema import api_keys, now


class ApiKeys(RegistryPart):
    def create_api_key(
        self, *, prefix: str, key_hash: str, scope: str, collection: str, name: str | None
    ) -> ApiKeyRecord:
        row = {
            "id": new_id(),
            "prefix": prefix,
            "scope": scope,
            "collection": collection,
            "name": name,
            "created_at": now(),
            "revoked_at": None,
        }
        return self._add(api_keys, ApiKeyRecord, row, key_hash=key_hash)

    def api_key_candidates(self, prefix: str) -> list[tuple[ApiKeyRecord, str]]:
        """Unrevoked keys whose prefix is ``prefix``, each with its stored hash, for the caller to compare."""
        stmt = select(api_keys).where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [(ApiKeyRecord(**row), row["key_hash"]) for row in conn.execute(stmt).mappings()]

    def list_api_keys(self, collection: str | None = None, include_revoked: bool = False) -> list[ApiKeyRecord]:
        stmt = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if collection is not None:
            stmt = stmt.where(api_keys.c.collection == collection)
        if not include_revoked:
            stmt = stmt.where(api_keys.c.revoked_at.is_(None))
        return self._all(stmt, ApiKeyRecord)

    def revoke_api_key(self, key_id: str) -> bool:
        stmt = update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=now())
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount > 0

    def count_active_api_keys(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(api_keys.c.id).where(api_keys.c.revoked_at.is_(None))).all())
