"""pearbench.metrics against brute force: pass@k, avg@n, maj@n, bootstrap CIs."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from pearbench import metrics
from pearbench.metrics import (
    avg_at_n,
    bootstrap_ci,
    maj_at_n,
    paired_bootstrap,
    pass_at_k,
    pass_at_k_array,
    pass_at_k_table,
)

# ----------------------------------------------------------------------------------------- pass@k


def brute_force_pass_at_k(n: int, c: int, k: int) -> Fraction:
    """Share of all k-subsets of the n samples (the first c correct) that hold at least one correct sample."""
    subsets = list(itertools.combinations(range(n), k))
    hits = sum(1 for subset in subsets if any(index < c for index in subset))
    return Fraction(hits, len(subsets))


def exact_pass_at_k(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


def test_pass_at_k_equals_enumeration_of_every_subset() -> None:
    checked = 0
    for n in range(1, 13):
        for c in range(n + 1):
            for k in range(1, n + 1):
                expected = brute_force_pass_at_k(n, c, k)
                assert pass_at_k(n, c, k) == pytest.approx(float(expected), abs=1e-13), (n, c, k)
                checked += 1
    assert checked == sum(n * (n + 1) for n in range(1, 13))


@pytest.mark.parametrize("n", [16, 100, 257, 1000, 1024])
def test_pass_at_k_is_stable_for_large_n(n: int) -> None:
    cs = sorted({0, 1, 2, 3, n // 7, n // 2, n - 3, n - 1, n})
    ks = sorted({1, 2, 4, 8, 16, 64, n // 3, n // 2, n - 1, n} & set(range(1, n + 1)))
    for c in cs:
        previous = -1.0
        for k in ks:
            value = pass_at_k(n, c, k)
            expected = float(exact_pass_at_k(n, c, k))
            assert math.isfinite(value) and 0.0 <= value <= 1.0
            assert value == pytest.approx(expected, rel=1e-11, abs=1e-14), (n, c, k)
            assert value >= previous - 1e-15  # pass@k never falls as k grows
            previous = value


def test_pass_at_k_edge_values() -> None:
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 3, 8) == 1.0  # n - c < k: every k-subset holds a correct sample
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(1024, 1, 1) == pytest.approx(1 / 1024, rel=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6), (0, 0, 1)])
def test_pass_at_k_rejects_impossible_inputs(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_pass_at_k_array_and_table_agree_with_scalar() -> None:
    n = [8, 8, 10, 12]
    c = [0, 3, 10, 5]
    for k in (1, 4, 8):
        assert pass_at_k_array(n, c, k).tolist() == [pass_at_k(a, b, k) for a, b in zip(n, c)]
    table = pass_at_k_table(n, c)
    assert sorted(table) == list(range(1, 9))  # every k up to min(n)
    assert table[3].tolist() == pass_at_k_array(n, c, 3).tolist()
    assert sorted(pass_at_k_table(n, c, ks=[1, 8, 9, 16])) == [1, 8]


# ----------------------------------------------------------------------------------------- avg@n, maj@n


def test_avg_at_n_is_pass_at_1() -> None:
    for n in range(1, 13):
        for c in range(n + 1):
            assert avg_at_n(n, c) == pytest.approx(pass_at_k(n, c, 1), abs=1e-15) == c / n
    with pytest.raises(ValueError):
        avg_at_n(0, 0)
    with pytest.raises(ValueError):
        avg_at_n(3, 4)


def brute_force_majority(answers, correct) -> float:
    votes: dict = {}
    first_seen: dict = {}
    for index, answer in enumerate(answers):
        if answer is None:
            continue
        votes[answer] = votes.get(answer, 0) + 1
        first_seen.setdefault(answer, index)
    if not votes:
        return 0.0
    top = max(votes.values())
    winner = min((a for a in votes if votes[a] == top), key=lambda a: first_seen[a])
    return 1.0 if correct[first_seen[winner]] else 0.0


def test_maj_at_n_cases() -> None:
    assert maj_at_n(["4", "5", "4"], [True, False, True]) == 1.0
    assert maj_at_n(["5", "4", "5"], [False, True, False]) == 0.0
    assert maj_at_n(["5", "4"], [False, True]) == 0.0  # tie: the answer seen first wins
    assert maj_at_n(["4", "5"], [True, False]) == 1.0
    assert maj_at_n([None, None, "4"], [False, False, True]) == 1.0  # no-answer samples do not vote
    assert maj_at_n([None, None], [False, False]) == 0.0
    assert maj_at_n([], []) == 0.0
    with pytest.raises(ValueError):
        maj_at_n(["4"], [True, False])


def test_maj_at_n_against_brute_force() -> None:
    rng = np.random.default_rng(5)
    for _ in range(500):
        size = int(rng.integers(1, 12))
        answers = [None if rng.random() < 0.2 else str(rng.integers(0, 4)) for _ in range(size)]
        correct = [answer == "1" for answer in answers]
        assert maj_at_n(answers, correct) == brute_force_majority(answers, correct)


# ----------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_is_byte_stable_within_a_process() -> None:
    values = np.random.default_rng(1).random(57)
    first = bootstrap_ci(values)
    second = bootstrap_ci(list(values))
    assert repr(first) == repr(second)
    mean, low, high = first
    assert mean == pytest.approx(values.mean(), rel=1e-15)
    assert low < mean < high
    assert bootstrap_ci(values, seed=metrics.BOOTSTRAP_SEED + 1) != first


def test_bootstrap_ci_is_byte_stable_across_processes() -> None:
    script = (
        "import json; from pearbench.metrics import bootstrap_ci, paired_bootstrap\n"
        "a = [(i * 37 % 11) / 10 for i in range(40)]\n"
        "b = [(i * 13 % 7) / 6 for i in range(40)]\n"
        "print(json.dumps([repr(bootstrap_ci(a)), repr(sorted(paired_bootstrap(a, b).items()))]))\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    a = [(i * 37 % 11) / 10 for i in range(40)]
    b = [(i * 13 % 7) / 6 for i in range(40)]
    here = [repr(bootstrap_ci(a)), repr(sorted(paired_bootstrap(a, b).items()))]
    assert runs[0].stdout == runs[1].stdout
    assert json.loads(runs[0].stdout) == here


def test_bootstrap_ci_matches_a_slow_reference() -> None:
    """Same resample indices drawn the obvious way, mean of each resample in a Python loop."""
    values = np.random.default_rng(2).random(23)
    rng = np.random.default_rng(metrics.BOOTSTRAP_SEED)
    index = rng.integers(0, values.size, size=(metrics.N_BOOTSTRAP, values.size))
    means = sorted(sum(values[i] for i in row) / values.size for row in index)
    low, high = np.quantile(means, [0.025, 0.975])
    result = bootstrap_ci(values)
    assert result[1] == pytest.approx(low, rel=1e-12) and result[2] == pytest.approx(high, rel=1e-12)


def test_bootstrap_ci_degenerate_inputs() -> None:
    assert bootstrap_ci([0.25]) == (0.25, 0.25, 0.25)
    assert bootstrap_ci([0.5] * 10) == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError):
        bootstrap_ci([])
    with pytest.raises(ValueError):
        bootstrap_ci([0.1, float("nan")])


def test_bootstrap_ci_covers_the_true_mean_most_of_the_time() -> None:
    rng = np.random.default_rng(3)
    covered = 0
    trials = 100
    for trial in range(trials):
        sample = rng.binomial(1, 0.3, size=80).astype(float)
        _, low, high = bootstrap_ci(sample, n_resamples=400, seed=trial)
        covered += low <= 0.3 <= high
    assert 85 <= covered <= 100  # nominal 95 %


def test_paired_bootstrap_sanity() -> None:
    rng = np.random.default_rng(4)
    base = rng.random(60)

    same = paired_bootstrap(base, base)
    assert same == {"diff": 0.0, "low": 0.0, "high": 0.0, "p_value": 1.0}

    better = paired_bootstrap(base + 0.1 + rng.normal(0, 0.02, 60), base)
    assert better["diff"] == pytest.approx(0.1, abs=0.02)
    assert 0 < better["low"] <= better["diff"] <= better["high"]
    assert better["p_value"] < 0.01

    noise = paired_bootstrap(base + rng.normal(0, 0.05, 60), base + rng.normal(0, 0.05, 60))
    assert noise["low"] < 0 < noise["high"] and noise["p_value"] > 0.05


def test_paired_bootstrap_is_antisymmetric_and_matches_bootstrap_of_differences() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.random(31), rng.random(31)
    ab, ba = paired_bootstrap(a, b), paired_bootstrap(b, a)
    assert ab["diff"] == pytest.approx(-ba["diff"], abs=1e-15)
    assert ab["low"] == pytest.approx(-ba["high"], abs=1e-12)
    assert ab["high"] == pytest.approx(-ba["low"], abs=1e-12)
    assert ab["p_value"] == ba["p_value"]
    mean, low, high = bootstrap_ci(a - b)  # same seed, same resample indices
    assert (ab["diff"], ab["low"], ab["high"]) == pytest.approx((mean, low, high), abs=1e-12)


def test_paired_bootstrap_rejects_unpaired_input() -> None:
    with pytest.raises(ValueError):
        paired_bootstrap([0.1, 0.2], [0.1])
    with pytest.raises(ValueError):
        paired_bootstrap([], [])
