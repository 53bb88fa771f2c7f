"""The composition root: every component built once from the settings, for the API, the CLI, evaluations,
benchmarks and tests. ``build(settings)`` is what ``rag serve`` runs; ``build(settings, load_llm=False)`` is
enough for ingestion and retrieval; ``build(settings, embedder=..., llm=..., answerability=None)`` puts stand-ins
in place of the models.
"""

from service.compose import FROM_SETTINGS, build
from service.services import Services

__all__ = ["FROM_SETTINGS", "Services", "build"]
