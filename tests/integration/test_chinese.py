"""A Chinese document and Chinese questions (issue #16) through the whole answer path, with the real embedder,
model, answerability check and Chroma: the answer is a sentence of the document, quoted and cited, in Chinese, and a
question the document does not answer is declined in Chinese."""

from __future__ import annotations

import re

import pytest

from rag.abstention import ABSTAIN_TEXTS
from rag.config import Settings
from rag.models.answerability import AnswerabilityModel
from service import build

pytestmark = pytest.mark.integration

DOCUMENT = """# Dolly 2.0 简介

Dolly 2.0 是 Databricks 公司于 2023 年 4 月发布的开源大语言模型。
它基于 EleutherAI 的 Pythia 模型家族，参数规模为一百二十亿。
Dolly 2.0 的指令数据集 databricks-dolly-15k 由五千多名 Databricks 员工在 2023 年三月和四月间编写，
共包含一万五千条问答记录。

## 许可

Dolly 2.0 的模型权重和训练数据都以允许商业使用的许可发布。任何组织都可以在自己的产品中使用它，而无需支付许可费用。
"""


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, embedder, llm, model_cache):
    root = tmp_path_factory.mktemp("chinese")
    settings = Settings(data_dir=root / "data", cache_dir=model_cache, auth=False)
    services = build(
        settings, embedder=embedder, llm=llm, answerability=AnswerabilityModel.load("default", model_cache)
    )
    (root / "docs").mkdir()
    (root / "docs" / "dolly.md").write_text(DOCUMENT, encoding="utf-8")
    services.indexer.ingest_paths([root / "docs"])
    return services.pipeline


def test_a_chinese_question_is_answered_with_a_chinese_sentence_of_the_document_cited(pipeline):
    answer = pipeline.answer("databricks-dolly-15k 数据集包含多少条问答记录？")
    assert answer.answer_type not in ("abstained", "no_documents"), answer.answer
    assert answer.citations
    quote = answer.citations[0].quote
    assert "一万五千条" in quote and quote in DOCUMENT  # the sentence that says it, verbatim
    text = re.sub(r"\s*\[\d+\]", "", answer.answer)
    assert "一万五千条" in text
    assert not re.search(r"\b(?:The|Yes|No|documents)\b", text)  # no English frame around the Chinese quote


def test_a_chinese_question_the_document_does_not_answer_is_declined(pipeline):
    answer = pipeline.answer("巴黎埃菲尔铁塔有多高？")
    assert answer.answer_type == "abstained", answer.answer
    assert not answer.citations


def test_the_decline_is_in_chinese(pipeline):
    assert pipeline.answer("巴黎埃菲尔铁塔有多高？").answer == ABSTAIN_TEXTS["zh"]


def test_the_bundled_model_is_not_asked_to_write_chinese_the_evidence_is_quoted(pipeline):
    """SmolLM2 writes no Chinese (its profile says English only): the answer is the evidence itself, unframed."""
    answer = pipeline.answer("databricks-dolly-15k 数据集包含多少条问答记录？")
    assert answer.answer_type == "extractive" and answer.timings.generated_tokens in (0, None), answer
