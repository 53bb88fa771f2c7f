"""The abstention checks that need no model (rag/abstention.py)."""

from rag.abstention import expected_answer_missing


def test_a_question_for_a_frequency_needs_evidence_that_states_one():
    question = "How often do I have to change my ENT password?"
    assert (
        expected_answer_missing(question, ["Use a unique password for each service you use, and never reuse one."])
        is False
    )
    assert expected_answer_missing(question, ["Don't use your Amazon password as your ENT password."])
    assert not expected_answer_missing(question, ["Passwords expire after 90 days."])


def test_a_question_for_a_quantity_needs_a_number_in_the_evidence():
    question = "How many offices does the company have?"
    assert expected_answer_missing(question, ["The company is remote-first.", "Offices are in Lisbon and Tallinn."])
    assert not expected_answer_missing(question, ["The company has two offices, in Lisbon and Tallinn."])
    assert not expected_answer_missing(question, ["Employees may work abroad for up to 60 days."])  # a number at all


def test_other_questions_are_not_checked():
    assert not expected_answer_missing("Who is the head of engineering?", ["Nothing to see here."])
