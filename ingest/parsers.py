"""File bytes to plain text, with the file type decided from the content as well as the name.

Every parser returns the exact text that chunk offsets refer to, so ``parsed.text[start:end]`` is a chunk.
Structured formats (HTML, Word) are rendered as markdown-style text: headings become ``#`` lines and blocks are
separated by blank lines, so the markdown splitter and heading paths work on them as on a ``.md`` file.
"""

from __future__ import annotations

import codecs
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

from ingest.errors import EmptyDocument, UnreadableDocument, UnsupportedFileType
from ingest.parsed import (
    PAGE_JOIN,
    PDF_MAGIC,
    ZIP_MAGIC,
    PageSpan,
    ParsedDocument,
    check_zip,
    heading_line,
    one_line,
)
from rag.media import FILE_TYPES

# --- plain text --------------------------------------------------------------------------------------------


def _decode_text(data: bytes, name: str) -> str:
    """Text formats share one decoder, so binary content under a text name is refused the same way everywhere."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if data.startswith(PDF_MAGIC):
        raise UnsupportedFileType(
            f"{name} looks like a PDF (it starts with %PDF-), not a text file; name it with .pdf and upload it again"
        )
    if data.startswith(ZIP_MAGIC):
        raise UnsupportedFileType(
            f"{name} looks like a zip archive (such as a .docx file), not a text file; "
            "if it is a Word document, name it with .docx and upload it again"
        )
    if b"\x00" in data:
        raise UnsupportedFileType(
            f"{name} looks like a binary file (it contains NUL bytes), not text; "
            f"upload one of: {', '.join(supported_suffixes())}"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableDocument(
            f"{name} is not valid UTF-8 (byte {exc.start}); save it as UTF-8 and upload it again"
        ) from None
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
            elif node.name == "tr":
                self._flush()
                cells = [one_line(cell.get_text(" ")) for cell in node.find_all(["td", "th"], recursive=False)]
                if any(cells):
                    self.blocks.append(" | ".join(cells))
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


def parse_html(data: bytes, name: str) -> ParsedDocument:
    soup = BeautifulSoup(_decode_text(data, name), "lxml")
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
        page_texts = [page.extract_text() or "" for page in reader.pages]
    except DependencyError:  # AES-128 files open with the empty password but need AES for their content
        raise _aes_unsupported(name) from None
    except Exception as exc:
        raise damaged(exc) from exc

    parts: list[str] = []
    pages: list[PageSpan] = []
    offset = 0
    for number, raw in enumerate(page_texts, start=1):
        if parts:
            offset += len(PAGE_JOIN)
        page_text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
        parts.append(page_text)
        pages.append(PageSpan(page=number, start=offset, end=offset + len(page_text)))
        offset += len(page_text)
    text = PAGE_JOIN.join(parts)
    if not text.strip():
        raise EmptyDocument(
            f"{name} has no extractable text; scanned PDFs need OCR, which is not supported. "
            "Upload a PDF with a text layer, or the document's text in another format"
        )
    return ParsedDocument(text=text, media_type=FILE_TYPES["pdf"], pages=pages)


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
    rows = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell is reported once per grid column it spans
                continue
            previous = cell._tc
            cells.append(one_line(cell.text))
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


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
        raise UnreadableDocument(
            f"{name} could not be read as a Word document ({type(exc).__name__}: {exc}); "
            "open it in Word or LibreOffice, save it as .docx again and upload the new copy"
        ) from exc
    text = "\n\n".join(blocks).replace("\r\n", "\n").replace("\r", "\n")
    return ParsedDocument(text=text, media_type=FILE_TYPES["docx"], markdown_headings=True)


# --- CSV and JSON ------------------------------------------------------------------------------------------


def parse_csv(data: bytes, name: str) -> ParsedDocument:
    """One line per data row, each value labelled with its column, so a retrieved row is self-explanatory."""
    reader = csv.reader(io.StringIO(_decode_text(data, name), newline=""))
    lines: list[str] = []
    try:
        header = [one_line(h) for h in next(reader, [])]
        for row in reader:
            fields = [
                f"{header[i] if i < len(header) and header[i] else f'column {i + 1}'}: {one_line(value)}"
                for i, value in enumerate(row)
                if value.strip()
            ]
            if fields:
                lines.append("; ".join(fields))
    except csv.Error as exc:
        raise UnreadableDocument(
            f"{name} is not valid CSV (line {reader.line_num}: {exc}); fix that line and upload it again"
        ) from None
    if not lines and any(header):
        raise EmptyDocument(f"{name} has a header row but no data rows; there is nothing to index")
    return ParsedDocument(text="\n".join(lines), media_type=FILE_TYPES["csv"])


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
    ".docx": parse_docx,
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
