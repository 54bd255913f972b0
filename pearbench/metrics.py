"""Evaluation statistics (DESIGN §6): unbiased pass@k, avg@n, maj@n, bootstrap CIs. Pure functions, no I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

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
