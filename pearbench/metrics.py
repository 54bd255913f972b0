"""Evaluation statistics (docs/design.md §6): unbiased pass@k, avg@n, maj@n, bootstrap CIs, and the leaderboard's
statistics over per-problem outcome tables (seed-averaged pass@k, competition ranks, Kendall's τ-b). Pure
functions, no I/O."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

N_BOOTSTRAP = 2000
BOOTSTRAP_SEED = 20260201


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with n samples of which c are correct.

    pass@k = 1 - C(n-c, k) / C(n, k), computed as 1 - prod_{i=n-c+1..n} (1 - k/i) (stable for large n);
    1 when n - c < k.
    """
    if not (0 <= c <= n) or k < 1 or k > n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    factors = 1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)
    return float(1.0 - np.prod(factors))


def pass_at_k_array(n: Sequence[int], c: Sequence[int], k: int) -> np.ndarray:
    """pass@k per problem (vectorised over problems)."""
    return np.array([pass_at_k(int(ni), int(ci), k) for ni, ci in zip(n, c)], dtype=np.float64)


def avg_at_n(n: int, c: int) -> float:
    """Mean accuracy over the n samples of one problem (= pass@1)."""
    if n < 1 or not 0 <= c <= n:
        raise ValueError(f"avg_at_n needs n >= 1 and 0 <= c <= n, got n={n}, c={c}")
    return c / n


def maj_at_n(answers: Sequence[Hashable | None], correct: Sequence[bool]) -> float:
    """Majority vote over extracted answers: 1.0 if the most frequent non-None answer is correct.

    Ties go to the answer seen first. ``correct[i]`` tells whether ``answers[i]`` is right; an answer string is
    judged by its first occurrence. No extracted answer at all scores 0.
    """
    if len(answers) != len(correct):
        raise ValueError("answers and correct must have the same length")
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return 0.0
    best = max(counts.values())
    for answer, is_correct in zip(answers, correct):
        if answer is not None and counts[answer] == best:
            return 1.0 if is_correct else 0.0
    return 0.0  # unreachable


def bootstrap_ci(
    values: Sequence[float],
    *,
    n_resamples: int = N_BOOTSTRAP,
    confidence: float = 0.95,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float, float]:
    """Mean of per-problem values and its percentile-bootstrap CI over problems: (mean, low, high).

    Byte-stable: a fixed RNG seed. With fewer than two problems the CI collapses to the mean.
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    if not np.all(np.isfinite(data)):
        raise ValueError("bootstrap_ci got a non-finite value")
    mean = float(data.mean())
    if data.size < 2:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    index = rng.integers(0, data.size, size=(n_resamples, data.size))
    means = data[index].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return mean, float(low), float(high)


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    n_resamples: int = N_BOOTSTRAP,
    confidence: float = 0.95,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, float]:
    """Paired bootstrap of mean(a - b) over the same problems.

    Returns ``diff`` (observed mean difference), ``low``/``high`` (percentile CI) and ``p_value``: two-sided,
    2 * min(P*(d <= 0), P*(d >= 0)) (with a 1e-12 tolerance for rounding) over the resampled mean differences, capped at 1.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError("paired_bootstrap needs two equal-length, non-empty 1-D sequences")
    diff = x - y
    if not np.all(np.isfinite(diff)):
        raise ValueError("paired_bootstrap got a non-finite value")
    observed = float(diff.mean())
    rng = np.random.default_rng(seed)
    index = rng.integers(0, diff.size, size=(n_resamples, diff.size))
    means = diff[index].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    # Resampled means that are exactly 0 in exact arithmetic come out as +-1e-17: count them on both sides.
    tol = 1e-12 * max(1.0, float(np.abs(diff).max()))
    p_value = min(1.0, 2.0 * min(float(np.mean(means <= tol)), float(np.mean(means >= -tol))))
    return {"diff": observed, "low": float(low), "high": float(high), "p_value": p_value}


def pass_at_k_table(
    n: Sequence[int], c: Sequence[int], ks: Sequence[int] | None = None
) -> dict[int, np.ndarray]:
    """Per-problem pass@k for every k (default: all k <= min(n)) from one sampling run."""
    max_k = int(min(n))
    ks = list(range(1, max_k + 1)) if ks is None else [k for k in ks if k <= max_k]
    return {k: pass_at_k_array(n, c, k) for k in ks}


def summarise(
    n: Sequence[int], c: Sequence[int], ks: Sequence[int], maj: Sequence[float] | None = None
) -> dict[str, dict[str, float]]:
    """The metrics of one sampling run over problems, each ``{value, low, high}`` (95% percentile bootstrap).

    ``pass@<k>`` for every k in ``ks`` that is <= min(n), ``avg@n`` (mean of c/n) and, when the per-problem
    majority-vote scores ``maj`` are given, ``maj@n``: the metric names of the result record schema.
    """
    metrics: dict[str, dict[str, float]] = {}
    for k in ks:
        if k <= min(n):
            value, low, high = bootstrap_ci(pass_at_k_array(n, c, k))
            metrics[f"pass@{k}"] = {"value": value, "low": low, "high": high}
    value, low, high = bootstrap_ci([ci / ni for ni, ci in zip(n, c)])
    metrics["avg@n"] = {"value": value, "low": low, "high": high}
    if maj is not None:
        value, low, high = bootstrap_ci(maj)
        metrics["maj@n"] = {"value": value, "low": low, "high": high}
    return metrics


# --------------------------------------------------------------------------------------------------------------
# Leaderboard statistics over outcome tables: per problem (n, c), one table per seed

ProblemKey = tuple[str, str]  # (env, id)
OutcomeTable = dict[ProblemKey, tuple[int, int]]  # problem -> (n, c)


def outcome_table(outcomes: Sequence[Mapping[str, Any]]) -> OutcomeTable:
    """(env, id) -> (n, c) for one record stage's outcomes."""
    return {(o["env"], o["id"]): (int(o["n"]), int(o["c"])) for o in outcomes}


def common_problems(tables: Sequence[Mapping[ProblemKey, Any]]) -> list[ProblemKey]:
    """Problems present in every table, sorted by (env, id)."""
    if not tables:
        return []
    keys = set(tables[0])
    for table in tables[1:]:
        keys &= set(table)
    return sorted(keys)


def seed_averaged_pass_at_k(
    tables: Sequence[OutcomeTable], problems: Sequence[ProblemKey], k: int
) -> np.ndarray | None:
    """Per problem p: v_p = (1/S) Σ_{s=1..S} pass@k(n_sp, c_sp) over the S tables (seeds), in ``problems`` order.

    None when some problem has fewer than k samples in some table (pass@k is undefined there).
    """
    values = np.zeros(len(problems), dtype=np.float64)
    for table in tables:
        for i, key in enumerate(problems):
            n, c = table[key]
            if k > n:
                return None
            values[i] += pass_at_k(n, c, k)
    return values / len(tables)


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's τ-b of two paired samples, with ties.

    τ_b = (C − D) / sqrt((P − T_x)(P − T_y)), P = n(n−1)/2 pairs, C/D the concordant/discordant pairs, T_x (T_y)
    the pairs tied in x (in y), pairs tied in both counted in both. None when fewer than two items or when one
    sample is constant (the denominator is 0).
    """
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("kendall_tau_b needs two equal-length 1-D sequences")
    if a.size < 2:
        return None
    upper = np.triu_indices(a.size, k=1)
    sign_x = np.sign(a[:, None] - a[None, :])[upper]
    sign_y = np.sign(b[:, None] - b[None, :])[upper]
    pairs = sign_x.size
    tied_x = int(np.count_nonzero(sign_x == 0))
    tied_y = int(np.count_nonzero(sign_y == 0))
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    if denominator == 0:
        return None
    return float(np.sum(sign_x * sign_y)) / denominator


def competition_ranks(values: Sequence[float]) -> list[int]:
    """Rank 1 = highest; ties share the best rank ("1224" ranking): rank_i = 1 + #{j: v_j > v_i}."""
    return [1 + sum(1 for other in values if other > value) for value in values]


def _tau_b_rows(first: np.ndarray, second: np.ndarray, tie_tol: float) -> np.ndarray:
    """Kendall's τ-b of each row pair of two (resamples, items) score arrays; NaN where undefined (a constant row
    or a missing score). Differences within ``tie_tol`` count as ties."""
    upper_i, upper_j = np.triu_indices(first.shape[1], k=1)

    def signs(scores: np.ndarray) -> np.ndarray:
        d = scores[:, upper_i] - scores[:, upper_j]
        return np.where(np.abs(d) <= tie_tol, 0.0, np.sign(d))

    sign_x, sign_y = signs(first), signs(second)
    pairs = upper_i.size
    tied_x = np.count_nonzero(sign_x == 0, axis=1)
    tied_y = np.count_nonzero(sign_y == 0, axis=1)
    denominator = np.sqrt((pairs - tied_x) * (pairs - tied_y).astype(np.float64))
    numerator = np.sum(sign_x * sign_y, axis=1)
    defined = (denominator > 0) & np.all(np.isfinite(first), axis=1) & np.all(np.isfinite(second), axis=1)
    return np.where(defined, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def kendall_tau_b_bootstrap(
    first: Sequence[Sequence[float]] | np.ndarray,
    second: Sequence[Sequence[float]] | np.ndarray,
    *,
    n_resamples: int = N_BOOTSTRAP,
    confidence: float = 0.95,
    seed: int = BOOTSTRAP_SEED,
    tie_tol: float = 1e-12,
    chunk: int = 256,
) -> tuple[float, float] | None:
    """Percentile-bootstrap CI of Kendall's τ-b between two rankings of the same items (methods), each item's
    score being the mean of its per-problem values, with the problems resampled jointly.

    ``first`` and ``second``: (items, problems) arrays of per-problem values at the two stages (for the leaderboard:
    seed-averaged pass@1 after SFT and after RL; NaN where an item lacks a problem). Each resample draws one
    multiset of problem indices (``rng.integers(0, problems, problems)``, one row per resample from
    ``numpy.random.default_rng(seed)``) and applies it to every item at both stages; an item's score is the mean of
    its values over the drawn problems it has; τ-b is recomputed from the two score vectors, with score
    differences within ``tie_tol`` counted as ties (so rounding never breaks a tie). Resamples where τ-b is
    undefined (a constant ranking, or an item without any drawn problem) are left out. Returns (low, high), or None
    with fewer than two items or problems, or when no resample defines τ-b. Deterministic: a fixed seed.
    """
    x = np.asarray(first, dtype=np.float64)
    y = np.asarray(second, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError("kendall_tau_b_bootstrap needs two (items, problems) arrays of the same shape")
    items, problems = x.shape
    if items < 2 or problems < 2:
        return None
    present_x, present_y = np.isfinite(x), np.isfinite(y)
    values_x, values_y = np.where(present_x, x, 0.0), np.where(present_y, y, 0.0)
    rng = np.random.default_rng(seed)
    taus = []
    for begin in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - begin)
        index = rng.integers(0, problems, size=(size, problems))
        offsets = (np.arange(size)[:, None] * problems + index).ravel()
        counts = np.bincount(offsets, minlength=size * problems).reshape(size, problems).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            scores_x = (counts @ values_x.T) / (counts @ present_x.T)
            scores_y = (counts @ values_y.T) / (counts @ present_y.T)
        taus.append(_tau_b_rows(scores_x, scores_y, tie_tol))
    found = np.concatenate(taus)
    found = found[np.isfinite(found)]
    if found.size == 0:
        return None
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(found, [alpha, 1.0 - alpha])
    return float(low), float(high)


def format_ci(metric: dict[str, float] | None) -> str:
    """``0.301 [0.270, 0.333]`` for a ``{"value", "low", "high"}`` metric; ``n/a`` when there is none."""
    if not metric:
        return "n/a"
    return f"{metric['value']:.3f} [{metric['low']:.3f}, {metric['high']:.3f}]"
