import pytest

from rag.evidence import Evidence
from rag.models.families import FAMILIES, UnknownFamily, detect_family, get_family
from rag.prompt import build_rag_prompt
from rag.text import split_sentences
from rag.types import RetrievedChunk


def _evidence(text: str) -> list[Evidence]:
    chunk = RetrievedChunk(
        chunk_id="d:1:0",
        document_id="d",
        version=1,
        source="s.txt",
        chunk_index=0,
        start=0,
        end=len(text),
        text=text,
        score=0.5,
        rank=1,
    )
    return [Evidence(s, 0.5, n) for n, s in enumerate(split_sentences(chunk), start=1)]


@pytest.mark.parametrize(
    ("family", "expected", "stop"),
    [
        (
            "chatml",
            "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nHI<|im_end|>\n<|im_start|>assistant\n",
            "<|im_end|>",
        ),
        ("dolly", "### Instruction:\nSYS\n\nHI\n\n### Response:\n", "### End"),
        ("oasst", "<|prompter|>SYS\n\nHI<|endoftext|><|assistant|>", "<|endoftext|>"),
        ("llama2", "[INST] <<SYS>>\nSYS\n<</SYS>>\n\nHI [/INST]", "</s>"),
        ("solar", "### System:\nSYS\n\n### User:\nHI\n\n### Assistant:\n", "### User:"),
    ],
)
def test_family_layout_and_stops(family, expected, stop):
    f = get_family(family)
    assert f.format(user="HI", system="SYS").endswith(expected)
    assert stop in f.stop_strings


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "chatml"),
        ("databricks/dolly-v2-3b", "dolly"),
        ("OpenAssistant/oasst-sft-4-pythia-12b-epoch-3.5", "oasst"),
        ("meta-llama/Llama-2-7b-chat-hf", "llama2"),
        ("upstage/SOLAR-10.7B-Instruct-v1.0", "solar"),
        ("some-unknown-model", "chatml"),
    ],
)
def test_detect_family_by_name(name, family):
    assert detect_family(name).name == family


def test_chat_template_beats_name():
    template = "{% for m in messages %}<|prompter|>{{ m.content }}<|endoftext|>{% endfor %}"
    assert detect_family("llama-2-lookalike", template).name == "oasst"


def test_unknown_family_lists_choices():
    with pytest.raises(UnknownFamily, match="chatml"):
        get_family("gpt-9")


def test_rag_prompt_numbers_evidence_on_one_line_each():
    evidence = _evidence("Alpha beta gamma is\nwrapped here. Delta epsilon zeta too.")
    prompt = build_rag_prompt(FAMILIES["chatml"], " What? ", evidence)
    assert "Facts:\n[1] Alpha beta gamma is wrapped here.\n[2] Delta epsilon zeta too." in prompt
    assert "Question: What?" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def _feed_all(stops, pieces):
    from rag.models.stops import StopHoldback

    holdback, out = StopHoldback(stops), []
    for piece in pieces:
        delta, stopped = holdback.feed(piece)
        out.append(delta)
        if stopped:
            return out, True
    out.append(holdback.flush())
    return out, False


def test_holdback_hides_a_stop_string_split_over_pieces():
    out, stopped = _feed_all(["<|im_end|>"], ["Paris", " is big", ".<|im", "_end|>", "ignored"])
    assert stopped and "".join(out) == "Paris is big."
    assert out[2] == "."  # "<|im" was held back, never shown


def test_holdback_releases_a_false_alarm():
    out, stopped = _feed_all(["### End"], ["a #", "## tag", " done"])
    assert not stopped and "".join(out) == "a ### tag done"


def test_holdback_with_several_stops_cuts_at_the_first():
    out, stopped = _feed_all(["\n\n", "<|im_end|>"], ["One sentence.\n", "\nMore<|im_end|>"])
    assert stopped and "".join(out) == "One sentence."
