"""Crash safety: a smoke run SIGKILLed during sft, rl or eval resumes and ends with the same metrics as an
uninterrupted run with the same seed; no half-written checkpoint or result is ever read."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _run(out: Path, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PEARBENCH_THREADS": "1"}
    env.pop("PEARBENCH_FAULT", None)
    if fault:
        env["PEARBENCH_FAULT"] = fault
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pearbench.cli",
            "run",
            "--method",
            "pear-token",
            "--profile",
            "smoke",
            "--out",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("uninterrupted")
    result = _run(out)
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "records" / "countdown__pear-token__s0__smoke.json").read_text())
    return out, record


@pytest.mark.parametrize("fault", ["sft:7", "rl:3", "eval:1"])
def test_killed_run_resumes_to_the_same_result(tmp_path: Path, reference, fault: str) -> None:
    ref_out, ref_record = reference
    out = tmp_path / "out"
    # reuse the shared stages of the reference run (they are not what this test is about), not its per-run stages
    shutil.copytree(
        ref_out / "cache",
        out / "cache",
        ignore=lambda d, names: [n for n in names if n.startswith(("sft-", "rl-", "eval_"))],
    )
    killed = _run(out, fault)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (out / "records").exists() or not list((out / "records").glob("*.json"))
    resumed = _run(out)
    assert resumed.returncode == 0, resumed.stderr
    record = json.loads((out / "records" / "countdown__pear-token__s0__smoke.json").read_text())
    assert record["outcomes"] == ref_record["outcomes"]
    assert record["metrics"] == ref_record["metrics"]
    assert record["rl_curve"] == ref_record["rl_curve"]
    assert not list(out.rglob("*.tmp")), "a temporary file survived"
