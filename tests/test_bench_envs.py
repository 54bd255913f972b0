"""benchmarks/envs.py: one measurement's fields, the game-level list and the closing line (not the speed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "envs.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_envs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measure_one_game_level(bench) -> None:
    row = bench.measure("countdown", "medium", 0.01)
    assert set(row) == {
        "game",
        "difficulty",
        "generated_per_s",
        "verified_per_s",
        "trace_accuracy",
        "instances",
    }
    assert (row["game"], row["difficulty"]) == ("countdown", "medium")
    assert row["generated_per_s"] > 0 and row["verified_per_s"] > 0
    assert row["trace_accuracy"] == 1.0 and row["instances"] >= 5


def test_every_level_by_default_and_the_closing_line(bench) -> None:
    assert bench.game_levels(["hanoi", "maze"], "all") == [
        ("hanoi", "easy"),
        ("hanoi", "medium"),
        ("hanoi", "hard"),
        ("maze", "easy"),
        ("maze", "medium"),
        ("maze", "hard"),
    ]
    assert bench.game_levels(["hanoi"], "hard") == [("hanoi", "hard")]
    fast = {"game": "hanoi", "difficulty": "easy", "generated_per_s": 1e4, "verified_per_s": 1e5}
    slow = {"game": "maze", "difficulty": "hard", "generated_per_s": 50.0, "verified_per_s": 1e5}
    rows = [{**fast, "trace_accuracy": 1.0, "instances": 9}, {**slow, "trace_accuracy": 1.0, "instances": 9}]
    text = bench.report(rows)
    lines = text.splitlines()
    assert len(lines) == 6  # header, rule, two rows, blank line, closing line
    assert lines[-1] == (
        "1 of 2 game-levels below the targets (>= 100 generated/s, >= 1,000 verified/s): "
        "maze/hard (generation < 100/s)"
    )
    assert bench.report(rows[:1]).splitlines()[-1].startswith("all 1 game-levels meet the targets")
