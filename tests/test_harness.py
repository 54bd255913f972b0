"""End to end through the shared harness on the smoke profile: every stage, caching, records, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pearbench.harness.runner import RunRequest, run
from pearbench.results.records import load_records, verify_checksum


def test_smoke_run_writes_a_valid_record(smoke_dir: Path) -> None:
    records = load_records(smoke_dir)
    assert [r["method_label"] for r in records] == ["pear-seq"]
    record = records[0]
    verify_checksum(record)
    assert record["profile"] == "smoke" and record["suite"] == "countdown"
    assert set(record["config_hashes"]) >= {"tasks", "base", "teacher", "behavior", "sft", "rl", "eval"}
    assert len(record["outcomes"]["sft"]) == len(record["outcomes"]["rl"]) == 24
    assert all(o["n"] == 4 for o in record["outcomes"]["rl"])
    for stage in ("sft", "rl"):
        for k in (1, 2, 4):
            metric = record["metrics"][stage][f"pass@{k}"]
            assert 0.0 <= metric["low"] <= metric["value"] <= metric["high"] <= 1.0
    assert (
        record["mismatch"]["mean_log_ratio"] < 0
    )  # the base is worse than the teacher on the teacher's data
    assert record["sft_diagnostics"]["mean_weight"]["last"] > 0
    assert len(record["rl_curve"]["reward_mean"]) == 4
    assert record["packages"]["torch"]
    assert {"base", "teacher"} <= set(record["reference"])
    # the threads the run really used: the profile's, or $PEARBENCH_THREADS when set
    from pearbench.harness.config import load_profile
    from pearbench.harness.context import threads_from_env

    assert record["engine"]["threads"] == threads_from_env(load_profile("smoke").threads)


def test_second_method_reuses_shared_stages(smoke_dir: Path) -> None:
    cache = smoke_dir / "cache"
    shared = {
        p.name: (p / "done.json").stat().st_mtime_ns
        for p in cache.iterdir()
        if p.name.split("-")[0] in {"tasks", "base", "teacher", "behavior", "reference"}
    }
    assert len(shared) == 5
    record = run(RunRequest(method="none", profile="smoke", out=str(smoke_dir), progress=False))
    after = {name: (cache / name / "done.json").stat().st_mtime_ns for name in shared}
    assert after == shared  # nothing shared was rebuilt
    assert record["timings"]["base"] < 5 and record["timings"]["teacher"] < 5
    # `none` runs no SFT: its SFT-stage model is the base model, so its SFT-stage outcomes equal pi_0's on this seed
    assert record["config_hashes"]["sft"] == record["config_hashes"]["base"]
    assert len(list((smoke_dir / "records").glob("*.json"))) == 2


def test_rerun_is_cached_and_identical(smoke_dir: Path) -> None:
    first = json.loads((smoke_dir / "records" / "countdown__pear-seq__s0__smoke.json").read_text())
    again = run(RunRequest(method="pear-seq", profile="smoke", out=str(smoke_dir), progress=False))
    assert again["outcomes"] == first["outcomes"]
    assert again["metrics"] == first["metrics"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PEARBENCH_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pearbench.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--method", "nope"], "unknown method 'nope'"),
        (["run", "--suite", "nope"], "unknown suite 'nope'"),
        (["run", "--profile", "nope"], "unknown profile 'nope'"),
        (["run", "--method", "sft@-2x"], "sft@-2x"),
    ],
)
def test_bad_input_is_one_line_exit_2_before_any_work(tmp_path: Path, args: list[str], message: str) -> None:
    result = _cli(*args, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("[rl]\nlr = -1e-4\n", "[rl] lr: must be > 0, got -0.0001"),
        ("[rl]\ngroup_size = 1\n", "[rl] group_size: must be >= 2, got 1"),
        ("[sft]\nsteps = 'many'\n", "[sft] steps: expected an integer, got 'many'"),
        ("[rl]\nnot_a_key = 1\n", "[rl] not_a_key: unknown key; allowed: "),
        ("[rl\n", "malformed config file"),
    ],
)
def test_invalid_recipe_values_are_refused(tmp_path: Path, override: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(override)
    result = _cli(
        "run", "--profile", "smoke", "--config", str(config), "--out", str(tmp_path / "out"), cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_paper_profile_is_refused_without_a_gpu(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the paper profile would run")
    result = _cli("run", "--profile", "paper", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    assert "needs a CUDA GPU" in result.stderr
