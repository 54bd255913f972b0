"""Nonogram: fill cells of a grid so that each row's and column's runs of filled cells match its clue.

A clue lists the lengths of the runs of filled cells in order (``0`` for an empty line). Answer: the grid, one row per
line or rows separated by ``/``, ``#`` for filled and ``.`` for empty (``1``/``0`` tolerated). ANY grid that satisfies
every clue is accepted, not only the stored one: random grids often have several (``multiple_solutions``).
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_FILLED = frozenset("#1■█*@")
_EMPTY = frozenset(".0_-□·")
_SEPARATORS = frozenset(" \t\r\n,;|/[](){}'\"")
_MAX_ANSWER_CHARS = 2_000
#: instance_space() is exact (every grid enumerated) up to this many cells, a lower bound beyond.
_EXACT_SPACE_MAX_CELLS = 16


@dataclass(frozen=True)
class NonogramConfig:
    width: int = 4
    height: int = 4
    fill_probability: float = 0.55

    def __post_init__(self) -> None:
        if not (2 <= self.width <= 10 and 2 <= self.height <= 10):
            raise ValueError("width and height must be in 2..10")
        if not 0.0 < self.fill_probability < 1.0:
            raise ValueError("fill_probability must be in (0, 1)")


def line_clue(cells: list[int] | tuple[int, ...]) -> list[int]:
    """Run lengths of filled (1) cells, left to right; [] for an empty line."""
    runs, current = [], 0
    for cell in cells:
        if cell:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    if current:
        runs.append(current)
    return runs


def grid_clues(grid: list[list[int]]) -> tuple[list[list[int]], list[list[int]]]:
    rows = [line_clue(row) for row in grid]
    cols = [line_clue([row[c] for row in grid]) for c in range(len(grid[0]))]
    return rows, cols


@functools.lru_cache(maxsize=4096)
def line_fillings(clue: tuple[int, ...], length: int) -> tuple[tuple[int, ...], ...]:
    """Every 0/1 line of ``length`` cells whose runs are exactly ``clue``."""
    if not clue:
        return ((0,) * length,)
    first, rest = clue[0], clue[1:]
    tail_min = sum(rest) + len(rest)  # the rest needs its runs plus one gap before each
    fillings = []
    for offset in range(length - tail_min - first + 1):
        head = (0,) * offset + (1,) * first
        if rest:
            for tail in line_fillings(rest, length - len(head) - 1):
                fillings.append(head + (0,) + tail)
        else:
            fillings.append(head + (0,) * (length - len(head)))
    return tuple(fillings)


def _line_deduce(clue: tuple[int, ...], known: list[int]) -> list[int] | None:
    """Cells (-1 unknown) common to every filling consistent with ``known``; None if no filling fits."""
    result: list[int] | None = None
    for filling in line_fillings(clue, len(known)):
        if any(k >= 0 and k != f for k, f in zip(known, filling)):
            continue
        if result is None:
            result = list(filling)
        else:
            for index, value in enumerate(filling):
                if result[index] != value:
                    result[index] = -1
    return result


def solve_grid(
    rows: list[list[int]], cols: list[list[int]], log: list | None = None
) -> list[list[int]] | None:
    """Line solving to a fixed point, then branching on the first unknown cell (filled first); None if unsolvable.

    ``log`` receives ``("row"|"col", index, clue, cells)`` after each line that changed, and ``("guess", r, c, v)`` /
    ``("undo", r, c, v)`` around branches.
    """
    height, width = len(rows), len(cols)

    def propagate(grid: list[list[int]]) -> bool:
        changed = True
        while changed:
            changed = False
            for index in range(height):
                deduced = _line_deduce(tuple(rows[index]), grid[index])
                if deduced is None:
                    return False
                if deduced != grid[index]:
                    grid[index] = deduced
                    changed = True
                    if log is not None:
                        log.append(("row", index, rows[index], deduced))
            for index in range(width):
                column = [grid[r][index] for r in range(height)]
                deduced = _line_deduce(tuple(cols[index]), column)
                if deduced is None:
                    return False
                if deduced != column:
                    for r in range(height):
                        grid[r][index] = deduced[r]
                    changed = True
                    if log is not None:
                        log.append(("col", index, cols[index], deduced))
        return True

    def search(grid: list[list[int]]) -> list[list[int]] | None:
        if not propagate(grid):
            return None
        for r in range(height):
            for c in range(width):
                if grid[r][c] < 0:
                    for value in (1, 0):
                        trial = [list(row) for row in grid]
                        trial[r][c] = value
                        if log is not None:
                            log.append(("guess", r, c, value))
                        found = search(trial)
                        if found is not None:
                            return found
                        if log is not None:
                            log.append(("undo", r, c, value))
                    return None
        return grid

    return search([[-1] * width for _ in range(height)])


@functools.lru_cache(maxsize=16)
def count_clue_sets(width: int, height: int) -> int:
    """Exact number of distinct (row clues, column clues) pairs over all 2**(width*height) grids."""
    row_clue = [tuple(line_clue([bits >> c & 1 for c in range(width)])) for bits in range(1 << width)]
    col_clue = [tuple(line_clue([bits >> r & 1 for r in range(height)])) for bits in range(1 << height)]
    seen = set()
    for rows in itertools.product(range(1 << width), repeat=height):
        columns = tuple(
            col_clue[sum((row >> c & 1) << r for r, row in enumerate(rows))] for c in range(width)
        )
        seen.add((tuple(row_clue[row] for row in rows), columns))
    return len(seen)


def _distinct_line_clues(length: int) -> int:
    return len({tuple(line_clue(bits)) for bits in itertools.product((0, 1), repeat=length)})


def parse_grid(text: str, width: int, height: int) -> list[list[int]] | None:
    """0/1 grid from ``#``/``.`` (or ``1``/``0``) cells, any separators between cells and rows; None if malformed."""
    cells = []
    for char in text:
        if char in _FILLED:
            cells.append(1)
        elif char in _EMPTY:
            cells.append(0)
        elif char not in _SEPARATORS:
            return None
        if len(cells) > width * height:
            return None
    if len(cells) != width * height:
        return None
    return [cells[r * width : (r + 1) * width] for r in range(height)]


def _clue_text(clue: list[int]) -> str:
    return " ".join(map(str, clue)) if clue else "0"


def _cells_text(cells: list[int]) -> str:
    return "".join("#" if v == 1 else "." if v == 0 else "?" for v in cells)


@register_env
class Nonogram(Game):
    name = "nonogram"
    title = "Nonogram"
    family = "grid puzzle"
    category = "grid"
    description = "Fill a grid so that every row and column matches its run-length clue."
    Config = NonogramConfig
    levels = {
        "easy": {"width": 4, "height": 4},
        "medium": {"width": 5, "height": 5},
        "hard": {"width": 7, "height": 7},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        grid = [
            [int(rng.random() < cfg.fill_probability) for _ in range(cfg.width)] for _ in range(cfg.height)
        ]
        rows, cols = grid_clues(grid)
        problem = {"width": cfg.width, "height": cfg.height, "rows": rows, "cols": cols}
        return problem, "/".join(_cells_text(row) for row in grid)

    def instance_space(self) -> int:
        """Distinct clue sets: exact up to 16 cells, else the lower bound (distinct row clues) ** height."""
        cfg = self.config
        if cfg.width * cfg.height <= _EXACT_SPACE_MAX_CELLS:
            return count_clue_sets(cfg.width, cfg.height)
        return max(
            _distinct_line_clues(cfg.width) ** cfg.height, _distinct_line_clues(cfg.height) ** cfg.width
        )

    def prompt(self, instance: Instance) -> str:
        problem = instance.problem
        rows = "\n".join(f"  row {i + 1}: {_clue_text(c)}" for i, c in enumerate(problem["rows"]))
        cols = "\n".join(f"  column {i + 1}: {_clue_text(c)}" for i, c in enumerate(problem["cols"]))
        return (
            f"Solve this {problem['width']}x{problem['height']} nonogram. Each clue gives, in order, the lengths of "
            "the runs of filled cells in that line (0 means the line is empty); runs are separated by at least "
            f"one empty cell.\nRow clues (top to bottom):\n{rows}\nColumn clues (left to right):\n{cols}\n"
            "Think step by step, then give the grid inside <answer></answer>, one row per line, "
            "# for filled and . for empty."
        )

    def compact_prompt(self, instance: Instance) -> str:
        rows = ",".join(_clue_text(c) for c in instance.problem["rows"])
        cols = ",".join(_clue_text(c) for c in instance.problem["cols"])
        return f"r {rows} c {cols}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        if len(answer) > _MAX_ANSWER_CHARS:
            return False
        problem = instance.problem
        grid = parse_grid(answer, problem["width"], problem["height"])
        if grid is None:
            return False
        rows, cols = grid_clues(grid)
        return rows == problem["rows"] and cols == problem["cols"]

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        problem = instance.problem
        log: list = []
        grid = solve_grid(problem["rows"], problem["cols"], log)
        if grid is None:  # cannot happen: the clues come from a real grid
            grid = parse_grid(instance.answer, problem["width"], problem["height"]) or []
        lines = []
        for entry in log:
            kind = entry[0]
            if kind in ("row", "col"):
                _, index, clue, cells = entry
                if style == "steps":
                    lines.append(f"{kind[0]}{index + 1} [{_clue_text(clue)}] {_cells_text(cells)}")
                else:
                    line = "Row" if kind == "row" else "Column"
                    lines.append(
                        f"{line} {index + 1} with clue {_clue_text(clue)} is now {_cells_text(cells)}."
                    )
            else:
                _, r, c, value = entry
                mark = "#" if value else "."
                if style == "steps":
                    lines.append(f"{kind} r{r + 1}c{c + 1}={mark}")
                elif kind == "guess":
                    lines.append(f"Suppose row {r + 1}, column {c + 1} is {mark}.")
                else:
                    lines.append(f"That fails, so row {r + 1}, column {c + 1} is not {mark}.")
        answer = "\n".join(_cells_text(row) for row in grid)
        return "\n".join(lines) + f"\n<answer>\n{answer}\n</answer>"
