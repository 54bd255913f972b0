"""Skyscrapers: fill a Latin square of building heights so that the border clues count the buildings visible.

Puzzles come from a random Latin square: all 4n clues are computed, a fixed number of them is hidden, and given
cells are added (then pruned) until constraint propagation alone fixes every cell, so the solution is unique. The
verifier checks the rules (Latin square, every shown clue, every given cell), so any valid grid is accepted.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections import deque
from dataclasses import dataclass
from math import comb
from typing import Any

from pearbench.envs._propagate import parse_square_grid, random_latin_square
from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

#: number of Latin squares of order n (OEIS A002860)
LATIN_SQUARES = {3: 12, 4: 576, 5: 161_280, 6: 812_851_200, 7: 61_479_419_904_000}
_SIDES = ("top", "bottom", "left", "right")


@dataclass(frozen=True)
class SkyscrapersConfig:
    size: int = 4
    hidden_clues: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or not 3 <= self.size <= 7:
            raise ValueError("size must be an integer in 3..7")
        if not isinstance(self.hidden_clues, int) or not 0 <= self.hidden_clues <= 4 * self.size:
            raise ValueError("hidden_clues must be in 0..4*size")


class Contradiction(Exception):
    """The clues admit no solution."""


def visible(line) -> int:
    """Buildings seen from the start of ``line``: each one taller than all before it."""
    count = tallest = 0
    for height in line:
        if height > tallest:
            count, tallest = count + 1, height
    return count


@functools.lru_cache(maxsize=8)
def _tables(n: int):
    """Permutations of 1..n as bitsets: ``at[i][v]`` = perms with v at position i; ``allowed[i][mask]`` = perms
    whose value at i is in ``mask`` (bit v-1 = v); ``front[k]``/``back[k]`` = perms that show k buildings from the
    front/back (index 0 = every perm, for a hidden clue)."""
    perms = list(itertools.permutations(range(1, n + 1)))
    at = [[0] * (n + 1) for _ in range(n)]
    front, back = [0] * (n + 1), [0] * (n + 1)
    for index, perm in enumerate(perms):
        bit = 1 << index
        for i, v in enumerate(perm):
            at[i][v] |= bit
        front[visible(perm)] |= bit
        back[visible(reversed(perm))] |= bit
    every = (1 << len(perms)) - 1
    front[0] = back[0] = every
    allowed = []
    for i in range(n):
        table = [0] * (1 << n)
        for mask in range(1, 1 << n):
            low = mask & -mask
            table[mask] = table[mask ^ low] | at[i][low.bit_length()]
        allowed.append(table)
    return at, allowed, front, back


def _values(mask: int) -> list[int]:
    return [v + 1 for v in range(mask.bit_length()) if mask >> v & 1]


class _Solver:
    """Generalised arc consistency per line (every row and column keeps the set of permutations that fit its two
    clues and its cells' candidates), plus depth-first search when that alone does not finish.

    ``clues``: dict side -> list of n ints (0 = hidden); ``givens``: {cell: value}, cells numbered r * n + c.
    With ``log``, records ``(line, [(cell, new mask), ...])`` per line that narrowed something, and
    ``("guess", cell, value)`` / ``("undo", cell, value)`` during search.
    """

    def __init__(self, n: int, clues: dict[str, list[int]], givens: dict[int, int], log: list | None = None):
        self.n = n
        self.full = (1 << n) - 1
        self.at, self.allowed, front, back = _tables(n)
        self.givens = givens
        self.log = log
        self.lines = [tuple(r * n + c for c in range(n)) for r in range(n)]
        self.lines += [tuple(r * n + c for r in range(n)) for c in range(n)]
        self.start = [front[clues["left"][r]] & back[clues["right"][r]] for r in range(n)]
        self.start += [front[clues["top"][c]] & back[clues["bottom"][c]] for c in range(n)]

    def initial(self) -> tuple[list[int], list[int]]:
        domains = [self.full] * (self.n * self.n)
        for cell, value in self.givens.items():
            domains[cell] = 1 << (value - 1)
        return domains, list(self.start)

    def propagate(self, domains: list[int], cands: list[int], queue: list[int] | None = None) -> None:
        n, full, at, allowed, lines, log = self.n, self.full, self.at, self.allowed, self.lines, self.log
        pending = deque(range(2 * n) if queue is None else queue)
        waiting = [False] * (2 * n)
        for line in pending:
            waiting[line] = True
        while pending:
            line = pending.popleft()
            waiting[line] = False
            cells = lines[line]
            cand = cands[line]
            for i, cell in enumerate(cells):
                if domains[cell] != full:
                    cand &= allowed[i][domains[cell]]
            if not cand:
                raise Contradiction
            cands[line] = cand
            changes = []
            for i, cell in enumerate(cells):
                mask = domains[cell]
                if mask & (mask - 1) == 0:
                    continue
                new = 0
                for v in _values(mask):
                    if cand & at[i][v]:
                        new |= 1 << (v - 1)
                if new != mask:
                    domains[cell] = new
                    changes.append((cell, new))
                    other = cell % n + n if line < n else cell // n
                    if not waiting[other]:
                        waiting[other] = True
                        pending.append(other)
            if changes and log is not None:
                log.append((line, changes))

    def solutions(self, limit: int) -> list[list[int]]:
        found: list[list[int]] = []

        def visit(domains: list[int], cands: list[int], queue: list[int] | None) -> None:
            try:
                self.propagate(domains, cands, queue)
            except Contradiction:
                return
            open_cells = [cell for cell, mask in enumerate(domains) if mask & (mask - 1)]
            if not open_cells:
                found.append([mask.bit_length() for mask in domains])
                return
            cell = min(open_cells, key=lambda c: (domains[c].bit_count(), c))
            for value in _values(domains[cell]):
                if self.log is not None:
                    self.log.append(("guess", cell, value))
                trial = list(domains)
                trial[cell] = 1 << (value - 1)
                visit(trial, list(cands), [cell // self.n, cell % self.n + self.n])
                if len(found) >= limit:
                    return
                if self.log is not None:
                    self.log.append(("undo", cell, value))

        visit(*self.initial(), None)
        return found


def _solved(domains: list[int]) -> bool:
    return all(mask & (mask - 1) == 0 for mask in domains)


def solved_by_propagation(n: int, clues: dict[str, list[int]], givens: dict[int, int]) -> bool:
    solver = _Solver(n, clues, givens)
    domains, cands = solver.initial()
    try:
        solver.propagate(domains, cands)
    except Contradiction:
        return False
    return _solved(domains)


def count_solutions(n: int, clues: dict[str, list[int]], givens: dict[int, int], limit: int = 2) -> int:
    return len(_Solver(n, clues, givens).solutions(limit))


def all_clues(grid: list[list[int]]) -> dict[str, list[int]]:
    n = len(grid)
    columns = [[grid[r][c] for r in range(n)] for c in range(n)]
    return {
        "top": [visible(col) for col in columns],
        "bottom": [visible(reversed(col)) for col in columns],
        "left": [visible(row) for row in grid],
        "right": [visible(reversed(row)) for row in grid],
    }


def grid_ok(grid: list[list[int]], clues: dict[str, list[int]], givens: dict[int, int]) -> bool:
    """Latin square, every shown (non-zero) clue, every given cell."""
    n = len(grid)
    full = set(range(1, n + 1))
    columns = [[grid[r][c] for r in range(n)] for c in range(n)]
    if any(set(row) != full for row in grid) or any(set(col) != full for col in columns):
        return False
    if any(grid[cell // n][cell % n] != value for cell, value in givens.items()):
        return False
    actual = all_clues(grid)
    return all(clue in (0, actual[side][i]) for side in _SIDES for i, clue in enumerate(clues[side]))


def parse_grid(text: str, n: int) -> list[list[int]] | None:
    """Digits row-major with any separators; None if anything else appears or the count is not n*n."""
    return parse_square_grid(text, n)


def render(n: int, clues: dict[str, list[int]], givens: dict[int, int]) -> list[str]:
    """Clues around the grid: top and bottom lines above/below the columns, left/right of each row; '-' hidden."""

    def mark(value: int) -> str:
        return str(value) if value else "-"

    lines = ["  " + " ".join(mark(v) for v in clues["top"])]
    for r in range(n):
        cells = " ".join(str(givens[r * n + c]) if r * n + c in givens else "." for c in range(n))
        lines.append(f"{mark(clues['left'][r])} {cells} {mark(clues['right'][r])}")
    lines.append("  " + " ".join(mark(v) for v in clues["bottom"]))
    return lines


@register_env
class Skyscrapers(Game):
    """Place buildings of heights 1..n in a Latin square so that the border clues count the visible buildings.

    **Rules.** Fill the n x n grid with heights 1..n, each exactly once in every row and every column. A clue
    outside the grid is the number of buildings visible from that side looking along the row or column: a building
    is visible when it is taller than every building in front of it. ``-`` marks a missing clue; digits inside the
    grid are given heights.

    **Answer.** The grid row by row, e.g. ``1234/3412/2143/4321`` (rows separated by ``/``, newlines or spaces).
    The verifier checks the rules, so any valid grid is accepted; there is only one. Uniqueness: a random Latin
    square's clues are computed, ``hidden_clues`` of them (a uniformly random subset) are hidden, and given cells
    are added until constraint propagation alone (per row and column, keep only the permutations that fit its two
    clues and its cells' candidates) fixes every cell; givens that are not needed are then dropped one by one.
    Propagation is sound, so a puzzle it solves has exactly one solution.

    **Levels.** easy: 4x4, 3 of 16 clues hidden; medium: 5x5, 6 of 20 hidden; hard: 6x6, 10 of 24 hidden.

    **Example.** Compact prompt (clues top, left/right of each row, bottom)::

          2 2 2 -
        3 . . . . 1
        1 . . . . 2
        2 . . . . -
        2 . . . . 3
          3 - 2 4

    answer ``1324/4213/3142/2431``.
    """

    name = "skyscrapers"
    title = "Skyscrapers"
    family = "grid puzzle"
    category = "grid"
    description = "Fill a Latin square of building heights so the border clues count the visible buildings."
    Config = SkyscrapersConfig
    levels = {
        "easy": {"size": 4, "hidden_clues": 3},
        "medium": {"size": 5, "hidden_clues": 6},
        "hard": {"size": 6, "hidden_clues": 10},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = False

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        n = self.config.size
        grid = random_latin_square(n, rng)
        clues = all_clues(grid)
        for slot in rng.sample(range(4 * n), self.config.hidden_clues):
            clues[_SIDES[slot // n]][slot % n] = 0
        solver = _Solver(n, clues, {})
        domains, cands = solver.initial()
        solver.propagate(domains, cands)
        givens: dict[int, int] = {}
        while not _solved(domains):
            cell = rng.choice([cell for cell, mask in enumerate(domains) if mask & (mask - 1)])
            givens[cell] = grid[cell // n][cell % n]
            domains[cell] = 1 << (givens[cell] - 1)
            solver.propagate(domains, cands, [cell // n, cell % n + n])
        for cell in list(givens):
            trial = {other: value for other, value in givens.items() if other != cell}
            if solved_by_propagation(n, clues, trial):
                givens = trial
        problem = {
            "size": n,
            **clues,
            "givens": sorted([cell // n + 1, cell % n + 1, value] for cell, value in givens.items()),
        }
        return problem, "/".join("".join(map(str, row)) for row in grid)

    def instance_space(self) -> int:
        """Lower bound L(n) * C(4n, hidden): each Latin square (every one can be drawn) with each hidden-clue
        subset is a different puzzle, since a puzzle's unique solution and shown clues identify both."""
        n = self.config.size
        return LATIN_SQUARES[n] * comb(4 * n, self.config.hidden_clues)

    @staticmethod
    def _puzzle(instance: Instance) -> tuple[int, dict[str, list[int]], dict[int, int]]:
        problem = instance.problem
        n = problem["size"]
        clues = {side: list(problem[side]) for side in _SIDES}
        givens = {(r - 1) * n + (c - 1): v for r, c, v in problem["givens"]}
        return n, clues, givens

    def prompt(self, instance: Instance) -> str:
        n, clues, givens = self._puzzle(instance)
        board = "\n".join(render(n, clues, givens))
        given_text = " Digits inside the grid are given heights." if givens else ""
        return (
            f"Solve this {n}x{n} Skyscrapers puzzle. Place a building of height 1 to {n} in every cell so that "
            "each height appears exactly once in every row and every column. The numbers around the grid are "
            "clues: a clue says how many buildings are visible from that side, looking along its row or column; "
            "a building is visible if it is taller than every building in front of it. The line above the grid "
            "gives the clues seen from the top of each column, the line below from the bottom; the numbers left "
            "and right of each row are seen from the left and from the right. '-' means no clue and '.' an "
            f"empty cell.{given_text}\n\n{board}\n\n"
            "Think step by step, then give the filled grid inside <answer></answer>, one row per line, digits "
            "without spaces."
        )

    def compact_prompt(self, instance: Instance) -> str:
        n, clues, givens = self._puzzle(instance)
        return "\n".join(render(n, clues, givens)) + "\n"

    def check(self, instance: Instance, answer: str) -> bool:
        n, clues, givens = self._puzzle(instance)
        if len(answer) > 8 * n * n + 64:
            return False
        grid = parse_grid(answer, n)
        return grid is not None and grid_ok(grid, clues, givens)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        n, clues, givens = self._puzzle(instance)
        log: list = []
        solver = _Solver(n, clues, givens, log)
        found = solver.solutions(limit=1)
        grid = [found[0][r * n : (r + 1) * n] for r in range(n)] if found else parse_grid(instance.answer, n)

        def name(cell: int) -> str:
            return f"r{cell // n + 1}c{cell % n + 1}"

        def line_clues(line: int) -> tuple[str, int, int]:
            if line < n:
                return f"row {line + 1}", clues["left"][line], clues["right"][line]
            return f"column {line - n + 1}", clues["top"][line - n], clues["bottom"][line - n]

        lines = []
        if givens and style == "steps":
            lines.append("given " + " ".join(f"{name(c)}={v}" for c, v in sorted(givens.items())))
        elif givens:
            lines.append("Given: " + ", ".join(f"{name(c)} is {v}" for c, v in sorted(givens.items())) + ".")
        elif style == "words":
            lines.append(
                "For every row and column I keep the orders of heights that fit its clues and the candidates "
                "of its cells, and narrow each cell to the heights that still occur there."
            )
        for event in log:
            if event[0] in ("guess", "undo"):
                kind, cell, value = event
                if style == "steps":
                    lines.append(f"{'try' if kind == 'guess' else 'undo'} {name(cell)}={value}")
                elif kind == "guess":
                    lines.append(f"Suppose {name(cell)} is {value}.")
                else:
                    lines.append(f"That leads to a contradiction, so {name(cell)} is not {value}.")
                continue
            line, changes = event
            title, first, last = line_clues(line)
            if style == "steps":
                head = f"{title} {first or '-'},{last or '-'}:"
                parts = [
                    f"{name(cell)}={v}" if mask & (mask - 1) == 0 else f"{name(cell)}:{''.join(map(str, vs))}"
                    for cell, mask in changes
                    for vs in [_values(mask)]
                    for v in [vs[0]]
                ]
                lines.append(head + " " + " ".join(parts))
            else:
                ends = ("top", "bottom") if line >= n else ("left", "right")
                seen = [f"{k} seen from the {end}" for k, end in zip((first, last), ends) if k]
                about = f" ({' and '.join(seen)})" if seen else " (no clues)"
                parts = []
                for cell, mask in changes:
                    values = _values(mask)
                    if len(values) == 1:
                        parts.append(f"{name(cell)} must be {values[0]}")
                    else:
                        alternatives = ", ".join(map(str, values[:-1])) + f" or {values[-1]}"
                        parts.append(f"{name(cell)} can only be {alternatives}")
                lines.append(
                    f"In {title}{about}, the arrangements still possible show that {'; '.join(parts)}."
                )
        answer = "\n".join("".join(map(str, row)) for row in grid or [])
        return "\n".join(lines) + f"\n<answer>\n{answer}\n</answer>"
