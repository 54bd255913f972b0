"""Sudoku on 4x4, 6x6 (2x3 boxes) and 9x9 grids: fill the blanks so every row, column and box holds 1..n once."""

from __future__ import annotations

import random
from dataclasses import dataclass
from math import comb, perm
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

#: Box shape (rows, columns) for each supported grid size.
BOX_SHAPES = {4: (2, 2), 6: (2, 3), 9: (3, 3)}
_MAX_ANSWER_CHARS = 400
_IGNORED_IN_ROWS = " \t\r,|"


@dataclass(frozen=True)
class SudokuConfig:
    size: int = 4
    clues: int = 8

    def __post_init__(self) -> None:
        if self.size not in BOX_SHAPES:
            raise ValueError(f"size must be one of {sorted(BOX_SHAPES)}, got {self.size!r}")
        cells = self.size * self.size
        if not 1 <= self.clues <= cells - 1:
            raise ValueError(
                f"clues must be in 1..{cells - 1} for a {self.size}x{self.size} grid, got {self.clues!r}"
            )


def box_index(row: int, col: int, size: int) -> int:
    box_rows, box_cols = BOX_SHAPES[size]
    return (row // box_rows) * (size // box_cols) + col // box_cols


def full_grid(size: int, rng: random.Random) -> list[list[int]]:
    """A random valid full grid: the standard pattern grid, then validity-preserving shuffles.

    Pattern: value(r, c) = (box_cols * (r mod box_rows) + r div box_rows + c) mod n, then rows within each band, the
    bands, columns within each stack, the stacks and the digit labels are permuted at random.
    """
    box_rows, box_cols = BOX_SHAPES[size]
    bands, stacks = size // box_rows, size // box_cols

    def shuffled(items: list[int]) -> list[int]:
        items = list(items)
        rng.shuffle(items)
        return items

    row_order = [
        band * box_rows + r for band in shuffled(list(range(bands))) for r in shuffled(list(range(box_rows)))
    ]
    col_order = [
        stack * box_cols + c
        for stack in shuffled(list(range(stacks)))
        for c in shuffled(list(range(box_cols)))
    ]
    digits = shuffled(list(range(1, size + 1)))
    return [
        [digits[(box_cols * (r % box_rows) + r // box_rows + c) % size] for c in col_order] for r in row_order
    ]


def is_valid_solution(grid: list[list[int]], size: int) -> bool:
    """Every row, column and box of ``grid`` holds each of 1..size exactly once."""
    want = set(range(1, size + 1))
    for index in range(size):
        if set(grid[index]) != want or {grid[r][index] for r in range(size)} != want:
            return False
    boxes: list[set[int]] = [set() for _ in range(size)]
    for r in range(size):
        for c in range(size):
            boxes[box_index(r, c, size)].add(grid[r][c])
    return all(box == want for box in boxes)


def parse_grid(answer: str, size: int) -> list[list[int]] | None:
    """Rows separated by ``/`` or newlines, digits per row; None unless it is a size x size grid of 1..size."""
    if len(answer) > _MAX_ANSWER_CHARS:
        return None
    rows = []
    for raw in answer.replace("\n", "/").split("/"):
        row = "".join(ch for ch in raw if ch not in _IGNORED_IN_ROWS)
        if row:
            rows.append(row)
    if len(rows) != size or any(len(row) != size for row in rows):
        return None
    grid = []
    for row in rows:
        if not all("1" <= ch <= str(size) for ch in row):
            return None
        grid.append([int(ch) for ch in row])
    return grid


def _solve_events(rows: list[str], size: int) -> tuple[list[list[int]], list[tuple]]:
    """Depth-first search, most-constrained cell first (bitmask candidates), smallest digit first.

    Returns the solved grid and the events of the search: ("set", r, c, d) for a forced cell, ("try", r, c, d,
    options) for a branch, ("dead", r, c, undo_r, undo_c) for a cell left without candidates.
    """
    full = (1 << (size + 1)) - 2
    grid = [[0 if ch == "." else int(ch) for ch in row] for row in rows]
    row_used, col_used, box_used = [0] * size, [0] * size, [0] * size
    for r in range(size):
        for c in range(size):
            if grid[r][c]:
                bit = 1 << grid[r][c]
                row_used[r] |= bit
                col_used[c] |= bit
                box_used[box_index(r, c, size)] |= bit
    events: list[tuple] = []
    branch_stack: list[tuple[int, int]] = []

    def place(r: int, c: int, digit: int, on: bool) -> None:
        bit = 1 << digit
        b = box_index(r, c, size)
        if on:
            row_used[r] |= bit
            col_used[c] |= bit
            box_used[b] |= bit
            grid[r][c] = digit
        else:
            row_used[r] &= ~bit
            col_used[c] &= ~bit
            box_used[b] &= ~bit
            grid[r][c] = 0

    def search() -> bool:
        best = None
        best_count = size + 1
        for r in range(size):
            for c in range(size):
                if grid[r][c]:
                    continue
                mask = full & ~(row_used[r] | col_used[c] | box_used[box_index(r, c, size)])
                count = bin(mask).count("1")
                if count < best_count:
                    best, best_count = (r, c, mask), count
                    if count <= 1:
                        break
            if best_count <= 1:
                break
        if best is None:
            return True
        r, c, mask = best
        if best_count == 0:
            undo = branch_stack[-1] if branch_stack else (r, c)
            events.append(("dead", r, c, *undo))
            return False
        options = [d for d in range(1, size + 1) if mask >> d & 1]
        if len(options) == 1:
            events.append(("set", r, c, options[0]))
            place(r, c, options[0], True)
            if search():
                return True
            place(r, c, options[0], False)
            return False
        branch_stack.append((r, c))
        for digit in options:
            events.append(("try", r, c, digit, options))
            place(r, c, digit, True)
            if search():
                return True
            place(r, c, digit, False)
        branch_stack.pop()
        return False

    if not search():
        raise RuntimeError("sudoku has no completion")  # the generator always leaves one
    return grid, events


@register_env
class Sudoku(Game):
    """Sudoku on 4x4, 6x6 (2x3 boxes) and 9x9 grids: fill the blanks so every row, column and box holds 1..n
    once.

    Answer: the completed grid, rows from top to bottom separated by ``/`` or newlines, each row written as
    its digits (``1234/3412/2143/4321``); spaces, commas and ``|`` inside a row are ignored. Clues are removed
    from a full grid at random and uniqueness is not required, so the verifier accepts ANY valid completion
    consistent with the clues.

    **Differences from reasoning-gym.** reasoning-gym's ``sudoku`` (9x9) and ``mini_sudoku`` (4x4) compare the
    answer with their stored solution where pearbench checks the rules; their puzzles have a unique solution,
    so the verdicts agree (tests/test_rg_agreement.py), but on a puzzle with several completions reasoning-gym
    would reject all but one.
    """

    name = "sudoku"
    title = "Sudoku"
    family = "grid puzzle"
    category = "grid"
    description = "Complete a 4x4, 6x6 or 9x9 Sudoku grid (any valid completion of the clues counts)."
    Config = SudokuConfig
    levels = {
        "easy": {"size": 4, "clues": 8},
        "medium": {"size": 6, "clues": 20},
        "hard": {"size": 9, "clues": 36},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        size = self.config.size
        grid = full_grid(size, rng)
        keep = set(rng.sample(range(size * size), self.config.clues))
        rows = [
            "".join(str(grid[r][c]) if r * size + c in keep else "." for c in range(size))
            for r in range(size)
        ]
        answer = "/".join("".join(str(d) for d in row) for row in grid)
        return {"size": size, "box": list(BOX_SHAPES[size]), "grid": rows}, answer

    def instance_space(self) -> int:
        """Lower bound C(n^2, clues) * n!/(n-d)!, d = ceil(clues/n).

        Every clue mask is reachable and masks differ visibly; the digits of the clues include at least d distinct
        values (each digit fills only n cells), and relabelling them gives n!/(n-d)! distinct puzzles per mask.
        """
        size, clues = self.config.size, self.config.clues
        distinct_digits = -(-clues // size)
        return comb(size * size, clues) * perm(size, distinct_digits)

    def prompt(self, instance: Instance) -> str:
        size = instance.problem["size"]
        box_rows, box_cols = instance.problem["box"]
        grid = "\n".join(instance.problem["grid"])
        example = "/".join(["".join(str(d) for d in range(1, size + 1))] + ["..."])
        return (
            f"Solve this {size}x{size} Sudoku. Fill every '.' with a digit from 1 to {size} so that each row, "
            f"each column and each {box_rows}x{box_cols} box contains every digit from 1 to {size} exactly once. "
            "Any completion that follows these rules and keeps the given digits is accepted.\n"
            f"{grid}\n"
            "Show your steps, then give the completed grid inside <answer></answer>: the rows from top to bottom, "
            f"each written as its {size} digits, separated by '/' or put one per line (for example "
            f"<answer>{example}</answer>)."
        )

    def compact_prompt(self, instance: Instance) -> str:
        return "/".join(instance.problem["grid"]) + "\n"

    def check(self, instance: Instance, answer: str) -> bool:
        size = instance.problem["size"]
        grid = parse_grid(answer, size)
        if grid is None:
            return False
        for r, row in enumerate(instance.problem["grid"]):
            for c, ch in enumerate(row):
                if ch != "." and grid[r][c] != int(ch):
                    return False
        return is_valid_solution(grid, size)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        size = instance.problem["size"]
        grid, events = _solve_events(instance.problem["grid"], size)
        lines = []
        for event in events:
            kind, r, c = event[0], event[1] + 1, event[2] + 1
            if kind == "set":
                digit = event[3]
                lines.append(
                    f"r{r}c{c}={digit}" if style == "steps" else f"Row {r}, column {c} can only be {digit}."
                )
            elif kind == "try":
                digit, options = event[3], event[4]
                if style == "steps":
                    lines.append(f"r{r}c{c}={digit}? ({','.join(map(str, options))})")
                else:
                    choices = " or ".join(map(str, options))
                    lines.append(f"Row {r}, column {c} could be {choices}; try {digit}.")
            else:
                undo_r, undo_c = event[3] + 1, event[4] + 1
                if style == "steps":
                    lines.append(f"r{r}c{c} none, undo to r{undo_r}c{undo_c}")
                else:
                    lines.append(
                        f"Row {r}, column {c} has no possible digit, so go back to row {undo_r}, column {undo_c}."
                    )
        answer = "/".join("".join(str(d) for d in row) for row in grid)
        return "\n".join(lines) + f"\n<answer>{answer}</answer>"
