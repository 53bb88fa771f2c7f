"""The verification stage: which sentences of the model's draft the evidence backs.

Each sentence of the draft is checked against the evidence sentences (``check_support``); the supported ones are
kept, each cited to the sentence that supports it, and the rest are removed. With none supported, the best
evidence sentence itself is the answer, quoted (after its heading when the heading carries a number: a changelog
bullet with its version). The model's own ``[n]`` markers are not trusted: numbers outside
the evidence it was shown are removed, and the citation attached to a kept sentence is the evidence sentence
that verification found to support it, whatever number the model wrote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.evidence import Evidence, with_heading
from rag.language import has_cjk
from rag.text import content_words, numbers, readable
from rag.types import AnswerType, SentenceSupport

_MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_NUMERIC = re.compile(r"\d+(?:[.,:]\d+)*")
_ECHO = re.compile(r"\s*(?:question|facts?)\s*:", re.IGNORECASE)


def is_question(text: str) -> bool:
    """Whether a sentence asks rather than tells (a FAQ's own "Q: How much does it cost to file a claim?"): it
    names what the question is about, so it scores high as evidence, yet answers nothing."""
    return text.rstrip("*_ ").endswith(("?", "？"))


def strip_invalid_markers(answer: str, valid: set[int]) -> str:
    """Drop marker numbers not in ``valid`` (all of them for an empty set), tidying the space left behind."""

    def keep(match: re.Match[str]) -> str:
        kept = [int(n) for n in re.split(r"[,;]", match.group(1)) if int(n) in valid]
        return f"[{', '.join(map(str, kept))}]" if kept else ""

    text = re.sub(r"[ \t]{2,}", " ", _MARKER.sub(keep, answer))
    return re.sub(r"[ \t]+(?=[.,;:!?。，；：！？]|$)", "", text).strip()


def answer_sentences(answer: str) -> list[str]:
    """The sentences of a model's answer, markers removed; pieces without a word (a lone "[1]") are dropped."""
    plain = strip_invalid_markers(answer, set())
    parts = re.split(
        r"(?<=[.!?])\s+(?=[\"'“(A-Z0-9])|(?<=[。！？；])(?![”’」』）])\s*|(?<=[。！？；][”’」』）])\s*|\n+", plain
    )
    return [p.strip() for p in parts if re.search(r"\w", p)]


@dataclass(frozen=True)
class Support:
    supported: bool
    evidence: Evidence | None  # the evidence sentence that supports the answer best
    word_coverage: float  # share of the answer's new content words found in that sentence
    missing_numbers: frozenset[str]


def check_support(
    answer: str,
    evidence: Sequence[Evidence],
    question: str = "",
    min_added_coverage: float = 0.6,
    min_coverage: float = 0.75,
) -> Support:
    """Is the answer backed by one evidence sentence: all its numbers, and most of its words?

    The words the answer adds to the question must mostly come from the sentence (repeating the question is no
    answer), and so must its words overall. Support must come from a single sentence, so that facts from
    different sentences cannot be spliced into a wrong one ("the on-call allowance is 55 euros").
    """
    body = re.sub(r"\[\d+(?:\s*[,;]\s*\d+)*\]", " ", answer)
    all_words = content_words(body)
    answer_numbers = numbers(body)
    # In Chinese, "120亿" against "一百二十亿": numbers are compared as numbers only, and a number the question
    # does not hold is itself what the answer adds ("模型有120亿个参数" to "模型有多少参数？").
    new_numbers = bool(answer_numbers - numbers(question))
    chinese = has_cjk(body)
    if chinese:
        all_words = {w for w in all_words if not _NUMERIC.fullmatch(w)}
    added = all_words - content_words(question)
    best = Support(False, None, 0.0, frozenset(answer_numbers))
    if not (added or (chinese and new_numbers)) or _ECHO.match(body):  # "Question: ..." echoed answers nothing
        return best
    for e in evidence:
        words = content_words(e.sentence.text)
        coverage = len(added & words) / len(added) if added else 1.0
        overall = len(all_words & words) / len(all_words) if all_words else 1.0
        missing = frozenset(answer_numbers - numbers(e.sentence.text))
        supported = coverage >= min_added_coverage and overall >= min_coverage and not missing
        if (supported, coverage) > (best.supported, best.word_coverage):
            best = Support(supported, e, coverage, missing)
    return best


@dataclass(frozen=True)
class Verified:
    """The verified answer: its text and type, the evidence it cites (in citation order), and each sentence of
    the draft, kept or removed."""

    answer: str
    answer_type: AnswerType
    cited: list[Evidence]
    sentences: list[SentenceSupport]
    removed: list[SentenceSupport]


def verify(question: str, draft: str, evidence: Sequence[Evidence]) -> Verified:
    """Check each sentence of the model's answer against the evidence; keep the supported ones, each cited
    to the sentence that supports it (whatever number the model wrote), and drop the rest. With none
    supported, quote the best evidence sentence that is not a question instead."""
    text = strip_invalid_markers(draft, {e.number for e in evidence})  # markers to unseen evidence go
    kept: list[SentenceSupport] = []
    removed: list[SentenceSupport] = []
    cited: dict[int, Evidence] = {}
    for sentence in answer_sentences(text):
        support = check_support(sentence, evidence, question)
        coverage = round(support.word_coverage, 3)
        if support.supported and support.evidence is not None:
            number = support.evidence.number
            cited.setdefault(number, support.evidence)
            kept.append(SentenceSupport(text=sentence, supported=True, support=coverage, citations=[number]))
        else:
            removed.append(SentenceSupport(text=sentence, supported=False, support=coverage, citations=[]))
    if kept:
        answer = " ".join(f"{s.text} [{s.citations[0]}]" for s in kept)
        return Verified(answer, "generated", list(cited.values()), kept, removed)
    best = next((e for e in evidence if not is_question(e.sentence.text)), evidence[0])  # a FAQ's question: no answer
    # With its heading (a bullet with its version, a rule with its limit); Markdown emphasis and link targets out.
    shown = with_heading(best.sentence, readable(best.sentence.flat))
    quote = SentenceSupport(text=shown, supported=True, support=1.0, citations=[best.number])
    return Verified(f"{shown} [{best.number}]", "extractive", [best], [quote], removed)
