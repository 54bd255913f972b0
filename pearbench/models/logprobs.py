"""Log-probs of chosen tokens without a float32 log-softmax over the whole vocabulary (docs/scale.md).

``log p(t) = logit_t - logsumexp(logits)``: with a large vocabulary (Qwen2.5: 151,936 ids) a full float32
``log_softmax`` materialises, and keeps for its backward, a (positions × vocab) float32 tensor — 4.9 GB for 8 × 1024
positions — on top of the logits themselves. :func:`selective_logprobs` computes the same numbers in chunks of
positions with a custom autograd function that keeps only the logits (in their own dtype) and one float32 logsumexp
per position; the backward recomputes ``softmax`` chunk by chunk. Below :data:`CHUNK_VOCAB_THRESHOLD` the plain
``log_softmax`` path runs (bit-identical to before, so the tiny char-level models' numbers do not move).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Vocabularies at least this large use the chunked computation (the tiny char-level models are far below).
CHUNK_VOCAB_THRESHOLD = 32_768
#: Elements of float32 scratch per chunk (positions × vocab): 2**25 floats = 128 MiB.
CHUNK_ELEMENTS = 2**25


def _chunk_rows(rows: int, vocab: int, chunk_elements: int) -> int:
    return max(1, min(rows, chunk_elements // max(1, vocab)))


class _SelectiveLogProbs(torch.autograd.Function):
    """Chunked ``logits[target] - logsumexp(logits)`` over rows of a 2-D (positions, vocab) tensor, float32 out."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, targets: torch.Tensor, chunk: int) -> torch.Tensor:
        rows = logits.shape[0]
        out = torch.empty(rows, dtype=torch.float32, device=logits.device)
        lse = torch.empty(rows, dtype=torch.float32, device=logits.device)
        for begin in range(0, rows, chunk):
            end = begin + chunk
            part = logits[begin:end].float()
            # log_softmax's own order of operations: (x_t - max) - log(sum(exp(x - max)))
            peak = part.amax(dim=-1, keepdim=True)
            shifted = part - peak
            log_total = torch.log(torch.exp(shifted).sum(dim=-1))
            out[begin:end] = shifted.gather(-1, targets[begin:end, None]).squeeze(-1) - log_total
            lse[begin:end] = peak.squeeze(-1) + log_total
        ctx.save_for_backward(logits, targets, lse)
        ctx.chunk = chunk
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        logits, targets, lse = ctx.saved_tensors
        grad = torch.empty_like(logits)
        grad_out = grad_out.float()
        for begin in range(0, logits.shape[0], ctx.chunk):
            end = begin + ctx.chunk
            g = grad_out[begin:end, None]
            # d/dlogits (logit_t - lse) = onehot(t) - softmax
            part = torch.exp(logits[begin:end].float() - lse[begin:end, None]).mul_(-g)
            part.scatter_add_(-1, targets[begin:end, None], g)
            grad[begin:end] = part.to(grad.dtype)
        return grad, None, None


def selective_logprobs(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    threshold: int = CHUNK_VOCAB_THRESHOLD,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> torch.Tensor:
    """``log_softmax(logits.float())`` gathered at ``targets``, shape ``targets.shape``, float32.

    ``logits``: (..., vocab) in any float dtype; ``targets``: (...) token ids. A vocabulary of ``threshold`` or more
    ids takes the chunked path (equal to the plain one within float32 rounding, ~1e-7); a smaller one the plain
    ``log_softmax`` (unchanged numerics).
    """
    vocab = logits.shape[-1]
    if vocab < threshold:
        return torch.gather(F.log_softmax(logits.float(), dim=-1), -1, targets[..., None]).squeeze(-1)
    flat = logits.reshape(-1, vocab)  # a view for contiguous logits (see next_token_logprobs)
    chunk = _chunk_rows(flat.shape[0], vocab, chunk_elements)
    out = _SelectiveLogProbs.apply(flat, targets.reshape(-1), chunk)
    return out.view(targets.shape)


@torch.no_grad()
def entropy_of_logits(
    logits: torch.Tensor, *, threshold: int = CHUNK_VOCAB_THRESHOLD, chunk_elements: int = CHUNK_ELEMENTS
) -> torch.Tensor:
    """Entropy of ``softmax(logits)`` per position (no gradient), float32, chunked like :func:`selective_logprobs`:
    ``H = logsumexp(x) - sum softmax(x) * x``."""
    vocab = logits.shape[-1]
    if vocab < threshold:
        log_dist = F.log_softmax(logits.float(), dim=-1)
        return -(log_dist.exp() * log_dist).sum(-1)
    flat = logits.reshape(-1, vocab)
    out = torch.empty(flat.shape[0], dtype=torch.float32, device=logits.device)
    chunk = _chunk_rows(flat.shape[0], vocab, chunk_elements)
    for begin in range(0, flat.shape[0], chunk):
        part = flat[begin : begin + chunk].float()
        lse = torch.logsumexp(part, dim=-1, keepdim=True)
        probs = torch.exp(part - lse)
        out[begin : begin + chunk] = lse.squeeze(-1) - (probs * part).sum(-1)
    return out.view(logits.shape[:-1])


def next_token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """``log p(input_ids[:, t + 1] | ...)`` from a model's logits over every position, shape (B, L - 1), float32.

    The large-vocabulary path works on the whole contiguous (B, L, vocab) tensor (a dummy target for the last
    position, dropped after) so that no (B, L - 1, vocab) copy of the logits is made.
    """
    if logits.shape[-1] < CHUNK_VOCAB_THRESHOLD:
        return selective_logprobs(logits[:, :-1, :], input_ids[:, 1:])
    targets = torch.cat([input_ids[:, 1:], torch.zeros_like(input_ids[:, :1])], dim=1)
    return selective_logprobs(logits, targets)[:, :-1]


def next_token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the predictive distribution at every position but the last, (B, L - 1), float32, no gradient."""
    if logits.shape[-1] < CHUNK_VOCAB_THRESHOLD:
        return entropy_of_logits(logits[:, :-1, :])
    return entropy_of_logits(logits)[:, :-1]
