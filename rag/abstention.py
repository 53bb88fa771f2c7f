"""The abstention stage: whether the evidence is good enough to answer from at all.

Three checks, in this order, before the model is asked: the evidence floor (``RAG_ABSTAIN_BELOW``: the best
evidence sentence's score must reach it), the kind of answer (a question for a frequency needs evidence that
states one: ``expected_answer_missing``) and the answerability model (rag/models/answerability.py: the
probability that the evidence answers the question must reach its threshold, or ``RAG_ABSTAIN_BELOW_ANSWERABILITY``
when that is set). Any one failing means the service says ``text`` instead of answering.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rag.evidence import Evidence, evidence_passage
from rag.language import Language, detect
from rag.models.ports import Answerability

ABSTAIN_TEXT = "The documents do not contain an answer to this question."
# The abstention in each language a question may be asked in besides English (``Abstention.text_for``).
ABSTAIN_TEXTS: Mapping[Language, str] = {"zh": "文档中没有找到这个问题的答案。"}
# What is said for one part of a question of several that the documents do not answer (rag/question.py ``parts``).
PART_TEXT = 'The documents do not answer "{part}"'
PART_TEXTS: Mapping[Language, str] = {"zh": "文档中没有找到“{part}”的答案。"}

# What a question for a quantity or a frequency needs its evidence to hold.
_HOW_MANY = re.compile(r"\bhow (?:many|much)\b", re.IGNORECASE)
_HOW_OFTEN = re.compile(r"\bhow (?:often|frequently)\b", re.IGNORECASE)
_QUANTITY = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"hundreds|thousand|thousands|million|millions|billion|dozen|dozens|half|several|single|double|twice|none|no)\b",
    re.IGNORECASE,
)
# The same for Chinese: 多少, 几个 (幾個), and a number in Arabic or Chinese numerals (三百, 两千).
_HOW_MANY_ZH = re.compile(r"多少|[几幾](?:[个個位年次种種天人名岁歲倍条條项項])")
_QUANTITY_ZH = re.compile(r"\d|[零〇一二两兩三四五六七八九十百千万萬亿億半]")
_FREQUENCY = re.compile(
    r"\d|\b(?:daily|weekly|monthly|quarterly|annually|yearly|hourly|biweekly|fortnightly|always|never|regularly|"
    r"periodically|once|twice)\b|\b(?:every|each|per|a)\s+(?:\w+\s+)?(?:second|minute|hour|day|night|week|month|"
    r"quarter|year|time|login|session|release|sprint)s?\b",
    re.IGNORECASE,
)


def expected_answer_missing(question: str, evidence: Sequence[str]) -> bool:
    """Whether no evidence sentence can hold the kind of answer the question asks for: a quantity ("How many
    ...") without a number in any of them, or a frequency ("How often ...") without an expression of one.

    Requiring the thing counted too ("How many days": a number and "days") was tried and left out: on held-out
    SQuAD 2.0 articles it refused as many answerable questions (10 of 111) as unanswerable ones (12 of 106)."""
    if _HOW_OFTEN.search(question):
        return not any(_FREQUENCY.search(t) for t in evidence)
    if _HOW_MANY.search(question):
        return not any(_QUANTITY.search(t) for t in evidence)
    if _HOW_MANY_ZH.search(question):
        return not any(_QUANTITY_ZH.search(t) for t in evidence)
    return False


class Abstention:
    """The evidence floor (``floor``; None: none) and the answerability model (``model``; None: not checked)
    with its threshold (``threshold`` overrides the model's own)."""

    def __init__(
        self,
        floor: float | None = None,
        model: Answerability | None = None,
        threshold: float | None = None,
        text: str = ABSTAIN_TEXT,
        texts: Mapping[Language, str] = ABSTAIN_TEXTS,
    ) -> None:
        self.floor = floor
        self.model = model
        self.threshold = threshold
        self.text = text  # English, and any language without its own text in ``texts``
        self.texts = texts

    def text_for(self, question: str) -> str:
        """What the service says instead of answering, in the question's language (rag/language.py)."""
        return self.texts.get(detect(question), self.text)

    def part_text_for(self, part: str) -> str:
        """What is said for one part of a question that the documents do not answer, in the part's language."""
        text = PART_TEXTS.get(detect(part), PART_TEXT).format(part=part.strip())
        return text if text.endswith(("。", ".")) else f"{text}."

    def below_floor(self, best: float) -> bool:
        """Whether the best evidence (its score, ``best``) is under the floor."""
        return self.floor is not None and best < self.floor

    @staticmethod
    def lacks_expected_answer(question: str, evidence: Sequence[Evidence]) -> bool:
        """Whether the evidence cannot hold the kind of answer asked for (``expected_answer_missing``)."""
        return expected_answer_missing(question, [e.sentence.text for e in evidence])

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
