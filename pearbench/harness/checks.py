"""Checks made before any work of a run: pretrained models share the run's tokenizer, a vLLM sampler imports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pearbench.errors import PearbenchError
from pearbench.harness.context import RunContext
from pearbench.models.families import (
    TINY_SIZES,
)

if TYPE_CHECKING:
    pass


def check_models(ctx: RunContext) -> None:
    """Before any work: every pretrained base/teacher shares the run's tokenizer; a vLLM sampler is importable."""
    if ctx.profile.eval.backend == "vllm":
        from pearbench.models.vllm import _import_vllm

        _import_vllm()
    check_vllm_samplers(ctx.profile, ctx.world_size)
    pretrained = [
        (role, spec)
        for role, spec in (("student", ctx.profile.models.student), ("teacher", ctx.profile.models.teacher))
        if spec not in TINY_SIZES
    ]
    if pretrained:
        tok = ctx.tokenizer
        for role, spec in pretrained:
            _check_shared_vocab(ctx, spec, tok, role)


def _check_shared_vocab(ctx: RunContext, spec: str, tok, role: str) -> None:
    """A pretrained base/teacher must share the run's tokenizer (log-ratios compare token ids)."""
    from pearbench.models.hub import load_tokenizer

    own = load_tokenizer(spec)
    if own.eos_token_id != tok.eos_token_id:
        raise PearbenchError(
            f"the {role} model {spec!r} ends responses with token {own.eos_token!r} but the run's tokenizer "
            f"{ctx.profile.models.tokenizer!r} with {tok.eos_token!r}; use the tokenizer of the same model family "
            "and variant (e.g. the Instruct tokenizer for Instruct models)"
        )
    if own.get_vocab() != tok.get_vocab():
        raise PearbenchError(
            f"the {role} model {spec!r} does not share the run's tokenizer {ctx.profile.models.tokenizer!r} "
            f"({len(own)} vs {len(tok)} tokens, or different ids); base, teacher and student must share one "
            "vocabulary: set [models] tokenizer to this model's tokenizer"
        )


def check_vllm_samplers(profile, world_size: int = 1) -> None:
    """``[behavior] backend`` / ``[rl] rollout_backend = "vllm"`` need vLLM importable; vLLM rollouts run in one
    process (each data-parallel rank would need an engine of its own)."""
    from pearbench.models.vllm import require_vllm

    if profile.behavior.backend == "vllm":
        require_vllm('[behavior] backend = "vllm"')
    if profile.rl.rollout_backend == "vllm":
        require_vllm('[rl] rollout_backend = "vllm"')
        if world_size > 1:
            raise PearbenchError(
                f'[rl] rollout_backend = "vllm" runs in one process, not {world_size}: use --processes 1, '
                'or rollout_backend = "hf" for data-parallel RL'
            )
