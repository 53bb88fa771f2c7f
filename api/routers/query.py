from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import get_pipeline
from api.schemas import QueryRequest, QueryResponse
from rag.models.llm import GenerationParams
from rag.pipeline import RAGPipeline

router = APIRouter(prefix="/v1", tags=["query"])


@router.post(
    "/query",
    response_model=QueryResponse,
    summary="Answer a question from the indexed documents, with citations",
)
def query(body: QueryRequest, pipeline: RAGPipeline = Depends(get_pipeline)) -> QueryResponse:
    params = GenerationParams(max_new_tokens=body.max_new_tokens or pipeline.default_max_new_tokens)
    answer = pipeline.answer(body.question, top_k=body.top_k, params=params)
    return QueryResponse(**answer.model_dump())
