"""Which answer path a model gets (rag/models/profile.py): the setting, and what auto tells from the model."""

import json
import struct
from pathlib import Path

import pytest

from rag.config import Settings
from rag.models.llm import LLM
from rag.models.profile import (
    CAPABLE_PARAMETERS,
    EVIDENCE,
    GENERATIVE,
    choose_profile,
    count_parameters,
    estimate_parameters,
    profile_of,
    read_gguf_info,
)
from rag.models.remote import RemoteLLM
from tests.fakes import FakeLLM


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, tensors: dict[str, list[int]], metadata: dict[str, object]) -> Path:
    """A GGUF v3 header with the given tensor shapes (no tensor data: only the header is read) and metadata:
    strings, ints (u32) and lists of strings (like a vocabulary, which the reader skips)."""
    kv = b""
    for key, value in metadata.items():
        kv += _string(key)
        if isinstance(value, str):
            kv += struct.pack("<I", 8) + _string(value)
        elif isinstance(value, int):
            kv += struct.pack("<II", 4, value)
        else:
            kv += struct.pack("<IIQ", 9, 8, len(value)) + b"".join(_string(v) for v in value)
    infos = b"".join(
        _string(name)
        + struct.pack("<I", len(dims))
        + b"".join(struct.pack("<Q", d) for d in dims)
        + struct.pack("<IQ", 0, 0)
        for name, dims in tensors.items()
    )
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)) + kv + infos)
    return path


def test_gguf_header_gives_metadata_and_parameter_count(tmp_path):
    path = write_gguf(
        tmp_path / "m.gguf",
        {"token_embd.weight": [64, 1000], "blk.0.attn_q.weight": [64, 64]},
        {
            "general.architecture": "qwen2",
            "tokenizer.ggml.tokens": ["a", "bb", "<|im_start|>"],
            "qwen2.context_length": 32768,
        },
    )
    info = read_gguf_info(path)
    assert info.parameters == 64 * 1000 + 64 * 64
    assert info.metadata == {"general.architecture": "qwen2", "qwen2.context_length": 32768}  # arrays skipped
    assert count_parameters(path) == info.parameters


def test_not_a_gguf_file_has_no_size(tmp_path):
    (tmp_path / "x.gguf").write_bytes(b"nope")
    assert count_parameters(tmp_path / "x.gguf") is None
    with pytest.raises(ValueError, match="not a GGUF"):
        read_gguf_info(tmp_path / "x.gguf")


@pytest.mark.parametrize(
    ("config", "low", "high"),
    [
        # SmolLM2-135M and Qwen2.5-0.5B as their config.json describe them
        (
            {
                "hidden_size": 576,
                "num_hidden_layers": 30,
                "vocab_size": 49152,
                "intermediate_size": 1536,
                "tie_word_embeddings": True,
            },
            120e6,
            160e6,
        ),
        (
            {
                "hidden_size": 896,
                "num_hidden_layers": 24,
                "vocab_size": 151936,
                "intermediate_size": 4864,
                "tie_word_embeddings": True,
            },
            0.45e9,
            0.6e9,
        ),
    ],
)
def test_ir_config_gives_an_estimate_on_the_right_side_of_the_line(config, low, high):
    assert low <= estimate_parameters(config) <= high


def test_ir_folder_size_from_config(tmp_path):
    config = {"hidden_size": 2048, "num_hidden_layers": 24, "vocab_size": 151936, "intermediate_size": 11008}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert count_parameters(tmp_path) > CAPABLE_PARAMETERS
    assert estimate_parameters({"vocab_size": 10}) is None


def test_setting_wins_over_everything():
    assert choose_profile("evidence", remote=True).answers == "evidence"
    assert choose_profile("generative", bundled=True).answers == "generative"
    assert choose_profile("generative").reason == "RAG_LLM_PROFILE"


def test_auto_rule():
    sizes = {"small.gguf": 135_000_000, "qwen.gguf": 630_000_000, "big.gguf": 1_500_000_000, "odd": None}
    choose = lambda **kw: choose_profile("auto", parameters=lambda p: sizes[p.name], **kw).answers  # noqa: E731
    assert choose(remote=True) == "generative"
    assert choose(bundled=True, path=Path("small.gguf")) == "evidence"
    assert choose(path=Path("small.gguf")) == "evidence"
    assert choose(path=Path("qwen.gguf")) == "evidence"  # measured better on the evidence path (docs/models.md)
    assert choose(path=Path("big.gguf")) == "generative"
    assert choose(path=Path("odd")) == "generative"  # a model someone brought, of unknown size
    assert choose() == "evidence"  # a stand-in without a file


def test_generative_profile_answers_at_length():
    assert GENERATIVE.max_answer_tokens > EVIDENCE.max_answer_tokens
    assert GENERATIVE.max_chunks >= Settings().top_k
    assert Settings().max_new_tokens is None  # unset: the profile decides


def test_profile_of_loaded_models(tmp_path):
    assert profile_of("auto", FakeLLM()).answers == "evidence"
    assert profile_of("auto", RemoteLLM("http://127.0.0.1:9/v1")).answers == "generative"
    big = object.__new__(LLM)  # the face of a loaded model, without loading one
    big.path = write_gguf(tmp_path / "big.gguf", {"w": [1000, 1000, 1200]}, {"general.architecture": "llama"})
    assert profile_of("auto", big).answers == "generative"
    assert "1.20B parameters" in profile_of("auto", big).reason


def test_bundled_model_is_known_without_reading_it():
    from rag.models.locate import resolve_llm

    bundled = object.__new__(LLM)
    bundled.path = resolve_llm("default")
    profile = profile_of("auto", bundled)
    assert profile.answers == "evidence" and "bundled" in profile.reason


def test_setting_is_validated():
    assert Settings().llm_profile == "auto"
    with pytest.raises(ValueError):
        Settings(llm_profile="clever")


def test_a_gguf_models_window_is_its_own(tmp_path):
    from rag.models.families import get_family

    llm = object.__new__(LLM)
    llm.family = get_family("chatml")
    llm.path = write_gguf(
        tmp_path / "m.gguf", {"w": [4, 4]}, {"general.architecture": "qwen2", "qwen2.context_length": 32768}
    )
    assert llm.context_window == 32768
    other = object.__new__(LLM)
    other.family = get_family("chatml")
    other.path = write_gguf(tmp_path / "n.gguf", {"w": [4, 4]}, {"general.architecture": "llama"})
    assert other.context_window == get_family("chatml").context_window  # not recorded: the family's
