"""E-mail messages (``.eml``) as text, with the standard library's ``email`` package (``policy.default``).

The message becomes one markdown-style document: its subject as the heading, a header block (From, To, Cc,
Date), the body, then each attachment under its own heading. The plain-text body is preferred, as the words the
sender wrote; an HTML-only body is rendered by the HTML parser. Text attachments (txt, md, csv, html, json) are
parsed by their own format's parser, each a region whose location names the attachment, so a citation says where
the words came from; other attachments (PDFs, images, office files) are named with their type and size but not
read: upload them on their own to index them. A forwarded message (``message/rfc822``) is rendered the same way,
nested at most ``MAX_NESTED_MESSAGES`` deep.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage, MIMEPart
from pathlib import PurePath

from ingest.errors import FileTooLarge, IngestError, UnsupportedFileType
from ingest.parsed import ParsedDocument, Region, heading_line, one_line
from rag.media import FILE_TYPES

BLOCK_JOIN = "\n\n"
# A text attachment is parsed with its message; beyond this it should be uploaded as a document of its own.
MAX_TEXT_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_NESTED_MESSAGES = 3
_HEADERS = ("From", "To", "Cc", "Date")
_TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown", ".csv", ".html", ".htm", ".json"})
_TYPE_SUFFIXES = {"text/plain": ".txt", "text/markdown": ".md", "text/csv": ".csv", "text/html": ".html"}
_HEADING_LINE = re.compile(r"^(#{1,6})(?=[ \t])", re.MULTILINE)


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MB" if count >= 1024 * 1024 else f"{count:,} bytes"


def _demote(text: str, levels: int) -> str:
    """Push an attachment's own headings below the attachment's heading (at most level 6)."""
    return _HEADING_LINE.sub(lambda m: "#" * min(6, len(m.group(1)) + levels), text)


def _payload(part: MIMEPart) -> bytes:
    """The part's bytes after transfer decoding (base64, quoted-printable); for text with a declared charset
    that decodes them, re-encoded as UTF-8 so the format's parser does not have to guess."""
    raw = part.get_payload(decode=True)
    data = raw if isinstance(raw, bytes) else b""
    charset = part.get_content_charset()
    if charset and part.get_content_maintype() == "text":
        try:
            return data.decode(charset).encode("utf-8")
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong label: the parser's own detection reads the bytes
    return data


def _body(message: EmailMessage, label: str) -> str:
    from ingest.parsers import parse_html  # ingest/parsers.py imports this module for its table of parsers

    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    if part.get_content_subtype() == "html":
        return parse_html(_payload(part), label).text  # headings are pushed below the subject by the caller
    try:
        text = str(part.get_content())
    except (LookupError, UnicodeDecodeError):  # an unknown charset: read the bytes as the text formats do
        text = _payload(part).decode("utf-8", errors="replace")
    paragraphs = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return BLOCK_JOIN.join(p.strip() for p in paragraphs if p.strip())


class _Renderer:
    """Collects the blocks of a message and its attachments, with a region per attachment."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.text = ""
        self.regions: list[Region] = []

    def add(self, block: str) -> int:
        """Append a block; returns its offset."""
        if not block:
            return len(self.text)
        if self.text:
            self.text += BLOCK_JOIN
        start = len(self.text)
        self.text += block
        return start

    def located(self, start: int, location: str, depth: int) -> None:
        """Record where the text from ``start`` on came from; a forwarded message's parts are inside its region."""
        if depth == 0:
            self.regions.append(Region(start, len(self.text), location=location))

    def message(self, message: EmailMessage, level: int, depth: int) -> None:
        subject = one_line(str(message.get("Subject", "")))
        start = self.add(heading_line(level, subject or "(no subject)"))
        headers = [f"{field}: {one_line(str(message[field]))}" for field in _HEADERS if message[field] is not None]
        self.add("\n".join(headers))
        self.add(_demote(_body(message, f"{self.name} (body)"), level))
        self.located(start, "message body", depth)
        for part in message.iter_attachments():
            if isinstance(part, EmailMessage):
                self.attachment(part, level + 1, depth)

    def attachment(self, part: EmailMessage, level: int, depth: int) -> None:
        from ingest.parsers import PARSERS  # ingest/parsers.py imports this module for its table of parsers

        content_type = part.get_content_type()
        filename = part.get_filename() or ""
        suffix = PurePath(filename).suffix.lower() or _TYPE_SUFFIXES.get(content_type, "")
        title = one_line(filename) or content_type
        location = f"attachment {title}"
        if content_type == "message/rfc822" and depth < MAX_NESTED_MESSAGES:
            forwarded = part.get_content()
            if isinstance(forwarded, EmailMessage):
                start = self.add(heading_line(level, f"Attached message: {title}"))
                self.message(forwarded, level + 1, depth + 1)
                self.located(start, location, depth)
                return
        if suffix not in _TEXT_SUFFIXES or part.get_content_maintype() not in ("text", "application"):
            encoded = len("".join(str(part.get_payload()).split()))  # base64 size, known without decoding the part
            start = self.add(heading_line(level, f"Attachment: {title}"))
            self.add(
                f"Not indexed ({content_type}, about {_size(encoded * 3 // 4)}); upload it on its own to index it."
            )
            self.located(start, location, depth)
            return
        data = _payload(part)
        if len(data) > MAX_TEXT_ATTACHMENT_BYTES:
            raise FileTooLarge(
                f"{self.name} has an attachment {title} of {_size(len(data))}; attachments read with their message "
                f"may be at most {_size(MAX_TEXT_ATTACHMENT_BYTES)}. Save the attachment and upload it on its own, "
                "or remove it from the message, and upload the message again"
            )
        start = self.add(heading_line(level, f"Attachment: {title}"))
        try:
            parsed = PARSERS[suffix](data, f"{title} (attached to {self.name})")
            body = (_demote(parsed.text, level) if parsed.markdown_headings else parsed.text).strip()
        except IngestError as exc:  # a broken attachment does not lose the message: say why it is missing
            body = f"Not indexed: {exc}"
        self.add(body)
        self.located(start, location, depth)


def parse_eml(data: bytes, name: str) -> ParsedDocument:
    if b"\x00" in data:
        raise UnsupportedFileType(
            f"{name} looks like a binary file (it contains NUL bytes), not an e-mail message; save the message "
            "from your mail program as .eml and upload it again"
        )
    message = message_from_bytes(data, policy=policy.default)
    if not isinstance(message, EmailMessage) or not any(message[field] for field in (*_HEADERS, "Subject")):
        raise UnsupportedFileType(
            f"{name} is not an e-mail message (it has no From, To, Date or Subject header); save the message "
            "from your mail program as .eml and upload it again"
        )
    renderer = _Renderer(name)
    renderer.message(message, level=1, depth=0)
    return ParsedDocument(
        text=renderer.text, media_type=FILE_TYPES["eml"], markdown_headings=True, regions=renderer.regions
    )
