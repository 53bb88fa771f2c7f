import numpy as np

from rag.evidence import Evidence, embedding_texts, select_evidence
from rag.text import split_sentences
from rag.types import RetrievedChunk
from rag.verification import check_support

DOC = (
    "# Bees\n\nPreamble.\n\n## Queens\n\nThe queen is the only bee that lays eggs. At the height of the\n"
    "season she can lay about 1,500 eggs a day.\n\n- Workers live five to six weeks in summer.\n"
    "- Drones do not sting.\n"
)


def _retrieved(text: str, start: int = 0, source: str = "s.md", score: float = 1.0) -> RetrievedChunk:
    """A retrieved chunk holding ``text``, which starts at ``start`` in its document."""
    return RetrievedChunk(
        chunk_id=f"{source}:1:0",
        document_id=source,
        version=1,
        source=source,
        chunk_index=0,
        start=start,
        end=start + len(text),
        text=text,
        score=score,
        rank=1,
    )


def _chunk(text_start: int = 0) -> RetrievedChunk:
    return _retrieved(DOC[text_start:], text_start, "bees.md", 0.5)


def test_sentences_keep_exact_document_spans():
    offset = DOC.index("## Queens")
    sentences = split_sentences(_chunk(offset))
    assert [s.flat for s in sentences] == [
        "The queen is the only bee that lays eggs.",
        "At the height of the season she can lay about 1,500 eggs a day.",
        "Workers live five to six weeks in summer.",
        "Drones do not sting.",
    ]
    for s in sentences:
        assert DOC[s.start : s.end] == s.text


def test_headings_with_content_are_sentences():
    text = "## Aurora 3.2 (released 14 October 2026)\n\n- PDF export."
    chunk = _retrieved(text)
    assert [s.text for s in split_sentences(chunk)] == ["Aurora 3.2 (released 14 October 2026)"]


def _evidence(*texts: str) -> list[Evidence]:
    doc = " ".join(texts)
    chunk = _retrieved(doc)
    return [Evidence(s, 1.0, i) for i, s in enumerate(split_sentences(chunk), start=1)]


def test_support_requires_numbers_and_words_from_one_sentence():
    ev = _evidence("The daily meal allowance is 55 euros.", "The on-call allowance is 250 euros per week.")
    good = check_support("The on-call allowance is 250 euros per week.", ev, "How much is the on-call allowance?")
    assert good.supported and good.evidence is ev[1]
    spliced = check_support("The on-call allowance is 55 euros per week.", ev, "How much is the on-call allowance?")
    assert not spliced.supported
    invented = check_support("It is about 1.5 million euros.", ev, "How large is the stipend?")
    assert not invented.supported


def test_repeating_the_question_is_not_support():
    ev = _evidence("At the height of the season she can lay about 1,500 eggs a day.")
    q = "How many eggs can a queen bee lay in a day?"
    assert not check_support("Question: How many eggs can a queen bee lay in a day?", ev, q).supported


def test_select_evidence_uses_the_previous_sentence_for_context():
    ev = _evidence("The queen lays eggs.", "She lays 1,500 a day.", "Drones do not sting at all.")
    sentences = [e.sentence for e in ev]
    texts = embedding_texts(sentences)
    assert texts[3:] == [
        "The queen lays eggs.",
        "The queen lays eggs. She lays 1,500 a day.",
        "She lays 1,500 a day. Drones do not sting at all.",
    ]
    # Only the paired text of sentence 2 points the way the question does.
    vectors = np.zeros((6, 2), dtype=np.float32)
    vectors[:, 1] = 1.0
    vectors[4] = [1.0, 0.0]
    chosen = select_evidence(np.array([1.0, 0.0]), sentences, vectors, "how many eggs a day", limit=2)
    assert chosen[0].sentence.text == "She lays 1,500 a day."
    assert [e.number for e in chosen] == [1, 2]


def test_select_evidence_weighs_shared_rare_words_more():
    ev = _evidence(
        "In the tenth century the people settled.", "The Normans settled in Normandy.", "Unrelated text here."
    )
    sentences = [e.sentence for e in ev]
    vectors = np.zeros((6, 2), dtype=np.float32)
    vectors[:, 0] = 1.0  # every sentence as close to the question as the others
    question = "In which century did the Normans settle?"
    rare = {"norman": 5.0, "centuri": 0.5, "settl": 0.5}  # stemmed words

    def idf(words):
        return {w: rare.get(w, 1.0) for w in words}

    plain = select_evidence(np.array([1.0, 0.0]), sentences, vectors, question, limit=3)
    weighted = select_evidence(np.array([1.0, 0.0]), sentences, vectors, question, limit=3, idf=idf)
    # Both sentences share two question words: a tie without idf (kept in order), the rare name wins with it.
    assert plain[0].score == plain[1].score
    assert plain[0].sentence.text.startswith("In the tenth century")
    assert weighted[0].sentence.text == "The Normans settled in Normandy."
    assert weighted[0].score > weighted[1].score > weighted[2].score


def test_word_only_headings_are_not_evidence_but_headings_with_numbers_are():
    text = "# Zephyr Kitchen Notes\n\nThe kitchen closes at 21:30.\n\n## Release 3.2 (14 October 2026)\n\nFixes."
    chunk = _retrieved(text)
    sentences = split_sentences(chunk)
    assert [(s.text, s.heading) for s in sentences] == [
        ("The kitchen closes at 21:30.", False),
        ("Release 3.2 (14 October 2026)", True),
    ]


def test_headings_need_a_clear_lead_to_win():
    text = "# Release 3.2 notes\n\nThe kitchen closes at 21:30."
    chunk = _retrieved(text)
    sentences = split_sentences(chunk)
    assert [s.heading for s in sentences] == [True, False]
    # the heading is slightly closer to the question, but not by the heading penalty
    vectors = np.array([[0.88, 0.1], [0.85, 0.3], [0.88, 0.1], [0.85, 0.3]], dtype=np.float32)
    chosen = select_evidence(np.array([1.0, 0.0]), sentences, vectors, "when does the kitchen close", limit=1)
    assert chosen[0].sentence.text == "The kitchen closes at 21:30."
