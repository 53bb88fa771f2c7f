"""File bytes to plain text, with the file type decided from the content as well as the name.

Every parser returns the exact text that chunk offsets refer to, so ``parsed.text[start:end]`` is a chunk.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath

from ingest.errors import EmptyDocument, UnreadableDocument, UnsupportedFileType


@dataclass(frozen=True)
class PageSpan:
    page: int  # 1-based
    start: int
    end: int


@dataclass
class ParsedDocument:
    text: str
    media_type: str
    pages: list[PageSpan] = field(default_factory=list)

    def page_at(self, offset: int) -> int | None:
        for span in self.pages:
            if span.start <= offset < span.end:
                return span.page
        return None


def _decode_text(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise UnsupportedFileType(
            f"{name} looks like a binary file (it contains NUL bytes), not text; "
            f"upload one of: {', '.join(sorted(PARSERS))}"
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableDocument(
            f"{name} is not valid UTF-8 (byte {exc.start}); save it as UTF-8 and upload it again"
        ) from None
    # Normalise line endings so offsets do not depend on the platform that wrote the file.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_text(data: bytes, name: str) -> ParsedDocument:
    return ParsedDocument(text=_decode_text(data, name), media_type="text/plain")


def parse_markdown(data: bytes, name: str) -> ParsedDocument:
    return ParsedDocument(text=_decode_text(data, name), media_type="text/markdown")


Parser = Callable[[bytes, str], ParsedDocument]

PARSERS: dict[str, Parser] = {
    ".txt": parse_text,
    ".text": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
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
