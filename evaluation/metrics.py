"""Retrieval and answer metrics, written out so they can be checked against hand-computed examples.

Retrieval: recall@k, MRR@k and nDCG@k with graded relevance (the BEIR definitions, as in pytrec_eval).
Answers: exact match and token F1 with the official SQuAD normalisation; key facts (realq-dev) and content-word
recall (CLAPNQ, Dolly) as ../shared/evaldata/README.md scores them.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence


def recall_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def mrr_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    for rank, doc in enumerate(ranked[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], start=1))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(ideal, start=1))
    return dcg / idcg if idcg else 0.0


_ASCII_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (the official SQuAD evaluation script)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def normalize_chinese(text: str) -> str:
    """For Chinese gold answers (CMRC 2018, DRCD): Unicode NFKC (full-width forms to ASCII), lower case, and no
    punctuation (ASCII or Unicode, 。，“” included) and no white space at all, as the CMRC evaluation removes them:
    "3.5 万" and "3.5万" are the same answer."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(
        ch
        for ch in folded
        if not ch.isspace() and ch not in _ASCII_PUNCTUATION and not unicodedata.category(ch).startswith("P")
    )


def chinese_tokens(text: str) -> list[str]:
    """The CMRC evaluation's mixed segmentation: one token per Chinese character, a run of other letters and
    digits one token, after ``normalize_chinese``-style folding (white space still separating words)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    kept = "".join(" " if ch in _ASCII_PUNCTUATION or unicodedata.category(ch).startswith("P") else ch for ch in folded)
    return _CONTENT_TOKEN.findall(kept)


def is_chinese(gold: Sequence[str]) -> bool:
    """Whether gold answers are scored the Chinese way: any of them holds a CJK character."""
    return any(_CJK.search(g) for g in gold)


def exact_match(prediction: str, gold: Sequence[str]) -> float:
    norm = normalize_chinese if is_chinese(gold) else normalize_answer
    return float(any(norm(prediction) == norm(g) for g in gold))


def _longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest run of tokens the two sequences share (a longest common substring)."""
    best, previous = 0, [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def token_f1(prediction: str, gold: Sequence[str]) -> float:
    """SQuAD token F1 for English; for Chinese gold answers the CMRC 2018 F1: characters (``chinese_tokens``),
    with the longest common run of them as the overlap."""
    chinese = is_chinese(gold)

    def f1(pred: str, truth: str) -> float:
        if chinese:
            p, t = chinese_tokens(pred), chinese_tokens(truth)
            common = _longest_common_run(p, t)
        else:
            p, t = normalize_answer(pred).split(), normalize_answer(truth).split()
            common = sum((Counter(p) & Counter(t)).values())
        if common == 0:
            return 0.0
        precision, recall = common / len(p), common / len(t)
        return 2 * precision * recall / (precision + recall)

    return max((f1(prediction, g) for g in gold), default=0.0)


def contains_answer(text: str, gold: Sequence[str]) -> bool:
    """Whether a normalised gold answer is a substring of the normalised text (Chinese: ``normalize_chinese``)."""
    norm = normalize_chinese if is_chinese(gold) else normalize_answer
    normalized = norm(text)
    return any(norm(g) and norm(g) in normalized for g in gold)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in 0..1: the value at rank round(q * (n - 1)) of the sorted list."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def decode_rate(generated_tokens: int, generate_ms: float, first_token_ms: float | None) -> float | None:
    """Tokens per second after the first token: what decoding speed a reader sees once the answer starts.

    None when it cannot be told (fewer than two tokens, or no time after the first token)."""
    if generated_tokens < 2 or first_token_ms is None or generate_ms <= first_token_ms:
        return None
    return (generated_tokens - 1) / ((generate_ms - first_token_ms) / 1000)


def cites_relevant(cited_document_ids: Sequence[str], relevant: dict[str, int]) -> float:
    """Share of an answer's citations whose chunk belongs to a relevant document (relevance above 0)."""
    if not cited_document_ids:
        return 0.0
    return sum(relevant.get(doc, 0) > 0 for doc in cited_document_ids) / len(cited_document_ids)


def mean_or_none(values: Sequence[float]) -> float | None:
    """The mean rounded to 4 places; None for no values (a group without such questions, not a score of 0)."""
    return round(sum(values) / len(values), 4) if values else None


def shares(values: Sequence[str]) -> dict[str, float]:
    """Each value's share of the list, most common first (e.g. answers by ``answer_type``)."""
    return {value: round(n / len(values), 4) for value, n in Counter(values).most_common()}


def fold(text: str) -> str:
    """Unicode NFKC, lower case, white space collapsed: how realq-dev compares key facts with an answer."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def key_facts_found(answer: str, key_facts: Sequence[Sequence[str]]) -> list[bool]:
    """For each key fact (a list of literal variants), whether any variant is a substring of the folded answer."""
    folded = fold(answer)
    return [any(fold(variant) and fold(variant) in folded for variant in fact) for fact in key_facts]


# The stop words of the shared scoring rules (../shared/evaldata/README.md, "Content-word recall"), no more.
_STOPWORDS = (
    "a an the of to in on for and or is are was were be by with as at from that this it its which what who whom "
    "how why when where do does did can could should would will not no"
)
CONTENT_STOPWORDS = frozenset(_STOPWORDS.split())
_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# One token per Chinese (or Japanese kana) character; any other run of letters and digits is one word, so
# "chatglm6b是" gives "chatglm6b" and "是", and Chinese punctuation (not in string.punctuation) is dropped.
_CJK = re.compile(f"[{_CJK_RANGES}]")
_CONTENT_TOKEN = re.compile(f"[{_CJK_RANGES}]|[^\\W_{_CJK_RANGES}]+")


def content_tokens(text: str) -> list[str]:
    """SQuAD normalisation, split on white space, Chinese one token per character (punctuation dropped), then
    the stop words of the shared scoring rules left out."""
    tokens: list[str] = []
    for word in normalize_answer(text).split():
        tokens.extend(_CONTENT_TOKEN.findall(word) if _CJK.search(word) else [word])
    return [t for t in tokens if t not in CONTENT_STOPWORDS]


def content_word_recall(answer: str, reference: str) -> float:
    """Share of the reference's content tokens (as a multiset) that the answer holds."""
    reference_tokens = Counter(content_tokens(reference))
    total = sum(reference_tokens.values())
    if not total:
        return 0.0
    return sum((Counter(content_tokens(answer)) & reference_tokens).values()) / total
