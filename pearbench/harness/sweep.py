"""Sweeps: a grid of (method, seed) runs, planned here and handed to an executor (docs/design.md §1, §7 seams).

:func:`plan` validates the grid and names every job like its record; :func:`pending` keeps the jobs whose record is
missing, so rerunning a half-finished sweep resumes it. The executors (:mod:`pearbench.harness.executors`, re-exported
here) run the jobs: ``LocalExecutor`` in a process pool on this machine (optionally with its own GPUs per worker),
``RayExecutor`` as Ray tasks on a cluster. Shared stages are guarded by file locks in the stage cache, so parallel
jobs never build the same stage twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pearbench.errors import PearbenchError
from pearbench.harness.config import load_profile
from pearbench.harness.executors import (  # noqa: F401 - the executors' public names, importable from here
    Executor,
    LocalExecutor,
    RayExecutor,
    SweepJob,
)
from pearbench.harness.runner import RunRequest
from pearbench.harness.suites import load_suite
from pearbench.io import check_output_dir
from pearbench.results.records import make_run_id, record_path
from pearbench.train.methods import canonical_method_label


def plan(methods: Sequence[str], seeds: Sequence[int], base: RunRequest) -> list[SweepJob]:
    """Validate every (method, seed) before any work starts; seed-major order so shared stages are built first.

    Only names are resolved here (the suite and profile once, each method's recipe): no model, tokenizer or thread
    setting is touched. Run ids come from :func:`pearbench.results.records.make_run_id`, the function that names
    the records, so :func:`pending` finds every finished run (``sft@3x`` included)."""
    if not methods:
        raise PearbenchError("sweep needs at least one method")
    if not seeds:
        raise PearbenchError("sweep needs at least one seed")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise PearbenchError(f"seeds must be whole numbers >= 0, got {seed!r}")
    if len(set(methods)) != len(methods) or len(set(seeds)) != len(seeds):
        raise PearbenchError("sweep lists a method or a seed twice")
    check_output_dir(base.out, "--out")
    suite = load_suite(base.suite).name
    profile = load_profile(base.profile, base.config_file).name
    labels = {method: canonical_method_label(method) for method in methods}  # names and options checked
    if len(set(labels.values())) != len(methods):
        raise PearbenchError("sweep lists two labels that name the same run (e.g. sft and sft@1x)")
    return [
        SweepJob(
            request=replace(base, method=method, seed=seed),
            run_id=make_run_id(suite, labels[method], seed, profile),
        )
        for seed in seeds
        for method in methods
    ]


def pending(jobs: Sequence[SweepJob], out: str | Path) -> list[SweepJob]:
    """The jobs whose record is not yet under ``out`` (a rerun resumes a half-finished sweep)."""
    return [job for job in jobs if not record_path(out, job.run_id).exists()]
