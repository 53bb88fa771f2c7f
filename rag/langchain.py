"""LangChain faces over the same code, so users can put our retriever and model into their own chains.

``DocumentRetriever`` is a ``BaseRetriever`` returning LangChain ``Document``s (chunk text plus all provenance
in ``metadata``); ``OpenVINOLLM`` is a LangChain ``LLM`` over the service's model (in process or remote), with its stop
strings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models.llms import LLM as LangChainLLM
from langchain_core.outputs import GenerationChunk
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from rag.models.ports import GenerationParams, LanguageModel
from rag.retrieval import RetrievalOptions, Retriever


class DocumentRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    options: RetrievalOptions = Field(default_factory=RetrievalOptions)
    collection: str | None = Field(default=None, description="only this collection's documents (None: all)")

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        chunks = self.retriever.retrieve(query, self.options, collection=self.collection)
        return [Document(page_content=c.text, metadata=c.model_dump(exclude={"text"}), id=c.chunk_id) for c in chunks]


class OpenVINOLLM(LangChainLLM):
    """Text in, text out. Prompts are sent as given: format them for the model's family yourself
    (``llm.family.format(user=..., system=...)``), as the service does."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: LanguageModel
    params: GenerationParams = Field(default_factory=GenerationParams)

    @property
    def _llm_type(self) -> str:
        return "openvino-genai"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.llm.name, "family": self.llm.family.name, **self.params.model_dump()}

    def _params(self, stop: list[str] | None) -> GenerationParams:
        return self.params.model_copy(update={"stop": [*self.params.stop, *(stop or [])]})

    def _call(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        return self.llm.generate(prompt, self._params(stop)).text

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        for delta in self.llm.stream(prompt, self._params(stop)):
            chunk = GenerationChunk(text=delta)
            if run_manager:
                run_manager.on_llm_new_token(delta, chunk=chunk)
            yield chunk
