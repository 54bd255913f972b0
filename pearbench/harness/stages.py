"""The training stages of a run (docs/design.md §1). Each takes the :class:`~pearbench.harness.context.RunContext` and returns its outputs,
reusing the content-addressed cache folder when its ``done.json`` exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pearbench.errors import PearbenchError
from pearbench.harness.context import RunContext, say
from pearbench.harness.corpus import prompt_text, trace_corpus
from pearbench.hashing import config_hash, hash_seed
from pearbench.io import atomic_write_json, finite_log
from pearbench.logs import progress
from pearbench.models.families import (
    TINY_SIZES,
    build_tiny_model,
    encode_prompt,
    load_model,
    save_model,
)
from pearbench.models.generation import GenerationConfig, HFBackend, score_responses
from pearbench.models.loading import read_pointer, resolve_model, write_pointer

if TYPE_CHECKING:
    from pearbench.harness.cache import StageDir


# -- tasks ------------------------------------------------------------------------------------------------------
def tasks(ctx: RunContext):
    from pearbench.envs.base import Instance
    from pearbench.envs.splits import make_splits

    sizes = {
        "train": ctx.profile.data.train,
        "validation": ctx.profile.data.validation,
        "test": ctx.profile.data.test,
    }
    key = {
        "envs": [e.key() for e in ctx.suite.envs],
        "sizes": sizes,
        "prompt_style": ctx.suite.prompt_style,
    }
    stage = ctx.stage("tasks", key)
    path = stage.path / "splits.json"
    if stage.done:
        data = json.loads(path.read_text())
        return {k: [Instance.from_dict(d) for d in v] for k, v in data.items()}, stage
    total_weight = sum(e.weight for e in ctx.suite.envs)
    splits: dict[str, list[Any]] = {"train": [], "validation": [], "test": []}
    for spec in ctx.suite.envs:
        share = {k: max(1, round(v * spec.weight / total_weight)) for k, v in sizes.items()}
        made = make_splits(ctx.games[spec.name], share)
        for split, items in made.items():
            splits[split].extend(items)
    atomic_write_json(path, {k: [i.to_dict() for i in v] for k, v in splits.items()}, indent=None)
    stage.finish({"sizes": {k: len(v) for k, v in splits.items()}})
    say(f"  tasks: {', '.join(f'{k} {len(v)}' for k, v in splits.items())}")
    return splits, stage


# -- tokenizer ----------------------------------------------------------------------------------------------------
def tokenizer(ctx: RunContext):
    """The tokenizer every model of the run shares (``[models] tokenizer``): :attr:`RunContext.tokenizer`."""
    return ctx.tokenizer


def encode(ctx: RunContext, tok, text: str) -> list[int]:
    """A prompt's token ids as every stage encodes it (chat template when ``[models] chat_template``)."""
    return encode_prompt(tok, text, chat=ctx.profile.models.chat_template)


def _sft_objective():
    from pearbench.train.methods import load_recipe

    method, options = load_recipe("sft")
    return method.loss, options


def _parallel(ctx: RunContext):
    """The data-parallel group the SFT and RL stages train in (``ctx.rank`` of ``ctx.world_size``, the model sharded
    when ``ctx.sharding`` is "fsdp"; one process: no group). Every rank trains; rank 0 alone writes the stage's
    folder, and the others wait for it."""
    from pearbench.train.distributed import Parallel

    return Parallel(rank=ctx.rank, world_size=ctx.world_size, fsdp=ctx.sharding == "fsdp")


def _precision(ctx: RunContext) -> dict[str, Any]:
    """The training loops' precision arguments from ``[models]`` (dtype, gradient checkpointing)."""
    models = ctx.profile.models
    return {"dtype": models.dtype, "gradient_checkpointing": models.gradient_checkpointing}


# -- base and teacher ---------------------------------------------------------------------------------------------
def _pretrain_spec(ctx: RunContext, role: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(stage key, corpus knobs) of the base ("base") or teacher ("teacher") pretraining stage."""
    cfg = ctx.profile.base_pretrain if role == "base" else ctx.profile.teacher_pretrain
    suite = ctx.suite
    if role == "base":
        corpus_spec = {
            "style": suite.base_style,
            "other_style": suite.teacher_style,
            "other_style_share": suite.teacher_style_share,
            "noise": suite.base_noise,
        }
        per_env = suite.per_env_mix()
        if per_env:  # only when an environment overrides them, so other keys stay as they were
            corpus_spec["per_env"] = per_env
    else:
        corpus_spec = {
            "style": suite.teacher_style,
            "other_style": None,
            "other_style_share": 0.0,
            "noise": 0.0,
        }
    spec = ctx.profile.models.student if role == "base" else ctx.profile.models.teacher
    key = {
        "role": role,
        "size": spec,
        "pretrain": cfg.__dict__,
        "corpus": corpus_spec,
        "seed": suite.base_seed if role == "base" else suite.teacher_seed,
        # the teacher's corpus ignores the base-corpus overrides, so its key leaves them out
        "envs": [e.key() if role == "base" else e.key(overrides=False) for e in suite.envs],
        "prompt_style": suite.prompt_style,
        "train_size": ctx.profile.data.train,
    }
    # added only where they differ from the defaults, so the keys of existing char-level runs stay as they were
    if ctx.profile.models.tokenizer != "char":
        key["tokenizer"] = ctx.profile.models.tokenizer
    if ctx.profile.models.chat_template:
        key["chat_template"] = True
    # every later stage's key holds the base or teacher key's hash, so the dtype reaches all of them from here
    if ctx.profile.models.dtype != "float32":
        key["dtype"] = ctx.profile.models.dtype
    if spec not in TINY_SIZES:
        from pearbench.models.hub import model_fingerprint

        key["pretrained"] = model_fingerprint(spec)
    return key, corpus_spec


def pretrain(ctx: RunContext, role: str, splits, tok):
    """The base model (role "base") or teacher (role "teacher").

    A tiny size is trained from scratch on the role's trace corpus. A pretrained model (``hf:...`` or
    ``smollm2-135m``) is used as it is when the role's pretraining ``steps`` is 0 (the stage then holds a pointer to
    it, not a copy of its weights), and otherwise trained further on that corpus and saved.
    """
    from pearbench.train.sft import SFTConfig, train_sft

    cfg = ctx.profile.base_pretrain if role == "base" else ctx.profile.teacher_pretrain
    key, corpus_spec = _pretrain_spec(ctx, role)
    size, seed, suite = key["size"], key["seed"], ctx.suite
    stage = ctx.stage(role, key)
    model_dir = stage.path / "model"
    if stage.done:
        say(f"  {role}: cached ({stage.path})")
        return model_dir, stage
    if size in TINY_SIZES:
        model = build_tiny_model(size, tok, seed=seed)
    else:
        if cfg.steps == 0:
            write_pointer(model_dir, size)
            stage.finish({"pretrained": size, "steps": 0})
            say(f"  {role}: pretrained model {size}, used as it is")
            return model_dir, stage
        model, _ = resolve_model(size, dtype=torch.float32)
    model = model.to(ctx.profile.torch_device())
    corpus = trace_corpus(
        ctx.games,
        splits["train"],
        tok,
        size=cfg.steps * cfg.batch_size,
        prompt_style=suite.prompt_style,
        seed=seed,
        chat=ctx.profile.models.chat_template,
        **corpus_spec,
    )
    loss, options = _sft_objective()
    log = train_sft(
        model,
        corpus,
        objective=loss,
        options=options,
        config=SFTConfig(
            steps=cfg.steps,
            batch_size=cfg.batch_size,
            micro_batch_size=cfg.batch_size,
            lr=cfg.lr,
            warmup_steps=cfg.warmup_steps,
            weight_decay=cfg.weight_decay,
            checkpoint_every=cfg.checkpoint_every,
        ),
        seed=seed,
        pad_id=tok.pad_token_id,
        checkpoint_dir=stage.path / "ckpt",
        progress=ctx.progress,
        desc=f"pretrain {role}",
        metrics=ctx.metrics_log(stage, pretraining=True),
        **_precision(ctx),
    )
    save_model(model, tok, model_dir)
    final_nll = float(np.mean([e.get("nll", float("nan")) for e in log[-20:]])) if log else float("nan")
    stage.finish({"final_nll": final_nll, "corpus_size": len(corpus)})
    say(f"  {role}: pretrained {size} for {cfg.steps} steps (final nll {final_nll:.3f})")
    return model_dir, stage


def _load(ctx: RunContext, model_dir: Path):
    """A stage's model on the profile's device (its saved folder, or the pretrained model its pointer names), with
    the run's shared tokenizer: every stage encodes prompts and stops on EOS with the same tokenizer."""
    spec = read_pointer(model_dir)
    if spec is not None:
        model, _ = resolve_model(spec, dtype=torch.float32)
    else:
        model, _ = load_model(model_dir, dtype=torch.float32)
    return model.to(ctx.profile.torch_device()), ctx.tokenizer


# -- behavior data ------------------------------------------------------------------------------------------------
def behavior(ctx: RunContext, splits, tok, teacher_dir: Path, teacher_stage: StageDir) -> dict[str, Any]:
    """Sample the teacher on training instances, keep verified-correct traces with their log-probs."""
    from pearbench.harness.behavior import mismatch_stats, read_parquet, sample_verified, write_parquet

    cfg = ctx.profile.behavior
    base_stage_key = _base_key_hash(ctx)
    key = {
        "teacher": teacher_stage.hash,
        "base": base_stage_key,
        "behavior": cfg.key(),
        "seed": ctx.seed,
        "train": config_hash([i.id for i in splits["train"]]),
    }
    if cfg.backend == "vllm":  # which traces are sampled depends on the engine's dtype
        key["vllm_dtype"] = ctx.profile.eval.vllm_dtype
    stage = ctx.stage("behavior", key)
    path = stage.path / "data.parquet"
    if stage.done:
        rows, meta = read_parquet(path, vocab_size=len(tok))
        say(f"  behavior: cached, {len(rows)} traces")
        return {"rows": rows, "stats": stage.read_done()["stats"], "stage": stage}
    gen = GenerationConfig(
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        batch_size=cfg.batch_size,
    )
    if cfg.temperature != 1.0 or cfg.top_p != 1.0:
        say(
            "  warning: teacher data sampled at temperature/top-p != 1: behavior log-probs are those of the "
            "processed distribution, not the teacher's own"
        )
    train = list(splits["train"])
    order = np.random.default_rng([ctx.seed, 11]).permutation(len(train))
    if cfg.backend == "vllm":  # the teacher's log-probs are recomputed below, in the training numerics
        from pearbench.models.vllm import backend_for_model

        e = ctx.profile.eval
        backend = backend_for_model(
            teacher_dir, tokenizer=tok, dtype=e.vllm_dtype, memory=e.vllm_memory, eager=e.vllm_eager
        )
    else:
        teacher, _ = _load(ctx, teacher_dir)
        backend = HFBackend(teacher, tok, dtype=ctx.profile.models.dtype)
    bar = progress(total=cfg.sft_examples, desc="behavior data", enabled=ctx.progress, unit="trace")

    def encode_prompt(instance) -> list[int]:
        return encode(ctx, tok, prompt_text(ctx.games[instance.env], instance, ctx.suite.prompt_style))

    def verified(instance, text: str) -> bool:
        return ctx.games[instance.env].verify(instance, text).correct

    rows, sampled, passes = sample_verified(
        backend,
        train,
        order,
        cfg,
        gen,
        encode_prompt,
        verified,
        seed=ctx.seed,
        on_trace=lambda: bar.update(1),
    )
    bar.close()
    verified_yield = len(rows) / max(1, sampled)
    if len(rows) < cfg.sft_examples or verified_yield < cfg.min_yield:
        raise PearbenchError(
            f"teacher's verified yield is too low: {len(rows)} correct traces out of {sampled} sampled "
            f"in {passes} passes over the {len(train)} training prompts (yield {verified_yield:.3f}; need "
            f"{cfg.sft_examples} traces and yield >= {cfg.min_yield})"
        )
    agreement: dict[str, float] = {}
    if cfg.backend == "vllm":
        from pearbench.models.vllm import rescore_rows

        backend.close()
        agreement = rescore_rows(_load(ctx, teacher_dir)[0], rows, tok.pad_token_id, ctx.profile.models.dtype)
    base_model, _ = _load(ctx, ctx.out / "cache" / f"base-{base_stage_key}" / "model")
    base_lp = score_responses(
        base_model,
        [r["prompt_ids"] for r in rows],
        [r["response_ids"] for r in rows],
        tok.pad_token_id,
        dtype=ctx.profile.models.dtype,
    )
    stats = {"yield": verified_yield, "sampled": sampled, **mismatch_stats(base_lp, rows), **agreement}
    write_parquet(
        path, rows, {"teacher_stage": teacher_stage.hash, "generation": gen.to_dict(), "seed": ctx.seed}
    )
    stage.finish({"stats": stats})
    say(
        f"  behavior: {len(rows)} verified traces (yield {verified_yield:.2f}); mismatch: mean log pi0 - log pi_beta "
        f"= {stats['mean_log_ratio']:.3f} per token"
    )
    return {"rows": rows, "stats": stats, "stage": stage}


def _base_key_hash(ctx: RunContext) -> str:
    """The base stage's hash (the same key as :func:`pretrain` uses)."""
    return ctx.stage("base", _pretrain_spec(ctx, "base")[0]).hash


# -- sft ----------------------------------------------------------------------------------------------------------
def sft(ctx: RunContext, tok, base_dir: Path, base_stage: StageDir, behavior_out: dict[str, Any]):
    from dataclasses import replace

    from pearbench.train.sft import train_sft

    if not ctx.method.runs_sft:
        say(f"  sft: skipped (method {ctx.method_name} runs no SFT; RL starts from the base model)")
        return base_dir, base_stage, []
    steps = max(1, int(round(ctx.profile.sft.steps * ctx.sft_factor)))
    config = replace(ctx.profile.sft, steps=steps)
    key = {
        "base": base_stage.hash,
        "behavior": behavior_out["stage"].hash,
        "method": ctx.method_name,
        "recipe": ctx.method_recipe_hash,
        "sft": config.__dict__,
        "seed": ctx.seed,
    }
    stage = ctx.stage("sft", key)
    model_dir = stage.path / "model"
    if stage.done:
        say(f"  sft: cached ({stage.path})")
        return model_dir, stage, json.loads((stage.path / "log.json").read_text())
    model, _ = _load(ctx, base_dir)
    parallel = _parallel(ctx)
    log = train_sft(
        model,
        behavior_out["rows"],
        objective=ctx.method.loss,
        options=ctx.options,
        config=config,
        seed=hash_seed(ctx.seed, 202),
        pad_id=tok.pad_token_id,
        checkpoint_dir=stage.path / "ckpt",
        progress=ctx.progress,
        desc=f"sft {ctx.label}",
        metrics=ctx.metrics_log(stage),
        parallel=parallel,
        **_precision(ctx),
    )
    if parallel.is_main:
        save_model(model, tok, model_dir)
        atomic_write_json(stage.path / "log.json", finite_log(log), indent=None)
        stage.finish({"steps": steps})
    parallel.barrier()
    return model_dir, stage, log


def rl(ctx: RunContext, splits, tok, sft_dir: Path, sft_stage: StageDir):
    from pearbench.train.grpo import train_grpo

    key = {
        "sft": sft_stage.hash,
        "rl": ctx.profile.rl.to_dict(),
        "seed": ctx.seed,
        "train": config_hash([i.id for i in splits["train"]]),
    }
    if ctx.profile.rl.rollout_backend == "vllm":  # the rollouts depend on the engine's dtype
        key["vllm_dtype"] = ctx.profile.eval.vllm_dtype
    stage = ctx.stage("rl", key)
    model_dir = stage.path / "model"
    if stage.done:
        say(f"  rl: cached ({stage.path})")
        return model_dir, stage, json.loads((stage.path / "log.json").read_text())
    model, _ = _load(ctx, sft_dir)
    reference, _ = _load(ctx, sft_dir)
    train = list(splits["train"])
    prompts = [encode(ctx, tok, prompt_text(ctx.games[i.env], i, ctx.suite.prompt_style)) for i in train]

    def reward(index: int, text: str):
        instance = train[index]
        return ctx.games[instance.env].verify(instance, text)

    validation = list(splits["validation"])
    monitor_prompts = [
        encode(ctx, tok, prompt_text(ctx.games[i.env], i, ctx.suite.prompt_style)) for i in validation
    ]
    cfg = ctx.profile.rl
    rollouts = None
    if cfg.rollout_backend == "vllm":  # an engine over the SFT model; train_grpo copies the policy into it
        from pearbench.models.vllm_rollouts import VLLMRollouts

        e = ctx.profile.eval
        rollouts = VLLMRollouts(
            sft_dir, tokenizer=tok, dtype=e.vllm_dtype, memory=e.vllm_memory, eager=e.vllm_eager
        )

    def monitor(policy) -> float:
        sampler = rollouts if rollouts is not None else HFBackend(policy, tok, dtype=ctx.profile.models.dtype)
        samples = sampler.generate(
            monitor_prompts,
            n=cfg.monitor_samples,
            config=GenerationConfig(
                max_new_tokens=cfg.max_new_tokens,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                batch_size=256,
            ),
            seed=hash_seed(ctx.seed, 404),
        )
        verdicts = [
            ctx.games[validation[s.prompt_index].env].verify(validation[s.prompt_index], s.text)
            for s in samples
        ]
        return float(np.mean([v.reward for v in verdicts]))

    parallel = _parallel(ctx)
    log = train_grpo(
        model,
        tok,
        prompts,
        reward,
        config=ctx.profile.rl,
        seed=hash_seed(ctx.seed, 303),
        checkpoint_dir=stage.path / "ckpt",
        reference=reference,
        progress=ctx.progress,
        desc=f"rl {ctx.label}",
        monitor=monitor,
        metrics=ctx.metrics_log(stage),
        parallel=parallel,
        rollouts=rollouts,
        **_precision(ctx),
    )
    if rollouts is not None:
        rollouts.close()
    if parallel.is_main:
        save_model(model, tok, model_dir)
        atomic_write_json(stage.path / "log.json", finite_log(log), indent=None)
        stage.finish({})
    parallel.barrier()
    return model_dir, stage, log
