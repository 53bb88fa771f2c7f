"""Metric code against examples computed by hand."""

import math

import pytest

from evaluation.metrics import (
    contains_answer,
    exact_match,
    mrr_at_k,
    ndcg_at_k,
    normalize_answer,
    recall_at_k,
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
