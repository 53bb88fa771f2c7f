"""Text generation with OpenVINO GenAI, from a GGUF file or an OpenVINO IR folder.

The KV cache and inference run in f32: with the CPU's default u8 KV cache the small default model gives
different, wrong answers (see ../shared/PLATFORM.md). One pipeline serves one request at a time; a lock makes
that explicit so concurrent API requests queue instead of corrupting its state.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from rag.models.export import recorded_family
from rag.models.locate import resolve_llm
from rag.prompts import PromptFamily, detect_family, get_family

log = logging.getLogger(__name__)


class GenerationParams(BaseModel):
    """Per-request generation settings; the ranges are what the API validates against."""

    max_new_tokens: int = Field(default=96, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 means greedy decoding")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    top_k: int = Field(default=0, ge=0, le=1000, description="0 means no top-k filtering")
    repetition_penalty: float = Field(
        default=1.0, ge=1.0, le=2.0, description="above 1 discourages repeats, also of words in the sources"
    )
    stop: list[str] = Field(default_factory=list, max_length=8)


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    generated_tokens: int
    first_token_ms: float | None
    total_ms: float


class StopHoldback:
    """Turns raw decoded pieces into deltas that never show a stop string, whole or in part.

    A stop string can arrive split over several pieces ("<|im", "_end|>"), so text that could be the start of
    one is held back until the next piece decides it. ``feed`` returns the text now safe to show and whether a
    stop string has completed (then the text is everything up to it, and generation should end).
    """

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self._text = ""
        self._shown = 0

    def _held(self) -> int:
        """Length of the longest end of the text that is the beginning of some stop string."""
        longest = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(self._text)), longest, -1):
                if self._text.endswith(stop[:n]):
                    longest = n
                    break
        return longest

    def feed(self, piece: str) -> tuple[str, bool]:
        self._text += piece
        cuts = [i for i in (self._text.find(stop) for stop in self.stops) if i != -1]
        if cuts:
            delta, self._shown = self._text[self._shown : min(cuts)], len(self._text)
            return delta, True
        safe = len(self._text) - self._held()
        delta, self._shown = self._text[self._shown : safe], max(self._shown, safe)
        return delta, False

    def flush(self) -> str:
        """What was held back, once generation ended without a stop string."""
        delta, self._shown = self._text[self._shown :], len(self._text)
        return delta


def _model_name(path: Path) -> str:
    if path.is_dir() and (path / "config.json").exists():
        config = json.loads((path / "config.json").read_text())
        return f"{path.name} {config.get('_name_or_path', '')} {config.get('model_type', '')}"
    return path.name


class LLM:
    def __init__(self, path: Path, family: PromptFamily, device: str = "CPU") -> None:
        import openvino_genai as ov_genai

        self._ov_genai = ov_genai
        self.path = path
        started = time.perf_counter()
        self._pipe = ov_genai.LLMPipeline(str(path), device, KV_CACHE_PRECISION="f32", INFERENCE_PRECISION_HINT="f32")
        self._tokenizer = self._pipe.get_tokenizer()
        self.family = family
        self._lock = threading.Lock()
        log.info("loaded LLM %s (%s) in %.1fs", path.name, family.name, time.perf_counter() - started)

    @classmethod
    def load(cls, setting: str, family: str = "auto", device: str = "CPU") -> LLM:
        path = resolve_llm(setting)
        if family == "auto":  # an IR folder exported by `rag model export` records its family
            family = recorded_family(path) or "auto"
        llm = cls(path, get_family("chatml") if family == "auto" else get_family(family), device)
        if family == "auto":
            llm.family = detect_family(_model_name(path), llm.chat_template)
        return llm

    def warm_up(self) -> None:
        """One tiny generation: the first call compiles kernels (~0.7 s) and should not land on a user."""
        self.generate(self.family.format(user="Hi", system=""), GenerationParams(max_new_tokens=1))

    @property
    def chat_template(self) -> str | None:
        try:
            return self._tokenizer.chat_template or None
        except Exception:  # some IR exports carry no template
            return None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def context_window(self) -> int:
        """Tokens the model can attend to: the checkpoint's own setting when it has one, else the family's."""
        config = self.path / "config.json"
        if self.path.is_dir() and config.exists():
            value = json.loads(config.read_text()).get("max_position_embeddings")
            if isinstance(value, int) and value > 0:
                return value
        return self.family.context_window

    def count_tokens(self, text: str) -> int:
        return int(self._tokenizer.encode(text).input_ids.get_shape()[1])

    def _config(self, params: GenerationParams):
        config = self._ov_genai.GenerationConfig()
        config.max_new_tokens = params.max_new_tokens
        config.apply_chat_template = False  # prompts are already formatted for the family
        config.stop_strings = set(self.family.stop_strings) | set(params.stop)
        config.include_stop_str_in_output = False
        config.repetition_penalty = params.repetition_penalty
        if params.temperature > 0:
            config.do_sample = True
            config.temperature = params.temperature
            config.top_p = params.top_p
            if params.top_k:
                config.top_k = params.top_k
        return config

    def _clean(self, text: str, params: GenerationParams) -> str:
        """Cut at any stop string the runtime let through (it can, when one arrives split across tokens)."""
        for stop in (*self.family.stop_strings, *params.stop):
            cut = text.find(stop)
            if cut != -1:
                text = text[:cut]
        return text.strip()

    def generate(self, prompt: str, params: GenerationParams | None = None) -> Generation:
        params = params or GenerationParams()
        config = self._config(params)
        with self._lock:
            started = time.perf_counter()
            result = self._pipe.generate([prompt], config)
            total_ms = (time.perf_counter() - started) * 1000
        metrics = result.perf_metrics
        return Generation(
            text=self._clean(result.texts[0], params),
            prompt_tokens=int(metrics.get_num_input_tokens()),
            generated_tokens=int(metrics.get_num_generated_tokens()),
            first_token_ms=round(float(metrics.get_ttft().mean), 2),
            total_ms=total_ms,
        )

    def stream(self, prompt: str, params: GenerationParams | None = None) -> Iterator[str]:
        """Yield text deltas as they are decoded, never including a stop string or a piece of one.

        Generation runs in a worker thread; closing the iterator early cancels it.
        """
        params = params or GenerationParams()
        config = self._config(params)
        pieces: queue.Queue[str | None] = queue.Queue()
        cancelled = threading.Event()
        errors: list[BaseException] = []

        def on_piece(piece: str):
            pieces.put(piece)
            status = self._ov_genai.StreamingStatus
            return status.CANCEL if cancelled.is_set() else status.RUNNING

        def run() -> None:
            try:
                with self._lock:
                    self._pipe.generate(prompt, config, on_piece)
            except BaseException as exc:  # re-raised in the consumer
                errors.append(exc)
            finally:
                pieces.put(None)

        holdback = StopHoldback([*self.family.stop_strings, *params.stop])
        worker = threading.Thread(target=run, name="llm-stream", daemon=True)
        worker.start()
        try:
            while (piece := pieces.get()) is not None:
                delta, stopped = holdback.feed(piece)
                if delta:
                    yield delta
                if stopped:
                    break
            else:
                if rest := holdback.flush():
                    yield rest
        finally:
            cancelled.set()
            worker.join()
        if errors:
            raise errors[0]
