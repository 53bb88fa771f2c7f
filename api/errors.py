"""How the API answers an error: one handler for every ``RAGError``, whose kind decides the status.

A route or a library call raises a kind from rag/errors.py (``NotFound``, ``Unprocessable``, ...); the answer is
``{"detail": message}`` with that kind's ``status_code``. Only what FastAPI raises itself (``HTTPException``)
goes through Starlette's handler, with a clearer message for a body that cannot be parsed.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import RAGError

_FASTAPI_PARSE_ERROR = "There was an error parsing the body"


async def rag_error_handler(_request: Request, exc: RAGError) -> JSONResponse:
    return JSONResponse(status_code=exc.status_code, content={"detail": str(exc)})


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> Response:
    # FastAPI answers a body it cannot decode with a bare "There was an error parsing the body"; say why.
    if exc.status_code == 400 and exc.detail == _FASTAPI_PARSE_ERROR and exc.__cause__ is not None:
        detail = f"the request body could not be parsed ({exc.__cause__}); send JSON encoded as UTF-8"
        exc = StarletteHTTPException(400, detail=detail, headers=exc.headers)
    return await http_exception_handler(request, exc)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RAGError, rag_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error_handler)  # type: ignore[arg-type]
