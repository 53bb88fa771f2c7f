"""The RAG library: models, store, retrieval, prompts, generation and citations.

It knows nothing about HTTP or file parsing; ``ingest`` writes into the store it defines and ``api`` serves it.
"""

from rag.config import Settings

__all__ = ["Settings"]
