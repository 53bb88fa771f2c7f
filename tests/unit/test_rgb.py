"""RGB evaluation (evaluation/rgb.py): gold answers in RGB's shapes, a collection per question and mode, and the
scoring of abstention, contains-gold, first citation and fake answers; whole runs with the fake models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.rgb import (
    MODES,
    Mode,
    contains_gold,
    evaluate_rgb,
    gold_parts,
    index_rgb,
    load_rgb,
    rgb_collection,
    rgb_source,
    rgb_summary,
)
from evaluation.runs import run_rgb
from rag.config import Settings
from rag.types import Answer
from service import build
from tests.fakes import FakeEmbedder, FakeLLM, scripted_answer

RECORDS = [
    {
        "id": 0,
        "query": "Where was Super Bowl 2021 played?",
        "answer": "Tampa, Florida",
        "fakeanswer": "Glendale, Arizona",
        "positive": [
            "Super Bowl LV was played at Raymond James Stadium in Tampa, Florida.",
            "The 2021 Super Bowl game took place in Tampa, Florida in February.",
        ],
        "negative": [
            "Super Bowl LVIII tickets for Las Vegas are on sale now.",
            "The halftime show drew a record television audience.",
        ],
        "positive_wrong": ["Super Bowl LV was played at Raymond James Stadium in Glendale, Arizona."],
    },
    {
        "id": 1,
        "query": "When was the Nintendo Switch OLED released?",
        "answer": [["October 8 2021", "Oct 8, 2021", "8 October 2021"]],
        "fakeanswer": "March 3, 2017",
        "positive": ["The Nintendo Switch OLED model was released on October 8, 2021."],
        "negative": [
            "The original Nintendo Switch console was announced in a trailer.",
            "Nintendo reported its quarterly sales figures for the handheld.",
            "Reviewers praised the brighter screen of the new console model.",
        ],
        "positive_wrong": ["The Nintendo Switch OLED model was released on March 3, 2017."],
    },
]


def write_rgb(root: Path) -> Path:
    folder = root / "rgb"
    folder.mkdir(exist_ok=True)
    path = folder / "en_fact.json"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    return path


def test_gold_answers_in_each_of_rgbs_shapes():
    assert gold_parts("Tampa, Florida") == [["Tampa, Florida"]]
    assert gold_parts([["Oct 8, 2021", "October 8 2021"]]) == [["Oct 8, 2021", "October 8 2021"]]
    assert gold_parts(["Alice", ["Bob", "Robert"]]) == [["Alice"], ["Bob", "Robert"]]
    # SQuAD normalisation: case, punctuation and articles do not matter; any alternative of a part will do
    assert contains_gold("It was held in TAMPA Florida.", gold_parts("Tampa, Florida"))
    assert contains_gold("Released Oct. 8 2021", [["October 8 2021", "Oct 8, 2021"]])
    assert not contains_gold("Released in 2021", [["October 8 2021", "Oct 8, 2021"]])
    # a list answer needs every part
    assert not contains_gold("Alice and Carol", gold_parts(["Alice", ["Bob", "Robert"]]))
    assert contains_gold("Alice and Robert", gold_parts(["Alice", ["Bob", "Robert"]]))
    assert not contains_gold("anything", [])


def test_load_reads_a_file_or_its_folder(tmp_path):
    path = write_rgb(tmp_path)
    questions = load_rgb(path.parent)
    assert [q.id for q in questions] == [0, 1] and load_rgb(path) == questions
    assert questions[0].answer == [["Tampa, Florida"]] and questions[0].fakeanswer == ["Glendale, Arizona"]
    assert questions[1].answer[0][1] == "Oct 8, 2021"


def _fake_build(settings: Settings):
    return build(settings, embedder=FakeEmbedder(), llm=FakeLLM(), answerability=None)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", chunk_size=40, chunk_overlap=5, auth=False, abstain_below=None)


def test_each_mode_indexes_only_its_own_passages(tmp_path, settings):
    questions = load_rgb(write_rgb(tmp_path))
    services = _fake_build(settings)
    counts = index_rgb(services.indexer, questions, MODES)
    assert counts["created"] == sum(2 * len(q.negative) + len(q.positive) + len(q.positive_wrong) for q in questions)

    def sources(question_id: int, mode: Mode) -> set[str]:
        return {d.source for d in services.registry.list(None, collection=rgb_collection(question_id, mode))}

    assert sources(0, "negative") == {rgb_source(0, "negative", n) for n in range(2)}
    assert sources(0, "noise") == {rgb_source(0, "positive", n) for n in range(2)} | sources(0, "negative")
    assert sources(1, "counterfactual") == {rgb_source(1, "positive_wrong", 0)}
    assert sources(1, "negative") == {rgb_source(1, "negative", n) for n in range(3)}
    # retrieval through the pipeline stays inside the question's collection
    assert services.pipeline is not None
    asked: tuple[Mode, ...] = ("negative", "noise")
    for question in questions:
        for mode in asked:
            answer = services.pipeline.answer(question.query, collection=rgb_collection(question.id, mode))
            assert all(c.source in sources(question.id, mode) for c in answer.citations)


_answer = scripted_answer


class ByCollection:
    """Answers as scripted for each collection; records which collections were asked."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def answer(self, question: str, *, collection: str, **_options) -> Answer:
        self.asked.append(collection)
        return self.answers[collection]


def test_abstention_gold_first_citation_and_fake_answers_are_scored(tmp_path):
    questions = load_rgb(write_rgb(tmp_path))
    pipeline = ByCollection(
        {
            # question 0: abstains without positives, answers right among noise citing a positive passage first
            "rgb-0-negative": _answer("The documents do not say.", "abstained"),
            "rgb-0-noise": _answer("In Tampa, Florida [1].", "generated", (rgb_source(0, "positive", 1),)),
            "rgb-0-counterfactual": _answer(
                "In Glendale, Arizona [1].", "generated", (rgb_source(0, "positive_wrong", 0),)
            ),
            # question 1: answers from negatives, gives the gold answer with a negative passage cited first, abstains
            # on the counterfactual
            "rgb-1-negative": _answer(
                "It was announced in a trailer [1].", "extractive", (rgb_source(1, "negative", 0),)
            ),
            "rgb-1-noise": _answer(
                "On 8 October 2021 [1][2].",
                "generated",
                (rgb_source(1, "negative", 2), rgb_source(1, "positive", 0)),
            ),
            "rgb-1-counterfactual": _answer("No documents match.", "no_documents"),
        }
    )
    modes = MODES
    rows = evaluate_rgb(pipeline, questions, modes)  # type: ignore[arg-type]
    assert pipeline.asked == [rgb_collection(q.id, m) for q in questions for m in modes]
    summary = rgb_summary(rows, modes)
    assert summary["questions"] == 2
    negative, noise, fake = (summary["modes"][m] for m in modes)
    assert negative["abstained"] == 0.5 and negative["answered_with_gold"] == 0.0
    assert negative["negatives_hold_gold"] == 0
    assert noise["contains_gold"] == 1.0 and noise["first_citation_positive"] == 0.5
    assert noise["false_abstention"] == 0.0
    assert fake["gives_fake"] == 0.5 and fake["gives_gold"] == 0.0 and fake["abstained"] == 0.5
    assert fake["gives_fake_of_answers"] == 1.0
    # an abstention's text is never scored as holding the gold answer
    abstained = _answer("Tampa, Florida is not named in the documents.", "abstained")
    again = evaluate_rgb(ByCollection({"rgb-0-noise": abstained}), questions[:1], ("noise",))  # type: ignore[arg-type]
    assert again[0]["abstained"] and not again[0]["contains_gold"]
    assert rgb_summary(again, ("noise",))["modes"]["noise"]["false_abstention"] == 1.0


def test_run_and_command_with_the_fake_models(tmp_path, settings, monkeypatch):
    path = write_rgb(tmp_path)
    run = run_rgb(settings, path.parent, limit=1, seed=0, build_with=_fake_build, out=tmp_path / "r.json")
    assert run.result["questions"] == 1 and set(run.result["modes"]) == {"negative", "noise"}
    assert len(run.result["rows"]) == 2
    assert {p.suffix for p in run.written} == {".json", ".md", ".png"}
    assert "noise robustness" in run.written[1].read_text()

    from typer.testing import CliRunner

    from api.cli import app
    from evaluation import runs

    monkeypatch.setattr(runs, "build", _fake_build)
    for name, value in {"RAG_DATA_DIR": tmp_path / "data", "RAG_CHUNK_SIZE": 40, "RAG_CHUNK_OVERLAP": 5}.items():
        monkeypatch.setenv(name, str(value))
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "rgb", str(path), "--modes", "negative,counterfactual"])
    assert result.exit_code == 0, result.output
    assert "negative rejection" in result.output and "fake answer" in result.output
    assert "noise robustness" not in result.output
    assert (tmp_path / "data" / "eval" / "rgb-en_fact.md").exists()
    bad = runner.invoke(app, ["eval", "rgb", str(path), "--modes", "negative,never"])
    assert bad.exit_code != 0
