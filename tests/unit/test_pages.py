"""A citation's page is the page of its quoted sentence, also when the chunk runs over a page break."""

from ingest.parsers import parse
from tests.fakes import FakeLLM, fake_services
from tests.formats import make_pdf

TITLE_PAGE = "Northwind Annual Report 2026\nPrepared by the board"
PAGE_TWO = "The survey covered every office of the company in Lisbon and Tallinn."
PAGE_THREE = "The home-office stipend rose to 750 euros for every employee in 2026."


def test_page_starts_of_a_chunk_cover_the_breaks_inside_it_and_right_after_it():
    parsed = parse(make_pdf([TITLE_PAGE, PAGE_TWO, PAGE_THREE]), "report.pdf")
    two, three = parsed.pages[1].start, parsed.pages[2].start
    assert parsed.page_starts(0, len(parsed.text)) == [two, three]
    assert parsed.page_starts(0, parsed.pages[0].end) == [two]  # the chunk ends with its page
    assert parsed.page_starts(two, two + 10) == []
    assert parsed.page_starts(two + 10, parsed.pages[1].end) == [three]


def test_citation_cites_the_page_of_the_quoted_sentence(tmp_path):
    services = fake_services(tmp_path / "data", llm=FakeLLM("The stipend rose to 750 euros [1]."))
    services.indexer.ingest_bytes(make_pdf([TITLE_PAGE, PAGE_TWO, PAGE_THREE]), "report.pdf")
    (chunk,) = services.store.chunks_of_any(10)  # one chunk over three pages, its breaks stored with it
    assert chunk.page == 1 and len(chunk.page_starts) == 2

    answer = services.pipeline.answer("How much is the home-office stipend in 2026?")
    (citation,) = answer.citations
    assert citation.quote == PAGE_THREE
    assert citation.page == 3


def test_chunks_stored_before_pages_were_recorded_still_load():
    from rag.store.chunks import _from_metadata

    old = {"document_id": "d", "version": 1, "source": "r.pdf", "chunk_index": 0, "start": 0, "end": 5, "page": 2}
    assert _from_metadata("d:1:0", "Hello", old)["page_starts"] == []
    assert _from_metadata("d:1:0", "Hello", {**old, "page_starts": "40,90"})["page_starts"] == [40, 90]
