"""The generation stage: running the model on the prompt, whole or streamed, and recording what it cost
(``Timings`` and the token metrics).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from rag import metrics
from rag.models.ports import GenerationParams, LanguageModel
from rag.timing import elapsed_ms
from rag.types import Timings

# The prompt asks for one sentence; a blank line means the model has moved on to something else.
ANSWER_STOPS = ["\n\n"]


def answer_params(params: GenerationParams) -> GenerationParams:
    """The request's generation settings, with the answer's own stop strings added."""
    return params.model_copy(update={"stop": [*params.stop, *ANSWER_STOPS]})


def generate(llm: LanguageModel, prompt: str, params: GenerationParams, timings: Timings) -> str:
    """The model's draft answer."""
    started = time.perf_counter()
    generation = llm.generate(prompt, params)
    timings.generate_ms = elapsed_ms(started)
    timings.first_token_ms = generation.first_token_ms
    timings.prompt_tokens = generation.prompt_tokens
    timings.generated_tokens = generation.generated_tokens
    metrics.observe_generation(generation.prompt_tokens, generation.generated_tokens)
    return generation.text


class DraftStream:
    """The model's draft as it is decoded: iterate for the text deltas; once they end, ``text`` is the whole
    draft and ``timings`` has what it cost."""

    def __init__(self, llm: LanguageModel, prompt: str, params: GenerationParams, timings: Timings) -> None:
        self.llm = llm
        self.prompt = prompt
        self.params = params
        self.timings = timings
        self.text = ""

    def __iter__(self) -> Iterator[str]:
        llm, timings = self.llm, self.timings
        started = time.perf_counter()
        pieces: list[str] = []
        for delta in llm.stream(self.prompt, self.params):
            if not pieces:
                timings.first_token_ms = elapsed_ms(started)
            pieces.append(delta)
            yield delta
        timings.generate_ms = elapsed_ms(started)
        draft = "".join(pieces).strip()
        timings.prompt_tokens = llm.count_tokens(self.prompt)
        timings.generated_tokens = llm.count_tokens(draft) if draft else 0
        metrics.observe_generation(timings.prompt_tokens, timings.generated_tokens)
        self.text = draft


def stream(llm: LanguageModel, prompt: str, params: GenerationParams, timings: Timings) -> DraftStream:
    """The model's draft answer, streamed."""
    return DraftStream(llm, prompt, params, timings)
