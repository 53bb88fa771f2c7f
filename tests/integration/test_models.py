"""The bundled models, loaded and run for real."""

import numpy as np
import pytest

from rag.models.embedder import SentenceEmbedder
from rag.models.ports import GenerationParams

pytestmark = pytest.mark.integration

CHATML_PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n"
)


def test_default_llm_is_chatml_and_stops_cleanly(llm):
    assert llm.family.name == "chatml"
    out = llm.generate(CHATML_PROMPT, GenerationParams(max_new_tokens=48))
    assert out.text and "<|im_end|>" not in out.text and "<|im_start|>" not in out.text
    assert 0 < out.generated_tokens <= 48
    assert out.prompt_tokens == llm.count_tokens(CHATML_PROMPT)
    assert out.first_token_ms is not None and out.first_token_ms > 0


def test_custom_stop_string_cuts_output(llm):
    full = llm.generate(CHATML_PROMPT, GenerationParams(max_new_tokens=48)).text
    word = full.split()[1]
    cut = llm.generate(CHATML_PROMPT, GenerationParams(max_new_tokens=48, stop=[word])).text
    assert word not in cut and full.startswith(cut)


def test_stream_yields_the_same_text_as_generate(llm):
    params = GenerationParams(max_new_tokens=24)
    pieces = list(llm.stream(CHATML_PROMPT, params))
    assert len(pieces) > 1
    assert "".join(pieces).strip() == llm.generate(CHATML_PROMPT, params).text


def test_embedder_ranks_paraphrase_above_unrelated(embedder):
    q, para, other = embedder.embed(
        [
            "How much is the home office stipend?",
            "Employees get 600 euros for home office equipment.",
            "Honeybees dance to show where flowers are.",
        ]
    )
    assert np.isclose(np.linalg.norm(q), 1.0, atol=1e-4)
    assert q @ para > q @ other + 0.2
    assert embedder.dimension == 384 and embedder.max_tokens == 256


def test_token_count_matches_the_models_tokenizer(embedder):
    embedder.embed(["padding and truncation settings of a previous call must not leak into counts"] * 3)
    texts = ["hello", "Fresnel lenses gather light.", "word " * 400]
    slow = [len(embedder.tokenizer.encode(t, add_special_tokens=False)) for t in texts]
    assert [embedder.count_tokens(t) for t in texts] == slow and slow[2] == 400


def test_openvino_export_is_cached_and_matches_torch(embedder, model_cache):
    exports = [p for p in model_cache.iterdir() if p.name.startswith("embedder-")]
    assert len(exports) == 1 and (exports[0] / "openvino" / "openvino_model.xml").exists()
    reloaded = SentenceEmbedder.load("default", "openvino", model_cache)  # from the cache, no second export
    assert [p.name for p in model_cache.iterdir() if p.name.startswith("embedder-")] == [exports[0].name]
    torch_embedder = SentenceEmbedder.load("default", "torch", model_cache)
    texts = ["OpenVINO runs on CPUs.", "A lighthouse guides ships."]
    assert np.allclose(reloaded.embed(texts), torch_embedder.embed(texts), atol=1e-3)


def _chatml(question: str) -> str:
    return f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"


def test_batching_engine_serves_concurrent_requests_like_single_ones(batching_llm):
    from concurrent.futures import ThreadPoolExecutor

    prompts = [_chatml(q) for q in ("Name three colours.", "What is 2 plus 2?", "Say hello.", "Name a fruit.")]
    params = GenerationParams(max_new_tokens=24)
    alone = [batching_llm.generate(p, params).text for p in prompts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda p: batching_llm.generate(p, params), prompts))
    assert batching_llm.batching
    assert [o.text for o in together] == alone  # greedy: batching must not change an answer
    assert all(0 < o.generated_tokens <= 24 for o in together)


def test_batching_engine_survives_streams_left_early(batching_llm):
    """A consumer that stops reading a stream cancels its request; collecting a cancelled request once raised
    inside the engine thread ("Perf metrics are not available"), which killed it and hung every later request."""
    import threading

    prompt = _chatml("Count from 1 to 30, separated by commas.")
    for _ in range(3):
        stream = batching_llm.stream(prompt, GenerationParams(max_new_tokens=64))
        assert next(stream)
        stream.close()  # what the API does when its client disconnects or the answer is complete
    result: list[str] = []
    worker = threading.Thread(
        target=lambda: result.append(batching_llm.generate(prompt, GenerationParams(max_new_tokens=8)).text),
        daemon=True,
    )
    worker.start()
    worker.join(60)
    assert result, "the batching engine stopped serving after cancelled streams"
