"""Text from page images with Tesseract: scanned PDF pages (those without a text layer) and uploaded images.

Tesseract is Debian's ``tesseract-ocr`` with its language data (``make ocr``); nothing is downloaded at run time.
It runs as a subprocess with TSV output (words with their confidences) rather than through pytesseract, because
each call needs ``OMP_THREAD_LIMIT=1`` in its own environment: Tesseract's OpenMP threads made a page 3x slower on
two cores, and pages are read in parallel instead, one process per core.

Every OCR'd page becomes a ``Region`` with the mean word confidence (0..1), so each chunk records that it came from
OCR and how sure the engine was. Chinese output is cleaned of the spaces Tesseract puts between characters, and a
page read as a mix of simplified and traditional characters is read again with the one its characters mostly are.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
import subprocess
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

import pypdfium2 as pdfium
from PIL import Image, ImageOps, UnidentifiedImageError

from ingest.errors import EmptyDocument, FileTooLarge, UnreadableDocument, UnsupportedFileType
from ingest.parsed import MAX_PDF_PAGES, PAGE_JOIN, PageSpan, ParsedDocument, Region
from rag.language import CJK_CHARS
from rag.media import FILE_TYPES

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
# Pillow's format names; some cameras' JPEGs open as MPO (JPEG with a second, preview, image).
_IMAGE_FORMATS = {
    "PNG": FILE_TYPES["png"],
    "JPEG": FILE_TYPES["jpeg"],
    "MPO": FILE_TYPES["jpeg"],
    "TIFF": FILE_TYPES["tiff"],
}

# A PDF page with fewer printed characters than this has no real text layer (a scan with a page number stamped on
# it, say): it is read by OCR instead.
MIN_TEXT_CHARS = 16
# Tesseract reads best at about 300 dpi; a page image larger than MAX_PAGE_PIXELS is scaled down to it first
# (A4 at 300 dpi is 8.7 million pixels), and an image that would decode to more than Pillow's own bomb limit
# (89 million pixels) is refused before it is decoded.
RENDER_DPI = 300
MAX_PAGE_PIXELS = 24_000_000
_BOMB_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
_CJK_GLUE = f"{CJK_CHARS}\u3000-\u303f\uff00-\uffef"
# Tesseract separates every CJK character (and digits and punctuation next to them) by a space.
_CJK_SPACES = re.compile(
    rf"(?<=[{_CJK_GLUE}])[ \t]+(?=[{_CJK_GLUE}0-9,.;:!?)])|(?<=[{_CJK_GLUE}0-9,.;:!?(])[ \t]+(?=[{_CJK_GLUE}])"
)


@dataclass(frozen=True)
class OcrOptions:
    """What the service's settings say about OCR (RAG_OCR, RAG_OCR_LANGUAGES, RAG_OCR_MAX_PAGES,
    RAG_OCR_PAGE_TIMEOUT_S); ``configure`` installs them for the parsers."""

    enabled: bool = True
    languages: str = "eng+chi_sim+chi_tra"
    max_pages: int = 500
    page_timeout_s: float = 120.0
    workers: int = os.cpu_count() or 1


_options = OcrOptions()


def configure(options: OcrOptions) -> None:
    """Set the options every later OCR call uses; the composition root calls it with the settings' values.
    Module-wide because parsers are plain ``(bytes, name)`` functions."""
    global _options
    _options = options


def options() -> OcrOptions:
    return _options


# --- progress ----------------------------------------------------------------------------------------------

Progress = Callable[[int, int], None]
_progress: ContextVar[Progress | None] = ContextVar("ocr_progress", default=None)


@contextmanager
def reporting_progress(callback: Progress) -> Iterator[None]:
    """Within the block, OCR in this thread reports ``(pages done, pages to read)`` to ``callback`` after each page
    (an upload job shows it on GET /v1/jobs/{id})."""
    token = _progress.set(callback)
    try:
        yield
    finally:
        _progress.reset(token)


# --- one page ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OcrPage:
    text: str
    confidence: float | None  # mean word confidence, 0..1; None when no word was found


def join_cjk(text: str) -> str:
    """Remove the spaces Tesseract puts between CJK characters (and between them and digits or punctuation)."""
    return _CJK_SPACES.sub("", text)


def _page_from_tsv(tsv: str) -> OcrPage:
    """Words grouped into Tesseract's paragraphs, each paragraph's lines reflowed into one line: a sentence that
    wraps in the image is one sentence in the text."""
    paragraphs: dict[tuple[str, str, str], list[str]] = {}
    confidences: list[float] = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        word = (row.get("text") or "").strip()
        if row.get("level") != "5" or not word:
            continue
        paragraphs.setdefault((row["page_num"], row["block_num"], row["par_num"]), []).append(word)
        if (conf := float(row["conf"])) >= 0:
            confidences.append(conf / 100)
    text = "\n\n".join(join_cjk(" ".join(words)) for words in paragraphs.values())
    confidence = round(sum(confidences) / len(confidences), 4) if confidences else None
    return OcrPage(text, confidence)


class _Timeout(Exception):
    pass


def _tesseract(image: Image.Image, languages: str, timeout_s: float) -> OcrPage:
    buffer = io.BytesIO()
    image.save(buffer, format="PPM")  # uncompressed: encoding a PNG per page would cost more than it saves
    dpi = image.info.get("dpi", (RENDER_DPI, RENDER_DPI))[0] or RENDER_DPI
    command = ["tesseract", "stdin", "stdout", "-l", languages, "--dpi", str(round(dpi)), "tsv"]
    try:
        done = subprocess.run(
            command,
            input=buffer.getvalue(),
            capture_output=True,
            timeout=timeout_s,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
            check=False,
        )
    except FileNotFoundError:
        raise UnsupportedFileType(
            "this server cannot read scanned pages or images: Tesseract is not installed (run `make ocr`, or "
            "apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-chi-tra)"
        ) from None
    except subprocess.TimeoutExpired:
        raise _Timeout from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise UnsupportedFileType(
            f"OCR failed ({message[-1] if message else f'exit status {done.returncode}'}); check that the "
            f"languages in RAG_OCR_LANGUAGES ({languages}) are installed (`tesseract --list-langs`)"
        )
    return _page_from_tsv(done.stdout.decode("utf-8", errors="replace"))


@functools.cache
def _variant_counters() -> tuple[Callable[[str], str], Callable[[str], str]]:
    import opencc

    return opencc.OpenCC("t2s").convert, opencc.OpenCC("s2t").convert


def _chinese_variant(text: str) -> str | None:
    """``chi_sim`` or ``chi_tra`` when the text mixes characters only one script has and most are of that one;
    None when it is not mixed (nothing to read again)."""
    to_simplified, to_traditional = _variant_counters()
    chars = re.findall(f"[{CJK_CHARS}]", text)
    traditional = sum(1 for c in chars if to_simplified(c) != c)
    simplified = sum(1 for c in chars if to_traditional(c) != c)
    if not traditional or not simplified or traditional == simplified:
        return None
    return "chi_sim" if simplified > traditional else "chi_tra"


def read_image(image: Image.Image, options: OcrOptions) -> OcrPage:
    """One page. With both Chinese scripts configured Tesseract mixes them on a page (a simplified page came back
    0.87 right against 0.99 read with chi_sim alone), so a mixed page is read again without the minority script."""
    page = _tesseract(image, options.languages, options.page_timeout_s)
    languages = options.languages.split("+")
    if {"chi_sim", "chi_tra"} <= set(languages) and (variant := _chinese_variant(page.text)):
        other = "chi_tra" if variant == "chi_sim" else "chi_sim"
        page = _tesseract(image, "+".join(lang for lang in languages if lang != other), options.page_timeout_s)
    return page


# --- many pages --------------------------------------------------------------------------------------------


def check_page_count(pages: int, name: str) -> None:
    """The cap on pages to OCR (RAG_OCR_MAX_PAGES): at under a page a second on two cores (docs/benchmarks.md),
    500 pages take ten minutes or more."""
    limit = _options.max_pages
    if pages > limit:
        raise FileTooLarge(
            f"{name} has {pages} pages to read by OCR (scanned pages or images); the limit is {limit} "
            "(RAG_OCR_MAX_PAGES). Split it into smaller files, or upload a copy with a text layer"
        )


def _require_enabled(name: str, what: str) -> None:
    if not _options.enabled:
        raise UnsupportedFileType(
            f"{name} {what}, and OCR is switched off on this server (RAG_OCR=false); upload the document's text "
            "in another format, or ask the administrator to switch OCR on"
        )


def read_pages(images: Iterable[tuple[int, Image.Image]], total: int, name: str) -> list[OcrPage]:
    """OCR ``(page number, image)`` pairs in parallel, in order, holding at most two images per worker (the
    images come from a generator: a long scan is never in memory whole). Reports progress after each page."""
    opts = _options
    progress = _progress.get()
    pages: list[OcrPage] = []
    pending: deque[tuple[int, Future[OcrPage]]] = deque()
    with ThreadPoolExecutor(max_workers=max(1, opts.workers), thread_name_prefix="ocr") as pool:

        def collect() -> None:
            number, future = pending.popleft()
            try:
                pages.append(future.result())
            except _Timeout:
                pool.shutdown(wait=False, cancel_futures=True)
                raise UnreadableDocument(
                    f"{name}: page {number} took longer than {opts.page_timeout_s:g} seconds to read by OCR "
                    "(RAG_OCR_PAGE_TIMEOUT_S); upload a cleaner scan or that page's text in another format"
                ) from None
            if progress is not None:
                progress(len(pages), total)

        if progress is not None:
            progress(0, total)
        for number, image in images:
            pending.append((number, pool.submit(read_image, image, opts)))
            if len(pending) >= 2 * max(1, opts.workers):
                collect()
        while pending:
            collect()
    return pages


def _fit(image: Image.Image) -> Image.Image:
    """Grayscale on white (a transparent background would turn black), upright (a phone photo's EXIF
    orientation), and at most MAX_PAGE_PIXELS."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    dpi = image.info.get("dpi")
    image = image.convert("L")
    pixels = image.width * image.height
    if pixels > MAX_PAGE_PIXELS:
        scale = (MAX_PAGE_PIXELS / pixels) ** 0.5
        image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
        dpi = (dpi[0] * scale, dpi[1] * scale) if dpi else None
    if dpi:
        image.info["dpi"] = dpi
    return image


# --- PDF pages ---------------------------------------------------------------------------------------------


def _open_pdf(data: bytes, name: str) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise UnreadableDocument(
            f"{name} could not be opened to read its scanned pages ({exc}); download or export it again and "
            "upload the new copy"
        ) from None


def pdf_pages_without_text(data: bytes, name: str) -> list[int]:
    """0-based indexes of the pages that print fewer than MIN_TEXT_CHARS characters: a quick look (pdfium, about
    a millisecond a page) for the API to decide whether an upload needs OCR and so a background job."""
    pdf = _open_pdf(data, name)
    try:
        if (count := len(pdf)) > MAX_PDF_PAGES:
            raise FileTooLarge(f"{name} has {count} pages; the limit is {MAX_PDF_PAGES}. Split it and upload the parts")
        scanned = []
        for index in range(count):
            page = pdf[index]
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            page.close()
            if lacks_text(text):
                scanned.append(index)
        return scanned
    finally:
        pdf.close()


def _render_pdf(pdf: pdfium.PdfDocument, indexes: list[int]) -> Iterator[tuple[int, Image.Image]]:
    for index in indexes:
        page = pdf[index]
        width, height = page.get_size()  # points, 1/72 inch
        scale = min(RENDER_DPI / 72, (MAX_PAGE_PIXELS / max(width * height, 1.0)) ** 0.5)
        image = page.render(scale=scale, grayscale=True).to_pil()
        page.close()
        image.info["dpi"] = (72 * scale, 72 * scale)
        yield index + 1, image


def read_pdf_pages(data: bytes, indexes: list[int], name: str) -> dict[int, OcrPage]:
    """OCR the pages at ``indexes`` (0-based) of a PDF; keyed by index. Rendered one at a time, at 300 dpi."""
    if not indexes or not _options.enabled:  # with OCR off, a mixed PDF is indexed by its text pages alone
        return {}
    check_page_count(len(indexes), name)
    pdf = _open_pdf(data, name)
    try:
        pages = read_pages(_render_pdf(pdf, indexes), len(indexes), name)
    finally:
        pdf.close()
    return dict(zip(indexes, pages, strict=True))


# --- images ------------------------------------------------------------------------------------------------


def _open_image(data: bytes, name: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FileTooLarge(
            f"{name} is an image of more than {_BOMB_PIXELS} pixels; scale it down (300 dpi is enough "
            "to read text) and upload it again"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise UnreadableDocument(
            f"{name} could not be read as an image (PNG, JPEG or TIFF); it may be damaged or of another type. "
            "Export it again and upload the new copy"
        ) from None
    if image.format not in _IMAGE_FORMATS:
        raise UnsupportedFileType(
            f"{name} is a {image.format} image; images are read as PNG, JPEG or TIFF. Convert it and upload again"
        )
    return image


def _frames(image: Image.Image, name: str) -> Iterator[tuple[int, Image.Image]]:
    for index in range(getattr(image, "n_frames", 1)):
        try:
            image.seek(index)
            if image.width * image.height > _BOMB_PIXELS:
                raise FileTooLarge(
                    f"{name}: page {index + 1} has more than {_BOMB_PIXELS} pixels; scale it down "
                    "(300 dpi is enough to read text) and upload it again"
                )
            frame = _fit(image)
        except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt image data
            raise UnreadableDocument(
                f"{name} could not be read as an image: page {index + 1} is damaged or incomplete ({exc}). "
                "Export it again and upload the new copy"
            ) from None
        yield index + 1, frame


def parse_image(data: bytes, name: str) -> ParsedDocument:
    """An uploaded image: each frame a page (a multi-page TIFF), read by OCR; a single image has no page number."""
    image = _open_image(data, name)
    media_type = _IMAGE_FORMATS[str(image.format)]
    _require_enabled(name, "is an image, read by OCR")
    count = getattr(image, "n_frames", 1)
    check_page_count(count, name)
    parsed = ParsedDocument(text="", media_type=media_type)
    for number, page in enumerate(read_pages(_frames(image, name), count, name), start=1):
        start = len(parsed.text) + (len(PAGE_JOIN) if number > 1 else 0)
        parsed.text = f"{parsed.text}{PAGE_JOIN}{page.text}" if number > 1 else page.text
        if count > 1:
            parsed.pages.append(PageSpan(page=number, start=start, end=len(parsed.text)))
        if page.text:
            parsed.regions.append(Region(start, len(parsed.text), ocr_confidence=page.confidence))
    if not parsed.text.strip():
        raise EmptyDocument(f"{name} is an image, and OCR found no text in it; there is nothing to index")
    return parsed


def lacks_text(text: str) -> bool:
    """A PDF page whose text layer prints fewer than MIN_TEXT_CHARS characters is read by OCR instead."""
    return len("".join(text.split())) < MIN_TEXT_CHARS


def no_text_hint() -> str:
    """What to tell the uploader of a PDF in which neither the text layer nor OCR found any text."""
    if _options.enabled:
        return "OCR found no text on its pages either. Upload a clearer scan, or the document's text in another format"
    return (
        "its pages look scanned, and OCR is switched off on this server (RAG_OCR=false). Upload a PDF with a text "
        "layer, or the document's text in another format"
    )


def needs_ocr(data: bytes, name: str) -> bool:
    """Whether indexing ``data`` will run OCR, decided quickly (the API then indexes it as a background job). Too
    many pages to read, or OCR switched off, are refused here already."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix in IMAGE_SUFFIXES:
        image = _open_image(data, name)
        _require_enabled(name, "is an image, read by OCR")
        check_page_count(getattr(image, "n_frames", 1), name)
        next(_frames(image, name))  # decode the first page now: a damaged image is refused in the request
        return True
    if suffix != ".pdf":
        return False
    try:
        scanned = pdf_pages_without_text(data, name)
    except UnreadableDocument:
        return False  # the parser says what is wrong with it, in the same request
    if scanned and _options.enabled:
        check_page_count(len(scanned), name)
    return bool(scanned) and _options.enabled


def with_options(**changes: object) -> OcrOptions:
    """The current options with some changed (tests, the benchmark)."""
    return replace(_options, **changes)  # type: ignore[arg-type]
