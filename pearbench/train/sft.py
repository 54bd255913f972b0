"""The SFT loop: a hand-written torch loop over a transformers causal LM, any registered objective (DESIGN §1.4).

Readable top to bottom (nanoGPT style): fixed-size batches drawn from a per-epoch permutation that depends only on
(seed, epoch), so a run resumed from a checkpoint sees exactly the batches an uninterrupted run would; gradient
accumulation over micro-batches with the objective's own normaliser (numerators summed, gradients divided by the
total denominator, so every normalisation is exact under accumulation); AdamW with linear warm-up and cosine decay;
checkpoints every ``checkpoint_every`` steps; the objective's diagnostics logged every step.
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
from pearbench.faults import maybe_die
from pearbench.models.generation import pad_sequences, token_logprobs
from pearbench.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from pearbench.train.objectives import LossDiagnostics


@dataclass(frozen=True)
class SFTConfig:
    steps: int = 300
    batch_size: int = 32
    micro_batch_size: int = 32
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 20
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    checkpoint_every: int = 50
    betas: tuple[float, float] = (0.9, 0.95)

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise PearbenchError(f"sft steps must be >= 0, got {self.steps}")
        if self.batch_size < 1 or self.micro_batch_size < 1:
            raise PearbenchError("sft batch_size and micro_batch_size must be >= 1")
        if not self.lr > 0:
            raise PearbenchError(f"sft lr must be > 0, got {self.lr}")
        if self.checkpoint_every < 1:
            raise PearbenchError("sft checkpoint_every must be >= 1")


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
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=betas)


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
) -> list[dict[str, float]]:
    """Train ``model`` in place on ``examples`` (dicts with prompt_ids, response_ids, optional behavior_logprobs).

    Resumes from the newest checkpoint in ``checkpoint_dir``; returns the per-step log (one dict per step).
    """
    from tqdm.auto import tqdm

    if not examples:
        raise PearbenchError("SFT got no training examples")
    optimizer = make_optimizer(model, config.lr, config.weight_decay, config.betas)
    log: list[dict[str, float]] = []
    start = 0
    found = latest_checkpoint(checkpoint_dir)
    if found is not None:
        state = load_checkpoint(found, model, optimizer)
        start, log = int(state["step"]), list(state.get("log", []))
    model.train()
    use_behavior = all(e.get("behavior_logprobs") is not None for e in examples)
    bar = tqdm(total=config.steps, initial=start, desc=desc, disable=not progress, unit="step", leave=False)
    device = next(model.parameters()).device
    for step in range(start, config.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        indices = batch_indices(step, len(examples), config.batch_size, seed)
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
            logprobs = token_logprobs(model, input_ids.to(device), attention.to(device))
            out = objective(logprobs, behavior, mask.to(device), options)
            out.loss_sum.backward()
            total_normaliser += float(out.normaliser)
            diagnostics.append(out.diagnostics)
        if total_normaliser <= 0:
            raise PearbenchError("SFT batch has no response tokens")
        for parameter in model.parameters():
            if parameter.grad is not None:
                parameter.grad.div_(total_normaliser)
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        if not torch.isfinite(grad_norm):
            raise PearbenchError(f"non-finite gradient at SFT step {step}: the objective produced NaN/inf")
        optimizer.step()
        entry = {key: float(value) for key, value in LossDiagnostics.merge(diagnostics).summary().items()}
        entry.update({"step": step + 1, "lr": lr_at(step, config), "grad_norm": float(grad_norm)})
        log.append(entry)
        bar.update(1)
        bar.set_postfix({k: f"{entry[k]:.3f}" for k in ("nll", "mean_weight") if k in entry})
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            save_checkpoint(checkpoint_dir, step + 1, model, optimizer, {"log": log})
        if desc.startswith("sft"):
            maybe_die("sft", step + 1)
    bar.close()
    return log
