"""Continuous batching: one engine thread steps an OpenVINO GenAI ``ContinuousBatchingPipeline`` for every
running request at once (rag/models/llm.py says when ``LLM`` uses it), and the pieces around it: a request's
token ids arriving on a queue, and their detokenization into text deltas.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Iterator

log = logging.getLogger(__name__)


class EngineRequest:
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


class Engine:
    """Steps a ContinuousBatchingPipeline in one thread while any request is running.

    ``step()`` holds the GIL for its whole duration (the binding does not release it), so the thread yields it
    after every step; handles are read and cancelled only here, never concurrently with a step.
    """

    def __init__(self, pipe) -> None:
        import openvino_genai as ov_genai

        self._status = ov_genai.GenerationStatus
        self._pipe = pipe
        self._lock = threading.Lock()
        self._active: dict[int, EngineRequest] = {}
        self._ids = itertools.count()
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="llm-engine", daemon=True).start()

    def submit(self, prompt: str, config) -> EngineRequest:
        with self._lock:
            request_id = next(self._ids)
            request = EngineRequest(self._pipe.add_request(request_id, prompt, config))
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


class Detokenizer:
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
