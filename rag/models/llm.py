"""Text generation with OpenVINO GenAI, from a GGUF file or an OpenVINO IR folder.

The KV cache and inference run in f32: with the CPU's default u8 KV cache the small default model gives
different, wrong answers (see ../shared/PLATFORM.md).

With ``max_batch`` above 1, concurrent requests share one continuous-batching pipeline: a single engine thread
steps it, and each step decodes one token for every running request at once, so four answers decoding together
give about 2.5x the tokens/s of one (docs/benchmarks.md). It is off by default: a single stream decodes a little
slower through it (90 against 95 tokens/s on a short prompt, 72 against 93 with a 1,100-token context on this
CPU), and a quick answer for one user comes first on a small machine. With ``max_batch`` 1 (or a model the
batching pipeline cannot load) the plain pipeline serves one request at a time behind a lock. The batching
engine is rag/models/batching.py, stop-string handling rag/models/stops.py; ``LLM`` implements the
``LanguageModel`` port (rag/models/ports.py).
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from rag.models.batching import Detokenizer, Engine
from rag.models.export import recorded_family
from rag.models.families import PromptFamily, detect_family, get_family
from rag.models.locate import resolve_llm
from rag.models.ports import Generation, GenerationParams
from rag.models.profile import read_gguf_info
from rag.models.stops import StopHoldback, cut_at_stops

log = logging.getLogger(__name__)


# Requests decoded together by default; 1 serves one at a time. See the module docstring for why it is 1;
# bench/service.py and bench/llm.py measure both.
DEFAULT_MAX_BATCH = 1
# Plugin properties of every pipeline: f32 KV cache and inference (the u8 default changes answers).
F32 = {"KV_CACHE_PRECISION": "f32", "INFERENCE_PRECISION_HINT": "f32"}


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
        self._engine: Engine | None = None
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
                self._engine = Engine(pipe)
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

    @functools.cached_property
    def _own_context_window(self) -> int | None:
        """The checkpoint's ``max_position_embeddings``, or a GGUF file's ``<architecture>.context_length``."""
        config = self.path / "config.json"
        if self.path.is_dir() and config.exists():
            value = json.loads(config.read_text()).get("max_position_embeddings")
        elif self.path.suffix.lower() == ".gguf":
            try:
                metadata = read_gguf_info(self.path).metadata
            except (OSError, ValueError) as exc:
                log.warning("cannot read the GGUF metadata of %s: %s", self.path, exc)
                return None
            value = metadata.get(f"{metadata.get('general.architecture')}.context_length")
        else:
            value = None
        return value if isinstance(value, int) and value > 0 else None

    @property
    def context_window(self) -> int:
        """Tokens the model can attend to: the checkpoint's own setting when it has one, else the family's."""
        return self._own_context_window or self.family.context_window

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
        text = Detokenizer(self._tokenizer)
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
