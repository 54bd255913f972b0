"""The shared SFT→RL harness (DESIGN §1): tasks → base → teacher → behavior data → sft → rl → eval → record.

Every stage is cached under ``<out>/cache/<stage>-<hash>/`` by a content hash of its inputs, so methods of the same
suite, profile and seed share tasks, base, teacher and behavior data, and a sweep pays for them once. A stage folder
is complete only when its ``done.json`` exists (written last, atomically); SFT and RL checkpoint every N steps inside
their folder and a rerun resumes from the newest complete checkpoint. Nothing half-written is ever read.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pearbench import __version__
from pearbench.config import Profile, load_profile
from pearbench.errors import PearbenchError
from pearbench.hashing import config_hash
from pearbench.io import atomic_write_json, file_lock
from pearbench.suites import Suite, load_suite

STAGES = ("tasks", "base", "teacher", "behavior", "sft", "rl", "eval")
#: Part of every stage key: bump it when a stage's code changes what it produces, so stale caches are not reused.
CACHE_VERSION = 2


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class StageDir:
    """A content-addressed cache folder: complete iff ``done.json`` exists."""

    root: Path
    name: str
    key: dict[str, Any]
    hash: str = field(init=False)
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.hash = config_hash({"cache_version": CACHE_VERSION, **self.key})
        self.path = self.root / "cache" / f"{self.name}-{self.hash}"

    @property
    def done(self) -> bool:
        return (self.path / "done.json").exists()

    def read_done(self) -> dict[str, Any]:
        import json

        return json.loads((self.path / "done.json").read_text())

    def finish(self, info: dict[str, Any]) -> None:
        atomic_write_json(
            self.path / "done.json", {"stage": self.name, "hash": self.hash, "key": self.key, **info}
        )


def package_versions() -> dict[str, str]:
    out = {"pearbench": __version__, "python": platform.python_version()}
    for name in ("torch", "transformers", "tokenizers", "gymnasium", "numpy", "math-verify", "sympy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
        return result.stdout.strip() or None if result.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def threads_from_env(default: int) -> int:
    """Torch threads: ``$PEARBENCH_THREADS`` when set (a whole number >= 1), else ``default``."""
    raw = os.environ.get("PEARBENCH_THREADS")
    if raw is None or not raw.strip():
        return max(1, int(default))
    try:
        value = int(raw)
    except ValueError:
        raise PearbenchError(f"PEARBENCH_THREADS must be a whole number >= 1, got {raw!r}") from None
    if value < 1:
        raise PearbenchError(f"PEARBENCH_THREADS must be a whole number >= 1, got {raw!r}")
    return value


def _quiet_transformers() -> None:
    """pearbench shows its own progress bars; transformers' per-load bars would bury them."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


@dataclass
class RunRequest:
    method: str = "pear-seq"
    suite: str | None = None
    seed: int = 0
    profile: str = "small"
    config_file: str | None = None
    out: str = "runs"
    progress: bool = True


class Harness:
    """Runs one (suite, method, seed, profile); see the module docstring."""

    def __init__(self, request: RunRequest) -> None:
        from pearbench.methods import load_recipe, parse_method_label, recipe_hash

        self.request = request
        self.label = request.method
        name, factor = parse_method_label(request.method)
        self.method, self.options = load_recipe(name)
        self.method_name = name
        self.sft_factor = float(factor)
        self.method_recipe_hash = recipe_hash(name)
        self.suite: Suite = load_suite(request.suite)
        self.profile: Profile = load_profile(request.profile, request.config_file)
        self.profile.check_runnable()
        self.seed = int(request.seed)
        if self.seed < 0:
            raise PearbenchError(f"seed must be >= 0, got {self.seed}")
        self.out = Path(request.out)
        self.timings: dict[str, float] = {}
        self.games = self.suite.games()
        _quiet_transformers()
        torch.set_num_threads(threads_from_env(self.profile.threads))
        from pearbench.stages import check_models

        check_models(self)  # pretrained models share the run's tokenizer: refused before any work otherwise

    # -- helpers --------------------------------------------------------------------------------------------------
    def _timed(self, name: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = fn()
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started
        return result

    @property
    def run_id(self) -> str:
        safe = self.label.replace("@", "_at_").replace("/", "_")
        return f"{self.suite.name}__{safe}__s{self.seed}__{self.profile.name}"

    def run(self) -> dict[str, Any]:
        from pearbench import stages

        p = self.profile
        _log(
            f"pearbench run: method={self.label} suite={self.suite.name} seed={self.seed} profile={p.name} "
            f"out={self.out}"
        )
        # Shared stages (reused by every method of this suite, profile and seed) are built under one file lock, so
        # parallel runs of a sweep never build the same stage twice; later runs find them cached.
        heldout_sets = stages.heldout_problems(self)  # a bad held-out name or file fails before any work
        with file_lock(self.out / "cache" / ".shared.lock"):
            splits, tasks_stage = self._timed("tasks", lambda: stages.tasks(self))
            tokenizer = stages.tokenizer(self)
            base_dir, base_stage = self._timed(
                "base", lambda: stages.pretrain(self, "base", splits, tokenizer)
            )
            teacher_dir, teacher_stage = self._timed(
                "teacher", lambda: stages.pretrain(self, "teacher", splits, tokenizer)
            )
            behavior = self._timed(
                "behavior", lambda: stages.behavior(self, splits, tokenizer, teacher_dir, teacher_stage)
            )
            reference = self._timed(
                "reference_eval",
                lambda: stages.reference_eval(self, splits, base_dir, base_stage, teacher_dir, teacher_stage),
            )
        sft_dir, sft_stage, sft_log = self._timed(
            "sft", lambda: stages.sft(self, tokenizer, base_dir, base_stage, behavior)
        )
        sft_eval = self._timed("eval_sft", lambda: stages.evaluate(self, splits, sft_dir, sft_stage, "sft"))
        rl_dir, rl_stage, rl_log = self._timed(
            "rl", lambda: stages.rl(self, splits, tokenizer, sft_dir, sft_stage)
        )
        rl_eval = self._timed("eval_rl", lambda: stages.evaluate(self, splits, rl_dir, rl_stage, "rl"))
        heldout: dict[str, dict[str, Any]] = {}
        if heldout_sets:
            for which, model_dir, model_stage in (
                ("base", base_dir, base_stage),
                ("sft", sft_dir, sft_stage),
                ("rl", rl_dir, rl_stage),
            ):
                # the base model's held-out stage is shared by every method: built once, under the shared lock
                shared = which == "base"
                with file_lock(self.out / "cache" / ".shared.lock") if shared else contextlib.nullcontext():
                    job = functools.partial(stages.heldout, self, heldout_sets, model_dir, model_stage, which)
                    results = self._timed("heldout", job)
                for name, result in results.items():
                    heldout.setdefault(name, {})[which] = result
        record = stages.record(
            self,
            stage_hashes={
                "tasks": tasks_stage.hash,
                "base": base_stage.hash,
                "teacher": teacher_stage.hash,
                "behavior": behavior["stage"].hash,
                "sft": sft_stage.hash,
                "rl": rl_stage.hash,
                "eval": config_hash(p.eval),
            },
            behavior=behavior,
            reference=reference,
            sft_log=sft_log,
            rl_log=rl_log,
            sft_eval=sft_eval,
            rl_eval=rl_eval,
            heldout=heldout,
        )
        return record


def run(request: RunRequest) -> dict[str, Any]:
    """Python API behind ``pearbench run``: returns the result record (also written under ``request.out``)."""
    return Harness(request).run()


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
