"""realq, CLAPNQ and Dolly evaluations: scoring against answers scripted by hand, and whole runs (index, ask,
write the reports) with the fake models over tiny sets written into tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.longform import clapnq_source, dolly_source, evaluate_clapnq, evaluate_dolly, sample
from evaluation.realq import evaluate_realq, load_questions, source_name
from evaluation.runs import run_clapnq, run_dolly, run_realq
from rag.config import Settings
from rag.types import Answer
from service import build
from tests.fakes import FakeEmbedder, FakeLLM, scripted_answer

# --- tiny sets, in the shared sets' formats ------------------------------------------------------------------


def write_realq(root: Path) -> Path:
    folder = root / "realq-tiny"
    (folder / "docs" / "style").mkdir(parents=True)
    (folder / "docs" / "style" / "java.md").write_text(
        "# Java style\n\nThe column limit for Java code is 100 characters. Tabs are never used for indentation.\n"
    )
    (folder / "docs" / "hours.md").write_text("# Hours\n\nEvery full-time employee works 80 hours per pay period.\n")
    questions = [
        {
            "id": "q1",
            "type": "numeric",
            "lang": "en",
            "turns": [{"question": "What is the column limit for Java code?"}],
            "expected_docs": ["docs/style/java.md"],
            "key_facts": [["100 characters", "100 chars"], ["column limit"]],
        },
        {
            "id": "q2",
            "type": "list",
            "lang": "en",
            "turns": [{"question": "How many hours does a full-time employee work per pay period?"}],
            "expected_docs": ["docs/hours.md"],
            "key_facts": [["80 hours"], ["two weeks"]],
        },
        {
            "id": "q3",
            "type": "unanswerable",
            "lang": "en",
            "turns": [{"question": "What is the CEO's salary?"}],
            "expected_docs": [],
            "key_facts": [],
        },
        {
            "id": "q4",
            "type": "fact",
            "lang": "zh",
            "turns": [{"question": "Java 代码每行最多多少字符？"}],
            "expected_docs": ["docs/style/java.md"],
            "key_facts": [["100"]],
        },
        {
            "id": "q5",
            "type": "followup",
            "lang": "en",
            "turns": [{"question": "What is the column limit for Java code?"}, {"question": "And are tabs used?"}],
            "expected_docs": ["docs/style/java.md"],
            "key_facts": [["never"]],
        },
    ]
    (folder / "questions.json").write_text(json.dumps(questions, ensure_ascii=False))
    return folder


def _passage(title: str, text: str) -> dict:
    return {"title": title, "text": text, "sentences": [text]}


def write_clapnq(root: Path) -> Path:
    folder = root / "clapnq-tiny"
    folder.mkdir()
    answerable = [
        {
            "id": "a1",
            "input": "what are the sirens in o brother where art thou",
            "passages": [_passage("O Brother", "Three women wash clothes and sing. Delmar thinks they are Sirens.")],
            "output": [{"answer": "Three women washing clothes and singing; Delmar thinks they are Sirens."}],
        },
        {
            "id": "a2",
            "input": "who won the lighthouse regatta",
            "passages": [_passage("Regatta", "The lighthouse regatta was won by the crew of the Marigold.")],
            "output": [{"answer": "The crew of the Marigold won the lighthouse regatta."}],
        },
    ]
    unanswerable = [
        {
            "id": "u1",
            "input": "when was the last time penn state was number two",
            # the same passage text as a2: indexed once, under a2's name
            "passages": [_passage("Regatta", "The lighthouse regatta was won by the crew of the Marigold.")],
            "output": [],
        }
    ]
    for name, records in (("answerable", answerable), ("unanswerable", unanswerable)):
        lines = "\n".join(json.dumps(r) for r in records)
        (folder / f"clapnq_dev_{name}.jsonl").write_text(lines + "\n")
    return folder


def write_dolly(root: Path) -> Path:
    folder = root / "dolly-tiny"
    folder.mkdir()
    records = {
        "closed_qa": [
            {
                "id": "dolly_closed_qa-0",
                "instruction": "Which high schools does Arlington have?",
                "context": "Arlington has three public high schools: Wakefield, Washington-Liberty and Yorktown.",
                "response": "Wakefield, Washington-Liberty and Yorktown.",
            }
        ],
        "information_extraction": [
            {
                "id": "dolly_information_extraction-0",
                "instruction": "List the rivers that flow through Zarnesti.",
                "context": "Two rivers flow through Zarnesti: the Barsa and the Turcu.",
                "response": "Barsa, Turcu",
            }
        ],
        "summarization": [
            {
                "id": "dolly_summarization-0",
                "instruction": "Summarize the history of the Zarnesti paper mill.",
                "context": "The Zarnesti paper mill opened in 1950. It closed in 2005 after the market changed.",
                "response": "The paper mill in Zarnesti ran from 1950 until it closed in 2005.",
            }
        ],
    }
    for category, rows in records.items():
        lines = "\n".join(json.dumps({**r, "category": category}) for r in rows)
        (folder / f"dolly_{category}.jsonl").write_text(lines + "\n")
    return folder


# --- scoring, with answers scripted by hand -------------------------------------------------------------------


_answer = scripted_answer


class ScriptedPipeline:
    """Answers each question as scripted; records what was asked."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def answer(self, question: str, **_options) -> Answer:
        self.asked.append(question)
        return self.answers[question]


def test_realq_scores_key_facts_citations_and_abstention(tmp_path):
    folder = write_realq(tmp_path)
    java, hours = source_name("docs/style/java.md"), source_name("docs/hours.md")
    assert (java, hours) == ("style__java.md", "hours.md")
    pipeline = ScriptedPipeline(
        {
            # both facts, the first through its second variant, folded (case, white space); the marker between
            # "column" and "limit" is not part of the answer
            "What is the column limit for Java code?": _answer(
                "The COLUMN [1] limit is  100\nchars.", "generated", (java,), 30.0
            ),
            # one of two facts, cited to a document the question does not expect
            "How many hours does a full-time employee work per pay period?": _answer(
                "Employees work 80 hours [1].", "extractive", (java,), 10.0
            ),
            "What is the CEO's salary?": _answer("The documents do not say.", "abstained", (), 20.0),
            # full-width digits are NFKC-folded to "100"
            "Java 代码每行最多多少字符？": _answer("每行最多１００个字符。", "extractive", (java,), 40.0),
            "And are tabs used?": _answer("Tabs are never used [1].", "extractive", (java,), 50.0),
        }
    )
    result = evaluate_realq(pipeline, folder)  # follow-ups skipped
    assert "And are tabs used?" not in pipeline.asked and result["overall"]["questions"] == 4
    rows = {r["id"]: r for r in result["rows"]}
    assert rows["q1"]["facts_found"] == [True, True] and rows["q1"]["all_facts"] and rows["q1"]["citation_hit"]
    assert rows["q2"]["facts_found"] == [True, False] and rows["q2"]["recall"] == 0.5
    assert not rows["q2"]["citation_hit"]
    assert rows["q4"]["facts_found"] == [True]
    overall = result["overall"]
    assert overall["key_fact_recall"] == pytest.approx((1 + 0.5 + 1) / 3, abs=1e-4)
    assert overall["key_fact_recall_all_questions"] == pytest.approx((1 + 0.5 + 0 + 1) / 4, abs=1e-4)
    assert overall["all_facts_present"] == pytest.approx(2 / 3, abs=1e-4)
    assert overall["citation_hit"] == pytest.approx(2 / 3, abs=1e-4)
    assert overall["false_abstain"] == 0.0 and overall["abstain_on_unanswerable"] == 1.0
    assert overall["answer_types"] == {"extractive": 0.5, "generated": 0.25, "abstained": 0.25}
    assert overall["total_ms_p50"] == 30.0  # nearest rank of 10, 20, 30, 40
    assert result["by_language"]["zh"]["key_fact_recall"] == 1.0
    assert result["by_language"]["zh"]["abstain_on_unanswerable"] is None  # no such question, not a 0
    assert set(result["by_type_english"]) == {"numeric", "list", "unanswerable"}
    assert result["by_type_english"]["list"]["key_fact_recall"] == 0.5

    alone = evaluate_realq(ScriptedPipeline(pipeline.answers), folder, followups="alone")
    assert alone["overall"]["questions"] == 5 and alone["by_type"]["followup"]["key_fact_recall"] == 1.0


def test_realq_abstention_finds_no_fact(tmp_path):
    folder = write_realq(tmp_path)
    pipeline = ScriptedPipeline(
        {q.turns[-1]: _answer("The column limit is 100 characters.", "abstained") for q in load_questions(folder)}
    )
    result = evaluate_realq(pipeline, folder)
    assert result["overall"]["key_fact_recall"] == 0.0 and result["overall"]["false_abstain"] == 1.0


def test_clapnq_scores_content_words_gold_passage_and_abstention(tmp_path):
    folder = write_clapnq(tmp_path)
    pipeline = ScriptedPipeline(
        {
            # reference content tokens: three women washing clothes singing delmar thinks they sirens (9);
            # the answer holds three women clothes delmar thinks they sirens (7)
            "what are the sirens in o brother where art thou": _answer(
                "Three women wash clothes [1]. Delmar thinks they are Sirens [1].",
                sources=(clapnq_source("a1", 0),),
            ),
            "who won the lighthouse regatta": _answer("The documents do not say.", "abstained"),
            "when was the last time penn state was number two": _answer(
                "The regatta was won by the Marigold.", sources=(clapnq_source("a2", 0),)
            ),
        }
    )
    result = evaluate_clapnq(pipeline, folder)
    assert (result["answerable"], result["unanswerable"]) == (2, 1)
    rows = {r["id"]: r for r in result["rows"]}
    assert rows["a1"]["content_recall"] == pytest.approx(7 / 9)
    assert rows["a2"]["content_recall"] == 0.0 and rows["a2"]["f1"] == 0.0  # abstained: no credit
    assert result["content_word_recall"] == pytest.approx(7 / 18, abs=1e-4)
    assert result["first_citation_gold"] == 0.5  # the abstention cites nothing: a miss
    assert result["first_citation_gold_of_answers"] == 1.0  # over the one answer given
    assert result["false_abstain_on_answerable"] == 0.5 and result["abstain_on_unanswerable"] == 0.0

    # u1's passage is a2's text: indexed once under a2's name, which counts as u1's gold passage too
    assert pipeline.asked == [
        "what are the sirens in o brother where art thou",
        "who won the lighthouse regatta",
        "when was the last time penn state was number two",
    ]
    sampled = evaluate_clapnq(ScriptedPipeline(pipeline.answers), folder, limit=2, seed=3)
    assert sampled["questions"] == 2 and (sampled["limit"], sampled["seed"]) == (2, 3)


def test_dolly_scores_each_category_and_the_own_context(tmp_path):
    folder = write_dolly(tmp_path)
    pipeline = ScriptedPipeline(
        {
            "Which high schools does Arlington have?": _answer(
                "Arlington has three public high schools: Wakefield, Washington-Liberty and Yorktown [1].",
                sources=(dolly_source("dolly_closed_qa-0"),),
            ),
            "List the rivers that flow through Zarnesti.": _answer(
                "The Barsa flows through Zarnesti [1].", sources=(dolly_source("dolly_closed_qa-0"),)
            ),
            "Summarize the history of the Zarnesti paper mill.": _answer("No.", "abstained"),
        }
    )
    result = evaluate_dolly(pipeline, folder)
    closed, extraction, summary = (
        result["by_category"][c] for c in ("closed_qa", "information_extraction", "summarization")
    )
    assert closed["content_word_recall"] == 1.0 and closed["cites_own_context"] == 1.0
    # "barsa turcu": the answer holds barsa; F1 of "barsa flows through zarnesti" (4) with "barsa turcu" (2): 1/3
    assert extraction["content_word_recall"] == 0.5 and extraction["f1"] == pytest.approx(1 / 3, abs=1e-4)
    assert extraction["cites_own_context"] == 0.0
    assert summary["content_word_recall"] == 0.0 and summary["abstained"] == 1.0
    assert result["overall"]["questions"] == 3 and result["answer_types"]["extractive"] == pytest.approx(
        2 / 3, abs=1e-4
    )


def test_sample_keeps_the_original_order():
    picked = sample(list(range(10)), 4, seed=1)
    assert len(picked) == 4 and picked == sorted(picked) and picked == sample(list(range(10)), 4, seed=1)
    assert sample([1, 2], None, 0) == [1, 2] and sample([1, 2], 5, 0) == [1, 2]


# --- whole runs with the fake models ----------------------------------------------------------------------------


def _fake_build(settings: Settings):
    return build(settings, embedder=FakeEmbedder(), llm=FakeLLM(), answerability=None)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", chunk_size=40, chunk_overlap=5, auth=False, abstain_below=None)


def test_realq_run_indexes_the_documents_under_their_names_and_writes_reports(tmp_path, settings):
    folder = write_realq(tmp_path)
    run = run_realq(settings, folder, followups="alone", command="rag eval realq", build_with=_fake_build)
    result = run.result
    assert result["overall"]["questions"] == 5
    names = {"style__java.md", "hours.md"}
    cited = {s for r in result["rows"] for s in r["cited"]}
    assert cited and cited <= names  # every citation names a document as the set names it
    for row in result["rows"]:
        assert len(row["facts_found"]) == len(next(q for q in load_questions(folder) if q.id == row["id"]).key_facts)
    json_path, md, png = run.written
    assert json.loads(json_path.read_text())["followups"] == "alone"
    assert "rag eval realq" in md.read_text() and "By type, English questions" in md.read_text()
    assert png.stat().st_size > 0
    assert json_path.parent == settings.data_dir / "eval"
    rerun = run_realq(settings, folder, build_with=_fake_build)  # the same index, found unchanged
    assert rerun.result["overall"]["questions"] == 4


def test_clapnq_and_dolly_runs_with_the_fake_models(tmp_path, settings):
    clapnq = run_clapnq(settings, write_clapnq(tmp_path), build_with=_fake_build, out=tmp_path / "c.json")
    assert clapnq.result["questions"] == 3 and clapnq.result["first_citation_gold"] is not None
    assert {p.suffix for p in clapnq.written} == {".json", ".md", ".png"}
    dolly = run_dolly(settings, write_dolly(tmp_path), limit=2, seed=0, build_with=_fake_build, out=tmp_path / "d.json")
    assert dolly.result["questions"] == 2
    assert all(r["content_recall"] >= 0 for r in dolly.result["rows"])
    assert "Dolly evaluation" in dolly.written[1].read_text()


def test_rag_eval_commands_print_the_summary_tables(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from api.cli import app
    from evaluation import runs

    monkeypatch.setattr(runs, "build", _fake_build)
    for name, value in {"RAG_DATA_DIR": tmp_path / "data", "RAG_CHUNK_SIZE": 40, "RAG_CHUNK_OVERLAP": 5}.items():
        monkeypatch.setenv(name, str(value))
    runner = CliRunner()
    realq = runner.invoke(app, ["eval", "realq", str(write_realq(tmp_path)), "--followups", "alone"])
    assert realq.exit_code == 0, realq.output
    assert "By type, English questions" in realq.output and "followup (1)" in realq.output
    assert (tmp_path / "data" / "eval" / "realq-realq-tiny-alone.md").exists()
    bad = runner.invoke(app, ["eval", "realq", str(tmp_path / "realq-tiny"), "--followups", "never"])
    assert bad.exit_code != 0
    clapnq = runner.invoke(app, ["eval", "clapnq", str(write_clapnq(tmp_path)), "--limit", "2"])
    assert clapnq.exit_code == 0 and "first citation on the gold passage" in clapnq.output
    dolly = runner.invoke(app, ["eval", "dolly", str(write_dolly(tmp_path))])
    assert dolly.exit_code == 0 and "summarization (1)" in dolly.output
