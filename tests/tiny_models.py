"""Tiny random Hugging Face checkpoints, built offline, in the architectures of the supported model families.

GPT-NeoX is the architecture of Dolly 2.0 and OpenAssistant's Pythia models; Llama that of Llama-2-chat and
SOLAR-10.7B-Instruct. The weights are random (the models write gibberish), but config, weights and tokenizer
files have the same layout as the real checkpoints, so exporting and loading them exercises the same code.
The tokenizer is a small byte-level BPE trained on the sample corpus in ``data/``.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

# bos/eos/unk/pad of GPT-NeoX (<|endoftext|>) and Llama (<s>, </s>, <unk>).
SPECIAL_TOKENS = ["<|endoftext|>", "<s>", "</s>", "<unk>", "<pad>"]
# Added as special tokens on top, as the real checkpoints have them: Dolly 2.0's prompt keys and end marker,
# OpenAssistant's turn markers. In Llama-2-chat and SOLAR "[INST]", "<<SYS>>" and "### User:" are plain text.
DOLLY_SPECIAL_TOKENS = ("### End", "### Instruction:", "### Response:")
OASST_SPECIAL_TOKENS = ("<|prompter|>", "<|assistant|>")

# The shape the brief asks for: tiny enough that an export takes seconds.
TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}

# Chat templates in the style of the real checkpoints (only the markers family detection looks for matter).
LLAMA2_CHAT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}{{ bos_token }}[INST] {{ m['content'] }} [/INST]"
    "{% elif m['role'] == 'system' %}<<SYS>>\n{{ m['content'] }}\n<</SYS>>\n\n"
    "{% else %} {{ m['content'] }} {{ eos_token }}{% endif %}{% endfor %}"
)
OASST_CHAT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}<|prompter|>{{ m['content'] }}<|endoftext|>"
    "{% else %}<|assistant|>{{ m['content'] }}<|endoftext|>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SOLAR_CHAT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}### User:\n{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'assistant' %}### Assistant:\n{{ m['content'] }}\n\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}### Assistant:\n{% endif %}"
)


def corpus() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(DATA_DIR.rglob("*")) if p.is_file()]
    if not texts:
        raise FileNotFoundError(f"no sample texts under {DATA_DIR} to train the tiny tokenizer on")
    return texts


def train_tokenizer(
    vocab_size: int = 1024, bos: str = "<|endoftext|>", eos: str = "<|endoftext|>", extra_special_tokens=()
):
    """A byte-level BPE (the kind GPT-NeoX uses) trained in well under a second, as a fast HF tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=list(extra_special_tokens),
        model_max_length=512,
    )


def build_gpt_neox(
    out_dir: Path, seed: int = 0, chat_template: str | None = None, special_tokens=(), always: str | None = None
) -> Path:
    """A Dolly 2.0 / OpenAssistant Pythia shaped checkpoint: GPT-NeoX, ``<|endoftext|>`` as bos and eos.

    With ``always``, the model is rigged to write that one token at every step, whatever the prompt.
    """
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    tokenizer = train_tokenizer(extra_special_tokens=special_tokens)
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = GPTNeoXConfig(
        **TINY,
        vocab_size=len(tokenizer),
        max_position_embeddings=512,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = GPTNeoXForCausalLM(config)
    if always:
        with torch.no_grad():  # the final norm outputs a constant unit vector; only `always` reads it
            model.gpt_neox.final_layer_norm.weight.zero_()
            model.gpt_neox.final_layer_norm.bias.zero_()
            model.gpt_neox.final_layer_norm.bias[0] = 1.0
            model.embed_out.weight[:, 0] = 0.0
            model.embed_out.weight[tokenizer.convert_tokens_to_ids(always), 0] = 10.0
    return _save(model, tokenizer, out_dir, chat_template)


def build_llama(out_dir: Path, seed: int = 0, chat_template: str | None = None, special_tokens=()) -> Path:
    """A Llama-2-chat / SOLAR shaped checkpoint: Llama, ``<s>`` as bos and ``</s>`` as eos."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(bos="<s>", eos="</s>", extra_special_tokens=special_tokens)
    config = LlamaConfig(
        **TINY,
        num_key_value_heads=4,
        vocab_size=len(tokenizer),
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    return _save(LlamaForCausalLM(config), tokenizer, out_dir, chat_template)


def _save(model, tokenizer, out_dir: Path, chat_template: str | None) -> Path:
    model.eval()
    model.generation_config.bos_token_id = model.config.bos_token_id
    model.generation_config.eos_token_id = model.config.eos_token_id
    model.generation_config.pad_token_id = model.config.pad_token_id
    if chat_template:
        tokenizer.chat_template = chat_template
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
