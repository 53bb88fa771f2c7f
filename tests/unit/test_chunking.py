from pathlib import Path

import pytest
from transformers import AutoTokenizer

from ingest.chunking import Chunker
from ingest.parsers import parse
from rag.models.locate import resolve_embedder

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def count_tokens():
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_embedder("default")))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


@pytest.mark.parametrize("path", sorted(p for p in DATA.rglob("*") if p.is_file()), ids=lambda p: p.name)
def test_spans_are_exact_and_chunks_fit_the_embedder(path, count_tokens):
    parsed = parse(path.read_bytes(), path.name)
    chunks = Chunker(count_tokens, chunk_size=60, chunk_overlap=10).split(parsed)
    assert len(chunks) > 1
    for i, chunk in enumerate(chunks):
        assert chunk.index == i
        assert parsed.text[chunk.start : chunk.end] == chunk.text
        assert count_tokens(chunk.text) <= 60
    starts = [c.start for c in chunks]
    assert starts == sorted(set(starts))


def test_markdown_chunks_carry_heading_path(count_tokens):
    text = "# Policy\n\nIntro text.\n\n## Equipment\n\nLaptops are provided.\n\n## Travel\n\nTrains are preferred.\n"
    parsed = parse(text.encode(), "policy.md")
    chunks = Chunker(count_tokens, chunk_size=8, chunk_overlap=0).split(parsed)

    def heading_of(phrase: str) -> str | None:
        return next(c.heading for c in chunks if phrase in c.text)

    assert heading_of("Intro text.") == "Policy"
    assert heading_of("Laptops are provided.") == "Policy > Equipment"
    assert heading_of("Trains are preferred.") == "Policy > Travel"


def test_repeated_text_gets_distinct_spans(count_tokens):
    text = "Same sentence here.\n\n" * 6
    parsed = parse(text.encode(), "rep.txt")
    chunks = Chunker(count_tokens, chunk_size=5, chunk_overlap=0).split(parsed)
    assert len({c.start for c in chunks}) == len(chunks) == 6
    assert all(parsed.text[c.start : c.end] == c.text for c in chunks)


def test_chunks_do_not_end_at_initials_or_abbreviations(count_tokens):
    text = (
        "The first powered model aircraft was built by Samuel P. Langley in 1896 near the river. "
        "Later the U.S. Army funded his larger machine for the war department. "
        "Dr. Smith of the museum wrote the history of the project in 1950."
    )
    chunks = Chunker(count_tokens, chunk_size=22, chunk_overlap=0).split(parse(text.encode(), "langley.txt"))
    assert len(chunks) > 1
    assert not any(c.text.endswith(("P.", "U.S.", "Dr.")) for c in chunks), [c.text for c in chunks]


def test_pdf_chunks_record_where_their_later_pages_begin(count_tokens):
    from tests.formats import make_pdf

    pages = ["Title page of the report", "The survey covered every office.", "Costs fell by three percent."]
    parsed = parse(make_pdf(pages), "report.pdf")
    (chunk,) = Chunker(count_tokens, chunk_size=100, chunk_overlap=0).split(parsed)
    assert chunk.page == 1 and chunk.page_starts == [parsed.pages[1].start, parsed.pages[2].start]
    assert parsed.text[chunk.page_starts[1] :].startswith("Costs fell")


def test_chunks_carry_the_regions_they_cover(count_tokens):
    """Cell ranges of one sheet merge over a chunk's rows; OCR confidence is averaged by overlap (#17)."""
    from ingest.parsed import ParsedDocument, Region, span_locations

    rows = [f"City: Town {n}; Hotel night limit: {100 + n} CHF" for n in range(2, 8)]
    text = "\n".join(rows)
    regions, offset = [], 0
    for n, row in enumerate(rows, start=2):
        regions.append(Region(offset, offset + len(row), location=f"Budget!A{n}:B{n}", ocr_confidence=n / 10))
        offset += len(row) + 1
    chunks = Chunker(count_tokens, chunk_size=40, chunk_overlap=0).split(
        ParsedDocument(text=text, media_type="text/plain", regions=regions)
    )
    assert len(chunks) > 1
    first_row = int(chunks[0].location.split("!A")[1].split(":")[0])
    assert chunks[0].location.startswith("Budget!A2:B") and first_row == 2
    last = chunks[-1]
    assert last.location.endswith(":B7")
    covered = [r for r in regions if r.start < last.end and last.start < r.end]
    assert min(r.ocr_confidence for r in covered) <= last.ocr_confidence <= max(r.ocr_confidence for r in covered)
    assert span_locations("slide 2", "slide 3") == "slide 2 – slide 3"
    assert ParsedDocument(text=text, media_type="text/plain").provenance(0, 10) == (None, None)
