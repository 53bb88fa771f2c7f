"""OCR (issue #17) on pages this test renders itself: known English and Chinese text drawn with the DejaVu and Noto CJK
fonts of the Debian packages, saved as PNG, JPEG, TIFF, an image-only PDF and a mixed PDF, then read back by the real
Tesseract. Accuracy is 1 - edit distance / length over the characters (white space aside for Chinese).

The texts here were not used to choose anything in ingest/ocr.py (that was done on other text), so the figures are
a fair check.
"""

from __future__ import annotations

import io
import re
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter
from rapidfuzz.distance import Levenshtein
from transformers import AutoTokenizer

from ingest import ocr, parsers
from ingest.chunking import Chunker
from ingest.errors import EmptyDocument, FileTooLarge, UnreadableDocument, UnsupportedFileType
from ingest.parsers import parse
from rag.language import CJK_CHARS
from rag.models.locate import resolve_embedder
from tests.formats import make_pdf

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

ENGLISH = (
    "The lighthouse on Kessel Island was built in 1887 by the engineer Margit Olsen. Its lamp can be seen from "
    "34 kilometres away on a clear night. Visitors climb 212 steps to reach the gallery, which is open from May "
    "to September. The keeper's cottage now houses a small museum about shipwrecks along the northern coast."
)
SIMPLIFIED = (
    "青溪茶园位于浙江省西部的山谷中，海拔约八百米。茶园每年四月初开始采摘春茶，最好的龙井茶只在清明节前采摘。"
    "园内共有三百二十名茶农，他们大多住在附近的两个村庄。游客可以在茶园的博物馆里了解制茶的历史。"
)
TRADITIONAL = (
    "台北市立動物園成立於一九一四年，是亞洲最大的城市動物園之一。園區內飼養了大約四百種動物，其中最受歡迎的是"
    "大熊貓和無尾熊。動物園每天早上九點開放，下午五點停止入園。"
)
TEXT_PAGE = "The harbour office on page one is open on weekdays. Ferry tickets are sold at the harbour office."

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed: `make ocr`")


def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    if not path.exists():
        pytest.skip(f"font {path} is missing: `make ocr` installs fonts-dejavu-core and fonts-noto-cjk")
    return ImageFont.truetype(str(path), size)


def render(text: str, font_path: Path, size: int = 40, width: int = 2000) -> Image.Image:
    """``text`` wrapped to ``width`` pixels (by words, or by characters for CJK) on a white grayscale page."""
    font = _font(font_path, size)
    units = text.split(" ") if " " in text else list(text)
    glue = " " if " " in text else ""
    lines, line = [], ""
    for unit in units:
        candidate = f"{line}{glue}{unit}" if line else unit
        if font.getlength(candidate) > width - 200 and line:
            lines.append(line)
            line = unit
        else:
            line = candidate
    lines.append(line)
    image = Image.new("L", (width, 200 + int(size * 1.7) * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, row in enumerate(lines):
        draw.text((100, 100 + int(size * 1.7) * i), row, font=font, fill=0)
    return image


def encode(image: Image.Image | list[Image.Image], fmt: str, **options) -> bytes:
    """One image, or several as the pages of a TIFF or PDF, at 300 dpi."""
    # Copies: Pillow keeps a saved image's encoder options on it, and they would leak into the next save.
    images = [im.copy() for im in (image if isinstance(image, list) else [image])]
    out = io.BytesIO()
    extra = {"save_all": True, "append_images": images[1:]} if len(images) > 1 else {}
    resolution = {"resolution": 300.0} if fmt == "PDF" else {"dpi": (300, 300)}
    images[0].save(out, format=fmt, **extra, **resolution, **options)
    return out.getvalue()


def accuracy(expected: str, read: str, *, spaces: bool) -> float:
    """1 - edit distance / length; white space collapsed (English) or ignored (Chinese, whose layout adds none)."""
    clean = (lambda s: " ".join(s.split())) if spaces else (lambda s: "".join(s.split()))
    return 1 - Levenshtein.distance(clean(expected), clean(read)) / len(clean(expected))


def merge_pdfs(*parts: bytes) -> bytes:
    writer = PdfWriter()
    for part in parts:
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def english() -> Image.Image:
    return render(ENGLISH, DEJAVU)


@pytest.fixture(scope="module")
def simplified() -> Image.Image:
    return render(SIMPLIFIED, NOTO_CJK, size=44)


@pytest.fixture(autouse=True)
def default_options() -> Iterator[None]:
    """Each test starts from the default options and leaves them so."""
    ocr.configure(ocr.OcrOptions())
    yield
    ocr.configure(ocr.OcrOptions())


@pytest.fixture(scope="module")
def count_tokens():
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_embedder("default")))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


# --- accuracy ----------------------------------------------------------------------------------------------


def test_english_png_is_read_accurately_with_its_confidence(english):
    parsed = parse(encode(english, "PNG"), "lighthouse.png")
    assert parsed.media_type == "image/png"
    assert accuracy(ENGLISH, parsed.text, spaces=True) >= 0.95, parsed.text
    assert parsed.pages == []  # a single image has no page number
    (region,) = parsed.regions
    assert (region.start, region.end) == (0, len(parsed.text))
    assert region.ocr_confidence is not None and 0.8 <= region.ocr_confidence <= 1


def test_simplified_chinese_is_read_accurately_without_spaces_between_characters(simplified):
    parsed = parse(encode(simplified, "PNG"), "tea.png")
    assert accuracy(SIMPLIFIED, parsed.text, spaces=False) >= 0.90, parsed.text
    assert "茶园位于浙江省西部" in parsed.text
    assert not re.search(f"[{CJK_CHARS}]\\s+[{CJK_CHARS}]", parsed.text)


def test_traditional_chinese_jpeg_is_read_accurately():
    parsed = parse(encode(render(TRADITIONAL, NOTO_CJK, size=44).convert("RGB"), "JPEG", quality=90), "zoo.jpg")
    assert parsed.media_type == "image/jpeg"
    assert accuracy(TRADITIONAL, parsed.text, spaces=False) >= 0.90, parsed.text


def test_multipage_tiff_keeps_page_numbers(english, simplified):
    parsed = parse(encode([english, simplified], "TIFF", compression="tiff_lzw"), "scan.tiff")
    assert parsed.media_type == "image/tiff"
    assert [p.page for p in parsed.pages] == [1, 2]
    first, second = (parsed.text[p.start : p.end] for p in parsed.pages)
    assert accuracy(ENGLISH, first, spaces=True) >= 0.95
    assert accuracy(SIMPLIFIED, second, spaces=False) >= 0.90
    assert [(r.start, r.end) for r in parsed.regions] == [(p.start, p.end) for p in parsed.pages]


def test_image_only_pdf_is_read_page_by_page(english, simplified):
    parsed = parse(encode([english, simplified], "PDF"), "scanned.pdf")
    assert parsed.media_type == "application/pdf"
    assert [p.page for p in parsed.pages] == [1, 2]
    first, second = (parsed.text[p.start : p.end] for p in parsed.pages)
    assert accuracy(ENGLISH, first, spaces=True) >= 0.95, first
    assert accuracy(SIMPLIFIED, second, spaces=False) >= 0.90, second
    assert all(r.ocr_confidence is not None for r in parsed.regions) and len(parsed.regions) == 2


def test_mixed_pdf_reads_only_its_scanned_page_and_chunks_say_so(english, count_tokens):
    parsed = parse(merge_pdfs(make_pdf([TEXT_PAGE]), encode(english, "PDF")), "mixed.pdf")
    page_one, page_two = parsed.pages
    assert parsed.text[page_one.start : page_one.end].split() == TEXT_PAGE.split()  # the text layer, not OCR
    (region,) = parsed.regions
    assert (region.start, region.end) == (page_two.start, page_two.end)
    chunks = Chunker(count_tokens, chunk_size=40, chunk_overlap=5).split(parsed)
    for chunk in chunks:
        assert parsed.text[chunk.start : chunk.end] == chunk.text
        if chunk.page == 1 and chunk.end <= page_one.end:
            assert chunk.ocr_confidence is None
        if chunk.page == 2:
            assert chunk.ocr_confidence is not None and chunk.ocr_confidence > 0.8
    assert any("212 steps" in c.text and c.page == 2 for c in chunks)


# --- text clean-up -----------------------------------------------------------------------------------------


def test_spaces_between_cjk_characters_are_removed_and_others_kept():
    assert ocr.join_cjk("港湾 街 图 书馆 , 包括 1850 年 。") == "港湾街图书馆,包括1850年。"
    assert ocr.join_cjk("Llama 2 模型 on OpenVINO") == "Llama 2模型 on OpenVINO"
    assert ocr.join_cjk("two English words") == "two English words"


def test_tsv_words_become_paragraphs_with_the_mean_confidence():
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [
        "4\t1\t1\t1\t1\t0\t0\t0\t9\t9\t-1\t",
        "5\t1\t1\t1\t1\t1\t0\t0\t9\t9\t90\tOpen",
        "5\t1\t1\t1\t2\t1\t0\t0\t9\t9\t80\tdaily.",
        "5\t1\t2\t1\t1\t1\t0\t0\t9\t9\t70\t闭馆",
        "5\t1\t2\t1\t1\t2\t0\t0\t9\t9\t60\t时间",
    ]
    page = ocr._page_from_tsv("\n".join([header, *rows]))
    assert page.text == "Open daily.\n\n闭馆时间"
    assert page.confidence == pytest.approx(0.75)
    assert ocr._page_from_tsv(header).confidence is None


# --- limits and bad input ----------------------------------------------------------------------------------


def test_progress_counts_pages(english):
    seen: list[tuple[int, int]] = []
    with ocr.reporting_progress(lambda done, total: seen.append((done, total))):
        parse(encode([english, english], "TIFF"), "two.tif")
    assert seen == [(0, 2), (1, 2), (2, 2)]


def test_too_many_pages_are_refused_before_any_is_read(english):
    ocr.configure(ocr.with_options(max_pages=1))
    data = encode([english, english], "TIFF")
    with pytest.raises(FileTooLarge, match=r"2 pages to read by OCR.*limit is 1 \(RAG_OCR_MAX_PAGES\)"):
        ocr.needs_ocr(data, "two.tif")
    with pytest.raises(FileTooLarge, match="RAG_OCR_MAX_PAGES"):
        parse(data, "two.tif")


def test_a_2000_page_scanned_pdf_is_refused_quickly():
    blank = Image.new("L", (100, 140), 255)
    data = encode([blank] * 2000, "PDF")
    started = time.perf_counter()
    with pytest.raises(FileTooLarge, match="2000 pages to read by OCR"):
        ocr.needs_ocr(data, "archive.pdf")
    with pytest.raises(FileTooLarge, match="2000 pages to read by OCR"):
        parse(data, "archive.pdf")
    assert time.perf_counter() - started < 60


def test_a_page_over_the_time_limit_fails_the_file_with_its_page_number(english):
    ocr.configure(ocr.with_options(page_timeout_s=0.01))
    with pytest.raises(UnreadableDocument, match=r"page 1 took longer than 0.01 seconds.*RAG_OCR_PAGE_TIMEOUT_S"):
        parse(encode(english, "PNG"), "slow.png")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, "could not be read as an image"),
        (b"not an image at all", "could not be read as an image"),
    ],
)
def test_corrupt_images_are_refused_with_a_clear_message(data, message):
    with pytest.raises(UnreadableDocument, match=message):
        ocr.needs_ocr(data, "broken.png")
    with pytest.raises(UnreadableDocument, match=message):
        parse(data, "broken.png")


def test_a_truncated_image_is_refused_in_the_request(english):
    data = encode(english, "PNG")
    with pytest.raises(UnreadableDocument, match="damaged or incomplete"):
        ocr.needs_ocr(data[: len(data) // 2], "cut.png")


def test_a_blank_image_has_nothing_to_index():
    with pytest.raises(EmptyDocument, match="OCR found no text"):
        parse(encode(Image.new("L", (600, 400), 255), "PNG"), "blank.png")


def test_with_ocr_off_images_are_refused_and_a_mixed_pdf_keeps_its_text_pages(english):
    ocr.configure(ocr.with_options(enabled=False))
    with pytest.raises(UnsupportedFileType, match=r"RAG_OCR=false"):
        ocr.needs_ocr(encode(english, "PNG"), "photo.png")
    mixed = merge_pdfs(make_pdf([TEXT_PAGE]), encode(english, "PDF"))
    assert not ocr.needs_ocr(mixed, "mixed.pdf")
    parsed = parse(mixed, "mixed.pdf")
    assert parsed.text.split() == TEXT_PAGE.split() and not parsed.regions
    with pytest.raises(EmptyDocument, match=r"no extractable text.*RAG_OCR=false"):
        parse(encode(english, "PDF"), "scan.pdf")


def test_text_pdfs_need_no_ocr():
    assert not ocr.needs_ocr(make_pdf([TEXT_PAGE, TEXT_PAGE]), "text.pdf")
    assert not ocr.needs_ocr(b"# notes", "notes.md")


# --- jobs and the indexer ----------------------------------------------------------------------------------


def test_an_upload_job_counts_the_pages_it_reads(services, english):
    job, future = services.jobs.submit_upload(encode([english, english], "TIFF"), "two-pages.tif")
    future.result(timeout=300)
    done = services.registry.get_job(job.id)
    assert done.status.value == "succeeded", done.errors
    assert (done.done, done.total) == (2, 2)
    chunks = services.store.chunks_of(done.document_id, 1)
    assert {c.page for c in chunks} == {1, 2} and all(c.ocr_confidence for c in chunks)


def test_ocr_does_not_hold_up_other_uploads(services, english):
    """The scan is parsed outside the indexer's lock: a text upload meanwhile is indexed at once."""
    reading, release = threading.Event(), threading.Event()

    def hold(done: int, total: int) -> None:
        reading.set()
        release.wait(60)

    def scan() -> None:
        with ocr.reporting_progress(hold):
            services.indexer.ingest_bytes(encode(english, "PNG"), "scan.png")

    with ThreadPoolExecutor(2) as pool:
        scanning = pool.submit(scan)
        try:
            assert reading.wait(60)
            note = pool.submit(services.indexer.ingest_bytes, b"# Ferry\n\nThe ferry leaves at noon.", "ferry.md")
            assert note.result(timeout=20).outcome.value == "created"
        finally:
            release.set()
        scanning.result(timeout=300)
    assert services.registry.find_by_source("scan.png") is not None


def test_a_pdf_over_the_page_limit_is_refused_before_its_pages_are_read(monkeypatch):
    monkeypatch.setattr(parsers, "MAX_PDF_PAGES", 3)
    monkeypatch.setattr(ocr, "MAX_PDF_PAGES", 3)
    data = make_pdf([TEXT_PAGE] * 4)
    for check in (ocr.needs_ocr, parse):
        with pytest.raises(FileTooLarge, match="has 4 pages; the limit is 3"):
            check(data, "long.pdf")


def test_a_pdf_over_the_text_limit_stops_being_read(monkeypatch):
    monkeypatch.setattr(parsers, "MAX_PDF_TEXT_CHARS", 2 * len(TEXT_PAGE) + 10)
    with pytest.raises(FileTooLarge, match=r"more than \d+ characters of text \(reached on page 3\)"):
        parse(make_pdf([TEXT_PAGE] * 10), "long.pdf")
