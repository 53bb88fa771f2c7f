"""Tables keep their header (#17): every row of a CSV, HTML, Word, PDF, .xlsx or .ods table is one line that names
each value's column, one sentence when quoted, and a chunk boundary never falls inside it; spreadsheet rows are
cited to their sheet and cell range, PDF rows to their page.

Every file is built here: openpyxl writes the workbooks, odfpy the OpenDocument spreadsheets (and a hand-written
content.xml the malicious ones), python-docx the Word table, fpdf2 the PDF with a ruled table (reportlab and
LibreOffice are not installed).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time
import zipfile

import openpyxl
import pytest
from fpdf import FPDF
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import CoveredTableCell, Table, TableCell, TableRow
from odf.text import P

from ingest import spreadsheets
from ingest.chunking import Chunker
from ingest.errors import FileTooLarge, UnreadableDocument, UnsupportedFileType
from ingest.parsers import parse
from ingest.tables import table_lines
from rag.text import split_sentences
from rag.types import RetrievedChunk
from tests.fakes import fake_services
from tests.formats import make_csv, make_docx, make_html, make_ods, make_xlsx, make_zip, ods_cell

HEADER = ["City", "Hotel nights limit", "Meals per day", "Taxi from airport"]
ROWS = [
    ["Zurich", "CHF 250", "CHF 90", "CHF 60"],
    ["Geneva", "CHF 240", "CHF 85", "CHF 55"],
    ["Bern", "CHF 200", "CHF 70", "CHF 40"],
    ["Lugano", "CHF 180", "CHF 65", "CHF 45"],
]
INTRO = "Employees book every trip through the travel portal and keep all receipts for the expense claim."
AFTER = "Anything above these limits needs written approval from your manager before the trip."
OTHER_DOC = b"# Canteen\n\nThe canteen serves soup on Mondays. Coffee is free before nine."


def labelled(row: list[str]) -> str:
    return " | ".join(f"{name}: {value}" for name, value in zip(HEADER, row, strict=True))


# --- files of every format, holding the same table ---------------------------------------------------------


def sheet_xlsx(rows: list[list[object]], title: str = "Travel limits") -> bytes:
    """One sheet, as openpyxl writes it."""
    return make_xlsx({title: rows})


def travel_xlsx() -> bytes:
    """A title row and a blank row above the header, as people make them: the header is row 3, Zurich row 4."""
    return sheet_xlsx([["Travel expense limits 2026"], [], HEADER, *ROWS])


def make_table_pdf() -> bytes:
    """Page 1: prose; page 2: a paragraph, a table drawn with cell borders, a paragraph."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, " ".join([INTRO] * 6))
    pdf.add_page()
    pdf.multi_cell(0, 6, "Limits per city are listed below; amounts are per night and per person.")
    with pdf.table() as table:
        for values in [HEADER, *ROWS]:
            row = table.row()
            for value in values:
                row.cell(value)
    pdf.multi_cell(0, 6, AFTER)
    return bytes(pdf.output())


def sample(fmt: str) -> tuple[bytes, str]:
    if fmt == "csv":
        return make_csv(HEADER, ROWS), "limits.csv"
    if fmt == "html":
        cells = "".join(f"<th>{h}</th>" for h in HEADER)
        body = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in ROWS)
        html = f"<h1>Travel</h1><p>{INTRO}</p><table><caption>Limits</caption><thead><tr>{cells}</tr></thead>"
        return make_html(f"{html}<tbody>{body}</tbody></table><p>{AFTER}</p>"), "limits.html"
    if fmt == "docx":
        blocks = [("heading1", "Travel"), ("paragraph", INTRO), ("table", [HEADER, *ROWS]), ("paragraph", AFTER)]
        return make_docx(blocks), "limits.docx"
    if fmt == "pdf":
        return make_table_pdf(), "limits.pdf"
    if fmt == "xlsx":
        return travel_xlsx(), "limits.xlsx"
    return make_ods({"Travel limits": [["Travel expense limits 2026"], [], HEADER, *ROWS]}), "limits.ods"


FORMATS = ["csv", "html", "docx", "pdf", "xlsx", "ods"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_cell_is_in_its_row_next_to_its_column_name(fmt):
    data, name = sample(fmt)
    lines = parse(data, name).text.split("\n\n")
    for row in ROWS:
        assert labelled(row) in lines, f"{row[0]}'s row is not one labelled line in {name}"


@pytest.mark.parametrize("fmt", ["html", "docx", "pdf"])
def test_text_around_a_table_stays_in_order_and_the_table_words_appear_once(fmt):
    data, name = sample(fmt)
    text = parse(data, name).text
    assert text.count("Geneva") == 1 and text.count("CHF 240") == 1
    assert text.index(INTRO[:40]) < text.index(labelled(ROWS[0])) < text.index(labelled(ROWS[-1])) < text.index(AFTER)


# --- shared rendering ----------------------------------------------------------------------------------------


def test_table_lines_header_merged_cells_and_repeated_headers():
    grid = [["", ""], ["Item", "Owner", None], ["Laptop", "IT desk", ""], ["Item", "Owner", None], ["", "", "x"]]
    # The header spans a merged cell (None) into column 3; the header repeated on a later page is not a row.
    assert table_lines(grid) == ["Item: Laptop | Owner: IT desk", "Owner: x"]
    assert table_lines([["Notes"], ["Bring a pen."], ["Be on time."]]) == ["Notes", "Bring a pen.", "Be on time."]
    assert table_lines([["City", "Limit"]]) == ["City | Limit"]
    assert table_lines([["a", ""], ["1", "2"]]) == ["a: 1 | column 2: 2"]


def test_html_row_header_table_is_name_value_pairs():
    html = make_html("<table><tr><th>Owner</th><td>Anna</td></tr><tr><th>Review</th><td>Every May</td></tr></table>")
    assert parse(html, "facts.html").text == "Owner: Anna\n\nReview: Every May"


def test_html_colspan_labels_every_column_it_spans():
    html = make_html(
        "<table><tr><th colspan='2'>Limit</th><th>City</th></tr><tr><td>CHF</td><td>250</td><td>Zurich</td></tr>"
        "<tr><td colspan='2'>none</td><td>Bern</td></tr></table>"
    )
    assert parse(html, "spans.html").text == "Limit: CHF | Limit: 250 | City: Zurich\n\nLimit: none | City: Bern"


# --- a row is one sentence, and chunks end between rows ------------------------------------------------------


def _chunk(text: str, source: str = "limits.xlsx", regions=()) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id="d:1:0", document_id="d", version=1, source=source, chunk_index=1, start=100, end=100 + len(text),
        heading="Travel limits", regions=list(regions), text=text, score=0.5, rank=1,
    )  # fmt: skip


def test_a_row_with_full_stops_and_semicolons_in_its_cells_is_one_sentence_without_a_header_lead():
    rows = [
        "City: Zurich | Hotel nights limit: CHF 250. Max. 3 nights. Receipts required | Meals per day: CHF 90",
        "City: 北京 | 说明: 每晚限额三百元。需要发票；不含早餐 | Meals per day: CHF 70",
        "City: Bern | Hotel nights limit: CHF 200",
    ]
    sentences = split_sentences(_chunk("\n\n".join(rows)))
    assert [s.text for s in sentences] == rows
    assert all(s.lead is None and s.boilerplate is None for s in sentences)


def test_markdown_table_rows_still_take_their_header_as_lead():
    text = "| City | Limit |\n| Zurich | CHF 250. Max. 3 nights |"
    sentences = split_sentences(_chunk(text, source="notes.md"))
    assert [s.text for s in sentences][-1] == "| Zurich | CHF 250. Max. 3 nights |"
    assert sentences[-1].lead == "| City | Limit |"


def test_a_sentence_gets_its_own_region_location_else_the_chunks():
    text = "City: Zurich | Limit: CHF 250\n\nCity: Bern | Limit: CHF 200"
    regions = [(100, 129, "Travel!A4:B4"), (131, 158, "Travel!A5:B5")]
    chunk = _chunk(text, regions=regions).model_copy(update={"location": "Travel!A4:B5"})
    assert [s.location for s in split_sentences(chunk)] == ["Travel!A4:B4", "Travel!A5:B5"]
    assert [s.location for s in split_sentences(chunk.model_copy(update={"regions": []}))] == ["Travel!A4:B5"] * 2


def test_a_long_sheet_is_chunked_between_rows_under_its_heading_path():
    rows = [[f"City {i}", f"CHF {100 + i}", f"Note {i}. Receipts required."] for i in range(60)]
    parsed = parse(sheet_xlsx([["Limits 2026"], ["City", "Limit", "Note"], *rows]), "long.xlsx")
    line_set = set(parsed.text.split("\n\n"))
    chunks = Chunker(lambda text: len(text.split()), chunk_size=40, chunk_overlap=5).split(parsed)
    assert len(chunks) > 5
    for chunk in chunks:
        assert all(line in line_set for line in chunk.text.split("\n\n")), "a chunk boundary fell inside a row"
        assert chunk.heading == "Travel limits > Limits 2026"
        first, last = chunk.regions[0][2], chunk.regions[-1][2]
        assert chunk.location == f"'Travel limits'!{first.split('!')[1].split(':')[0]}:{last.split(':')[-1]}"


# --- spreadsheets --------------------------------------------------------------------------------------------


def test_xlsx_sheets_titles_header_values_and_cell_ranges():
    parsed = parse(travel_xlsx(), "limits.xlsx")
    assert parsed.media_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert parsed.markdown_headings
    assert parsed.text.startswith(f"# Travel limits\n\n## Travel expense limits 2026\n\n{labelled(ROWS[0])}\n\n")
    at = parsed.text.index("Zurich")
    assert parsed.provenance(at, at + 6)[0] == "'Travel limits'!A4:D4"
    lugano = parsed.text.index("Lugano")
    assert parsed.provenance(at, lugano)[0] == "'Travel limits'!A4:D7"


def test_xlsx_values_are_rendered_as_shown_and_empty_rows_skipped():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Rates"
    sheet.append(["Item", "Amount", "Since", "Share", "Approved", "At"])
    sheet.append(["Hotel", 250, dt.datetime(2026, 1, 1), 0.15, True, dt.datetime(2026, 1, 1, 9, 30)])
    sheet["D2"].number_format = "0%"
    sheet.append([])
    sheet.append(["Meals", 85.5, dt.date(2026, 3, 1), 0.1 + 0.2])
    sheet.append(["Total", "=B2+B4"])
    out = io.BytesIO()
    workbook.save(out)
    # openpyxl writes a formula without its result; put in the cached value a spreadsheet program saves with it.
    data = _with_cached_value(out.getvalue(), "B2+B4", "335.5")
    lines = parse(data, "rates.xlsx").text.split("\n\n")
    assert lines == [
        "# Rates",
        "Item: Hotel | Amount: 250 | Since: 2026-01-01 | Share: 15% | Approved: TRUE | At: 2026-01-01 09:30",
        "Item: Meals | Amount: 85.5 | Since: 2026-03-01 | Share: 0.3",
        "Item: Total | Amount: 335.5",
    ]


def _with_cached_value(xlsx: bytes, formula: str, value: str) -> bytes:
    members = {}
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        for info in archive.infolist():
            members[info.filename] = archive.read(info)
    sheet = members["xl/worksheets/sheet1.xml"].decode()
    sheet, count = re.subn(rf"<f>{re.escape(formula)}</f><v\s*/?>(?:</v>)?", f"<f>{formula}</f><v>{value}</v>", sheet)
    assert count == 1, sheet
    members["xl/worksheets/sheet1.xml"] = sheet.encode()
    return make_zip(members)


def test_sheet_without_a_header_names_columns_by_letter_and_a_one_column_sheet_by_its_first_value():
    data = make_xlsx({"Years": [[2026, "CHF 250"], [2027, "CHF 260"]], "Notes": [["Rule"], ["Be on time."]]})
    parsed = parse(data, "years.xlsx")
    assert parsed.text == (
        "# Years\n\ncolumn A: 2026 | column B: CHF 250\n\ncolumn A: 2027 | column B: CHF 260"
        "\n\n# Notes\n\nRule: Be on time."
    )
    assert [r.location for r in parsed.regions] == ["Years!A1:B1", "Years!A2:B2", "Notes!A2:A2"]


def test_ods_shows_display_text_expands_repeats_and_skips_covered_cells():
    document = OpenDocumentSpreadsheet()
    table = Table(name="Rates")
    header = TableRow()
    for name in ("Item", "Share", "Since"):
        header.addElement(ods_cell(name))
    table.addElement(header)
    row = TableRow(numberrowsrepeated=2)
    row.addElement(ods_cell("Hotel"))
    share = TableCell(valuetype="percentage", value=0.15)
    share.addElement(P(text="15%"))
    row.addElement(share)
    row.addElement(CoveredTableCell())
    table.addElement(row)
    table.addElement(TableRow(numberrowsrepeated=1_000_000))  # a sheet padded to its last row: free
    document.spreadsheet.addElement(table)
    out = io.BytesIO()
    document.write(out)
    started = time.perf_counter()
    parsed = parse(out.getvalue(), "rates.ods")
    assert time.perf_counter() - started < 2
    assert parsed.media_type == "application/vnd.oasis.opendocument.spreadsheet"
    assert parsed.text == "# Rates\n\nItem: Hotel | Share: 15%\n\nItem: Hotel | Share: 15%"
    assert [r.location for r in parsed.regions] == ["Rates!A2:C2", "Rates!A3:C3"]


# --- limits and bad input ------------------------------------------------------------------------------------


def _ods_content(rows_xml: str) -> bytes:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
        f'<table:table table:name="S">{rows_xml}</table:table></office:spreadsheet></office:body>'
        "</office:document-content>"
    )
    return make_zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": content.encode()})


def test_ods_that_declares_a_billion_cells_is_refused_before_they_exist():
    cell = '<table:table-cell table:number-columns-repeated="1000"><text:p>x</text:p></table:table-cell>'
    bomb = _ods_content(f'<table:table-row table:number-rows-repeated="1000000">{cell}</table:table-row>')
    assert len(bomb) < 2000
    started = time.perf_counter()
    with pytest.raises(FileTooLarge, match=r"more than 200000 non-empty cells.*split it") as err:
        parse(bomb, "bomb.ods")
    assert err.value.status_code == 413
    assert time.perf_counter() - started < 2


def test_workbook_over_the_cell_limit_is_refused(monkeypatch):
    monkeypatch.setattr(spreadsheets, "MAX_CELLS", 10)
    with pytest.raises(FileTooLarge, match="more than 10 non-empty cells") as err:
        parse(travel_xlsx(), "limits.xlsx")
    assert err.value.status_code == 413


def test_xlsx_whose_rows_sit_far_apart_is_refused_by_the_grid_limit(monkeypatch):
    monkeypatch.setattr(spreadsheets, "MAX_GRID", 1000)
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "top"
    workbook.active["B5000"] = "far below"
    out = io.BytesIO()
    workbook.save(out)
    with pytest.raises(FileTooLarge, match="spans more than 1000 cells"):
        parse(out.getvalue(), "sparse.xlsx")


@pytest.mark.parametrize(
    ("data", "name", "error", "message"),
    [
        (b"\xd0\xcf\x11\xe0 an old binary workbook", "old.xlsx", UnsupportedFileType, r"not a zip.*\.xls files"),
        (make_zip({"word/document.xml": b"<x/>"}), "wrong.xlsx", UnsupportedFileType, "has no xl/workbook.xml"),
        (make_zip({"xl/workbook.xml": b"<not really"}), "broken.xlsx", UnreadableDocument, "save it as .xlsx again"),
        (make_zip({"mimetype": b"x"}), "wrong.ods", UnsupportedFileType, "has no content.xml"),
        (_ods_content("<table:table-row><unclosed>"), "broken.ods", UnreadableDocument, "save it as .ods again"),
    ],
    ids=["xls-binary", "docx-as-xlsx", "damaged-xlsx", "no-content", "damaged-ods"],
)
def test_bad_spreadsheets_get_a_clear_4xx(data, name, error, message):
    with pytest.raises(error, match=message) as err:
        parse(data, name)
    assert 400 <= err.value.status_code < 500


def test_ods_entities_are_not_expanded():
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
        '<table:table table:name="S"><table:table-row><table:table-cell><text:p>&b;</text:p></table:table-cell>'
        "</table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"
    )
    data = make_zip({"content.xml": laughs.encode()})
    try:
        text = parse(data, "laughs.ods").text
    except UnreadableDocument:
        return
    assert "aaaaaaaaaa" not in text


# --- through the indexer and the answer pipeline -------------------------------------------------------------

EXPECTED_PLACE = {
    "csv": (None, None),
    "html": (None, None),
    "docx": (None, None),
    "pdf": (2, None),
    "xlsx": (None, "'Travel limits'!A4:D4"),
    "ods": (None, "'Travel limits'!A4:D4"),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_fact_only_one_row_holds_is_answered_and_cited_to_that_row(tmp_path, fmt):
    data, name = sample(fmt)
    services = fake_services(tmp_path / "data")
    services.indexer.ingest_bytes(data, name)
    services.indexer.ingest_bytes(OTHER_DOC, "canteen.md")  # another document, so retrieval has to choose
    answer = services.pipeline.answer("What is the hotel nights limit in Zurich?")
    assert answer.answer_type not in ("abstained", "no_documents"), answer.answer
    citation = answer.citations[0]
    assert citation.source == name
    assert citation.quote == labelled(ROWS[0])  # the whole row, header names and all
    assert (citation.page, citation.location) == EXPECTED_PLACE[fmt]
    assert parse(data, name).text[citation.quote_start : citation.quote_end] == citation.quote


@pytest.mark.integration
def test_real_embedder_finds_the_row_in_a_workbook(tmp_path, model_cache):
    """The bundled MiniLM, not hashed words: the question shares few words with the row it must find."""
    from rag.config import Settings
    from rag.models.embedder import SentenceEmbedder
    from service import build
    from tests.fakes import FakeLLM

    embedder = SentenceEmbedder.load("default", "openvino", model_cache)
    settings = Settings(data_dir=tmp_path / "data", auth=False)
    services = build(settings, embedder=embedder, llm=FakeLLM(), answerability=None)
    rows = [HEADER, *ROWS] + [[f"Town {i}", f"CHF {150 + i}", f"CHF {50 + i}", f"CHF {30 + i}"] for i in range(40)]
    services.indexer.ingest_bytes(sheet_xlsx([["Travel expense limits 2026"], *rows]), "limits.xlsx")
    services.indexer.ingest_bytes(OTHER_DOC, "canteen.md")
    answer = services.pipeline.answer("How much may I spend on a hotel night in Geneva?")
    citation = answer.citations[0]
    assert citation.quote == labelled(ROWS[1])
    assert citation.location == "'Travel limits'!A4:D4"


def test_layout_tables_are_read_as_text_and_their_nested_tables_as_tables():
    paragraph = "Welcome to the quarterly newsletter, with everything that changed in the travel rules this spring."
    data_table = "<table><tr><th>City</th><th>Limit</th></tr><tr><td>Zurich</td><td>CHF 250</td></tr></table>"
    html = make_html(f"<table><tr><td>{paragraph}</td><td>Menu</td></tr><tr><td>{data_table}</td></tr></table>")
    assert parse(html, "mail.html").text == f"{paragraph}\n\nMenu\n\nCity: Zurich | Limit: CHF 250"
    assert table_lines([[paragraph, "x"], ["a", "b"]]) == [paragraph, "x", "a", "b"]
