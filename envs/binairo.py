"""Binairo (Takuzu): complete a grid of 0s and 1s, balanced per line, with no three equal neighbours in a line.

A randomised search builds a valid grid; its decisions are the givens (line propagation alone completes them to
the grid), and every given that propagation can do without is then removed, so the solution is unique. The verifier checks the rules and the givens, so any valid completion is accepted (there is only one).
"""

from __future__ import annotations

import functools
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from pearbench.envs._propagate import parse_square_grid
from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

#: the valid grids are counted by depth-first search up to this many (a lower bound on the instance space)
COUNT_CAP = 25_000


@dataclass(frozen=True)
class BinairoConfig:
    size: int = 6
    unique_lines: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size % 2 or not 4 <= self.size <= 12:
            raise ValueError("size must be an even integer in 4..12")
        if not isinstance(self.unique_lines, bool):
            raise ValueError("unique_lines must be True or False")


class Contradiction(Exception):
    """The givens admit no solution."""


@functools.lru_cache(maxsize=16)
def valid_lines(n: int) -> tuple[int, ...]:
    """Every line of n cells (bit i = cell i) with n/2 ones and no three equal cells in a row."""
    full = (1 << n) - 1
    out = []
    for pattern in range(1 << n):
        if pattern.bit_count() != n // 2:
            continue
        zeros = ~pattern & full
        if pattern & pattern >> 1 & pattern >> 2 or zeros & zeros >> 1 & zeros >> 2:
            continue
        out.append(pattern)
    return tuple(out)


def _columns(rows: list[int], n: int) -> list[int]:
    return [sum((rows[r] >> c & 1) << r for r in range(n)) for c in range(n)]


def grid_ok(grid: list[list[int]], unique: bool) -> bool:
    """Every row and column balanced with no three equal in a row; rows distinct and columns distinct if asked."""
    n = len(grid)
    allowed = set(valid_lines(n))
    rows = [sum(bit << c for c, bit in enumerate(row)) for row in grid]
    cols = _columns(rows, n)
    if any(line not in allowed for line in rows + cols):
        return False
    return not unique or (len(set(rows)) == n and len(set(cols)) == n)


@functools.lru_cache(maxsize=16)
def _position_sets(n: int) -> tuple[tuple[int, int], ...]:
    """For each position i, (bitset of valid-line indices with 0 at i, bitset with 1 at i)."""
    lines = valid_lines(n)
    out = []
    for i in range(n):
        zero = one = 0
        for index, pattern in enumerate(lines):
            if pattern >> i & 1:
                one |= 1 << index
            else:
                zero |= 1 << index
        out.append((zero, one))
    return tuple(out)


@functools.lru_cache(maxsize=16)
def _line_cells(n: int) -> tuple[tuple[int, ...], ...]:
    """The cells of every row, then every column (cells numbered r * n + c)."""
    rows = tuple(tuple(r * n + c for c in range(n)) for r in range(n))
    return rows + tuple(tuple(r * n + c for r in range(n)) for c in range(n))


class _Solver:
    """Line propagation: every row and column keeps (as a bitset over :func:`valid_lines`) the valid lines that
    agree with its known cells and, with ``unique``, differ from every finished line of the same direction; a cell
    on which every remaining candidate agrees is fixed. Cells are numbered r * n + c; values -1 (unknown), 0, 1.
    With ``log``, records ``(cell, value, line, rule)`` where rule is the simplest reason that forces the cell:
    "pair", "gap", "count", or "line" (only the analysis of all remaining candidates)."""

    def __init__(self, n: int, unique: bool, log: list | None = None) -> None:
        self.n = n
        self.unique = unique
        self.log = log
        self.at = _position_sets(n)
        self.every = (1 << len(valid_lines(n))) - 1
        self.lines = _line_cells(n)

    def initial(self, givens: dict[int, int]) -> tuple[list[int], list[int]]:
        n = self.n
        values = [-1] * (n * n)
        cands = [self.every] * (2 * n)
        for cell, value in givens.items():
            self.assign(values, cands, cell, value)
        return values, cands

    def assign(self, values: list[int], cands: list[int], cell: int, value: int) -> None:
        """Set a cell and narrow its row and column (does not propagate)."""
        r, c = divmod(cell, self.n)
        values[cell] = value
        cands[r] &= self.at[c][value]
        cands[self.n + c] &= self.at[r][value]

    def _rule(self, values: list[int], line: int, i: int, value: int) -> str:
        n, other = self.n, 1 - value
        cells = self.lines[line]

        def is_other(j: int) -> bool:
            return 0 <= j < n and values[cells[j]] == other

        if (is_other(i - 1) and is_other(i - 2)) or (is_other(i + 1) and is_other(i + 2)):
            return "pair"
        if is_other(i - 1) and is_other(i + 1):
            return "gap"
        return "count" if sum(values[cell] == other for cell in cells) == n // 2 else "line"

    def propagate(self, values: list[int], cands: list[int], queue=None) -> None:
        n, at, lines, log = self.n, self.at, self.lines, self.log
        pending = deque(range(2 * n) if queue is None else queue)
        waiting = [False] * (2 * n)
        for line in pending:
            waiting[line] = True
        finished = [False] * (2 * n)
        while pending:
            line = pending.popleft()
            waiting[line] = False
            cand = cands[line]
            if not cand:
                raise Contradiction
            forced = []
            for i, cell in enumerate(lines[line]):
                if values[cell] < 0:
                    zero, one = at[i]
                    if not cand & one:
                        forced.append((i, cell, 0))
                    elif not cand & zero:
                        forced.append((i, cell, 1))
            if log is not None:
                rules = [self._rule(values, line, i, value) for i, _, value in forced]
            for k, (_, cell, value) in enumerate(forced):
                if log is not None:
                    log.append((cell, value, line, rules[k]))
                r, c = divmod(cell, n)
                values[cell] = value
                cross, position = (n + c, r) if line < n else (r, c)
                cands[cross] &= at[position][value]
                if not waiting[cross]:
                    waiting[cross] = True
                    pending.append(cross)
            if self.unique and cand & (cand - 1) == 0 and not finished[line]:
                finished[line] = True  # a finished line's pattern is taken away from its siblings
                first = 0 if line < n else n
                for sibling in range(first, first + n):
                    if sibling != line and cands[sibling] & cand:
                        cands[sibling] &= ~cand
                        if not waiting[sibling]:
                            waiting[sibling] = True
                            pending.append(sibling)


def solved_by_propagation(n: int, unique: bool, givens: dict[int, int]) -> bool:
    solver = _Solver(n, unique)
    values, cands = solver.initial(givens)
    try:
        solver.propagate(values, cands)
    except Contradiction:
        return False
    return -1 not in values


def random_puzzle(n: int, unique: bool, rng: random.Random) -> tuple[list[int], dict[int, int]]:
    """A random valid grid and givens that propagation alone completes to it.

    Randomised depth-first search: propagate, pick a random unknown cell and try its two values in random order.
    Every valid grid can come out (choosing its own values never fails, propagation being sound). The decisions on
    the final path are the givens: propagating them reproduces the grid (propagation reaches the same fixed point
    in any order).
    """
    solver = _Solver(n, unique)
    decisions: dict[int, int] = {}

    def visit(values: list[int], cands: list[int], queue) -> list[int] | None:
        try:
            solver.propagate(values, cands, queue)
        except Contradiction:
            return None
        unknown = [cell for cell in range(n * n) if values[cell] < 0]
        if not unknown:
            return values
        cell = rng.choice(unknown)
        order = [0, 1] if rng.random() < 0.5 else [1, 0]
        for value in order:
            trial, trial_cands = list(values), list(cands)
            solver.assign(trial, trial_cands, cell, value)
            decisions[cell] = value
            found = visit(trial, trial_cands, [cell // n, n + cell % n])
            if found is not None:
                return found
            del decisions[cell]
        return None

    values, cands = solver.initial({})
    grid = visit(values, cands, None)
    assert grid is not None  # valid grids exist for every even n >= 4
    return grid, dict(decisions)


@functools.lru_cache(maxsize=32)
def count_grids(n: int, unique: bool, cap: int = COUNT_CAP) -> int:
    """Number of valid grids (propagation plus exhaustive search), stopped at ``cap``."""
    solver = _Solver(n, unique)
    total = 0

    def visit(values: list[int], cands: list[int], queue) -> None:
        nonlocal total
        try:
            solver.propagate(values, cands, queue)
        except Contradiction:
            return
        if -1 not in values:
            total += 1
            return
        cell = values.index(-1)
        for value in (0, 1):
            if total >= cap:
                return
            trial, trial_cands = list(values), list(cands)
            solver.assign(trial, trial_cands, cell, value)
            visit(trial, trial_cands, [cell // n, n + cell % n])

    visit(*solver.initial({}), None)
    return total


def parse_grid(text: str, n: int) -> list[list[int]] | None:
    """n*n digits 0/1 row-major with any separators; None if anything else appears or the count is wrong."""
    return parse_square_grid(text, n, "01")


@register_env
class Binairo(Game):
    """Binairo (Takuzu): fill the grid with 0s and 1s under three simple line rules.

    **Rules.** Fill every empty cell (``.``) of the n x n grid with 0 or 1 so that every row and every column has
    as many 0s as 1s, no row or column has three equal digits next to each other, and (``unique_lines``, on at
    every level) no two rows are the same and no two columns are the same. Given digits stay.

    **Answer.** The grid row by row, e.g. ``010011/...`` (rows separated by ``/``, newlines or spaces). The
    verifier checks every rule and the givens, so any valid completion is accepted; there is only one. Uniqueness:
    a randomised search (line propagation, then a random unknown cell set to a random value, backtracking on a
    contradiction) builds a valid grid, and its decisions are the givens; then each given that propagation can do
    without is removed. Line propagation (each row and column keeps the valid lines that fit its known cells and
    differ from the finished lines) is sound and fixes every cell from the final givens, so the puzzle has exactly
    one solution.

    **Levels.** easy: 6x6; medium: 8x8; hard: 10x10 (distinct rows and columns at every level).

    **Example.** Compact prompt::

        00....
        ......
        ...0.1
        ......
        ......
        1.1..1

    answer ``001011/110100/010011/101100/010110/101001``.
    """

    name = "binairo"
    title = "Binairo"
    family = "grid puzzle"
    category = "grid"
    description = "Fill a grid with 0s and 1s: balanced lines, no three equal in a row, all lines distinct."
    Config = BinairoConfig
    levels = {
        "easy": {"size": 6},
        "medium": {"size": 8},
        "hard": {"size": 10},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = False

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        n, unique = self.config.size, self.config.unique_lines
        solution, givens = random_puzzle(n, unique, rng)
        for cell in list(givens):
            trial = {other: value for other, value in givens.items() if other != cell}
            if solved_by_propagation(n, unique, trial):
                givens = trial
        grid = [
            "".join(str(givens[r * n + c]) if r * n + c in givens else "." for c in range(n))
            for r in range(n)
        ]
        problem = {"size": n, "unique_lines": unique, "grid": grid}
        answer = "/".join("".join(str(solution[r * n + c]) for c in range(n)) for r in range(n))
        return problem, answer

    def instance_space(self) -> int:
        """Lower bound: the valid grids (counted up to COUNT_CAP). Every valid grid can be drawn, and each puzzle has
        a unique solution, so different grids give different puzzles."""
        return count_grids(self.config.size, self.config.unique_lines)

    @staticmethod
    def _puzzle(instance: Instance) -> tuple[int, bool, dict[int, int]]:
        problem = instance.problem
        n = problem["size"]
        givens = {
            r * n + c: int(ch)
            for r, row in enumerate(problem["grid"])
            for c, ch in enumerate(row)
            if ch != "."
        }
        return n, bool(problem["unique_lines"]), givens

    def prompt(self, instance: Instance) -> str:
        n, unique, _ = self._puzzle(instance)
        grid = "\n".join(instance.problem["grid"])
        distinct = " No two rows may be the same, and no two columns may be the same." if unique else ""
        return (
            f"Solve this {n}x{n} Binairo (Takuzu) puzzle. Fill every empty cell (.) with 0 or 1 so that every row "
            f"and every column contains exactly {n // 2} zeros and {n // 2} ones, and no row or column has three "
            f"equal digits next to each other.{distinct} The given digits cannot change.\n\n{grid}\n\n"
            "Think step by step, then give the completed grid inside <answer></answer>, one row per line, digits "
            "without spaces."
        )

    def compact_prompt(self, instance: Instance) -> str:
        return "\n".join(instance.problem["grid"]) + "\n"

    def check(self, instance: Instance, answer: str) -> bool:
        n, unique, givens = self._puzzle(instance)
        if len(answer) > 8 * n * n + 64:
            return False
        grid = parse_grid(answer, n)
        if grid is None or any(grid[cell // n][cell % n] != value for cell, value in givens.items()):
            return False
        return grid_ok(grid, unique)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        n, unique, givens = self._puzzle(instance)
        log: list = []
        solver = _Solver(n, unique, log)
        values, cands = solver.initial(givens)
        try:
            solver.propagate(values, cands)
        except Contradiction:  # pragma: no cover - generated puzzles are consistent
            values = [-1] * (n * n)
        if -1 in values:  # not a generated puzzle: fall back to the stored answer
            grid = parse_grid(instance.answer, n) or []
        else:
            grid = [values[r * n : (r + 1) * n] for r in range(n)]

        def name(cell: int) -> str:
            return f"r{cell // n + 1}c{cell % n + 1}"

        def line_name(line: int) -> str:
            return f"row {line + 1}" if line < n else f"column {line - n + 1}"

        lines = []
        if style == "words":
            lines.append(
                f"Each row and column needs {n // 2} zeros and {n // 2} ones and no three equal digits in a row"
                + (", and all rows (and all columns) must differ." if unique else ".")
            )
        for cell, value, line, rule in log:
            if style == "steps":
                lines.append(f"{name(cell)}={value} {line_name(line).replace(' ', '')} {rule}")
                continue
            other = 1 - value
            where = line_name(line)
            if rule == "pair":
                reason = f"two {other}s next to it in {where} would otherwise make three in a row"
            elif rule == "gap":
                reason = f"it sits between two {other}s in {where}"
            elif rule == "count":
                reason = f"{where} already has its {n // 2} {other}s"
            else:
                reason = f"every valid way to complete {where} puts a {value} there"
            lines.append(f"{name(cell)} is {value}: {reason}.")
        answer = "\n".join("".join(map(str, row)) for row in grid)
        return "\n".join(lines) + f"\n<answer>\n{answer}\n</answer>"
