"""File bytes to plain text, with the file type decided from the content as well as the name.

Every parser returns the exact text that chunk offsets refer to, so ``parsed.text[start:end]`` is a chunk.
Structured formats (HTML, Word) are rendered as markdown-style text: headings become ``#`` lines and blocks are
separated by blank lines, so the markdown splitter and heading paths work on them as on a ``.md`` file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import PurePath
from typing import Any

import docx
from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf import PdfReader
from pypdf.errors import DependencyError

from ingest import encoding, mail, ocr, office
from ingest.errors import EmptyDocument, FileTooLarge, UnreadableDocument, UnsupportedFileType
from ingest.parsed import (
    MAX_PDF_PAGES,
    MAX_PDF_TEXT_CHARS,
    PAGE_JOIN,
    PDF_MAGIC,
    ZIP_MAGIC,
    PageSpan,
    ParsedDocument,
    Region,
    check_zip,
    damaged_package,
    heading_line,
    one_line,
)
from ingest.spreadsheets import parse_ods, parse_xlsx
from ingest.tables import ROW_JOIN, column_labels, labelled_row, pdf_table_texts, table_lines
from rag.media import FILE_TYPES

# --- plain text --------------------------------------------------------------------------------------------


def _decode_text(data: bytes, name: str, *, html: bool = False) -> str:
    """Text formats share one decoder (ingest/encoding.py: byte order marks, UTF-8, an HTML page's declared
    charset, detection of GBK, Big5, Shift-JIS, Windows-1252, ...), so binary content under a text name is
    refused the same way everywhere."""
    marked = encoding.bom_encoding(data)
    head = data[marked[1] :] if marked else data  # a PDF behind a byte order mark is still a PDF
    if head.startswith(PDF_MAGIC):
        raise UnsupportedFileType(
            f"{name} looks like a PDF (it starts with %PDF-), not a text file; name it with .pdf and upload it again"
        )
    if head.startswith(ZIP_MAGIC):
        raise UnsupportedFileType(
            f"{name} looks like a zip archive (such as a .docx file), not a text file; "
            "if it is a Word document, name it with .docx and upload it again"
        )
    if b"\x00" in data and marked is None:  # UTF-16 and UTF-32 text holds NUL bytes
        raise UnsupportedFileType(
            f"{name} looks like a binary file (it contains NUL bytes), not text; "
            f"upload one of: {', '.join(supported_suffixes())}"
        )
    text = encoding.decode(data, html=html)
    if text is None:
        raise UnsupportedFileType(
            f"{name} looks like a binary file: its bytes are not text in UTF-8, UTF-16 or any legacy encoding "
            f"recognised here; if it is text, save it as UTF-8 and upload it again, else upload one of: "
            f"{', '.join(supported_suffixes())}"
        )
    # Normalise line endings so offsets do not depend on the platform that wrote the file.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_text(data: bytes, name: str) -> ParsedDocument:
    return ParsedDocument(text=_decode_text(data, name), media_type=FILE_TYPES["txt"])


def parse_markdown(data: bytes, name: str) -> ParsedDocument:
    return ParsedDocument(text=_decode_text(data, name), media_type=FILE_TYPES["md"], markdown_headings=True)


# --- HTML --------------------------------------------------------------------------------------------------

# Page furniture, not content: indexing it would make every page of a site match the same questions.
_HTML_DROP = frozenset({"head", "script", "style", "nav", "footer", "noscript", "template", "iframe", "svg"})
_HTML_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Elements that end the running paragraph; anything else (a, b, span, ...) is inline and joins its neighbours.
_HTML_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details", "dialog", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "form", "header", "hgroup", "hr", "html", "li", "main",
        "ol", "p", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "ul",
    }
)  # fmt: skip


# Markers pushed after an element's children, so its block is closed once they are done.
_BLOCK_END = object()
_ITEM_END = object()


class _HtmlRenderer:
    """Walks the parsed tree once, collecting blocks of text in document order."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self._inline: list[str] = []
        self._prefix = ""  # "- " while inside a list item, until its text is emitted

    def render(self, root: Tag) -> list[str]:
        # An explicit stack rather than recursion: uploaded HTML can nest deeper than Python's recursion limit.
        stack: list[object] = [root]
        while stack:
            node = stack.pop()
            if node is _BLOCK_END or node is _ITEM_END:
                self._flush()
                if node is _ITEM_END:
                    self._prefix = ""
            elif isinstance(node, PreformattedString):  # comments, doctype, CDATA, processing instructions
                continue
            elif isinstance(node, NavigableString):
                self._inline.append(str(node))
            elif not isinstance(node, Tag) or node.name in _HTML_DROP:
                continue
            elif node.name in _HTML_HEADINGS:
                self._flush()
                if title := one_line(node.get_text(" ")):
                    self.blocks.append(heading_line(_HTML_HEADINGS[node.name], title))
            elif node.name == "table" and node.find("table") is None:  # caption, then rows labelled by the header
                self._flush()
                if (caption := node.find("caption")) and caption.find_parent("table") is node:
                    self._inline.append(caption.get_text(" "))
                    self._flush()
                self.blocks.extend(_html_table(node))
            elif node.name == "pre":  # keep code and verse line by line
                self._flush()
                if (text := node.get_text().strip("\n").rstrip()).strip():
                    self.blocks.append(text)
            else:
                if node.name in _HTML_BLOCKS:
                    self._flush()
                    if node.name == "li":
                        self._prefix = "- "
                    stack.append(_ITEM_END if node.name == "li" else _BLOCK_END)
                stack.extend(reversed(node.contents))
        self._flush()
        return self.blocks

    def _flush(self) -> None:
        text = one_line("".join(self._inline))
        self._inline = []
        if text:
            self.blocks.append(self._prefix + text)
            self._prefix = ""


def _html_table(table: Tag) -> list[str]:
    """The table's rows (not those of tables nested in its cells), labelled by its first row (ingest/tables.py);
    a table whose every row starts with a ``th`` among ``td`` cells is a list of "name: value" pairs instead."""
    grid: list[list[str | None]] = []
    keyed: list[bool] = []
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue
        cells: list[str | None] = []
        kinds: list[str] = []
        for cell in row.find_all(["td", "th"], recursive=False):
            span = cell.get("colspan")
            width = int(span) if isinstance(span, str) and span.isdigit() and 0 < int(span) <= 100 else 1
            cells += [one_line(cell.get_text(" "))] + [None] * (width - 1)
            kinds.append(cell.name)
        grid.append(cells)
        keyed.append(kinds[:1] == ["th"] and "td" in kinds)
    if grid and all(keyed):
        return [line for row in grid if (line := labelled_row([(row[0] or "", " ".join(c for c in row[1:] if c))]))]
    return table_lines(grid)


def parse_html(data: bytes, name: str) -> ParsedDocument:
    soup = BeautifulSoup(_decode_text(data, name, html=True), "lxml")
    text = "\n\n".join(_HtmlRenderer().render(soup))
    return ParsedDocument(text=text, media_type=FILE_TYPES["html"], markdown_headings=True)


# --- PDF ---------------------------------------------------------------------------------------------------


def _aes_unsupported(name: str) -> UnreadableDocument:
    """pypdf needs the optional 'cryptography' package for AES; without it, say so rather than "damaged"."""
    return UnreadableDocument(
        f"{name} is encrypted with AES, which this server cannot decrypt (the 'cryptography' package is not "
        "installed); upload a copy saved without encryption"
    )


def _decrypt_pdf(reader: PdfReader, name: str) -> None:
    """Open PDFs that are encrypted only against editing (empty user password); refuse real passwords."""
    try:
        opened = reader.decrypt("")
    except DependencyError:
        raise _aes_unsupported(name) from None
    except Exception as exc:  # e.g. NotImplementedError for non-standard security handlers
        raise UnreadableDocument(
            f"{name} is encrypted in a way that cannot be opened here ({exc}); upload a copy saved without encryption"
        ) from exc
    if not opened:
        raise UnreadableDocument(
            f"{name} is password-protected, so its text cannot be read; upload a copy saved without a password"
        )


def _pdf_page_texts(reader: PdfReader, name: str) -> list[str]:
    """Each page's text layer, stopping as soon as the file is over the limits."""
    if (count := len(reader.pages)) > MAX_PDF_PAGES:
        raise FileTooLarge(f"{name} has {count} pages; the limit is {MAX_PDF_PAGES}. Split it and upload the parts")
    texts: list[str] = []
    total = 0
    for page in reader.pages:
        texts.append(page.extract_text() or "")
        total += len(texts[-1])
        if total > MAX_PDF_TEXT_CHARS:
            raise FileTooLarge(
                f"{name} holds more than {MAX_PDF_TEXT_CHARS} characters of text (reached on page {len(texts)}); "
                "split it and upload the parts"
            )
    return texts


def parse_pdf(data: bytes, name: str) -> ParsedDocument:
    if PDF_MAGIC not in data[:1024]:
        raise UnsupportedFileType(
            f"{name} is not a PDF (it does not start with %PDF-); upload the PDF itself, or name the file for "
            f"its real type (accepted types are {', '.join(supported_suffixes())})"
        )

    def damaged(exc: Exception) -> UnreadableDocument:
        return UnreadableDocument(
            f"{name} could not be read as a PDF; it may be damaged or incomplete (truncated) "
            f"({type(exc).__name__}: {exc}). Download or export it again and upload the new copy"
        )

    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as exc:  # pypdf signals malformed input with many exception types, not one
        raise damaged(exc) from exc
    if encrypted:
        _decrypt_pdf(reader, name)
    try:
        page_texts = _pdf_page_texts(reader, name)
    except DependencyError:  # AES-128 files open with the empty password but need AES for their content
        raise _aes_unsupported(name) from None
    except FileTooLarge:
        raise
    except Exception as exc:
        raise damaged(exc) from exc

    # Pages without a text layer (scans) are read by OCR, each a region with the engine's confidence.
    scanned = ocr.read_pdf_pages(data, [i for i, raw in enumerate(page_texts) if ocr.lacks_text(raw)], name)
    # Pages with ruled tables are read again by pdfplumber, each row labelled by its header (ingest/tables.py).
    tabled = pdf_table_texts(data, reader, [i for i in range(len(page_texts)) if i not in scanned])
    parts: list[str] = []
    pages: list[PageSpan] = []
    regions: list[Region] = []
    offset = 0
    for number, raw in enumerate(page_texts, start=1):
        if parts:
            offset += len(PAGE_JOIN)
        read = scanned.get(number - 1)
        if read:
            page_text = read.text
        else:
            page_text = tabled.get(number - 1) or raw.replace("\r\n", "\n").replace("\r", "\n").strip()
        parts.append(page_text)
        pages.append(PageSpan(page=number, start=offset, end=offset + len(page_text)))
        if read and page_text:
            regions.append(Region(offset, offset + len(page_text), ocr_confidence=read.confidence))
        offset += len(page_text)
    text = PAGE_JOIN.join(parts)
    if not text.strip():
        raise EmptyDocument(f"{name} has no extractable text; {ocr.no_text_hint()}")
    return ParsedDocument(text=text, media_type=FILE_TYPES["pdf"], pages=pages, regions=regions)


# --- Word (.docx) ------------------------------------------------------------------------------------------

_DOCX_HEADING_STYLE = re.compile(r"heading\s*(\d)", re.IGNORECASE)


def _docx_heading_level(paragraph: Paragraph) -> int | None:
    """Title sits above Heading 1, so "Title > Section" heading paths come out as readers expect."""
    style = paragraph.style.name if paragraph.style is not None else None
    if style == "Title":
        return 1
    match = _DOCX_HEADING_STYLE.fullmatch(style or "")
    return int(match.group(1)) + 1 if match else None


def _docx_table(table: Table) -> str:
    """The table's rows, labelled by its first row (ingest/tables.py)."""
    grid: list[list[str | None]] = []
    for row in table.rows:
        cells: list[str | None] = []
        previous = None
        for cell in row.cells:
            # A merged cell is reported once per grid column it spans: its text goes to the first of them.
            cells.append(None if cell._tc is previous else one_line(cell.text))
            previous = cell._tc
        grid.append(cells)
    return ROW_JOIN.join(table_lines(grid))


def _docx_blocks(document: Any) -> Iterator[str]:
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            text = _docx_table(item)
        elif (level := _docx_heading_level(item)) is not None:
            text = heading_line(level, title) if (title := one_line(item.text)) else ""
        else:
            text = item.text.strip()
        if text:
            yield text


def parse_docx(data: bytes, name: str) -> ParsedDocument:
    check_zip(
        data,
        name,
        required="word/document.xml",
        kind="Word .docx document",
        resave="older .doc files must be saved as .docx in Word or LibreOffice first",
    )
    try:
        blocks = list(_docx_blocks(docx.Document(io.BytesIO(data))))
    except Exception as exc:  # python-docx and lxml raise many types on a damaged package
        raise damaged_package(name, "a Word document", exc, apps="Word or LibreOffice", suffix=".docx") from exc
    text = "\n\n".join(blocks).replace("\r\n", "\n").replace("\r", "\n")
    return ParsedDocument(text=text, media_type=FILE_TYPES["docx"], markdown_headings=True)


# --- CSV and JSON ------------------------------------------------------------------------------------------


def parse_csv(data: bytes, name: str) -> ParsedDocument:
    """One line per data row, each value labelled with its column (ingest/tables.py), so a retrieved row is
    self-explanatory."""
    reader = csv.reader(io.StringIO(_decode_text(data, name), newline=""))
    lines: list[str] = []
    try:
        header = [one_line(h) for h in next(reader, [])]
        for row in reader:
            if line := labelled_row(zip(column_labels(header, len(row)), row, strict=True)):
                lines.append(line)
    except csv.Error as exc:
        raise UnreadableDocument(
            f"{name} is not valid CSV (line {reader.line_num}: {exc}); fix that line and upload it again"
        ) from None
    if not lines and any(header):
        raise EmptyDocument(f"{name} has a header row but no data rows; there is nothing to index")
    return ParsedDocument(text=ROW_JOIN.join(lines), media_type=FILE_TYPES["csv"])


def _json_leaves(value: Any) -> Iterator[tuple[str, Any]]:
    """``(path, leaf)`` pairs in document order; iterative, so deep nesting cannot exhaust the stack."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            items = [(f"{path}.{key}" if path else str(key), child) for key, child in node.items()]
        elif isinstance(node, list):
            items = [(f"{path}[{i}]", child) for i, child in enumerate(node)]
        else:
            yield path, node
            continue
        stack.extend(reversed(items))


def parse_json(data: bytes, name: str) -> ParsedDocument:
    """One ``path.to.key: value`` line per leaf, so every fact keeps the keys that give it meaning."""
    try:
        value = json.loads(_decode_text(data, name))
    except json.JSONDecodeError as exc:
        raise UnreadableDocument(
            f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}; fix it and upload it again"
        ) from None
    except RecursionError:
        raise UnreadableDocument(
            f"{name} is nested too deeply to read as JSON; flatten it and upload it again"
        ) from None
    lines = []
    for path, leaf in _json_leaves(value):
        rendered = one_line(leaf) if isinstance(leaf, str) else json.dumps(leaf)
        lines.append(f"{path}: {rendered}" if path else rendered)
    return ParsedDocument(text="\n".join(lines), media_type=FILE_TYPES["json"])


# --- dispatch ----------------------------------------------------------------------------------------------

Parser = Callable[[bytes, str], ParsedDocument]

PARSERS: dict[str, Parser] = {
    ".txt": parse_text,
    ".text": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".html": parse_html,
    ".htm": parse_html,
    ".pdf": parse_pdf,
    ".png": ocr.parse_image,  # images are read by OCR (ingest/ocr.py)
    ".jpg": ocr.parse_image,
    ".jpeg": ocr.parse_image,
    ".tif": ocr.parse_image,
    ".tiff": ocr.parse_image,
    ".docx": parse_docx,
    ".xlsx": parse_xlsx,
    ".ods": parse_ods,
    ".pptx": office.parse_pptx,
    ".odt": office.parse_odt,
    ".rtf": office.parse_rtf,
    ".epub": office.parse_epub,
    ".eml": mail.parse_eml,
    ".csv": parse_csv,
    ".json": parse_json,
}


def supported_suffixes() -> list[str]:
    return sorted(PARSERS)


def parser_for(name: str) -> Parser:
    suffix = PurePath(name).suffix.lower()
    parser = PARSERS.get(suffix)
    if parser is None:
        raise UnsupportedFileType(
            f"cannot index {name!r}: file type {suffix or '(none)'} is not supported; "
            f"accepted types are {', '.join(supported_suffixes())}"
        )
    return parser


def parse(data: bytes, name: str) -> ParsedDocument:
    parser = parser_for(name)
    if not data.strip():
        raise EmptyDocument(f"{name} is empty; there is nothing to index")
    parsed = parser(data, name)
    if not parsed.text.strip():
        raise EmptyDocument(f"{name} contains no text to index")
    return parsed
