"""Sweeps: a grid of (method, seed) runs through a local executor (DESIGN §1, §7 seams).

Jobs go to an executor (``LocalExecutor``: a process pool; each run in its own process, so a crash or leak in one run
cannot poison another). Shared stages are guarded by file locks in the stage cache, so parallel jobs never build the
same stage twice. A finished job (its record exists) is skipped, so rerunning a half-finished sweep resumes it.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from pearbench.errors import PearbenchError
from pearbench.harness.config import load_profile
from pearbench.harness.runner import RunRequest
from pearbench.harness.suites import load_suite
from pearbench.io import check_output_dir
from pearbench.results.records import make_run_id, record_path
from pearbench.train.methods import load_recipe, parse_method_label


@dataclass(frozen=True)
class SweepJob:
    request: RunRequest
    run_id: str


class Executor(Protocol):
    def map(self, jobs: Sequence[SweepJob]) -> list[dict[str, Any]]: ...


def _run_job(request: RunRequest) -> dict[str, Any]:
    import torch

    from pearbench.harness.runner import run

    torch.set_num_threads(1) if multiprocessing.current_process().name != "MainProcess" else None
    record = run(request)
    return {"run_id": record["run_id"], "path": record.get("_path"), "ok": True}


class LocalExecutor:
    """Runs jobs in a process pool of ``workers`` processes (spawned: no state leaks between runs).

    ``job_fn(request) -> {"run_id", "ok", ...}`` runs one job (default: the harness); a job that raises is reported
    as ``{"run_id", "ok": False, "error"}`` while the others finish."""

    def __init__(
        self, workers: int = 1, job_fn: Callable[[RunRequest], dict[str, Any]] | None = None
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise PearbenchError(f"workers must be a whole number >= 1, got {workers!r}")
        self.workers = workers
        self.job_fn = job_fn or _run_job

    def map(self, jobs: Sequence[SweepJob]) -> list[dict[str, Any]]:
        results = []
        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=context) as pool:
            futures = {pool.submit(self.job_fn, job.request): job for job in jobs}
            for future in cf.as_completed(futures):
                job = futures[future]
                try:
                    results.append(future.result())
                except Exception as exc:  # noqa: BLE001 - report every failed job, keep the others
                    results.append(
                        {"run_id": job.run_id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
                    )
        return results


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
    for method in methods:
        load_recipe(parse_method_label(method)[0])
    return [
        SweepJob(
            request=replace(base, method=method, seed=seed), run_id=make_run_id(suite, method, seed, profile)
        )
        for seed in seeds
        for method in methods
    ]


def pending(jobs: Sequence[SweepJob], out: str | Path) -> list[SweepJob]:
    """The jobs whose record is not yet under ``out`` (a rerun resumes a half-finished sweep)."""
    return [job for job in jobs if not record_path(out, job.run_id).exists()]
