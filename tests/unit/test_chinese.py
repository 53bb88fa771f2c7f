"""Chinese text (issue #16): sentences and spans, words, numerals, language, abstention, verification, scoring."""

import pytest

from evaluation.metrics import contains_answer, exact_match, token_f1
from ingest.chunking import Chunker
from ingest.parsed import ParsedDocument
from rag.abstention import ABSTAIN_TEXT, Abstention, expected_answer_missing
from rag.evidence import Evidence
from rag.language import detect
from rag.text import content_words, numbers, segment, split_sentences
from rag.types import RetrievedChunk
from rag.verification import answer_sentences, check_support, verify


def _chunk(text: str, start: int = 0) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id="doc.md:1:1",
        document_id="doc.md",
        version=1,
        source="doc.md",
        chunk_index=1,
        start=start,
        end=start + len(text),
        text=text,
        score=1.0,
        rank=1,
    )


# --- sentences ---------------------------------------------------------------------------------------------------


def test_chinese_sentences_end_at_full_width_and_ascii_punctuation_with_exact_spans():
    text = (
        "Dolly 2.0 是一个可以商用的开源模型。它由 Databricks 发布！能免费商用吗？可以;但要遵守许可……"
        "模型的权重已经公开.“它的训练数据来自员工。”然后继续说明用法"
    )
    offset = 11
    document = "x" * offset + text
    sentences = split_sentences(_chunk(text, start=offset))
    assert [s.text for s in sentences] == [
        "Dolly 2.0 是一个可以商用的开源模型。",
        "它由 Databricks 发布！",
        "能免费商用吗？",
        "但要遵守许可……",
        "模型的权重已经公开.",
        "“它的训练数据来自员工。”",
        "然后继续说明用法",
    ]
    for sentence in sentences:
        assert document[sentence.start : sentence.end] == sentence.text


def test_an_english_sentence_before_chinese_text_ends_at_its_full_stop():
    text = "It was released in 2023. 它的参数有一百二十亿个。"
    assert [s.text for s in split_sentences(_chunk(text))] == ["It was released in 2023.", "它的参数有一百二十亿个。"]


def test_a_long_chinese_paragraph_is_chunked_at_sentence_ends():
    paragraph = "".join(f"这是第{i}个句子，它说明了一件很重要的事情。" for i in range(30))
    chunks = Chunker(len, 100, 0).split(ParsedDocument(text=paragraph, media_type="text/plain"))
    assert len(chunks) > 3
    for chunk in chunks:
        assert paragraph[chunk.start : chunk.end] == chunk.text
        assert chunk.text.endswith("。")


# --- words and numbers ----------------------------------------------------------------------------------------------


def test_chinese_is_cut_into_words_and_english_words_are_kept():
    words = content_words("ChatGLM-6B 目前有哪些局限性？")
    assert {"chatglm", "6b", "目前", "局限性"} <= words
    assert "哪些" not in words and "有" not in words  # question and one-character words carry no content
    assert segment("英文 text stays").split() == ["英文", "text", "stays"]
    assert segment("only English text.") == "only English text."


@pytest.mark.parametrize(
    "text, expected",
    [
        ("二〇二三年发布", {"2023"}),
        ("有三百人参加", {"300"}),
        ("约 3.5 万台服务器", {"35000"}),
        ("投资10亿元", {"1000000000"}),
        ("三千五百万", {"35000000"}),
        ("十五个模型", {"15"}),
        ("第三章", {"3"}),
        ("一些统一的万一情况", set()),  # words made with numerals are not numbers
        ("it costs 3.5 dollars, 1,000 in all", {"3.5", "1000"}),
    ],
)
def test_chinese_and_arabic_numerals_are_compared_as_numbers(text, expected):
    assert numbers(text) == expected


# --- language and abstention ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, language",
    [
        ("ChatGLM-6B 目前有哪些局限性？", "zh"),
        ("如何在 OpenVINO 上运行 Llama 2？", "zh"),
        ("星期日是一個好日子嗎？", "zh"),
        ("What does the 龙 dance mean at the Lunar New Year festival?", "en"),
        ("How many people live in Paris?", "en"),
        ("", "en"),
    ],
)
def test_language_is_told_by_the_share_of_cjk_characters(text, language):
    assert detect(text) == language


def test_the_abstention_is_in_the_questions_language():
    abstention = Abstention()
    assert abstention.text_for("How many people live in Paris?") == ABSTAIN_TEXT
    assert abstention.text_for("巴黎有多少人口？") == "文档中没有找到这个问题的答案。"
    assert Abstention(text="Nothing found.").text_for("Who founded it?") == "Nothing found."


# --- verification ---------------------------------------------------------------------------------------------------


def _evidence(*texts: str) -> list[Evidence]:
    chunk = _chunk("".join(texts))
    found = split_sentences(chunk)
    return [Evidence(s, 1.0 - n / 10, n + 1) for n, s in enumerate(found)]


def test_a_chinese_answer_is_supported_by_the_sentence_that_says_it_in_other_numerals():
    evidence = _evidence("该模型于二〇二三年四月发布。这个模型有一百二十亿个参数。")
    support = check_support("模型有120亿个参数。", evidence, "模型有多少参数？")
    assert support.supported and support.evidence is not None and support.evidence.number == 2
    wrong = check_support("模型有130亿个参数。", evidence, "模型有多少参数？")
    assert not wrong.supported and wrong.missing_numbers == {"13000000000"}


def test_a_draft_that_changes_the_chinese_sentence_falls_back_to_quoting_the_evidence():
    evidence = _evidence("SOLAR-10.7B 是由 Upstage 发布的大语言模型。它在排行榜上名列第一。")
    verified = verify("SOLAR 是谁发布的？", "Solarian 是由微软公司训练的模型。", evidence)
    assert verified.answer_type == "extractive"
    assert verified.answer == "SOLAR-10.7B 是由 Upstage 发布的大语言模型。 [1]"


def test_a_chinese_draft_is_split_into_its_sentences():
    assert answer_sentences("它于2023年发布[1]。“这是引用。”第二句！ It works. Yes") == [
        "它于2023年发布。",
        "“这是引用。”",
        "第二句！",
        "It works.",
        "Yes",
    ]


# --- scoring --------------------------------------------------------------------------------------------------------


def test_chinese_answers_are_scored_by_characters_as_cmrc_does():
    assert token_f1("它在1949年成立。", ["1949年"]) == pytest.approx(0.5)  # 2 of 6 tokens, all of the gold's
    assert token_f1("北京大学", ["北京"]) == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert token_f1("上海", ["北京"]) == 0.0
    assert exact_match("“北京”。", ["北京"]) == 1.0
    assert contains_answer("约 3.5万 台", ["3.5 万"])
    assert contains_answer("ＡＢＣ公司", ["abc公司"])  # full-width letters fold to ASCII
    assert token_f1("the cat sat", ["cat"]) == pytest.approx(0.5 * 2 / 1.5 * 1)  # English unchanged: word F1


def test_a_chinese_question_for_a_quantity_needs_a_number_in_the_evidence():
    question = "公司有多少个办公室？"
    assert expected_answer_missing(question, ["公司总部位于里斯本。"])
    assert not expected_answer_missing(question, ["公司在里斯本和塔林有两个办公室。"])
    assert not expected_answer_missing(question, ["公司有 12 个办公室。"])


def test_the_bundled_model_writes_english_only_and_a_model_brought_any_language():
    from pathlib import Path

    from rag.models.profile import choose_profile

    bundled = choose_profile("auto", bundled=True)
    assert bundled.writes("en") and not bundled.writes("zh")
    brought = choose_profile("auto", path=Path("big.gguf"), parameters=lambda _: 7_000_000_000)
    assert brought.writes("zh")


def test_keyword_search_finds_chinese_words_inside_runs_of_characters(services):
    from rag.retrieval import RetrievalOptions

    docs = {
        "dolly.md": "Dolly 2.0 是由 Databricks 发布的开源大语言模型，可以免费商用。",
        "llama.md": "Llama 2 是 Meta 发布的模型家族，参数规模从七十亿到七百亿不等。",
        "bees.txt": "Honeybees dance to show where flowers are.",
    }
    ids = {name: services.indexer.ingest_bytes(text.encode(), name).document.id for name, text in docs.items()}
    keyword = RetrievalOptions(top_k=2, mode="keyword")
    found = services.retriever.retrieve("哪个模型可以商用？", keyword)  # 商用 is inside a run of 20 characters
    assert found and found[0].document_id == ids["dolly.md"]
    assert services.retriever.retrieve("参数规模有多大", keyword)[0].document_id == ids["llama.md"]
    assert services.retriever.retrieve("蜜蜂", keyword) == []


def test_traditional_and_simplified_chinese_are_the_same_words():
    assert content_words("臺灣的資訊產業發展") == content_words("台湾的资讯产业发展")
    assert segment("中華人民共和國") == segment("中华人民共和国")


def test_a_chinese_sentence_out_of_place_takes_its_numbered_heading_with_a_full_width_colon():
    from rag.evidence import with_heading

    text = "## 2.1 版本（2023 年 4 月发布）\n\n模型支持商用。\n\n## Aurora 3.2\n\n- Single sign-on supports SAML."
    chinese, english = [s for s in split_sentences(_chunk(text)) if not s.heading]
    assert with_heading(chinese, chinese.flat) == "版本（2023 年 4 月发布）：模型支持商用。"
    assert with_heading(english, english.flat) == "Aurora 3.2: Single sign-on supports SAML."


def test_a_block_indented_under_a_list_item_does_not_end_the_list():
    from rag.composition import list_runs

    text = (
        "由于模型的小规模，其能力仍然有许多局限性。以下是我们目前发现的一些问题：\n\n"
        "- 模型容量较小：它不擅长逻辑类问题。\n    <details><summary>点击查看例子</summary>\n\n"
        "    ![](limitations/math_error.png)\n\n    </details>\n  \n"
        "- 产生有害说明或有偏见的内容。\n- 英文能力不足。\n\n下一段不是列表。"
    )
    (run,) = list_runs(_chunk(text))
    assert run.intro is not None and run.intro.text == "以下是我们目前发现的一些问题："
    items = ["模型容量较小：它不擅长逻辑类问题。", "产生有害说明或有偏见的内容。", "英文能力不足。"]
    assert [s.text for s, _ in run.items] == items
