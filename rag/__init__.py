"""The RAG library: models, store, and the answer stages (rag/pipeline.py wires them: retrieval, evidence,
abstention, prompt, generation, verification, answer).

It knows nothing about HTTP or file parsing; ``ingest`` writes into the store it defines and ``api`` serves it.
"""

from rag.config import Settings

__all__ = ["Settings"]
