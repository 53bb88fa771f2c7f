from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import get_services
from api.schemas import Health
from api.services import Services

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness, with index size and model in use")
def healthz(services: Services = Depends(get_services)) -> Health:
    return Health(
        status="ok",
        documents=services.registry.count(),
        chunks=services.store.count(),
        llm=services.llm.name if services.llm else None,
        prompt_family=services.llm.family.name if services.llm else None,
    )
