"""``rag eval mtrag``'s replay and scoring (evaluation/mtrag.py), with a scripted pipeline and a tiny set."""

import json

import pytest

from evaluation.mtrag import evaluate_mtrag, history_of, mtrag_markdown
from rag.types import Answer, Timings
from tests.fakes import citation_of


def _task(task_id, turns, label, contexts=(), target=""):
    return {
        "task_id": task_id,
        "input": [{"speaker": s, "text": t} for s, t in turns],
        "contexts": [{"document_id": c, "text": "x"} for c in contexts],
        "targets": [{"speaker": "agent", "text": target}] if target else [],
        "answerability": [label],
        "Multi-Turn": ["Follow-up"],
    }


TASKS = [
    _task("t1", [("user", "What is the Gliding schedule?")], "ANSWERABLE", ["p1"], "gliding arrive depart range"),
    _task(
        "t2",
        [("user", "What is the Gliding schedule?"), ("agent", "You arrive within a range."), ("user", "When end?")],
        "ANSWERABLE",
        ["p1"],
        "depart 6:30 pm",
    ),
    _task("t3", [("user", "Who is the CEO?")], "UNANSWERABLE"),
    _task("t4", [("user", "Hi"), ("agent", "Hello."), ("user", "What about the other one?")], "UNDERSPECIFIED"),
]


_citation = citation_of


class Scripted:
    def __init__(self, answers):
        self.answers = answers
        self.histories = {}

    def answer(self, question, history=(), **_):
        self.histories[question] = list(history)
        text, kind, sources, ms = self.answers[question]
        return Answer(
            answer=text,
            answer_type=kind,
            citations=[_citation(s) for s in sources],
            timings=Timings(total_ms=ms),
            standalone_question=f"{question} (about: gliding)" if history else None,
        )


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "reference.jsonl").write_text("\n".join(json.dumps(t) for t in TASKS))
    corpus = [{"_id": "p1", "title": "", "text": "Gliding: depart 6:30 PM."}, {"_id": "p2", "text": "Other."}]
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus))
    return tmp_path


def test_history_pairs_user_turns_with_the_agent_turns_after_them():
    turns, question = history_of(TASKS[1])
    assert question == "When end?"
    assert [(t.question, t.answer) for t in turns] == [("What is the Gliding schedule?", "You arrive within a range.")]


def test_scores_by_label_and_turn(folder):
    pipeline = Scripted(
        {
            "What is the Gliding schedule?": (
                "Gliding: arrive and depart.",
                "composed",
                ["mtrag/p1.txt"],
                10,
            ),
            "When end?": ("You depart at 6:30 PM.", "extractive", ["mtrag/p2.txt"], 30),
            "Who is the CEO?": ("The documents do not say.", "abstained", [], 5),
            "What about the other one?": ("Which one do you mean?", "clarification", [], 1),
        }
    )
    result = evaluate_mtrag(pipeline, folder)
    assert [t.question for t in pipeline.histories["When end?"]] == ["What is the Gliding schedule?"]
    rows = {r["id"]: r for r in result["rows"]}
    assert rows["t1"]["content_recall"] == pytest.approx(3 / 4)  # 3 of gliding arrive depart range
    assert rows["t1"]["reference_cited"] and not rows["t2"]["reference_cited"]
    assert rows["t2"]["content_recall"] == pytest.approx(1.0) and rows["t2"]["standalone"].endswith("(about: gliding)")
    assert result["by_label"]["UNANSWERABLE"]["abstain_unanswerable"] == 1.0
    assert result["by_label"]["UNDERSPECIFIED"]["clarify_underspecified"] == 1.0
    assert result["overall"]["false_clarify_answerable"] == 0.0
    assert result["overall"]["total_ms_p50"] == 10.0  # the nearest-rank median of 10, 30, 5 and 1 ms
    assert result["by_turn"]["first"]["tasks"] == 2 and result["by_turn"]["followup"]["tasks"] == 2
    assert result["by_turn"]["followup"]["reference_cited_answerable"] == 0.0
    assert "By turn" in mtrag_markdown(result, "rag eval mtrag x")

    alone = evaluate_mtrag(Scripted(pipeline.answers), folder, history=False, limit=2, seed=1)
    assert alone["overall"]["tasks"] == 2 and all(r["standalone"] is None for r in alone["rows"])


def test_a_part_asks_the_tasks_at_odd_or_even_positions_only(folder):
    answers = {
        "What is the Gliding schedule?": ("Gliding.", "composed", ["mtrag/p1.txt"], 10),
        "When end?": ("At 6:30 PM.", "extractive", ["mtrag/p1.txt"], 30),
        "Who is the CEO?": ("The documents do not say.", "abstained", [], 5),
        "What about the other one?": ("Which one do you mean?", "clarification", [], 1),
    }
    odd = evaluate_mtrag(Scripted(answers), folder, part="odd")
    even = evaluate_mtrag(Scripted(answers), folder, part="even")
    assert [(r["id"], r["index"]) for r in odd["rows"]] == [("t2", 1), ("t4", 3)]
    assert [(r["id"], r["index"]) for r in even["rows"]] == [("t1", 0), ("t3", 2)]
    assert odd["part"] == "odd" and "odd-position" in mtrag_markdown(odd, "rag eval mtrag x --part odd")
