"""Sweep executors: where the (method, seed) jobs of a sweep run (docs/design.md §1, §7 seams).

``LocalExecutor`` runs jobs in a process pool on this machine (each run in its own spawned process, so a crash or
leak in one run cannot poison another) and, with ``gpus_per_run=K``, gives every worker process its own K GPUs
through ``CUDA_VISIBLE_DEVICES``. ``RayExecutor`` submits each job as a Ray task with the run's CPU and GPU needs;
a task whose worker dies is retried and resumes from the run's checkpoints. Both write records into the run's
``--out``; shared stages stay guarded by the harness's file lock (``<out>/cache/.shared.lock``).

This module imports neither torch nor Ray at import time: a spawned worker must be able to set
``CUDA_VISIBLE_DEVICES`` before anything initialises CUDA, and Ray is an optional extra (``pearbench[ray]``).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pearbench.errors import PearbenchError

if TYPE_CHECKING:  # runner imports torch; workers import this module before they set CUDA_VISIBLE_DEVICES
    from pearbench.harness.runner import RunRequest

JobFn = Callable[["RunRequest"], dict[str, Any]]

#: Settings a Ray task gets from the driver's environment (a cluster's workers do not share it).
FORWARDED_ENV = ("PEARBENCH_THREADS", "PEARBENCH_CACHE", "PEARBENCH_ALLOW_DOWNLOAD")


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
    result = {"run_id": record["run_id"], "path": record.get("_path"), "ok": True}
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        result["gpus"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return result


def _failure(job: SweepJob, exc: BaseException) -> dict[str, Any]:
    return {"run_id": job.run_id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}


# -- GPUs ---------------------------------------------------------------------------------------------------------
def parse_gpus_per_run(value: int | str) -> int | str:
    """``"auto"`` or a whole number >= 0 (``--gpus-per-run``)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        if text.isdigit():
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise PearbenchError(f"--gpus-per-run must be a whole number >= 0 or 'auto', got {value!r}")


def visible_gpus() -> list[str]:
    """The GPUs this process may hand out: the entries of ``CUDA_VISIBLE_DEVICES`` (indices or UUIDs), else
    ``0..n-1``, where n = ``torch.cuda.device_count()`` (no GPU: an empty list)."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    raw = os.environ.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return [str(i) for i in range(count)]
    return [name.strip() for name in raw.split(",") if name.strip()][:count]


def gpu_sets(gpus: Sequence[str], per_run: int) -> list[tuple[str, ...]]:
    """Disjoint sets of ``per_run`` GPUs, in order; the remainder is left unused."""
    return [tuple(gpus[i * per_run : (i + 1) * per_run]) for i in range(len(gpus) // per_run)]


def _claim_gpus(slots: Any) -> None:
    """Pool initializer: a fresh worker takes one GPU set for its whole life, before torch is imported."""
    os.environ["CUDA_VISIBLE_DEVICES"] = slots.get(timeout=120)


class LocalExecutor:
    """Runs jobs in a process pool of ``workers`` processes (spawned: no state leaks between runs).

    ``job_fn(request) -> {"run_id", "ok", ...}`` runs one job (default: the harness); a job that raises is reported
    as ``{"run_id", "ok": False, "error"}`` while the others finish.

    ``gpus_per_run=K`` (or ``"auto"``: 1 when a GPU is visible, else 0) splits ``gpus`` (default:
    :func:`visible_gpus`) into disjoint sets of K and gives each worker process one set as its
    ``CUDA_VISIBLE_DEVICES``, so no two concurrent runs share a GPU; ``workers`` is capped at the number of sets.
    ``gpus_per_run=0`` leaves ``CUDA_VISIBLE_DEVICES`` as it is (CPU runs, as before)."""

    name = "local"

    def __init__(
        self,
        workers: int = 1,
        job_fn: JobFn | None = None,
        *,
        gpus_per_run: int | str = 0,
        gpus: Sequence[str] | None = None,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise PearbenchError(f"workers must be a whole number >= 1, got {workers!r}")
        self.job_fn = job_fn or _run_job
        self.requested_workers = workers
        per_run = parse_gpus_per_run(gpus_per_run)
        self.gpus: list[str] = []
        self.gpu_sets: list[tuple[str, ...]] = []
        if per_run != 0:
            self.gpus = [str(g) for g in (visible_gpus() if gpus is None else gpus)]
            per_run = (1 if self.gpus else 0) if per_run == "auto" else per_run
        self.gpus_per_run: int = int(per_run)
        if self.gpus_per_run:
            self.gpu_sets = gpu_sets(self.gpus, self.gpus_per_run)
            if not self.gpu_sets:
                seen = ",".join(self.gpus) or "none"
                raise PearbenchError(
                    f"--gpus-per-run {self.gpus_per_run} needs at least {self.gpus_per_run} GPU(s); "
                    f"visible: {seen} (CUDA_VISIBLE_DEVICES / torch.cuda.device_count())"
                )
            workers = min(workers, len(self.gpu_sets))
        self.workers = workers

    def describe(self) -> str:
        text = f"local executor, {self.workers} worker(s)"
        if self.gpus_per_run:
            sets = " ".join(",".join(s) for s in self.gpu_sets[: self.workers])
            text += f", {self.gpus_per_run} GPU(s) per run: {sets}"
            if self.workers < self.requested_workers:
                text += f" (--workers {self.requested_workers} capped at the {len(self.gpu_sets)} GPU set(s))"
        return text

    def map(self, jobs: Sequence[SweepJob]) -> list[dict[str, Any]]:
        results = []
        context = multiprocessing.get_context("spawn")
        pool_options: dict[str, Any] = {}
        if self.gpu_sets:
            slots = context.Queue()
            for gpu_set in self.gpu_sets[: self.workers]:
                slots.put(",".join(gpu_set))
            pool_options = {"initializer": _claim_gpus, "initargs": (slots,)}
        with cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=context, **pool_options) as pool:
            futures = {
                pool.submit(self.job_fn, replace(job.request, executor=self.name)): job for job in jobs
            }
            for future in cf.as_completed(futures):
                job = futures[future]
                try:
                    results.append(future.result())
                except Exception as exc:  # noqa: BLE001 - report every failed job, keep the others
                    results.append(_failure(job, exc))
        return results


# -- Ray ----------------------------------------------------------------------------------------------------------
def import_ray() -> Any:
    """Ray, imported on first use (an optional extra)."""
    try:
        import ray
    except ImportError:
        raise PearbenchError(
            "the ray executor needs Ray, which is not installed: install pearbench[ray] "
            "(pip install 'pearbench[ray]')"
        ) from None
    return ray


def _ray_task(job_fn: JobFn, request: RunRequest) -> dict[str, Any]:
    """The body of one Ray task (Ray has already set ``CUDA_VISIBLE_DEVICES`` to the task's GPUs)."""
    return job_fn(request)


def _absolute(request: RunRequest) -> RunRequest:
    """Paths made absolute in the driver: a Ray worker's working folder is not the driver's."""

    def path_like(value: str | None) -> str | None:
        if value and (value.endswith(".toml") or "/" in value) and Path(value).exists():
            return str(Path(value).resolve())
        return value

    return replace(
        request,
        out=str(Path(request.out).resolve()),
        config_file=str(Path(request.config_file).resolve()) if request.config_file else None,
        profile=path_like(request.profile),
        suite=path_like(request.suite),
    )


class RayExecutor:
    """Submits each job as a Ray task (``num_cpus`` = the profile's threads, ``num_gpus`` = ``gpus_per_run``).

    Connects with ``ray.init(address=address)`` unless Ray is already initialised in this process (then that
    connection is used and left open); ``address=None`` finds a running cluster (``RAY_ADDRESS``, or the latest one
    started on this machine) or starts a local one. ``gpus_per_run="auto"`` is 1 when the cluster has GPUs. A task
    whose worker process dies is retried up to ``max_retries`` times and resumes from the run's checkpoints; an
    exception raised by a run is reported, not retried (it would fail the same way). Records land in the run's
    ``--out``, which on a multi-node cluster must be a filesystem every node shares (with working ``flock`` locks):
    the shared stages are built under its lock file and ``pending`` reads its records."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        gpus_per_run: int | str = 0,
        cpus_per_run: float | None = None,
        max_retries: int = 3,
        job_fn: JobFn | None = None,
    ) -> None:
        self.ray = import_ray()
        self.address = address
        self.gpus_per_run = parse_gpus_per_run(gpus_per_run)
        if cpus_per_run is not None and (isinstance(cpus_per_run, bool) or not cpus_per_run > 0):
            raise PearbenchError(f"cpus_per_run must be > 0, got {cpus_per_run!r}")
        self.cpus_per_run = cpus_per_run
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise PearbenchError(f"--max-retries must be a whole number >= 0, got {max_retries!r}")
        self.max_retries = max_retries
        self.job_fn = job_fn or _run_job

    def describe(self) -> str:
        where = self.address or "RAY_ADDRESS, a running local cluster or a new local one"
        cpus = "the profile's threads" if self.cpus_per_run is None else f"{self.cpus_per_run:g}"
        return (
            f"ray executor ({where}), CPUs per run: {cpus}, GPUs per run: {self.gpus_per_run}, "
            f"retries of a dead worker: {self.max_retries}"
        )

    def _connect(self) -> bool:
        """Initialise Ray unless it already is; True when this call started the connection."""
        ray = self.ray
        if ray.is_initialized():
            return False
        try:
            ray.init(address=self.address)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = f"at {self.address!r}" if self.address else "(no --address: RAY_ADDRESS or a local start)"
            raise PearbenchError(f"could not connect to a Ray cluster {where}: {exc}") from None
        return True

    def _cpus(self, request: RunRequest) -> float:
        if self.cpus_per_run is not None:
            return float(self.cpus_per_run)
        from pearbench.harness.config import load_profile
        from pearbench.harness.context import threads_from_env

        return float(threads_from_env(load_profile(request.profile, request.config_file).threads))

    def _gpus(self) -> int:
        if self.gpus_per_run == "auto":
            return 1 if self.ray.cluster_resources().get("GPU", 0) >= 1 else 0
        return int(self.gpus_per_run)

    def _warn_if_no_node_fits(self, cpus: float, gpus: int) -> None:
        nodes = [n.get("Resources", {}) for n in self.ray.nodes() if n.get("Alive")]
        if not any(r.get("CPU", 0) >= cpus and r.get("GPU", 0) >= gpus for r in nodes):
            print(
                f"sweep: warning: no Ray node now offers {cpus:g} CPU(s) and {gpus} GPU(s) for one run; "
                "the tasks wait until one joins (set PEARBENCH_THREADS or --gpus-per-run to ask for less)",
                file=sys.stderr,
                flush=True,
            )

    def map(self, jobs: Sequence[SweepJob]) -> list[dict[str, Any]]:
        if not jobs:
            return []
        ray = self.ray
        started = self._connect()
        try:
            gpus = self._gpus()
            env = {key: os.environ[key] for key in FORWARDED_ENV if os.environ.get(key)}
            task = ray.remote(_ray_task)
            refs: dict[Any, SweepJob] = {}
            for job in jobs:
                cpus = self._cpus(job.request)
                if not refs:
                    self._warn_if_no_node_fits(cpus, gpus)
                options: dict[str, Any] = {
                    "name": job.run_id,
                    "num_cpus": cpus,
                    "num_gpus": gpus,
                    "max_retries": self.max_retries,
                    "retry_exceptions": False,
                }
                if env:
                    options["runtime_env"] = {"env_vars": env}
                request = _absolute(replace(job.request, executor=self.name))
                refs[task.options(**options).remote(self.job_fn, request)] = job
            return self._collect(refs)
        finally:
            if started:
                ray.shutdown()

    def _collect(self, refs: dict[Any, SweepJob]) -> list[dict[str, Any]]:
        ray = self.ray
        results: list[dict[str, Any]] = []
        waiting = list(refs)
        try:
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1)
                for ref in done:
                    job = refs[ref]
                    try:
                        results.append(ray.get(ref))
                    except ray.exceptions.RayTaskError as exc:  # the run raised: report its own error
                        cause = exc.cause if exc.cause is not None else exc
                        results.append(_failure(job, cause))
                    except (
                        ray.exceptions.RayError
                    ) as exc:  # worker died max_retries + 1 times, node lost, ...
                        results.append(_failure(job, exc))
        except KeyboardInterrupt:
            for ref in waiting:
                ray.cancel(ref, force=True)
            raise
        return results
