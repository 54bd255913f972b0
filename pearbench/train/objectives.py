"""SFT objectives (docs/design.md §2): the weighted NLL, its normalisations and the numerator/normaliser contract.

The token weights (PEAR, DFT; PEAR's formulas in :func:`pearbench.train.weights.pear_weights`) and their clip
statistics live in :mod:`pearbench.train.weights`; this module re-exports them. Pure torch, vectorised over the batch
and the time axis (no Python loop over tokens). Every tensor argument is ``(batch, time)``; ``mask`` marks the
response tokens (bool or 0/1; prompt and padding are 0, on either side). The per-token loss is the NLL
``ℓ_t = -log π_θ(y_t | x, y<t)``, taken from ``logprobs`` (which carry the gradient).

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from pearbench.errors import PearbenchError, unknown
from pearbench.train.weights import (
    BEHAVIOR_LOGPROB_TOLERANCE,
    DEFAULT_BLOCK_SIZE,
    DEFAULT_DELTA_CLIP,
    DEFAULT_GAMMA,
    DEFAULT_LOG_WEIGHT_CLIP,
    LEVELS,
    MAX_LOG_WEIGHT_BOUND,
    PearWeights,
    check_block_size,
    check_clip,
    check_finite_logprobs,
    check_float_tensor,
    check_gamma,
    check_level,
    dft_weights,
    pear_weights,
    pear_weights_with_stats,
    response_mask,
    weight_dtype,
)

#: Public names; the weight names are re-exported from :mod:`pearbench.train.weights` (their home since the split).
__all__ = [
    "BEHAVIOR_LOGPROB_TOLERANCE",
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_DELTA_CLIP",
    "DEFAULT_GAMMA",
    "DEFAULT_LOG_WEIGHT_CLIP",
    "LEVELS",
    "MAX_LOG_WEIGHT_BOUND",
    "NORMALISATIONS",
    "LossDiagnostics",
    "ObjectiveOutput",
    "PearWeights",
    "accumulate",
    "check_block_size",
    "check_clip",
    "check_gamma",
    "check_level",
    "check_normalisation",
    "dft_loss",
    "dft_weights",
    "normaliser_from_mask",
    "pear_loss",
    "pear_weights",
    "pear_weights_with_stats",
    "response_mask",
    "scale_gradients",
    "sft_loss",
    "weight_dtype",
    "weighted_nll",
]

NORMALISATIONS = ("token-mean", "seq-mean", "self-normalised")


def check_normalisation(normalisation: object) -> str:
    if normalisation not in NORMALISATIONS:
        raise unknown("normalisation", normalisation, NORMALISATIONS)
    return str(normalisation)


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
    :meth:`summary`, one sync). :meth:`summary` gives the ratios docs/design.md §2 asks every step to log.
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

    ``weights`` (None = all 1, plain SFT) must carry no gradient. Normalisations (docs/design.md §2):

    - ``token-mean``: Σ_t w_t ℓ_t / N, N = response tokens in the whole (accumulated) batch;
    - ``seq-mean``: mean over sequences of (Σ_t w_t ℓ_t / T_row); rows without response tokens are skipped;
    - ``self-normalised``: Σ_t w_t ℓ_t / Σ_t w_t.

    ``behavior_logprobs``, when given without ``pear_stats``, only feed the ``mean_log_ratio`` diagnostic.
    """
    normalisation = check_normalisation(normalisation)
    logprobs = check_float_tensor("logprobs", logprobs, None)
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
            behavior = check_float_tensor("behavior_logprobs", behavior_logprobs, logprobs.shape).detach()
            check_finite_logprobs(logprobs.detach(), behavior, is_response)
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
    mask = response_mask(mask, check_float_tensor("logprobs", logprobs, None).shape)  # validate the mask once
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
    mask = response_mask(mask, check_float_tensor("logprobs", logprobs, None).shape)  # validate the mask once
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
