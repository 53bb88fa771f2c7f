"""ASGI middleware: request ids, access log and HTTP metrics; request body size limits.

Both are plain ASGI (not Starlette's BaseHTTPMiddleware), so streamed answers pass through untouched and a
stream's duration is measured until its last byte.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import request_id
from rag import metrics

access_log = logging.getLogger("api.access")
log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is reused only if it is short and plain, so it cannot forge log lines or bloat them.
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Probes and scrapes arrive every few seconds; their access lines go to DEBUG to keep the log readable.
_QUIET_ROUTES = {"/healthz", "/readyz", "/metrics"}
UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The path template of the route that handled the request (``/v1/documents/{document_id}``), never the
    raw path, so that metric labels stay few; ``unmatched`` for paths no route serves."""
    return getattr(scope.get("route"), "path", None) or UNMATCHED


class RequestContextMiddleware:
    """Gives every request an id (the client's ``X-Request-ID`` or a new uuid) for its log lines and echoes it
    in the response; counts the request and its latency by route; writes one access line; turns an unhandled
    error into a JSON 500 that names the request id, so a report can be matched to the traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER)
        rid = incoming if incoming and _VALID_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            status = 500
            if response_started:
                raise  # the client already has a status line; let the server drop the connection
            detail = f"internal server error; the service log has the details under request id {rid}"
            await JSONResponse({"detail": detail}, status_code=500, headers={REQUEST_ID_HEADER: rid})(
                scope, receive, send
            )
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            metrics.HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            metrics.HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
            access_log.log(
                logging.DEBUG if route in _QUIET_ROUTES else logging.INFO,
                '"%s %s" %d %.1fms',
                scope["method"],
                scope["path"],
                status,
                elapsed * 1000,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": scope["client"][0] if scope.get("client") else None,
                },
            )
            request_id.reset(token)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit; FastAPI passes HTTPExceptions through its
    body parsing unchanged, so the client gets this 413 and its message."""

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes, the limit set by {setting}")


class BodyLimitMiddleware:
    """Refuses request bodies over a limit with 413, without reading them into memory: with a declared
    Content-Length over the limit the first read fails before a byte is read, and a body without one (chunked)
    is counted as it streams in and cut off at the limit. Multipart uploads get the upload limit plus room for the
    form's framing, so a file just over RAG_MAX_UPLOAD_BYTES still gets the indexer's precise message."""

    MULTIPART_OVERHEAD = 64 * 1024

    def __init__(self, app: ASGIApp, max_request_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if headers.get("content-type", "").lower().startswith("multipart/form-data"):
            limit, setting = self.max_upload_bytes + self.MULTIPART_OVERHEAD, "RAG_MAX_UPLOAD_BYTES"
        else:
            limit, setting = self.max_request_bytes, "RAG_MAX_REQUEST_BYTES"
        declared = headers.get("content-length", "")
        too_long = declared.isdigit() and int(declared) > limit
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if too_long:  # refused before a byte of the body is read
                raise BodyTooLarge(limit, setting)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, setting)
            return message

        # The limit is enforced where the body is read (after routing, so metrics know the route); a route that
        # never reads the body is not refused.
        await self.app(scope, limited_receive, send)
