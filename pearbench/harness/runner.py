"""The shared SFT→RL harness (docs/design.md §1): tasks → base → teacher → behavior data → sft → rl → eval → record.

Every stage is cached under ``<out>/cache/<stage>-<hash>/`` by a content hash of its inputs
(:mod:`pearbench.harness.cache`), so methods of the same suite, profile and seed share tasks, base, teacher and
behavior data, and a sweep pays for them once. SFT and RL checkpoint every N steps inside their folder and a rerun
resumes from the newest complete checkpoint. The runner builds one :class:`~pearbench.harness.context.RunContext`
and calls the stages (:mod:`~pearbench.harness.stages`, :mod:`~pearbench.harness.eval_stages`) in order.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pearbench.errors import PearbenchError
from pearbench.harness import eval_stages, stages
from pearbench.harness.checks import check_models
from pearbench.harness.config import load_profile
from pearbench.harness.context import RunContext, quiet_transformers, say, threads_from_env
from pearbench.harness.record import record as build_record
from pearbench.harness.suites import load_suite
from pearbench.hashing import config_hash
from pearbench.io import check_output_dir, file_lock
from pearbench.results.records import make_run_id
from pearbench.train.methods import load_recipe, parse_method_label, recipe_hash

STAGES = ("tasks", "base", "teacher", "behavior", "sft", "rl", "eval")


@dataclass
class RunRequest:
    """One run as asked for: ``pearbench run --method M --suite S --seed N --profile P --config F --out DIR``."""

    method: str = "pear-seq"
    suite: str | None = None
    seed: int = 0
    profile: str = "small"
    config_file: str | None = None
    out: str = "runs"
    progress: bool = True
    executor: str = "local"  # what runs it: "local" or "ray" (a sweep executor); recorded as engine.executor


def run_id_for(request: RunRequest) -> str:
    """The run id of a request (its record's file name), without loading models: the one run-id function."""
    name, _ = parse_method_label(request.method)
    load_recipe(name)  # an unknown method fails here, as it would in the run
    suite = load_suite(request.suite)
    profile = load_profile(request.profile, request.config_file)
    return make_run_id(suite.name, request.method, int(request.seed), profile.name)


def build_context(request: RunRequest) -> RunContext:
    """Validate a request (method, suite, profile, seed) and build the context its stages share."""
    name, factor = parse_method_label(request.method)
    method, options = load_recipe(name)
    suite = load_suite(request.suite)
    profile = load_profile(request.profile, request.config_file)
    profile.check_runnable()
    seed = request.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise PearbenchError(f"seed must be a whole number >= 0, got {seed!r}")
    return RunContext(
        out=check_output_dir(request.out, "--out"),
        profile=profile,
        suite=suite,
        seed=seed,
        label=request.method,
        method_name=name,
        method=method,
        options=options,
        sft_factor=float(factor),
        method_recipe_hash=recipe_hash(name),
        games=suite.games(),
        progress=request.progress,
        executor=request.executor,
    )


class Harness:
    """Runs one (suite, method, seed, profile); see the module docstring."""

    def __init__(self, request: RunRequest) -> None:
        self.request = request
        self.ctx = build_context(request)
        quiet_transformers()
        torch.set_num_threads(threads_from_env(self.ctx.profile.threads))
        check_models(
            self.ctx
        )  # pretrained models share the run's tokenizer: refused before any work otherwise

    @property
    def run_id(self) -> str:
        return make_run_id(self.ctx.suite.name, self.ctx.label, self.ctx.seed, self.ctx.profile.name)

    def shared_stages(self, *, reference: bool = True) -> dict[str, Any]:
        """tasks → base → teacher → behavior data → reference evaluations (unless ``reference=False``): the stages
        every method of this suite, profile and seed shares. Built under one file lock, so parallel runs of a sweep
        never build the same stage twice; later runs find them cached."""
        ctx = self.ctx
        with file_lock(ctx.out / "cache" / ".shared.lock"):
            splits, tasks_stage = ctx.timed("tasks", lambda: stages.tasks(ctx))
            tok = ctx.tokenizer
            base_dir, base_stage = ctx.timed("base", lambda: stages.pretrain(ctx, "base", splits, tok))
            teacher_dir, teacher_stage = ctx.timed(
                "teacher", lambda: stages.pretrain(ctx, "teacher", splits, tok)
            )
            behavior = ctx.timed(
                "behavior", lambda: stages.behavior(ctx, splits, tok, teacher_dir, teacher_stage)
            )
            references = None
            if reference:
                references = ctx.timed(
                    "reference_eval",
                    lambda: eval_stages.reference_eval(
                        ctx, splits, base_dir, base_stage, teacher_dir, teacher_stage
                    ),
                )
        return {
            "splits": splits,
            "tasks_stage": tasks_stage,
            "base": (base_dir, base_stage),
            "teacher": (teacher_dir, teacher_stage),
            "behavior": behavior,
            "reference": references,
        }

    def run(self) -> dict[str, Any]:
        ctx = self.ctx
        p = ctx.profile
        say(
            f"pearbench run: method={ctx.label} suite={ctx.suite.name} seed={ctx.seed} profile={p.name} "
            f"out={ctx.out}"
        )
        heldout_sets = eval_stages.heldout_problems(ctx)  # a bad held-out name or file fails before any work
        shared = self.shared_stages()
        splits, tok, behavior = shared["splits"], ctx.tokenizer, shared["behavior"]
        base_dir, base_stage = shared["base"]
        sft_dir, sft_stage, sft_log = ctx.timed(
            "sft", lambda: stages.sft(ctx, tok, base_dir, base_stage, behavior)
        )
        sft_eval = ctx.timed("eval_sft", lambda: eval_stages.evaluate(ctx, splits, sft_dir, sft_stage, "sft"))
        rl_dir, rl_stage, rl_log = ctx.timed("rl", lambda: stages.rl(ctx, splits, tok, sft_dir, sft_stage))
        rl_eval = ctx.timed("eval_rl", lambda: eval_stages.evaluate(ctx, splits, rl_dir, rl_stage, "rl"))
        heldout: dict[str, dict[str, Any]] = {}
        if heldout_sets:
            for which, model_dir, model_stage in (
                ("base", base_dir, base_stage),
                ("sft", sft_dir, sft_stage),
                ("rl", rl_dir, rl_stage),
            ):
                # the base model's held-out stage is shared by every method: built once, under the shared lock
                lock = (
                    file_lock(ctx.out / "cache" / ".shared.lock")
                    if which == "base"
                    else contextlib.nullcontext()
                )
                with lock:
                    job = functools.partial(
                        eval_stages.heldout, ctx, heldout_sets, model_dir, model_stage, which
                    )
                    results = ctx.timed("heldout", job)
                for name, result in results.items():
                    heldout.setdefault(name, {})[which] = result
        return build_record(
            ctx,
            stage_hashes={
                "tasks": shared["tasks_stage"].hash,
                "base": base_stage.hash,
                "teacher": shared["teacher"][1].hash,
                "behavior": behavior["stage"].hash,
                "sft": sft_stage.hash,
                "rl": rl_stage.hash,
                "eval": config_hash(p.eval_table),
            },
            behavior=behavior,
            reference=shared["reference"],
            sft_log=sft_log,
            rl_log=rl_log,
            sft_eval=sft_eval,
            rl_eval=rl_eval,
            heldout=heldout,
            model_dirs={
                "base": base_dir,
                "teacher": shared["teacher"][0],
                "sft": sft_dir,
                "rl": rl_dir,
            },
        )


def run(request: RunRequest) -> dict[str, Any]:
    """Python API behind ``pearbench run``: returns the result record (also written under ``request.out``)."""
    return Harness(request).run()


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
