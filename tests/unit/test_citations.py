from rag.answer import to_citation
from rag.evidence import Evidence
from rag.text import split_sentences
from rag.types import RetrievedChunk
from rag.verification import strip_invalid_markers

DOC = "Intro line here.\n\nThe vault code is 4417. It changes every May."


def _chunk() -> RetrievedChunk:
    start = DOC.index("The vault")
    return RetrievedChunk(
        chunk_id="doc:1:1",
        document_id="doc",
        version=1,
        source="a.md",
        chunk_index=1,
        start=start,
        end=len(DOC),
        text=DOC[start:],
        score=0.7,
        rank=1,
    )


def test_strip_invalid_markers_keeps_valid_numbers():
    assert strip_invalid_markers("Fact [1, 9]. Bad [9].", {1, 2}) == "Fact [1]. Bad."
    assert strip_invalid_markers("Fact [2] here [1;2].", set()) == "Fact here."


def test_citation_carries_chunk_and_quote_spans():
    sentence = split_sentences(_chunk())[0]
    citation = to_citation(Evidence(sentence, 0.81234, 3), 3)
    assert citation.marker == 3 and citation.score == 0.8123
    assert DOC[citation.start : citation.end] == citation.text
    assert DOC[citation.quote_start : citation.quote_end] == citation.quote == "The vault code is 4417."
