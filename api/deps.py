"""FastAPI dependencies: how a route reaches the services built at start-up."""

from __future__ import annotations

from fastapi import HTTPException, Request

from api.services import Services
from rag.models.llm import LanguageModel
from rag.pipeline import RAGPipeline


def get_services(request: Request) -> Services:
    return request.app.state.services


def get_pipeline(request: Request) -> RAGPipeline:
    pipeline = get_services(request).pipeline
    if pipeline is None:
        raise HTTPException(status_code=503, detail="the language model is not loaded in this process")
    return pipeline


def get_llm(request: Request) -> LanguageModel:
    llm = get_services(request).llm
    if llm is None:
        raise HTTPException(status_code=503, detail="the language model is not loaded in this process")
    return llm
