"""Spreadsheets (.xlsx, .ods) as text: a ``# Sheet`` heading per sheet and one labelled line per row
(ingest/tables.py), each row a ``Region`` whose location is its sheet and cell range ("'Travel limits'!A5:D5"), so a
citation says where in the workbook the quoted row is.

- The header is the first row with two or more values when all of them are text; a first row with a number, date
  or truth value in it is data, and every column is then named by its letter ("column B: 250"), as is a column
  the header leaves empty (so a header of years typed as numbers is read as data: a known limit). Up to three rows
  with a single value above the header (a sheet's title, a note) become ``##`` headings, so every chunk of the
  sheet's rows carries them in its heading path; a sheet of one column is a header and its values.
- Values are the ones the workbook shows: a formula's cached result (as the program that saved the file computed
  it; a formula never calculated has none and is left out), dates as ISO dates, percentages as percentages.
- Empty rows and cells are skipped; beyond ``MAX_CELLS`` values (counted before ODF's repeated rows and cells are
  expanded), or in .xlsx ``MAX_GRID`` cells scanned (empty ones included), the upload is refused with 413 rather
  than tying up a worker.

Readers: openpyxl in read-only mode streams .xlsx rows. For .ods, content.xml is streamed with lxml: python-calamine
(well kept, and fast) expands ODF's repeated rows and columns eagerly as it opens the file, so a 1 KB upload that
declares a million repeated rows of 10 cells took 6 s and 1.2 GB (100,000 rows of 1,000: over 6 GB), and odfpy
(last release 2020) builds the whole document in memory; reading the table markup ourselves lets repeated empty
cells cost nothing and caps the rest, and gives the text each cell displays (its own number and date format).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openpyxl
from lxml import etree
from openpyxl.utils import get_column_letter

from ingest.errors import FileTooLarge
from ingest.parsed import ParsedDocument, Region, check_zip, damaged_package, heading_line, one_line
from ingest.tables import CELL_JOIN, ROW_JOIN, labelled_row
from rag.media import FILE_TYPES

# Judgements, not fitted: 200,000 values is a large workbook (10,000 rows of 20 columns) that still indexes in
# minutes on a small CPU; the grid bound stops sparse sheets whose few values sit a million rows apart.
MAX_CELLS = 200_000
MAX_GRID = 5_000_000
_CAPTION_ROWS = 3  # at most this many single-value rows above a header are taken for its title


@dataclass(frozen=True)
class _Cell:
    column: int  # 1-based
    text: str
    is_text: bool  # a string value (so it may name a column), not a number, date or truth value


_Row = tuple[int, list[_Cell]]  # 1-based row number, its non-empty cells in column order


class _Budget:
    """Counts what a workbook costs to read, so one limit holds across all its sheets."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cells = 0
        self.grid = 0

    def scan(self, positions: int) -> None:
        self.grid += positions
        if self.grid > MAX_GRID:
            raise FileTooLarge(
                f"{self.name} spans more than {MAX_GRID} cells (empty ones included); delete the unused rows and "
                "columns, or split the workbook, and upload it again"
            )

    def take(self, values: int) -> None:
        self.cells += values
        if self.cells > MAX_CELLS:
            raise FileTooLarge(
                f"{self.name} holds more than {MAX_CELLS} non-empty cells, the limit for one workbook; split it "
                "into smaller workbooks and upload them one by one"
            )


class _Writer:
    """The parsed text and its regions, built sheet by sheet."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.regions: list[Region] = []
        self._offset = 0

    def add(self, text: str, location: str | None = None) -> None:
        if self.parts:
            self._offset += len(ROW_JOIN)
        self.parts.append(text)
        if location is not None:
            self.regions.append(Region(self._offset, self._offset + len(text), location=location))
        self._offset += len(text)


def _sheet_ref(sheet: str) -> str:
    """The sheet as a formula names it: quoted when it holds anything but letters, digits and underscores."""
    if sheet.replace("_", "").isalnum():
        return sheet
    return "'" + sheet.replace("'", "''") + "'"


class _SheetWriter:
    """One sheet's heading, titles and labelled rows, once its header is decided (``begin``)."""

    def __init__(self, out: _Writer, sheet: str) -> None:
        self.out = out
        self.sheet = sheet
        self.ref = _sheet_ref(sheet)
        self.labels: dict[int, str] | None = None  # column -> header text; None until the header is decided
        self.header: list[str] = []
        self.rows = 0

    def begin(self, titles: list[_Row], first: _Row) -> None:
        self.out.add(heading_line(1, one_line(self.sheet) or "Sheet"))
        for _, cells in titles:
            self.out.add(heading_line(2, cells[0].text))
        if all(cell.is_text for cell in first[1]):
            self.labels = {cell.column: cell.text for cell in first[1]}
            self.header = [cell.text for cell in first[1]]
        else:
            self.labels = {}
            self.row(first)

    def row(self, row: _Row) -> None:
        number, cells = row
        if self.header and [cell.text for cell in cells] == self.header:
            return  # the header repeated (a printed sheet's header on every page)
        labels = self.labels or {}
        first, last = cells[0].column, cells[-1].column
        if labels:
            first, last = min(first, min(labels)), max(last, max(labels))
        location = f"{self.ref}!{get_column_letter(first)}{number}:{get_column_letter(last)}{number}"
        line = labelled_row((labels.get(c.column) or f"column {get_column_letter(c.column)}", c.text) for c in cells)
        self.out.add(line, location)
        self.rows += 1

    def end(self) -> None:
        if self.header and not self.rows:  # a header without rows: keep its words
            self.out.add(CELL_JOIN.join(self.header))


def _write_sheet(out: _Writer, sheet: str, rows: Iterator[_Row]) -> None:
    """Decide the sheet's header (see the module docstring) and write its rows."""
    writer = _SheetWriter(out, sheet)
    pending: list[_Row] = []  # single-value rows before the header, which may be its title
    for row in rows:
        if writer.labels is not None:
            writer.row(row)
        elif len(row[1]) == 1 and len(pending) < _CAPTION_ROWS:
            pending.append(row)
        elif len(row[1]) > 1:
            writer.begin(pending, row)
        else:  # a one-column sheet: its first value names the column
            writer.begin([], pending[0])
            for later in [*pending[1:], row]:
                writer.row(later)
    if writer.labels is None and pending:
        writer.begin([], pending[0])
        for later in pending[1:]:
            writer.row(later)
    writer.end()


# --- .xlsx ---------------------------------------------------------------------------------------------------


def _xlsx_text(value: Any, number_format: str) -> str:
    """A cell's value as the workbook would show it, near enough: ISO dates, percentages, no float noise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, int | float):
        if "%" in number_format:
            return f"{value * 100:.12g}%"
        return f"{value:.15g}"
    return one_line(str(value))


def _xlsx_rows(sheet: Any, budget: _Budget) -> Iterator[_Row]:
    sheet.reset_dimensions()  # a stated size of XFD1048576 would pad every row to 16,384 cells
    for number, row in enumerate(sheet.iter_rows(), start=1):
        budget.scan(len(row) + 1)
        cells = [
            _Cell(column, text, isinstance(cell.value, str))
            for column, cell in enumerate(row, start=1)
            if cell.value is not None and (text := _xlsx_text(cell.value, getattr(cell, "number_format", "")))
        ]
        if cells:
            budget.take(len(cells))
            yield number, cells


def parse_xlsx(data: bytes, name: str) -> ParsedDocument:
    check_zip(
        data,
        name,
        required="xl/workbook.xml",
        kind="Excel .xlsx workbook",
        resave="older .xls files must be saved as .xlsx first, and a password-protected workbook without its password",
    )
    budget, out = _Budget(name), _Writer()
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            for sheet in workbook.worksheets:
                _write_sheet(out, sheet.title, _xlsx_rows(sheet, budget))
        finally:
            workbook.close()
    except FileTooLarge:
        raise
    except Exception as exc:  # openpyxl and its XML parser raise many types on a damaged package
        raise damaged_package(name, "an Excel workbook", exc, apps="Excel or LibreOffice", suffix=".xlsx") from exc
    return ParsedDocument(
        text=ROW_JOIN.join(out.parts), media_type=FILE_TYPES["xlsx"], markdown_headings=True, regions=out.regions
    )


# --- .ods ----------------------------------------------------------------------------------------------------

_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT_P = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}p"
_CELLS = (f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell")


def _repeat(element: Any, attribute: str) -> int:
    try:
        return max(1, int(element.get(f"{_TABLE}{attribute}", "1")))
    except ValueError:
        return 1


def _ods_cell_text(cell: Any) -> str:
    """The text the cell displays (its paragraphs; not its comments), or its bare value when it shows none."""
    if cell.tag != _CELLS[0]:
        return ""  # merged over by the cell before it
    shown = " ".join("".join(p.itertext()) for p in cell.iterchildren(_TEXT_P))
    if shown.strip():
        return one_line(shown)
    for attribute in ("value", "date-value", "time-value", "boolean-value", "string-value"):
        if value := cell.get(f"{_OFFICE}{attribute}"):
            return one_line(value)
    return ""


def _ods_row(row: Any, budget: _Budget) -> list[_Cell]:
    cells: list[_Cell] = []
    column = 1
    for cell in row.iterchildren(*_CELLS):
        repeat = _repeat(cell, "number-columns-repeated")
        if text := _ods_cell_text(cell):
            budget.take(repeat)  # before expanding: a cell may claim to repeat a billion times
            is_text = cell.get(f"{_OFFICE}value-type", "string") == "string"
            cells.extend(_Cell(column + i, text, is_text) for i in range(repeat))
        column += repeat
    return cells


def _ods_sheets(stream: Any, budget: _Budget) -> Iterator[tuple[str, Iterator[_Row]]]:
    """``(sheet name, its rows)`` in order, streamed: each row is dropped from memory once read."""
    events = etree.iterparse(
        stream, events=("start", "end"), tag=(f"{_TABLE}table", f"{_TABLE}table-row"), resolve_entities=False
    )
    depth = 0  # tables nested in a cell are read as part of it, not as sheets

    def rows() -> Iterator[_Row]:
        nonlocal depth
        number = 1
        for event, element in events:
            if element.tag == f"{_TABLE}table":
                depth += 1 if event == "start" else -1
                if depth == 0:
                    return
                continue
            if event != "end" or depth != 1:
                continue
            repeat = _repeat(element, "number-rows-repeated")
            cells = _ods_row(element, budget)
            if cells:  # repeated empty rows (a sheet padded to its last row) cost nothing
                budget.take(len(cells) * (repeat - 1))
                for i in range(repeat):
                    yield number + i, cells
            number += repeat
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]

    for event, element in events:
        if event == "start" and element.tag == f"{_TABLE}table":
            depth = 1
            yield element.get(f"{_TABLE}name") or "Sheet", rows()


def parse_ods(data: bytes, name: str) -> ParsedDocument:
    check_zip(
        data,
        name,
        required="content.xml",
        kind="OpenDocument .ods spreadsheet",
        resave="save it from LibreOffice Calc as .ods (or as .xlsx) and upload it again",
    )
    budget, out = _Budget(name), _Writer()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open("content.xml") as stream:
            for sheet, rows in _ods_sheets(stream, budget):
                _write_sheet(out, sheet, rows)
    except FileTooLarge:
        raise
    except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise damaged_package(name, "an OpenDocument spreadsheet", exc, apps="LibreOffice", suffix=".ods") from exc
    return ParsedDocument(
        text=ROW_JOIN.join(out.parts), media_type=FILE_TYPES["ods"], markdown_headings=True, regions=out.regions
    )
