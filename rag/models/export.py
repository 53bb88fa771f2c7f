"""Turn a local Hugging Face checkpoint folder into an OpenVINO IR folder that the service can load.

The conversion is optimum-intel's, the same steps ``optimum-cli export openvino`` takes: ``main_export`` traces the
model into ``openvino_model.xml/.bin`` and converts its tokenizer into ``openvino_tokenizer.xml`` and
``openvino_detokenizer.xml`` (with openvino-tokenizers); for int8 and int4 NNCF then compresses the weights. The
compression settings are always given explicitly and are data-free: optimum's per-model int4 defaults for some
checkpoints (Dolly-v2-3b's, for one) would calibrate on a dataset from the Hub, which cannot be reached offline.

Everything is written to a hidden folder next to the output and renamed into place at the end, so a failed
export never leaves a half-written model where the service would load it. The prompt family is decided here
(forced, or from the checkpoint's chat template or name) and recorded in ``rag_model.json`` in the output;
``LLM.load`` reads it when the family setting is ``auto``, because an IR folder's own name says nothing. Stop
strings of that family which are special tokens in the checkpoint (Dolly's ``### End``) are made to decode as
text, or the runtime would never see them (see ``_keep_stop_tokens_as_text``).

Only the standard library and ``rag.models.families`` are imported at module level: ``rag.models.llm``
imports ``recorded_family`` from here; optimum, torch and transformers are imported when an export runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from rag.models.families import FAMILIES, PromptFamily, UnknownFamily, detect_family, get_family

log = logging.getLogger(__name__)

FAMILY_FILE = "rag_model.json"
WEIGHT_FORMATS = ("int8", "int4", "fp16")
FAMILY_CHOICES = ("auto", *FAMILIES)
REQUIRED_FILES = ("openvino_model.xml", "openvino_model.bin", "openvino_tokenizer.xml", "openvino_detokenizer.xml")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model")
TASK = "text-generation-with-past"
INT4_GROUP_SIZE = 128


class ExportError(RuntimeError):
    """The checkpoint could not be exported; the message says why and what to do."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    family: str | None  # None: not recognised, the service will guess when it loads the folder
    detected_by: str  # "forced", "chat template", "name" or "nothing"
    weight_format: str
    size_bytes: int
    seconds: float


# --- prompt family ---------------------------------------------------------------------------------------------


def checkpoint_chat_template(src: Path) -> str | None:
    """The chat template a checkpoint ships: ``chat_template.jinja`` (newer) or in ``tokenizer_config.json``."""
    jinja = src / "chat_template.jinja"
    if jinja.exists():
        return jinja.read_text(encoding="utf-8")
    config = src / "tokenizer_config.json"
    if not config.exists():
        return None
    template = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": "default", "template": "..."}, ...]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next((t for t in named.values() if t), None)
    return template if isinstance(template, str) and template else None


def checkpoint_name(src: Path) -> str:
    """What the name patterns are matched against: the folder name (and the repository name for a Hugging Face
    cache snapshot, whose own folder is a commit hash), ``_name_or_path`` and ``model_type`` from config.json."""
    src = src.resolve()
    names = [src.name]
    if src.parent.name == "snapshots":  # .../models--databricks--dolly-v2-3b/snapshots/<commit>
        names.append(src.parent.parent.name)
    config_file = src / "config.json"
    if config_file.exists():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        names += [str(config.get("_name_or_path", "")), str(config.get("model_type", ""))]
    return " ".join(n for n in names if n)


def detect_checkpoint_family(src: Path) -> tuple[PromptFamily | None, str]:
    """The family the service would pick for this checkpoint, and what gave it away; ``(None, "nothing")`` when
    neither the chat template nor the name says (the service's last resort, ChatML, is then only a guess)."""
    template = checkpoint_chat_template(src)
    name = checkpoint_name(src)
    family = detect_family(name, template)
    if template and any(marker in template for marker in family.template_markers):
        return family, "chat template"
    if any(re.search(pattern, name.lower()) for pattern in family.name_patterns):
        return family, "name"
    return None, "nothing"


def recorded_family(path: Path) -> str | None:
    """The family ``rag model export`` recorded in an IR folder, or None when it recorded none."""
    file = Path(path) / FAMILY_FILE
    if not file.is_file():
        return None
    try:
        family = json.loads(file.read_text(encoding="utf-8")).get("family")
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"{file} is not a JSON object: {exc}; fix or delete it") from exc
    if family is None:
        return None
    try:
        return get_family(str(family)).name
    except UnknownFamily as exc:
        raise ValueError(f"{file}: {exc}") from None


# --- export ----------------------------------------------------------------------------------------------------


def _check_source(src: Path) -> None:
    if not src.is_dir():
        raise ExportError(f"{src} is not a folder: give a local Hugging Face checkpoint folder")
    if not (src / "config.json").exists():
        raise ExportError(f"{src} has no config.json: it is not a Hugging Face checkpoint folder")
    if (src / "openvino_model.xml").exists():
        raise ExportError(f"{src} is already an OpenVINO IR folder: point RAG_LLM_MODEL at it directly")
    weights = [*src.glob("*.safetensors"), *src.glob("pytorch_model*.bin")]
    if not weights:
        raise ExportError(f"{src} has no weights (*.safetensors or pytorch_model*.bin)")
    if not any((src / name).exists() for name in TOKENIZER_FILES):
        raise ExportError(
            f"{src} has no tokenizer ({', '.join(TOKENIZER_FILES)}); the service needs the tokenizer exported too"
        )


def _check_output(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} already exists and is not an empty folder: choose a new output folder")


def _quantization(weight_format: str):
    """optimum-intel configs for the weight format; explicit and data-free (see the module docstring)."""
    from optimum.intel import OVConfig, OVWeightQuantizationConfig

    if weight_format == "fp16":
        return OVConfig(dtype="fp16"), None
    if weight_format == "int8":
        quantization = OVWeightQuantizationConfig(bits=8, sym=False)
    else:
        # Group-wise int4 (groups of 128 input channels); NNCF keeps the embeddings and the output layer in int8.
        # Layers whose width 128 does not divide (only in toy models) get a smaller group size instead of an error.
        quantization = OVWeightQuantizationConfig(
            bits=4, sym=False, group_size=INT4_GROUP_SIZE, ratio=1.0, group_size_fallback="adjust"
        )
    return OVConfig(quantization_config=quantization), quantization


def _convert(src: Path, out: Path, weight_format: str) -> None:
    import torch
    from optimum.exporters.openvino.__main__ import _main_quantize, main_export

    ov_config, quantization = _quantization(weight_format)
    with warnings.catch_warnings():
        # Tracing warns about every shape-dependent branch of the modelling code; they are expected here.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        main_export(
            str(src),
            out,
            task=TASK,
            ov_config=ov_config,
            convert_tokenizer=True,
            library_name="transformers",
            local_files_only=True,
        )
    if quantization is not None:
        # What `optimum-cli export openvino --weight-format int8|int4` runs after main_export.
        _main_quantize(
            str(src),
            task=TASK,
            library_name="transformers",
            quantization_config=quantization,
            output=out,
            cache_dir=None,
        )


def _content(token) -> str | None:
    return token.get("content") if isinstance(token, dict) else token


def _unlist(value, tokens: set[str]):
    """A special-tokens entry of tokenizer_config.json or special_tokens_map.json without ``tokens``."""
    if isinstance(value, list):
        return [t for t in value if _content(t) not in tokens]
    if isinstance(value, dict):
        return {k: t for k, t in value.items() if _content(t) not in tokens}
    return value


def _keep_stop_tokens_as_text(out: Path, family: PromptFamily) -> list[str]:
    """Make the family's stop strings that are *special* tokens decode as text; returns those tokens.

    Dolly's tokenizer has ``### End`` (and ``### Instruction:``) as special tokens, OpenAssistant's has
    ``<|prompter|>``. OpenVINO GenAI drops special tokens from the text it decodes, so a stop string that is one
    of them would never be seen and the model would write past the end of its answer. The exported tokenizer is
    converted again with those tokens as ordinary added tokens: they still encode to the same single id (added
    tokens are matched whole either way), but now decode to their text. bos/eos/pad/unk stay special: generation
    ends at eos without a stop string.
    """
    from optimum.exporters.openvino.convert import export_tokenizer
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
    reserved = {tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token, tokenizer.unk_token}
    targets = {
        token.content
        for token in tokenizer.added_tokens_decoder.values()
        if token.special and token.content in family.stop_strings and token.content not in reserved
    }
    if not targets:
        return []
    edited = out / ".tokenizer-edit"
    edited.mkdir()
    try:
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if not (out / name).exists():
                continue
            data = json.loads((out / name).read_text(encoding="utf-8"))
            for token in data.get("added_tokens", []) if name == "tokenizer.json" else []:
                if token.get("content") in targets:
                    token["special"] = False
            for token in data.get("added_tokens_decoder", {}).values():
                if token.get("content") in targets:
                    token["special"] = False
            for key in ("additional_special_tokens", "extra_special_tokens"):
                if key in data:
                    data[key] = _unlist(data[key], targets)
            (edited / name).write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        for other in out.iterdir():  # vocab files, chat_template.jinja, config.json: unchanged
            if other.is_file() and not (edited / other.name).exists() and not other.name.startswith("openvino_"):
                shutil.copy(other, edited / other.name)
        tokenizer = AutoTokenizer.from_pretrained(edited, local_files_only=True)
        still_special = [
            t.content for t in tokenizer.added_tokens_decoder.values() if t.special and t.content in targets
        ]
        if still_special:
            log.warning("could not make %s decode as text; they will not stop generation", still_special)
            return []
        export_tokenizer(tokenizer, out, task=TASK)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if (edited / name).exists():
                (edited / name).replace(out / name)
    finally:
        shutil.rmtree(edited, ignore_errors=True)
    return sorted(targets)


def _versions() -> dict[str, str]:
    found = {}
    for package in ("optimum-intel", "openvino", "openvino-tokenizers", "nncf", "transformers"):
        with contextlib.suppress(PackageNotFoundError):
            found[package] = version(package)
    return found


def export_checkpoint(
    src: Path,
    out: Path,
    weight_format: str = "int8",
    family: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> ExportResult:
    """Export a local checkpoint folder to an OpenVINO IR folder at ``out`` (which must not exist, or be empty)."""
    say = progress or log.info
    src, out = Path(src).expanduser(), Path(out).expanduser()
    if weight_format not in WEIGHT_FORMATS:
        raise ExportError(f"unknown weight format {weight_format!r}; choose one of {', '.join(WEIGHT_FORMATS)}")
    _check_source(src)
    _check_output(out)
    if family == "auto":
        try:
            chosen, detected_by = detect_checkpoint_family(src)
        except ValueError as exc:  # a config.json or tokenizer_config.json that is not JSON
            raise ExportError(f"cannot read {src}: {exc}") from exc
    else:
        try:
            chosen, detected_by = get_family(family), "forced"
        except UnknownFamily as exc:
            raise ExportError(str(exc)) from None

    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        say(f"exporting {src} ({weight_format}) to {out}")
        try:
            _convert(src, partial, weight_format)
        except Exception as exc:
            raise ExportError(f"optimum-intel could not export {src}: {type(exc).__name__}: {exc}") from exc
        missing = [name for name in REQUIRED_FILES if not (partial / name).exists()]
        if missing:
            raise ExportError(
                f"the export of {src} produced no {', '.join(missing)}: OpenVINO GenAI needs the model and its "
                "tokenizer as IR. Is openvino-tokenizers installed, and can transformers load the tokenizer "
                "from the folder (AutoTokenizer.from_pretrained)?"
            )
        try:
            as_text = _keep_stop_tokens_as_text(partial, chosen) if chosen else []
        except Exception as exc:
            raise ExportError(f"could not convert the tokenizer of {src} again: {type(exc).__name__}: {exc}") from exc
        record = {
            "family": chosen.name if chosen else None,
            "detected_by": detected_by,
            "stop_tokens_as_text": as_text,
            "weight_format": weight_format,
            "source": src.resolve().name,
            "exported_with": _versions(),
        }
        (partial / FAMILY_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        partial.chmod(0o755)  # mkdtemp makes it private; the service may run as another user
        if out.exists():
            out.rmdir()  # empty, checked above
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    return ExportResult(
        path=out,
        family=chosen.name if chosen else None,
        detected_by=detected_by,
        weight_format=weight_format,
        size_bytes=size,
        seconds=time.perf_counter() - started,
    )
