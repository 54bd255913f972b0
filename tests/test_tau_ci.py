"""The bootstrap CI of Kendall's τ-b between the SFT-stage and post-RL rankings: the vectorised statistic equals a
plain loop over the same random draws, on the statistic alone and through the leaderboard built from records;
deterministic; shown in every table format."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

import numpy as np
import pytest
from conftest_records import make_record

from pearbench.metrics import BOOTSTRAP_SEED, N_BOOTSTRAP, kendall_tau_b, kendall_tau_b_bootstrap, pass_at_k
from pearbench.results.aggregate import build_leaderboard
from pearbench.results.leaderboard import render

TOL = 1e-12


def slow_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """τ-b by counting pairs one at a time (differences within TOL are ties)."""

    def sign(d: float) -> int:
        return 0 if abs(d) <= TOL else (1 if d > 0 else -1)

    n = len(x)
    concordant_minus_discordant = tied_x = tied_y = pairs = 0
    for i in range(n):
        for j in range(i + 1, n):
            sx, sy = sign(x[i] - x[j]), sign(y[i] - y[j])
            pairs += 1
            tied_x += sx == 0
            tied_y += sy == 0
            concordant_minus_discordant += sx * sy
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    return None if denominator == 0 else concordant_minus_discordant / denominator


def slow_tau_ci(
    first: list[list[float | None]],
    second: list[list[float | None]],
    *,
    n_resamples: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """The obvious reference: one resample at a time, one method at a time, one drawn problem at a time."""
    n_problems = len(first[0])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_problems, size=(n_resamples, n_problems))
    taus = []
    for draw in draws:
        scores = []
        for table in (first, second):
            stage_scores = []
            for values in table:
                kept = [values[int(p)] for p in draw if values[int(p)] is not None]
                stage_scores.append(sum(kept) / len(kept) if kept else None)
            scores.append(stage_scores)
        if any(s is None for stage in scores for s in stage):
            continue
        tau = slow_tau(scores[0], scores[1])
        if tau is not None:
            taus.append(tau)
    if not taus:
        return None
    low, high = np.quantile(taus, [0.025, 0.975])
    return float(low), float(high)


def _as_array(table: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in table], dtype=np.float64)


def _synthetic(n_methods: int, n_problems: int, seed: int, missing: bool = False):
    rng = np.random.default_rng(seed)
    first = (rng.integers(0, 9, size=(n_methods, n_problems)) / 8).tolist()
    second = (rng.integers(0, 9, size=(n_methods, n_problems)) / 8).tolist()
    if missing:  # method 1 lacks three problems (at both stages)
        for p in (2, 5, 11):
            first[1][p] = second[1][p] = None
    return first, second


@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_ci_equals_a_plain_loop_over_the_same_draws(seed: int, missing: bool) -> None:
    first, second = _synthetic(3, 20, seed, missing)
    fast = kendall_tau_b_bootstrap(_as_array(first), _as_array(second), n_resamples=500, seed=seed, chunk=64)
    slow = slow_tau_ci(first, second, n_resamples=500, seed=seed)
    assert fast is not None and slow is not None
    assert fast == slow  # the same draws, the same taus: identical quantiles


def test_chunking_does_not_change_the_draws() -> None:
    first, second = _synthetic(5, 30, 7)
    results = {
        chunk: kendall_tau_b_bootstrap(first, second, n_resamples=300, chunk=chunk)
        for chunk in (1, 7, 300, 1000)
    }
    assert len(set(results.values())) == 1


def test_ci_is_deterministic_and_depends_on_the_seed() -> None:
    first, second = _synthetic(8, 30, 3)
    a = kendall_tau_b_bootstrap(first, second)
    b = kendall_tau_b_bootstrap(first, second)
    assert a == b
    assert kendall_tau_b_bootstrap(first, second, seed=BOOTSTRAP_SEED + 1) != a


def test_clear_rankings_give_a_degenerate_ci_and_undefined_cases_give_none() -> None:
    problems = 20
    levels = np.array([[0.1], [0.5], [0.9]]) * np.ones((1, problems))
    assert kendall_tau_b_bootstrap(levels, levels) == (1.0, 1.0)
    assert kendall_tau_b_bootstrap(levels, levels[::-1]) == (-1.0, -1.0)
    assert kendall_tau_b_bootstrap(levels[:1], levels[:1]) is None  # one method
    assert kendall_tau_b_bootstrap(np.full((3, problems), 0.5), levels) is None  # a constant ranking
    with pytest.raises(ValueError):
        kendall_tau_b_bootstrap(levels, levels[:2])


# -- through the leaderboard -----------------------------------------------------------------------------------

METHODS = (("sft", 0.35, 0.42), ("pear-seq", 0.33, 0.47), ("dft", 0.40, 0.38))


def _records(n_problems: int = 20) -> list[dict]:
    return [
        make_record(method=method, seed=seed, sft_skill=s, rl_skill=r, n=8, n_problems=n_problems)
        for method, s, r in METHODS
        for seed in (0, 1)
    ]


def _slow_board_ci(records: list[dict]) -> tuple[float, float] | None:
    """The CI from the records by plain loops: per method and problem, pass@1 averaged over seeds."""
    labels = sorted({r["method_label"] for r in records})
    problems = sorted({(o["env"], o["id"]) for r in records for o in r["outcomes"]["sft"]})
    tables = []
    for stage in ("sft", "rl"):
        table = []
        for label in labels:
            mine = [r for r in records if r["method_label"] == label]
            values = []
            for key in problems:
                per_seed = [
                    pass_at_k(o["n"], o["c"], 1)
                    for r in mine
                    for o in r["outcomes"][stage]
                    if (o["env"], o["id"]) == key
                ]
                values.append(sum(per_seed) / len(per_seed) if len(per_seed) == len(mine) else None)
            table.append(values)
        tables.append(table)
    return slow_tau_ci(tables[0], tables[1])


def test_leaderboard_tau_ci_matches_the_plain_loop_on_three_methods_two_seeds_twenty_problems() -> None:
    records = _records()
    board = build_leaderboard(records)
    assert board.kendall_tau == pytest.approx(
        kendall_tau_b([row.sft[1].value for row in board.rows], [row.rl[1].value for row in board.rows])
    )
    assert board.kendall_tau_ci is not None
    assert board.kendall_tau_ci == _slow_board_ci(records)
    low, high = board.kendall_tau_ci
    assert -1.0 <= low <= high <= 1.0
    assert build_leaderboard(records).kendall_tau_ci == board.kendall_tau_ci  # deterministic


def test_leaderboard_tau_ci_with_a_problem_missing_in_one_seed() -> None:
    records = _records()
    body = {k: v for k, v in records[2].items() if k != "checksum"}  # pear-seq seed 0: drop one problem
    for stage in ("sft", "rl"):
        body["outcomes"][stage] = body["outcomes"][stage][1:]
    from pearbench.results.records import finalize_record

    records[2] = finalize_record(body)
    board = build_leaderboard(records)
    assert board.kendall_tau_ci == _slow_board_ci(records)


def test_tau_ci_in_every_format() -> None:
    board = build_leaderboard(_records())
    low, high = board.kendall_tau_ci
    shown = f"95% CI [{low:+.3f}, {high:+.3f}]"
    for name in ("md", "html"):
        assert shown in render([board], name), name
    assert shown.replace("%", "\\%") in render([board], "tex")
    rows = list(csv.DictReader(io.StringIO(render([board], "csv"))))
    assert {row["kendall_tau_b_low"] for row in rows} == {f"{low:.3f}"}
    assert {row["kendall_tau_b_high"] for row in rows} == {f"{high:.3f}"}
