"""Sweeps: a grid of (method, seed) runs through a local executor (DESIGN §1, §7 seams).

Jobs go to an executor (``LocalExecutor``: a process pool; each run in its own process, so a crash or leak in one run
cannot poison another). Shared stages are guarded by file locks in the stage cache, so parallel jobs never build the
same stage twice. A finished job (its record exists) is skipped, so rerunning a half-finished sweep resumes it.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from pearbench.errors import PearbenchError
from pearbench.harness.runner import RunRequest, run_id_for


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
    """Runs jobs in a process pool of ``workers`` processes (spawned: no state leaks between runs)."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise PearbenchError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def map(self, jobs: Sequence[SweepJob]) -> list[dict[str, Any]]:
        results = []
        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=context) as pool:
            futures = {pool.submit(_run_job, job.request): job for job in jobs}
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
    """Validate every (method, seed) before any work starts; seed-major order so shared stages are built first."""
    if not methods:
        raise PearbenchError("sweep needs at least one method")
    if not seeds:
        raise PearbenchError("sweep needs at least one seed")
    jobs = []
    for seed in seeds:
        for method in methods:
            request = replace(base, method=method, seed=int(seed))
            jobs.append(SweepJob(request=request, run_id=run_id_for(request)))
    return jobs


def pending(jobs: Sequence[SweepJob], out: str | Path) -> list[SweepJob]:
    from pearbench.results.records import record_path

    return [job for job in jobs if not record_path(out, job.run_id).exists()]
