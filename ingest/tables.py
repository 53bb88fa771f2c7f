"""Tables as text: every data row becomes one line that names each value's column ("City: Zurich | Hotel nights
limit: CHF 250"), whatever format the table came from (CSV, HTML, Word, PDF, spreadsheets).

A row flattened to "Zurich | 250 | 90" answers nothing once it is retrieved or quoted without its header; with the
column names inside the row, the row is a self-contained fact that embeds, matches keywords and reads as a quote on
its own. Rows are separated by blank lines, so the chunker cuts long tables between rows (never inside one), and
rag/text.py keeps a line with ``CELL_JOIN`` in it as one sentence, so a quote is always a whole row.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pypdf import PageObject, PdfReader

from ingest.parsed import one_line

if TYPE_CHECKING:
    from pdfplumber.page import Page

logger = logging.getLogger(__name__)

# A header cell longer than this is a paragraph, so the "table" lays out text rather than tabulating values (a
# judgement, not fitted: column names run to a few words, "Hotel nights limit (CHF per night)").
MAX_HEADER_WORDS = 10
CELL_JOIN = " | "  # between the cells of a row; rag/text.py reads a line with it as one table row
ROW_JOIN = "\n\n"  # between rows: the chunker's first separator, so chunks end between rows


def column_name(index: int) -> str:
    """The name of a column without a header cell (0-based index)."""
    return f"column {index + 1}"


def column_labels(header: Sequence[str | None], width: int) -> list[str]:
    """One label per column: the header cell's text; for a cell merged over (None), the label of the cell that
    spans it; ``column_name`` where the header cell is empty or missing."""
    labels: list[str] = []
    for i in range(width):
        cell = header[i] if i < len(header) else ""
        if cell is None and labels:
            labels.append(labels[-1])
        else:
            labels.append(one_line(cell) if cell and cell.strip() else column_name(i))
    return labels


def labelled_row(cells: Iterable[tuple[str, str | None]]) -> str:
    """The one rendering of a data row: "label: value" for each ``(label, value)`` with a value, joined by
    ``CELL_JOIN``; "" for a row with no values."""
    return CELL_JOIN.join(f"{label}: {value}" for label, cell in cells if cell and (value := one_line(cell)))


def table_lines(grid: Sequence[Sequence[str | None]]) -> list[str]:
    """The lines of a table given as rows of cell texts: header first, "" for an empty cell and None for one that
    a merged cell spans (its text is in the cell where the merge starts).

    The first non-empty row is the header of every later row; a header repeated further down (a table continued
    on the next page) is not a row. A one-column table is a list, and one whose first row holds a paragraph lays
    out text (a web page's or an e-mail's layout): their cells come back as they are, one line each.
    """
    rows = [[None if cell is None else one_line(cell) for cell in row] for row in grid]
    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    width = max(len(row) for row in rows)
    header, body = rows[0], rows[1:]
    if width == 1 or any(len(cell.split()) > MAX_HEADER_WORDS for cell in header if cell):
        return [cell for row in rows for cell in row if cell]
    if not body:  # a header without rows: keep its words
        return [CELL_JOIN.join(cell for cell in header if cell)]
    labels = column_labels(header, width)
    return [line for row in body if row != header and (line := labelled_row(zip(labels, row, strict=False)))]


# --- tables in PDFs ------------------------------------------------------------------------------------------

# Path operators (a rectangle "re", a line "l") after a coordinate: a page without them draws no ruled table, so
# pdfplumber (an order of magnitude slower than pypdf) is not asked to look for one.
_DRAWS_LINES = re.compile(rb"\d\s+(?:re|l)\b")


def _draws_lines(page: PageObject) -> bool:
    """Whether a page's content stream draws rectangles or lines, the ruling a table finder needs."""
    contents = page.get_contents()
    return contents is not None and _DRAWS_LINES.search(contents.get_data()) is not None


def pdf_table_texts(data: bytes, reader: PdfReader, pages: Sequence[int]) -> dict[int, str]:
    """The text of each of ``pages`` (0-based) that has ruled tables, with each table rendered as labelled rows
    where it stands on the page and its words left out of the text around it; pages without tables are left out.

    pdfplumber's default ("lines") strategy finds tables drawn with ruling lines or cell borders; tables laid out
    by white space alone stay text, since guessing them makes tables out of ordinary columns of text. A page
    pdfplumber cannot read keeps pypdf's text: tables are an improvement, not a condition of indexing.
    """
    try:
        ruled = [number for number in pages if _draws_lines(reader.pages[number])]
    except Exception:  # pypdf read these pages' text already; a content stream it cannot decode has no table
        logger.warning("could not look for tables in a PDF's drawing operators", exc_info=True)
        return {}
    if not ruled:
        return {}
    import pdfplumber  # here: loading pdfminer costs time that PDFs without ruled tables need not pay

    texts: dict[int, str] = {}
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for number in ruled:
                page = pdf.pages[number]
                if text := _page_with_tables(page):
                    texts[number] = text
                page.close()  # frees the page's parsed objects: a long PDF is read page by page
    except Exception:  # pdfminer raises many types on what pypdf tolerated; keep the text pypdf read
        logger.warning("pdfplumber could not read tables of a PDF; its text is indexed without them", exc_info=True)
    return texts


def _page_with_tables(page: Page) -> str | None:
    """The page's text with each table's rows where the table stands (text beside a table follows its rows), or
    None when the page has no table."""
    tables = sorted(page.find_tables(), key=lambda table: table.bbox[1])
    if not tables:
        return None
    boxes = [table.bbox for table in tables]
    outside = page.filter(lambda obj: not any(_inside(obj, box) for box in boxes))
    parts: list[str] = []
    top = 0.0
    for table in tables:
        _, table_top, _, table_bottom = table.bbox
        parts.append(_band_text(outside, top, table_top))
        grid = [[cell or "" for cell in row] for row in table.extract()]
        parts.append(ROW_JOIN.join(table_lines(grid)))
        parts.append(_band_text(outside, table_top, table_bottom))
        top = max(top, table_bottom)
    parts.append(_band_text(outside, top, float(page.height)))
    return ROW_JOIN.join(part for part in parts if part)


def _centre_y(obj: dict[str, Any]) -> float:
    return (float(obj["top"]) + float(obj["bottom"])) / 2


def _inside(obj: dict[str, Any], box: tuple[float, float, float, float]) -> bool:
    """Whether a character's centre lies in a table's box (lines and rects carry no words and are kept)."""
    if obj.get("object_type") != "char":
        return False
    x = (float(obj["x0"]) + float(obj["x1"])) / 2
    return box[0] <= x <= box[2] and box[1] <= _centre_y(obj) <= box[3]


def _band_text(page: Page, top: float, bottom: float) -> str:
    """The text of the page's characters whose centre lies between ``top`` and ``bottom``."""
    if bottom <= top:
        return ""
    band = page.filter(lambda obj: obj.get("object_type") != "char" or top <= _centre_y(obj) < bottom)
    return str(band.extract_text() or "").strip()
