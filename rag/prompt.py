"""The prompt stage: the RAG prompt (numbered evidence sentences and the question, in the model's family format)
and fitting it into the model's context window.

What a family's prompt looks like is knowledge about models (rag/models/families.py); what this one asks of
the model is knowledge about answers, and lives here.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.errors import Unprocessable
from rag.evidence import Evidence
from rag.models.families import PromptFamily
from rag.models.ports import LanguageModel

SYSTEM_PROMPT = (
    "Answer the question in one short sentence, using only the numbered facts. "
    "Copy names, numbers and dates exactly as the facts give them, and cite the fact you used like [1]."
)


class ContextOverflow(Unprocessable):
    """Even one evidence sentence does not fit: the request itself is too large for the model."""


def render_evidence(evidence: Sequence[Evidence]) -> str:
    return "\n".join(f"[{e.number}] {e.sentence.flat}" for e in evidence)


def build_rag_prompt(family: PromptFamily, question: str, evidence: Sequence[Evidence]) -> str:
    user = f"Facts:\n{render_evidence(evidence)}\n\nQuestion: {question.strip()}"
    return family.format(user=user, system=SYSTEM_PROMPT)


def fit_to_window(
    llm: LanguageModel, question: str, evidence: list[Evidence], max_new_tokens: int
) -> tuple[list[Evidence], str]:
    """Drop the lowest-ranked evidence until prompt plus answer fit the model's window, counted with the
    model's own tokenizer."""
    budget = llm.context_window - max_new_tokens
    kept = list(evidence)
    prompt = build_rag_prompt(llm.family, question, kept)
    while len(kept) > 1 and llm.count_tokens(prompt) > budget:
        kept.pop()
        prompt = build_rag_prompt(llm.family, question, kept)
    if llm.count_tokens(prompt) > budget:
        raise ContextOverflow(
            f"the question and its best evidence need more than the model's {llm.context_window} tokens "
            f"with max_new_tokens={max_new_tokens}; ask a shorter question or lower max_new_tokens"
        )
    return kept, prompt
