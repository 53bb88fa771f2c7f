"""Real sample files built in memory, so format tests need no binary fixtures in the repository.

The PDFs are written by hand (a Helvetica font and one text content stream per page) because no PDF
writing library is a dependency; pypdf reads them back like any other PDF.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
import zipfile
from collections.abc import Sequence
from typing import Any

import docx
import openpyxl
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P
from pypdf import PdfReader, PdfWriter

DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _pdf_string(line: str) -> bytes:
    """A PDF literal string; parentheses and backslashes must be escaped inside one."""
    escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1") + b")"


def _content_stream(text: str) -> bytes:
    lines = [wrapped for para in text.split("\n") for wrapped in (textwrap.wrap(para, 80) or [""])]
    ops = [b"BT", b"/F1 12 Tf", b"14 TL", b"72 720 Td"]
    for i, line in enumerate(lines):
        if i:
            ops.append(b"T*")
        ops.append(_pdf_string(line) + b" Tj")
    ops.append(b"ET")
    return b"\n".join(ops) if text else b""


def make_pdf(pages: Sequence[str]) -> bytes:
    """A valid PDF with one page per string; an empty string gives a page with no text (like a scan)."""
    n = len(pages)
    # Object numbers: 1 catalog, 2 page tree, 3 font, then a (page, content) pair per page.
    page_ids = [4 + 2 * i for i in range(n)]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % p for p in page_ids) + b"] /Count %d >>" % n,
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    for page_id, text in zip(page_ids, pages, strict=True):
        stream = _content_stream(text)
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref_at = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
    return bytes(out)


def make_encrypted_pdf(pages: Sequence[str], user_password: str = "secret", owner_password: str = "owner") -> bytes:
    """RC4-128 encryption: pypdf handles it without the optional ``cryptography`` package (AES needs it)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(pages))))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(blocks: Sequence[tuple[str, Any]]) -> bytes:
    """A Word document from ``(kind, content)`` blocks.

    Kinds: ``title`` (str), ``heading1``..``heading9`` (str), ``paragraph`` (str), ``table`` (rows of cells).
    """
    document = docx.Document()
    for kind, content in blocks:
        if kind == "title":
            document.add_heading(content, level=0)
        elif kind.startswith("heading"):
            document.add_heading(content, level=int(kind.removeprefix("heading")))
        elif kind == "paragraph":
            document.add_paragraph(content)
        elif kind == "table":
            table = document.add_table(rows=len(content), cols=len(content[0]))
            for r, row in enumerate(content):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
        else:
            raise ValueError(f"unknown block kind {kind!r}")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_docx_bomb(uncompressed_bytes: int, chunk: int = 1 << 20) -> bytes:
    """A zip that looks like a .docx and inflates ``uncompressed_bytes`` of one repeated byte.

    Written as a real deflate stream in chunks so that no large buffer is ever held; the zip records the
    true uncompressed size, as a bomb made with any zip tool would.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with zf.open("word/document.xml", "w", force_zip64=uncompressed_bytes >= zipfile.ZIP64_LIMIT) as member:
            block = b" " * chunk
            left = uncompressed_bytes
            while left > 0:
                member.write(block[: min(left, chunk)])
                left -= chunk
    return out.getvalue()


def make_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return out.getvalue()


def make_html(body: str, title: str = "Sample page") -> bytes:
    """A full page with the furniture a scraper must drop: head, script, style, nav and footer."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title><style>body {{ color: red; }}</style></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About us</a></nav>
<script>var tracking = "do not index me";</script>
{body}
<footer>Copyright footer text</footer>
</body>
</html>
""".encode()


def make_csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def make_xlsx(sheets: dict[str, Sequence[Sequence[Any]]]) -> bytes:
    """An .xlsx workbook (openpyxl) with one sheet per entry, rows in order (an empty row stays empty)."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def ods_cell(value: Any) -> TableCell:
    """An OpenDocument cell showing ``value``: a number as a float cell, anything else as text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        cell = TableCell(valuetype="string")
    else:
        cell = TableCell(valuetype="float", value=value)
    cell.addElement(P(text=str(value)))
    return cell


def make_ods(sheets: dict[str, Sequence[Sequence[Any]]]) -> bytes:
    """An .ods spreadsheet (odfpy) with one table per entry; "" is an empty cell."""
    document = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        table = Table(name=name)
        for row in rows:
            element = TableRow()
            for value in row:
                element.addElement(ods_cell(value) if value != "" else TableCell())
            table.addElement(element)
        document.spreadsheet.addElement(table)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def make_json(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False).encode()
