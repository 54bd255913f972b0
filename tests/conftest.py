"""Fixtures shared by several test files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m pearbench.cli ARGS`` in a subprocess with one torch thread; returns the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "pearbench.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PEARBENCH_THREADS": "1"},
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def smoke_dir(tmp_path_factory) -> Path:
    """One smoke-profile run of pear-seq (every stage, tiny sizes); tests may add runs but never delete its files."""
    from pearbench.harness.runner import RunRequest, run

    out = tmp_path_factory.mktemp("smoke")
    run(RunRequest(method="pear-seq", profile="smoke", out=str(out), progress=False))
    return out
