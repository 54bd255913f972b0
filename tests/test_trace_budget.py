"""A suite's trace budget (top-level ``max_new_tokens``): validated, raises the profile's behavior/RL/eval token
limits for that suite only (never lowers them), enters the stage keys and the record, and leaves the profile's
hashes, its RL recipe hash and every key of suites without it as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from pearbench.errors import PearbenchError
from pearbench.harness.config import load_profile, rl_recipe_hash
from pearbench.harness.runner import RunRequest, build_context
from pearbench.harness.suites import apply_trace_budget, describe_suite, load_suite

SUITE = """name = "long"
{budget}
[[envs]]
name = "countdown"
difficulty = "easy"
"""


def _suite(tmp_path: Path, budget: str) -> str:
    path = tmp_path / "long.toml"
    path.write_text(SUITE.format(budget=budget))
    return str(path)


@pytest.mark.parametrize("value", ["0", "-5", "true", '"160"', "1.5", str((1 << 16) + 1)])
def test_bad_budget_is_one_clear_error(tmp_path, value):
    with pytest.raises(PearbenchError, match="max_new_tokens must be a whole number"):
        load_suite(_suite(tmp_path, f"max_new_tokens = {value}"))


def test_budget_raises_and_never_lowers(tmp_path):
    small = load_profile("small")  # behavior 64, rl 64, eval 96
    raised = apply_trace_budget(small, load_suite(_suite(tmp_path, "max_new_tokens = 160")))
    assert (raised.behavior.max_new_tokens, raised.rl.max_new_tokens, raised.eval.max_new_tokens) == (
        160,
        160,
        160,
    )
    assert raised.trace_budget == 160
    between = apply_trace_budget(small, load_suite(_suite(tmp_path, "max_new_tokens = 80")))
    assert (between.behavior.max_new_tokens, between.rl.max_new_tokens, between.eval.max_new_tokens) == (
        80,
        80,
        96,
    )
    # the profile as written: its hash and RL recipe hash do not move; the other RL settings are the profile's
    for profile in (raised, between):
        assert profile.raw == small.raw and profile.hash == small.hash
        assert rl_recipe_hash(profile.raw) == rl_recipe_hash(small.raw)
        assert profile.rl.lr == small.rl.lr and profile.rl.steps == small.rl.steps
    assert raised.eval_table["max_new_tokens"] == 160
    # a budget the profile already meets changes nothing, and no budget changes nothing
    assert apply_trace_budget(small, load_suite(_suite(tmp_path, "max_new_tokens = 32"))) is small
    assert apply_trace_budget(small, load_suite("countdown")) is small
    assert small.eval_table == small.raw["eval"]


def test_budget_enters_stage_keys_of_its_suite_only(tmp_path):
    with_budget = build_context(
        RunRequest(suite=_suite(tmp_path, "max_new_tokens = 160"), out=str(tmp_path / "a"))
    )
    without = build_context(RunRequest(suite=_suite(tmp_path, ""), out=str(tmp_path / "b")))
    assert with_budget.profile.rl.to_dict() != without.profile.rl.to_dict()
    assert with_budget.profile.behavior.key() != without.profile.behavior.key()
    assert with_budget.profile.eval_table != without.profile.eval_table
    assert without.profile.trace_budget is None


def test_bundled_long_level_declares_its_budget(tmp_path):
    suite = load_suite("countdown-mm-long")
    assert suite.max_new_tokens == 160 and (suite.map, suite.map_level) == ("countdown", "very-high")
    assert describe_suite("countdown-mm-long")["max_new_tokens"] == 160
    assert "max_new_tokens" not in describe_suite("countdown")
    ctx = build_context(RunRequest(suite="countdown-mm-long", out=str(tmp_path)))
    assert ctx.profile.rl.max_new_tokens == 160 and ctx.profile.eval.max_new_tokens == 160


@pytest.mark.slow
def test_smoke_run_records_its_budget(tmp_path):
    """A smoke run of a suite with a budget above the smoke profile's limits: the record states the raised limits
    and the profile's RL recipe hash."""
    from pearbench.harness.runner import run

    record = run(
        RunRequest(
            method="sft",
            suite=_suite(tmp_path, "max_new_tokens = 60"),
            profile="smoke",
            out=str(tmp_path / "out"),
            progress=False,
        )
    )
    assert record["trace_budget"] == {"max_new_tokens": 60, "behavior": 60, "rl": 60, "eval": 60}
    assert record["eval"]["max_new_tokens"] == 60
    assert record["rl_recipe_hash"] == rl_recipe_hash(load_profile("smoke").raw)


def test_very_high_sorts_after_high_and_before_numbers():
    from pearbench.results.mismatch_map import _level_key

    order = sorted([2.0, "very-high", "low", "high", "mid"], key=_level_key)
    assert order == ["low", "mid", "high", "very-high", 2.0]
