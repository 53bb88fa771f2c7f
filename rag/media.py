"""The file types the service indexes: the name a retrieval filter gives each (``file_types``), and the media
type its parser records with the document (ingest/parsers.py). One table, read by both, so that a filter can
name every type ingestion records and nothing else.
"""

from __future__ import annotations

from typing import Literal, get_args

FileType = Literal[
    "txt", "md", "html", "pdf", "docx", "csv", "json",
    "png", "jpeg", "tiff", "xlsx", "ods", "pptx", "epub", "eml", "odt", "rtf",
]  # fmt: skip

FILE_TYPES: dict[FileType, str] = {
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "csv": "text/csv",
    "json": "application/json",
    "png": "image/png",  # images are read by OCR (#17)
    "jpeg": "image/jpeg",
    "tiff": "image/tiff",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "epub": "application/epub+zip",
    "eml": "message/rfc822",
    "odt": "application/vnd.oasis.opendocument.text",
    "rtf": "application/rtf",
}

if set(FILE_TYPES) != set(get_args(FileType)):  # pragma: no cover - a table edited without its names
    raise RuntimeError("rag/media.py: FILE_TYPES and FileType must name the same file types")
