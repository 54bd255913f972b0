"""Regression suite: every case of tests/data/math_regression.jsonl through the verifier pool, in one batch.

Each case states the gold, the completion, the expected verdict and why that verdict is right. A failure lists every
disagreeing case by id and line, so one run shows all regressions at once.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pearbench.verify.pool import verify_math_batch

CASES_FILE = Path(__file__).parent / "data" / "math_regression.jsonl"
REQUIRED = {"id", "gold", "completion", "expected", "why"}
#: Every category the issue asks for, by the id prefix used in the file.
CATEGORIES = {
    "bold": 5,
    "boxed": 5,
    "percent": 5,
    "fraction": 10,
    "set": 10,
    "unit": 5,
    "sqrt": 5,
    "equation": 8,
    "huge": 8,
    "prose": 8,
    "empty": 5,
    "think": 5,
    "answer-tag": 5,
}


def load_cases() -> list[tuple[int, dict]]:
    cases = []
    with open(CASES_FILE, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            cases.append((number, json.loads(line)))
    return cases


def test_cases_are_well_formed_and_cover_every_category() -> None:
    cases = load_cases()
    assert len(cases) >= 150
    ids = [case["id"] for _, case in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for number, case in cases:
        assert set(case) == REQUIRED, f"line {number}: fields {sorted(case)}"
        assert isinstance(case["expected"], bool), f"line {number}"
        assert isinstance(case["gold"], str) and case["gold"], f"line {number}"
        assert isinstance(case["completion"], str), f"line {number}"
        assert len(case["why"]) >= 5 and case["why"] != "identical", (
            f"line {number}: say why the verdict is right"
        )
    counts = Counter(case["id"].rsplit("-", 1)[0] for _, case in cases)
    for category, minimum in CATEGORIES.items():
        assert counts[category] >= minimum, (
            f"category {category}: {counts[category]} cases, want >= {minimum}"
        )
    expected = Counter(case["expected"] for _, case in cases)
    assert expected[True] >= 50 and expected[False] >= 50, expected


def test_every_case_agrees() -> None:
    cases = load_cases()
    verdicts = verify_math_batch([(case["gold"], case["completion"]) for _, case in cases], timeout=20.0)
    problems = []
    for (number, case), verdict in zip(cases, verdicts):
        if verdict.error is not None:
            problems.append(f"{case['id']} (line {number}): verifier error {verdict.error}")
        elif verdict.correct != case["expected"]:
            problems.append(
                f"{case['id']} (line {number}): expected {case['expected']}, got {verdict.correct} "
                f"(extracted {verdict.extracted!r}); gold {case['gold']!r}; why: {case['why']}"
            )
    if problems:
        pytest.fail(f"{len(problems)} of {len(cases)} regression cases disagree:\n" + "\n".join(problems))
