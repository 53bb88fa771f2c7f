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
