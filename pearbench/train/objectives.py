"""SFT objectives (DESIGN §2): PEAR importance weights, DFT weights, weighted NLL with its normalisations.

Pure torch, vectorised over the batch and the time axis (no Python loop over tokens). Every tensor argument is
``(batch, time)``; ``mask`` marks the response tokens (bool or 0/1; prompt and padding are 0, on either side). The
per-token loss is the NLL ``ℓ_t = -log π_θ(y_t | x, y<t)``, taken from ``logprobs`` (which carry the gradient).

**Gradient accumulation.** Every loss returns an :class:`ObjectiveOutput`: the numerator ``loss_sum`` (carrying the
gradient) and this micro-batch's share of the denominator ``normaliser`` (no gradient). The loss of a batch split
into micro-batches is ``Σ loss_sum / Σ normaliser``, which is exactly the loss of the batch taken whole, for every
normalisation. In one pass use :func:`accumulate`. Over several micro-batches, without keeping their graphs::

    total = 0.0
    diagnostics = []
    for micro_batch in micro_batches:
        output = method.loss(logprobs, behavior_logprobs, mask, options)
        output.loss_sum.backward()          # gradients of the numerators add up in .grad
        total = total + output.normaliser
        diagnostics.append(output.diagnostics)
    scale_gradients(model.parameters(), total)  # divide by the whole batch's denominator
    # then clip gradients, optimizer.step(), optimizer.zero_grad()
    LossDiagnostics.merge(diagnostics).summary()

The denominator carries no gradient (it is a count, or a sum of stop-gradient weights), so dividing the summed
gradients by it afterwards is exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from pearbench.errors import PearbenchError, unknown

LEVELS = ("seq", "token", "block")
NORMALISATIONS = ("token-mean", "seq-mean", "self-normalised")
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


def check_normalisation(normalisation: object) -> str:
    if normalisation not in NORMALISATIONS:
        raise unknown("normalisation", normalisation, NORMALISATIONS)
    return str(normalisation)


def _check_float_tensor(name: str, tensor: object, shape: torch.Size | None) -> Tensor:
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


def _check_finite_logprobs(logprobs: Tensor, behavior_logprobs: Tensor | None, mask: Tensor) -> None:
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
    """PEAR weights ``Ĝ_t`` (DESIGN §2) with their clip statistics. See :func:`pear_weights` for the formulas."""
    level = check_level(level)
    gamma = check_gamma(gamma)
    block_size = check_block_size(block_size)
    delta_low, delta_high = check_clip("delta_clip", delta_clip)
    weight_low, weight_high = check_clip("log_weight_clip", log_weight_clip, max_upper=MAX_LOG_WEIGHT_BOUND)
    logprobs = _check_float_tensor("logprobs", logprobs, None)
    behavior_logprobs = _check_float_tensor("behavior_logprobs", behavior_logprobs, logprobs.shape)
    is_response = response_mask(mask, logprobs.shape).to(logprobs.device)

    with torch.no_grad():
        current = logprobs.detach()
        behavior = behavior_logprobs.detach()
        _check_finite_logprobs(current, behavior, is_response)
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
    logprobs = _check_float_tensor("logprobs", logprobs, None)
    is_response = response_mask(mask, logprobs.shape).to(logprobs.device)
    with torch.no_grad():
        current = logprobs.detach()
        _check_finite_logprobs(current, None, is_response)
        dtype = weight_dtype(logprobs.dtype)
        return torch.where(
            is_response, current.to(dtype).exp(), torch.zeros((), dtype=dtype, device=current.device)
        )


# --------------------------------------------------------------------------------------------------- losses


_DIAGNOSTIC_FIELDS = (
    "token_count",
    "sequence_count",
    "nll_sum",
    "weighted_nll_sum",
    "weight_sum",
    "weight_sq_sum",
    "loss_numerator",
    "loss_normaliser",
    "ratio_token_count",
    "log_ratio_sum",
    "pear_token_count",
    "delta_clipped_count",
    "log_weight_clipped_count",
)
_FIELD_INDEX = {name: index for index, name in enumerate(_DIAGNOSTIC_FIELDS)}


@dataclass(frozen=True)
class LossDiagnostics:
    """Additive sums behind the per-step diagnostics; micro-batches merge by addition, exactly.

    ``sums`` is a float64 vector over :attr:`FIELDS` (kept on the device; converted to Python floats only in
    :meth:`summary`, one sync). :meth:`summary` gives the ratios DESIGN §2 asks every step to log.
    """

    sums: Tensor
    FIELDS = _DIAGNOSTIC_FIELDS

    def __add__(self, other: LossDiagnostics) -> LossDiagnostics:
        return LossDiagnostics(self.sums + other.sums.to(self.sums.device))

    def __getitem__(self, name: str) -> float:
        return float(self.sums[_FIELD_INDEX[name]])

    @staticmethod
    def merge(items: Iterable[LossDiagnostics]) -> LossDiagnostics:
        items = list(items)
        if not items:
            raise PearbenchError("LossDiagnostics.merge needs at least one item")
        total = items[0]
        for item in items[1:]:
            total = total + item
        return total

    def summary(self) -> dict[str, float]:
        """Per-step diagnostics (token means over response tokens):

        - ``nll``: plain NLL, Σ ℓ_t / N; ``weighted_nll``: Σ w_t ℓ_t / N; ``loss``: the objective as optimised
          (numerator / normaliser of the chosen normalisation);
        - ``mean_weight``: Σ w / N; ``ess_fraction``: (Σ w)² / Σ w² / N (1 for unweighted SFT);
        - ``delta_clip_fraction``, ``log_weight_clip_fraction``: share of tokens with δ / log G at either clip
          (PEAR methods only);
        - ``mean_log_ratio``: mean raw log π_θ - log π_β before clipping (whenever behavior log-probs were given);
        - ``tokens``, ``sequences``: N and the number of sequences with at least one response token.
        """
        values = dict(zip(self.FIELDS, self.sums.tolist()))
        tokens = values["token_count"]
        per_token = max(tokens, 1.0)
        out = {
            "tokens": tokens,
            "sequences": values["sequence_count"],
            "nll": values["nll_sum"] / per_token,
            "weighted_nll": values["weighted_nll_sum"] / per_token,
            "loss": values["loss_numerator"] / values["loss_normaliser"]
            if values["loss_normaliser"] > 0
            else 0.0,
            "mean_weight": values["weight_sum"] / per_token,
            "ess_fraction": (
                values["weight_sum"] ** 2 / values["weight_sq_sum"] / tokens
                if values["weight_sq_sum"] > 0
                else 0.0
            ),
        }
        if values["pear_token_count"] > 0:
            out["delta_clip_fraction"] = values["delta_clipped_count"] / values["pear_token_count"]
            out["log_weight_clip_fraction"] = values["log_weight_clipped_count"] / values["pear_token_count"]
        if values["ratio_token_count"] > 0:
            out["mean_log_ratio"] = values["log_ratio_sum"] / values["ratio_token_count"]
        return out


@dataclass(frozen=True)
class ObjectiveOutput:
    """One micro-batch's share of an objective.

    loss_sum: the numerator (carries the gradient): Σ w_t ℓ_t, or Σ_rows (Σ_t w_t ℓ_t) / T_row for ``seq-mean``.
    normaliser: this micro-batch's share of the denominator (0-dim, no gradient): its response-token count
        (``token-mean``), its count of non-empty sequences (``seq-mean``), or Σ w_t (``self-normalised``).
    diagnostics: additive sums, see :class:`LossDiagnostics`.
    """

    loss_sum: Tensor
    normaliser: Tensor
    diagnostics: LossDiagnostics

    @property
    def loss(self) -> Tensor:
        """This micro-batch's loss on its own (= :func:`accumulate` of ``[self]``)."""
        return accumulate([self])


def accumulate(outputs: Sequence[ObjectiveOutput]) -> Tensor:
    """Loss of micro-batches taken together: ``Σ loss_sum / Σ normaliser`` (0 when there is no response token).

    Keeps every micro-batch's graph alive; to free them as you go, follow the recipe in the module docstring.
    """
    if not outputs:
        raise PearbenchError("accumulate needs at least one ObjectiveOutput")
    numerator = outputs[0].loss_sum
    denominator = outputs[0].normaliser
    for output in outputs[1:]:
        numerator = numerator + output.loss_sum
        denominator = denominator + output.normaliser
    return numerator / torch.where(denominator > 0, denominator, torch.ones_like(denominator))


def scale_gradients(parameters: Iterable[torch.nn.Parameter], normaliser: Tensor | float) -> None:
    """Divide accumulated gradients by the whole batch's denominator (after every micro-batch's backward)."""
    denominator = torch.as_tensor(normaliser, dtype=torch.float64)
    if not bool(denominator > 0):
        return  # no response token: every numerator was 0, so are the gradients
    for parameter in parameters:
        if parameter.grad is not None:
            parameter.grad.div_(denominator.to(device=parameter.grad.device, dtype=parameter.grad.dtype))


def normaliser_from_mask(mask: Tensor, normalisation: str) -> Tensor:
    """The denominator share known before the forward pass (``token-mean``, ``seq-mean``); lets a trainer scale each
    micro-batch's ``loss_sum`` up front. ``self-normalised`` depends on the weights and has no such shortcut."""
    normalisation = check_normalisation(normalisation)
    is_response = mask if mask.dtype == torch.bool else mask != 0
    if normalisation == "token-mean":
        return is_response.sum(dtype=torch.float64)
    if normalisation == "seq-mean":
        return is_response.any(dim=1).sum(dtype=torch.float64)
    raise PearbenchError(
        "normaliser_from_mask: 'self-normalised' depends on the weights; use the loss's normaliser"
    )


def weighted_nll(
    logprobs: Tensor,
    mask: Tensor,
    weights: Tensor | None = None,
    *,
    normalisation: str = "token-mean",
    behavior_logprobs: Tensor | None = None,
    pear_stats: PearWeights | None = None,
) -> ObjectiveOutput:
    """Weighted NLL ``Σ_t w_t ℓ_t`` with ``ℓ_t = -logprobs_t``, split into numerator and normaliser.

    ``weights`` (None = all 1, plain SFT) must carry no gradient. Normalisations (DESIGN §2):

    - ``token-mean``: Σ_t w_t ℓ_t / N, N = response tokens in the whole (accumulated) batch;
    - ``seq-mean``: mean over sequences of (Σ_t w_t ℓ_t / T_row); rows without response tokens are skipped;
    - ``self-normalised``: Σ_t w_t ℓ_t / Σ_t w_t.

    ``behavior_logprobs``, when given without ``pear_stats``, only feed the ``mean_log_ratio`` diagnostic.
    """
    normalisation = check_normalisation(normalisation)
    logprobs = _check_float_tensor("logprobs", logprobs, None)
    is_response = response_mask(mask, logprobs.shape).to(logprobs.device)
    if weights is not None and weights.requires_grad:
        raise PearbenchError("weights must not require grad (they are stop-gradient by definition)")
    loss_dtype = weight_dtype(logprobs.dtype)
    zero = torch.zeros((), dtype=loss_dtype, device=logprobs.device)
    nll = torch.where(is_response, -logprobs.to(loss_dtype), zero)
    weighted = nll if weights is None else nll * weights.to(loss_dtype)

    with torch.no_grad():
        tokens_per_row = is_response.sum(dim=1, dtype=torch.float64)
        token_count = tokens_per_row.sum()
        sequence_count = (tokens_per_row > 0).sum(dtype=torch.float64)
        if weights is None:
            weight_sum = weight_sq_sum = token_count
        else:
            weights64 = weights.detach().to(torch.float64)
            weight_sum = weights64.sum()
            weight_sq_sum = weights64.square().sum()

    if normalisation == "seq-mean":
        row_sums = weighted.sum(dim=1)
        loss_sum = (row_sums / tokens_per_row.clamp(min=1.0).to(loss_dtype)).sum()
        normaliser = sequence_count
    else:
        loss_sum = weighted.sum()
        normaliser = token_count if normalisation == "token-mean" else weight_sum

    with torch.no_grad():
        detached_nll = nll.detach().to(torch.float64)
        ratio_count = torch.zeros((), dtype=torch.float64, device=logprobs.device)
        log_ratio_sum = ratio_count
        pear_count = delta_clipped = weight_clipped = ratio_count
        if pear_stats is not None:
            ratio_count = pear_count = pear_stats.token_count
            log_ratio_sum = pear_stats.log_ratio_sum
            delta_clipped = pear_stats.delta_clipped_count
            weight_clipped = pear_stats.log_weight_clipped_count
        elif behavior_logprobs is not None:
            behavior = _check_float_tensor("behavior_logprobs", behavior_logprobs, logprobs.shape).detach()
            _check_finite_logprobs(logprobs.detach(), behavior, is_response)
            ratio_count = token_count
            log_ratio_sum = torch.where(
                is_response, logprobs.detach().to(torch.float64) - behavior.to(torch.float64), 0.0
            ).sum()
        sums = torch.stack(
            [
                token_count,
                sequence_count,
                detached_nll.sum(),
                weighted.detach().to(torch.float64).sum(),
                weight_sum,
                weight_sq_sum,
                loss_sum.detach().to(torch.float64),
                normaliser,
                ratio_count,
                log_ratio_sum,
                pear_count,
                delta_clipped,
                weight_clipped,
            ]
        )
    return ObjectiveOutput(
        loss_sum=loss_sum,
        normaliser=normaliser.to(loss_dtype),
        diagnostics=LossDiagnostics(sums),
    )


def sft_loss(
    logprobs: Tensor,
    mask: Tensor,
    *,
    normalisation: str = "token-mean",
    behavior_logprobs: Tensor | None = None,
) -> ObjectiveOutput:
    """Canonical SFT: unweighted NLL (``behavior_logprobs``, if given, only feed ``mean_log_ratio``)."""
    return weighted_nll(
        logprobs, mask, None, normalisation=normalisation, behavior_logprobs=behavior_logprobs
    )


def dft_loss(
    logprobs: Tensor,
    mask: Tensor,
    *,
    normalisation: str = "token-mean",
    behavior_logprobs: Tensor | None = None,
) -> ObjectiveOutput:
    """Dynamic fine-tuning: ``Σ_t sg[π_θ(y_t)] ℓ_t`` (weights from :func:`dft_weights`)."""
    mask = response_mask(
        mask, _check_float_tensor("logprobs", logprobs, None).shape
    )  # validate the mask once
    weights = dft_weights(logprobs, mask)
    return weighted_nll(
        logprobs, mask, weights, normalisation=normalisation, behavior_logprobs=behavior_logprobs
    )


def pear_loss(
    logprobs: Tensor,
    behavior_logprobs: Tensor,
    mask: Tensor,
    *,
    level: str,
    gamma: float = DEFAULT_GAMMA,
    block_size: int = DEFAULT_BLOCK_SIZE,
    delta_clip: Sequence[float] = DEFAULT_DELTA_CLIP,
    log_weight_clip: Sequence[float] = DEFAULT_LOG_WEIGHT_CLIP,
    normalisation: str = "token-mean",
) -> ObjectiveOutput:
    """PEAR: ``Σ_t sg[Ĝ_t] ℓ_t`` with ``Ĝ_t`` from :func:`pear_weights` at the given level."""
    if behavior_logprobs is None:
        raise PearbenchError(
            f"pear-{level} needs behavior_logprobs (the behavior policy's per-token log-probs)"
        )
    mask = response_mask(
        mask, _check_float_tensor("logprobs", logprobs, None).shape
    )  # validate the mask once
    stats = pear_weights_with_stats(
        logprobs,
        behavior_logprobs,
        mask,
        level=level,
        gamma=gamma,
        block_size=block_size,
        delta_clip=delta_clip,
        log_weight_clip=log_weight_clip,
    )
    return weighted_nll(logprobs, mask, stats.weights, normalisation=normalisation, pear_stats=stats)
