"""Precision and memory (docs/scale.md "Precision and memory"): the sampler's tokens are those recorded before it
was changed (bit for bit, CPU float32), selective log-probs equal log_softmax, bf16 autocast really trains in bf16
with float32 master weights, gradient checkpointing leaves float32 numerics unchanged, and the dtype is a setting
that enters stage keys only when it is not the default.

``python tests/test_precision.py --record`` rewrites ``tests/data/sampler_tokens.json`` from the current sampler: it
was run once on the sampler before ``logits_to_keep`` and device-side sampling went in, and must not be rerun to make
a failing reproduction pass.
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from test_generation import PROMPT_TEXTS, LogitBias

from pearbench.errors import PearbenchError
from pearbench.models.families import build_char_tokenizer, build_tiny_model, encode_prompt
from pearbench.models.generation import GenerationConfig, HFBackend, pad_sequences, token_logprobs
from pearbench.models.logprobs import entropy_of_logits, selective_logprobs
from pearbench.models.precision import autocast, enable_gradient_checkpointing, torch_dtype

TOKENIZER = build_char_tokenizer()
RECORDED = Path(__file__).parent / "data" / "sampler_tokens.json"


def sampler_model(name: str) -> torch.nn.Module:
    """The models of the recorded cases: "plain" (a random tiny model) and "sharp" (random logit bias, EOS boosted)."""
    if name == "plain":
        return build_tiny_model("tiny-ci", TOKENIZER, seed=0)
    generator = torch.Generator().manual_seed(1)
    bias = torch.randn(len(TOKENIZER), generator=generator) * 2.0
    bias[TOKENIZER.eos_token_id] += 2.0
    return LogitBias(build_tiny_model("tiny-ci", TOKENIZER, seed=1), bias)


def _char(char: str) -> int:
    return TOKENIZER(char, add_special_tokens=False).input_ids[0]


#: (case name, model, seed, n, GenerationConfig kwargs)
SAMPLER_CASES = [
    ("plain-t1", "plain", 0, 3, {"max_new_tokens": 20, "batch_size": 5}),
    ("plain-t0.7", "plain", 7, 2, {"max_new_tokens": 16, "temperature": 0.7}),
    ("sharp-t1", "sharp", 3, 3, {"max_new_tokens": 24, "batch_size": 4}),
    ("sharp-top-p", "sharp", 11, 2, {"max_new_tokens": 12, "top_p": 0.6}),
    ("sharp-t1.3-top-p", "sharp", 5, 2, {"max_new_tokens": 12, "temperature": 1.3, "top_p": 0.8}),
    ("sharp-no-cache", "sharp", 9, 2, {"max_new_tokens": 12, "use_cache": False}),
    ("plain-stop", "plain", 2, 3, {"max_new_tokens": 30, "stop": ("a", "7")}),
]


def sample_case(model_name: str, seed: int, n: int, kwargs: dict) -> list[dict]:
    model = sampler_model(model_name)
    prompts = [encode_prompt(TOKENIZER, text) for text in PROMPT_TEXTS]
    samples = HFBackend(model, TOKENIZER).generate(prompts, n=n, config=GenerationConfig(**kwargs), seed=seed)
    return [
        {"ids": s.response_ids, "logprobs": s.logprobs, "finish": s.finish_reason, "text": s.text}
        for s in samples
    ]


def record_sampler_tokens(path: Path = RECORDED) -> None:
    torch.set_num_threads(1)
    data = {
        "torch": torch.__version__,
        "cases": {
            name: sample_case(model, seed, n, kwargs) for name, model, seed, n, kwargs in SAMPLER_CASES
        },
    }
    path.write_text(json.dumps(data, indent=None) + "\n")


# --------------------------------------------------------------------------------------------- the sampler


@pytest.mark.parametrize("case", SAMPLER_CASES, ids=[c[0] for c in SAMPLER_CASES])
def test_sampler_reproduces_the_recorded_tokens_exactly(case):
    name, model, seed, n, kwargs = case
    recorded = json.loads(RECORDED.read_text())["cases"][name]
    got = sample_case(model, seed, n, kwargs)
    assert [g["ids"] for g in got] == [r["ids"] for r in recorded]
    assert [g["finish"] for g in got] == [r["finish"] for r in recorded]
    assert [g["text"] for g in got] == [r["text"] for r in recorded]
    # the log-probs move only in float32 rounding: fewer lm_head rows, another thread count (seen: 4.8e-7)
    for g, r in zip(got, recorded):
        assert g["logprobs"] == pytest.approx(r["logprobs"], abs=1e-6)


def test_recorded_cases_cover_every_way_a_sample_ends():
    cases = json.loads(RECORDED.read_text())["cases"]
    reasons = {s["finish"] for samples in cases.values() for s in samples}
    assert reasons == {"eos", "stop", "length"}


def test_the_sampler_computes_logits_of_the_last_position_only():
    model = sampler_model("plain")
    rows_seen = []
    hook = model.lm_head.register_forward_hook(lambda module, args, out: rows_seen.append(out.shape[1]))
    prompts = [encode_prompt(TOKENIZER, text) for text in PROMPT_TEXTS]
    HFBackend(model, TOKENIZER).generate(prompts, n=1, config=GenerationConfig(max_new_tokens=3), seed=0)
    hook.remove()
    assert rows_seen and set(rows_seen) == {1}, rows_seen  # the prompt pass too (width > 1)


def test_the_sampler_draws_on_the_models_device(monkeypatch):
    seen = []
    original = torch.multinomial

    def spy(probs, num_samples, *, generator=None):
        seen.append((probs.device, generator.device))
        return original(probs, num_samples, generator=generator)

    monkeypatch.setattr(torch, "multinomial", spy)
    model = sampler_model("plain")
    HFBackend(model, TOKENIZER).generate([[1, 40]], n=2, config=GenerationConfig(max_new_tokens=2))
    device = next(model.parameters()).device
    assert seen and all(p == device and g == device for p, g in seen)


def test_bf16_sampling_runs_under_autocast_and_keeps_float32_weights():
    model = sampler_model("plain")
    seen = []
    hook = model.model.layers[0].mlp.down_proj.register_forward_hook(
        lambda module, args, out: seen.append((out.dtype, torch.is_autocast_enabled("cpu")))
    )
    samples = HFBackend(model, TOKENIZER, dtype="bfloat16").generate(
        [[1, 40, 41]], n=2, config=GenerationConfig(max_new_tokens=4), seed=0
    )
    hook.remove()
    assert seen and set(seen) == {(torch.bfloat16, True)}
    assert all(math.isfinite(v) and v <= 0 for s in samples for v in s.logprobs)
    assert {p.dtype for p in model.parameters()} == {torch.float32}


# --------------------------------------------------------------------------------------------- selective log-probs


def _reference(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.gather(F.log_softmax(logits.float(), dim=-1), -1, targets[..., None]).squeeze(-1)


def _gap(got: torch.Tensor, want: torch.Tensor) -> float:
    """Largest difference relative to max(1, |want|): 1e-6 is a few float32 ulps (one ulp of 20 is 1.9e-6, so an
    absolute 1e-6 cannot hold for large negative log-probs once the vocabulary sum is reduced in another order)."""
    got, want = got.detach(), want.detach()
    return float(((got - want).abs() / want.abs().clamp(min=1)).max())


@pytest.mark.parametrize("chunk_elements", [1, 7 * 50, 10**9])
def test_chunked_logprobs_and_gradients_equal_log_softmax_in_float32(chunk_elements):
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(3, 7, 50, generator=gen) * 4).requires_grad_(True)
    targets = torch.randint(0, 50, (3, 7), generator=gen)
    upstream = torch.randn(3, 7, generator=gen)
    got = selective_logprobs(logits, targets, threshold=0, chunk_elements=chunk_elements)
    (grad_got,) = torch.autograd.grad((got * upstream).sum(), logits)
    want = _reference(logits, targets)
    (grad_want,) = torch.autograd.grad((want * upstream).sum(), logits)
    assert got.dtype == torch.float32 and got.shape == targets.shape
    assert _gap(got, want) < 1e-6
    assert (grad_got - grad_want).abs().max() < 1e-6


def test_a_large_vocabulary_takes_the_chunked_path_and_agrees(monkeypatch):
    from pearbench.models import logprobs as module

    calls = []
    monkeypatch.setattr(module, "CHUNK_ELEMENTS", 3 * 40_000)
    original = module._SelectiveLogProbs.apply
    monkeypatch.setattr(module._SelectiveLogProbs, "apply", lambda *a: calls.append(a[2]) or original(*a))
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 5, 40_000, generator=gen) * 3
    targets = torch.randint(0, 40_000, (2, 5), generator=gen)
    got = module.selective_logprobs(logits, targets, chunk_elements=module.CHUNK_ELEMENTS)
    assert calls == [3]  # 10 positions in chunks of 3
    want = _reference(logits, targets)
    assert _gap(got, want) < 1e-6
    # both float32 paths are about as close to the float64 value
    truth = torch.gather(F.log_softmax(logits.double(), dim=-1), -1, targets[..., None]).squeeze(-1)
    assert (got - truth).abs().max() <= (want - truth).abs().max() + 2e-6
    small = module.selective_logprobs(logits[..., :100], targets % 100)
    assert calls == [3], "a small vocabulary keeps the plain log_softmax"
    assert torch.equal(small, _reference(logits[..., :100], targets % 100))


def test_chunked_logprobs_of_bf16_logits_are_float32_and_match():
    gen = torch.Generator().manual_seed(2)
    logits = (torch.randn(4, 33, generator=gen) * 3).bfloat16().requires_grad_(True)
    targets = torch.randint(0, 33, (4,), generator=gen)
    got = selective_logprobs(logits, targets, threshold=0, chunk_elements=40)
    got.sum().backward()
    assert got.dtype == torch.float32 and logits.grad.dtype == torch.bfloat16
    assert (got - _reference(logits.detach(), targets)).abs().max() < 1e-5


def test_chunked_entropy_equals_the_plain_one():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 6, 70, generator=gen) * 2
    plain = entropy_of_logits(logits)
    chunked = entropy_of_logits(logits, threshold=0, chunk_elements=100)
    log_dist = F.log_softmax(logits, dim=-1)
    assert torch.equal(plain, -(log_dist.exp() * log_dist).sum(-1))
    assert (plain - chunked).abs().max() < 1e-5


def test_token_logprobs_of_a_char_model_is_the_plain_log_softmax_bit_for_bit():
    model = sampler_model("plain")
    input_ids, attention, _ = pad_sequences([[1, 40, 41], [1, 50]], [[60, 2], [61, 62, 2]], 0)
    with torch.no_grad():
        got = token_logprobs(model, input_ids, attention)
        logits = model(input_ids=input_ids, attention_mask=attention, use_cache=False).logits[:, :-1].float()
    assert torch.equal(got, torch.gather(F.log_softmax(logits, -1), -1, input_ids[:, 1:, None]).squeeze(-1))


# --------------------------------------------------------------------------------------------- training precision


def _examples(count: int = 24, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    vocab = len(TOKENIZER)
    out = []
    for _ in range(count):
        prompt = [TOKENIZER.bos_token_id] + [rng.randrange(4, vocab) for _ in range(rng.randint(2, 8))]
        response = [rng.randrange(4, vocab) for _ in range(rng.randint(1, 10))] + [TOKENIZER.eos_token_id]
        behavior = [-math.log(vocab) + rng.uniform(-0.3, 0.3) for _ in response]
        out.append({"prompt_ids": prompt, "response_ids": response, "behavior_logprobs": behavior})
    return out


def _sft(model, tmp_path, method="pear-seq", **kwargs):
    from pearbench.train.methods import get_method
    from pearbench.train.sft import SFTConfig, train_sft

    method = get_method(method)
    return train_sft(
        model,
        _examples(),
        objective=method.loss,
        options=method.make_options({}),
        config=SFTConfig(steps=3, batch_size=8, micro_batch_size=4, lr=3e-3, warmup_steps=1),
        seed=1,
        pad_id=TOKENIZER.pad_token_id,
        checkpoint_dir=tmp_path,
        progress=False,
        **kwargs,
    )


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_sft_step_runs_its_forward_passes_in_the_chosen_dtype(tmp_path, monkeypatch, dtype):
    from pearbench.train import sft as sft_module

    optimizers = []
    make = sft_module.make_optimizer
    monkeypatch.setattr(
        sft_module, "make_optimizer", lambda *a, **k: optimizers.append(make(*a, **k)) or optimizers[-1]
    )
    model = sampler_model("plain")
    seen = set()

    def hook(module, args, out):
        if torch.is_grad_enabled():  # the training forward passes (not a no-grad pass)
            seen.add((out.dtype, torch.is_autocast_enabled("cpu")))

    handle = model.model.layers[1].self_attn.o_proj.register_forward_hook(hook)
    log = _sft(model, tmp_path, dtype=dtype)
    handle.remove()
    assert len(log) == 3 and all(math.isfinite(e["nll"]) for e in log)
    assert seen == {(torch_dtype(dtype), dtype == "bfloat16")}
    # master weights, their gradients and the AdamW moments stay float32
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert {p.grad.dtype for p in model.parameters() if p.grad is not None} == {torch.float32}
    moments = [t for state in optimizers[0].state.values() for t in state.values() if t.dim() > 0]
    assert moments and {t.dtype for t in moments} == {torch.float32}


def test_bf16_sft_trains_close_to_float32_but_not_identically(tmp_path):
    weights, nll = {}, {}
    for dtype in ("float32", "bfloat16"):
        model = sampler_model("plain")
        nll[dtype] = [e["nll"] for e in _sft(model, tmp_path / dtype, dtype=dtype)]
        weights[dtype] = torch.cat([p.detach().flatten() for p in model.parameters()])
    start = torch.cat([p.detach().flatten() for p in sampler_model("plain").parameters()])
    moved = (weights["float32"] - start).norm()
    gap = (weights["float32"] - weights["bfloat16"]).norm()
    assert 0 < gap < 0.2 * moved, (float(gap), float(moved))  # seen: 0.095 vs 1.83
    assert nll["float32"] != nll["bfloat16"]
    assert nll["bfloat16"] == pytest.approx(nll["float32"], abs=5e-3)


def _count_calls(module: torch.nn.Module, counts: dict[str, int], name: str) -> None:
    """Count the calls of ``module.forward`` with gradients on (training passes, and recomputations by gradient
    checkpointing, during which forward hooks do not fire)."""
    original = module.forward

    def forward(*args, **kwargs):
        counts[name] += torch.is_grad_enabled()
        return original(*args, **kwargs)

    module.forward = forward


def test_gradient_checkpointing_leaves_float32_numerics_unchanged(tmp_path):
    plain, checkpointed = sampler_model("plain"), sampler_model("plain")
    calls = {"plain": 0, "checkpointed": 0}
    _count_calls(plain.model.layers[0].mlp, calls, "plain")
    _count_calls(checkpointed.model.layers[0].mlp, calls, "checkpointed")
    _sft(plain, tmp_path / "plain")
    _sft(checkpointed, tmp_path / "ckpt", gradient_checkpointing=True)
    assert calls["checkpointed"] == 2 * calls["plain"] > 0, calls  # the backward recomputed every forward
    assert not checkpointed.is_gradient_checkpointing  # switched off again after training
    for a, b in zip(plain.parameters(), checkpointed.parameters()):
        assert (a - b).abs().max() <= 1e-6


def test_gradient_checkpointing_of_a_model_without_it_is_a_user_error():
    with pytest.raises(PearbenchError, match="gradient_checkpointing"):
        enable_gradient_checkpointing(torch.nn.Linear(2, 2), True)
    enable_gradient_checkpointing(torch.nn.Linear(2, 2), False)()  # off: nothing to do


def test_grpo_in_bf16_with_checkpointing_trains_in_bf16(tmp_path):
    from pearbench.train.grpo import GRPOConfig, train_grpo
    from pearbench.verify.verdict import Verdict

    model = sampler_model("plain")
    seen = set()
    handle = model.model.layers[0].mlp.down_proj.register_forward_hook(
        lambda module, args, out: seen.add((out.dtype, torch.is_grad_enabled()))
    )
    calls = {"mlp": 0}
    _count_calls(model.model.layers[0].mlp, calls, "mlp")
    prompts = [encode_prompt(TOKENIZER, text) for text in PROMPT_TEXTS]
    log = train_grpo(
        model,
        TOKENIZER,
        prompts,
        lambda index, text: Verdict(correct=sum(map(ord, text)) % 2 == 0),
        config=GRPOConfig(
            steps=2, prompts_per_step=2, group_size=4, max_new_tokens=6, micro_batch_size=4, kl_log_every=1
        ),
        seed=0,
        checkpoint_dir=tmp_path,
        reference=sampler_model("plain"),
        progress=False,
        dtype="bfloat16",
        gradient_checkpointing=True,
    )
    handle.remove()
    assert len(log) == 2 and all(math.isfinite(e["loss"]) and e["entropy"] > 0 for e in log)
    assert seen == {(torch.bfloat16, False), (torch.bfloat16, True)}  # rollouts and training passes
    assert calls["mlp"] == 2 * 2 * 2  # 2 steps x 2 micro-batches, each recomputed in the backward
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert not model.is_gradient_checkpointing


def test_autocast_is_nothing_in_float32_and_bad_dtypes_are_refused():
    with autocast("cpu", "float32"):
        assert not torch.is_autocast_enabled("cpu")
    with autocast("cpu", "bfloat16"):
        assert torch.is_autocast_enabled("cpu")
    with pytest.raises(PearbenchError, match="dtype: must be one of float32, bfloat16, got 'float16'"):
        HFBackend(sampler_model("plain"), TOKENIZER, dtype="float16")


# --------------------------------------------------------------------------------------------- settings and keys


def _profile(tmp_path, text: str):
    from pearbench.harness.config import load_profile

    config = tmp_path / "x.toml"
    config.write_text(text)
    return load_profile("smoke", str(config))


def test_dtype_and_checkpointing_are_models_settings(tmp_path):
    from pearbench.settings import SettingError

    assert _profile(tmp_path, "").models.dtype == "float32"
    profile = _profile(tmp_path, '[models]\ndtype = "bfloat16"\ngradient_checkpointing = true\n')
    assert profile.models.dtype == "bfloat16" and profile.models.gradient_checkpointing is True
    with pytest.raises(SettingError, match=r"\[models\] dtype"):
        _profile(tmp_path, '[models]\ndtype = "float16"\n')
    with pytest.raises(SettingError, match=r"\[models\] gradient_checkpointing"):
        _profile(tmp_path, '[models]\ngradient_checkpointing = "yes"\n')


def test_dtype_enters_the_stage_keys_only_when_not_the_default(tmp_path):
    from types import SimpleNamespace

    from pearbench.harness.stages import _pretrain_spec
    from pearbench.harness.suites import load_suite

    def key(text: str) -> dict:
        ctx = SimpleNamespace(profile=_profile(tmp_path, text), suite=load_suite("countdown"))
        return _pretrain_spec(ctx, "base")[0]

    plain = key("")
    assert "dtype" not in plain and "gradient_checkpointing" not in str(plain)
    assert key('[models]\ndtype = "float32"\n') == plain
    assert key('[models]\ndtype = "bfloat16"\n') == {**plain, "dtype": "bfloat16"}
    # a memory knob, not a numerics one: the same stage folder
    assert key("[models]\ngradient_checkpointing = true\n") == plain


@pytest.mark.slow
def test_a_bf16_smoke_run_records_its_dtype(tmp_path):
    from conftest import run_cli

    config = tmp_path / "bf16.toml"
    config.write_text('[models]\ndtype = "bfloat16"\n')
    result = run_cli(
        "run",
        "--profile",
        "smoke",
        "--method",
        "pear-seq",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (record,) = (tmp_path / "out" / "records").glob("*.json")
    assert json.loads(record.read_text())["engine"]["dtype"] == "bfloat16"


if __name__ == "__main__" and "--record" in sys.argv:
    record_sampler_tokens()
    print(f"wrote {RECORDED}")
