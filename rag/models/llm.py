"""Text generation with OpenVINO GenAI, from a GGUF file or an OpenVINO IR folder.

The KV cache and inference run in f32: with the CPU's default u8 KV cache the small default model gives
different, wrong answers (see ../shared/PLATFORM.md).

With ``max_batch`` above 1, concurrent requests share one continuous-batching pipeline: a single engine thread
steps it, and each step decodes one token for every running request at once, so four answers decoding together
give about 2.5x the tokens/s of one (docs/benchmarks.md). It is off by default: a single stream decodes a little
slower through it (90 against 95 tokens/s on a short prompt, 72 against 93 with a 1,100-token context on this
CPU), and a quick answer for one user comes first on a small machine. With ``max_batch`` 1 (or a model the
batching pipeline cannot load) the plain pipeline serves one request at a time behind a lock.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

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


@runtime_checkable
class LanguageModel(Protocol):
    """What the pipeline needs of a model. ``LLM`` (in process) and ``RemoteLLM`` (an OpenAI-compatible server,
    rag/models/remote.py) both have this face: prompts formatted for ``family``, its stop strings enforced."""

    family: PromptFamily

    @property
    def name(self) -> str: ...

    @property
    def context_window(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def generate(self, prompt: str, params: GenerationParams | None = None) -> Generation: ...

    def stream(self, prompt: str, params: GenerationParams | None = None) -> Iterator[str]: ...

    def warm_up(self) -> None: ...


def cut_at_stops(text: str, stops: list[str] | tuple[str, ...]) -> str:
    """The text before the first stop string in it, stripped."""
    for stop in stops:
        cut = text.find(stop) if stop else -1
        if cut != -1:
            text = text[:cut]
    return text.strip()


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


# Requests decoded together by default; 1 serves one at a time. See the module docstring for why it is 1;
# bench/service.py and bench/llm.py measure both.
DEFAULT_MAX_BATCH = 1
# Plugin properties of every pipeline: f32 KV cache and inference (the u8 default changes answers).
F32 = {"KV_CACHE_PRECISION": "f32", "INFERENCE_PRECISION_HINT": "f32"}


class _Request:
    """One request in the batching engine: token ids arrive on ``events`` as lists, then ``None`` (finished) or
    an exception."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.events: queue.SimpleQueue[list[int] | BaseException | None] = queue.SimpleQueue()
        self.submitted = time.perf_counter()
        self.first_token_ms: float | None = None
        self.generated_tokens = 0  # the runtime's count: includes a stop-string token it removed from the output
        self.received = 0  # token ids handed out; the count when the runtime has none (a cancelled request)
        self.cancel = False

    def tokens(self) -> Iterator[list[int]]:
        while (event := self.events.get()) is not None:
            if isinstance(event, BaseException):
                raise event
            yield event


class _Engine:
    """Steps a ContinuousBatchingPipeline in one thread while any request is running.

    ``step()`` holds the GIL for its whole duration (the binding does not release it), so the thread yields it
    after every step; handles are read and cancelled only here, never concurrently with a step.
    """

    def __init__(self, pipe) -> None:
        import openvino_genai as ov_genai

        self._status = ov_genai.GenerationStatus
        self._pipe = pipe
        self._lock = threading.Lock()
        self._active: dict[int, _Request] = {}
        self._ids = itertools.count()
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="llm-engine", daemon=True).start()

    def submit(self, prompt: str, config) -> _Request:
        with self._lock:
            request_id = next(self._ids)
            request = _Request(self._pipe.add_request(request_id, prompt, config))
            self._active[request_id] = request
            self._wake.set()
        return request

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                if not self._active:
                    self._wake.clear()
                    continue
            try:
                self._pipe.step()
            except BaseException as exc:  # handed to every waiting request; the engine keeps serving
                log.exception("LLM step failed")
                with self._lock:
                    for request in self._active.values():
                        request.events.put(exc)
                    self._active.clear()
                continue
            try:
                self._collect()
            except BaseException as exc:  # the engine thread must outlive any one request's failure
                log.exception("LLM result collection failed")
                with self._lock:
                    for request in self._active.values():
                        request.events.put(exc)
                    self._active.clear()
            time.sleep(0)  # give waiting Python threads the GIL between steps

    def _collect(self) -> None:
        status_of = self._status
        with self._lock:
            for request_id, request in list(self._active.items()):
                handle = request.handle
                while handle.can_read():
                    for output in handle.read().values():
                        if ids := list(output.generated_ids):
                            if request.first_token_ms is None:
                                request.first_token_ms = (time.perf_counter() - request.submitted) * 1000
                            request.received += len(ids)
                            request.events.put(ids)
                status = handle.get_status()
                if request.cancel and status == status_of.RUNNING:
                    handle.cancel()
                    status = status_of.CANCEL
                if status == status_of.IGNORED:
                    request.events.put(RuntimeError("the model could not schedule this request (out of KV cache)"))
                    del self._active[request_id]
                elif status != status_of.RUNNING:
                    # Only a request that ran to its end has metrics: a cancelled one (its client hit a stop
                    # string) raises "Perf metrics are not available", which once killed this thread.
                    try:
                        request.generated_tokens = int(handle.get_perf_metrics().get_num_generated_tokens())
                    except RuntimeError:
                        request.generated_tokens = request.received
                    request.events.put(None)
                    del self._active[request_id]


class _Detokenizer:
    """Turns a growing list of token ids into text deltas; a piece that ends inside a UTF-8 character waits."""

    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer
        self.ids: list[int] = []
        self._shown = ""

    def feed(self, ids: list[int]) -> str:
        self.ids.extend(ids)
        text = self._tokenizer.decode(self.ids)
        if text.endswith("\ufffd") or not text.startswith(self._shown):
            return ""
        delta, self._shown = text[len(self._shown) :], text
        return delta

    def flush(self) -> str:
        text = self._tokenizer.decode(self.ids)
        delta, self._shown = (text[len(self._shown) :] if text.startswith(self._shown) else ""), text
        return delta


def _model_name(path: Path) -> str:
    if path.is_dir() and (path / "config.json").exists():
        config = json.loads((path / "config.json").read_text())
        return f"{path.name} {config.get('_name_or_path', '')} {config.get('model_type', '')}"
    return path.name


class LLM:
    def __init__(
        self, path: Path, family: PromptFamily, device: str = "CPU", max_batch: int = DEFAULT_MAX_BATCH
    ) -> None:
        """``max_batch`` requests are decoded together; 1 serves one request at a time (the plain pipeline)."""
        import openvino_genai as ov_genai

        self._ov_genai = ov_genai
        self.path = path
        self.family = family
        self._lock = threading.Lock()
        self._engine: _Engine | None = None
        started = time.perf_counter()
        if max_batch > 1:
            scheduler = ov_genai.SchedulerConfig()
            scheduler.max_num_seqs = max_batch
            # A whole prompt is prefilled in one step (the default 256 splits a 5-chunk prompt over several), and
            # cache_size 0 lets the KV cache grow with the requests instead of reserving it up front.
            scheduler.max_num_batched_tokens = 4096
            scheduler.cache_size = 0
            # Prompts share the system prompt; the plain pipeline reuses a matching prefix too.
            scheduler.enable_prefix_caching = True
            try:
                pipe = ov_genai.ContinuousBatchingPipeline(str(path), scheduler, device, F32)
                self._engine = _Engine(pipe)
                self._tokenizer = pipe.get_tokenizer()
            except RuntimeError as exc:
                log.warning("continuous batching unavailable for %s (%s); serving one request at a time", path, exc)
        if self._engine is None:
            self._pipe = ov_genai.LLMPipeline(str(path), device, **F32)
            self._tokenizer = self._pipe.get_tokenizer()
        log.info(
            "loaded LLM %s (%s, %s) in %.1fs",
            path.name,
            family.name,
            f"batching up to {max_batch}" if self._engine else "one request at a time",
            time.perf_counter() - started,
        )

    @property
    def batching(self) -> bool:
        return self._engine is not None

    @classmethod
    def load(cls, setting: str, family: str = "auto", device: str = "CPU", max_batch: int | None = None) -> LLM:
        path = resolve_llm(setting)
        max_batch = DEFAULT_MAX_BATCH if max_batch is None else max_batch
        if family == "auto":  # an IR folder exported by `rag model export` records its family
            family = recorded_family(path) or "auto"
        llm = cls(path, get_family("chatml") if family == "auto" else get_family(family), device, max_batch)
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
        return cut_at_stops(text, (*self.family.stop_strings, *params.stop))

    def generate(self, prompt: str, params: GenerationParams | None = None) -> Generation:
        params = params or GenerationParams()
        config = self._config(params)
        if self._engine is not None:
            started = time.perf_counter()
            request = self._engine.submit(prompt, config)
            ids = [i for chunk in request.tokens() for i in chunk]
            total_ms = (time.perf_counter() - started) * 1000
            first = request.first_token_ms
            return Generation(
                text=self._clean(self._tokenizer.decode(ids), params),
                prompt_tokens=self.count_tokens(prompt),
                generated_tokens=max(request.generated_tokens, len(ids)),
                first_token_ms=round(first, 2) if first is not None else None,
                total_ms=total_ms,
            )
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
        holdback = StopHoldback([*self.family.stop_strings, *params.stop])
        if self._engine is not None:
            yield from self._stream_batched(prompt, config, holdback)
            return
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

    def _stream_batched(self, prompt: str, config, holdback: StopHoldback) -> Iterator[str]:
        assert self._engine is not None
        request = self._engine.submit(prompt, config)
        text = _Detokenizer(self._tokenizer)
        try:
            for ids in request.tokens():
                delta, stopped = holdback.feed(text.feed(ids))
                if delta:
                    yield delta
                if stopped:
                    return
            delta, stopped = holdback.feed(text.flush())
            if rest := delta + ("" if stopped else holdback.flush()):
                yield rest
        finally:
            request.cancel = True  # ignored once finished; stops decoding when the consumer leaves early
