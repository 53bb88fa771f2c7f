"""The abstention stage: whether the evidence is good enough to answer from at all.

Two checks, in this order, before the model is asked: the evidence floor (``RAG_ABSTAIN_BELOW``: the best
evidence sentence's score must reach it) and the answerability model (rag/models/answerability.py: the
probability that the evidence answers the question must reach its threshold, or ``RAG_ABSTAIN_BELOW_ANSWERABILITY``
when that is set). Either one failing means the service says ``text`` instead of answering.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.evidence import Evidence, evidence_passage
from rag.models.ports import Answerability

ABSTAIN_TEXT = "The documents do not contain an answer to this question."


class Abstention:
    """The evidence floor (``floor``; None: none) and the answerability model (``model``; None: not checked)
    with its threshold (``threshold`` overrides the model's own)."""

    def __init__(
        self,
        floor: float | None = None,
        model: Answerability | None = None,
        threshold: float | None = None,
        text: str = ABSTAIN_TEXT,
    ) -> None:
        self.floor = floor
        self.model = model
        self.threshold = threshold
        self.text = text

    def below_floor(self, evidence: Sequence[Evidence]) -> bool:
        """Whether the best evidence sentence scores under the floor."""
        return self.floor is not None and evidence[0].score < self.floor

    def answerability(self, question: str, evidence: Sequence[Evidence]) -> float | None:
        """The model's probability that the evidence answers the question, rounded as reported; None when there
        is no model."""
        if self.model is None:
            return None
        return round(self.model.score(question, evidence_passage(evidence)), 4)

    def doubts(self, answerability: float) -> bool:
        """Whether that probability (from ``answerability``) is under the threshold: the configured one, else
        the model's."""
        assert self.model is not None, "only a probability from the model can be doubted"
        return answerability < (self.model.threshold if self.threshold is None else self.threshold)
