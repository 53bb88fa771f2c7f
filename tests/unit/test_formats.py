"""Every accepted format, parsed from a real file and chunked with the real embedder tokenizer."""

from __future__ import annotations

import io
import re

import docx
import pytest
from pypdf import PdfReader
from pypdf.errors import DependencyError
from transformers import AutoTokenizer

from ingest import parsed as parsed_module
from ingest import parsers
from ingest.chunking import Chunk, Chunker
from ingest.errors import EmptyDocument, FileTooLarge, IngestError, UnreadableDocument, UnsupportedFileType
from ingest.ocr import IMAGE_SUFFIXES
from ingest.parsed import ParsedDocument
from ingest.parsers import parse
from rag.models.locate import resolve_embedder
from tests.formats import (
    DOCX_MEDIA_TYPE,
    make_csv,
    make_docx,
    make_docx_bomb,
    make_encrypted_pdf,
    make_html,
    make_json,
    make_ods,
    make_pdf,
    make_xlsx,
    make_zip,
)
from tests.unit.test_more_formats import MORE_BAD_INPUTS, MORE_SAMPLES

LOREM = (
    "The committee reviews every request within ten working days. Requests that arrive during holidays are "
    "handled when the office reopens. Each decision is recorded in the shared register with its reasons."
)
PDF_FACTS = [
    "The Zephyr kitchen buys its paprika from the village of Zarnesti.",
    "The north warehouse keeps exactly 412 spare bicycle wheels.",
    "Staff parties are held on the last Friday of every October.",
]


@pytest.fixture(scope="module")
def count_tokens():
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_embedder("default")))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


def split(parsed: ParsedDocument, count_tokens, size: int = 40) -> list[Chunk]:
    """Chunk and check the invariant every citation relies on: each chunk is an exact span of the text."""
    chunks = Chunker(count_tokens, chunk_size=size, chunk_overlap=5).split(parsed)
    assert chunks, "no chunks"
    for i, chunk in enumerate(chunks):
        assert chunk.index == i
        assert parsed.text[chunk.start : chunk.end] == chunk.text
        assert count_tokens(chunk.text) <= size
    return chunks


def chunk_with(chunks: list[Chunk], phrase: str) -> Chunk:
    found = [c for c in chunks if phrase in c.text]
    assert found, f"{phrase!r} is in no chunk"
    return found[0]


def sample_html() -> bytes:
    return make_html(
        f"""<main>
<h1>Travel <em>Policy</em></h1>
<p>Read this before booking. {LOREM}</p>
<h2>Trains</h2>
<p>Second class tickets are <b>always</b> refunded. {LOREM}</p>
<ul><li>Book early.</li><li>Keep the receipt.</li></ul>
<h2>Hotels</h2>
<p>Hotels may cost up to 140 euros a night. {LOREM}</p>
<table><tr><th>City</th><th>Limit</th></tr><tr><td>Paris</td><td>180 euros</td></tr></table>
</main>"""
    )


def sample_docx() -> bytes:
    return make_docx(
        [
            ("title", "Staff Handbook"),
            ("paragraph", f"Welcome to the company. {LOREM}"),
            ("heading1", "Leave"),
            ("paragraph", f"Everyone gets twenty-eight days of paid leave. {LOREM}"),
            ("heading2", "Sick leave"),
            ("paragraph", f"Report sickness to your manager before ten o'clock. {LOREM}"),
            ("heading1", "Equipment"),
            ("table", [["Item", "Owner"], ["Laptop", "IT desk"], ["Phone", "Facilities"]]),
        ]
    )


SAMPLES = {
    "notes.txt": (f"First paragraph. {LOREM}\n\nSecond paragraph. {LOREM}\n".encode(), "text/plain", False),
    "notes.md": (f"# Notes\n\n{LOREM}\n\n## More\n\n{LOREM}\n".encode(), "text/markdown", True),
    "page.html": (sample_html(), "text/html", True),
    "report.pdf": (make_pdf([f"{fact} {LOREM}" for fact in PDF_FACTS]), "application/pdf", False),
    "handbook.docx": (sample_docx(), DOCX_MEDIA_TYPE, True),
    "people.csv": (
        make_csv(["name", "city", "note"], [[f"Person {i}", "Oslo", LOREM[:80]] for i in range(8)]),
        "text/csv",
        False,
    ),
    "limits.xlsx": (
        make_xlsx({"Limits": [["City", "Limit", "Note"], *[[f"City {i}", 100 + i, LOREM[:80]] for i in range(8)]]}),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        True,
    ),
    "limits.ods": (
        make_ods({"Limits": [["City", "Limit", "Note"], *[[f"City {i}", 100 + i, LOREM[:80]] for i in range(8)]]}),
        "application/vnd.oasis.opendocument.spreadsheet",
        True,
    ),
    "config.json": (
        make_json({"service": {"name": "rag", "ports": [8000, 8001], "notes": [LOREM, LOREM]}, "debug": False}),
        "application/json",
        False,
    ),
    **MORE_SAMPLES,  # slides, OpenDocument text, RTF, EPUB and e-mail: tests/unit/test_more_formats.py
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_format_chunks_into_exact_spans(name, count_tokens):
    data, media_type, markdown_headings = SAMPLES[name]
    parsed = parse(data, name)
    assert parsed.media_type == media_type
    assert parsed.markdown_headings is markdown_headings
    chunks = split(parsed, count_tokens)
    assert len(chunks) > 1
    starts = [c.start for c in chunks]
    assert starts == sorted(set(starts))


def test_every_suffix_has_a_sample_here():
    covered = {re.sub(r"^[^.]*", "", name) for name in SAMPLES} | {".text", ".markdown", ".htm"}
    covered |= set(IMAGE_SUFFIXES)  # images: tests/unit/test_ocr.py
    assert covered == set(parsers.supported_suffixes())


# --- PDF -----------------------------------------------------------------------------------------------


def test_pdf_helper_round_trips_through_pypdf():
    reader = PdfReader(io.BytesIO(make_pdf(["Hello (world) \\ back", "Second"])))
    assert [page.extract_text() for page in reader.pages] == ["Hello (world) \\ back", "Second"]


def test_pdf_pages_are_joined_and_recorded():
    parsed = parse(make_pdf(PDF_FACTS), "facts.pdf")
    assert parsed.text == "\n\n".join(PDF_FACTS)
    assert [span.page for span in parsed.pages] == [1, 2, 3]
    for span, fact in zip(parsed.pages, PDF_FACTS, strict=True):
        assert parsed.text[span.start : span.end] == fact
        assert parsed.page_at(span.start) == parsed.page_at(span.end - 1) == span.page


def test_pdf_chunks_carry_their_page(count_tokens):
    parsed = parse(make_pdf([f"{fact} {LOREM}" for fact in PDF_FACTS]), "facts.pdf")
    chunks = split(parsed, count_tokens, size=30)
    for page, fact in enumerate(PDF_FACTS, start=1):
        assert chunk_with(chunks, fact[:40]).page == page
    assert {c.page for c in chunks} == {1, 2, 3}
    assert all(c.heading is None for c in chunks)


def test_pdf_with_empty_user_password_is_opened():
    parsed = parse(make_encrypted_pdf(["Only editing is restricted."], user_password=""), "locked.pdf")
    assert parsed.text == "Only editing is restricted."


def test_aes_pdf_without_cryptography_says_so(monkeypatch):
    def needs_cryptography(self, password):
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(PdfReader, "decrypt", needs_cryptography)
    with pytest.raises(UnreadableDocument, match=r"AES.*without encryption"):
        parse(make_encrypted_pdf(["secret"]), "aes.pdf")


# --- HTML and Word -------------------------------------------------------------------------------------


def test_html_keeps_content_and_drops_page_furniture():
    text = parse(sample_html(), "page.html").text
    assert text.startswith("# Travel Policy\n\nRead this before booking.")
    assert "\n\n## Trains\n\nSecond class tickets are always refunded." in text
    assert "\n\n- Book early.\n\n- Keep the receipt.\n\n" in text
    assert "\n\nCity: Paris | Limit: 180 euros" in text  # rows labelled by the header (test_tables.py)
    for furniture in ("Sample page", "color: red", "tracking", "About us", "Copyright footer"):
        assert furniture not in text


def test_html_chunks_carry_heading_paths(count_tokens):
    chunks = split(parse(sample_html(), "page.html"), count_tokens, size=30)
    assert chunk_with(chunks, "Read this before booking").heading == "Travel Policy"
    assert chunk_with(chunks, "Second class tickets").heading == "Travel Policy > Trains"
    assert chunk_with(chunks, "Keep the receipt").heading == "Travel Policy > Trains"
    assert chunk_with(chunks, "140 euros").heading == "Travel Policy > Hotels"
    assert chunk_with(chunks, "City: Paris | Limit: 180 euros").heading == "Travel Policy > Hotels"


def test_html_nested_deeper_than_the_recursion_limit():
    parsed = parse(b"<div>" * 5000 + b"deep text" + b"</div>" * 5000, "deep.htm")
    assert parsed.text == "deep text"


def test_docx_headings_paragraphs_and_tables():
    parsed = parse(sample_docx(), "handbook.docx")
    assert parsed.text.startswith("# Staff Handbook\n\nWelcome to the company.")
    assert "\n\n## Leave\n\nEveryone gets twenty-eight days" in parsed.text
    assert "\n\n### Sick leave\n\n" in parsed.text
    assert parsed.text.endswith("## Equipment\n\nItem: Laptop | Owner: IT desk\n\nItem: Phone | Owner: Facilities")


def test_docx_merged_cells_appear_once_per_row():
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    for r, row in enumerate([["a", "b", "c"], ["d", "e", "f"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(0, 0).merge(table.cell(0, 1)).text = "wide"
    out = io.BytesIO()
    document.save(out)
    assert parse(out.getvalue(), "merged.docx").text == "wide: d | wide: e | c: f"  # both under the merged header


def test_docx_chunks_carry_heading_paths(count_tokens):
    chunks = split(parse(sample_docx(), "handbook.docx"), count_tokens, size=30)
    assert chunk_with(chunks, "Welcome to the company").heading == "Staff Handbook"
    assert chunk_with(chunks, "twenty-eight days").heading == "Staff Handbook > Leave"
    assert chunk_with(chunks, "before ten o'clock").heading == "Staff Handbook > Leave > Sick leave"
    assert chunk_with(chunks, "Item: Laptop | Owner: IT desk").heading == "Staff Handbook > Equipment"


def test_docx_bomb_is_refused_before_python_docx_sees_it(monkeypatch):
    def must_not_open(*args, **kwargs):
        raise AssertionError("python-docx was handed a zip bomb")

    monkeypatch.setattr(parsers.docx, "Document", must_not_open)
    bomb = make_docx_bomb(parsed_module.MAX_ZIP_UNCOMPRESSED_BYTES + 1)
    assert len(bomb) < 2 * 1024 * 1024
    with pytest.raises(FileTooLarge, match=r"would expand to \d+ bytes.*limit is 209715200") as err:
        parse(bomb, "bomb.docx")
    assert err.value.status_code == 413


def test_docx_member_with_extreme_compression_ratio_is_refused():
    bomb = make_docx_bomb(8 * 1024 * 1024)  # far below the size limit, but over 200 to 1
    with pytest.raises(FileTooLarge, match=r"zip bomb: its part word/document.xml is compressed \d+ to 1"):
        parse(bomb, "ratio.docx")


def test_docx_size_limit_counts_every_member(monkeypatch):
    data = sample_docx()
    monkeypatch.setattr(parsed_module, "MAX_ZIP_UNCOMPRESSED_BYTES", 1000)
    with pytest.raises(FileTooLarge, match="limit is 1000 bytes"):
        parse(data, "handbook.docx")


# --- CSV and JSON --------------------------------------------------------------------------------------


def test_csv_rows_become_labelled_lines():
    data = make_csv(["name", "city", ""], [["Ann", "Oslo", "x"], ["Bob, Jr.", "Line\nbreak", ""], ["", "", ""]])
    parsed = parse(data, "people.csv")
    assert parsed.text == "name: Ann | city: Oslo | column 3: x\n\nname: Bob, Jr. | city: Line break"


def test_json_leaves_become_path_lines():
    data = make_json({"a": {"b": [1, {"c": "two\nwords"}], "d": None}, "e": True, "empty": {}})
    assert parse(data, "data.json").text == "a.b[0]: 1\na.b[1].c: two words\na.d: null\ne: true"
    assert parse(b'["x", 2.5]', "list.json").text == "[0]: x\n[1]: 2.5"


# --- bad input -----------------------------------------------------------------------------------------

GOOD_PDF = make_pdf(PDF_FACTS)
_PAGE_TREE = GOOD_PDF.index(b"2 0 obj")
BAD_INPUTS = {
    "corrupt pdf": (
        GOOD_PDF[:_PAGE_TREE] + b"\xff" * 200 + GOOD_PDF[_PAGE_TREE + 200 :],  # page tree overwritten
        "broken.pdf",
        UnreadableDocument,
        r"could not be read as a PDF; it may be damaged",
    ),
    "noise after pdf header": (b"%PDF-1.7\n" + bytes(range(256)) * 8, "noise.pdf", UnreadableDocument, r"damaged"),
    "truncated pdf": (GOOD_PDF[: len(GOOD_PDF) // 2], "cut.pdf", UnreadableDocument, r"incomplete \(truncated\)"),
    "encrypted pdf": (make_encrypted_pdf(PDF_FACTS), "locked.pdf", UnreadableDocument, r"password-protected.*copy"),
    "scanned pdf": (make_pdf(["", ""]), "scan.pdf", EmptyDocument, r"no extractable text.*OCR"),
    "text named pdf": (b"just some words", "fake.pdf", UnsupportedFileType, r"not a PDF"),
    "binary named txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "pic.txt", UnsupportedFileType, r"binary.*NUL"),
    "pdf named md": (GOOD_PDF, "notes.md", UnsupportedFileType, r"looks like a PDF.*\.pdf"),
    "pdf named html": (GOOD_PDF, "page.html", UnsupportedFileType, r"looks like a PDF"),
    "docx named txt": (sample_docx(), "notes.txt", UnsupportedFileType, r"zip archive.*\.docx"),
    "docx named json": (sample_docx(), "data.json", UnsupportedFileType, r"zip archive"),
    "docx not a zip": (b"Just text, saved with the wrong name.", "memo.docx", UnsupportedFileType, r"not a zip"),
    "zip without document": (make_zip({"a.txt": b"hi"}), "memo.docx", UnsupportedFileType, r"word/document.xml"),
    "damaged docx": (
        make_zip({"word/document.xml": b"<not-xml"}),
        "memo.docx",
        UnreadableDocument,
        r"could not be read as a Word document",
    ),
    "invalid json": (b'{\n  "a": 1,\n  "b": \n}', "data.json", UnreadableDocument, r"line 4, column 1"),
    "json of nothing": (b"{}", "data.json", EmptyDocument, r"no text"),
    "csv header only": (b"name,city\n", "people.csv", EmptyDocument, r"no data rows"),
    "binary named csv": (bytes(range(1, 256)) * 16, "t.csv", UnsupportedFileType, r"binary.*save it as UTF-8"),
    "empty html": (b"<html><head><title>t</title></head><body> </body></html>", "e.html", EmptyDocument, r"no text"),
}


@pytest.mark.parametrize("case", sorted({**BAD_INPUTS, **MORE_BAD_INPUTS}))
def test_bad_input_is_refused_with_a_useful_message(case):
    data, name, error, message = {**BAD_INPUTS, **MORE_BAD_INPUTS}[case]
    with pytest.raises(error, match=message) as err:
        parse(data, name)
    assert name in str(err.value) and isinstance(err.value, IngestError)
    status = {UnsupportedFileType: 415, UnreadableDocument: 422, EmptyDocument: 422, FileTooLarge: 413}
    assert err.value.status_code == status[error]


@pytest.mark.parametrize("suffix", parsers.supported_suffixes())
def test_empty_file_of_every_type(suffix):
    with pytest.raises(EmptyDocument, match="empty"):
        parse(b" \n", f"empty{suffix}")


def test_errors_are_ingest_errors():
    """The API turns IngestError into a 4xx; anything else would be a 500."""
    for data, name, _, _ in BAD_INPUTS.values():
        with pytest.raises(IngestError):
            parse(data, name)
