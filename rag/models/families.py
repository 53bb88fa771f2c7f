"""Prompt templates of the supported model families: knowledge about models, not about answers.

Each family is data: how a system text and a user turn are laid out, what the model writes when it has
finished, and which names identify it. We format prompts ourselves (the runtime's own chat template is turned
off) so that every family, including those whose checkpoints ship no chat template, behaves the same way. The
RAG prompt built on a family is rag/prompt.py.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from rag.errors import InvalidRequest


@dataclass(frozen=True)
class PromptFamily:
    name: str
    template: str  # with {system} and {user}
    stop: tuple[str, ...]
    name_patterns: tuple[str, ...] = ()  # regexes matched against the model's name or path
    template_markers: tuple[str, ...] = ()  # substrings of the model's own chat template
    context_window: int = 2048
    default_system: str = ""
    extra_stop: tuple[str, ...] = field(default=())

    def format(self, user: str, system: str | None = None) -> str:
        return self.template.format(system=system if system is not None else self.default_system, user=user)

    @property
    def stop_strings(self) -> tuple[str, ...]:
        return self.stop + self.extra_stop

    def parse(self, prompt: str) -> tuple[str, str] | None:
        """Split a prompt this family formatted back into (system, user), or None if it is not one of ours.

        A remote server that only offers chat completions takes messages, not a formatted prompt."""
        pattern = ""
        for literal, name, _spec, _conversion in string.Formatter().parse(self.template):
            pattern += re.escape(literal) + (f"(?P<{name}>.*?)" if name else "")
        match = re.fullmatch(pattern, prompt, re.DOTALL)
        return (match["system"], match["user"]) if match else None


FAMILIES: dict[str, PromptFamily] = {
    f.name: f
    for f in (
        PromptFamily(
            name="chatml",
            template="<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
            "<|im_start|>assistant\n",
            stop=("<|im_end|>",),
            extra_stop=("<|im_start|>",),
            name_patterns=(r"smollm", r"qwen", r"chatml", r"hermes"),
            template_markers=("<|im_start|>",),
            context_window=8192,
        ),
        PromptFamily(
            name="dolly",
            template="Below is an instruction that describes a task. Write a response that appropriately "
            "completes the request.\n\n### Instruction:\n{system}\n\n{user}\n\n### Response:\n",
            stop=("### End",),
            extra_stop=("### Instruction:",),
            name_patterns=(r"dolly",),
            template_markers=("### Instruction:",),
            context_window=2048,
        ),
        PromptFamily(
            name="oasst",
            template="<|prompter|>{system}\n\n{user}<|endoftext|><|assistant|>",
            stop=("<|endoftext|>",),
            extra_stop=("<|prompter|>",),
            name_patterns=(r"oasst", r"openassistant", r"pythia"),
            template_markers=("<|prompter|>",),
            context_window=2048,
        ),
        PromptFamily(
            name="llama2",
            template="[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]",
            stop=("</s>",),
            extra_stop=("[INST]",),
            name_patterns=(r"llama-?2",),
            template_markers=("<<SYS>>", "[INST]"),
            context_window=4096,
        ),
        PromptFamily(
            name="solar",
            template="### System:\n{system}\n\n### User:\n{user}\n\n### Assistant:\n",
            stop=("</s>", "### User:"),
            name_patterns=(r"solar",),
            template_markers=("### User:",),
            context_window=4096,
        ),
    )
}


class UnknownFamily(InvalidRequest, ValueError):
    """A family name that is not one of ``FAMILIES`` (a ValueError too, as before the error kinds)."""


def get_family(name: str) -> PromptFamily:
    try:
        return FAMILIES[name.lower()]
    except KeyError:
        raise UnknownFamily(f"unknown prompt family {name!r}; choose one of {', '.join(FAMILIES)}") from None


def detect_family(model_name: str, chat_template: str | None = None) -> PromptFamily:
    """The model's own chat template is the strongest evidence; its name the next; ChatML the fallback."""
    if chat_template:
        for family in FAMILIES.values():
            if any(marker in chat_template for marker in family.template_markers):
                return family
    lowered = model_name.lower()
    for family in FAMILIES.values():
        if any(re.search(pattern, lowered) for pattern in family.name_patterns):
            return family
    return FAMILIES["chatml"]
