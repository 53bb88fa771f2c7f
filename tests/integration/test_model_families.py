"""Bring-your-own models, end to end: tiny random checkpoints in the architectures of Dolly 2.0 and OpenAssistant
Pythia (GPT-NeoX) and of Llama-2-chat and SOLAR (Llama), exported to OpenVINO IR by ``rag model export``'s code,
then loaded through ``LLM.load(..., family="auto")`` as the service loads them, and run.

The weights are random, so the text is gibberish; what is checked is that the folders load, that the right prompt
family is chosen (recorded at export, since an IR folder's own name says nothing), and that generation honours
the token limit and stop strings. Everything is built under pytest's tmp folders; nothing is cached elsewhere.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openvino
import pytest

from rag.models.export import (
    FAMILY_FILE,
    REQUIRED_FILES,
    ExportError,
    ExportResult,
    detect_checkpoint_family,
    export_checkpoint,
    recorded_family,
)
from rag.models.llm import LLM
from rag.models.ports import GenerationParams
from tests.integration.conftest import run_cli, service_env
from tests.tiny_models import (
    DOLLY_SPECIAL_TOKENS,
    LLAMA2_CHAT_TEMPLATE,
    OASST_CHAT_TEMPLATE,
    OASST_SPECIAL_TOKENS,
    SOLAR_CHAT_TEMPLATE,
    build_gpt_neox,
    build_llama,
)

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Case:
    folder: str  # the checkpoint's folder name, which is what names the family when it has no chat template
    family: str
    detected_by: str
    build: Callable[..., Path]
    weight_format: str  # each format once per architecture pair, so their sizes can be compared
    chat_template: str | None = None
    special_tokens: tuple[str, ...] = ()  # the checkpoint's own special tokens beyond bos/eos/unk/pad
    as_text: tuple[str, ...] = ()  # those the export must make decode as text: they are stop strings
    seed: int = 0


CASES = [
    Case(
        "tiny-dolly-v2",
        "dolly",
        "name",
        build_gpt_neox,
        "int8",
        special_tokens=DOLLY_SPECIAL_TOKENS,
        as_text=("### End", "### Instruction:"),
    ),
    Case(
        "tiny-oasst-sft-pythia",
        "oasst",
        "chat template",
        build_gpt_neox,
        "fp16",
        OASST_CHAT_TEMPLATE,
        special_tokens=OASST_SPECIAL_TOKENS,
        as_text=("<|prompter|>",),
        seed=1,
    ),
    Case("tiny-llama-2-chat", "llama2", "chat template", build_llama, "int8", LLAMA2_CHAT_TEMPLATE),
    # int4 groups 128 input channels; this toy's 64-wide layers get smaller groups instead of an NNCF error.
    Case("tiny-solar-instruct", "solar", "chat template", build_llama, "int4", SOLAR_CHAT_TEMPLATE, seed=1),
]
IDS = [c.family for c in CASES]

QUESTION = "When does the kitchen close on Thursdays?"
SYSTEM = "Answer in one sentence."


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    return {
        c.family: c.build(root / c.folder, seed=c.seed, chat_template=c.chat_template, special_tokens=c.special_tokens)
        for c in CASES
    }


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, checkpoints: dict[str, Path]) -> dict[str, ExportResult]:
    """Each checkpoint as IR, in folders whose names match no family pattern."""
    root = tmp_path_factory.mktemp("exports")
    return {
        c.family: export_checkpoint(checkpoints[c.family], root / f"ir-{i}", c.weight_format)
        for i, c in enumerate(CASES)
    }


@pytest.fixture(scope="module")
def llms(exported: dict[str, ExportResult]) -> dict[str, LLM]:
    return {family: LLM.load(str(result.path), family="auto") for family, result in exported.items()}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_export_writes_a_loadable_folder_and_records_the_family(case: Case, exported: dict[str, ExportResult]):
    result = exported[case.family]
    assert all((result.path / name).is_file() for name in REQUIRED_FILES)
    record = json.loads((result.path / FAMILY_FILE).read_text())
    assert record["family"] == result.family == case.family
    assert record["detected_by"] == result.detected_by == case.detected_by
    assert record["weight_format"] == result.weight_format == case.weight_format
    assert record["source"] == case.folder
    assert record["stop_tokens_as_text"] == sorted(case.as_text)
    if case.chat_template:  # in the IR tokenizer itself, also when the export converted it a second time
        tokenizer = openvino.Core().read_model(result.path / "openvino_tokenizer.xml")
        assert tokenizer.has_rt_info("chat_template")
        assert tokenizer.get_rt_info("chat_template").astype(str) == case.chat_template
    assert result.size_bytes > 0
    assert [p.name for p in result.path.parent.iterdir() if p.name.startswith(".")] == []  # no partial exports


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_loaded_model_uses_its_family_and_generates(case: Case, llms: dict[str, LLM]):
    llm = llms[case.family]
    assert llm.family.name == case.family
    if case.chat_template:
        assert llm.chat_template == case.chat_template
    prompt = llm.family.format(user=QUESTION, system=SYSTEM)
    assert SYSTEM in prompt and QUESTION in prompt
    params = GenerationParams(max_new_tokens=8)
    out = llm.generate(prompt, params)
    assert out.text
    assert 0 < out.generated_tokens <= params.max_new_tokens
    assert out.prompt_tokens == llm.count_tokens(prompt)
    stops = llm._config(params).stop_strings
    assert set(llm.family.stop_strings) <= stops and llm.family.stop[0] in stops


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_request_stop_string_cuts_the_output(case: Case, llms: dict[str, LLM]):
    llm = llms[case.family]
    prompt = llm.family.format(user=QUESTION, system=SYSTEM)
    full = llm.generate(prompt, GenerationParams(max_new_tokens=24)).text
    # A word that first appears after some other text, so the cut output is not trivially empty.
    words = [w for w in full.split() if w.isascii() and w.isalnum() and full.find(w) > 0]
    assert words, f"no usable word in {full!r}"
    word = words[0]
    cut = llm.generate(prompt, GenerationParams(max_new_tokens=24, stop=[word])).text
    assert cut and word not in cut
    assert full.startswith(cut)
    assert llm.generate(prompt, GenerationParams(max_new_tokens=24)).text == full  # greedy: reproducible


@pytest.mark.parametrize("case", [c for c in CASES if c.as_text], ids=[c.family for c in CASES if c.as_text])
def test_special_stop_tokens_decode_as_text(case: Case, llms: dict[str, LLM]):
    """Dolly's "### End" is a special token; decoded as nothing, it could never match the stop string."""
    tokenizer = llms[case.family]._tokenizer
    for token in case.as_text:
        ids = [int(i) for i in tokenizer.encode(token).input_ids.data[0]]
        assert len(ids) == 1 and tokenizer.decode(ids) == token
    for token in set(case.special_tokens) - set(case.as_text):  # other special tokens stay hidden
        ids = [int(i) for i in tokenizer.encode(token).input_ids.data[0]]
        assert len(ids) == 1 and tokenizer.decode(ids) == ""


def test_explicit_family_wins_over_the_recorded_one(exported: dict[str, ExportResult]):
    llm = LLM.load(str(exported["dolly"].path), family="solar")
    assert llm.family.name == "solar"


def test_without_the_record_only_a_chat_template_can_tell(tmp_path: Path, exported: dict[str, ExportResult]):
    """Why the record exists: an IR folder's name is the user's choice, and Dolly ships no chat template."""
    for i, (family, expected) in enumerate((("dolly", "chatml"), ("llama2", "llama2"))):
        copy = shutil.copytree(exported[family].path, tmp_path / f"ir-copy-{i}")
        (copy / FAMILY_FILE).unlink()
        assert LLM.load(str(copy)).family.name == expected


def test_detection_from_name_template_and_hub_cache_layout(tmp_path: Path, checkpoints: dict[str, Path]):
    def config_only(folder: Path, source: Path) -> Path:
        folder.mkdir(parents=True)
        for name in ("config.json", "tokenizer_config.json"):
            shutil.copy(source / name, folder / name)
        return folder

    family, how = detect_checkpoint_family(checkpoints["dolly"])
    assert (family.name, how) == ("dolly", "name")
    family, how = detect_checkpoint_family(config_only(tmp_path / "my-model", checkpoints["dolly"]))
    assert (family, how) == (None, "nothing")
    snapshot = tmp_path / "models--databricks--dolly-v2-3b" / "snapshots" / "0123abcd"
    family, how = detect_checkpoint_family(config_only(snapshot, checkpoints["dolly"]))
    assert (family.name, how) == ("dolly", "name")
    # The chat template beats the name: a SOLAR template in a folder named like Llama-2 is SOLAR.
    renamed = shutil.copytree(checkpoints["solar"], tmp_path / "llama-2-finetune")
    family, how = detect_checkpoint_family(renamed)
    assert (family.name, how) == ("solar", "chat template")


def test_recorded_family_reads_and_validates_the_file(tmp_path: Path):
    assert recorded_family(tmp_path) is None
    (tmp_path / FAMILY_FILE).write_text(json.dumps({"family": None}))
    assert recorded_family(tmp_path) is None
    (tmp_path / FAMILY_FILE).write_text(json.dumps({"family": "Dolly"}))
    assert recorded_family(tmp_path) == "dolly"
    (tmp_path / FAMILY_FILE).write_text(json.dumps({"family": "vicuna"}))
    with pytest.raises(ValueError, match="vicuna"):
        recorded_family(tmp_path)
    (tmp_path / FAMILY_FILE).write_text("[")
    with pytest.raises(ValueError, match="not a JSON object"):
        recorded_family(tmp_path)


def test_quantized_weights_are_smaller(exported: dict[str, ExportResult]):
    """Same architecture and shapes, different weight formats: the model file shrinks as expected."""

    def size(family: str) -> int:
        return (exported[family].path / "openvino_model.bin").stat().st_size

    assert size("dolly") < 0.6 * size("oasst")  # int8 against fp16, GPT-NeoX
    assert size("solar") < size("llama2")  # int4 against int8, Llama


def test_export_refuses_bad_input_without_writing_anything(tmp_path: Path, checkpoints: dict[str, Path]):
    src = checkpoints["dolly"]
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not an empty folder"):
        export_checkpoint(src, taken)
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    with pytest.raises(ExportError, match=r"no config\.json"):
        export_checkpoint(tmp_path, tmp_path / "out")
    with pytest.raises(ExportError, match="weight format"):
        export_checkpoint(src, tmp_path / "out", "int3")
    with pytest.raises(ExportError, match="unknown prompt family"):
        export_checkpoint(src, tmp_path / "out", family="vicuna")
    no_tokenizer = tmp_path / "no-tokenizer"
    no_tokenizer.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(src / name, no_tokenizer / name)
    with pytest.raises(ExportError, match="no tokenizer"):
        export_checkpoint(no_tokenizer, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_export_with_a_forced_family_stops_at_a_special_end_token(tmp_path: Path):
    """``rag model export`` as a user runs it, on a Dolly-shaped checkpoint whose folder name says nothing (so
    ``--family`` decides) and whose model is rigged to write Dolly's special "### End" token at every step: as
    dolly it stops right there; told it is ChatML, which does not stop there, it runs on and shows the marker."""
    src = build_gpt_neox(tmp_path / "my-model", special_tokens=DOLLY_SPECIAL_TOKENS, always="### End")
    out = tmp_path / "served" / "model"
    env = service_env(tmp_path / "data", tmp_path / "cache")
    result = run_cli(["model", "export", str(src), str(out), "--weight-format", "fp16", "--family", "dolly"], env)
    assert result.returncode == 0, result.stderr
    assert f"RAG_LLM_MODEL={out.resolve()}" in result.stdout
    record = json.loads((out / FAMILY_FILE).read_text())
    assert (record["family"], record["detected_by"], record["weight_format"]) == ("dolly", "forced", "fp16")
    assert record["stop_tokens_as_text"] == ["### End", "### Instruction:"]

    dolly = LLM.load(str(out))
    prompt = dolly.family.format(user=QUESTION, system=SYSTEM)
    generated = dolly.generate(prompt, GenerationParams(max_new_tokens=8))
    assert (dolly.family.name, generated.text, generated.generated_tokens) == ("dolly", "", 1)
    assert "".join(dolly.stream(prompt, GenerationParams(max_new_tokens=8))) == ""
    generated = LLM.load(str(out), family="chatml").generate(prompt, GenerationParams(max_new_tokens=8))
    assert generated.generated_tokens == 8 and generated.text == "### End" * 8

    again = run_cli(["model", "export", str(src), str(out)], env)
    assert again.returncode == 1 and "not an empty folder" in " ".join(again.stderr.split())


def test_cli_choices_match_the_library():
    from typing import get_args, get_type_hints

    from api.cli.models import model_export
    from rag.models.export import FAMILY_CHOICES, WEIGHT_FORMATS

    hints = get_type_hints(model_export, include_extras=True)
    assert get_args(get_args(hints["family"])[0]) == FAMILY_CHOICES
    assert get_args(get_args(hints["weight_format"])[0]) == WEIGHT_FORMATS
