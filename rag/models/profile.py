"""Which answer path a model gets: composed from evidence (a small model) or written from whole chunks (a capable one).

The bundled SmolLM2-135M, given whole paragraphs, often invents numbers (../shared/PLATFORM.md), so with it the
answer is built from a few evidence sentences and the model only phrases them. A capable model (any GGUF or IR a
user brings, or a remote OpenAI-compatible server) is instead given the relevant chunks whole and asked for an
answer of several sentences, each cited and then verified (rag/generative.py): the service should get better when
the model does, not cap every model at what the smallest one can do.

``RAG_LLM_PROFILE`` chooses: ``evidence``, ``generative``, or ``auto`` (the default), which decides from what can
be told about the model: a remote server is capable; the bundled model is not; a model file whose parameters can
be counted (GGUF tensor shapes, or an IR folder's ``config.json``) is capable from ``CAPABLE_PARAMETERS`` up, and
one whose size cannot be told is taken to be capable (someone brought it). A stand-in handed to ``build`` without
any file (tests, benchmarks) gets the evidence path.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Literal

log = logging.getLogger(__name__)

AnswerPath = Literal["evidence", "generative"]
ProfileSetting = Literal["auto", "evidence", "generative"]

# Below this many parameters a model answers from evidence. Measured on realq-dev's 37 English questions with the
# one larger model to be had here, Qwen2.5-Coder-0.5B-Instruct (630M counted in its GGUF): key-fact recall 0.46 on
# the generative path against 0.64 on the evidence path with the same model, at 12 s against 0.2 s an answer
# (docs/models.md). So the line sits above it; models of 1B and more (untested here) get the generative path.
CAPABLE_PARAMETERS = 1_000_000_000


@dataclass(frozen=True)
class ModelProfile:
    """How answers are made with one model, and why this profile was chosen (``reason``, logged at start-up)."""

    answers: AnswerPath
    max_chunks: int = 6  # chunks given whole to a generative model: the retrieved ones and those following the best
    following_chunks: int = 2  # chunks after the best one in its document, given too: lists and steps run on
    max_prompt_tokens: int = 3072  # the whole-chunk prompt's budget, below the model's own window: prefill costs
    max_answer_tokens: int = 64  # the default answer length (RAG_MAX_NEW_TOKENS, when set, wins)
    reason: str = ""
    # The languages the model writes (rag/language.py codes); None: any. A question in another language is
    # answered with the evidence sentences themselves, quoted, not with a draft the model cannot write.
    languages: frozenset[str] | None = None

    def writes(self, language: str) -> bool:
        """Whether the model can write an answer in ``language``."""
        return self.languages is None or language in self.languages


EVIDENCE = ModelProfile("evidence", max_answer_tokens=64)
ENGLISH_ONLY = frozenset({"en"})
# Several sentences or a list of steps, each with a marker: 10-200 tokens in the answers measured (docs/models.md).
GENERATIVE = ModelProfile("generative", max_answer_tokens=256)


# --- what can be told about a model file -------------------------------------------------------------------------

# GGUF metadata value types (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): fixed sizes, and the
# struct codes of those read here.
_GGUF_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_CODES = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


class _Reader:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f

    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise ValueError("truncated GGUF file")
        return data

    def u32(self) -> int:
        return int(struct.unpack("<I", self.read(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.read(8))[0])

    def string(self) -> str:
        return self.read(self.u64()).decode("utf-8", errors="replace")

    def value(self, kind: int) -> object:
        """One metadata value; arrays are skipped (None): only scalars and strings are of interest here."""
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, count = self.u32(), self.u64()
            if item == _STRING:
                for _ in range(count):
                    self.f.seek(self.u64(), 1)
            elif item in _GGUF_SIZES:
                self.f.seek(_GGUF_SIZES[item] * count, 1)
            else:
                raise ValueError(f"unsupported GGUF array of type {item}")
            return None
        if kind not in _GGUF_CODES:
            raise ValueError(f"unknown GGUF value type {kind}")
        return struct.unpack("<" + _GGUF_CODES[kind], self.read(_GGUF_SIZES[kind]))[0]


@dataclass(frozen=True)
class GGUFInfo:
    metadata: dict[str, object]  # scalar and string values (arrays such as the vocabulary are left out)
    parameters: int  # elements of all tensors


def read_gguf_info(path: Path) -> GGUFInfo:
    """The metadata and parameter count of a GGUF file, from its header only (the tensor data is not read)."""
    with path.open("rb") as f:
        r = _Reader(f)
        if r.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        version = r.u32()
        if version < 2:  # version 1 used 32-bit counts; it predates every model OpenVINO GenAI reads
            raise ValueError(f"GGUF version {version} is not supported")
        tensors, fields = r.u64(), r.u64()
        metadata: dict[str, object] = {}
        for _ in range(fields):
            key = r.string()
            value = r.value(r.u32())
            if value is not None:
                metadata[key] = value
        parameters = 0
        for _ in range(tensors):
            r.string()  # name
            dims = [r.u64() for _ in range(r.u32())]
            r.read(4 + 8)  # type, offset
            count = 1
            for d in dims:
                count *= d
            parameters += count
    return GGUFInfo(metadata, parameters)


def estimate_parameters(config: dict) -> int | None:
    """Parameters of a decoder from a Hugging Face ``config.json``: embeddings (and a separate output layer),
    then per layer four attention projections and a three-matrix MLP. An estimate, within about 20% for the
    Llama, Qwen and GPT-NeoX shapes, which is enough to tell 135M from 500M."""
    hidden = config.get("hidden_size") or config.get("n_embd") or config.get("d_model")
    layers = config.get("num_hidden_layers") or config.get("n_layer") or config.get("num_layers")
    vocab = config.get("vocab_size")
    if not all(isinstance(v, int) and v > 0 for v in (hidden, layers, vocab)):
        return None
    assert isinstance(hidden, int) and isinstance(layers, int) and isinstance(vocab, int)
    inner = config.get("intermediate_size") or config.get("n_inner") or 4 * hidden
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
    return int(embeddings + layers * (4 * hidden * hidden + 3 * hidden * int(inner)))


def count_parameters(path: Path) -> int | None:
    """The model's parameter count: exact for a GGUF file, estimated for an IR folder; None when it cannot be told."""
    try:
        if path.is_file() and path.suffix.lower() == ".gguf":
            return read_gguf_info(path).parameters
        if path.is_dir() and (path / "config.json").is_file():
            return estimate_parameters(json.loads((path / "config.json").read_text()))
    except (OSError, ValueError, struct.error) as exc:
        log.warning("cannot tell the size of the model at %s: %s", path, exc)
    return None


# --- the choice --------------------------------------------------------------------------------------------------


def _millions(parameters: int) -> str:
    return f"{parameters / 1e9:.2f}B" if parameters >= 1e9 else f"{parameters / 1e6:.0f}M"


def choose_profile(
    setting: ProfileSetting,
    *,
    remote: bool = False,
    path: Path | None = None,
    bundled: bool = False,
    parameters: Callable[[Path], int | None] = count_parameters,
) -> ModelProfile:
    """The profile for a model: ``setting`` unless it is ``auto``; else from what is known of the model
    (``remote``: served by an OpenAI-compatible server; ``path``: its GGUF file or IR folder; ``bundled``: the
    default SmolLM2). See the module docstring for the rule."""
    if setting != "auto":
        return replace(EVIDENCE if setting == "evidence" else GENERATIVE, reason="RAG_LLM_PROFILE")
    if remote:
        return replace(GENERATIVE, reason="a remote server's model counts as capable")
    if bundled:
        # It does not write Chinese: it copies a Chinese sentence back with its names changed (../shared/PLATFORM.md).
        return replace(EVIDENCE, reason="the bundled SmolLM2-135M", languages=ENGLISH_ONLY)
    if path is None:
        return replace(EVIDENCE, reason="no model file to tell its size from")
    count = parameters(path)
    if count is None:
        return replace(GENERATIVE, reason=f"the size of {path.name} cannot be told; a model brought is capable")
    if count < CAPABLE_PARAMETERS:
        return replace(EVIDENCE, reason=f"{path.name} has {_millions(count)} parameters")
    return replace(GENERATIVE, reason=f"{path.name} has {_millions(count)} parameters")


def profile_of(setting: ProfileSetting, llm: object) -> ModelProfile:
    """The profile for a loaded model (``LLM``, ``RemoteLLM`` or a stand-in), by ``choose_profile``'s rule."""
    from rag.models.locate import DEFAULT_LLM, ModelNotFound, package_file
    from rag.models.remote import RemoteLLM

    path = getattr(llm, "path", None)
    path = path if isinstance(path, Path) else None
    try:
        bundled = path is not None and path.resolve() == package_file(*DEFAULT_LLM).resolve()
    except ModelNotFound:
        bundled = False
    return choose_profile(setting, remote=isinstance(llm, RemoteLLM), path=path, bundled=bundled)
