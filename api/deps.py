"""FastAPI dependencies: how a route reaches the services built at start-up.

Routes declare what they need by type, with the aliases below (``services: ServicesDep``); who is calling is in
api/auth.py (``ReadCaller``, ``WriteCaller``, ``AdminCaller``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from rag.models.ports import LanguageModel
from rag.models.profile import EVIDENCE
from rag.options import RequestDefaults
from rag.pipeline import RAGPipeline
from service import Services

_NO_LLM = "the language model is not loaded in this process"


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_pipeline(services: ServicesDep) -> RAGPipeline:
    if services.pipeline is None:
        raise HTTPException(status_code=503, detail=_NO_LLM)
    return services.pipeline


def get_llm(services: ServicesDep) -> LanguageModel:
    if services.llm is None:
        raise HTTPException(status_code=503, detail=_NO_LLM)
    return services.llm


def get_request_defaults(services: ServicesDep) -> RequestDefaults:
    """What a request leaves unset is filled in as the pipeline would: from the settings (RAG_TOP_K,
    RAG_MAX_NEW_TOKENS) and, where those leave it open, the model profile's answer length."""
    if services.pipeline is not None:
        return services.pipeline.defaults
    answer_tokens = services.settings.max_new_tokens or EVIDENCE.max_answer_tokens
    return RequestDefaults(top_k=services.settings.top_k, max_new_tokens=answer_tokens)


PipelineDep = Annotated[RAGPipeline, Depends(get_pipeline)]
LLMDep = Annotated[LanguageModel, Depends(get_llm)]
DefaultsDep = Annotated[RequestDefaults, Depends(get_request_defaults)]
