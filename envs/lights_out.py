"""Lights Out: switch every light off; pressing a cell toggles it and its orthogonal neighbours.

States are made solvable by construction (a random set of presses applied to the dark board). The verifier
simulates the presses, so any press set that darkens the board within the press budget is accepted.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_SEPARATORS = frozenset(" \t\r\n,;|/[](){}'\"")
_BUDGETS = ("minimal", "none")


@dataclass(frozen=True)
class LightsOutConfig:
    rows: int = 3
    cols: int = 4
    budget: str = "minimal"
    slack: int = 0

    def __post_init__(self) -> None:
        for knob in ("rows", "cols"):
            value = getattr(self, knob)
            if not isinstance(value, int) or not 2 <= value <= 7:
                raise ValueError(f"{knob} must be an integer in 2..7, got {value!r}")
        if self.budget not in _BUDGETS:
            raise ValueError(f"budget must be one of {_BUDGETS}, got {self.budget!r}")
        if not isinstance(self.slack, int) or self.slack < 0:
            raise ValueError("slack must be an integer >= 0")


# -- board algebra: a board is a tuple of row bitmasks (bit c = column c, 1 = lit / pressed) ----------------------
def press_rows(board: list[int], presses: list[int], cols: int) -> list[int]:
    """Board after pressing every cell set in ``presses`` (row bitmasks); each press toggles a plus shape."""
    full = (1 << cols) - 1
    out = list(board)
    for r, mask in enumerate(presses):
        if not mask:
            continue
        out[r] ^= (mask ^ (mask << 1) ^ (mask >> 1)) & full
        if r > 0:
            out[r - 1] ^= mask
        if r + 1 < len(out):
            out[r + 1] ^= mask
    return out


def chase(board: list[int], top: int, cols: int) -> tuple[list[int], list[int]]:
    """Light chasing: press ``top`` in the first row, then under every light still lit in each row.

    Returns (press rows, board afterwards); only the last row can still be lit. Every solution of a board is the
    chase of its own first row, so trying all first rows finds them all.
    """
    presses = [top] + [0] * (len(board) - 1)
    state = press_rows(board, [top], cols)
    for r in range(len(board) - 1):
        lit = state[r]
        if lit:
            presses[r + 1] = lit
            state = press_rows(state, [0] * (r + 1) + [lit], cols)
    return presses, state


def all_solutions(board: list[int], cols: int) -> list[tuple[int, list[int]]]:
    """Every press set that darkens ``board``, as (first-row pattern, press rows), first rows ascending."""
    found = []
    for top in range(1 << cols):
        presses, state = chase(board, top, cols)
        if not any(state):
            found.append((top, presses))
    return found


def press_count(presses: list[int]) -> int:
    return sum(mask.bit_count() for mask in presses)


def minimal_solution(board: list[int], cols: int) -> tuple[int, list[int]] | None:
    """The solution with the fewest presses (smallest first-row pattern on ties); None if unsolvable."""
    found = all_solutions(board, cols)
    if not found:
        return None
    return min(found, key=lambda item: (press_count(item[1]), item[0]))


@functools.lru_cache(maxsize=64)
def press_rank(rows: int, cols: int) -> int:
    """Rank over GF(2) of the press-effect matrix: 2**rank boards are solvable."""
    basis: list[int] = []
    for r in range(rows):
        for c in range(cols):
            rows_after = press_rows([0] * rows, [0] * r + [1 << c], cols)
            vector = 0
            for index, mask in enumerate(rows_after):
                vector |= mask << (index * cols)
            for element in basis:
                vector = min(vector, vector ^ element)
            if vector:
                basis.append(vector)
    return len(basis)


def row_bits(mask: int, cols: int) -> str:
    return "".join("1" if mask >> c & 1 else "0" for c in range(cols))


def format_grid(rows: list[int], cols: int, sep: str = "/") -> str:
    return sep.join(row_bits(mask, cols) for mask in rows)


def parse_grid(text: str, rows: int, cols: int) -> list[int] | None:
    """A rows x cols grid of 0/1 (any separators between digits) as row bitmasks; None if malformed."""
    bits: list[int] = []
    for char in text:
        if char in "01":
            bits.append(char == "1")
            if len(bits) > rows * cols:
                return None
        elif char not in _SEPARATORS:
            return None
    if len(bits) != rows * cols:
        return None
    return [sum(1 << c for c in range(cols) if bits[r * cols + c]) for r in range(rows)]


def _cells(mask: int, r: int, cols: int) -> list[str]:
    return [f"r{r + 1}c{c + 1}" for c in range(cols) if mask >> c & 1]


@register_env
class LightsOut(Game):
    """Turn every light off on a grid where each press toggles a cell and its orthogonal neighbours.

    **Rules.** A rows x cols grid of lights, each on (1) or off (0). Pressing a cell toggles it and the cells
    directly above, below, left and right of it. Pressing a cell twice undoes it, so a solution is a set of cells
    to press (in any order). Every state is generated by pressing a random set of cells on the dark board, so it is
    solvable. With ``budget="minimal"`` the solution may press at most the minimal number of cells (found by trying
    every first-row pattern and chasing the lights down, which enumerates all solutions) plus ``slack``.

    **Answer.** The press grid: ``rows`` lines (or ``/``-separated groups) of ``cols`` digits, 1 = press. Spaces,
    commas, brackets and newlines between digits are ignored. Any press set that turns every light off within the
    budget is accepted; on 4x4 and 5x5 boards several minimal press sets can exist.

    **Levels.** easy: 3x4 (every board has exactly one solution; 4,095 boards); medium: 4x4 (16 solutions per
    board; 4,095 boards); hard: 5x5 (4 solutions per board; 8,388,607 boards). Every level uses the minimal press
    budget. (A 3x3 board has only 511 solvable non-dark states, too few for a level.)

    **Example.** Compact prompt ``1010/1011/0011 <=8`` (a 3x4 board, at most 8 presses); answer
    ``1001/0101/1111``.
    """

    name = "lights_out"
    title = "LightsOut"
    family = "toggle puzzle"
    category = "search"
    description = "Press cells (each toggles itself and its neighbours) until every light is off."
    Config = LightsOutConfig
    levels = {
        "easy": {"rows": 3, "cols": 4},
        "medium": {"rows": 4, "cols": 4},
        "hard": {"rows": 5, "cols": 5},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        while True:
            pressed = [rng.getrandbits(cfg.cols) for _ in range(cfg.rows)]
            board = press_rows([0] * cfg.rows, pressed, cfg.cols)
            if any(board):
                break
        best = minimal_solution(board, cfg.cols)
        assert best is not None  # built by pressing, so solvable
        presses = best[1]
        budget = press_count(presses) + cfg.slack if cfg.budget == "minimal" else None
        problem = {
            "rows": cfg.rows,
            "cols": cfg.cols,
            "lights": [row_bits(mask, cfg.cols) for mask in board],
            "max_presses": budget,
        }
        return problem, format_grid(presses, cfg.cols)

    def instance_space(self) -> int:
        """Exactly the non-dark solvable boards: 2**rank - 1 (the budget is a function of the board)."""
        return (1 << press_rank(self.config.rows, self.config.cols)) - 1

    @staticmethod
    def _board(instance: Instance) -> tuple[int, int, list[int]]:
        problem = instance.problem
        cols = problem["cols"]
        board = [sum(1 << c for c in range(cols) if row[c] == "1") for row in problem["lights"]]
        return problem["rows"], cols, board

    def _budget_text(self, instance: Instance) -> str:
        budget = instance.problem["max_presses"]
        if budget is None:
            return "There is no limit on the number of presses."
        return f"Press at most {budget} cells."

    def prompt(self, instance: Instance) -> str:
        rows, cols, _ = self._board(instance)
        grid = "\n".join(instance.problem["lights"])
        return (
            f"Lights Out on a {rows}x{cols} grid. Each cell is a light: 1 is on, 0 is off. Pressing a cell toggles "
            "that light and the lights directly above, below, left and right of it (where they exist). Pressing "
            "a cell twice cancels out, so only the set of pressed cells matters. Turn every light off. "
            f"{self._budget_text(instance)}\n\n{grid}\n\n"
            f"Think step by step, then give the cells to press inside <answer></answer> as a {rows}x{cols} grid "
            f"of 0s and 1s (1 = press), one row per line or rows separated by '/', for example "
            f"<answer>{format_grid([1] + [0] * (rows - 1), cols)}</answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        rows, cols, _ = self._board(instance)
        budget = instance.problem["max_presses"]
        limit = "" if budget is None else f" <={budget}"
        return f"{'/'.join(instance.problem['lights'])}{limit}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        rows, cols, board = self._board(instance)
        if len(answer) > 8 * rows * cols + 64:
            return False
        presses = parse_grid(answer, rows, cols)
        if presses is None:
            return False
        budget = instance.problem["max_presses"]
        if budget is not None and press_count(presses) > budget:
            return False
        return not any(press_rows(board, presses, cols))

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        rows, cols, board = self._board(instance)
        found = all_solutions(board, cols)
        top, presses = min(found, key=lambda item: (press_count(item[1]), item[0]))
        lines = []
        if style == "steps":
            lines.append(f"lights {format_grid(board, cols)}")
            for pattern in range(1 << cols):
                trial, state = chase(board, pattern, cols)
                result = f"ok {press_count(trial)}" if not any(state) else f"left {row_bits(state[-1], cols)}"
                lines.append(f"top {row_bits(pattern, cols)}: {result}")
            lines.append(f"best top {row_bits(top, cols)} ({press_count(presses)} presses)")
            state = list(board)
            for r, mask in enumerate(presses):
                state = press_rows(state, [0] * r + [mask], cols)
                lines.append(f"row {r + 1} press {row_bits(mask, cols)}: {format_grid(state, cols)}")
        else:
            lines.append(
                "I use light chasing. Once the presses in the top row are chosen, every light still on in a row "
                "can only be switched off by pressing the cell directly below it, so the rest of the presses are "
                f"forced. I try all {1 << cols} choices for the top row and keep those that leave the bottom row "
                "dark."
            )
            working = ", ".join(
                f"{row_bits(pattern, cols)} ({press_count(trial)} presses)" for pattern, trial in found
            )
            plural = "s clear" if len(found) > 1 else " clears"
            lines.append(f"The top-row choice{plural} the board: {working}.")
            lines.append(f"The fewest presses come from top row {row_bits(top, cols)}.")
            for r, mask in enumerate(presses):
                cells = _cells(mask, r, cols)
                if r == 0:
                    lines.append(f"In row 1 press {', '.join(cells) if cells else 'nothing'}.")
                elif cells:
                    lines.append(
                        f"The lights still on in row {r} are switched off by pressing {', '.join(cells)}."
                    )
                else:
                    lines.append(f"Row {r} is already dark, so nothing is pressed in row {r + 1}.")
            lines.append(f"That is {press_count(presses)} presses and every light is off.")
        answer = format_grid(presses, cols, "\n")
        return "\n".join(lines) + f"\n<answer>\n{answer}\n</answer>"
