"""Which embedder an index was built with, and the check that keeps one index in one vector space.

Vectors of two models are not comparable, even at the same dimension (MiniLM and multilingual-e5-small both have
384): a query embedded by one finds noise among chunks embedded by the other, and nothing fails. So the index
records the embedder that wrote it (name and dimension, in the metadata of its Chroma collections,
``ChunkStore.recorded_embedder``), and the service refuses to start, ingest or answer with another one
(``check_embedder``) until the user either goes back to the recorded embedder or re-embeds the index with
``rag reindex`` (ingest/reindex.py), which marks the index as being re-embedded while it works so that an
interrupted run is refused too, never used half-converted.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from rag.errors import Conflict
from rag.models.multilingual import NAME as MULTILINGUAL
from rag.models.ports import Embedder


class EmbedderIdentity(BaseModel):
    """What makes two embedders' vectors comparable: the model, and (a cheap second check) the dimension."""

    model_config = ConfigDict(frozen=True)

    name: str
    dimension: int

    def __str__(self) -> str:
        return f"{self.name} ({self.dimension} dimensions)"


def identity_of(embedder: Embedder) -> EmbedderIdentity:
    """The embedder's ``name`` when it has one (the real ones do), else its class: a stand-in of the tests is
    never taken for a real model."""
    return EmbedderIdentity(name=str(getattr(embedder, "name", type(embedder).__name__)), dimension=embedder.dimension)


class EmbedderMismatch(Conflict):
    """The index holds vectors of another embedder than the one configured (409: the request is fine, the
    service's state is not)."""


class IdentityStore(Protocol):
    """What ``check_embedder`` needs of the index (``ChunkStore`` has it)."""

    def count(self) -> int: ...

    def recorded_embedder(self) -> EmbedderIdentity | None: ...

    def reindexing_to(self) -> EmbedderIdentity | None: ...

    def stored_dimension(self) -> int | None: ...

    def record_embedder(self, identity: EmbedderIdentity) -> None: ...


SETTING = "RAG_EMBEDDER"


def setting_value(name: str) -> str:
    """The RAG_EMBEDDER value that gives the embedder of this name: the multilingual one by its name, every
    sentence-transformers model (RAG_EMBEDDING_MODEL) by "minilm"."""
    return MULTILINGUAL if name == MULTILINGUAL else "minilm"


def _what_to_do(recorded: str, wanted: EmbedderIdentity) -> str:
    return (
        f"set {SETTING} back to the embedder of the index ({SETTING}={recorded}, or {SETTING}=auto), or run "
        f"`rag reindex` with {SETTING} set to re-embed every chunk with {wanted.name} (the service must be stopped "
        "while it runs)"
    )


def check_embedder(store: IdentityStore, wanted: EmbedderIdentity, *, adopt_unrecorded: bool) -> None:
    """Raise ``EmbedderMismatch`` unless ``wanted`` may read and write this index; record it on an empty index.

    ``adopt_unrecorded``: an index built before identities were recorded, whose vectors have ``wanted``'s
    dimension, is taken to be ``wanted``'s (true for the sentence-transformers embedder, the only one there was);
    any other embedder is refused on it."""
    pending = store.reindexing_to()
    if pending is not None:
        raise EmbedderMismatch(
            f"the index is being re-embedded with {pending}, or a `rag reindex` was interrupted: its vectors are "
            f"of two models. Run `rag reindex` with {SETTING}={pending.name} to finish it"
        )
    recorded = store.recorded_embedder()
    if recorded == wanted:
        return
    if store.count() == 0:
        store.record_embedder(wanted)  # nothing indexed yet (or everything deleted): any embedder may start it
        return
    if recorded is None:
        dimension = store.stored_dimension()
        if adopt_unrecorded and dimension in (None, wanted.dimension):
            store.record_embedder(wanted)
            return
        raise EmbedderMismatch(
            f"the index was built before embedders were recorded, with {dimension}-dimension vectors of the "
            f"sentence-transformers model (RAG_EMBEDDING_MODEL); the service is configured with {wanted}. "
            + _what_to_do("minilm", wanted)
        )
    raise EmbedderMismatch(
        f"the index was built with {recorded}; the service is configured with {wanted}. "
        + _what_to_do(setting_value(recorded.name), wanted)
    )
