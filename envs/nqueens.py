"""N-Queens completion: some queens are already on an n x n board; place the rest so that no two attack each other.

Answer: the column (1..n) of the queen in each row, top to bottom, e.g. ``2,4,1,3``; ``(row, col)`` pairs and a board
drawn with ``Q`` and ``.`` are tolerated. ANY valid completion that keeps the pre-placed queens is accepted, not only
the stored one (``multiple_solutions``).
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_SEPARATORS = frozenset(" \t\r\n,;:()[]{}|/'\"")
_BOARD_EMPTY = frozenset("._-0xX")
_BOARD_QUEEN = frozenset("Qq")
_MAX_ANSWER_CHARS = 2_000
#: instance_space() is counted exactly (all solutions x pre-placed subsets) up to this board size.
_EXACT_SPACE_MAX_N = 10


@dataclass(frozen=True)
class NQueensConfig:
    n: int = 8
    min_placed: int = 4
    max_placed: int = 5

    def __post_init__(self) -> None:
        if not 4 <= self.n <= 16:
            raise ValueError("n must be in 4..16")
        if not 0 <= self.min_placed <= self.max_placed < self.n:
            raise ValueError("need 0 <= min_placed <= max_placed < n")


def is_valid_placement(columns: list[int]) -> bool:
    """True iff ``columns[row]`` (0-based) puts one queen per row with no shared column or diagonal."""
    n = len(columns)
    return (
        all(0 <= c < n for c in columns)
        and len(set(columns)) == n
        and len({r + c for r, c in enumerate(columns)}) == n
        and len({r - c for r, c in enumerate(columns)}) == n
    )


def search(
    n: int, fixed: dict[int, int], rng: random.Random | None = None, log: list | None = None
) -> list[int] | None:
    """Depth-first search with forward checking; first solution (0-based column per row) or None.

    At each step the free row with the fewest safe columns is filled next (ties: topmost row); a free row left with
    no safe column is a dead end. Columns are tried left to right, or shuffled with ``rng``. ``fixed`` maps 0-based
    rows to pre-placed columns. ``log`` receives ``(row, safe_columns)``, ``(row, column)`` and ``(row, None)``
    (undo) entries for traces.
    """
    columns = [-1] * n
    used_cols = set(fixed.values())
    used_diag = {r + c for r, c in fixed.items()}
    used_anti = {r - c for r, c in fixed.items()}
    if len(used_cols) != len(fixed) or len(used_diag) != len(fixed) or len(used_anti) != len(fixed):
        return None  # pre-placed queens attack each other
    for row, col in fixed.items():
        columns[row] = col

    def safe(row: int) -> list[int]:
        return [
            c
            for c in range(n)
            if c not in used_cols and row + c not in used_diag and row - c not in used_anti
        ]

    def place() -> bool:
        free = [row for row in range(n) if columns[row] < 0]
        if not free:
            return True
        options = {row: safe(row) for row in free}
        row = min(free, key=lambda r: (len(options[r]), r))
        candidates = options[row]
        if rng is not None:
            rng.shuffle(candidates)
        if log is not None:
            log.append((row, list(candidates)))
        for col in candidates:
            columns[row] = col
            used_cols.add(col)
            used_diag.add(row + col)
            used_anti.add(row - col)
            if log is not None:
                log.append((row, col))
            if place():
                return True
            used_cols.discard(col)
            used_diag.discard(row + col)
            used_anti.discard(row - col)
            columns[row] = -1
            if log is not None:
                log.append((row, None))
        return False

    return list(columns) if place() else None


@functools.lru_cache(maxsize=8)
def all_solutions(n: int) -> tuple[tuple[int, ...], ...]:
    """Every solution of the n-queens problem (0-based columns per row), by exhaustive backtracking."""
    solutions: list[tuple[int, ...]] = []
    columns = [0] * n

    def place(row: int, cols: int, diag: int, anti: int) -> None:
        if row == n:
            solutions.append(tuple(columns))
            return
        for col in range(n):
            if not (cols >> col) & 1 and not (diag >> (row + col)) & 1 and not (anti >> (row - col + n)) & 1:
                columns[row] = col
                place(row + 1, cols | 1 << col, diag | 1 << (row + col), anti | 1 << (row - col + n))

    place(0, 0, 0, 0)
    return tuple(solutions)


@functools.lru_cache(maxsize=8)
def count_partial_boards(n: int, min_placed: int, max_placed: int) -> int:
    """Distinct sets of pre-placed queens (min..max of them) that extend to at least one full solution."""
    boards: set[int] = set()
    for solution in all_solutions(n):
        # a board as one integer: 5 bits per row holding column + 1 (0 = no queen in that row)
        codes = [(col + 1) << (5 * row) for row, col in enumerate(solution)]
        for k in range(min_placed, max_placed + 1):
            boards.update(map(sum, itertools.combinations(codes, k)))
    return len(boards)


def parse_placement(text: str, n: int) -> list[int] | None:
    """0-based column per row from ``3,1,4,2`` / ``(1,3),(2,1),...`` / a Q-and-dot board; None if malformed."""
    if any(char in _BOARD_QUEEN for char in text):
        cells = [char for char in text if char not in _SEPARATORS]
        if len(cells) != n * n or any(c not in _BOARD_QUEEN and c not in _BOARD_EMPTY for c in cells):
            return None
        columns = []
        for row in range(n):
            queens = [col for col in range(n) if cells[row * n + col] in _BOARD_QUEEN]
            if len(queens) != 1:
                return None
            columns.append(queens[0])
        return columns
    numbers: list[int] = []
    token = ""
    for char in text + " ":
        if char.isdigit() and char.isascii():
            token += char
            if len(token) > 3:
                return None
        elif char in _SEPARATORS:
            if token:
                numbers.append(int(token))
                token = ""
                if len(numbers) > 2 * n:
                    return None
        else:
            return None
    if len(numbers) == n:
        return [c - 1 for c in numbers]
    if len(numbers) == 2 * n:
        columns = [-1] * n
        for index in range(0, 2 * n, 2):
            row, col = numbers[index] - 1, numbers[index + 1] - 1
            if not 0 <= row < n or columns[row] != -1:
                return None
            columns[row] = col
        return columns
    return None


@register_env
class NQueens(Game):
    name = "nqueens"
    title = "NQueens"
    family = "constraint satisfaction"
    category = "grid"
    description = "Complete an n-queens board on which some queens are already placed."
    Config = NQueensConfig
    levels = {
        "easy": {"n": 8, "min_placed": 4, "max_placed": 5},
        "medium": {"n": 10, "min_placed": 3, "max_placed": 4},
        "hard": {"n": 12, "min_placed": 2, "max_placed": 3},
    }
    trace_styles = ("steps", "board", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        solution = search(cfg.n, {}, rng=rng)
        assert solution is not None  # every n >= 4 has a solution
        k = rng.randint(cfg.min_placed, cfg.max_placed)
        rows = sorted(rng.sample(range(cfg.n), k))
        problem = {"n": cfg.n, "placed": [[row + 1, solution[row] + 1] for row in rows]}
        return problem, ",".join(str(c + 1) for c in solution)

    def instance_space(self) -> int | None:
        """Exact count of distinct pre-placed boards for n <= 10; None (far more than any split) beyond."""
        cfg = self.config
        if cfg.n > _EXACT_SPACE_MAX_N:
            return None
        return count_partial_boards(cfg.n, cfg.min_placed, cfg.max_placed)

    @staticmethod
    def _fixed(instance: Instance) -> dict[int, int]:
        return {row - 1: col - 1 for row, col in instance.problem["placed"]}

    def prompt(self, instance: Instance) -> str:
        n = instance.problem["n"]
        placed = ", ".join(f"(row {r}, column {c})" for r, c in instance.problem["placed"]) or "none"
        return (
            f"On an {n}x{n} chessboard, queens are already placed at: {placed}. Place the remaining queens so that "
            f"there is exactly one queen in every row and no two queens share a column or a diagonal. "
            f"Rows and columns are numbered 1 to {n}. Think step by step, then give the column of the queen in each "
            f"row, from row 1 to row {n}, as comma-separated numbers inside <answer></answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        placed = " ".join(f"{r}:{c}" for r, c in instance.problem["placed"])
        return f"q{instance.problem['n']} {placed}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        if len(answer) > _MAX_ANSWER_CHARS:
            return False
        n = instance.problem["n"]
        columns = parse_placement(answer, n)
        if columns is None or not is_valid_placement(columns):
            return False
        return all(columns[row] == col for row, col in self._fixed(instance).items())

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        n = instance.problem["n"]
        fixed = self._fixed(instance)
        log: list = []
        columns = search(n, fixed, log=log)
        if columns is None:  # cannot happen for generated instances; fall back to the gold answer
            columns = [c - 1 for c in map(int, instance.answer.split(","))]
        answer = ",".join(str(c + 1) for c in columns)
        if style == "steps":
            lines = [f"given {' '.join(f'r{r + 1}c{c + 1}' for r, c in sorted(fixed.items()))}"]
            for row, entry in log:
                if isinstance(entry, list):
                    lines.append(f"r{row + 1} safe {' '.join(str(c + 1) for c in entry) or 'none'}")
                elif entry is None:
                    lines.append(f"r{row + 1} undo")
                else:
                    lines.append(f"r{row + 1} c{entry + 1}")
        elif style == "words":
            given = ", ".join(f"row {r + 1} column {c + 1}" for r, c in sorted(fixed.items())) or "none"
            lines = [f"The queens already placed are at: {given}."]
            for row, entry in log:
                if isinstance(entry, list):
                    safe = ", ".join(str(c + 1) for c in entry)
                    lines.append(
                        f"In row {row + 1} the safe columns are {safe}."
                        if entry
                        else f"Row {row + 1} has no safe column."
                    )
                elif entry is None:
                    lines.append(f"That is a dead end, so I take back the queen in row {row + 1}.")
                else:
                    lines.append(f"I put a queen in row {row + 1}, column {entry + 1}.")
            lines.append("Every row and column now has one queen and no diagonal holds two.")
        else:
            lines = [
                f"Queens are fixed in rows {', '.join(str(r + 1) for r in sorted(fixed)) or 'none'}. "
                "Filling the most constrained row first, backtracking on dead ends, gives this board:"
            ]
            lines += ["".join("Q" if columns[row] == col else "." for col in range(n)) for row in range(n)]
            lines.append("Every row and column has one queen and no diagonal holds two.")
        return "\n".join(lines) + f"\n<answer>{answer}</answer>"
