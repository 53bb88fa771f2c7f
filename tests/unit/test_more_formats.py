"""Slides, OpenDocument text, RTF, EPUB and e-mail (#17): each parsed from a real file the test builds with the
format's own tools (python-pptx, odfpy, zipfile, the email package; RTF written by hand), each answering a
question about a fact only it holds through the indexer and the answer pipeline, cited to the right slide or
attachment; and bad input in these formats refused with a clear 4xx, leaving the index unchanged."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage

import pytest
from odf.opendocument import OpenDocumentText
from odf.table import CoveredTableCell, Table, TableCell, TableColumn, TableRow
from odf.text import H, List, ListItem, P, S, Tab
from pptx import Presentation
from pptx.util import Inches

from ingest import mail, office
from ingest import parsed as parsed_module
from ingest.errors import FileTooLarge, UnreadableDocument, UnsupportedFileType
from ingest.parsers import parse
from tests.fakes import fake_services
from tests.formats import make_zip

# --- builders ----------------------------------------------------------------------------------------------


def make_pptx(slides: list[dict]) -> bytes:
    """A deck from dicts with optional ``title``, ``bullets`` (list, or (level, text) pairs), ``box`` (a text box
    placed ``box_top`` inches down), ``table`` (rows) and ``notes``; an empty dict gives a slide without text."""
    deck = Presentation()
    for spec in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1 if spec else 6])  # "Title and Content" / "Blank"
        if "title" in spec:
            slide.shapes.title.text = spec["title"]
        body = next((s for s in slide.placeholders if s.placeholder_format.idx == 1), None)
        if body is not None:
            items = spec.get("bullets", [])
            if not items:
                body._element.getparent().remove(body._element)
            for i, item in enumerate(items):
                level, text = item if isinstance(item, tuple) else (0, item)
                paragraph = body.text_frame.paragraphs[0] if i == 0 else body.text_frame.add_paragraph()
                paragraph.text, paragraph.level = text, level
        if "box" in spec:
            top = Inches(spec.get("box_top", 6))
            slide.shapes.add_textbox(Inches(1), top, Inches(8), Inches(1)).text_frame.text = spec["box"]
        if "table" in spec:
            rows = spec["table"]
            shape = slide.shapes.add_table(len(rows), len(rows[0]), Inches(1), Inches(4), Inches(8), Inches(1))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = value
        if "notes" in spec:
            slide.notes_slide.notes_text_frame.text = spec["notes"]
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def make_odt(blocks: list[tuple[str, object]]) -> bytes:
    """An OpenDocument text from ``(kind, content)``: ``h1``..``h3`` (str), ``p`` (str; two spaces and a tab
    are written as ``text:s`` and ``text:tab``), ``list`` (items), ``table`` (rows)."""
    document = OpenDocumentText()
    for kind, content in blocks:
        if kind.startswith("h"):
            document.text.addElement(H(outlinelevel=int(kind[1:]), text=str(content)))
        elif kind == "p":
            paragraph = P()
            for i, piece in enumerate(str(content).split("\t")):
                if i:
                    paragraph.addElement(Tab())
                for j, run in enumerate(piece.split("  ")):
                    if j:
                        paragraph.addElement(S(c=2))
                    paragraph.addText(run)
            document.text.addElement(paragraph)
        elif kind == "list":
            items = List()
            for text in content:  # type: ignore[attr-defined]
                item = ListItem()
                item.addElement(P(text=text))
                items.addElement(item)
            document.text.addElement(items)
        elif kind == "table":
            table = Table(name="T")
            table.addElement(TableColumn(numbercolumnsrepeated=len(content[0])))  # type: ignore[index]
            for row in content:  # type: ignore[attr-defined]
                tr = TableRow()
                for value in row:
                    cell = TableCell()
                    cell.addElement(P(text=value))
                    tr.addElement(cell)
                table.addElement(tr)
            document.text.addElement(table)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def rtf_escape(text: str, codepage: str) -> str:
    """RTF as Word writes non-ASCII text: ``\\'xx`` bytes in the document's code page."""
    return "".join(ch if ord(ch) < 128 else "".join(f"\\'{b:02x}" for b in ch.encode(codepage)) for ch in text)


def make_rtf(paragraphs: list[str], ansicpg: int = 1252, unicode_escapes: bool = False) -> bytes:
    charset = {936: 134, 950: 136, 1252: 0}[ansicpg]
    body = []
    for text in paragraphs:
        if unicode_escapes:
            text = "".join(ch if ord(ch) < 128 else f"\\u{ord(ch) - (65536 if ord(ch) > 32767 else 0)}?" for ch in text)
        else:
            text = rtf_escape(text, f"cp{ansicpg}")
        body.append(text + "\\par\n")
    head = (
        f"{{\\rtf1\\ansi\\ansicpg{ansicpg}\\deff0{{\\fonttbl{{\\f0\\fnil\\fcharset{charset} Body;}}}}"
        "{\\colortbl;\\red0\\green0\\blue0;}{\\info{\\title Secret title}}\\uc1\\f0\\fs24 "
    )
    return (head + "".join(body) + "}").encode("ascii")


def make_epub(chapters: list[tuple[str, str]], spine: list[int], nav: bool = True, extra: dict | None = None) -> bytes:
    """An EPUB 3 of ``(file name, body html)`` chapters, read in the order ``spine`` gives (indexes)."""
    files = {
        "mimetype": b"application/epub+zip",
        "META-INF/container.xml": b"""<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>""",
    }
    items = [
        f'<item id="c{i}" href="text/{n}" media-type="application/xhtml+xml"/>' for i, (n, _) in enumerate(chapters)
    ]
    refs = [f'<itemref idref="c{i}"/>' for i in spine]
    if nav:
        items.append('<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>')
        refs.insert(0, '<itemref idref="nav" linear="no"/>')
        files["OEBPS/nav.xhtml"] = (
            b"<html><body><nav><ol><li>Contents repeat every chapter title</li></ol></nav></body></html>"
        )
    files["OEBPS/content.opf"] = f"""<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Book</dc:title></metadata>
<manifest>{"".join(items)}</manifest><spine>{"".join(refs)}</spine></package>""".encode()
    for file_name, body in chapters:
        files[f"OEBPS/text/{file_name}"] = (
            '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head>'
            f"<title>{file_name}</title></head><body>{body}</body></html>"
        ).encode()
    return make_zip({**files, **(extra or {})})


EML = b"""From: Ana Silva <ana@example.com>
To: Field Team <team@example.com>
Cc: Raj <raj@example.com>
Date: Mon, 30 Nov 2026 09:15:00 +0100
Subject: Boat schedule for the island survey
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ"

--XYZ
Content-Type: multipart/alternative; boundary="ALT"

--ALT
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Hello team,

The ferry to Rona leaves the harbour at 06:40 on Thursday. Bring waterproof boots; the jetty at Rona is =
slippery.

Best, Ana
--ALT
Content-Type: text/html; charset="utf-8"

<p>Hello team,</p><p>HTML copy of the same message.</p>
--ALT--

--XYZ
Content-Type: text/csv; charset="gbk"; name="crew.csv"
Content-Disposition: attachment; filename="crew.csv"
Content-Transfer-Encoding: base64

CREW_CSV
--XYZ
Content-Type: image/png; name="map.png"
Content-Disposition: attachment; filename="map.png"
Content-Transfer-Encoding: base64

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==
--XYZ--
"""
CREW_CSV = "name,role,boat\nMei Lin,skipper,Kittiwake\n王芳,diver,Gannet\n".encode("gbk")


def sample_eml() -> bytes:
    import base64

    return EML.replace(b"CREW_CSV", base64.encodebytes(CREW_CSV).strip())


DECK = [
    {"title": "Quarterly review", "bullets": ["Revenue grew in every region."]},
    {
        "title": "Warehouse moves",
        "bullets": ["The Leeds depot moves to Wakefield in March.", (1, "Staff keep their contracts.")],
        "notes": "Say that the Wakefield lease runs for fifteen years.",
    },
    {},  # a picture-only slide: no text, left out
    {
        "title": "Freight partners",
        "box": "Footnote: rates exclude fuel.",
        "box_top": 6.5,
        "table": [["Partner", "Lane"], ["Nordfrakt", "Oslo to Hull"], ["Baltic Line", "Riga to Tilbury"]],
    },
]


FILLER = (
    "The committee reviews every request within ten working days. Requests that arrive during holidays are "
    "handled when the office reopens. Each decision is recorded in the shared register with its reasons."
)


def _filler_eml() -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "Register"
    message.set_content(f"First paragraph. {FILLER}\n\nSecond paragraph. {FILLER}\n")
    message.add_attachment(f"# Notes\n\n{FILLER}\n".encode(), maintype="text", subtype="markdown", filename="n.md")
    return message.as_bytes()


# Samples for tests/unit/test_formats.py, which chunks one file of every accepted suffix: (data, media type,
# whether headings are marked), long enough for several chunks.
MORE_SAMPLES = {
    "deck.pptx": (
        make_pptx([{"title": "Intro", "bullets": [FILLER]}, {"title": "More", "bullets": [FILLER], "notes": FILLER}]),
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        True,
    ),
    "manual.odt": (
        make_odt([("h1", "Manual"), ("p", FILLER), ("h2", "More"), ("p", FILLER)]),
        "application/vnd.oasis.opendocument.text",
        True,
    ),
    "note.rtf": (make_rtf([FILLER, FILLER]), "application/rtf", False),
    "book.epub": (
        make_epub([("a.xhtml", f"<h1>One</h1><p>{FILLER}</p>"), ("b.xhtml", f"<h1>Two</h1><p>{FILLER}</p>")], [0, 1]),
        "application/epub+zip",
        True,
    ),
    "mail.eml": (_filler_eml(), "message/rfc822", True),
}


# --- PowerPoint --------------------------------------------------------------------------------------------


def test_pptx_slides_are_pages_with_title_headings_tables_and_notes():
    parsed = parse(make_pptx(DECK), "deck.pptx")
    assert parsed.markdown_headings
    assert [span.page for span in parsed.pages] == [1, 2, 4]  # slide 3 has no text
    slides = {span.page: parsed.text[span.start : span.end] for span in parsed.pages}
    assert slides[1] == "# Quarterly review\n\n- Revenue grew in every region."
    assert slides[2] == (
        "# Warehouse moves\n\n- The Leeds depot moves to Wakefield in March.\n  - Staff keep their contracts."
        "\n\n## Speaker notes\n\nSay that the Wakefield lease runs for fifteen years."
    )
    # the table (4 inches down) before the text box (6.5 inches down): reading order, not drawing order
    assert slides[4] == (
        "# Freight partners\n\nPartner: Nordfrakt | Lane: Oslo to Hull\n\nPartner: Baltic Line | Lane: Riga to Tilbury"
        "\n\nFootnote: rates exclude fuel."
    )
    assert parsed.page_at(parsed.text.index("Baltic")) == 4


def test_pptx_slide_without_title_is_named_by_its_number():
    parsed = parse(make_pptx([{"title": "", "bullets": ["Only a bullet here."]}]), "untitled.pptx")
    assert parsed.text == "# Slide 1\n\n- Only a bullet here."


# --- OpenDocument text ---------------------------------------------------------------------------------------


def test_odt_headings_paragraphs_spaces_lists_and_tables():
    data = make_odt(
        [
            ("h1", "Field manual"),
            ("p", "Read this first."),
            ("h2", "Kit"),
            ("p", "Pack two  torches\tand a spare battery."),
            ("list", ["A compass.", "A whistle."]),
            ("table", [["Item", "Weight"], ["Tent", "2.1 kg"]]),
        ]
    )
    parsed = parse(data, "manual.odt")
    assert parsed.markdown_headings and parsed.media_type == "application/vnd.oasis.opendocument.text"
    assert parsed.text == (
        "# Field manual\n\nRead this first.\n\n## Kit\n\nPack two torches and a spare battery.\n\n"
        "- A compass.\n- A whistle.\n\nItem: Tent | Weight: 2.1 kg"
    )


def test_odt_merged_cells_keep_the_columns_of_the_cells_after_them():
    document = OpenDocumentText()
    table = Table(name="T")
    for cells in (["Item", "Weight", "Note"], ["Tent", None, "shared"]):  # None: covered by the cell before it
        row = TableRow()
        for value in cells:
            cell = CoveredTableCell() if value is None else TableCell(numbercolumnsspanned=2 if value == "Tent" else 1)
            if value:
                cell.addElement(P(text=value))
            row.addElement(cell)
        table.addElement(row)
    document.text.addElement(table)
    out = io.BytesIO()
    document.write(out)
    assert parse(out.getvalue(), "merged.odt").text == "Item: Tent | Note: shared"


# --- RTF -----------------------------------------------------------------------------------------------------

CHINESE = "模型在二零二三年四月发布，参数规模为一百二十亿。"
TRADITIONAL = "會議在週三下午舉行，地點是台北的第二會議室。"


@pytest.mark.parametrize(
    ("paragraphs", "ansicpg", "unicode_escapes"),
    [
        (["Café prices rose by 5 € in Zürich.", "Second paragraph."], 1252, False),
        ([CHINESE, "English after Chinese."], 936, False),
        ([TRADITIONAL], 950, False),
        ([CHINESE, TRADITIONAL, "naïve ✓"], 1252, True),
    ],
    ids=["windows-1252", "gbk-code-page", "big5-code-page", "unicode-escapes"],
)
def test_rtf_text_in_its_code_page(paragraphs, ansicpg, unicode_escapes):
    parsed = parse(make_rtf(paragraphs, ansicpg, unicode_escapes), "note.rtf")
    assert parsed.text == "\n\n".join(paragraphs)  # the info group (title) and font table are not text


def test_rtf_table_rows_are_labelled_by_its_header():
    row = "\\trowd\\cellx2000\\cellx4000 {cells}\\row\n"
    table = "".join(
        row.format(cells="".join(f"{c}\\cell " for c in cells)) for cells in (["City", "Limit"], ["Zurich", "250"])
    )
    rtf = "{\\rtf1\\ansi\\ansicpg1252 Before.\\par\n" + table + "\\pard After.\\par\n}"
    assert parse(rtf.encode("ascii"), "t.rtf").text == "Before.\n\nCity: Zurich | Limit: 250\n\nAfter."


def test_rtf_that_is_not_rtf():
    with pytest.raises(UnsupportedFileType, match=r"not an RTF document"):
        parse(b"plain words", "note.rtf")


# --- EPUB ----------------------------------------------------------------------------------------------------


def test_epub_chapters_in_spine_order_with_their_headings():
    data = make_epub(
        [
            ("b.xhtml", "<h1>Chapter Two</h1><p>The lighthouse keeper was called Morag.</p>"),
            ("a.xhtml", "<h1>Chapter One</h1><h2>Arrival</h2><p>The boat landed at dawn.</p>"),
        ],
        spine=[1, 0],
    )
    parsed = parse(data, "book.epub")
    assert parsed.markdown_headings
    assert parsed.text == (
        "# Chapter One\n\n## Arrival\n\nThe boat landed at dawn.\n\n"
        "# Chapter Two\n\nThe lighthouse keeper was called Morag."
    )


# --- e-mail --------------------------------------------------------------------------------------------------


def test_eml_headers_plain_body_and_attachments():
    parsed = parse(sample_eml(), "survey.eml")
    text = parsed.text
    assert text.startswith(
        "# Boat schedule for the island survey\n\n"
        "From: Ana Silva <ana@example.com>\nTo: Field Team <team@example.com>\nCc: Raj <raj@example.com>\n"
        "Date: Mon, 30 Nov 2026 09:15:00 +0100\n\n"
        "Hello team,\n\nThe ferry to Rona leaves the harbour at 06:40 on Thursday. Bring waterproof boots; the jetty "
        "at Rona is slippery.\n\nBest, Ana\n\n"
    )
    assert "HTML copy" not in text  # the plain body is preferred
    assert "## Attachment: crew.csv\n\nname: Mei Lin; role: skipper; boat: Kittiwake\nname: 王芳" in text or (
        "## Attachment: crew.csv\n\nname: Mei Lin | role: skipper | boat: Kittiwake" in text and "王芳" in text
    )
    assert text.endswith(
        "## Attachment: map.png\n\nNot indexed (image/png, about 72 bytes); upload it on its own to index it."
    )
    at = text.index("Kittiwake")
    assert parsed.provenance(at, at + 5)[0] == "attachment crew.csv"
    assert parsed.provenance(text.index("ferry"), text.index("ferry") + 5)[0] == "message body"
    assert parsed.provenance(text.index("ferry"), at)[0] == "message body – attachment crew.csv"


def test_eml_html_only_body_and_markdown_attachment_headings_are_nested():
    message = EmailMessage()
    message["From"], message["Subject"] = "ops@example.com", "Outage report"
    message.set_content("<h1>Summary</h1><p>The <b>east</b> pump failed at noon.</p>", subtype="html")
    message.add_attachment(b"# Timeline\n\nPower was restored at 14:05.\n", maintype="text", subtype="markdown",
                           filename="timeline.md")  # fmt: skip
    parsed = parse(message.as_bytes(), "outage.eml")
    assert "# Outage report\n\nFrom: ops@example.com\n\n## Summary\n\nThe east pump failed at noon." in parsed.text
    assert parsed.text.endswith("## Attachment: timeline.md\n\n### Timeline\n\nPower was restored at 14:05.")


def test_eml_forwarded_message_is_rendered_inside():
    inner = EmailMessage()
    inner["From"], inner["Subject"] = "vendor@example.com", "Quote 7731"
    inner.set_content("The quoted price for the crane is 18,400 euros.")
    outer = EmailMessage()
    outer["From"], outer["Subject"] = "me@example.com", "Fwd: Quote 7731"
    outer.set_content("See below.")
    outer.add_attachment(inner)
    parsed = parse(outer.as_bytes(), "fwd.eml")
    assert "## Attached message: message/rfc822\n\n### Quote 7731\n\nFrom: vendor@example.com" in parsed.text
    at = parsed.text.index("18,400")
    assert parsed.provenance(at, at + 3)[0] == "attachment message/rfc822"


# --- through the indexer and the answer pipeline -------------------------------------------------------------


def _answer(tmp_path, data: bytes, name: str, question: str):
    services = fake_services(tmp_path / "data")
    services.indexer.ingest_bytes(data, name)
    services.indexer.ingest_bytes(
        b"# Canteen\n\nThe canteen serves soup on Mondays. Coffee is free before nine.", "canteen.md"
    )  # another document, so retrieval has to choose
    return services.pipeline.answer(question)


@pytest.mark.parametrize(
    ("data", "name", "question", "fact", "page", "location"),
    [
        (make_pptx(DECK), "deck.pptx", "Where does the Leeds depot move?", "Wakefield in March", 2, "slide 2"),
        (make_pptx(DECK), "deck.pptx", "How long does the Wakefield lease run?", "fifteen years", 2, "slide 2"),
        (make_pptx(DECK), "deck.pptx", "Which partner runs Riga to Tilbury?", "Baltic Line", 4, "slide 4"),
        (sample_eml(), "survey.eml", "When does the ferry to Rona leave the harbour?", "06:40", None, "message body"),
        (sample_eml(), "survey.eml", "Which boat does Mei Lin skipper?", "Kittiwake", None, "attachment crew.csv"),
    ],
    ids=["slide-bullet", "speaker-notes", "slide-table", "mail-body", "mail-attachment"],
)
def test_a_fact_only_this_file_holds_is_answered_and_cited_to_its_place(
    tmp_path, data, name, question, fact, page, location
):
    answer = _answer(tmp_path, data, name, question)
    assert answer.answer_type not in ("abstained", "no_documents"), answer.answer
    citation = answer.citations[0]
    assert citation.source == name and fact in citation.quote
    assert citation.page == page
    # a chunk's location names the first and last part it overlaps (slides, attachments): the quote's is one
    first, _, last = citation.location.partition(" – ")
    assert location in (first, last)
    assert parse(data, name).text[citation.quote_start : citation.quote_end] == citation.quote


@pytest.mark.parametrize(
    ("data", "name", "question", "fact"),
    [
        (make_odt([("h1", "Kit"), ("p", "Every walker carries a yellow whistle.")]), "kit.odt",
         "What colour is the whistle every walker carries?", "yellow whistle"),
        (make_rtf([CHINESE, "The Osprey model was released in April."], 936), "osprey.rtf",
         "When was the Osprey model released?", "April"),
        (make_epub([("a.xhtml", "<h1>Keeper</h1><p>The lighthouse keeper was called Morag.</p>")], [0]),
         "book.epub", "What was the lighthouse keeper called?", "Morag"),
    ],
    ids=["odt", "rtf", "epub"],
)  # fmt: skip
def test_odt_rtf_and_epub_answer_from_their_text(tmp_path, data, name, question, fact):
    answer = _answer(tmp_path, data, name, question)
    assert answer.citations and answer.citations[0].source == name and fact in answer.citations[0].quote


# --- bad input -----------------------------------------------------------------------------------------------


def zip_bomb(member: str, size: int) -> bytes:
    """A zip whose ``member`` inflates to ``size`` bytes of one repeated byte, written in 1 MB pieces."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open(member, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as stream,
    ):
        for left in range(size, 0, -(1 << 20)):
            stream.write(b" " * min(left, 1 << 20))
    return out.getvalue()


def _huge_text_attachment() -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = "a@example.com", "Export"
    message.set_content("The export is attached.")
    message.add_attachment(b"id,value\n" + b"1,x\n" * (mail.MAX_TEXT_ATTACHMENT_BYTES // 4 + 1), maintype="text",
                           subtype="csv", filename="export.csv")  # fmt: skip
    return message.as_bytes()


GOOD_PPTX = make_pptx(DECK)
MORE_BAD_INPUTS = {  # checked by test_formats.py with its own bad inputs
    "zip bomb as pptx": (
        zip_bomb("ppt/presentation.xml", parsed_module.MAX_ZIP_UNCOMPRESSED_BYTES + 1),
        "deck.pptx",
        FileTooLarge,
        r"would expand to \d+ bytes when unpacked; the limit is 209715200",
    ),
    "corrupt pptx": (
        make_zip({"ppt/presentation.xml": b"<not-xml", "[Content_Types].xml": b"<Types/>"}),
        "deck.pptx",
        UnreadableDocument,
        r"could not be read as a PowerPoint presentation.*save it as \.pptx again",
    ),
    "truncated pptx": (GOOD_PPTX[: len(GOOD_PPTX) // 2], "deck.pptx", UnsupportedFileType, r"not a zip archive"),
    "text named pptx": (b"slide notes", "deck.pptx", UnsupportedFileType, r"not a zip archive.*\.ppt files"),
    "corrupt odt": (make_zip({"content.xml": b"<oops"}), "a.odt", UnreadableDocument, r"OpenDocument text"),
    "epub without package": (
        make_zip({"META-INF/container.xml": b"<container/>"}),
        "b.epub",
        UnreadableDocument,
        r"EPUB e-book: its package is damaged",
    ),
    "drm epub": (
        make_epub(
            [("a.xhtml", "<p>x</p>")],
            [0],
            extra={"META-INF/encryption.xml": b'<encryption><CipherReference URI="OEBPS/text/a.xhtml"/></encryption>'},
        ),
        "c.epub",
        UnreadableDocument,
        r"protected by DRM.*without DRM",
    ),
    "huge mail attachment": (
        _huge_text_attachment(),
        "export.eml",
        FileTooLarge,
        r"attachment export\.csv of 10\.0 MB",
    ),
    "binary named eml": (b"\x89PNG\r\n\x1a\n\x00\x00", "m.eml", UnsupportedFileType, r"binary.*\.eml"),
    "text named eml": (b"Just a note.\n\nNo headers.", "m.eml", UnsupportedFileType, r"no From, To, Date or Subject"),
}


@pytest.mark.parametrize(
    ("required", "name"),
    [("ppt/presentation.xml", "deck.pptx"), ("content.xml", "a.odt"), ("META-INF/container.xml", "b.epub")],
)
def test_zip_bombs_in_the_shape_of_each_package_are_refused_unopened(required, name, monkeypatch):
    def must_not_open(*args, **kwargs):
        raise AssertionError("a library was handed a zip bomb")

    monkeypatch.setattr(office, "Presentation", must_not_open)
    monkeypatch.setattr(office, "load_odf", must_not_open)
    bomb = zip_bomb(required, 8 << 20)  # far below the size limit, far over 200 to 1
    with pytest.raises(FileTooLarge, match=r"looks like a zip bomb") as err:
        parse(bomb, name)
    assert err.value.status_code == 413


def test_refused_files_leave_the_index_unchanged(tmp_path):
    services = fake_services(tmp_path / "data")
    kept = services.indexer.ingest_bytes(GOOD_PPTX, "deck.pptx").document
    before = (services.registry.count(), services.store.count())
    for data, name, error, _ in MORE_BAD_INPUTS.values():
        with pytest.raises(error):
            services.indexer.ingest_bytes(data, name)
    assert (services.registry.count(), services.store.count()) == before
    assert [d.id for d in services.registry.list()] == [kept.id]


# --- with the real models ------------------------------------------------------------------------------------


@pytest.mark.integration
def test_the_real_models_answer_from_a_slide_and_an_attachment(tmp_path, model_cache):
    """The bundled embedder, model and answerability check, as the service runs them: the answer quotes the slide
    and the attachment that hold the fact, and the citation says which."""
    from rag.config import Settings
    from rag.models.answerability import AnswerabilityModel
    from rag.models.embedder import SentenceEmbedder
    from rag.models.llm import LLM
    from service import build

    services = build(
        Settings(data_dir=tmp_path / "data", cache_dir=model_cache, auth=False),
        embedder=SentenceEmbedder.load("default", "openvino", model_cache),
        llm=LLM.load("default"),
        answerability=AnswerabilityModel.load("default", model_cache),
    )
    services.indexer.ingest_bytes(make_pptx(DECK), "deck.pptx")
    services.indexer.ingest_bytes(sample_eml(), "survey.eml")
    slide = services.pipeline.answer("Where does the Leeds depot move to?")
    assert "Wakefield" in slide.answer, slide.answer
    assert (slide.citations[0].source, slide.citations[0].page) == ("deck.pptx", 2)
    crew = services.pipeline.answer("Which boat does Mei Lin skipper?")
    assert "Kittiwake" in crew.answer, crew.answer
    assert crew.citations[0].source == "survey.eml" and crew.citations[0].location.startswith("attachment crew.csv")
