"""Errors a user can fix. Each message says what was wrong and what would be accepted."""

from __future__ import annotations


class IngestError(ValueError):
    """Base class: the input cannot be indexed. ``status_code`` is the HTTP status the API answers with."""

    status_code = 400


class UnsupportedFileType(IngestError):
    status_code = 415


class FileTooLarge(IngestError):
    status_code = 413


class EmptyDocument(IngestError):
    status_code = 422


class UnreadableDocument(IngestError):
    status_code = 422


class InvalidFilename(IngestError):
    status_code = 400
