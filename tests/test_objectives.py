"""PEAR / DFT / SFT objectives (pearbench.train.weights, pearbench.train.objectives) against a slow per-token
reference that follows docs/design.md §2 literally."""

from __future__ import annotations

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pearbench.errors import PearbenchError
from pearbench.train import objectives
from pearbench.train.methods import get_method
from pearbench.train.objectives import (
    NORMALISATIONS,
    LossDiagnostics,
    accumulate,
    normaliser_from_mask,
    scale_gradients,
)
from pearbench.train.weights import LEVELS, dft_weights, pear_weights, pear_weights_with_stats

# ----------------------------------------------------------------------------------------- the slow reference


def reference_row_weights(
    logprobs: list[float],
    behavior: list[float],
    mask: list[int],
    *,
    level: str,
    gamma: float,
    block_size: int,
    delta_clip: tuple[float, float],
    log_weight_clip: tuple[float, float],
) -> list[float]:
    """docs/design.md §2 word for word, one token at a time (t, j, k, m are 1-based as in the text)."""
    positions = [i for i, m in enumerate(mask) if m]  # response token t sits at positions[t - 1]
    T = len(positions)

    def delta(t: int) -> float:
        raw = logprobs[positions[t - 1]] - behavior[positions[t - 1]]
        return min(max(raw, delta_clip[0]), delta_clip[1])

    blocks = []  # I_1..I_K, each a list of t, from the first response token; the last may be shorter
    start = 1
    while start <= T:
        blocks.append(list(range(start, min(start + block_size - 1, T) + 1)))
        start += block_size
    K = len(blocks)

    def rho(k: int) -> float:
        return sum(delta(t) for t in blocks[k - 1])

    out = [0.0] * len(mask)
    for t in range(1, T + 1):
        if level == "seq":
            log_g = sum(delta(j) for j in range(1, T + 1))
        elif level == "token":
            log_g = (T - t) * math.log(gamma) + sum(delta(j) for j in range(t + 1, T + 1))
        else:
            k = next(index for index, block in enumerate(blocks, start=1) if t in block)
            e_k = blocks[k - 1][-1]
            log_g = (T - e_k) * math.log(gamma) + sum(rho(m) for m in range(k + 1, K + 1))
        out[positions[t - 1]] = math.exp(min(max(log_g, log_weight_clip[0]), log_weight_clip[1]))
    return out


def reference_weights(logprobs, behavior, mask, **kwargs) -> torch.Tensor:
    rows = [
        reference_row_weights(lp.tolist(), b.tolist(), [int(v) for v in m.tolist()], **kwargs)
        for lp, b, m in zip(logprobs.double(), behavior.double(), mask)
    ]
    return torch.tensor(rows, dtype=torch.float64)


def random_batch(
    rng: random.Random,
    batch: int,
    time: int,
    *,
    padding: str = "mixed",
    holes: bool = False,
    scale: float = 0.25,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows of varying length (0..time response tokens), padded left, right, or both (prompt + padding)."""
    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    behavior = -torch.rand(batch, time, generator=generator, dtype=torch.float64) * 3.0
    logprobs = behavior + torch.randn(batch, time, generator=generator, dtype=torch.float64) * scale
    mask = torch.zeros(batch, time, dtype=torch.bool)
    for row in range(batch):
        length = rng.randint(0 if row == 0 else 1, time)
        side = padding if padding != "mixed" else rng.choice(["left", "right", "both"])
        if side == "left":
            start = time - length
        elif side == "right":
            start = 0
        else:
            start = rng.randint(0, time - length)
        mask[row, start : start + length] = True
        if holes and length > 2:
            mask[row, start + rng.randint(1, length - 2)] = False  # a prompt token inside the response span
    return logprobs, behavior, mask


# ----------------------------------------------------------------------------------------- weights


WORKED_RAW = [-0.05, 0.1, -0.2, 0.4, 0.0]
WORKED_EXPECTED = {
    "seq": [1.30996] * 5,
    "token": [0.90353, 0.90839, 1.09339, 0.9, 1.0],
    "block": [0.90839, 0.90839, 0.9, 0.9, 1.0],
}


@pytest.mark.parametrize("level", LEVELS)
def test_design_worked_example(level: str) -> None:
    behavior = torch.tensor([[-1.5, -0.7, -2.0, -0.9, -0.3]], dtype=torch.float64)
    logprobs = behavior + torch.tensor([WORKED_RAW], dtype=torch.float64)
    mask = torch.ones_like(behavior, dtype=torch.bool)
    weights = pear_weights(logprobs, behavior, mask, level=level, gamma=0.9, block_size=2)
    assert weights.tolist()[0] == pytest.approx(WORKED_EXPECTED[level], abs=1e-5)


@pytest.mark.parametrize("level", LEVELS)
def test_worked_example_left_and_right_padded(level: str) -> None:
    raw = torch.tensor(WORKED_RAW, dtype=torch.float64)
    logprobs = torch.full((2, 9), -0.5, dtype=torch.float64)
    behavior = torch.full((2, 9), -0.5, dtype=torch.float64)
    mask = torch.zeros(2, 9, dtype=torch.bool)
    logprobs[0, 4:] += raw  # left padded (4 leading zeros in the mask)
    mask[0, 4:] = True
    logprobs[1, :5] += raw  # right padded
    mask[1, :5] = True
    weights = pear_weights(logprobs, behavior, mask, level=level, gamma=0.9, block_size=2)
    assert weights[0, 4:].tolist() == pytest.approx(WORKED_EXPECTED[level], abs=1e-5)
    assert weights[1, :5].tolist() == pytest.approx(WORKED_EXPECTED[level], abs=1e-5)
    assert weights[0, :4].eq(0).all() and weights[1, 5:].eq(0).all()


@pytest.mark.parametrize("padding", ["left", "right", "both"])
@pytest.mark.parametrize("level", LEVELS)
def test_matches_reference_random(level: str, padding: str) -> None:
    rng = random.Random(f"{level}-{padding}")
    for _ in range(6):
        time = rng.randint(1, 23)
        logprobs, behavior, mask = random_batch(rng, rng.randint(1, 6), time, padding=padding)
        kwargs = dict(
            level=level,
            gamma=rng.choice([1.0, 0.999, 0.9, rng.uniform(0.5, 1.0)]),
            block_size=rng.randint(1, 7),
            delta_clip=rng.choice([(-0.08, 0.3), (-0.5, 0.5), (-0.2, 0.0)]),
            log_weight_clip=rng.choice([(-10.0, 5.0), (-0.3, 0.2)]),  # the tight one puts log G at its clips
        )
        got = pear_weights(logprobs, behavior, mask, **kwargs)
        expected = reference_weights(logprobs, behavior, mask, **kwargs)
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("block_size", range(1, 8))
def test_block_matches_reference_every_block_size(block_size: int) -> None:
    rng = random.Random(block_size)
    # lengths 1..20 cover T divisible and not divisible by every B
    logprobs, behavior, mask = random_batch(rng, 16, 20, padding="mixed")
    kwargs = dict(
        level="block", gamma=0.95, block_size=block_size, delta_clip=(-0.3, 0.3), log_weight_clip=(-10.0, 5.0)
    )
    torch.testing.assert_close(
        pear_weights(logprobs, behavior, mask, **kwargs),
        reference_weights(logprobs, behavior, mask, **kwargs),
        rtol=1e-10,
        atol=1e-12,
    )


@pytest.mark.parametrize("level", LEVELS)
def test_response_tokens_counted_across_interior_prompt_tokens(level: str) -> None:
    """t and T count response tokens only, so a masked-out token inside a row is skipped, not counted."""
    rng = random.Random(7)
    logprobs, behavior, mask = random_batch(rng, 8, 15, holes=True)
    kwargs = dict(level=level, gamma=0.9, block_size=3, delta_clip=(-0.2, 0.3), log_weight_clip=(-10.0, 5.0))
    torch.testing.assert_close(
        pear_weights(logprobs, behavior, mask, **kwargs),
        reference_weights(logprobs, behavior, mask, **kwargs),
        rtol=1e-10,
        atol=1e-12,
    )


def test_block_size_one_is_token_level() -> None:
    logprobs, behavior, mask = random_batch(random.Random(3), 12, 30)
    token = pear_weights(logprobs, behavior, mask, level="token", gamma=0.97)
    block = pear_weights(logprobs, behavior, mask, level="block", gamma=0.97, block_size=1)
    torch.testing.assert_close(block, token, rtol=1e-12, atol=0.0)


def test_one_block_covering_the_row_gives_weight_one() -> None:
    logprobs, behavior, mask = random_batch(random.Random(4), 8, 10, scale=1.0)
    weights = pear_weights(logprobs, behavior, mask, level="block", block_size=10)
    assert torch.equal(weights, mask.double())


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    length=st.integers(0, 12),
    pad_left=st.integers(0, 6),
    pad_right=st.integers(0, 6),
    level=st.sampled_from(LEVELS),
    block_size=st.integers(1, 7),
    seed=st.integers(0, 2**16),
)
def test_row_weights_independent_of_padding_and_batch(
    length, pad_left, pad_right, level, block_size, seed
) -> None:
    """A row gets the same weights alone and inside a padded batch with longer rows (left or right padding)."""
    generator = torch.Generator().manual_seed(seed)
    behavior = -torch.rand(length, generator=generator, dtype=torch.float64) * 2
    logprobs = behavior + torch.randn(length, generator=generator, dtype=torch.float64) * 0.3
    kwargs = dict(level=level, gamma=0.93, block_size=block_size)
    alone = pear_weights(logprobs[None], behavior[None], torch.ones(1, length, dtype=torch.bool), **kwargs)[0]

    time = length + pad_left + pad_right + 5
    batch_lp = torch.randn(3, time, generator=generator, dtype=torch.float64) - 3.0
    batch_b = -torch.rand(3, time, generator=generator, dtype=torch.float64) * 3.0
    batch_mask = torch.zeros(3, time, dtype=torch.long)
    batch_mask[0, pad_left : pad_left + length] = 1
    batch_lp[0, pad_left : pad_left + length] = logprobs
    batch_b[0, pad_left : pad_left + length] = behavior
    batch_mask[1, :] = 1  # a longer row, right padded by nothing
    batch_mask[2, 2:] = 1  # a longer row with leading zeros
    in_batch = pear_weights(batch_lp, batch_b, batch_mask, **kwargs)
    torch.testing.assert_close(in_batch[0, pad_left : pad_left + length], alone, rtol=1e-12, atol=0.0)
    assert in_batch[0, :pad_left].eq(0).all() and in_batch[0, pad_left + length :].eq(0).all()


@pytest.mark.parametrize("level", LEVELS)
def test_extreme_gaps_and_long_rows_stay_finite(level: str) -> None:
    time = 32_768
    generator = torch.Generator().manual_seed(0)
    behavior = -torch.rand(3, time, generator=generator, dtype=torch.float64) * 5.0 - 1e-3
    sign = torch.where(torch.rand(3, time, generator=generator) < 0.5, -1.0, 1.0).double()
    logprobs = behavior + 1e4 * sign
    logprobs[1] = behavior[1] + 1e4  # every gap +1e4
    logprobs[2] = behavior[2] - 1e4  # every gap -1e4
    mask = torch.ones(3, time, dtype=torch.bool)
    mask[0, :1000] = False
    for delta_clip in [(-0.08, 0.3), (-1e6, 1e6)]:
        weights = pear_weights(logprobs, behavior, mask, level=level, delta_clip=delta_clip)
        in_response = weights[mask]
        assert torch.isfinite(weights).all()
        assert in_response.min() >= math.exp(-10.0) * (1 - 1e-12)
        assert in_response.max() <= math.exp(5.0) * (1 + 1e-12)
    if level == "seq":
        assert weights[1].eq(math.exp(5.0)).all() and weights[2].eq(math.exp(-10.0)).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("level", LEVELS)
def test_float_dtypes(level: str, dtype: torch.dtype) -> None:
    logprobs, behavior, mask = random_batch(random.Random(11), 6, 17)
    logprobs, behavior = logprobs.to(dtype), behavior.to(dtype)
    weights = pear_weights(logprobs, behavior, mask, level=level, block_size=3, gamma=0.95)
    assert weights.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    # the weights are those of the (rounded) inputs, computed in float64
    expected = reference_weights(
        logprobs.double(), behavior.double(), mask, level=level, gamma=0.95, block_size=3,
        delta_clip=(-0.08, 0.3), log_weight_clip=(-10.0, 5.0),
    )  # fmt: skip
    torch.testing.assert_close(weights.double(), expected, rtol=1e-6, atol=1e-7)


def test_mask_may_be_bool_int_or_float() -> None:
    logprobs, behavior, mask = random_batch(random.Random(12), 5, 9)
    expected = pear_weights(logprobs, behavior, mask, level="block")
    for as_type in (torch.long, torch.int32, torch.float32, torch.float64):
        torch.testing.assert_close(
            pear_weights(logprobs, behavior, mask.to(as_type), level="block"), expected
        )


def test_weights_carry_no_gradient() -> None:
    logprobs, behavior, mask = random_batch(random.Random(13), 3, 8)
    logprobs.requires_grad_(True)
    behavior.requires_grad_(True)
    for level in LEVELS:
        assert not pear_weights(logprobs, behavior, mask, level=level).requires_grad
    assert not dft_weights(logprobs, mask).requires_grad


def test_nan_at_masked_out_positions_never_reaches_a_weight() -> None:
    logprobs, behavior, mask = random_batch(random.Random(14), 4, 10)
    mask[:, :2] = False
    logprobs[:, 0] = float("nan")
    behavior[:, 1] = float("inf")
    for level in LEVELS:
        weights = pear_weights(logprobs, behavior, mask, level=level)
        assert torch.isfinite(weights).all()
        assert weights[:, :2].eq(0).all()


def test_clip_statistics() -> None:
    logprobs, behavior, mask = random_batch(random.Random(15), 7, 21, scale=0.3)
    kwargs = dict(
        level="token", gamma=0.9, block_size=4, delta_clip=(-0.08, 0.3), log_weight_clip=(-0.5, 0.1)
    )
    stats = pear_weights_with_stats(logprobs, behavior, mask, **kwargs)
    raw = (logprobs - behavior)[mask]
    assert float(stats.token_count) == mask.sum().item()
    assert float(stats.delta_clipped_count) == ((raw <= -0.08) | (raw >= 0.3)).sum().item()
    assert stats.mean_log_ratio == pytest.approx(raw.mean().item(), rel=1e-12)
    weights = reference_weights(logprobs, behavior, mask, **kwargs)[mask]
    at_clip = (weights <= math.exp(-0.5) * (1 + 1e-12)) | (weights >= math.exp(0.1) * (1 - 1e-12))
    assert float(stats.log_weight_clipped_count) == at_clip.sum().item()
    assert 0 < stats.log_weight_clip_fraction < 1 and 0 < stats.delta_clip_fraction < 1


# ----------------------------------------------------------------------------------------- validation


def _inputs():
    return random_batch(random.Random(16), 3, 6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda lp, b, m: (lp, b[:, :-1], m), "shape"),
        (lambda lp, b, m: (lp, b, m[:, :-1]), "shape"),
        (lambda lp, b, m: (lp[0], b[0], m[0]), "2-D"),
        (lambda lp, b, m: (lp.long(), b, m), "dtype"),
        (lambda lp, b, m: (lp, b.int(), m), "dtype"),
        (lambda lp, b, m: (lp, b, m.long() * 2), "other than 0 and 1"),
    ],
)
def test_bad_tensors_raise(change, message: str) -> None:
    logprobs, behavior, mask = change(*_inputs())
    with pytest.raises(PearbenchError, match=message):
        pear_weights(logprobs, behavior, mask, level="token")


@pytest.mark.parametrize("where", ["behavior", "logprobs"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_at_response_token_raises(where: str, bad: float) -> None:
    logprobs, behavior, mask = _inputs()
    row, col = mask.nonzero()[0].tolist()
    (behavior if where == "behavior" else logprobs)[row, col] = bad
    with pytest.raises(PearbenchError, match="NaN or inf"):
        pear_weights(logprobs, behavior, mask, level="seq")


def test_positive_behavior_logprob_raises() -> None:
    logprobs, behavior, mask = _inputs()
    row, col = mask.nonzero()[0].tolist()
    behavior[row, col] = 0.5
    with pytest.raises(PearbenchError, match="positive"):
        pear_weights(logprobs, behavior, mask, level="seq")
    behavior[row, col] = 1e-7  # rounding noise is tolerated
    pear_weights(logprobs, behavior, mask, level="seq")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": "tokens"}, "unknown PEAR level 'tokens'; choose one of: block, seq, token"),
        ({"level": "token", "gamma": 0.0}, "gamma"),
        ({"level": "token", "gamma": 1.01}, "gamma"),
        ({"level": "token", "gamma": float("nan")}, "gamma"),
        ({"level": "block", "block_size": 0}, "block_size"),
        ({"level": "block", "block_size": 2.0}, "block_size"),
        ({"level": "block", "block_size": True}, "block_size"),
        ({"level": "seq", "delta_clip": (0.3, -0.08)}, "inverted"),
        ({"level": "seq", "delta_clip": (0.1,)}, "malformed"),
        ({"level": "seq", "log_weight_clip": (-10.0, float("inf"))}, "non-finite"),
        ({"level": "seq", "log_weight_clip": (-10.0, 100.0)}, "upper bound"),
    ],
)
def test_bad_options_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(PearbenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pear_weights(*_inputs(), **kwargs)


def test_pearbench_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        pear_weights(*_inputs(), level="nope")


# ----------------------------------------------------------------------------------------- losses and gradients


WEIGHTED = ["sft", "dft", "pear-seq", "pear-token", "pear-block"]


def expected_weights(name: str, logprobs, behavior, mask, options) -> torch.Tensor:
    if name == "sft":
        return mask.double()
    if name == "dft":
        return torch.where(mask, logprobs.detach().exp(), 0.0)
    return reference_weights(
        logprobs.detach(),
        behavior,
        mask,
        level=name.removeprefix("pear-"),
        gamma=getattr(options, "gamma", 1.0),
        block_size=getattr(options, "block_size", 1),
        delta_clip=options.delta_clip,
        log_weight_clip=options.log_weight_clip,
    )


@pytest.mark.parametrize("normalisation", NORMALISATIONS)
@pytest.mark.parametrize("name", WEIGHTED)
def test_gradient_is_weighted_nll_gradient(name: str, normalisation: str) -> None:
    """d loss / d logprobs_t = -w_t / denominator: the weights are constants and get no gradient."""
    method = get_method(name)
    options = method.make_options({"normalisation": normalisation})
    logprobs, behavior, mask = random_batch(random.Random(name + normalisation), 6, 13)
    mask[0] = False  # an empty row is skipped everywhere
    logprobs.requires_grad_(True)
    behavior.requires_grad_(True)
    output = method.loss(logprobs, behavior, mask, options)
    output.loss.backward()

    weights = expected_weights(name, logprobs, behavior, mask, options)
    nll = torch.where(mask, -logprobs.detach(), 0.0)
    lengths = mask.sum(1, keepdim=True).double()
    if normalisation == "token-mean":
        per_token = weights / mask.sum()
    elif normalisation == "self-normalised":
        per_token = weights / weights.sum()
    else:
        per_token = weights / lengths.clamp(min=1) / (lengths > 0).sum()
    torch.testing.assert_close(logprobs.grad, -per_token, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(output.loss.detach(), (per_token * nll).sum(), rtol=1e-10, atol=1e-14)
    assert behavior.grad is None


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
@pytest.mark.parametrize("name", WEIGHTED)
def test_losses_accept_every_float_dtype(name: str, dtype: torch.dtype) -> None:
    method = get_method(name)
    logprobs, behavior, mask = random_batch(random.Random(21), 4, 9)
    logprobs = logprobs.to(dtype).requires_grad_(True)
    output = method.loss(logprobs, behavior.to(dtype), mask, method.default_options())
    output.loss.backward()
    assert output.loss.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert (
        torch.isfinite(output.loss) and logprobs.grad.dtype == dtype and torch.isfinite(logprobs.grad).all()
    )


def test_pear_needs_behavior_logprobs() -> None:
    method = get_method("pear-token")
    logprobs, _, mask = _inputs()
    with pytest.raises(PearbenchError, match="behavior_logprobs"):
        method.loss(logprobs, None, mask, method.default_options())


def test_none_method_has_no_loss() -> None:
    method = get_method("none")
    with pytest.raises(PearbenchError, match="runs no SFT"):
        method.loss(*_inputs(), method.default_options())


class TinyModel(torch.nn.Module):
    """Per-position logits straight from a parameter: logprobs = log_softmax(table)[targets]."""

    def __init__(self, batch: int, time: int, vocab: int = 7) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.table = torch.nn.Parameter(
            torch.randn(batch, time, vocab, generator=generator, dtype=torch.float64)
        )
        self.targets = torch.randint(0, vocab, (batch, time), generator=generator)

    def forward(self, rows: slice) -> torch.Tensor:
        logprobs = torch.log_softmax(self.table[rows], dim=-1)
        return logprobs.gather(-1, self.targets[rows, :, None])[..., 0]


@pytest.mark.parametrize("normalisation", NORMALISATIONS)
@pytest.mark.parametrize("name", WEIGHTED)
def test_four_micro_batches_equal_one_batch(name: str, normalisation: str) -> None:
    method = get_method(name)
    options = method.make_options({"normalisation": normalisation})
    rng = random.Random(f"accumulate-{name}-{normalisation}")
    _, _, mask = random_batch(rng, 16, 12)
    mask[0] = False  # micro-batches hold different numbers of tokens and of non-empty sequences
    model = TinyModel(16, 12)
    behavior = (model(slice(None)).detach() + torch.randn(16, 12, dtype=torch.float64) * 0.2).clamp(max=0.0)

    whole = method.loss(model(slice(None)), behavior, mask, options)
    whole.loss.backward()
    whole_grad = model.table.grad.clone()
    model.zero_grad()

    outputs, naive = [], []
    total = torch.zeros((), dtype=torch.float64)
    for start in range(0, 16, 4):
        rows = slice(start, start + 4)
        output = method.loss(model(rows), behavior[rows], mask[rows], options)
        output.loss_sum.backward()
        total = total + output.normaliser
        outputs.append(output)
        naive.append(output.loss.item())
    scale_gradients(model.parameters(), total)

    torch.testing.assert_close(model.table.grad, whole_grad, rtol=1e-10, atol=1e-15)
    torch.testing.assert_close(accumulate(outputs), whole.loss, rtol=1e-12, atol=0.0)
    merged = LossDiagnostics.merge(o.diagnostics for o in outputs).summary()
    assert merged == pytest.approx(whole.diagnostics.summary(), rel=1e-10)
    # the check has teeth: averaging the micro-batch losses is not the same thing
    assert sum(naive) / len(naive) != pytest.approx(whole.loss.item(), rel=1e-6)
    if normalisation != "self-normalised":
        total_from_masks = sum(normaliser_from_mask(mask[s : s + 4], normalisation) for s in range(0, 16, 4))
        assert float(total_from_masks) == float(total)


def test_diagnostics_values() -> None:
    logprobs, behavior, mask = random_batch(random.Random(31), 9, 25, scale=0.4)
    method = get_method("pear-token")
    options = method.make_options({"gamma": 0.9})
    summary = method.loss(logprobs, behavior, mask, options).diagnostics.summary()
    weights = expected_weights("pear-token", logprobs, behavior, mask, options)[mask]
    nll = -logprobs[mask]
    raw = (logprobs - behavior)[mask]
    n = mask.sum().item()
    assert summary["tokens"] == n
    assert summary["nll"] == pytest.approx(nll.mean().item(), rel=1e-12)
    assert summary["weighted_nll"] == pytest.approx((weights * nll).sum().item() / n, rel=1e-10)
    assert summary["loss"] == pytest.approx(summary["weighted_nll"], rel=1e-12)
    assert summary["mean_weight"] == pytest.approx(weights.mean().item(), rel=1e-10)
    ess = weights.sum().item() ** 2 / weights.square().sum().item() / n
    assert summary["ess_fraction"] == pytest.approx(ess, rel=1e-10)
    assert 0 < ess < 1
    assert summary["delta_clip_fraction"] == pytest.approx(
        ((raw <= -0.08) | (raw >= 0.3)).double().mean().item()
    )
    assert summary["mean_log_ratio"] == pytest.approx(raw.mean().item(), rel=1e-10)
    assert "log_weight_clip_fraction" in summary


def test_sft_diagnostics() -> None:
    logprobs, behavior, mask = random_batch(random.Random(32), 5, 10)
    method = get_method("sft")
    without = method.loss(logprobs, None, mask, method.default_options()).diagnostics.summary()
    assert without["mean_weight"] == 1.0 and without["ess_fraction"] == 1.0
    assert "mean_log_ratio" not in without and "delta_clip_fraction" not in without
    with_behavior = method.loss(logprobs, behavior, mask, method.default_options()).diagnostics.summary()
    assert with_behavior["mean_log_ratio"] == pytest.approx(
        (logprobs - behavior)[mask].mean().item(), rel=1e-12
    )


def test_all_padding_batch_gives_zero_loss_not_nan() -> None:
    logprobs, behavior, _ = _inputs()
    mask = torch.zeros_like(logprobs, dtype=torch.bool)
    for name in WEIGHTED:
        for normalisation in NORMALISATIONS:
            method = get_method(name)
            output = method.loss(
                logprobs, behavior, mask, method.make_options({"normalisation": normalisation})
            )
            assert output.loss.item() == 0.0


def test_weighted_nll_refuses_weights_with_gradient() -> None:
    logprobs, _, mask = _inputs()
    with pytest.raises(PearbenchError, match="must not require grad"):
        objectives.weighted_nll(logprobs, mask, torch.ones_like(logprobs, requires_grad=True))
