"""OCR cost (issue #17): pages read per second, and what a 100-page scanned PDF costs to index in time and memory.

    .venv/bin/python -m bench.ocr                       # 100 English pages, 10 Chinese pages
    .venv/bin/python -m bench.ocr --pages 20 --chinese-pages 4

The pages are rendered here: A4 at 300 dpi, 11-point DejaVu Sans (English, about 3,000 characters a page) or Noto
Sans CJK (Chinese, about 1,000 characters), in black and white, saved as one image-only PDF each (about 80 KB a
page), the way an office scanner writes text. The English PDF is indexed through the service's own indexer (real
embedder, embedded Chroma, a temporary folder), so the time is the whole ingest; OCR's share is timed by its
progress reports. CPU seconds are Tesseract's (its processes), so they hold on a busy machine where wall time does
not. Peak memory is the Python process's, the embedder included (a Tesseract process's own peak: `/usr/bin/time
-f %M tesseract page.pgm - -l eng+chi_sim+chi_tra tsv`). Nothing here asserts a figure.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter

from bench.common import rss_mb, write_result

ROOT = Path(__file__).resolve().parents[1]
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
NOTO_CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
A4 = (2480, 3508)  # pixels at 300 dpi

ENGLISH = [
    "The maintenance log records every inspection of the pumping station, with the date, the engineer and "
    "the readings of the three pressure gauges.",
    "Valve {n} was replaced after it failed the leak test, and the new part carries the serial number {serial}.",
    "Water from the northern reservoir is filtered twice before it reaches the distribution network.",
    "During the spring flood the station ran at full capacity for nine days without interruption.",
    "Spare filters are kept in the east storeroom, and the stock is counted on the first Monday of each month.",
]
CHINESE = [
    "本手册记录了水泵站每一次检查的日期、工程师姓名以及三个压力表的读数。",
    "第{n}号阀门在泄漏测试中失败后被更换，新零件的序列号为{serial}。",
    "北部水库的水在进入供水管网之前要经过两次过滤。",
    "春季汛期，泵站连续九天满负荷运行，没有中断。",
    "备用过滤器存放在东侧仓库，每月第一个星期一清点库存。",
]


def page_image(lines: list[str], font_path: str, size: int) -> Image.Image:
    font = ImageFont.truetype(font_path, size)
    image = Image.new("L", A4, 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((240, 240 + int(size * 1.6) * i), line, font=font, fill=0)
    return image


def wrap(text: str, font_path: str, size: int, width: int, cjk: bool) -> list[str]:
    font = ImageFont.truetype(font_path, size)
    units, glue = (list(text), "") if cjk else (text.split(), " ")
    lines, line = [], ""
    for unit in units:
        candidate = f"{line}{glue}{unit}" if line else unit
        if line and font.getlength(candidate) > width:
            lines.append(line)
            line = unit
        else:
            line = candidate
    return [*lines, line]


def scanned_pdf(pages: int, sentences: list[str], font_path: str, size: int, cjk: bool) -> bytes:
    """An image-only PDF of ``pages`` A4 pages full of text; each page differs (its valve number and serial).
    Written a page at a time and joined by pypdf: Pillow would hold every page image (8.7 MB each) at once, and
    the benchmark's own memory would hide the service's."""
    writer = PdfWriter()
    max_lines = (A4[1] - 480) // int(size * 1.6)
    for n in range(1, pages + 1):
        body = "".join if cjk else " ".join
        text = body(s.format(n=n, serial=f"PX-{n * 7919 % 100000:05d}") for s in sentences * 8)
        page = page_image(wrap(text, font_path, size, A4[0] - 480, cjk)[:max_lines], font_path, size)
        one = io.BytesIO()
        page.convert("1").save(one, format="PDF", resolution=300.0)  # black and white: about 80 KB a page
        writer.add_page(PdfReader(one).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def children_cpu_s() -> float:
    """CPU seconds of the finished child processes: Tesseract's, whatever else the machine is busy with."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ocr_only(data: bytes, name: str) -> dict:
    from ingest.parsers import parse

    started, cpu = time.perf_counter(), children_cpu_s()
    parsed = parse(data, name)
    seconds = time.perf_counter() - started
    cpu = children_cpu_s() - cpu
    pages = len(parsed.pages)
    confidences = [r.ocr_confidence for r in parsed.regions if r.ocr_confidence is not None]
    return {
        "pages": pages,
        "seconds": round(seconds, 1),
        "pages_per_s": round(pages / seconds, 3),
        "tesseract_cpu_s_per_page": round(cpu / pages, 2),
        "chars_per_page": round(len(parsed.text) / pages),
        "mean_confidence": round(sum(confidences) / len(confidences), 3),
    }


def ingest(data: bytes, name: str, work: Path) -> dict:
    """The whole upload as the service indexes it, OCR timed by its progress reports."""
    from ingest import ocr
    from rag.config import Settings
    from service import build

    services = build(Settings(data_dir=work / "data", cache_dir=ROOT / "var" / "cache"), load_llm=False)
    services.embedder.embed(["warm up"])
    before = rss_mb()
    marks: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        marks.setdefault("ocr_start", time.perf_counter())
        if done == total:
            marks["ocr_end"] = time.perf_counter()

    started, cpu = time.perf_counter(), children_cpu_s()
    with ocr.reporting_progress(progress):
        result = services.indexer.ingest_bytes(data, name)
    seconds = time.perf_counter() - started
    cpu = children_cpu_s() - cpu
    after = rss_mb()
    services.jobs.shutdown()
    return {
        "seconds": round(seconds, 1),
        "ocr_seconds": round(marks["ocr_end"] - marks["ocr_start"], 1),
        "tesseract_cpu_s": round(cpu, 1),
        "chunks": result.document.chunk_count,
        "process_rss_before_mb": before["rss_mb"],
        "process_peak_rss_mb": after["peak_rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100, help="English pages in the scanned PDF that is indexed")
    parser.add_argument("--chinese-pages", type=int, default=10, help="Chinese pages, read by OCR only")
    parser.add_argument("--out", type=Path, default=None, help="JSON result (default var/bench/ocr.json)")
    args = parser.parse_args()
    for font in (DEJAVU, NOTO_CJK):
        if not Path(font).exists():
            raise SystemExit(f"font {font} is missing: run `make ocr`")

    english = scanned_pdf(args.pages, ENGLISH, DEJAVU, 46, cjk=False)
    chinese = scanned_pdf(args.chinese_pages, CHINESE, NOTO_CJK, 46, cjk=True)
    work = Path(tempfile.mkdtemp(prefix="rag-ocr-bench-"))
    try:
        result: dict = {"workers": os.cpu_count(), "english_pdf_mb": round(len(english) / 2**20, 1)}
        result["chinese"] = ocr_only(chinese, "chinese-scan.pdf")
        result["english_ingest"] = ingest(english, "english-scan.pdf", work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ingest_row = result["english_ingest"]
    ingest_row["ocr_pages_per_s"] = round(args.pages / ingest_row["ocr_seconds"], 3)
    ingest_row["tesseract_cpu_s_per_page"] = round(ingest_row["tesseract_cpu_s"] / args.pages, 2)
    print(json.dumps(result, indent=2))
    print(f"written to {write_result('ocr', result, args.out)}")


if __name__ == "__main__":
    main()
