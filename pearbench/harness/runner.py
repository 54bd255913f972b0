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
import logging
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
from pearbench.harness.suites import apply_trace_budget, load_suite
from pearbench.hashing import config_hash
from pearbench.io import check_output_dir, file_lock
from pearbench.results.records import make_run_id
from pearbench.train import distributed
from pearbench.train.methods import canonical_method_label, load_recipe, parse_method_label, recipe_hash
from pearbench.train.metrics_log import check_backends

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
    processes: int = 1  # data-parallel SFT/RL processes (train.distributed); recorded as engine.world_size
    fsdp: bool = False  # shard the trained model over the processes (train.sharding); engine.sharding


def run_id_for(request: RunRequest) -> str:
    """The run id of a request (its record's file name), without loading models: the one run-id function."""
    name, _ = parse_method_label(request.method)
    load_recipe(name)  # an unknown method fails here, as it would in the run
    suite = load_suite(request.suite)
    profile = load_profile(request.profile, request.config_file)
    return make_run_id(suite.name, canonical_method_label(request.method), int(request.seed), profile.name)


def build_context(request: RunRequest) -> RunContext:
    """Validate a request (method, suite, profile, seed) and build the context its stages share."""
    name, factor = parse_method_label(request.method)
    method, options = load_recipe(request.method)  # the label's options applied
    suite = load_suite(request.suite)
    # a suite's trace budget raises the profile's token limits for this suite (suites.apply_trace_budget)
    profile = apply_trace_budget(load_profile(request.profile, request.config_file), suite)
    profile.check_runnable()
    seed = request.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise PearbenchError(f"seed must be a whole number >= 0, got {seed!r}")
    return RunContext(
        out=check_output_dir(request.out, "--out"),
        profile=profile,
        suite=suite,
        seed=seed,
        label=canonical_method_label(request.method),
        method_name=name,
        method=method,
        options=options,
        sft_factor=float(factor),
        method_recipe_hash=recipe_hash(request.method),
        games=suite.games(),
        progress=request.progress,
        executor=request.executor,
    )


class Harness:
    """Runs one (suite, method, seed, profile); see the module docstring."""

    def __init__(self, request: RunRequest) -> None:
        self.request = request
        self.ctx = build_context(request)
        # one of N data-parallel processes (joins their group), or one process alone (distributed.SINGLE)
        self.parallel = distributed.setup(self.ctx.device, fsdp=request.fsdp)
        self.ctx.rank, self.ctx.world_size = self.parallel.rank, self.parallel.world_size
        self.ctx.sharding = self.parallel.sharding
        check_processes(self.ctx, self.parallel.world_size)
        if not self.parallel.is_main:  # rank 0 reports the run
            self.ctx.progress = False
            logging.getLogger("pearbench").setLevel(logging.WARNING)
        quiet_transformers()
        torch.set_num_threads(max(1, threads_from_env(self.ctx.profile.threads) // self.parallel.world_size))
        check_models(
            self.ctx
        )  # pretrained models share the run's tokenizer: refused before any work otherwise
        # a [log] backend whose extra is not installed: refused before any work
        check_backends(self.ctx.profile.log.backends)

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
        with self.parallel.main_first():  # rank 0 builds the shared stages; the other ranks then read them
            shared = self.shared_stages()
        splits, tok, behavior = shared["splits"], ctx.tokenizer, shared["behavior"]
        base_dir, base_stage = shared["base"]
        sft_dir, sft_stage, sft_log = ctx.timed(
            "sft", lambda: stages.sft(ctx, tok, base_dir, base_stage, behavior)
        )
        # rank 0 evaluates; the other ranks wait
        evaluate_sft = functools.partial(eval_stages.evaluate, ctx, splits, sft_dir, sft_stage, "sft")
        sft_eval = self.parallel.main_only(lambda: ctx.timed("eval_sft", evaluate_sft))
        rl_dir, rl_stage, rl_log = ctx.timed("rl", lambda: stages.rl(ctx, splits, tok, sft_dir, sft_stage))
        if not self.parallel.is_main:  # rank 0 evaluates and writes the record
            return None
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


def check_processes(ctx: RunContext, processes: int) -> None:
    """Each of ``processes`` data-parallel processes needs at least one item of every SFT and RL step's batch, and
    their rollouts come from the hf sampler (refused before any work otherwise)."""
    group = distributed.Parallel(world_size=processes)
    group.require_items(ctx.profile.sft.batch_size, "[sft] batch_size")
    group.require_items(ctx.profile.rl.prompts_per_step, "[rl] prompts_per_step")
    if processes > 1 and ctx.profile.rl.rollout_backend != "hf":
        raise PearbenchError(
            f'--processes {processes} samples RL rollouts with the hf sampler only: set [rl] rollout_backend = "hf"'
        )


def check_parallel_request(request: RunRequest) -> None:
    """``--processes`` is a whole number >= 1, and ``--fsdp`` comes with ``--processes N > 1``."""
    processes = request.processes
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise PearbenchError(f"--processes must be a whole number >= 1, got {processes!r}")
    if request.fsdp and processes < 2:
        raise PearbenchError(
            f"--fsdp shards the model over data-parallel processes: give --processes N > 1, not {processes}"
        )


def run(request: RunRequest) -> dict[str, Any] | None:
    """Python API behind ``pearbench run``: returns the result record (also written under ``request.out``).

    ``request.processes = N > 1`` starts N processes here that train SFT and RL data-parallel
    (:func:`pearbench.train.distributed.launch`), sharded with ``request.fsdp`` (``ACCELERATE_USE_FSDP=true`` in
    each process). A process that is already one of N (``accelerate launch``, ``torchrun``) runs its rank's part;
    there, ranks other than 0 return None.
    """
    check_parallel_request(request)
    processes = request.processes
    launched = distributed.launched_world_size()
    if processes > 1 and launched == 1:
        # a bad request fails here, before any process starts
        check_processes(build_context(request), processes)
        env = {"ACCELERATE_USE_FSDP": "true"} if request.fsdp else {}
        return distributed.launch(run, (request,), processes=processes, env=env)
    if processes > 1 and launched != processes:
        raise PearbenchError(f"--processes {processes}, but this process was launched as one of {launched}")
    return Harness(request).run()


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
