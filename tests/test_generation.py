"""The HF generation backend: sampling log-probs, rescoring agreement, seeds, EOS, stop strings, processed
distributions (temperature / top-p) and the KV cache, on a tiny randomly initialised model."""

from __future__ import annotations

import math

import pytest
import torch

from pearbench.errors import PearbenchError
from pearbench.models.families import build_char_tokenizer, build_tiny_model, encode_prompt
from pearbench.models.generation import GenerationConfig, HFBackend, pad_sequences, score_responses

TOKENIZER = build_char_tokenizer()
PROMPT_TEXTS = ["1+2=", "Reach 24 with 3 4 8:", "x", "countdown: 7 3 9 -> 12?"]


class LogitBias(torch.nn.Module):
    """A causal LM whose logits get a fixed bias: makes chosen tokens (EOS, a stop string) likely on a random model."""

    def __init__(self, inner: torch.nn.Module, bias: torch.Tensor) -> None:
        super().__init__()
        self.inner = inner
        self.register_buffer("bias", bias)

    def forward(self, **kwargs):
        out = self.inner(**kwargs)
        out.logits = out.logits + self.bias
        return out


def tiny(seed: int = 0) -> torch.nn.Module:
    return build_tiny_model("tiny-ci", TOKENIZER, seed=seed)


def biased(boosts: dict[int, float], seed: int = 0) -> LogitBias:
    bias = torch.zeros(len(TOKENIZER))
    for token, value in boosts.items():
        bias[token] = value
    return LogitBias(tiny(seed), bias)


def prompts() -> list[list[int]]:
    return [encode_prompt(TOKENIZER, text) for text in PROMPT_TEXTS]


def char_id(char: str) -> int:
    ids = TOKENIZER(char, add_special_tokens=False).input_ids
    assert len(ids) == 1
    return ids[0]


# --------------------------------------------------------------------------------------------- rescoring


def test_prompts_have_different_lengths_so_left_padding_is_exercised():
    lengths = {len(p) for p in prompts()}
    assert len(lengths) == len(PROMPT_TEXTS)


@pytest.mark.parametrize("batch_size", [64, 5])
def test_rescoring_reproduces_sampling_logprobs(batch_size):
    model = biased({TOKENIZER.eos_token_id: 2.5})
    config = GenerationConfig(max_new_tokens=24, batch_size=batch_size)
    samples = HFBackend(model, TOKENIZER).generate(prompts(), n=3, config=config, seed=7)
    assert len(samples) == 3 * len(PROMPT_TEXTS)
    assert [s.prompt_index for s in samples] == [i for i in range(len(PROMPT_TEXTS)) for _ in range(3)]
    lengths = {len(s.response_ids) for s in samples}
    assert len(lengths) > 1, "samples of different lengths are needed to test right padding in rescoring"
    batch_prompts = [prompts()[s.prompt_index] for s in samples]
    rescored = score_responses(
        model, batch_prompts, [s.response_ids for s in samples], TOKENIZER.pad_token_id
    )
    worst = 0.0
    for sample, scores in zip(samples, rescored):
        assert len(sample.logprobs) == len(sample.response_ids) == len(scores)
        for recorded, again in zip(sample.logprobs, scores):
            worst = max(worst, abs(recorded - again))
            assert recorded <= 0.0
    assert worst < 1e-4


def test_rescoring_is_independent_of_its_batch_size():
    model = tiny()
    samples = HFBackend(model, TOKENIZER).generate(
        prompts(), n=2, config=GenerationConfig(max_new_tokens=10), seed=1
    )
    batch_prompts = [prompts()[s.prompt_index] for s in samples]
    responses = [s.response_ids for s in samples]
    whole = score_responses(model, batch_prompts, responses, TOKENIZER.pad_token_id, batch_size=64)
    split = score_responses(model, batch_prompts, responses, TOKENIZER.pad_token_id, batch_size=3)
    for a, b in zip(whole, split):
        assert a == pytest.approx(b, abs=1e-5)


def test_pad_sequences_marks_exactly_the_response_targets():
    input_ids, attention, mask = pad_sequences([[1, 5, 6], [1, 7]], [[8, 9, 2], [10, 2]], pad_id=0)
    assert input_ids.tolist() == [[1, 5, 6, 8, 9, 2], [1, 7, 10, 2, 0, 0]]
    assert attention.tolist() == [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]
    # mask[b, t] = 1 where input_ids[b, t + 1] is a response token
    assert mask.tolist() == [[0, 0, 1, 1, 1], [0, 1, 1, 0, 0]]


# --------------------------------------------------------------------------------------------- seeds


def test_same_seed_gives_identical_samples_and_different_seeds_differ():
    backend = HFBackend(tiny(), TOKENIZER)
    config = GenerationConfig(max_new_tokens=16)
    first = backend.generate(prompts(), n=2, config=config, seed=123)
    again = backend.generate(prompts(), n=2, config=config, seed=123)
    other = backend.generate(prompts(), n=2, config=config, seed=124)
    assert [s.response_ids for s in first] == [s.response_ids for s in again]
    assert [s.logprobs for s in first] == [s.logprobs for s in again]
    assert [s.response_ids for s in first] != [s.response_ids for s in other]


def test_samples_of_one_prompt_differ_from_each_other():
    samples = HFBackend(tiny(), TOKENIZER).generate(
        prompts()[:1], n=4, config=GenerationConfig(max_new_tokens=16)
    )
    assert len({tuple(s.response_ids) for s in samples}) == 4


def test_generation_leaves_the_training_mode_as_it_was():
    model = tiny()
    model.train()
    HFBackend(model, TOKENIZER).generate(prompts()[:1], n=1, config=GenerationConfig(max_new_tokens=2))
    assert model.training


# --------------------------------------------------------------------------------------------- how samples end


def test_eos_ends_a_sample_and_is_its_last_response_token():
    eos = TOKENIZER.eos_token_id
    model = biased({eos: 1.5})
    config = GenerationConfig(max_new_tokens=30)
    samples = HFBackend(model, TOKENIZER).generate(prompts(), n=4, config=config, seed=3)
    reasons = {s.finish_reason for s in samples}
    assert reasons == {"eos", "length"}, reasons
    for sample in samples:
        assert len(sample.response_ids) <= config.max_new_tokens
        if sample.finish_reason == "eos":
            assert sample.response_ids[-1] == eos
            assert eos not in sample.response_ids[:-1]
            assert sample.text == TOKENIZER.decode(sample.response_ids[:-1], skip_special_tokens=True)
        else:
            assert len(sample.response_ids) == config.max_new_tokens
            assert eos not in sample.response_ids


@pytest.mark.parametrize("max_new_tokens", [1, 7])
def test_max_new_tokens_bounds_every_sample(max_new_tokens):
    samples = HFBackend(tiny(), TOKENIZER).generate(
        prompts(), n=3, config=GenerationConfig(max_new_tokens=max_new_tokens), seed=0
    )
    assert all(len(s.response_ids) <= max_new_tokens for s in samples)
    assert any(len(s.response_ids) == max_new_tokens and s.finish_reason == "length" for s in samples)


def test_stop_string_ends_a_sample_at_its_first_occurrence():
    model = biased({char_id("a"): 2.5, char_id("b"): 2.5})
    config = GenerationConfig(max_new_tokens=40, stop=("ab",))
    samples = HFBackend(model, TOKENIZER).generate(prompts(), n=4, config=config, seed=5)
    stopped = [s for s in samples if s.finish_reason == "stop"]
    assert stopped, "the bias should make 'ab' likely within 40 tokens"
    for sample in stopped:
        assert sample.text.endswith("ab")
        assert sample.text.find("ab") == len(sample.text) - 2
        assert len(sample.logprobs) == len(sample.response_ids)
    for sample in samples:
        if sample.finish_reason == "length":
            assert "ab" not in sample.text


# --------------------------------------------------------------------------------------------- processed distributions


def reference_processed_logprobs(logits: list[float], temperature: float, top_p: float) -> list[float]:
    """Temperature, then top-p (smallest set of most likely tokens whose mass reaches top_p), renormalised; by hand."""
    scaled = [value / temperature for value in logits]
    peak = max(scaled)
    total = sum(math.exp(v - peak) for v in scaled)
    probs = [math.exp(v - peak) / total for v in scaled]
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    kept, mass = [], 0.0
    for index in order:
        if mass >= top_p:
            break
        kept.append(index)
        mass += probs[index]
    kept_mass = sum(probs[i] for i in kept)
    out = [-math.inf] * len(probs)
    for index in kept:
        out[index] = math.log(probs[index] / kept_mass)
    return out


@pytest.mark.parametrize(("temperature", "top_p"), [(0.7, 1.0), (1.0, 0.6), (1.3, 0.8)])
def test_recorded_logprobs_are_those_of_the_processed_distribution(temperature, top_p):
    torch.manual_seed(0)
    # a sharper random model, so top-p actually removes tokens
    model = biased({i: float(v) for i, v in enumerate(torch.randn(len(TOKENIZER)) * 2.0)})
    config = GenerationConfig(max_new_tokens=6, temperature=temperature, top_p=top_p)
    batch = prompts()[:2]
    samples = HFBackend(model, TOKENIZER).generate(batch, n=2, config=config, seed=11)
    differs_from_raw = False
    with torch.no_grad():
        for sample in samples:
            prompt = batch[sample.prompt_index]
            for t, token in enumerate(sample.response_ids):
                context = torch.tensor([prompt + sample.response_ids[:t]])
                logits = model(input_ids=context, use_cache=False).logits[0, -1].double().tolist()
                expected = reference_processed_logprobs(logits, temperature, top_p)
                assert expected[token] > -math.inf, "a token outside the top-p nucleus was sampled"
                assert sample.logprobs[t] == pytest.approx(expected[token], abs=1e-4)
                raw = reference_processed_logprobs(logits, 1.0, 1.0)[token]
                differs_from_raw |= abs(raw - sample.logprobs[t]) > 1e-3
    assert differs_from_raw, "processed log-probs should differ from the model's own"


def test_default_config_records_the_models_own_logprobs():
    config = GenerationConfig()
    assert config.temperature == 1.0 and config.top_p == 1.0


def test_kv_cache_off_gives_the_same_samples():
    model = biased({TOKENIZER.eos_token_id: 2.0})
    backend = HFBackend(model, TOKENIZER)
    cached = backend.generate(prompts(), n=2, config=GenerationConfig(max_new_tokens=12), seed=9)
    plain = backend.generate(
        prompts(), n=2, config=GenerationConfig(max_new_tokens=12, use_cache=False), seed=9
    )
    assert [s.response_ids for s in cached] == [s.response_ids for s in plain]
    assert [s.finish_reason for s in cached] == [s.finish_reason for s in plain]
    for a, b in zip(cached, plain):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-5)


# --------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"temperature": 0.0}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": 0.0}, "top_p"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_generation_settings_are_user_errors(kwargs, fragment):
    with pytest.raises(PearbenchError, match=fragment):
        GenerationConfig(**kwargs)


def test_bad_n_and_empty_prompt_are_user_errors():
    backend = HFBackend(tiny(), TOKENIZER)
    with pytest.raises(PearbenchError, match="n must be"):
        backend.generate(prompts(), n=0)
    with pytest.raises(PearbenchError, match="empty prompt"):
        backend.generate([[]], n=1, config=GenerationConfig(max_new_tokens=2))
