"""The answerability cross-encoder: the bundled adapter merged into MiniLM and run on OpenVINO, and the command
that trains one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.models.answerability import BUNDLED, AnswerabilityModel, _fingerprint
from tests.integration.conftest import run_cli, service_env

pytestmark = pytest.mark.integration

PASSAGE = (
    "New employees receive a home-office stipend of 600 euros. Laptops are renewed every three years. "
    "Co-working memberships are reimbursed up to 150 euros per month."
)


@pytest.fixture(scope="module")
def checker(model_cache: Path) -> AnswerabilityModel:
    model = AnswerabilityModel.load("default", model_cache)
    assert model is not None
    return model


def test_answered_question_scores_above_unanswered_ones(checker):
    answered = checker.score("How large is the home-office stipend for new employees?", PASSAGE)
    off_topic = checker.score("Who won the 2018 football World Cup?", PASSAGE)
    assert 0.0 <= off_topic < 0.5 < answered <= 1.0


def test_bundled_model_says_what_it_was_trained_on(checker):
    assert checker.training["articles"] and checker.training["examples"] > 1000


def test_export_is_cached_and_reused(checker, model_cache):
    built = model_cache / f"answerability-{_fingerprint(BUNDLED)}"
    assert (built / "openvino" / "openvino_model.xml").exists()
    before = {p: p.stat().st_mtime_ns for p in model_cache.glob("answerability-*/openvino/*")}
    again = AnswerabilityModel.load("default", model_cache)
    question = "How often are laptops renewed?"
    assert again.score(question, PASSAGE) == pytest.approx(checker.score(question, PASSAGE), abs=1e-5)
    assert {p: p.stat().st_mtime_ns for p in model_cache.glob("answerability-*/openvino/*")} == before


def _squad_file(path: Path) -> Path:
    def article(title: str, facts: list[tuple[str, str, str, str]]) -> dict:
        paragraphs = []
        for subject, fact, question, impossible in facts:
            context = f"{subject} {fact}"
            answer = fact.split()[-1].rstrip(".")
            paragraphs.append(
                {
                    "context": context,
                    "qas": [
                        {
                            "id": f"{title}-{len(paragraphs)}-a",
                            "question": question,
                            "answers": [{"text": answer, "answer_start": context.index(answer)}],
                            "is_impossible": False,
                        },
                        {
                            "id": f"{title}-{len(paragraphs)}-u",
                            "question": impossible,
                            "answers": [],
                            "is_impossible": True,
                        },
                    ],
                }
            )
        return {"title": title, "paragraphs": paragraphs}

    data = {
        "version": "v2.0",
        "data": [
            article(
                "Alpha",
                [
                    (
                        "The Zarnesti bridge",
                        "was opened in 1911.",
                        "When was the Zarnesti bridge opened?",
                        "When was the Zarnesti bridge closed?",
                    ),
                    (
                        "The harbour of Velka",
                        "handles 40 ships a day.",
                        "How many ships does Velka handle a day?",
                        "How many trains does Velka handle a day?",
                    ),
                ],
            ),
            article(
                "Beta",
                [
                    (
                        "The Orsk observatory",
                        "stands at 2,300 metres.",
                        "How high is the Orsk observatory?",
                        "How old is the Orsk observatory?",
                    ),
                ],
            ),
        ],
    }
    path.write_text(json.dumps(data))
    return path


def test_train_command_writes_an_adapter_the_service_can_load(tmp_path, model_cache):
    squad = _squad_file(tmp_path / "tiny-squad.json")
    env = service_env(tmp_path / "data", model_cache, RAG_AUTH="false")
    out = tmp_path / "adapter"
    trained = run_cli(["eval", "train-answerability", str(squad), "--out", str(out), "--epochs", "1"], env, 600)
    assert trained.returncode == 0, trained.stderr
    info = json.loads((out / "training.json").read_text())
    assert info["articles"] == ["Alpha"] and info["examples"] == 4  # even half of [Alpha, Beta]
    model = AnswerabilityModel.load(str(out), model_cache)
    assert 0.0 <= model.score("When was the Zarnesti bridge opened?", "The Zarnesti bridge was opened in 1911.") <= 1

    # evaluation with that model leaves the article it saw out
    env["RAG_ANSWERABILITY_MODEL"] = str(out)
    result_path = tmp_path / "eval.json"
    evaluated = run_cli(["eval", "squad", str(squad), "--out", str(result_path)], env, 600)
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(result_path.read_text())
    assert result["excluded_articles"] == ["Alpha"] and result["questions"] == 2
