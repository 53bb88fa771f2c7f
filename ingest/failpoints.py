"""Named points where a test can make the process die, to prove ingestion survives a crash there.

Set ``RAG_FAILPOINT=<name>`` in a subprocess's environment; when execution reaches that point the process
sends itself SIGKILL, exactly as an out-of-memory kill or a power cut would end it. Unset, it costs one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "RAG_FAILPOINT"

# Where an ingest can be interrupted, in the order they are reached.
POINTS = (
    "after_registry_create",  # a new document's row exists, none of its chunks
    "mid_chunk_write",  # some chunks of the new version are written
    "after_chunk_write",  # all chunks written, registry still points at the old version
    "after_sentence_write",  # their sentence vectors written too (rag/store/sentences.py), not yet published
    "after_publish",  # registry points at the new version, old chunks not yet removed
)


# Where a folder refresh can be interrupted, beyond the ingest points above.
REFRESH_POINTS = (
    "refresh_after_file",  # a file's document is published and its record written; more files to go
    "refresh_after_delete",  # a deleted file's document is removed, its record not yet
)


def failpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
