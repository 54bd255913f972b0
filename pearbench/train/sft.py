"""The SFT loop: a hand-written torch loop over a transformers causal LM, any registered objective (docs/design.md §1.4).

Readable top to bottom (nanoGPT style): fixed-size batches drawn from a per-epoch permutation that depends only on
(seed, epoch), so a run resumed from a checkpoint sees exactly the batches an uninterrupted run would; gradient
accumulation over micro-batches with the objective's own normaliser (numerators summed, gradients divided by the
total denominator, so every normalisation is exact under accumulation); AdamW with linear warm-up and cosine decay;
checkpoints every ``checkpoint_every`` steps (the resumable skeleton shared with GRPO, :mod:`pearbench.train.loop`);
the objective's diagnostics logged every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pearbench.errors import PearbenchError
from pearbench.models.generation import pad_sequences, token_logprobs
from pearbench.models.precision import enable_gradient_checkpointing, model_autocast
from pearbench.settings import Settings, setting
from pearbench.train.distributed import SINGLE, Parallel
from pearbench.train.loop import ResumableRun, adamw
from pearbench.train.metrics_log import MetricsLog
from pearbench.train.objectives import LossDiagnostics
from pearbench.train.sharding import ShardedModel, clip_gradients, idle_pass, most_passes


@dataclass(frozen=True)
class SFTConfig(Settings):
    """Settings of :func:`train_sft`: steps, batching, optimizer, schedule and checkpoints (the objective and its
    options are not part of it: they come from the method's recipe in ``baselines/``). A profile's ``[sft]`` table
    sets the SFT stage's; pretraining builds one from its ``[base_pretrain]`` / ``[teacher_pretrain]`` table."""

    TABLE = "sft"

    steps: int = setting(
        300,
        doc="optimizer steps; the SFT stage runs round(steps × the label's factor, as in ``sft@3x``), at least 1",
        ge=0,
    )
    batch_size: int = setting(
        32, doc="examples per optimizer step, drawn from per-epoch permutations seeded by (seed, epoch)", ge=1
    )
    micro_batch_size: int = setting(
        32,
        doc="examples per forward/backward pass; gradients accumulate exactly over the micro-batches of a step",
        ge=1,
    )
    lr: float = setting(1e-3, doc="peak learning rate, reached at the end of the warm-up", gt=0)
    min_lr_ratio: float = setting(
        0.1, doc="the cosine decay ends at ``lr * min_lr_ratio`` at the last step", ge=0, le=1
    )
    warmup_steps: int = setting(
        20, doc="steps of linear warm-up from ``lr / warmup_steps`` to ``lr`` (0 = none)", ge=0
    )
    weight_decay: float = setting(0.0, doc="AdamW's decoupled weight decay", ge=0)
    grad_clip: float = setting(1.0, doc="clip of the global gradient norm before each optimizer step", gt=0)
    checkpoint_every: int = setting(
        50, doc="save a resumable checkpoint every this many steps (and after the last)", ge=1
    )
    betas: tuple[float, float] = setting((0.9, 0.95), doc="AdamW's (beta1, beta2)", ge=0, lt=1)


def lr_at(step: int, config: SFTConfig) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``lr * min_lr_ratio`` at the last step."""
    if config.warmup_steps and step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    floor = config.lr * config.min_lr_ratio
    return floor + 0.5 * (config.lr - floor) * (1 + math.cos(math.pi * progress))


def batch_indices(step: int, n_examples: int, batch_size: int, seed: int) -> list[int]:
    """Example indices for a step: consecutive slices of per-epoch permutations seeded by (seed, epoch)."""
    out: list[int] = []
    position = step * batch_size
    while len(out) < batch_size:
        epoch, offset = divmod(position, n_examples)
        perm = np.random.default_rng([seed, epoch]).permutation(n_examples)
        take = min(batch_size - len(out), n_examples - offset)
        out.extend(int(i) for i in perm[offset : offset + take])
        position += take
    return out


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float, betas=(0.9, 0.95)):
    """The SFT optimizer: AdamW (a module attribute, so a test can swap in plain SGD)."""
    return adamw(model, lr=lr, weight_decay=weight_decay, betas=betas)


def _aligned_behavior(prompts, responses, behavior, width: int) -> torch.Tensor:
    out = torch.zeros((len(prompts), width), dtype=torch.float32)
    for row, (prompt, response, values) in enumerate(zip(prompts, responses, behavior)):
        begin = len(prompt) - 1
        out[row, begin : begin + len(response)] = torch.tensor(values, dtype=torch.float32)
    return out


#: An objective (pearbench.train.methods.Method.loss): (logprobs with grad, behavior log-probs or None, response mask,
#: options) -> pearbench.train.objectives.ObjectiveOutput (numerator, this micro-batch's denominator share, diagnostics).
Objective = Callable[..., Any]


def train_sft(
    model: torch.nn.Module,
    examples: Sequence[dict[str, Any]],
    *,
    objective: Objective,
    options: Any,
    config: SFTConfig,
    seed: int,
    pad_id: int,
    checkpoint_dir: str | Path,
    progress: bool = True,
    desc: str = "sft",
    dtype: str = "float32",
    gradient_checkpointing: bool = False,
    metrics: MetricsLog | None = None,
    parallel: Parallel | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place on ``examples`` (dicts with prompt_ids, response_ids, optional behavior_logprobs).

    Resumes from the newest checkpoint in ``checkpoint_dir``; returns the per-step log (one dict per step).
    ``dtype="bfloat16"``: forward passes under bf16 autocast, float32 weights and AdamW state; ``gradient_checkpointing``
    recomputes activations in the backward pass (:mod:`pearbench.models.precision`). ``metrics`` (optional) gets one
    line per step (:mod:`pearbench.train.metrics_log`). A ``desc`` starting with "pretrain" shows only nll and lr.
    ``parallel`` (:mod:`pearbench.train.distributed`): this process is one rank of a data-parallel group; it trains
    on its shard of each step's batch and the group makes the update one process makes on the whole batch. With
    ``parallel.fsdp`` a sharded copy of ``model`` is trained (:mod:`pearbench.train.sharding`) and ``model`` gets
    its weights at every checkpoint, the last step's included.
    """
    if not examples:
        raise PearbenchError("SFT got no training examples")
    parallel = parallel or SINGLE
    parallel.require_items(config.batch_size, "[sft] batch_size")
    sharded = ShardedModel(model, parallel) if parallel.fsdp else None
    trainee = sharded.module if sharded is not None else model  # the module the passes run through
    optimizer = make_optimizer(trainee, config.lr, config.weight_decay, config.betas)
    run = ResumableRun(
        model,
        optimizer,
        checkpoint_dir,
        steps=config.steps,
        checkpoint_every=config.checkpoint_every,
        fault_point="sft" if desc.startswith("sft") else None,
        metrics=metrics,
        main=parallel.is_main,
        sharded=sharded,
    )
    shown = ("nll",) if desc.startswith("pretrain") else ("nll", "mean_weight")
    trainee.train()
    stop_checkpointing = enable_gradient_checkpointing(trainee, gradient_checkpointing)
    # FSDP: every rank makes as many passes as the rank with the most micro-batches
    passes = most_passes(parallel, config.batch_size, config.micro_batch_size) if sharded is not None else 0
    use_behavior = all(e.get("behavior_logprobs") is not None for e in examples)
    device = next(model.parameters()).device
    for step in run.steps(desc=desc, progress=progress and parallel.is_main):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        indices = batch_indices(step, len(examples), config.batch_size, seed)
        if parallel.enabled:  # this rank's contiguous shard of the step's global batch
            indices = [indices[i] for i in parallel.shard(len(indices))]
        optimizer.zero_grad(set_to_none=True)
        total_normaliser = 0.0
        diagnostics = []
        for begin in range(0, len(indices), config.micro_batch_size):
            chunk = [examples[i] for i in indices[begin : begin + config.micro_batch_size]]
            prompts = [e["prompt_ids"] for e in chunk]
            responses = [e["response_ids"] for e in chunk]
            input_ids, attention, mask = pad_sequences(prompts, responses, pad_id)
            behavior = None
            if use_behavior:
                behavior = _aligned_behavior(
                    prompts, responses, [e["behavior_logprobs"] for e in chunk], mask.shape[1]
                )
                behavior = behavior.to(device)
            with model_autocast(model, dtype):
                logprobs = token_logprobs(trainee, input_ids.to(device), attention.to(device))
            out = objective(logprobs, behavior, mask.to(device), options)
            out.loss_sum.backward()
            total_normaliser += float(out.normaliser)
            diagnostics.append(out.diagnostics)
        for _ in range(passes - math.ceil(len(indices) / config.micro_batch_size)):
            idle_pass(trainee, input_ids.to(device), attention.to(device))
        if parallel.enabled:  # the whole batch's normaliser, diagnostics and gradient sums over the ranks
            total_normaliser = parallel.sum_floats(total_normaliser)[0]
            diagnostics = [LossDiagnostics(parallel.sum_tensor(LossDiagnostics.merge(diagnostics).sums))]
            if sharded is None:  # FSDP's reduce-scatters summed them already
                parallel.sync_gradients(model.parameters())
        if total_normaliser <= 0:
            raise PearbenchError("SFT batch has no response tokens")
        for parameter in trainee.parameters():
            if parameter.grad is not None:
                parameter.grad.div_(total_normaliser)
        grad_norm = clip_gradients(trainee.parameters(), config.grad_clip)
        if not torch.isfinite(grad_norm):
            raise PearbenchError(f"non-finite gradient at SFT step {step}: the objective produced NaN/inf")
        optimizer.step()
        entry = {key: float(value) for key, value in LossDiagnostics.merge(diagnostics).summary().items()}
        entry.update({"step": step + 1, "lr": lr_at(step, config), "grad_norm": float(grad_norm)})
        postfix = {k: f"{entry[k]:.3f}" for k in shown if k in entry}
        run.end_step(step, entry, postfix={**postfix, "lr": f"{entry['lr']:.2e}"})
    stop_checkpointing()
    return run.log
