"""The FastAPI application. Routers stay thin: they validate, call a service, and shape the reply."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import add_error_handlers
from api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from api.routers import conversations, documents, health, jobs, keys, openai, query, sources, ui
from rag.config import Settings
from service import Services, build

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app; pass ``services`` to reuse components already loaded (the CLI and tests do)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if getattr(app.state, "services", None) is None:
            app.state.services = build(settings or Settings())
        services: Services = app.state.services
        if services.settings.auth:
            # First start with auth on: an admin key in DATA_DIR/admin-key (mode 0600), so `make run` just works.
            services.keys.ensure_admin_key(services.settings.admin_key_path)
        else:
            log.warning("RAG_AUTH=false: the /v1 API needs no key; anyone who can reach this port can use it")
        services.retriever.warm_up()
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

    add_error_handlers(app)

    app.include_router(health.router)
    app.include_router(documents.router)
    app.include_router(jobs.router)
    app.include_router(sources.router)
    app.include_router(query.router)
    app.include_router(conversations.router)
    app.include_router(openai.router)
    app.include_router(keys.router)
    app.include_router(ui.router)
    app.mount("/static", ui.static_files(), name="static")
    return app
