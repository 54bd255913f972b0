"""The `pearbench run` summary: the RL gain in pass@1 with its paired-bootstrap CI and a plain verdict."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
from conftest_records import make_body

from pearbench.commands.run import rl_gain_lines, summary_lines
from pearbench.metrics import paired_bootstrap

GAIN = re.compile(
    r"RL gain in pass@1 \(after RL minus after SFT, test split, paired over (\d+) problems\): "
    r"([+-]\d\.\d{3}) \[([+-]\d\.\d{3}), ([+-]\d\.\d{3})\] \(paired-bootstrap 95% CI\), p (= \d\.\d{3}|< 0\.001)"
)


def _body(**kwargs) -> dict:
    """A record body with the SFT diagnostics in the shape the harness writes ({first, last, mean} per key)."""
    body = make_body(**kwargs)
    body["sft_diagnostics"] = {
        key: {"first": value, "last": value, "mean": value} for key, value in body["sft_diagnostics"].items()
    }
    return body


def _gain(lines: list[str]) -> tuple[int, float, float, float, float]:
    match = next(m for m in map(GAIN.fullmatch, lines) if m)
    p = 0.0 if match[5] == "< 0.001" else float(match[5][2:])
    return int(match[1]), float(match[2]), float(match[3]), float(match[4]), p


def _expected(record: dict) -> dict[str, float]:
    sft = {(o["env"], o["id"]): o["c"] / o["n"] for o in record["outcomes"]["sft"]}
    rl = {(o["env"], o["id"]): o["c"] / o["n"] for o in record["outcomes"]["rl"]}
    keys = sorted(set(sft) & set(rl))
    return {"n": len(keys), **paired_bootstrap([rl[k] for k in keys], [sft[k] for k in keys])}


def test_clear_rl_gain_is_reported_with_its_paired_ci() -> None:
    record = _body(sft_skill=0.2, rl_skill=0.6, n=8, n_problems=40)
    lines = summary_lines(record)
    n, diff, low, high, p = _gain(lines)
    expected = _expected(record)
    assert n == 40
    assert diff == pytest.approx(expected["diff"], abs=5e-4)
    assert (low, high) == pytest.approx((expected["low"], expected["high"]), abs=5e-4)
    assert p == pytest.approx(expected["p_value"], abs=1e-3)
    assert "p < 0.001" in lines[lines.index("RL improved pass@1 (CI above 0)") - 1]
    assert low > 0
    assert "RL improved pass@1 (CI above 0)" in lines
    assert not any("did not improve" in line or "lowered" in line for line in lines)
    # the gain equals post-RL minus SFT-stage pass@1 over the test split (all problems at both stages)
    mean_sft = np.mean([o["c"] / o["n"] for o in record["outcomes"]["sft"]])
    mean_rl = np.mean([o["c"] / o["n"] for o in record["outcomes"]["rl"]])
    assert diff == pytest.approx(mean_rl - mean_sft, abs=5e-4)


def test_no_change_says_rl_did_not_improve() -> None:
    record = _body(sft_skill=0.4, rl_skill=0.4, n=8, n_problems=30)
    record["outcomes"]["rl"] = copy.deepcopy(record["outcomes"]["sft"])
    lines = rl_gain_lines(record)
    n, diff, low, high, p = _gain(lines)
    assert (diff, low, high, p) == (0.0, 0.0, 0.0, 1.0)
    assert lines[-1] == "RL did not improve pass@1 (CI includes 0)"


def test_a_drop_says_rl_lowered_pass_at_1() -> None:
    record = _body(sft_skill=0.6, rl_skill=0.2, n=8, n_problems=40)
    lines = rl_gain_lines(record)
    _, diff, low, high, _ = _gain(lines)
    assert high < 0 and diff < 0
    assert lines[-1] == "RL lowered pass@1 (CI below 0)"


def test_ci_including_zero_with_a_small_nonzero_difference() -> None:
    record = _body(sft_skill=0.4, rl_skill=0.4, n=8, n_problems=30)
    rl = copy.deepcopy(record["outcomes"]["sft"])
    rl[0]["c"] = min(rl[0]["n"], rl[0]["c"] + 1)  # one more correct sample on one problem
    rl[1]["c"] = max(0, rl[1]["c"] - 1) if rl[1]["c"] else rl[1]["c"]
    rl[2]["c"] = min(rl[2]["n"], rl[2]["c"] + 1)
    record["outcomes"]["rl"] = rl
    lines = rl_gain_lines(record)
    _, _, low, high, _ = _gain(lines)
    assert low <= 0 <= high
    assert lines[-1] == "RL did not improve pass@1 (CI includes 0)"


def test_gain_is_paired_over_the_problems_evaluated_at_both_stages() -> None:
    record = _body(sft_skill=0.3, rl_skill=0.5, n=8, n_problems=30)
    record["outcomes"]["rl"] = record["outcomes"]["rl"][5:]  # five problems lack a post-RL evaluation
    n, diff, *_ = _gain(rl_gain_lines(record))
    assert n == 25
    assert diff == pytest.approx(_expected(record)["diff"], abs=5e-4)


def test_no_shared_problem_says_so() -> None:
    record = _body(n=8, n_problems=10)
    record["outcomes"]["rl"] = []
    assert rl_gain_lines(record) == [
        "RL gain in pass@1: n/a (no test problem evaluated after both SFT and RL)"
    ]
