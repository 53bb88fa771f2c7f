"""What a question asks for (rag/question.py): realistic questions of each type, English and Chinese."""

import pytest

from rag.question import SHAPES, classify, compared_things, parts, question_type, topic

CASES = {
    "fact": [
        "Which password manager are we supposed to use?",
        "What day of the week should we send the weekly ship?",
        "Who is the head of engineering?",
        "What is the secret ingredient in the tomato soup?",
        "Where are the two offices?",
        "What type of machine is a computational model that cannot branch?",  # singular "type of": one thing
        "修复 bug 的提交应该用什么类型？",
        "From the passage provided, extract where the first session of the Congress was held",
        "Find the settings file for the editor.",
    ],
    "number": [
        "How many hours does a full-time TTS employee work in one pay period?",
        "What's the maximum line length for Java code under Google style?",
        "How long is the home-office stipend valid?",
        "How much less steam did the Corliss engine use compared to the Watt engine?",  # a number, not a comparison
        "ChatGLM-6B 不做量化、用 FP16 推理的话需要多少显存？",
    ],
    "list": [
        "What are the password requirements for our TTS accounts?",
        "What types of flexible schedules does GSA allow?",
        "Which compressed file formats can ripgrep search?",
        "What sections go into a weekly ship email?",
        "In what order should the parts of a Java source file appear?",
        "List the supported chart types.",
        "Based on the given text, list some aspects of the pearl.",
        "Given this paragraph about the Southwest, name the largest cities in that area",
        "Can you list the severity levels?",
        # Instructions that refer to their text first (Dolly's way): the question after the preamble decides.
        "Given this paragraph about Arlington, Virginia, what are the 3 public high schools in Arlington?",
        "Based on the above passage name some of the companies which specialize in construction",
        "Given this paragraph about hockey what are different surfaces that hockey is played on?",
        "Extract the names of the movies she starred in.",
        "What changed in Aurora 3.2?",
        "This Thursday is a holiday. What are my options?",
        "ChatGLM-6B 目前有哪些局限性？",
    ],
    "steps": [
        "How do I change my work schedule?",
        "How can I do a search-and-replace across files with ripgrep?",
        "What are the steps to request leave?",
        "How to rotate the on-call schedule?",
        "I shipped a breaking change in a minor release. What should I do now?",
        "网络不好的时候，怎么从本地加载 ChatGLM-6B 模型？",
    ],
    "summary": [
        "Summarize the severity levels",
        "Give me an overview of the remote work policy.",
        "Briefly, what does the travel policy say about trains?",
        "为什么要用约定式提交？简单总结一下好处",
    ],
    "comparison": [
        "What's the difference between a standard schedule and a compressed schedule?",
        "How does SEV1 differ from SEV2?",
        "Compare the Lisbon and Tallinn offices.",
        "How do Conventional Commits types map onto SemVer version bumps?",
        "ChatGLM2-6B 相比初代 ChatGLM-6B 有哪些改进？",
    ],
    "yes_no": [
        "Are wildcard imports OK in our Java code?",
        'Is "v1.2.3" a valid semantic version?',
        "Does ripgrep support lookaround or backreferences?",
        "Can I open customer data on my personal laptop?",
        "Do I need approval to work abroad for a month?",
        "可以在个人电脑上打开客户数据吗？",
    ],
    "explanation": [
        "Why are 18F teams expected to send weekly ships?",
        "What is a base schedule and why does it matter?",
        "Explain the on-call escalation.",
        "What is the purpose of the postmortem?",
        "为什么 ripgrep 开启 PCRE2 后会变慢？",
    ],
}


@pytest.mark.parametrize(("kind", "question"), [(k, q) for k, qs in CASES.items() for q in qs])
def test_each_type_is_recognised(kind, question):
    assert question_type(question) == kind


def test_only_one_fact_and_numbers_take_the_single_sentence_path():
    assert {k for k, shape in SHAPES.items() if not shape.composed} == {"fact", "number"}
    assert SHAPES["steps"].document_order and SHAPES["list"].as_list
    assert not SHAPES["yes_no"].document_order and not SHAPES["explanation"].document_order


def test_a_comparison_names_what_it_compares():
    assert compared_things("What's the difference between a standard schedule and a compressed schedule?") == (
        "standard schedule",
        "compressed schedule",
    )
    assert compared_things("How does SEV1 differ from SEV2?") == ("SEV1", "SEV2")
    assert compared_things("Postgres vs MySQL for analytics?")[:2] == ("Postgres", "MySQL for analytics")
    assert classify("Compare the Lisbon office with the Tallinn office.").compared == (
        "Lisbon office",
        "Tallinn office",
    )
    assert classify("Who is the head of engineering?").compared == ()


def test_the_topic_leaves_out_the_words_that_ask_for_a_kind_of_answer():
    assert topic("Summarize the severity levels") == "severity levels"
    assert topic("What are the rules for working from abroad?") == "rules working from abroad"
    assert topic("Summarize") == "Summarize"  # nothing left: the question itself


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        (
            "Based on this passage, extract a list of the conditions associated with asthma and separate with commas.",
            "Based on this passage, extract a list of the conditions associated with asthma.",
        ),
        ("Extract the names of the ramen. separate them with comma.", "Extract the names of the ramen."),
        (
            "List all the school districts in the paragraph in a bullet list.",
            "List all the school districts in the paragraph.",
        ),
        (
            "Extract the climbers of The Nose route. List them in order by date first climbed.",
            "Extract the climbers of The Nose route.",
        ),
        (
            "Extract the people mentioned and list them using bullets in the format {Name}",
            "Extract the people mentioned",
        ),
        # what the question is about stays, even in words that could describe a layout
        ("How do I sort files in alphabetical order with ls?", "How do I sort files in alphabetical order with ls?"),
        ("What is in the table?", "What is in the table?"),
        (
            "Output a table in CSV format of the games and the points scored",
            "Output a table in CSV format of the games and the points scored",
        ),
    ],
)
def test_how_the_answer_should_be_laid_out_is_not_what_is_asked(question, asked):
    assert classify(question).text == asked


def test_a_layout_that_asks_for_a_list_makes_the_question_a_list():
    question = "Extract the name and release year of the albums of Pink Floyd. Place them in a bullet list"
    assert classify(question).type == "list"
    assert classify(question).text == "Extract the name and release year of the albums of Pink Floyd."


@pytest.mark.parametrize(
    "question",
    [
        "When did it take place?",
        "And when did they arrive?",
        "Where is he buried?",
        "Who won the battle of Bull Run?",
        "How many pages does it have?",
        "In what year was it published?",
        "If I start at the latest time allowed, when would I finish?",
        "他什么时候出生的？",
    ],
)
def test_a_question_for_one_value(question):
    assert classify(question).one_value


@pytest.mark.parametrize(
    "question",
    [
        "What is Watson Assistant?",
        "Virtualization",
        "And who was Hubble?",
        "Can I have the fees waived?",
        "什么是配额？",
    ],
)
def test_a_question_about_a_subject_is_not_for_one_value(question):
    assert not classify(question).one_value


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When did they leave, and when did they arrive?", ["When did they leave?", "when did they arrive?"]),
        ("What is a base schedule and why does it matter?", ["What is a base schedule?", "why does it matter?"]),
        (
            "What Is Small Claims Court? and How much does it cost to file a claim?",
            ["What Is Small Claims Court?", "How much does it cost to file a claim?"],
        ),
        (
            "Are the compost expensive in the market?  Can I sell it??",
            ["Are the compost expensive in the market?", "Can I sell it?"],
        ),
        (
            "修复 bug 的提交应该用什么类型？对应语义化版本的哪一位？",
            ["修复 bug 的提交应该用什么类型？", "对应语义化版本的哪一位？"],
        ),
        (  # the conversation's context, as a follow-up is resolved, goes with every part
            "Where do I install it from, and where should I keep its database? (about: password manager)",
            [
                "Where do I install it from? (about: password manager)",
                "where should I keep its database? (about: password manager)",
            ],
        ),
    ],
)
def test_a_question_of_several_parts_is_split_into_them(question, expected):
    assert parts(question) == expected


@pytest.mark.parametrize(
    "question",
    [
        "How large is the home-office stipend?",
        "how to pay medicare?  from SS monthly payments?",  # the second piece qualifies the first
        "What do you mean by 'check salary/benefits' page?  No fees at my end?",
        "Don't worry. Do you know when and where the book was published?",  # a preamble stays with its question
        "How and why do I configure index rate alerts?",
        "What is the difference between a flexitour and a gliding schedule?",
        "训练 ChatGLM-6B 一共用了多少张 GPU、训练了多久？",
        "what?   kidnapping!??",
    ],
)
def test_one_question_stays_whole(question):
    assert parts(question) == [question]
