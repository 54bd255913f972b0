"""Assembling a run's result record (docs/design.md §6) from the outputs of its stages."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from pearbench.harness.context import RunContext


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


# -- record -------------------------------------------------------------------------------------------------------
def _summary(log: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        values = [e[key] for e in log if e.get(key) is not None and math.isfinite(e[key])]
        if values:
            out[key] = {"mean": float(np.mean(values)), "first": float(values[0]), "last": float(values[-1])}
    return out


def record(
    ctx: RunContext,
    *,
    stage_hashes,
    behavior,
    reference,
    sft_log,
    rl_log,
    sft_eval,
    rl_eval,
    heldout=None,
    model_dirs: dict[str, Path] | None = None,
) -> dict[str, Any]:
    """The result record of a run (also written under ``ctx.out``). ``model_dirs`` (base, teacher, sft, rl) are
    stored relative to ``ctx.out``, so committed records carry no machine's absolute paths."""
    from dataclasses import asdict

    from pearbench.harness.config import rl_recipe_hash
    from pearbench.harness.context import git_commit, package_versions
    from pearbench.results.records import finalize_record, make_run_id, write_record

    sft_diag = (
        _summary(
            sft_log,
            (
                "nll",
                "weighted_loss",
                "mean_weight",
                "ess_fraction",
                "delta_clip_fraction",
                "log_weight_clip_fraction",
                "mean_log_ratio",
            ),
        )
        or None
    )
    steps_log = [e for e in rl_log if e.get("reward_mean") is not None]
    window = max(1, len(steps_log) // 5)
    rewards = [e["reward_mean"] for e in steps_log]
    monitored = [(int(e["step"]), e["monitor_reward"]) for e in rl_log if e.get("monitor_reward") is not None]
    body = {
        "run_id": make_run_id(ctx.suite.name, ctx.label, ctx.seed, ctx.profile.name),
        "suite": ctx.suite.name,
        "method": ctx.method_name,
        "method_label": ctx.label,
        "sft_steps_factor": ctx.sft_factor,
        "seed": ctx.seed,
        "profile": ctx.profile.name,
        "config_hashes": stage_hashes,
        "method_recipe_hash": ctx.method_recipe_hash,
        "rl_recipe_hash": rl_recipe_hash(ctx.profile.raw),
        "method_options": _plain(asdict(ctx.options)) if ctx.options is not None else {},
        "packages": package_versions(),
        "git_commit": git_commit(),
        "mismatch": behavior["stats"],
        "sft_diagnostics": sft_diag,
        "rl_curve": {
            "step": [int(e["step"]) for e in steps_log],
            "reward_mean": rewards,
            "monitor_step": [m[0] for m in monitored],
            "monitor_reward": [m[1] for m in monitored],
        },
        "rl_summary": {
            "reward_first": float(np.mean(rewards[:window])) if rewards else None,
            "reward_last": float(np.mean(rewards[-window:])) if rewards else None,
            "monitor_reward_start": monitored[0][1] if monitored else None,
            "monitor_reward_end": monitored[-1][1] if monitored else None,
            **_summary(rl_log, ("entropy", "kl", "clip_fraction", "response_length", "pass_rate")),
        },
        "eval": {
            "n": ctx.profile.eval.n,
            "temperature": ctx.profile.eval.temperature,
            "max_new_tokens": ctx.profile.eval.max_new_tokens,
            "ks": list(ctx.profile.eval.ks),
        },
        "outcomes": {"sft": sft_eval["outcomes"], "rl": rl_eval["outcomes"]},
        "metrics": {"sft": sft_eval["metrics"], "rl": rl_eval["metrics"]},
        "reference": reference,
        "examples": [{**e, "stage": "sft"} for e in sft_eval["examples"]]
        + [{**e, "stage": "rl"} for e in rl_eval["examples"]],
        "timings": {k: round(v, 3) for k, v in ctx.timings.items()},
        "engine": {
            "executor": ctx.executor,
            "dtype": ctx.profile.models.dtype,
            "world_size": ctx.world_size,  # data-parallel SFT/RL processes (pearbench.train.distributed)
            "sharding": ctx.sharding,  # "replicate" or "fsdp" (pearbench.train.sharding)
            # torch threads of this process (the profile's `threads` unless $PEARBENCH_THREADS overrides it)
            "threads": _torch_threads(),
            "rl_engine": "native",
            "rollout_backend": ctx.profile.rl.rollout_backend,  # [rl] rollout_backend: GRPO's sampler
            "behavior_backend": ctx.profile.behavior.backend,  # [behavior] backend: the teacher's sampler
        },
        "profile_override": ctx.profile.raw if ctx.profile.override_file else None,
    }
    if (
        heldout
    ):  # {set: {"base"|"sft"|"rl": {metrics, n, problems, verifier_errors, truncated, generation, ...}}}
        body["heldout"] = heldout
    if ctx.profile.trace_budget is not None:  # the suite's max_new_tokens raised the profile's limits
        body["trace_budget"] = {
            "max_new_tokens": ctx.profile.trace_budget,
            "behavior": ctx.profile.behavior.max_new_tokens,
            "rl": ctx.profile.rl.max_new_tokens,
            "eval": ctx.profile.eval.max_new_tokens,
        }
    if getattr(ctx.suite, "map", None) is not None:  # the suite is one level of a mismatch map
        body["suite_map"] = {"map": ctx.suite.map, "level": ctx.suite.map_level}
    if model_dirs:
        body["model_dirs"] = {role: relative_to_out(path, ctx.out) for role, path in model_dirs.items()}
    final = finalize_record(body)
    path = write_record(ctx.out, final)
    final["_path"] = str(path)
    return final


def relative_to_out(path: Path, out: Path) -> str:
    """``path`` relative to the run's ``--out`` folder, in POSIX form (``cache/sft-<hash>/model``)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(out).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return Path(path).as_posix()


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
