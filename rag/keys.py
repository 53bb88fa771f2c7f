"""API keys: made, checked, listed and revoked here; stored hashed in the registry.

A key is ``rag_`` plus 32 random bytes (URL-safe base64). The registry keeps only its SHA-256 and its first
characters (the prefix, shown in listings so people can tell keys apart): a copy of the database does not give
anyone a working key. A presented key is looked up by its prefix and its hash compared in constant time.

Scopes are ordered: ``admin`` includes ``write``, which includes ``read``. A key is bound to one collection, or
to ``*`` (every collection), which is how the first admin key is made.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Literal

from rag.errors import Unprocessable
from rag.store.registry import ApiKeyRecord, Registry

log = logging.getLogger(__name__)

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
ALL_COLLECTIONS = "*"
TOKEN_PREFIX = "rag_"
PREFIX_LENGTH = len(TOKEN_PREFIX) + 8  # "rag_" and 8 random characters: 48 bits, plenty to tell keys apart
COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_COLLECTION = re.compile(COLLECTION_PATTERN)
_BOOTSTRAP_LOCK = "bootstrap-admin-key"


class InvalidKeyRequest(Unprocessable):
    """A key cannot be made or changed as asked (bad scope or collection name)."""


def scope_allows(have: str, need: str) -> bool:
    """Whether a key of scope ``have`` may do what needs ``need``."""
    return SCOPES.index(have) >= SCOPES.index(need)


def check_collection(name: str, allow_all: bool = False) -> str:
    """A valid collection name (letters, digits, ``_ . -``, up to 64), or ``*`` where ``allow_all``."""
    if allow_all and name == ALL_COLLECTIONS:
        return name
    if not _COLLECTION.fullmatch(name):
        raise InvalidKeyRequest(
            f"collection name {name!r} is not valid: use 1 to 64 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit" + (" (or * for every collection)" if allow_all else "")
        )
    return name


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class KeyService:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def create(self, scope: str, collection: str, name: str | None = None) -> tuple[ApiKeyRecord, str]:
        """A new key: its record and the key itself, which is not stored anywhere and cannot be shown again."""
        if scope not in SCOPES:
            raise InvalidKeyRequest(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
        check_collection(collection, allow_all=True)
        if name is not None and len(name) > 256:
            raise InvalidKeyRequest(f"a key's name is at most 256 characters, not {len(name)}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = self.registry.create_api_key(
            prefix=token[:PREFIX_LENGTH], key_hash=hash_token(token), scope=scope, collection=collection, name=name
        )
        return record, token

    def verify(self, token: str) -> ApiKeyRecord | None:
        """The unrevoked key matching ``token``, or None. The hash comparison takes the same time wherever the
        hashes differ, so response times do not reveal how much of a guess was right."""
        if not token.startswith(TOKEN_PREFIX) or len(token) < PREFIX_LENGTH or len(token) > 256:
            return None
        presented = hash_token(token)
        match = None
        for record, stored in self.registry.api_key_candidates(token[:PREFIX_LENGTH]):
            if hmac.compare_digest(presented, stored):
                match = record
        return match

    def list(self, collection: str | None = None, include_revoked: bool = False) -> list[ApiKeyRecord]:
        return self.registry.list_api_keys(collection, include_revoked)

    def find(self, prefix_or_id: str, collection: str | None = None) -> ApiKeyRecord | None:
        """An unrevoked key by its id or its whole prefix (``rag_`` and 8 characters), optionally of one
        collection only; None when nothing or more than one key matches."""
        found = [k for k in self.list(collection) if prefix_or_id in (k.id, k.prefix)]
        return found[0] if len(found) == 1 else None

    def revoke(self, key: ApiKeyRecord) -> bool:
        return self.registry.revoke_api_key(key.id)

    def ensure_admin_key(self, path: Path) -> Path | None:
        """On a service's first start (no usable key at all): make an admin key for every collection and write it
        to ``path``, readable by the service's user only. Returns the path when a key was made.

        A registry lease makes processes starting together agree on one key. The key goes to the file only, never
        to the log."""
        if self.registry.count_active_api_keys():
            return None
        if not self.registry.try_lock(_BOOTSTRAP_LOCK, ttl_s=60):
            return None  # another process is making it
        try:
            if self.registry.count_active_api_keys():
                return None
            record, token = self.create("admin", ALL_COLLECTIONS, name=f"first admin key, written to {path}")
            write_secret(path, token + "\n")
            log.warning(
                "authentication is on and there was no API key: made admin key %s... for every collection and "
                "wrote it to %s (readable by this user only). Send it as 'Authorization: Bearer <key>'; make "
                "narrower keys with `rag keys create` or POST /v1/keys",
                record.prefix,
                path.resolve(),
            )
            return path
        finally:
            self.registry.release_lock(_BOOTSTRAP_LOCK)


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the first byte (never briefly readable by others), then
    move it into place, so a reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask cannot widen it, but an existing tmp file's mode would stay
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
