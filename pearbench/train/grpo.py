"""GRPO (group relative policy optimisation): the one RL recipe every method goes through (docs/design.md §1.5).

Pure functions first (advantages, the clipped surrogate, aggregation), then the loop. Per RL step: draw
``prompts_per_step`` training prompts (seeded by (seed, step)), sample ``group_size`` completions each from the current
policy, reward them with the environment's verifier, normalise rewards within each group, and take
``inner_iterations`` optimizer steps on the clipped surrogate. Everything a step needs is derived from (seed, step), so
a run resumed from a checkpoint follows the same trajectory as an uninterrupted one (the resumable skeleton,
shared with SFT, is :mod:`pearbench.train.loop`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pearbench.errors import PearbenchError
from pearbench.io import finite_log
from pearbench.models.generation import GenerationConfig, HFBackend, pad_sequences
from pearbench.models.logprobs import next_token_entropy, next_token_logprobs
from pearbench.models.precision import enable_gradient_checkpointing, model_autocast
from pearbench.models.vllm_rollouts import LogprobGap
from pearbench.settings import Settings, setting
from pearbench.train.distributed import SINGLE, Parallel
from pearbench.train.loop import ResumableRun, adamw
from pearbench.train.metrics_log import MetricsLog
from pearbench.train.sharding import ShardedModel, clip_gradients, idle_pass, most_passes
from pearbench.verify.verdict import Verdict

AGGREGATIONS = ("token-mean", "seq-mean")
ROLLOUT_BACKENDS = ("hf", "vllm")


@dataclass(frozen=True)
class GRPOConfig(Settings):
    """The RL recipe. Its hash goes into every result record (identical for every method of a profile)."""

    TABLE = "rl"

    steps: int = setting(100, doc="optimizer steps of RL (each on one freshly sampled batch)", ge=0)
    prompts_per_step: int = setting(
        16, doc="prompts drawn per step; each gets ``group_size`` completions", ge=1
    )
    group_size: int = setting(
        8, doc="completions per prompt (the group whose rewards are normalised together); >= 2", ge=2
    )
    lr: float = setting(1e-4, doc="AdamW learning rate (constant)", gt=0)
    epsilon_low: float = setting(
        0.2,
        doc="lower / upper clip of the importance ratio: clip(r, 1 - epsilon_low, 1 + epsilon_high) (DAPO's clip-higher)",
        ge=0,
        lt=1,
    )
    epsilon_high: float = setting(0.28, doc="upper clip of the importance ratio (see epsilon_low)", ge=0)
    scale_rewards: bool = setting(
        True, doc="divide group-centred rewards by the group's std (GRPO); False = Dr. GRPO's centring only"
    )
    loss_aggregation: str = setting(
        "token-mean",
        doc='"token-mean": sum over all tokens of the batch / token count (DAPO, TRL\'s token-level loss types); "seq-mean": mean over each sequence\'s tokens, then over sequences (original GRPO)',
        choices=AGGREGATIONS,
    )
    kl_coef: float = setting(
        0.0,
        doc="coefficient of the k3 KL estimator to the SFT checkpoint (0 = no reference model in the loss)",
        ge=0,
    )
    inner_iterations: int = setting(1, doc="optimizer steps per generated batch (mu in the GRPO paper)", ge=1)
    temperature: float = setting(1.0, doc="sampling temperature of the rollouts", gt=0)
    top_p: float = setting(1.0, doc="nucleus sampling threshold of the rollouts", gt=0, le=1)
    max_new_tokens: int = setting(64, doc="longest rollout completion", ge=1)
    micro_batch_size: int = setting(
        64, doc="sequences per forward/backward pass (gradients accumulate over a step)", ge=1
    )
    grad_clip: float = setting(1.0, doc="clip of the global gradient norm before each optimizer step", gt=0)
    weight_decay: float = setting(0.0, doc="AdamW's decoupled weight decay", ge=0)
    checkpoint_every: int = setting(
        25, doc="save a resumable checkpoint every this many steps (and after the last)", ge=1
    )
    kl_log_every: int = setting(
        10, doc="compute the (logged) KL to the reference every this many steps when kl_coef is 0", ge=1
    )
    monitor_every: int = setting(
        20,
        doc="measure the mean reward on a fixed held-out prompt set (the validation split) before RL, every this many steps and at the end: a low-noise check that RL really raises the reward (0 = never)",
        ge=0,
    )
    monitor_samples: int = setting(4, doc="samples per prompt for that measurement", ge=1)
    rollout_backend: str = setting(
        "hf",
        doc='sampler of the rollouts (and of the monitor): "hf" (pearbench\'s, over the policy itself) or "vllm" '
        "(an engine with the [eval] vllm_* settings whose weights are copied from the policy after every step; "
        "docs/scale.md)",
        choices=ROLLOUT_BACKENDS,
    )

    def to_dict(self) -> dict[str, Any]:
        """The RL stage's key: every field, ``rollout_backend`` only when not "hf" (older keys stay as they were)."""
        data = asdict(self)
        if data["rollout_backend"] == "hf":
            del data["rollout_backend"]
        return data


# ---------------------------------------------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------------------------------------------


def group_advantages(rewards: torch.Tensor, *, scale_rewards: bool = True, eps: float = 1e-4) -> torch.Tensor:
    """Group-relative advantages for rewards of shape (groups, group_size).

    A_ij = (r_ij - mean_j r_ij) / (std_j r_ij + eps) with the unbiased std (as TRL), or without the division when
    ``scale_rewards`` is False. A group whose rewards are all equal gets advantage 0.
    """
    if rewards.dim() != 2:
        raise ValueError(f"rewards must have shape (groups, group_size), got {tuple(rewards.shape)}")
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if not scale_rewards:
        return centred
    return centred / (rewards.std(dim=1, keepdim=True) + eps)


def grpo_token_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    *,
    epsilon_low: float,
    epsilon_high: float,
    ref_logprobs: torch.Tensor | None = None,
    kl_coef: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-token clipped surrogate (to minimise), the clipped indicator and the per-token k3 KL.

    r_t = exp(logp_t - old_logp_t); loss_t = -min(r_t A, clip(r_t, 1 - eps_low, 1 + eps_high) A) + beta * KL_t,
    KL_t = exp(ref_t - logp_t) - (ref_t - logp_t) - 1 (Schulman's k3 estimator); A is per sequence, (B,) or (B, 1).
    """
    advantages = advantages.reshape(-1, 1)
    ratio = torch.exp(logprobs - old_logprobs)
    clipped_ratio = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high)
    unclipped_term = ratio * advantages
    clipped_term = clipped_ratio * advantages
    loss = -torch.min(unclipped_term, clipped_term)
    is_clipped = (clipped_term < unclipped_term).float()
    if ref_logprobs is not None:
        diff = ref_logprobs - logprobs
        kl = torch.exp(diff) - diff - 1
    else:
        kl = torch.zeros_like(logprobs)
    if kl_coef:
        loss = loss + kl_coef * kl
    return loss, is_clipped, kl


def aggregate(token_values: torch.Tensor, mask: torch.Tensor, aggregation: str) -> tuple[torch.Tensor, float]:
    """Numerator and denominator of the batch loss, so micro-batches accumulate exactly.

    token-mean: (sum_bt v_bt m_bt, sum_bt m_bt); seq-mean: (sum_b mean_t v_bt, B).
    """
    if aggregation == "token-mean":
        return (token_values * mask).sum(), float(mask.sum())
    if aggregation == "seq-mean":
        per_seq = (token_values * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        return per_seq.sum(), float(mask.shape[0])
    raise ValueError(f"unknown loss aggregation {aggregation!r}; choose one of {', '.join(AGGREGATIONS)}")


def logprobs_and_entropy(model, input_ids, attention_mask) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token log-probs of ``input_ids[:, 1:]`` and the entropy of each predictive distribution, (B, L - 1).

    The entropy carries no gradient (it is only logged). Large vocabularies take the chunked computations of
    :mod:`pearbench.models.logprobs` (no full float32 log-softmax), small ones the plain ``log_softmax``.
    """
    logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
    return next_token_logprobs(logits, input_ids), next_token_entropy(logits)


# ---------------------------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------------------------

#: reward function: (prompt index, completion text) -> Verdict
RewardFn = Callable[[int, str], Verdict]


def step_seed(seed: int, step: int, salt: int = 0) -> int:
    return int(np.random.default_rng([seed, step, salt, 7919]).integers(0, 2**62))


def train_grpo(
    model: torch.nn.Module,
    tokenizer,
    prompts: Sequence[Sequence[int]],
    reward_fn: RewardFn,
    *,
    config: GRPOConfig,
    seed: int,
    checkpoint_dir: str | Path,
    reference: torch.nn.Module | None = None,
    progress: bool = True,
    desc: str = "rl",
    monitor: Callable[[torch.nn.Module], float] | None = None,
    dtype: str = "float32",
    gradient_checkpointing: bool = False,
    metrics: MetricsLog | None = None,
    parallel: Parallel | None = None,
    rollouts: Any = None,
) -> list[dict[str, float]]:
    """Run GRPO in place on ``model`` over the training ``prompts``; returns the per-step log.

    ``rollouts`` (optional, e.g. :class:`pearbench.models.vllm_rollouts.VLLMRollouts`): the sampler of the rollouts
    instead of pearbench's own over ``model``; anything with ``generate`` (as ``HFBackend``), ``pad_id`` and
    ``sync(model)``, which the loop calls before the first step (also after a resume) and after every step's
    optimizer updates. At temperature 1 and top-p 1 each step's entry then holds ``rollout_logprob_gap`` (mean
    absolute difference per response token between the sampler's log-probs and the trainer's) and its max.

    ``dtype="bfloat16"``: rollouts and forward passes under bf16 autocast, float32 weights and AdamW state;
    ``gradient_checkpointing`` recomputes activations in the backward pass (:mod:`pearbench.models.precision`).

    ``monitor(model)`` (optional) returns the mean reward on a fixed held-out prompt set; it is logged as
    ``monitor_reward`` before the first step (in the entry of step 0), every ``monitor_every`` steps and at the end.
    ``metrics`` (optional) gets one line per step (:mod:`pearbench.train.metrics_log`).

    ``parallel`` (:mod:`pearbench.train.distributed`): this process is one rank of a data-parallel group. Each rank
    samples, rewards and trains on a contiguous share of the step's prompts, with the random draws a single process
    makes for them (``HFBackend.generate(rows=...)``), so the group draws the samples one process would and makes
    its update; ``monitor`` runs on rank 0 only. With ``parallel.fsdp`` a sharded copy of ``model`` is trained
    (:mod:`pearbench.train.sharding`); ``model`` samples the rollouts (each rank its own), runs the monitor and
    the no-gradient passes, and gets the trained weights after every step.
    """
    if len(prompts) < 1:
        raise PearbenchError("GRPO got no training prompts")
    parallel = parallel or SINGLE
    parallel.require_items(config.prompts_per_step, "[rl] prompts_per_step")
    if parallel.enabled and rollouts is not None:
        raise PearbenchError("data-parallel GRPO samples its rollouts with the hf sampler, not a vLLM engine")
    sharded = ShardedModel(model, parallel) if parallel.fsdp else None
    trainee = sharded.module if sharded is not None else model  # the module the training passes run through
    optimizer = adamw(trainee, lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.99))
    run = ResumableRun(
        model,
        optimizer,
        checkpoint_dir,
        steps=config.steps,
        checkpoint_every=config.checkpoint_every,
        fault_point="rl",
        log_for_checkpoint=finite_log,
        metrics=metrics,
        main=parallel.is_main,
        sharded=sharded,
    )
    if reference is not None:
        reference.eval()
        for parameter in reference.parameters():
            parameter.requires_grad_(False)
    backend = rollouts if rollouts is not None else HFBackend(model, tokenizer, dtype=dtype)
    pad_id = backend.pad_id
    if rollouts is not None:
        rollouts.sync(model)  # the engine samples from the policy's weights (also after a resume)
    measure_gap = rollouts is not None and config.temperature == 1.0 and config.top_p == 1.0
    stop_checkpointing = enable_gradient_checkpointing(trainee, gradient_checkpointing)
    gen_config = GenerationConfig(
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        top_p=config.top_p,
        batch_size=config.prompts_per_step * config.group_size,
    )
    device = next(model.parameters()).device
    if monitor is not None and config.monitor_every and run.start == 0 and config.steps > 0:
        run.log.append({"step": 0, "monitor_reward": parallel.main_value(lambda: float(monitor(model)))})
    mine = parallel.shard(config.prompts_per_step)  # this rank's prompts of each step (all in one process)
    rows_of_mine = (mine.start * config.group_size, mine.stop * config.group_size)
    shard = {"rows": rows_of_mine} if parallel.enabled else {}
    micro = config.micro_batch_size
    # FSDP: every rank makes as many passes as the rank with the most micro-batches
    passes = most_passes(parallel, config.prompts_per_step, micro, config.group_size) if sharded else 0
    for step in run.steps(desc=desc, progress=progress and parallel.is_main):
        rng = np.random.default_rng([seed, step, 1])
        chosen = rng.choice(
            len(prompts), size=config.prompts_per_step, replace=len(prompts) < config.prompts_per_step
        )
        batch_prompts = [list(prompts[int(i)]) for i in chosen]
        samples = backend.generate(
            batch_prompts, n=config.group_size, config=gen_config, seed=step_seed(seed, step), **shard
        )
        verdicts = [reward_fn(int(chosen[s.prompt_index]), s.text) for s in samples]
        rewards = torch.tensor([v.reward for v in verdicts], dtype=torch.float32).view(
            len(mine), config.group_size
        )
        advantages = group_advantages(rewards, scale_rewards=config.scale_rewards).flatten()
        seq_prompts = [batch_prompts[s.prompt_index] for s in samples]
        seq_responses = [s.response_ids for s in samples]
        input_ids, attention, mask = pad_sequences(seq_prompts, seq_responses, pad_id)
        input_ids, attention, mask = input_ids.to(device), attention.to(device), mask.to(device)
        advantages = advantages.to(device)
        gap = LogprobGap(samples, [len(p) for p in seq_prompts], mask) if measure_gap else None
        rows = input_ids.shape[0]
        need_ref = reference is not None and (config.kl_coef > 0 or step % config.kl_log_every == 0)
        with torch.no_grad(), model_autocast(model, dtype):
            ref_lp = None
            if need_ref:
                ref_lp = torch.cat(
                    [
                        logprobs_and_entropy(reference, input_ids[i : i + micro], attention[i : i + micro])[0]
                        for i in range(0, rows, micro)
                    ]
                )
            old_lp = None
            if config.inner_iterations > 1:
                model.eval()
                old_lp = torch.cat(
                    [
                        logprobs_and_entropy(model, input_ids[i : i + micro], attention[i : i + micro])[0]
                        for i in range(0, rows, micro)
                    ]
                )
        trainee.train()
        stats = {"clip_fraction": 0.0, "entropy": 0.0, "kl": 0.0, "loss": 0.0}
        for iteration in range(config.inner_iterations):
            optimizer.zero_grad(set_to_none=True)
            total_tokens, total_rows = float(mask.sum()), float(rows)
            if parallel.enabled:  # the whole step's denominators: every rank divides by the same
                total_tokens, total_rows = parallel.sum_floats(total_tokens, total_rows)
            denominator = total_tokens if config.loss_aggregation == "token-mean" else total_rows
            sums = {"clip": 0.0, "entropy": 0.0, "kl": 0.0, "loss": 0.0}
            for i in range(0, rows, micro):
                sl = slice(i, i + micro)
                with model_autocast(model, dtype):
                    lp, entropy = logprobs_and_entropy(trainee, input_ids[sl], attention[sl])
                old = old_lp[sl] if old_lp is not None else lp.detach()
                ref = ref_lp[sl] if ref_lp is not None else None
                token_loss, clipped, kl = grpo_token_loss(
                    lp,
                    old,
                    advantages[sl],
                    epsilon_low=config.epsilon_low,
                    epsilon_high=config.epsilon_high,
                    ref_logprobs=ref,
                    kl_coef=config.kl_coef,
                )
                numerator, _ = aggregate(token_loss, mask[sl], config.loss_aggregation)
                (numerator / denominator).backward()
                m = mask[sl]
                if gap is not None and iteration == 0:
                    gap.add(lp, sl)
                sums["clip"] += float((clipped * m).sum())
                sums["entropy"] += float((entropy.detach() * m).sum())
                sums["kl"] += float((kl.detach() * m).sum())
                sums["loss"] += float(numerator.detach()) / denominator
            for _ in range(passes - math.ceil(rows / micro)):
                idle_pass(trainee, input_ids, attention)
            if parallel.enabled:  # gradients and statistics summed over the ranks' shares
                if sharded is None:  # FSDP's reduce-scatters summed them already
                    parallel.sync_gradients(model.parameters())
                sums = dict(zip(sums, parallel.sum_floats(*sums.values())))
            grad_norm = clip_gradients(trainee.parameters(), config.grad_clip)
            if not torch.isfinite(grad_norm):
                raise PearbenchError(f"non-finite gradient at RL step {step}")
            optimizer.step()
            stats = {
                "clip_fraction": sums["clip"] / total_tokens,
                "entropy": sums["entropy"] / total_tokens,
                "kl": sums["kl"] / total_tokens if need_ref else float("nan"),
                "loss": sums["loss"],
            }
        if sharded is not None:  # the next step's rollouts (and the monitor) sample the updated policy
            sharded.refresh()
        if rollouts is not None:
            rollouts.sync(model)  # the next step's rollouts (and the monitor) sample the updated policy
            stats.update(gap.stats() if gap is not None else {})
        errors = sum(v.error is not None for v in verdicts)
        lengths = [len(s.response_ids) for s in samples]
        if parallel.enabled:  # the whole step's rewards, errors and lengths, in the order of one process
            shares = parallel.gather_objects((rewards.tolist(), errors, lengths))
            rewards = torch.tensor([row for share in shares for row in share[0]], dtype=torch.float32)
            errors = sum(share[1] for share in shares)
            lengths = [length for share in shares for length in share[2]]
        groups_solved = float((rewards.max(dim=1).values > 0).float().mean())
        entry = {
            "step": step + 1,
            "reward_mean": float(rewards.mean()),
            "pass_rate": groups_solved,
            "verifier_errors": float(errors),
            "response_length": float(np.mean(lengths)),
            "grad_norm": float(grad_norm),
            **stats,
        }
        if (
            monitor is not None
            and config.monitor_every
            and ((step + 1) % config.monitor_every == 0 or step + 1 == config.steps)
        ):
            entry["monitor_reward"] = parallel.main_value(lambda: float(monitor(model)))
        run.end_step(
            step, entry, postfix={"reward": f"{entry['reward_mean']:.3f}", "ent": f"{entry['entropy']:.2f}"}
        )
    stop_checkpointing()
    return run.log
