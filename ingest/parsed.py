"""What every parser returns (``ParsedDocument``) and the pieces parsers of several formats share.

A parser module (``ingest/parsers.py`` and the format modules beside it) turns file bytes into one
``ParsedDocument`` whose ``text`` is what chunk offsets refer to; pages, regions and headings say where each part of
that text came from.
"""

from __future__ import annotations

import bisect
import io
import itertools
import zipfile
from dataclasses import dataclass, field

from ingest.errors import FileTooLarge, UnreadableDocument, UnsupportedFileType
from rag.types import span_locations

# Office documents are zips; their libraries inflate members whole, so a small upload could claim gigabytes.
MAX_ZIP_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_ZIP_COMPRESSION_RATIO = 200
# Tiny members can reach high ratios harmlessly (a run of identical XML); only large ones are judged by ratio.
_RATIO_CHECK_MIN_BYTES = 1024 * 1024

PDF_MAGIC = b"%PDF-"
# A 2,000-page text PDF (5 million characters) takes about 8 s to read and some 15 minutes to index on two cores
# (docs/benchmarks.md, OCR); within the upload limit a PDF of tiny or compressed pages could hold far more. These
# bound the reading and what follows it.
MAX_PDF_PAGES = 5_000
MAX_PDF_TEXT_CHARS = 10_000_000
PAGE_JOIN = "\n\n"  # between the pages of a PDF's text
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class PageSpan:
    page: int  # 1-based
    start: int
    end: int


@dataclass(frozen=True)
class Region:
    """A stretch of the parsed text with provenance finer or other than a page: a spreadsheet row's cells
    ("Budget!A5:C5"), a slide's title, or text read by OCR with the engine's confidence (0..1)."""

    start: int
    end: int
    location: str | None = None
    ocr_confidence: float | None = None


@dataclass
class ParsedDocument:
    text: str
    media_type: str
    pages: list[PageSpan] = field(default_factory=list)
    # True when the text marks headings as markdown ``#`` lines, so the chunker can split on and record them.
    markdown_headings: bool = False
    # Finer provenance than pages (cell ranges, OCR confidence), in text order; empty for most formats.
    regions: list[Region] = field(default_factory=list)
    _ordered: list[Region] = field(default_factory=list, init=False, repr=False, compare=False)
    _reach: list[int] = field(default_factory=list, init=False, repr=False, compare=False)

    def _overlapping(self, start: int, end: int) -> list[Region]:
        """The regions that overlap ``[start, end)``, in text order. A bisection over the regions' running
        furthest end, so chunking a sheet of 20,000 rows does not compare every chunk with every row."""
        if len(self._ordered) != len(self.regions):  # built on first use (parsers append regions as they go)
            self._ordered = sorted(self.regions, key=lambda r: r.start)
            self._reach = list(itertools.accumulate((r.end for r in self._ordered), max))
        found = []
        for region in self._ordered[bisect.bisect_right(self._reach, start) :]:
            if region.start >= end:
                break
            if start < region.end:
                found.append(region)
        return found

    def provenance(self, start: int, end: int) -> tuple[str | None, float | None]:
        """The location and OCR confidence of ``[start, end)``: the locations of the regions it overlaps,
        merged, and their confidences averaged by overlap (None where no region says)."""
        inside = self._overlapping(start, end)
        located = [r.location for r in inside if r.location]
        location = span_locations(located[0], located[-1]) if located else None
        weights = [
            (min(r.end, end) - max(r.start, start), r.ocr_confidence) for r in inside if r.ocr_confidence is not None
        ]
        total = sum(w for w, _ in weights)
        confidence = round(sum(w * c for w, c in weights) / total, 4) if total > 0 else None
        return location, confidence

    def located(self, start: int, end: int) -> list[tuple[int, int, str]]:
        """The regions with a location that overlap ``[start, end)``, as ``ChunkRecord.regions`` keeps them."""
        return [(r.start, r.end, r.location) for r in self._overlapping(start, end) if r.location]

    def page_at(self, offset: int) -> int | None:
        for span in self.pages:
            if span.start <= offset < span.end:
                return span.page
        return None

    def page_starts(self, start: int, end: int) -> list[int]:
        """Offsets where the pages after the one at ``start`` begin: those inside ``[start, end)`` and one that
        begins right after ``end`` (across the blank line that joins pages), so a chunk's sentences know their
        pages and a chunk that ends with its page knows it."""
        return [span.start for span in self.pages if start < span.start <= end + len(PAGE_JOIN)]


def one_line(text: str) -> str:
    """Collapse all whitespace, so a heading or table cell cannot spill over several lines."""
    return " ".join(text.split())


def heading_line(level: int, title: str) -> str:
    return f"{'#' * max(1, min(level, 6))} {title}"


def check_zip(data: bytes, name: str, *, required: str, kind: str, resave: str) -> None:
    """Check that the upload is a zip package of ``kind`` (it holds the member ``required``) and will not inflate
    beyond the limits, before a library parses it.

    zipfile never returns more than a member's declared size, so checking declared sizes bounds what the
    library (python-docx, openpyxl, python-pptx, ...) can inflate.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise UnsupportedFileType(
            f"{name} is not a {kind} (it is not a zip archive, as every one is); {resave}"
        ) from None
    if required not in {m.filename for m in members}:
        raise UnsupportedFileType(f"{name} is not a {kind} (the zip archive has no {required}); {resave}")
    total = sum(m.file_size for m in members)
    if total > MAX_ZIP_UNCOMPRESSED_BYTES:
        raise FileTooLarge(
            f"{name} would expand to {total} bytes when unpacked; the limit is {MAX_ZIP_UNCOMPRESSED_BYTES} "
            "bytes. Split the document or remove large embedded files, and upload it again"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= _RATIO_CHECK_MIN_BYTES and ratio > MAX_ZIP_COMPRESSION_RATIO:
            raise FileTooLarge(
                f"{name} looks like a zip bomb: its part {member.filename} is compressed {ratio:.0f} to 1 "
                f"(the limit is {MAX_ZIP_COMPRESSION_RATIO} to 1); save the document again and upload the new copy"
            )


def damaged_package(name: str, kind: str, exc: Exception, *, apps: str, suffix: str) -> UnreadableDocument:
    """The error for an office package its library could not read (the libraries raise many types on damage):
    what it was read as, why, and how to make a readable copy."""
    return UnreadableDocument(
        f"{name} could not be read as {kind} ({type(exc).__name__}: {exc}); "
        f"open it in {apps}, save it as {suffix} again and upload the new copy"
    )
