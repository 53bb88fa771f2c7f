import pytest

from ingest.errors import EmptyDocument, UnsupportedFileType
from ingest.ocr import IMAGE_SUFFIXES
from ingest.parsers import parse, supported_suffixes

TEXT_SUFFIXES = [".txt", ".text", ".md", ".markdown", ".html", ".htm", ".csv", ".json"]
MORE_SUFFIXES = [".pptx", ".odt", ".rtf", ".epub", ".eml"]  # tests/unit/test_more_formats.py


def test_text_and_markdown():
    plain = parse(b"hello\n", "a.txt")
    markdown = parse(b"# T\nbody", "notes.MD")
    assert (plain.media_type, plain.markdown_headings) == ("text/plain", False)
    assert (markdown.media_type, markdown.markdown_headings) == ("text/markdown", True)


def test_every_format_is_listed():
    listed = [*TEXT_SUFFIXES, ".pdf", ".docx", ".xlsx", ".ods", *IMAGE_SUFFIXES, *MORE_SUFFIXES]
    assert supported_suffixes() == sorted(listed)


def test_bom_and_crlf_are_normalised():
    parsed = parse(b"\xef\xbb\xbfline one\r\nline two\rthree", "a.txt")
    assert parsed.text == "line one\nline two\nthree"


def test_unsupported_type_lists_accepted_types():
    with pytest.raises(UnsupportedFileType, match=r"accepted types are .*\.md.*\.txt") as err:
        parse(b"MZ\x90\x00", "tool.exe")
    assert err.value.status_code == 415
    assert all(suffix in str(err.value) for suffix in supported_suffixes())


def test_binary_named_txt_is_rejected():
    with pytest.raises(UnsupportedFileType, match="binary"):
        parse(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "picture.txt")


@pytest.mark.parametrize("suffix", TEXT_SUFFIXES)
@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (b"%PDF-1.7\n%binary", "looks like a PDF"),
        (b"\xef\xbb\xbf%PDF-1.4\n", "looks like a PDF"),
        (b"PK\x03\x04\x14\x00\x06\x00", "looks like a zip archive"),
        (b"plain start, then a NUL\x00byte", "binary"),
    ],
)
def test_binary_content_under_a_text_name_is_rejected(suffix, data, looks_like):
    with pytest.raises(UnsupportedFileType, match=looks_like) as err:
        parse(data, f"file{suffix}")
    assert err.value.status_code == 415


def test_legacy_encoding_is_read_and_noise_says_how_to_fix():
    assert parse("café".encode("latin-1"), "menu.txt").text == "café"  # tests/unit/test_encodings.py has more
    with pytest.raises(UnsupportedFileType, match="save it as UTF-8"):
        parse(bytes(range(1, 256)) * 16, "menu.txt")


@pytest.mark.parametrize("data", [b"", b"   \n\t  "])
def test_empty_files(data):
    with pytest.raises(EmptyDocument):
        parse(data, "empty.txt")
