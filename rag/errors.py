"""The one error base, and the kinds of error a caller can act on.

Library code (rag/, ingest/) raises one of these kinds and says in its message what was wrong and what would be
accepted; it never names an HTTP status itself. Each kind's ``status_code`` is the HTTP status the API answers
with, decided here once, and the API turns any ``RAGError`` into ``{"detail": message}`` with that status in one
exception handler (api/errors.py). The CLI prints the message.
"""

from __future__ import annotations


class RAGError(Exception):
    """Base of every error whose message is meant for the person who sent the request."""

    status_code: int = 500


class InvalidRequest(RAGError):
    """The request is malformed (a bad name or path); nothing was done."""

    status_code = 400


class Forbidden(RAGError):
    """The request is well formed but not allowed (a folder outside the allowed roots)."""

    status_code = 403


class NotFound(RAGError):
    status_code = 404


class Conflict(RAGError):
    """The request clashes with what exists (a folder already registered)."""

    status_code = 409


class TooLarge(RAGError):
    status_code = 413


class UnsupportedMediaType(RAGError):
    status_code = 415


class Unprocessable(RAGError):
    """Well-formed input that cannot be used as it is (an empty or unreadable file, a question too long for the
    model's window)."""

    status_code = 422


class UpstreamError(RAGError):
    """A service we depend on (a remote LLM) failed. The status says how: 502 a bad reply, 503 unreachable,
    504 too slow."""

    status_code = 502

    def __init__(self, message: str, status_code: int = 502) -> None:
        super().__init__(message)
        self.status_code = status_code
