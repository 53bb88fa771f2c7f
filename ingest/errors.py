"""Errors a user can fix. Each message says what was wrong and what would be accepted.

Each error is one of the kinds of rag/errors.py, which decides the HTTP status the API answers with.
"""

from __future__ import annotations

from rag.errors import InvalidRequest, RAGError, TooLarge, Unprocessable, UnsupportedMediaType


class IngestError(RAGError):
    """Base class: the input cannot be indexed."""


class UnsupportedFileType(IngestError, UnsupportedMediaType):
    pass


class FileTooLarge(IngestError, TooLarge):
    pass


class EmptyDocument(IngestError, Unprocessable):
    pass


class UnreadableDocument(IngestError, Unprocessable):
    pass


class InvalidFilename(IngestError, InvalidRequest):
    pass
