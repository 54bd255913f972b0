"""Sweep executors: the local executor's GPU sets (a fake GPU list; jobs record the CUDA_VISIBLE_DEVICES they saw),
the command line's executor options, and the Ray executor on a local Ray (a real smoke run into the store, and a
worker killed mid-run that Ray retries and that resumes from its checkpoint)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pearbench.cli import main
from pearbench.errors import PearbenchError
from pearbench.harness import executors
from pearbench.harness.executors import LocalExecutor, gpu_sets, parse_gpus_per_run, visible_gpus
from pearbench.harness.runner import RunRequest
from pearbench.harness.sweep import pending, plan
from pearbench.results.records import record_path

try:
    import ray  # noqa: F401

    HAVE_RAY = True
except ImportError:
    HAVE_RAY = False

needs_ray = pytest.mark.skipif(
    not HAVE_RAY, reason="ray is not installed (pip install 'pearbench[ray]'; CI installs the extra)"
)


# -- the local executor's GPUs ------------------------------------------------------------------------------------
def record_gpus(request: RunRequest) -> dict:
    """Stands in for a run (spawned worker): records the GPUs it saw and when; the first two jobs wait for each
    other, so two jobs certainly run at the same time."""
    folder = Path(request.out) / "seen"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{request.method}-{request.seed}"
    (folder / f"{name}.start").write_text("")
    deadline = time.monotonic() + 120
    while len(list(folder.glob("*.start"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.time()
    time.sleep(0.3)
    seen = {
        "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "pid": os.getpid(),
        "executor": request.executor,
        "start": started,
        "end": time.time(),
    }
    (folder / f"{name}.json").write_text(json.dumps(seen))
    return {"run_id": name, "ok": True}


def test_gpus_per_run_values() -> None:
    assert parse_gpus_per_run("auto") == "auto"
    assert parse_gpus_per_run(" AUTO ") == "auto"
    assert parse_gpus_per_run("2") == 2
    assert parse_gpus_per_run(0) == 0
    for bad in ("-1", "x", "1.5", 1.5, True, -2):
        with pytest.raises(PearbenchError, match="--gpus-per-run must be"):
            parse_gpus_per_run(bad)


def test_gpu_sets_are_disjoint_and_cap_the_workers() -> None:
    gpus = ["0", "1", "2", "3", "4"]
    assert gpu_sets(gpus, 2) == [("0", "1"), ("2", "3")]
    executor = LocalExecutor(4, gpus_per_run=2, gpus=gpus)
    assert executor.workers == 2 and executor.gpus_per_run == 2
    assert "capped at the 2 GPU set(s)" in executor.describe()
    assert LocalExecutor(1, gpus_per_run=2, gpus=gpus).workers == 1
    assert LocalExecutor(3, gpus_per_run="auto", gpus=["GPU-a", "GPU-b"]).gpu_sets == [("GPU-a",), ("GPU-b",)]
    cpu = LocalExecutor(3, gpus_per_run="auto", gpus=[])
    assert cpu.gpus_per_run == 0 and cpu.workers == 3  # auto without a GPU: CPU runs, as before
    with pytest.raises(PearbenchError, match="--gpus-per-run 2 needs at least 2 GPU"):
        LocalExecutor(2, gpus_per_run=2, gpus=["0"])


def test_visible_gpus_follow_cuda_visible_devices_and_torch(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3, 5")
    assert visible_gpus() == ["3", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5,7")  # torch sees only 2 of them
    assert visible_gpus() == ["3", "5"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert visible_gpus() == ["0", "1"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert visible_gpus() == []


def test_executors_module_leaves_torch_unimported() -> None:
    """A spawned worker imports this module before its initializer sets CUDA_VISIBLE_DEVICES."""
    code = "import sys, pearbench.harness.executors; assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_concurrent_local_jobs_never_share_a_gpu(tmp_path: Path) -> None:
    jobs = plan(["sft", "dft"], [0, 1, 2], RunRequest(profile="smoke", out=str(tmp_path)))
    fake_gpus = ["0", "1", "2", "3", "4"]  # 2 sets of 2; GPU 4 stays unused
    executor = LocalExecutor(3, job_fn=record_gpus, gpus_per_run=2, gpus=fake_gpus)
    assert executor.workers == 2
    results = executor.map(jobs)
    assert len(results) == 6 and all(r["ok"] for r in results)
    seen = [json.loads(p.read_text()) for p in sorted((tmp_path / "seen").glob("*.json"))]
    assert len(seen) == 6
    assert all(s["executor"] == "local" for s in seen)
    sets = [frozenset(s["gpus"].split(",")) for s in seen]
    assert all(len(s) == 2 and s <= {"0", "1", "2", "3"} for s in sets)
    assert {s["gpus"] for s in seen} == {"0,1", "2,3"}  # both sets were handed out
    overlapping = 0
    for i, a in enumerate(seen):
        for b in seen[i + 1 :]:
            if a["start"] < b["end"] and b["start"] < a["end"]:  # ran at the same time
                overlapping += 1
                assert a["pid"] != b["pid"]
                assert not set(a["gpus"].split(",")) & set(b["gpus"].split(",")), (a, b)
    assert overlapping >= 1  # the first two jobs waited for each other
    by_pid: dict[int, set[str]] = {}
    for s in seen:
        by_pid.setdefault(s["pid"], set()).add(s["gpus"])
    assert all(len(v) == 1 for v in by_pid.values())  # a worker keeps its set for its whole life


def test_without_gpus_per_run_the_environment_is_left_alone(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")  # inherited by the spawned workers, untouched
    jobs = plan(["sft", "dft"], [0], RunRequest(profile="smoke", out=str(tmp_path)))
    assert all(r["ok"] for r in LocalExecutor(2, job_fn=record_gpus).map(jobs))
    seen = [json.loads(p.read_text()) for p in (tmp_path / "seen").glob("*.json")]
    assert [s["gpus"] for s in seen] == ["7", "7"]


# -- the command line ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--address", "10.0.0.1:6379"], "--address is for --executor ray"),
        (["--executor", "ray", "--workers", "2"], "--workers is for the local executor"),
        (["--gpus-per-run", "two"], "--gpus-per-run must be a whole number >= 0 or 'auto'"),
    ],
)
def test_sweep_refuses_bad_executor_options(tmp_path: Path, capsys, extra, message) -> None:
    out = tmp_path / "out"
    argv = ["sweep", "--profile", "smoke", "--methods", "sft", "--seeds", "0", "--out", str(out), *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_sweep_refuses_more_gpus_than_visible(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(executors, "visible_gpus", lambda: ["0"])
    argv = ["sweep", "--profile", "smoke", "--methods", "sft", "--seeds", "0", "--out", str(tmp_path)]
    assert main([*argv, "--gpus-per-run", "2"]) == 2
    assert "--gpus-per-run 2 needs at least 2 GPU(s); visible: 0" in capsys.readouterr().err


def test_missing_ray_is_one_clear_error(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(PearbenchError, match=r"install pearbench\[ray\]"):
        executors.RayExecutor()
    argv = ["sweep", "--executor", "ray", "--profile", "smoke", "--methods", "sft", "--seeds", "0"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "install pearbench[ray]" in err and "Traceback" not in err


# -- Ray ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_out(tmp_path_factory) -> Path:
    """One --out for the Ray tests, so the smoke profile's shared stages are built once."""
    return tmp_path_factory.mktemp("ray-sweep")


def die_once_then_run(request: RunRequest) -> dict:
    """The first attempt SIGKILLs its own worker after SFT step 7 (a checkpoint exists at step 5); the retry runs
    the real job, which resumes from that checkpoint. Each attempt notes its pid and the checkpoints it found."""
    import json as json_
    import os as os_
    import time as time_
    from pathlib import Path as Path_

    from pearbench.harness.executors import _run_job
    from pearbench.train.checkpoint import latest_checkpoint

    out = Path_(request.out)
    marker = out / "killed-once"
    found = {}
    for ckpt in sorted(out.glob("cache/sft-*/ckpt")):
        latest = latest_checkpoint(ckpt)
        if latest is not None:
            found[ckpt.parent.name] = json_.loads((latest / "state.json").read_text())["step"]
    with open(out / "attempts.jsonl", "a") as handle:
        handle.write(json_.dumps({"pid": os_.getpid(), "checkpoints": found, "time": time_.time()}) + "\n")
    if not marker.exists():
        marker.write_text(str(os_.getpid()))
        os_.environ["PEARBENCH_FAULT"] = "sft:7"
    else:
        os_.environ.pop("PEARBENCH_FAULT", None)
    return _run_job(request)


@needs_ray
def test_ray_sweep_writes_its_record_to_the_store(local_ray, ray_out: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PEARBENCH_THREADS", "1")  # num_cpus=1, and forwarded to the task's runtime_env
    argv = ["sweep", "--executor", "ray", "--profile", "smoke", "--methods", "sft", "--seeds", "0"]
    argv += ["--out", str(ray_out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "1 to run" in printed and "ray executor" in printed and "1 finished, 0 failed" in printed
    path = record_path(ray_out, "countdown__sft__s0__smoke")
    record = json.loads(path.read_text())
    assert record["engine"]["executor"] == "ray"
    assert record["metrics"]["rl"]  # a whole run, not a stub
    assert main(argv) == 0  # rerun: resumed, nothing left to do
    assert "1 already done, 0 to run" in capsys.readouterr().out


@needs_ray
def test_ray_retries_a_killed_worker_and_the_run_resumes(local_ray, ray_out: Path) -> None:
    from ray import cloudpickle

    jobs = plan(["dft"], [0], RunRequest(profile="smoke", out=str(ray_out), progress=False))
    module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(module)  # Ray's workers cannot import the tests folder
    try:
        results = executors.RayExecutor(max_retries=2, job_fn=die_once_then_run).map(jobs)
    finally:
        cloudpickle.unregister_pickle_by_value(module)
    assert [r["ok"] for r in results] == [True], results
    attempts = [json.loads(line) for line in (ray_out / "attempts.jsonl").read_text().splitlines()]
    assert len(attempts) == 2 and attempts[0]["pid"] != attempts[1]["pid"]  # the first worker died
    assert int((ray_out / "killed-once").read_text()) == attempts[0]["pid"]
    assert 5 in attempts[1]["checkpoints"].values()  # the killed run's checkpoint, resumed by the retry
    record = json.loads(record_path(ray_out, "countdown__dft__s0__smoke").read_text())
    assert record["engine"]["executor"] == "ray" and record["method"] == "dft"
    assert pending(jobs, ray_out) == []
