"""SFT token weights (docs/design.md §2): PEAR importance weights at the sequence, token and block level, DFT weights,
the PEAR clip statistics, and the input checks shared with the losses in :mod:`pearbench.train.objectives`.

Pure torch, vectorised over the batch and the time axis (no Python loop over tokens). Every tensor argument is
``(batch, time)``; ``mask`` marks the response tokens (bool or 0/1; prompt and padding are 0, on either side). Every
weight is stop-gradient: computed from the detached log-probs, returned without gradient, zero off the response.

PEAR (:func:`pear_weights`, formulas in its docstring): with ``δ_t = clip(log π_θ(y_t) - log π_β(y_t))`` per response
token, the weight ``Ĝ_t = exp(clip(log G_t))`` is the (discounted) importance ratio of the sequence (``seq``), of the
continuation after token t (``token``) or of the blocks after t's block (``block``). DFT (:func:`dft_weights`):
``sg[π_θ(y_t)]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from pearbench.errors import PearbenchError, unknown

LEVELS = ("seq", "token", "block")
DEFAULT_GAMMA = 0.999
DEFAULT_BLOCK_SIZE = 4
DEFAULT_DELTA_CLIP = (-0.08, 0.3)
DEFAULT_LOG_WEIGHT_CLIP = (-10.0, 5.0)
#: Behavior log-probs above this at a response token are not log-probabilities (a sign or scale mix-up).
BEHAVIOR_LOGPROB_TOLERANCE = 1e-6
#: exp() of a larger log-weight bound overflows float32.
MAX_LOG_WEIGHT_BOUND = 80.0

_COMPUTE_DTYPE = torch.float64


# --------------------------------------------------------------------------------------------------- validation


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_gamma(gamma: object) -> float:
    """γ must be a number in (0, 1]."""
    if not _is_number(gamma) or not 0.0 < float(gamma) <= 1.0:
        raise PearbenchError(f"gamma = {gamma!r} is out of range; allowed: a number with 0 < gamma <= 1")
    return float(gamma)


def check_block_size(block_size: object) -> int:
    """The block size B must be an integer >= 1."""
    if not isinstance(block_size, int) or isinstance(block_size, bool) or block_size < 1:
        raise PearbenchError(f"block_size = {block_size!r} is out of range; allowed: an integer >= 1")
    return block_size


def check_clip(name: str, bounds: object, *, max_upper: float | None = None) -> tuple[float, float]:
    """A clip range: two finite numbers ``[low, high]`` with low <= high (and high <= ``max_upper`` if given)."""
    allowed = "two finite numbers [low, high] with low <= high"
    if max_upper is not None:
        allowed += f" and high <= {max_upper:g}"
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2 or not all(_is_number(b) for b in bounds):
        raise PearbenchError(f"{name} = {bounds!r} is malformed; allowed: {allowed}")
    low, high = float(bounds[0]), float(bounds[1])
    if not (math.isfinite(low) and math.isfinite(high)):
        raise PearbenchError(f"{name} = {bounds!r} has a non-finite bound; allowed: {allowed}")
    if low > high:
        raise PearbenchError(f"{name} = {bounds!r} is inverted (low > high); allowed: {allowed}")
    if max_upper is not None and high > max_upper:
        raise PearbenchError(
            f"{name} = {bounds!r} has an upper bound above {max_upper:g}; allowed: {allowed}"
        )
    return low, high


def check_level(level: object) -> str:
    if level not in LEVELS:
        raise unknown("PEAR level", level, LEVELS)
    return str(level)


def check_float_tensor(name: str, tensor: object, shape: torch.Size | None) -> Tensor:
    """A 2-D floating tensor (of ``shape``, when given); PearbenchError naming ``name`` otherwise."""
    if not isinstance(tensor, Tensor):
        raise PearbenchError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise PearbenchError(
            f"{name} has dtype {tensor.dtype}; allowed: a floating dtype (float16/bfloat16/32/64)"
        )
    if tensor.dim() != 2:
        raise PearbenchError(f"{name} has shape {tuple(tensor.shape)}; allowed: 2-D (batch, time)")
    if shape is not None and tensor.shape != shape:
        raise PearbenchError(
            f"{name} has shape {tuple(tensor.shape)} but logprobs have {tuple(shape)}; they must be equal"
        )
    return tensor


def response_mask(mask: object, shape: torch.Size) -> Tensor:
    """Validate a bool or 0/1 mask of the given shape and return it as bool."""
    if not isinstance(mask, Tensor):
        raise PearbenchError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
    if mask.shape != shape:
        raise PearbenchError(
            f"mask has shape {tuple(mask.shape)} but logprobs have {tuple(shape)}; they must be equal"
        )
    if mask.dtype == torch.bool:
        return mask
    if mask.is_complex():
        raise PearbenchError(f"mask has dtype {mask.dtype}; allowed: bool or 0/1 numbers")
    as_bool = mask != 0
    if bool(((mask != 1) & as_bool).any()):
        raise PearbenchError("mask holds values other than 0 and 1; allowed: bool or 0/1 numbers")
    return as_bool


def check_finite_logprobs(logprobs: Tensor, behavior_logprobs: Tensor | None, mask: Tensor) -> None:
    """NaN/inf at a response token, or a positive behavior log-prob, is a data error (never silently weighted)."""
    bad_current = ~torch.isfinite(logprobs) & mask
    flags = [bad_current.any()]
    if behavior_logprobs is not None:
        flags.append((~torch.isfinite(behavior_logprobs) & mask).any())
        flags.append(((behavior_logprobs > BEHAVIOR_LOGPROB_TOLERANCE) & mask).any())
    found = torch.stack(flags).tolist()  # one device sync for all checks
    if found[0]:
        raise PearbenchError(
            "logprobs hold NaN or inf at a response token (mask = 1); allowed: finite values"
        )
    if behavior_logprobs is not None and found[1]:
        raise PearbenchError(
            "behavior_logprobs hold NaN or inf at a response token (mask = 1); allowed: finite values"
        )
    if behavior_logprobs is not None and found[2]:
        largest = float(torch.where(mask, behavior_logprobs, -math.inf).max())
        raise PearbenchError(
            f"behavior_logprobs hold a positive value ({largest:.3g}) at a response token; allowed: log-probabilities "
            f"<= {BEHAVIOR_LOGPROB_TOLERANCE:g}"
        )


def weight_dtype(logprobs_dtype: torch.dtype) -> torch.dtype:
    """Weights come back in float64 for float64 log-probs, else float32 (float16 cannot hold e^-10 exactly)."""
    return torch.promote_types(logprobs_dtype, torch.float32)


# --------------------------------------------------------------------------------------------------- PEAR weights


@dataclass(frozen=True)
class PearWeights:
    """PEAR weights and the pieces of their diagnostics (all without gradient; counts are over response tokens).

    weights: ``Ĝ_t`` as (batch, time), zero where mask is 0, dtype :func:`weight_dtype` of the log-probs.
    log_weights: unclipped ``log G_t`` (float64), zero where mask is 0.
    token_count: number of response tokens.
    log_ratio_sum: Σ of the raw log-ratios ``log π_θ - log π_β`` before the δ clip.
    delta_clipped_count: response tokens whose δ sits at either clip bound.
    log_weight_clipped_count: response tokens whose ``log G`` sits at either clip bound.
    """

    weights: Tensor
    log_weights: Tensor
    token_count: Tensor
    log_ratio_sum: Tensor
    delta_clipped_count: Tensor
    log_weight_clipped_count: Tensor

    @property
    def delta_clip_fraction(self) -> float:
        return float(self.delta_clipped_count) / max(float(self.token_count), 1.0)

    @property
    def log_weight_clip_fraction(self) -> float:
        return float(self.log_weight_clipped_count) / max(float(self.token_count), 1.0)

    @property
    def mean_log_ratio(self) -> float:
        return float(self.log_ratio_sum) / max(float(self.token_count), 1.0)


def _exclusive_reverse_cumsum(values: Tensor) -> Tensor:
    """``out[..., i] = Σ_{j > i} values[..., j]`` along the last axis (a reverse cumulative sum, shifted by one)."""
    inclusive = values.flip(-1).cumsum(-1).flip(-1)
    return torch.nn.functional.pad(inclusive[..., 1:], (0, 1))


def pear_weights_with_stats(
    logprobs: Tensor,
    behavior_logprobs: Tensor,
    mask: Tensor,
    *,
    level: str,
    gamma: float = DEFAULT_GAMMA,
    block_size: int = DEFAULT_BLOCK_SIZE,
    delta_clip: Sequence[float] = DEFAULT_DELTA_CLIP,
    log_weight_clip: Sequence[float] = DEFAULT_LOG_WEIGHT_CLIP,
) -> PearWeights:
    """PEAR weights ``Ĝ_t`` (docs/design.md §2) with their clip statistics. See :func:`pear_weights` for the formulas."""
    level = check_level(level)
    gamma = check_gamma(gamma)
    block_size = check_block_size(block_size)
    delta_low, delta_high = check_clip("delta_clip", delta_clip)
    weight_low, weight_high = check_clip("log_weight_clip", log_weight_clip, max_upper=MAX_LOG_WEIGHT_BOUND)
    logprobs = check_float_tensor("logprobs", logprobs, None)
    behavior_logprobs = check_float_tensor("behavior_logprobs", behavior_logprobs, logprobs.shape)
    is_response = response_mask(mask, logprobs.shape).to(logprobs.device)

    with torch.no_grad():
        current = logprobs.detach()
        behavior = behavior_logprobs.detach()
        check_finite_logprobs(current, behavior, is_response)
        zero = torch.zeros((), dtype=_COMPUTE_DTYPE, device=current.device)
        raw = torch.where(is_response, current.to(_COMPUTE_DTYPE) - behavior.to(_COMPUTE_DTYPE), zero)
        delta = torch.where(is_response, raw.clamp(delta_low, delta_high), zero)

        if level == "seq":
            log_g = delta.sum(dim=1, keepdim=True).expand_as(delta)
        else:
            # t: 1-based index among the row's response tokens (padding and prompt on either side are skipped);
            # T: the row's number of response tokens.
            position = is_response.cumsum(dim=1)
            length = position[:, -1:]
            if level == "token":
                after = _exclusive_reverse_cumsum(delta)
                steps = length - position
            else:
                block = (position - 1).clamp(min=0) // block_size  # block k of each token (0-based)
                n_blocks = -(-delta.shape[1] // block_size)
                block_sums = torch.zeros(
                    (delta.shape[0], max(n_blocks, 1)), dtype=_COMPUTE_DTYPE, device=delta.device
                ).scatter_add_(1, block, delta)  # ρ_k
                after = _exclusive_reverse_cumsum(block_sums).gather(1, block)  # Σ_{m > k} ρ_m
                block_end = torch.minimum((block + 1) * block_size, length)  # e_k
                steps = length - block_end
            log_g = after if gamma == 1.0 else after + steps.to(_COMPUTE_DTYPE) * math.log(gamma)

        log_g = torch.where(is_response, log_g, zero)
        weights = torch.where(is_response, log_g.clamp(weight_low, weight_high).exp(), zero)
        counts = torch.stack(
            [
                is_response.sum(dtype=_COMPUTE_DTYPE),
                raw.sum(),
                (is_response & ((raw <= delta_low) | (raw >= delta_high))).sum(dtype=_COMPUTE_DTYPE),
                (is_response & ((log_g <= weight_low) | (log_g >= weight_high))).sum(dtype=_COMPUTE_DTYPE),
            ]
        )
    return PearWeights(
        weights=weights.to(weight_dtype(logprobs.dtype)),
        log_weights=log_g,
        token_count=counts[0],
        log_ratio_sum=counts[1],
        delta_clipped_count=counts[2],
        log_weight_clipped_count=counts[3],
    )


def pear_weights(
    logprobs: Tensor,
    behavior_logprobs: Tensor,
    mask: Tensor,
    *,
    level: str,
    gamma: float = DEFAULT_GAMMA,
    block_size: int = DEFAULT_BLOCK_SIZE,
    delta_clip: Sequence[float] = DEFAULT_DELTA_CLIP,
    log_weight_clip: Sequence[float] = DEFAULT_LOG_WEIGHT_CLIP,
) -> Tensor:
    """PEAR importance weights ``Ĝ_t`` per response token, (batch, time), zero where ``mask`` is 0, no gradient.

    For response tokens t = 1..T of a row (T = that row's own number of response tokens; prompt and padding, on
    either side, are skipped), with the current model's log-probs detached::

        δ_t     = clip(log π_θ(y_t) - log π_β(y_t), delta_clip)
        seq:    log G_t = Σ_{j=1..T} δ_j
        token:  log G_t = (T - t)·log γ + Σ_{j=t+1..T} δ_j
        block:  blocks I_1..I_K of ``block_size`` tokens from the row's first response token (the last may be
                shorter), ρ_k = Σ_{t∈I_k} δ_t, e_k = last index of I_k; for t ∈ I_k:
                log G_t = (T - e_k)·log γ + Σ_{m=k+1..K} ρ_m          (block_size = 1 is the token level)
        Ĝ_t     = exp(clip(log G_t, log_weight_clip))

    Computed in float64 (reverse cumulative sums in log space), returned as float64 for float64 ``logprobs`` and
    float32 otherwise (:func:`weight_dtype`). Raises :class:`~pearbench.errors.PearbenchError` on a shape mismatch,
    a non-float dtype, an unknown level, γ outside (0, 1], block_size < 1, an inverted or non-finite clip, NaN/inf
    log-probs at a response token, or a behavior log-prob > 1e-6 at a response token. Use
    :func:`pear_weights_with_stats` for the clip statistics as well.
    """
    return pear_weights_with_stats(
        logprobs,
        behavior_logprobs,
        mask,
        level=level,
        gamma=gamma,
        block_size=block_size,
        delta_clip=delta_clip,
        log_weight_clip=log_weight_clip,
    ).weights


def dft_weights(logprobs: Tensor, mask: Tensor) -> Tensor:
    """DFT weights ``sg[π_θ(y_t)] = exp(log π_θ(y_t))`` per response token, zero where ``mask`` is 0, no gradient.

    Returned as :func:`weight_dtype` of the log-probs.
    """
    logprobs = check_float_tensor("logprobs", logprobs, None)
    is_response = response_mask(mask, logprobs.shape).to(logprobs.device)
    with torch.no_grad():
        current = logprobs.detach()
        check_finite_logprobs(current, None, is_response)
        dtype = weight_dtype(logprobs.dtype)
        return torch.where(
            is_response, current.to(dtype).exp(), torch.zeros((), dtype=dtype, device=current.device)
        )
