"""Our retriever and model inside a user's own LangChain chain (LCEL), with the real models."""

import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnablePassthrough

from ingest.chunking import Chunker
from ingest.indexer import Indexer
from rag.keyword import KeywordIndex
from rag.langchain import DocumentRetriever, OpenVINOLLM
from rag.models.ports import GenerationParams
from rag.retrieval import RetrievalOptions, Retriever
from rag.store.chunks import ChunkStore
from rag.store.registry import Registry

pytestmark = pytest.mark.integration

DOC = (
    b"# Zephyr Kitchen\n\nThe secret ingredient in the Zephyr Kitchen tomato soup is smoked paprika.\n\n"
    b"The kitchen closes at 21:30 every day."
)


def test_a_users_chain_with_our_retriever_and_llm(tmp_path, embedder, llm):
    registry = Registry.from_url(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    store = ChunkStore.persistent(tmp_path / "chroma", "chain-test")
    Indexer(registry, store, embedder, Chunker(embedder.count_tokens, 40, 0), max_bytes=10**6).ingest_bytes(
        DOC, "zephyr.md"
    )
    retriever = DocumentRetriever(
        retriever=Retriever(embedder, store, registry, KeywordIndex(store, registry)),
        options=RetrievalOptions(top_k=1),
    )
    docs = retriever.invoke("What is the secret ingredient in the soup?")
    assert len(docs) == 1 and "smoked paprika" in docs[0].page_content
    assert docs[0].metadata["source"] == "zephyr.md" and docs[0].metadata["start"] >= 0

    template = llm.family.format(
        user="Context: {context}\n\nQuestion: {question}", system="Answer in one short sentence from the context."
    )
    chain = (
        {"context": retriever | (lambda ds: " ".join(d.page_content for d in ds)), "question": RunnablePassthrough()}
        | PromptTemplate.from_template(template)
        | OpenVINOLLM(llm=llm, params=GenerationParams(max_new_tokens=40))
        | StrOutputParser()
    )
    answer = chain.invoke("What is the secret ingredient in the soup?")
    assert "paprika" in answer.lower() and "<|im_end|>" not in answer

    streamed = "".join(
        OpenVINOLLM(llm=llm, params=GenerationParams(max_new_tokens=12)).stream(
            llm.family.format(user="Say hello.", system="")
        )
    )
    assert streamed.strip() and "<|im" not in streamed
