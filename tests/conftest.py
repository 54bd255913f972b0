"""Fixtures shared by several test files."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smoke_dir(tmp_path_factory) -> Path:
    """One smoke-profile run of pear-seq (every stage, tiny sizes); tests may add runs but never delete its files."""
    from pearbench.harness import RunRequest, run

    out = tmp_path_factory.mktemp("smoke")
    run(RunRequest(method="pear-seq", profile="smoke", out=str(out), progress=False))
    return out
