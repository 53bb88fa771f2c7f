import pytest

from ingest.errors import EmptyDocument, UnreadableDocument, UnsupportedFileType
from ingest.parsers import parse


def test_text_and_markdown():
    assert parse(b"hello\n", "a.txt").media_type == "text/plain"
    assert parse(b"# T\nbody", "notes.MD").media_type == "text/markdown"


def test_bom_and_crlf_are_normalised():
    parsed = parse(b"\xef\xbb\xbfline one\r\nline two\rthree", "a.txt")
    assert parsed.text == "line one\nline two\nthree"


def test_unsupported_type_lists_accepted_types():
    with pytest.raises(UnsupportedFileType, match=r"accepted types are .*\.md.*\.txt") as err:
        parse(b"MZ\x90\x00", "tool.exe")
    assert err.value.status_code == 415


def test_binary_named_txt_is_rejected():
    with pytest.raises(UnsupportedFileType, match="binary"):
        parse(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "picture.txt")


def test_invalid_utf8_says_how_to_fix():
    with pytest.raises(UnreadableDocument, match="UTF-8"):
        parse("café".encode("latin-1"), "menu.txt")


@pytest.mark.parametrize("data", [b"", b"   \n\t  "])
def test_empty_files(data):
    with pytest.raises(EmptyDocument):
        parse(data, "empty.txt")
