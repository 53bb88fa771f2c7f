"""Results a person can read: a Markdown summary and a PNG chart next to each JSON result.

The JSON keeps every figure (and per-question rows); the Markdown is the table to paste into a report (its
tables are also what ``rag eval`` prints); the chart shows at a glance how quality and latency move with ``top_k``
(SQuAD) or the retrieval mode (BEIR), and quality per question type (realq) or category (CLAPNQ, Dolly).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

STAGE_LABELS = {
    "embed_ms": "embed question",
    "retrieve_ms": "retrieve",
    "evidence_ms": "evidence",
    "answerability_ms": "answerability check",
    "first_token_ms": "first token",
    "generate_ms": "generate (whole answer)",
    "total_ms": "total",
}


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        return f"{value}"

    lines = ["| " + " | ".join(headers) + " |", "| --- |" + " ---: |" * (len(headers) - 1)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _latency_table(result: dict[str, Any]) -> str:
    rows = [
        [label, result.get(f"{stage}_p50", "-"), result.get(f"{stage}_p95", "-")]
        for stage, label in STAGE_LABELS.items()
        if f"{stage}_p50" in result
    ]
    rows.append(["decode tokens/s", result.get("tokens_per_s_p50", "-"), result.get("tokens_per_s_p95", "-")])
    return _table(["stage", "p50 ms", "p95 ms"], rows)


def squad_markdown(results: list[dict[str, Any]], command: str) -> str:
    """One column per ``top_k`` run: quality of answers and citations, then latency per stage."""
    first = results[0]
    header = ["", *(f"top_k {r['top_k']}" for r in results)]
    quality = [
        ("answer contains a gold answer", "answer_contains_gold"),
        ("first citation's chunk contains a gold answer", "first_citation_contains_gold"),
        ("exact match", "exact_match"),
        ("token F1", "f1"),
        ("model's verified sentence (rest: quoted evidence)", "generated_share"),
        ("abstains on unanswerable", "abstain_on_unanswerable"),
        ("abstains on answerable (false)", "false_abstain_on_answerable"),
        ("answer words (average)", "answer_words_avg"),
    ]
    latency = [(f"{label} p50 / p95 ms", stage) for stage, label in STAGE_LABELS.items()]
    rows = [[label, *(r[key] for r in results)] for label, key in quality]
    rows += [[label, *(f"{r[f'{s}_p50']:.0f} / {r[f'{s}_p95']:.0f}" for r in results)] for label, s in latency]
    rows.append(
        ["decode tokens/s p50 / p95", *(f"{r['tokens_per_s_p50']:.0f} / {r['tokens_per_s_p95']:.0f}" for r in results)]
    )
    sample = f"random sample of {first['questions']}" if first.get("limit") else f"all {first['questions']}"
    return "\n".join(
        [
            f"# SQuAD evaluation: {first['dataset']}",
            "",
            f"```sh\n{command}\n```",
            "",
            f"{sample} questions (seed {first.get('seed')}): {first['answerable']} answerable, "
            f"{first['unanswerable']} unanswerable. Quality figures are over the answerable questions."
            + (
                f" Left out: the questions of {len(first['excluded_articles'])} articles (those the answerability "
                f"model was trained on, or outside --articles): {', '.join(first['excluded_articles'])}."
                if first.get("excluded_articles")
                else ""
            ),
            "",
            _table(header, rows),
            "",
        ]
    )


def beir_markdown(results: list[dict[str, Any]], answers: dict[str, Any] | None, command: str) -> str:
    """Retrieval quality and latency per mode; the answer sample's citation relevance and stage latency."""
    first = results[0]
    keys = ["recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10"]
    rows = [
        [r["mode"], *(r[k] for k in keys), f"{r['latency_ms_p50']:.0f} / {r['latency_ms_p95']:.0f}"] for r in results
    ]
    sample = f"random sample of {first['queries']}" if first.get("limit") else f"all {first['queries']}"
    lines = [
        f"# BEIR evaluation: {first['dataset']} ({first['split']})",
        "",
        f"```sh\n{command}\n```",
        "",
        f"{sample} queries (seed {first.get('seed')}); documents ranked by their best chunk among the top 50.",
        "",
        _table(["mode", *keys, "latency p50 / p95 ms"], rows),
        "",
    ]
    if answers:
        lines += [
            f"## Answers to {answers['queries']} of the queries (seed {answers['seed']})",
            "",
            f"Citations that point into a relevant document: **{answers['citations_relevant_share']:.3f}** "
            f"(of {answers['answered_with_citation']} answers with a citation).",
            "",
            _latency_table(answers),
            "",
        ]
    return "\n".join(lines)


def _answer_types(result: dict[str, Any]) -> str:
    return ", ".join(f"{kind} {share:.0%}" for kind, share in result["answer_types"].items())


REALQ_FIGURES = [
    ("key-fact recall", "key_fact_recall"),
    ("all key facts present", "all_facts_present"),
    ("cites an expected document", "citation_hit"),
    ("abstains on answerable (false)", "false_abstain"),
    ("abstains on unanswerable", "abstain_on_unanswerable"),
    ("answer words (average)", "answer_words_avg"),
    ("total p50 ms", "total_ms_p50"),
]


def _realq_table(groups: dict[str, dict[str, Any]]) -> str:
    header = ["", *(f"{name} ({g['questions']})" for name, g in groups.items())]
    return _table(header, [[label, *(g[key] for g in groups.values())] for label, key in REALQ_FIGURES])


def realq_tables(result: dict[str, Any]) -> str:
    """Overall and by language; by type over English questions; answers by type; latency per stage."""
    overall = result["overall"]
    return "\n".join(
        [
            _realq_table({"all": overall, **result["by_language"]}),
            "",
            "By type, English questions:",
            "",
            _realq_table(result["by_type_english"]),
            "",
            "Key-fact recall by type, all languages (unanswerable: abstained):",
            "",
            _table(
                [f"{t} ({g['questions']})" for t, g in result["by_type"].items()],
                [
                    [
                        g["key_fact_recall"] if g["answerable"] else g["abstain_on_unanswerable"]
                        for g in result["by_type"].values()
                    ]
                ],
            ),
            "",
            f"Answers by type: {_answer_types(overall)}.",
            "",
            _latency_table(result["latency"]),
        ]
    )


def realq_markdown(result: dict[str, Any], command: str) -> str:
    overall = result["overall"]
    followups = {
        "alone": "follow-up questions asked alone (their last turn, without the conversation)",
        "history": "follow-up questions asked after their earlier turns (the conversation as history)",
    }.get(result["followups"], "follow-up questions left out")
    return "\n".join(
        [
            f"# realq evaluation: {result['dataset']}",
            "",
            f"```sh\n{command}\n```",
            "",
            f"{overall['questions']} questions ({overall['answerable']} answerable, {overall['unanswerable']} "
            f"unanswerable), {followups}. Key-fact recall, all facts present, citations and false abstention are "
            "over answerable questions (an abstention finds no fact); abstention on unanswerable over the others.",
            "",
            realq_tables(result),
            "",
        ]
    )


CLAPNQ_FIGURES = [
    ("content-word recall (answerable)", "content_word_recall"),
    ("token F1 (answerable)", "f1"),
    ("first citation on the gold passage", "first_citation_gold"),
    ("first citation on the gold passage, of answers given", "first_citation_gold_of_answers"),
    ("abstains on unanswerable", "abstain_on_unanswerable"),
    ("abstains on answerable (false)", "false_abstain_on_answerable"),
    ("answer words (average)", "answer_words_avg"),
]


def clapnq_tables(result: dict[str, Any]) -> str:
    rows = [[label, result[key]] for label, key in CLAPNQ_FIGURES]
    return "\n".join(
        [
            _table(["", f"{result['answerable']} answerable, {result['unanswerable']} unanswerable"], rows),
            "",
            f"Answers by type: {_answer_types(result)}.",
            "",
            _latency_table(result["latency"]),
        ]
    )


def _sample(result: dict[str, Any]) -> str:
    return f"random sample (seed {result['seed']}) of" if result.get("limit") else "all"


def clapnq_markdown(result: dict[str, Any], command: str) -> str:
    return "\n".join(
        [
            f"# CLAPNQ evaluation: {result['dataset']}",
            "",
            f"```sh\n{command}\n```",
            "",
            f"{_sample(result)} {result['questions']} questions, every passage indexed as its own document. "
            "Content-word recall: share of the reference answer's content words in the answer (an abstention "
            "scores 0).",
            "",
            clapnq_tables(result),
            "",
        ]
    )


DOLLY_FIGURES = [
    ("content-word recall", "content_word_recall"),
    ("token F1", "f1"),
    ("cites its own context", "cites_own_context"),
    ("abstained", "abstained"),
    ("answer words (average)", "answer_words_avg"),
]


def dolly_tables(result: dict[str, Any]) -> str:
    groups = {**result["by_category"], "all": result["overall"]}
    header = ["", *(f"{name} ({g['questions']})" for name, g in groups.items())]
    rows = [[label, *(g[key] for g in groups.values())] for label, key in DOLLY_FIGURES]
    return "\n".join(
        [_table(header, rows), "", f"Answers by type: {_answer_types(result)}.", "", _latency_table(result["latency"])]
    )


def dolly_markdown(result: dict[str, Any], command: str) -> str:
    return "\n".join(
        [
            f"# Dolly evaluation: {result['dataset']}",
            "",
            f"```sh\n{command}\n```",
            "",
            f"{_sample(result)} {result['questions']} instructions, asked as questions over every context "
            "(each its own document). Content-word recall: share of the human response's content words in the "
            "answer (an abstention scores 0).",
            "",
            dolly_tables(result),
            "",
        ]
    )


def _grouped_bars(path: Path, title: str, groups: dict[str, dict[str, float | None]], ylabel: str) -> Path:
    """One group of bars per label (x axis), one bar per series; missing values left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(groups)
    series = list(dict.fromkeys(s for g in groups.values() for s in g))
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(labels) + 2), 4))
    for i, name in enumerate(series):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        values = [groups[label].get(name) for label in labels]
        ax.bar(
            [x for x, v in zip(xs, values, strict=True) if v is not None],
            [v for v in values if v is not None],
            width,
            label=name,
        )
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    ax.set(ylim=(0, 1), ylabel=ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def realq_chart(result: dict[str, Any], path: Path) -> Path:
    """Key-fact recall (abstention, for unanswerable questions) per type, all languages and English only."""

    def figure(g: dict[str, Any]) -> float | None:
        return g["key_fact_recall"] if g["answerable"] else g["abstain_on_unanswerable"]

    groups = {
        t: {"all languages": figure(g), "English": figure(result["by_type_english"][t])}
        if t in result["by_type_english"]
        else {"all languages": figure(g)}
        for t, g in result["by_type"].items()
    }
    return _grouped_bars(
        path, f"{result['dataset']}: key-fact recall by type (unanswerable: abstained)", groups, "share"
    )


def clapnq_chart(result: dict[str, Any], path: Path) -> Path:
    groups = {label: {"share": result[key]} for label, key in CLAPNQ_FIGURES if key != "answer_words_avg"}
    return _grouped_bars(path, f"{result['dataset']}: {result['questions']} questions", groups, "share")


RGB_FIGURES = {
    "negative": [
        ("abstained (right: the passages do not answer)", "abstained"),
        ("abstained, where no negative passage holds the gold answer", "abstained_where_negatives_lack_gold"),
        ("answered with the gold answer anyway", "answered_with_gold"),
    ],
    "noise": [
        ("answer contains the gold answer", "contains_gold"),
        ("first citation on a positive passage", "first_citation_positive"),
        ("abstained (false)", "false_abstention"),
        ("contains the gold answer, of answers given", "contains_gold_of_answers"),
        ("first citation positive, of answers given", "first_citation_positive_of_answers"),
    ],
    "counterfactual": [
        ("answer gives the fake answer", "gives_fake"),
        ("answer gives the true answer", "gives_gold"),
        ("abstained", "abstained"),
        ("gives the fake answer, of answers given", "gives_fake_of_answers"),
    ],
}
RGB_MODES = {
    "negative": "negative rejection: only negative passages indexed",
    "noise": "noise robustness: positive and negative passages indexed",
    "counterfactual": "counterfactual: only the passages with the answer replaced by a fake one",
}


def rgb_tables(result: dict[str, Any]) -> str:
    """One table per mode, with its answers by type; then latency over every question asked."""
    parts = []
    for mode, summary in result["modes"].items():
        rows = [[label, summary[key]] for label, key in RGB_FIGURES[mode]]
        parts += [
            f"{RGB_MODES[mode]}",
            "",
            _table(["", f"{summary['questions']} questions"], rows),
            "",
            f"Answers by type: {_answer_types(summary)}.",
            "",
        ]
    return "\n".join([*parts, _latency_table(result["latency"])])


def rgb_markdown(result: dict[str, Any], command: str) -> str:
    return "\n".join(
        [
            f"# RGB evaluation: {result['dataset']}",
            "",
            f"```sh\n{command}\n```",
            "",
            f"{_sample(result)} {result['questions']} questions, each asked once per mode against only its own "
            "passages (a collection per question and mode). Gold and fake answers are matched as SQuAD "
            "normalises text; a list answer needs every part (any alternative of each).",
            "",
            rgb_tables(result),
            "",
        ]
    )


RGB_CHART = ("abstained", "contains_gold", "first_citation_positive", "false_abstention", "gives_fake", "gives_gold")


def rgb_chart(result: dict[str, Any], path: Path) -> Path:
    """Each mode's main figures: abstention on negatives; gold answer, citation and false abstention among noise."""
    groups = {
        mode: {label: summary[key] for label, key in RGB_FIGURES[mode] if key in RGB_CHART}
        for mode, summary in result["modes"].items()
    }
    return _grouped_bars(path, f"RGB {result['dataset']}: {result['questions']} questions", groups, "share")


def dolly_chart(result: dict[str, Any], path: Path) -> Path:
    groups = {
        c: {
            "content-word recall": g["content_word_recall"],
            "token F1": g["f1"],
            "cites own context": g["cites_own_context"],
        }
        for c, g in {**result["by_category"], "all": result["overall"]}.items()
    }
    return _grouped_bars(path, f"{result['dataset']}: {result['questions']} instructions", groups, "share")


def squad_chart(results: list[dict[str, Any]], path: Path) -> Path:
    """Left: answer and citation quality against top_k. Right: p50 latency per stage against top_k."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [r["top_k"] for r in results]
    fig, (quality, latency) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label in (
        ("first_citation_contains_gold", "first citation's chunk contains gold"),
        ("answer_contains_gold", "answer contains gold"),
        ("f1", "token F1"),
    ):
        quality.plot(ks, [r[key] for r in results], marker="o", label=label)
    quality.set(xlabel="top_k (chunks retrieved)", ylabel="share of answerable questions", ylim=(0, 1), xticks=ks)
    quality.set_title(f"Answer quality, {results[0]['answerable']} answerable questions")
    quality.legend(loc="lower right", fontsize=8)
    quality.grid(alpha=0.3)

    x = list(range(len(results)))  # bars at positions, labelled with top_k
    bottom = [0.0] * len(results)
    parts = [
        ("embed", [r["embed_ms_p50"] for r in results]),
        ("retrieve", [r["retrieve_ms_p50"] for r in results]),
        ("evidence", [r["evidence_ms_p50"] for r in results]),
        ("to first token", [r["first_token_ms_p50"] for r in results]),
        ("rest of the answer", [max(0.0, r["generate_ms_p50"] - r["first_token_ms_p50"]) for r in results]),
    ]
    for label, values in parts:
        latency.bar(x, values, bottom=bottom, label=label, width=0.6)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    latency.plot(x, [r["total_ms_p50"] for r in results], "k_", markersize=30, label="total p50")
    latency.set_xticks(x, [str(k) for k in ks])
    latency.set(xlabel="top_k", ylabel="ms (p50 per stage)")
    latency.set_title("Latency per stage (p50)")
    latency.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def beir_chart(results: list[dict[str, Any]], path: Path) -> Path:
    """nDCG@10 and recall@10 per retrieval mode, with the p50/p95 latency of each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = [r["mode"] for r in results]
    x = range(len(modes))
    fig, (quality, latency) = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.38
    quality.bar([i - width / 2 for i in x], [r["ndcg@10"] for r in results], width, label="nDCG@10")
    quality.bar([i + width / 2 for i in x], [r["recall@10"] for r in results], width, label="recall@10")
    quality.set(xticks=list(x), xticklabels=modes, ylim=(0, 1), ylabel="score")
    quality.set_title(f"{results[0]['dataset']}: {results[0]['queries']} queries")
    quality.legend(fontsize=8)
    latency.bar([i - width / 2 for i in x], [r["latency_ms_p50"] for r in results], width, label="p50")
    latency.bar([i + width / 2 for i in x], [r["latency_ms_p95"] for r in results], width, label="p95")
    latency.set(xticks=list(x), xticklabels=modes, ylabel="ms")
    latency.set_title("Retrieval latency")
    latency.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_reports(out: Path, markdown: str, chart) -> tuple[Path, Path]:
    """The Markdown summary and the chart next to the JSON result: same name, other suffixes."""
    md = out.with_suffix(".md")
    md.write_text(markdown)
    png = chart(out.with_suffix(".png"))
    return md, png
