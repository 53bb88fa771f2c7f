"""Metric code against examples computed by hand."""

import math

import pytest

from evaluation.metrics import (
    cites_relevant,
    contains_answer,
    content_tokens,
    content_word_recall,
    decode_rate,
    exact_match,
    key_facts_found,
    mean_or_none,
    mrr_at_k,
    ndcg_at_k,
    normalize_answer,
    percentile,
    recall_at_k,
    shares,
    token_f1,
)


def test_recall_and_mrr():
    ranked = ["d3", "d1", "d7", "d2"]
    relevant = {"d1": 1, "d2": 1, "d9": 1}
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert mrr_at_k(ranked, relevant, 10) == 0.5
    assert mrr_at_k(ranked, relevant, 1) == 0.0


def test_ndcg_by_hand():
    # gains 0,1,0,1 at ranks 1..4: DCG = 1/log2(3) + 1/log2(5); ideal 1,1,1: 1 + 1/log2(3) + 1/2
    ranked = ["d3", "d1", "d7", "d2"]
    relevant = {"d1": 1, "d2": 1, "d9": 1}
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3) + 0.5)
    assert ndcg_at_k(ranked, relevant, 10) == pytest.approx(expected)
    assert ndcg_at_k(["d1", "d2", "d9"], relevant, 10) == pytest.approx(1.0)
    # graded: gain 2 first is better than gain 1 first
    graded = {"a": 2, "b": 1}
    assert ndcg_at_k(["a", "b"], graded) == pytest.approx(1.0)
    assert ndcg_at_k(["b", "a"], graded) == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))


def test_squad_normalisation_em_f1():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert exact_match("the Eiffel Tower.", ["Eiffel Tower"]) == 1.0
    assert exact_match("Eiffel", ["Eiffel Tower"]) == 0.0
    # pred "in 1823 france" vs gold "france 1823": common 2, P 2/3, R 1 -> F1 0.8
    assert token_f1("in 1823 France", ["France, 1823"]) == pytest.approx(0.8)
    assert token_f1("nothing", ["France"]) == 0.0
    assert contains_answer("It was installed in France in 1823.", ["1823"]) is True
    assert contains_answer("Unknown.", ["1823"]) is False


def test_percentile_is_nearest_rank():
    values = [40.0, 10.0, 30.0, 20.0, 50.0]  # sorted 10..50: p50 is rank round(0.5 * 4) = 2 -> 30
    assert percentile(values, 0.5) == 30.0
    assert percentile(values, 0.95) == 50.0  # round(0.95 * 4) = 4 -> the largest
    assert percentile(values, 0.0) == 10.0
    assert percentile(list(range(1, 21)), 0.95) == 19  # round(0.95 * 19) = 18 -> the 19th value
    assert percentile([], 0.5) == 0.0


def test_decode_rate_counts_tokens_after_the_first():
    # 33 tokens in 600 ms, the first after 200 ms: 32 tokens in 400 ms = 80 tokens/s
    assert decode_rate(33, 600.0, 200.0) == pytest.approx(80.0)
    assert decode_rate(1, 600.0, 200.0) is None  # one token: no decoding after the first
    assert decode_rate(10, 200.0, 200.0) is None
    assert decode_rate(10, 600.0, None) is None


def test_cited_share_in_relevant_documents():
    relevant = {"d1": 2, "d2": 1, "d3": 0}
    assert cites_relevant(["d1"], relevant) == 1.0
    assert cites_relevant(["d1", "d3", "d9", "d2"], relevant) == 0.5  # d3 has relevance 0: not relevant
    assert cites_relevant([], relevant) == 0.0


def test_key_facts_are_found_after_nfkc_case_and_space_folding():
    answer = "The  column LIMIT\nis １００ characters (ﬁxed)."  # two spaces, a newline, full-width digits, a ligature
    facts = [["column limit is 100"], ["80 characters", "100 CHARACTERS"], ["fixed"], ["tabs"], ["", "none"]]
    # variant by variant: folded both sides; any variant suffices; an empty variant matches nothing
    assert key_facts_found(answer, facts) == [True, True, True, False, False]
    assert key_facts_found("每行最多１００个字符。", [["100个字符"], ["一百"]]) == [True, False]
    assert key_facts_found("anything", []) == []


def test_content_tokens_drop_stop_words_and_split_chinese_by_character():
    # SQuAD normalisation (lower case, no punctuation, no articles), then the shared stop words
    assert content_tokens("The Sirens are NOT what they seem, are they?") == ["sirens", "they", "seem", "they"]
    # Chinese: one token per character, Chinese punctuation dropped; a Latin run inside stays one word
    assert content_tokens("ChatGLM-6B是开源的，支持中英双语。") == [
        "chatglm6b",
        "是",
        "开",
        "源",
        "的",
        "支",
        "持",
        "中",
        "英",
        "双",
        "语",
    ]
    assert content_tokens("of to in on for and or") == []


def test_content_word_recall_is_a_multiset_share_of_the_reference():
    # reference content tokens: two women women singing (4); the answer holds women once and singing: 2/4
    assert content_word_recall("The women were singing.", "Two women and women singing") == pytest.approx(2 / 4)
    assert content_word_recall("women singing", "women women singing") == pytest.approx(2 / 3)
    assert content_word_recall("anything", "the of and") == 0.0  # no content words in the reference


def test_mean_or_none_and_shares():
    assert mean_or_none([1.0, 0.0, 0.5]) == 0.5 and mean_or_none([]) is None
    assert shares(["extractive", "generated", "extractive", "abstained"]) == {
        "extractive": 0.5,
        "generated": 0.25,
        "abstained": 0.25,
    }
