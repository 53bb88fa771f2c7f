"""The FastAPI application. Routers stay thin: they validate, call a service, and shape the reply."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from api.routers import documents, health, jobs, keys, openai, query, sources, ui
from api.services import Services
from ingest.errors import IngestError
from rag.config import Settings
from rag.models.remote import RemoteLLMError
from rag.pipeline import ContextOverflow

_FASTAPI_PARSE_ERROR = "There was an error parsing the body"
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app; pass ``services`` to reuse components already loaded (the CLI and tests do)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if getattr(app.state, "services", None) is None:
            app.state.services = Services.build(settings or Settings())
        services: Services = app.state.services
        if services.settings.auth:
            # First start with auth on: an admin key in DATA_DIR/admin-key (mode 0600), so `make run` just works.
            services.keys.ensure_admin_key(services.settings.admin_key_path)
        else:
            log.warning("RAG_AUTH=false: the /v1 API needs no key; anyone who can reach this port can use it")
        if services.settings.scheduler:
            services.jobs.start_scheduler(services.settings.scheduler_tick_s, watch=services.settings.watch)
        yield
        services.jobs.shutdown(wait=True)  # a running upload finishes, a running refresh stops at a safe point

    app = FastAPI(
        title="RAG service",
        version="0.1.0",
        description="Upload documents, ask questions, get answers with citations into your documents.",
        lifespan=lifespan,
    )
    app.state.services = services
    limits = settings or (services.settings if services else Settings())
    # Added last = outermost: the request id and metrics also cover the 413s of the body limit.
    app.add_middleware(
        BodyLimitMiddleware, max_request_bytes=limits.max_request_bytes, max_upload_bytes=limits.max_upload_bytes
    )
    app.add_middleware(RequestContextMiddleware)

    @app.exception_handler(IngestError)
    async def _ingest_error(_request: Request, exc: IngestError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": str(exc)})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers a body it cannot decode with a bare "There was an error parsing the body"; say why.
        if exc.status_code == 400 and exc.detail == _FASTAPI_PARSE_ERROR and exc.__cause__ is not None:
            detail = f"the request body could not be parsed ({exc.__cause__}); send JSON encoded as UTF-8"
            exc = StarletteHTTPException(400, detail=detail, headers=exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(ContextOverflow)
    async def _context_overflow(_request: Request, exc: ContextOverflow) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(RemoteLLMError)
    async def _remote_llm_error(_request: Request, exc: RemoteLLMError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": str(exc)})

    app.include_router(health.router)
    app.include_router(documents.router)
    app.include_router(jobs.router)
    app.include_router(sources.router)
    app.include_router(query.router)
    app.include_router(openai.router)
    app.include_router(keys.router)
    app.include_router(ui.router)
    app.mount("/static", ui.static_files(), name="static")
    return app
