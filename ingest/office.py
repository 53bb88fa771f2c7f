"""Slides, OpenDocument text, RTF and e-books, rendered as markdown-style text like HTML and Word
(ingest/parsers.py): headings become ``#`` lines, blocks are separated by blank lines, tables become labelled rows
(ingest/tables.py).

- PowerPoint ``.pptx`` (python-pptx): one page per slide, so a citation names the slide; the slide's title is its
  heading, then its text boxes in reading order (top to bottom, then left to right: the XML keeps drawing order),
  tables, and the speaker notes under "Speaker notes". Notes are indexed because decks are terse: the notes often
  hold the explanation a question asks for, and the heading says the words were not on the slide itself.
- OpenDocument ``.odt`` (odfpy): headings at their outline level, paragraphs, lists and tables; tables of contents
  and indexes are left out, since they repeat the headings. odfpy rather than reading content.xml with lxml:
  it turns ``text:s``, ``text:tab`` and line breaks into the spaces they stand for, and also writes the files the
  tests read.
- RTF (striprtf): paragraphs and tables (RTF headings are only styles, so none are marked); the code page the file
  declares (``\\ansicpg936`` for Chinese) decodes its ``\\'xx`` bytes, and ``\\u`` escapes give Unicode directly.
  striprtf rather than rtfparse: it is a small, released-this-year function from RTF to text, where rtfparse is a
  tool that converts to HTML through temporary files.
- EPUB (zipfile and the HTML renderer): the chapters in the order of the book's spine, each rendered as an HTML
  page with its headings; the navigation document is left out, since it repeats the headings. EbookLib would read
  the package for us, but it is AGPL-licensed, and finding the spine takes two small XML files.
"""

from __future__ import annotations

import io
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from odf import teletype
from odf.element import Element
from odf.opendocument import load as load_odf
from odf.table import TableRow
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER
from striprtf.striprtf import rtf_to_text

from ingest.errors import UnreadableDocument, UnsupportedFileType
from ingest.parsed import (
    PAGE_JOIN,
    PageSpan,
    ParsedDocument,
    Region,
    check_zip,
    damaged_package,
    heading_line,
    one_line,
)
from ingest.tables import ROW_JOIN, table_lines
from rag.media import FILE_TYPES

BLOCK_JOIN = "\n\n"

# --- PowerPoint (.pptx) ------------------------------------------------------------------------------------

# Placeholders whose paragraphs a layout shows as bullets.
_BULLETED = frozenset({PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT})


def _reading_order(shapes: Any) -> list[Any]:
    return sorted(shapes, key=lambda shape: (shape.top or 0, shape.left or 0))


def _shape_blocks(shape: Any) -> Iterator[str]:
    """``shape`` is any of python-pptx's shape classes; which attributes it has is asked at run time."""
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for inner in _reading_order(shape.shapes):
            yield from _shape_blocks(inner)
    elif shape.has_table:
        grid = [[cell.text for cell in row.cells] for row in shape.table.rows]
        if rows := table_lines(grid):
            yield ROW_JOIN.join(rows)
    elif shape.has_text_frame:
        paragraphs = [(p.level, text) for p in shape.text_frame.paragraphs if (text := one_line(p.text))]
        if shape.is_placeholder and shape.placeholder_format.type in _BULLETED:
            if paragraphs:
                yield "\n".join(f"{'  ' * level}- {text}" for level, text in paragraphs)
        else:
            yield from (text for _, text in paragraphs)


def _slide_blocks(slide: Any, number: int) -> list[str]:
    """The slide's blocks; [] for a slide without any text (a picture alone), which is then left out."""
    title_shape = slide.shapes.title
    title = one_line(title_shape.text_frame.text) if title_shape is not None else ""
    body = [
        block
        for shape in _reading_order(slide.shapes)
        if shape.shape_id != getattr(title_shape, "shape_id", None)
        for block in _shape_blocks(shape)
    ]
    notes: list[str] = []
    if slide.has_notes_slide and (frame := slide.notes_slide.notes_text_frame) is not None:
        notes = [text for p in frame.paragraphs if (text := one_line(p.text))]
    if not (title or body or notes):
        return []
    blocks = [heading_line(1, title or f"Slide {number}"), *body]
    if notes:
        blocks += [heading_line(2, "Speaker notes"), *notes]
    return blocks


def parse_pptx(data: bytes, name: str) -> ParsedDocument:
    check_zip(
        data,
        name,
        required="ppt/presentation.xml",
        kind="PowerPoint .pptx presentation",
        resave="older .ppt files must be saved as .pptx in PowerPoint or LibreOffice first",
    )
    try:
        slides = [_slide_blocks(slide, n) for n, slide in enumerate(Presentation(io.BytesIO(data)).slides, start=1)]
    except Exception as exc:  # python-pptx and lxml raise many types on a damaged package
        raise damaged_package(
            name, "a PowerPoint presentation", exc, apps="PowerPoint or LibreOffice", suffix=".pptx"
        ) from exc
    parts: list[str] = []
    pages: list[PageSpan] = []
    offset = 0
    for number, blocks in enumerate(slides, start=1):
        if not blocks:
            continue
        if parts:
            offset += len(PAGE_JOIN)
        text = BLOCK_JOIN.join(blocks)
        parts.append(text)
        pages.append(PageSpan(page=number, start=offset, end=offset + len(text)))
        offset += len(text)
    # A slide is not a page to a reader: citations name it ("slide 4") through the region's location.
    regions = [Region(span.start, span.end, location=f"slide {span.page}") for span in pages]
    return ParsedDocument(
        text=PAGE_JOIN.join(parts),
        media_type=FILE_TYPES["pptx"],
        pages=pages,
        markdown_headings=True,
        regions=regions,
    )


# --- OpenDocument text (.odt) ------------------------------------------------------------------------------

# Generated lists that repeat the document's own headings or words.
_ODF_SKIP = re.compile(r"table-of-content|.*-index|bibliography|tracked-changes|sequence-decls")


def _odf_text(node: Element) -> str:
    return one_line(teletype.extractText(node))


def _odf_children(node: Element) -> list[Element]:
    return [child for child in node.childNodes if child.nodeType == child.ELEMENT_NODE]


def _odf_table(table: Element) -> str:
    grid = [
        [
            _odf_text(cell) if cell.qname[1] == "table-cell" else ""
            for cell in _odf_children(row)
            if "table-cell" in cell.qname[1]
        ]
        for row in table.getElementsByType(TableRow)
    ]
    return ROW_JOIN.join(table_lines(grid))


def _odf_list(node: Element, depth: int) -> list[str]:
    lines: list[str] = []
    for item in _odf_children(node):  # list items and list headers
        for child in _odf_children(item):
            if child.qname[1] == "list":
                lines += _odf_list(child, depth + 1)
            elif text := _odf_text(child):
                lines.append(f"{'  ' * depth}- {text}")
    return lines


def _odf_blocks(node: Element) -> Iterator[str]:
    """Blocks of an ODF body in document order."""
    for child in _odf_children(node):
        kind = child.qname[1]
        if kind == "h":
            if title := _odf_text(child):
                yield heading_line(int(child.getAttribute("outlinelevel") or 1), title)
        elif kind == "p":
            if text := _odf_text(child):
                yield text
        elif kind == "list":
            if lines := _odf_list(child, 0):
                yield "\n".join(lines)
        elif kind == "table":
            if rows := _odf_table(child):
                yield rows
        elif not _ODF_SKIP.fullmatch(kind):  # sections and other containers
            yield from _odf_blocks(child)


def parse_odt(data: bytes, name: str) -> ParsedDocument:
    check_zip(
        data,
        name,
        required="content.xml",
        kind="OpenDocument .odt text",
        resave="save it as .odt in LibreOffice (or as .docx) and upload it again",
    )
    try:
        blocks = list(_odf_blocks(load_odf(io.BytesIO(data)).text))
    except Exception as exc:  # odfpy and the XML parser raise many types on a damaged package
        raise damaged_package(name, "an OpenDocument text", exc, apps="LibreOffice", suffix=".odt") from exc
    return ParsedDocument(text=BLOCK_JOIN.join(blocks), media_type=FILE_TYPES["odt"], markdown_headings=True)


# --- RTF ---------------------------------------------------------------------------------------------------


def _rtf_blocks(text: str) -> Iterator[str]:
    """Paragraphs, and tables as labelled rows: striprtf ends each table cell with ``|`` and each row with a
    line break, so a run of lines ending in ``|`` is one table."""
    grid: list[list[str]] = []
    for line in (*text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), ""):
        line = line.strip()
        if line.endswith("|"):
            grid.append(line[:-1].split("|"))
            continue
        if grid and (rows := table_lines(grid)):
            yield ROW_JOIN.join(rows)
        grid = []
        if line:
            yield line


def parse_rtf(data: bytes, name: str) -> ParsedDocument:
    if not data.lstrip().startswith(b"{\\rtf"):
        raise UnsupportedFileType(
            f"{name} is not an RTF document (it does not start with {{\\rtf); upload the file itself, or name it "
            "for its real type"
        )
    try:
        # RTF is 7-bit: latin-1 maps each byte to one character, and the declared code page decodes \'xx escapes.
        text = rtf_to_text(data.decode("latin-1"), errors="strict")
    except (UnicodeDecodeError, LookupError, ValueError) as exc:
        raise UnreadableDocument(
            f"{name} could not be read as RTF: its characters do not decode in the code page it declares ({exc}); "
            "save it again from your word processor, or as .docx, and upload the new copy"
        ) from exc
    return ParsedDocument(text=BLOCK_JOIN.join(_rtf_blocks(text)), media_type=FILE_TYPES["rtf"])


# --- EPUB --------------------------------------------------------------------------------------------------

_CONTAINER = "META-INF/container.xml"
_ENCRYPTION = "META-INF/encryption.xml"
_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
}


def _epub_chapters(archive: zipfile.ZipFile) -> list[str]:
    """The spine's documents, in reading order, as member names of the archive.

    ElementTree never fetches external entities, and the expat it uses (2.4.1 and later) refuses entity
    expansion bombs, so the package's XML is safe to read.
    """
    rootfile = ET.fromstring(archive.read(_CONTAINER)).find(".//c:rootfile", _NS)
    opf_path = rootfile.get("full-path", "") if rootfile is not None else ""
    package = ET.fromstring(archive.read(opf_path))
    base = posixpath.dirname(opf_path)
    manifest = {
        item.get("id"): item
        for item in package.iterfind("opf:manifest/opf:item", _NS)
        if "nav" not in (item.get("properties") or "").split()
    }
    chapters = []
    for ref in package.iterfind("opf:spine/opf:itemref", _NS):
        item = manifest.get(ref.get("idref"))
        if item is not None and "html" in (item.get("media-type") or ""):
            chapters.append(posixpath.normpath(posixpath.join(base, unquote(item.get("href") or ""))))
    return chapters


def parse_epub(data: bytes, name: str) -> ParsedDocument:
    from ingest.parsers import parse_html  # ingest/parsers.py imports this module for its table of parsers

    check_zip(
        data,
        name,
        required=_CONTAINER,
        kind="EPUB e-book",
        resave="export it again as EPUB from the program that made it",
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            chapters = [(member, archive.read(member)) for member in _epub_chapters(archive)]
            encrypted = (
                archive.read(_ENCRYPTION).decode("utf-8", "replace") if _ENCRYPTION in archive.namelist() else ""
            )
    except (KeyError, ET.ParseError, zipfile.BadZipFile, ValueError) as exc:
        raise UnreadableDocument(
            f"{name} could not be read as an EPUB e-book: its package is damaged ({type(exc).__name__}: {exc}); "
            "export it again as EPUB and upload the new copy"
        ) from exc
    # Fonts may be listed there too (obfuscated, harmlessly); a chapter listed there is DRM-encrypted.
    if any(posixpath.basename(member) in encrypted for member, _ in chapters):
        raise UnreadableDocument(
            f"{name} is protected by DRM (its chapters are encrypted), so its text cannot be read; upload a copy "
            "without DRM"
        )
    texts = [parse_html(markup, f"{name}: {member}").text for member, markup in chapters]
    return ParsedDocument(
        text=BLOCK_JOIN.join(text for text in texts if text), media_type=FILE_TYPES["epub"], markdown_headings=True
    )
