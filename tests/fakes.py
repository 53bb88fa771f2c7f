"""Stand-ins for the models, for fast unit tests only. Integration tests use the real ones."""

from __future__ import annotations

from pathlib import Path

from bench.common import HashedWordsEmbedder
from rag.config import Settings
from rag.models.families import get_family
from rag.models.ports import Generation, GenerationParams
from rag.types import Answer, AnswerType, Citation, Timings
from service import Services, build


class FakeEmbedder(HashedWordsEmbedder):
    """Bag of hashed words: texts sharing words are similar, which is all retrieval tests need."""

    max_tokens = 256

    def __init__(self) -> None:
        super().__init__(dimension=64)


class FakeLLM:
    """Answers with the first sentence of source [1], cited; records the prompts it was given."""

    name = "fake-llm"
    context_window = 2048

    def __init__(self, reply: str | None = None) -> None:
        self.family = get_family("chatml")
        self.reply = reply
        self.prompts: list[str] = []

    def warm_up(self) -> None:
        """Nothing to load."""

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, prompt: str, params: GenerationParams | None = None):
        text = self.generate(prompt, params).text
        for word in text.split(" "):
            yield word + " "

    def generate(self, prompt: str, params: GenerationParams | None = None) -> Generation:
        self.prompts.append(prompt)
        if self.reply is not None:
            text = self.reply
        else:
            source = prompt.split("[1] ", 1)[1] if "[1] " in prompt else ""
            text = source.split(".")[0].strip() + ". [1]"
        return Generation(
            text=text, prompt_tokens=len(prompt.split()), generated_tokens=5, first_token_ms=1.0, total_ms=2.0
        )


def fake_services(data_dir: Path, llm: FakeLLM | None = None, **overrides) -> Services:
    """The service as built for production, with the fake models and no answerability model; the pipeline
    never abstains on a low evidence score unless a test sets ``abstain_below``. Auth is off unless
    ``auth=True``: tests of other features send no key (tests/unit/test_security.py and tests/unit/test_fuzz.py
    run with it on)."""
    settings = Settings(
        data_dir=data_dir, chunk_size=40, chunk_overlap=5, **{"auth": False, "abstain_below": None, **overrides}
    )
    return build(settings, embedder=FakeEmbedder(), llm=llm or FakeLLM(), answerability=None)


def citation_of(source: str, marker: int = 1) -> Citation:
    """A citation of ``source`` with placeholder spans: for scoring code that reads only which sources are cited."""
    return Citation(
        marker=marker,
        document_id="d",
        chunk_id="d:1:0",
        source=source,
        page=None,
        start=0,
        end=1,
        score=0.5,
        text="x",
        quote="x",
        quote_start=0,
        quote_end=1,
    )


def scripted_answer(
    text: str, answer_type: AnswerType = "extractive", sources: tuple[str, ...] = (), total_ms: float = 10.0
) -> Answer:
    """An ``Answer`` as an evaluation's scripted pipeline returns it: the text, its type and the sources cited."""
    citations = [citation_of(source, n) for n, source in enumerate(sources, start=1)]
    return Answer(answer=text, answer_type=answer_type, citations=citations, timings=Timings(total_ms=total_ms))
