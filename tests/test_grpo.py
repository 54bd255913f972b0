"""GRPO: advantages, the clipped surrogate and its aggregation against slow pure-Python references, then the loop
(pearbench.train.grpo.train_grpo) on a tiny model with a toy reward: every logged field, micro-batching, resuming."""

from __future__ import annotations

import math
import random
import statistics

import pytest
import torch

from pearbench.errors import PearbenchError
from pearbench.models.families import build_char_tokenizer, build_tiny_model, encode_prompt
from pearbench.train.checkpoint import list_checkpoints
from pearbench.train.grpo import GRPOConfig, aggregate, group_advantages, grpo_token_loss, train_grpo
from pearbench.verify.verdict import Verdict

TOKENIZER = build_char_tokenizer()
LOG_FIELDS = {
    "step",
    "reward_mean",
    "pass_rate",
    "verifier_errors",
    "response_length",
    "grad_norm",
    "clip_fraction",
    "entropy",
    "kl",
    "loss",
}

# --------------------------------------------------------------------------------------------- references


def reference_advantages(rewards: list[list[float]], scale: bool, eps: float = 1e-4) -> list[list[float]]:
    out = []
    for group in rewards:
        mean = sum(group) / len(group)
        std = statistics.stdev(group)
        out.append([(r - mean) / (std + eps) if scale else r - mean for r in group])
    return out


def reference_token_loss(logp, old, adv, eps_low, eps_high, ref=None, beta=0.0):
    """One token at a time: -min(r A, clip(r, 1 - eps_low, 1 + eps_high) A) + beta * k3."""
    ratio = math.exp(logp - old)
    clipped = min(max(ratio, 1 - eps_low), 1 + eps_high)
    loss = -min(ratio * adv, clipped * adv)
    kl = 0.0
    if ref is not None:
        kl = math.exp(ref - logp) - (ref - logp) - 1
    return loss + beta * kl, clipped * adv < ratio * adv, kl


def reference_aggregate(values: list[list[float]], mask: list[list[int]], how: str) -> float:
    if how == "token-mean":
        total = sum(v for row, m in zip(values, mask) for v, k in zip(row, m) if k)
        return total / sum(sum(m) for m in mask)
    per_seq = [sum(v for v, k in zip(row, m) if k) / max(1, sum(m)) for row, m in zip(values, mask)]
    return sum(per_seq) / len(per_seq)


# --------------------------------------------------------------------------------------------- advantages


@pytest.mark.parametrize("scale", [True, False])
def test_group_advantages_match_the_reference(scale):
    rng = random.Random(0)
    rewards = [[float(rng.random() < 0.4) for _ in range(8)] for _ in range(5)]
    got = group_advantages(torch.tensor(rewards), scale_rewards=scale)
    expected = reference_advantages(rewards, scale)
    assert torch.allclose(got, torch.tensor(expected), atol=1e-6)


def test_group_advantages_with_graded_rewards():
    rewards = [[0.3, 0.9, 0.1, 0.5], [1.0, 0.0, 0.0, 0.0]]
    got = group_advantages(torch.tensor(rewards, dtype=torch.float64))
    assert torch.allclose(
        got, torch.tensor(reference_advantages(rewards, True), dtype=torch.float64), atol=1e-9
    )
    assert got.sum(dim=1).tolist() == pytest.approx([0.0, 0.0], abs=1e-9)


def test_zero_variance_groups_get_zero_advantage():
    rewards = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    for scale in (True, False):
        got = group_advantages(rewards, scale_rewards=scale)
        assert got[:2].abs().max() == 0.0
        assert got[2].abs().min() > 0.4


def test_advantages_need_a_2d_tensor():
    with pytest.raises(ValueError, match="groups, group_size"):
        group_advantages(torch.ones(4))


# --------------------------------------------------------------------------------------------- surrogate


def test_token_loss_matches_the_reference_on_random_values():
    gen = torch.Generator().manual_seed(0)
    logp = -torch.rand(6, 7, generator=gen, dtype=torch.float64) * 3
    old = logp + (torch.rand(6, 7, generator=gen, dtype=torch.float64) - 0.5) * 0.8
    ref = logp + (torch.rand(6, 7, generator=gen, dtype=torch.float64) - 0.5) * 0.5
    adv = torch.randn(6, generator=gen, dtype=torch.float64)
    loss, clipped, kl = grpo_token_loss(
        logp, old, adv, epsilon_low=0.2, epsilon_high=0.28, ref_logprobs=ref, kl_coef=0.05
    )
    for b in range(6):
        for t in range(7):
            want, want_clipped, want_kl = reference_token_loss(
                float(logp[b, t]), float(old[b, t]), float(adv[b]), 0.2, 0.28, float(ref[b, t]), 0.05
            )
            assert float(loss[b, t]) == pytest.approx(want, abs=1e-12)
            assert bool(clipped[b, t]) == want_clipped
            assert float(kl[b, t]) == pytest.approx(want_kl, abs=1e-12)
    assert 0 < float(clipped.mean()) < 1, "the random case should clip some tokens and not others"
    assert float(kl.min()) >= 0


@pytest.mark.parametrize(
    ("ratio", "advantage", "loss", "clipped"),
    [
        (1.5, 1.0, -1.28, True),  # above 1 + eps_high, positive advantage: clipped at the upper bound
        (1.25, 1.0, -1.25, False),  # inside the asymmetric upper bound (1.28), though above 1 + eps_low
        (0.5, 1.0, -0.5, False),  # below 1 - eps_low, positive advantage: the unclipped term is the minimum
        (0.5, -1.0, 0.8, True),  # below 1 - eps_low, negative advantage: clipped at the lower bound
        (0.85, -1.0, 0.85, False),  # inside the lower bound
        (1.5, -1.0, 1.5, False),  # above the upper bound, negative advantage: unclipped (pessimistic)
    ],
)
def test_clipping_at_both_epsilons(ratio, advantage, loss, clipped):
    old = torch.tensor([[-1.0]], dtype=torch.float64)
    logp = (old + math.log(ratio)).requires_grad_(True)
    out, is_clipped, _ = grpo_token_loss(
        logp, old, torch.tensor([advantage], dtype=torch.float64), epsilon_low=0.2, epsilon_high=0.28
    )
    assert float(out.detach()) == pytest.approx(loss)
    assert bool(is_clipped) == clipped
    out.sum().backward()
    grad = float(logp.grad)
    if clipped:
        assert grad == 0.0
    else:  # d/dlogp of -r A = -r A
        assert grad == pytest.approx(-ratio * advantage)


def test_kl_coefficient_adds_the_k3_penalty():
    logp = torch.tensor([[-1.0, -2.0]], dtype=torch.float64)
    ref = torch.tensor([[-1.5, -2.0]], dtype=torch.float64)
    adv = torch.tensor([0.0], dtype=torch.float64)
    plain, _, kl = grpo_token_loss(logp, logp, adv, epsilon_low=0.2, epsilon_high=0.2, ref_logprobs=ref)
    penalised, _, _ = grpo_token_loss(
        logp, logp, adv, epsilon_low=0.2, epsilon_high=0.2, ref_logprobs=ref, kl_coef=0.1
    )
    assert plain.abs().max() == 0
    assert kl[0, 1] == 0
    assert float(kl[0, 0]) == pytest.approx(math.exp(-0.5) + 0.5 - 1)
    assert torch.allclose(penalised, 0.1 * kl)


# --------------------------------------------------------------------------------------------- aggregation


def test_token_mean_and_seq_mean_against_the_reference():
    values = [[1.0, 2.0, 3.0, 4.0], [10.0, 0.0, 0.0, 0.0], [5.0, 6.0, 0.0, 0.0]]
    mask = [[1, 1, 1, 1], [1, 0, 0, 0], [0, 1, 1, 0]]
    v, m = torch.tensor(values), torch.tensor(mask, dtype=torch.float32)
    for how in ("token-mean", "seq-mean"):
        numerator, denominator = aggregate(v, m, how)
        assert float(numerator) / denominator == pytest.approx(reference_aggregate(values, mask, how))
    token_mean = aggregate(v, m, "token-mean")
    seq_mean = aggregate(v, m, "seq-mean")
    assert token_mean[1] == 7.0 and seq_mean[1] == 3.0
    assert float(token_mean[0]) / token_mean[1] != pytest.approx(float(seq_mean[0]) / seq_mean[1])


def test_aggregation_accumulates_exactly_over_micro_batches():
    gen = torch.Generator().manual_seed(1)
    values = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    mask = (torch.rand(7, 5, generator=gen) < 0.7).double()
    mask[:, 0] = 1
    for how in ("token-mean", "seq-mean"):
        whole_num, whole_den = aggregate(values, mask, how)
        parts = [aggregate(values[i : i + 3], mask[i : i + 3], how) for i in range(0, 7, 3)]
        assert float(sum(p[0] for p in parts)) / sum(p[1] for p in parts) == pytest.approx(
            float(whole_num) / whole_den
        )


def test_unknown_aggregation():
    with pytest.raises(ValueError, match="token-mean"):
        aggregate(torch.ones(1, 1), torch.ones(1, 1), "sum")


# --------------------------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ({"group_size": 1}, r"\[rl\] group_size: must be >= 2, got 1"),
        ({"loss_aggregation": "sum"}, "loss_aggregation"),
        ({"epsilon_low": 1.0}, "epsilon_low"),
        ({"kl_coef": -0.1}, "kl_coef"),
        ({"lr": 0.0}, r"\[rl\] lr: must be > 0, got 0.0"),
        ({"top_p": 0.0}, "top_p"),
    ],
)
def test_bad_recipe_is_one_clear_error(bad, fragment):
    with pytest.raises(PearbenchError, match=fragment):
        GRPOConfig(**bad)


# --------------------------------------------------------------------------------------------- the loop

PROMPTS = [
    encode_prompt(TOKENIZER, text) for text in ("3 4 5=", "reach 9:", "1 1 1?", "8+", "countdown 7 2 6")
]


def toy_reward(index: int, text: str) -> Verdict:
    """Deterministic and varied on random text: correct iff the characters' codes sum to an even number."""
    return Verdict(correct=sum(map(ord, text)) % 2 == 0)


def tiny(seed: int = 0) -> torch.nn.Module:
    return build_tiny_model("tiny-ci", TOKENIZER, seed=seed)


def config(**overrides) -> GRPOConfig:
    settings = {
        "steps": 3,
        "prompts_per_step": 2,
        "group_size": 4,
        "lr": 1e-3,
        "max_new_tokens": 8,
        "micro_batch_size": 3,
        "checkpoint_every": 2,
        "kl_log_every": 1,
    }
    settings.update(overrides)
    return GRPOConfig(**settings)


def test_a_few_steps_run_and_log_every_field(tmp_path):
    model = tiny()
    before = model.state_dict()["model.embed_tokens.weight"].clone()
    log = train_grpo(
        model,
        TOKENIZER,
        PROMPTS,
        toy_reward,
        config=config(),
        seed=0,
        checkpoint_dir=tmp_path,
        reference=tiny(),
        progress=False,
    )
    assert [e["step"] for e in log] == [1, 2, 3]
    for entry in log:
        assert set(entry) == LOG_FIELDS
        assert all(math.isfinite(v) for v in entry.values()), entry
        assert 0 <= entry["reward_mean"] <= 1 and 0 <= entry["pass_rate"] <= 1
        assert 1 <= entry["response_length"] <= 8
        assert entry["verifier_errors"] == 0
        assert entry["entropy"] > 0 and entry["kl"] >= 0
        assert entry["clip_fraction"] == 0  # one inner iteration: the ratio is exactly 1
    assert 0 < sum(e["reward_mean"] for e in log) / 3 < 1
    assert log[0]["kl"] == 0  # the policy starts at the reference
    assert log[-1]["kl"] > 0
    assert not torch.equal(before, model.state_dict()["model.embed_tokens.weight"])
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-3"]


def test_kl_is_nan_without_a_reference_and_errors_are_counted(tmp_path):
    def flaky(index: int, text: str) -> Verdict:
        return Verdict(correct=False, error="timeout") if index < 3 else toy_reward(index, text)

    log = train_grpo(
        tiny(),
        TOKENIZER,
        PROMPTS[:1] * 3 + PROMPTS[1:2],
        flaky,
        config=config(steps=1),
        seed=1,
        checkpoint_dir=tmp_path,
        progress=False,
    )
    assert math.isnan(log[0]["kl"])
    # 2 of the 4 prompts are drawn: at least one of them is among 0-2, which always fail
    assert log[0]["verifier_errors"] > 0


def test_several_inner_iterations_clip_some_tokens(tmp_path):
    log = train_grpo(
        tiny(),
        TOKENIZER,
        PROMPTS,
        toy_reward,
        config=config(steps=1, inner_iterations=3, lr=0.05),
        seed=0,
        checkpoint_dir=tmp_path,
        progress=False,
    )
    assert log[0]["clip_fraction"] > 0


@pytest.mark.parametrize("aggregation", ["token-mean", "seq-mean"])
def test_micro_batch_size_does_not_change_the_update(tmp_path, aggregation):
    models = []
    for micro in (8, 3):
        model = tiny()
        train_grpo(
            model,
            TOKENIZER,
            PROMPTS,
            toy_reward,
            config=config(steps=1, micro_batch_size=micro, loss_aggregation=aggregation),
            seed=2,
            checkpoint_dir=tmp_path / f"{aggregation}-{micro}",
            progress=False,
        )
        models.append(model)
    for (name, a), b in zip(models[0].named_parameters(), models[1].parameters()):
        assert torch.allclose(a, b, atol=1e-5), name


def test_resume_from_a_checkpoint_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    cfg = config(steps=4, checkpoint_every=2, kl_coef=0.05)
    straight = tiny()
    straight_log = train_grpo(
        straight,
        TOKENIZER,
        PROMPTS,
        toy_reward,
        config=cfg,
        seed=3,
        checkpoint_dir=tmp_path / "straight",
        reference=tiny(),
        progress=False,
    )

    calls = {"n": 0}
    per_step = cfg.prompts_per_step * cfg.group_size

    def crashes_in_step_3(index: int, text: str) -> Verdict:
        calls["n"] += 1
        if calls["n"] > 2 * per_step:
            raise KeyboardInterrupt("simulated crash")
        return toy_reward(index, text)

    with pytest.raises(KeyboardInterrupt):
        train_grpo(
            tiny(),
            TOKENIZER,
            PROMPTS,
            crashes_in_step_3,
            config=cfg,
            seed=3,
            checkpoint_dir=tmp_path / "resumed",
            reference=tiny(),
            progress=False,
        )
    assert [p.name for p in list_checkpoints(tmp_path / "resumed")] == ["step-2"]
    resumed = tiny(seed=77)
    resumed_log = train_grpo(
        resumed,
        TOKENIZER,
        PROMPTS,
        toy_reward,
        config=cfg,
        seed=3,
        checkpoint_dir=tmp_path / "resumed",
        reference=tiny(),
        progress=False,
    )
    for (name, a), b in zip(straight.named_parameters(), resumed.parameters()):
        assert torch.equal(a, b), name
    assert [e["step"] for e in resumed_log] == [1, 2, 3, 4]
    for a, b in zip(straight_log, resumed_log):
        assert a == pytest.approx(b, nan_ok=True)


def test_no_prompts_is_a_user_error(tmp_path):
    with pytest.raises(PearbenchError, match="no training prompts"):
        train_grpo(tiny(), TOKENIZER, [], toy_reward, config=config(), seed=0, checkpoint_dir=tmp_path)
