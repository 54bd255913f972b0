"""Slow, obviously-correct references shared by the game tests."""

from __future__ import annotations

import functools
import itertools


@functools.lru_cache(maxsize=4)
def latin_squares(n: int) -> list[tuple[tuple[int, ...], ...]]:
    """Every n x n Latin square over 1..n (rows are permutations, columns have no repeats)."""
    rows = list(itertools.permutations(range(1, n + 1)))
    squares: list[tuple[tuple[int, ...], ...]] = [()]
    for _ in range(n):
        squares = [
            (*square, row)
            for square in squares
            for row in rows
            if all(row[c] != earlier[c] for earlier in square for c in range(n))
        ]
    return squares
