"""Sweeps: plan (names only, validated up front), pending (resume by the records' own run ids, NAME@Fx included)
and the local executor (a failing job is reported while the others finish)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pearbench.errors import PearbenchError
from pearbench.harness.runner import RunRequest, run_id_for
from pearbench.harness.sweep import LocalExecutor, pending, plan
from pearbench.results.records import RECORDS_DIR, make_run_id


def fake_job(request: RunRequest) -> dict:
    """Stands in for a run (spawned child): fails for seed 1, else writes a record-shaped file."""
    if request.seed == 1:
        raise RuntimeError("this job fails")
    run_id = make_run_id("countdown", request.method, request.seed, "smoke")
    folder = Path(request.out) / RECORDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{run_id}.json").write_text(json.dumps({"run_id": run_id, "pid": os.getpid()}))
    return {"run_id": run_id, "ok": True}


def test_plan_names_runs_like_their_records(tmp_path: Path) -> None:
    base = RunRequest(profile="smoke", out=str(tmp_path))
    jobs = plan(["sft", "sft@3x", "pear-seq"], [0, 2], base)
    assert [(j.request.method, j.request.seed) for j in jobs] == [
        ("sft", 0), ("sft@3x", 0), ("pear-seq", 0), ("sft", 2), ("sft@3x", 2), ("pear-seq", 2),
    ]  # fmt: skip
    assert jobs[1].run_id == "countdown__sft@3x__s0__smoke"
    assert all(j.run_id == run_id_for(j.request) for j in jobs)
    assert all(j.request.profile == "smoke" and j.request.out == str(tmp_path) for j in jobs)


def test_plan_builds_no_runner(monkeypatch, tmp_path: Path) -> None:
    import pearbench.harness.runner as runner

    def forbidden(*args, **kwargs):
        raise AssertionError("plan built a runner")

    monkeypatch.setattr(runner.Harness, "__init__", forbidden)
    assert len(plan(["sft"], [0], RunRequest(profile="smoke", out=str(tmp_path)))) == 1


@pytest.mark.parametrize(
    ("methods", "seeds", "message"),
    [
        ([], [0], "at least one method"),
        (["sft"], [], "at least one seed"),
        (["nope"], [0], "unknown method 'nope'"),
        (["sft", "sft"], [0], "twice"),
        (["sft"], [-1], "whole numbers >= 0"),
    ],
)
def test_plan_refuses_bad_grids_before_any_work(tmp_path: Path, methods, seeds, message) -> None:
    with pytest.raises(PearbenchError, match=message):
        plan(methods, seeds, RunRequest(profile="smoke", out=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()


def test_pending_resumes_at_methods(tmp_path: Path) -> None:
    jobs = plan(["sft", "sft@3x", "sft@0.33x"], [0], RunRequest(profile="smoke", out=str(tmp_path)))
    assert pending(jobs, tmp_path) == jobs
    folder = tmp_path / RECORDS_DIR
    folder.mkdir()
    (folder / "countdown__sft@3x__s0__smoke.json").write_text("{}")
    assert [j.request.method for j in pending(jobs, tmp_path)] == ["sft", "sft@0.33x"]


def test_local_executor_reports_a_failing_job_and_finishes_the_others(tmp_path: Path) -> None:
    jobs = plan(["sft", "sft@3x"], [0, 1], RunRequest(profile="smoke", out=str(tmp_path)))
    results = LocalExecutor(2, job_fn=fake_job).map(jobs)
    by_id = {r["run_id"]: r for r in results}
    assert len(by_id) == 4
    failed = sorted(r for r, v in by_id.items() if not v["ok"])
    assert failed == ["countdown__sft@3x__s1__smoke", "countdown__sft__s1__smoke"]
    assert all("RuntimeError: this job fails" in by_id[r]["error"] for r in failed)
    # the finished ones are recorded, so a resumed sweep runs only the failed ones
    assert sorted(j.run_id for j in pending(jobs, tmp_path)) == failed


def test_local_executor_refuses_bad_worker_counts() -> None:
    for workers in (0, -1, 1.5, True):
        with pytest.raises(PearbenchError, match="workers must be"):
            LocalExecutor(workers)
