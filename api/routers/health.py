"""Probes and metrics for operators: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api.deps import ServicesDep
from api.schemas import Health, Readiness
from rag import metrics

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness, with index size and model in use")
def healthz(services: ServicesDep) -> Health:
    return Health(
        status="ok",
        documents=services.registry.count(),
        chunks=services.store.count(),
        llm=services.llm.name if services.llm else None,
        prompt_family=services.llm.family.name if services.llm else None,
    )


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "not ready: `checks` names what is not ready and why"}},
    summary="Readiness: models loaded, chunk store and registry answering",
)
def readyz(services: ServicesDep) -> JSONResponse:
    checks = services.readiness()
    ready = all(state == "ok" for state in checks.values())
    failing = [f"{name} ({state})" for name, state in checks.items() if state != "ok"]
    body = Readiness(
        status="ready" if ready else "not ready",
        checks=checks,
        detail=None if ready else "not ready: " + "; ".join(failing),
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format"}},
    summary="Prometheus metrics: requests and latency by route, tokens, ingest and jobs",
)
def prometheus_metrics() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
