"""Futoshiki: fill an n x n grid with 1..n, each once per row and column, obeying inequalities between neighbours."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Any

from pearbench.envs._propagate import (
    Contradiction,
    eliminate_singles,
    hidden_singles,
    low,
    mask_values,
    narrow,
    parse_square_grid,
    random_latin_square,
    search,
    solved,
)
from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_MAX_ANSWER_CHARS = 2_000
#: generation adds clues this many at a time between propagations (pruning removes any excess)
_ADD_BATCH = 3


@dataclass(frozen=True)
class FutoshikiConfig:
    size: int = 4
    inequality_share: float = 0.7
    extra_givens: int = 0

    def __post_init__(self) -> None:
        if not 3 <= self.size <= 7:
            raise ValueError("size must be in 3..7")
        if not 0.0 <= self.inequality_share <= 1.0:
            raise ValueError("inequality_share must be in [0, 1]")
        if not 0 <= self.extra_givens <= self.size * self.size:
            raise ValueError("extra_givens must be in 0..size*size")


# -- solver (domains are bitmasks over values 1..n: bit v-1 set = v possible; see _propagate) -------------------
@functools.lru_cache(maxsize=16)
def _layout(n: int) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
    """Units (rows, then columns) and peers of every cell of an n x n grid (cells numbered r * n + c)."""
    units = tuple(tuple(r * n + c for c in range(n)) for r in range(n))
    units += tuple(tuple(r * n + c for r in range(n)) for c in range(n))
    peers = tuple(
        tuple(sorted({p for unit in units if cell in unit for p in unit} - {cell})) for cell in range(n * n)
    )
    return units, peers


class _Solver:
    """Constraint propagation (singles, hidden singles, inequality bounds) plus depth-first search.

    ``givens``: {(r, c): v}; ``less``: list of ((r1, c1), (r2, c2)) meaning cell1 < cell2. Cells are r * n + c.
    With a ``log`` list, records ``("set", cell, value, reason)``, ``("bound", cell, values, reason)``,
    ``("guess", cell, value)`` and ``("undo", cell, value)`` events for traces.
    """

    def __init__(self, n: int, givens: dict[tuple[int, int], int], less, log: list | None = None) -> None:
        self.n = n
        self.full = (1 << n) - 1
        self.givens = givens
        self.less = [(r1 * n + c1, r2 * n + c2) for (r1, c1), (r2, c2) in less]
        self.log = log
        self.units, self.peers = _layout(n)

    def _name(self, cell: int) -> str:
        return f"r{cell // self.n + 1}c{cell % self.n + 1}"

    def _record(self, cell: int, new: int, reason: str) -> None:
        if new & (new - 1) == 0:
            self.log.append(("set", cell, low(new), reason))
        else:
            self.log.append(("bound", cell, mask_values(new), reason))

    def _note_peer(self, cell: int, new: int, fixed: int, value: int) -> None:
        self._record(cell, new, f"{self._name(fixed)}={value}")

    def _note_hidden(self, cell: int, new: int, unit: int, value: int) -> None:
        line = f"row {unit + 1}" if unit < self.n else f"column {unit - self.n + 1}"
        self._record(cell, new, f"only place for {value} in {line}")

    def propagate(self, domains: list[int]) -> None:
        """Shrink ``domains`` in place to a fixed point; raises Contradiction when a cell or value has no place."""
        n, full, peers, log = self.n, self.full, self.peers, self.log
        peer_note = None if log is None else self._note_peer
        hidden_note = None if log is None else self._note_hidden
        cells = range(n * n)
        spread = [False] * (n * n)  # singles already removed from their peers
        changed = True
        while changed:
            changed = eliminate_singles(domains, cells, peers, spread, peer_note)
            for a, b in self.less:
                # a < b: a below the largest value b may take, then b above the smallest value a may take
                da, db = domains[a], domains[b]
                mask = (1 << (db.bit_length() - 1)) - 1
                if da & mask != da:
                    narrow(domains, a, mask)
                    changed = True
                    da, db = domains[a], domains[b]  # (b may be a)
                    if log is not None:
                        self._record(a, da, f"{self._name(a)}<{self._name(b)}")
                mask = full & ~((da & -da) * 2 - 1)
                if db & mask != db:
                    narrow(domains, b, mask)
                    changed = True
                    if log is not None:
                        self._record(b, domains[b], f"{self._name(a)}<{self._name(b)}")
            changed |= hidden_singles(domains, enumerate(self.units), full, hidden_note)

    def initial(self) -> list[int]:
        domains = [self.full] * (self.n * self.n)
        for (r, c), value in sorted(self.givens.items()):
            domains[r * self.n + c] = 1 << (value - 1)
        return domains

    def solutions(self, limit: int) -> list[list[int]]:
        """Up to ``limit`` solutions, each a flat list of values (row-major)."""
        return search(self.initial(), self.propagate, limit, self.log)


def _solved_by_propagation(n: int, grid: list[list[int]], clues: list[tuple[str, Any]]) -> bool:
    givens = {cell: grid[cell[0]][cell[1]] for kind, cell in clues if kind == "given"}
    less = [pair for kind, pair in clues if kind == "less"]
    solver = _Solver(n, givens, less)
    domains = solver.initial()
    try:
        solver.propagate(domains)
    except Contradiction:  # pragma: no cover - clues taken from a real solution never contradict
        return False
    return solved(domains)


def count_solutions(n: int, givens: dict[tuple[int, int], int], less, limit: int = 2) -> int:
    return len(_Solver(n, givens, less).solutions(limit))


def is_valid_grid(grid: list[list[int]], n: int) -> bool:
    full = set(range(1, n + 1))
    return all(set(row) == full for row in grid) and all(
        {grid[r][c] for r in range(n)} == full for c in range(n)
    )


def parse_grid(text: str, n: int) -> list[list[int]] | None:
    """Digits row-major with any separators; None if anything else appears or the count is not n*n."""
    return parse_square_grid(text, n)


def render_board(n: int, givens: dict[tuple[int, int], int], less: list) -> list[str]:
    """Text board: ``_`` for blanks, ``<``/``>`` between row neighbours, ``^``/``v`` below a cell (upper < / > lower)."""
    horizontal: dict[tuple[int, int], str] = {}
    vertical: dict[tuple[int, int], str] = {}
    for (r1, c1), (r2, c2) in less:
        if r1 == r2:
            left, sign = (min(c1, c2), "<" if c1 < c2 else ">")
            horizontal[(r1, left)] = sign
        else:
            top, sign = (min(r1, r2), "^" if r1 < r2 else "v")
            vertical[(top, c1)] = sign
    lines = []
    for r in range(n):
        row = ""
        for c in range(n):
            row += str(givens[(r, c)]) if (r, c) in givens else "_"
            if c < n - 1:
                row += f" {horizontal.get((r, c), ' ')} "
        lines.append(row.rstrip())
        if r < n - 1:
            lines.append("   ".join(vertical.get((r, c), " ") for c in range(n)).rstrip())
    return lines


@register_env
class Futoshiki(Game):
    """Futoshiki: fill an n x n grid with 1..n, each once per row and column, obeying inequalities between
    neighbours.

    Some cells are given; some horizontally or vertically adjacent pairs carry a ``<``/``>`` sign. Puzzles are
    built to have exactly one solution: clues are added until constraint propagation alone (singles, hidden
    singles, inequality bounds) fixes every cell, then every clue it can do without is removed. The verifier
    checks the rules, so any grid that satisfies them all is accepted (there is only one).

    Answer: the grid row by row, e.g. ``1234/3412/2143/4321`` (digits; rows separated by ``/``, newlines or
    spaces).

    **Differences from reasoning-gym.** reasoning-gym's ``futoshiki`` (4x4 to 9x9) compares the answer with
    its stored solution where pearbench checks the rules; its puzzles have a unique solution, so the verdicts
    agree (tests/test_rg_agreement.py). pearbench generates sizes 3 to 7; its verifier reads any size.
    """

    name = "futoshiki"
    title = "Futoshiki"
    family = "grid puzzle"
    category = "grid"
    description = "Fill a Latin square that obeys inequality signs between neighbouring cells."
    Config = FutoshikiConfig
    levels = {
        "easy": {"size": 4, "extra_givens": 2},
        "medium": {"size": 5, "extra_givens": 1},
        "hard": {"size": 6, "extra_givens": 0},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = False

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        n = cfg.size
        grid = random_latin_square(n, rng)
        pairs = [((r, c), (r, c + 1)) for r in range(n) for c in range(n - 1)]
        pairs += [((r, c), (r + 1, c)) for r in range(n - 1) for c in range(n)]
        inequalities = [(a, b) if grid[a[0]][a[1]] < grid[b[0]][b[1]] else (b, a) for a, b in pairs]
        cells = [(r, c) for r in range(n) for c in range(n)]
        rng.shuffle(inequalities)
        rng.shuffle(cells)
        clues: list[tuple[str, Any]] = []
        while inequalities or cells:
            take_inequality = inequalities and (not cells or rng.random() < cfg.inequality_share)
            clues.append(("less", inequalities.pop()) if take_inequality else ("given", cells.pop()))

        # add clues until propagation alone fixes every cell (so the solution is unique and needs no guessing),
        # then drop every clue the puzzle can do without, givens first
        solver = _Solver(n, {}, [])
        domains = solver.initial()
        selected: list[tuple[str, Any]] = []
        for number, clue in enumerate(clues, start=1):
            selected.append(clue)
            if clue[0] == "given":
                (r, c) = clue[1]
                domains[r * n + c] &= 1 << (grid[r][c] - 1)
            else:
                solver.less.append(tuple(r * n + c for r, c in clue[1]))
            if number % _ADD_BATCH == 0 or number == len(clues):
                solver.propagate(domains)
                if solved(domains):
                    break
        for clue in sorted(selected, key=lambda item: item[0] != "given"):
            trial = [other for other in selected if other is not clue]
            if _solved_by_propagation(n, grid, trial):
                selected = trial
        given_cells = {cell for kind, cell in selected if kind == "given"}
        spare = [(r, c) for r in range(n) for c in range(n) if (r, c) not in given_cells]
        rng.shuffle(spare)
        given_cells |= set(spare[: cfg.extra_givens])
        problem = {
            "size": n,
            "givens": sorted([r + 1, c + 1, grid[r][c]] for r, c in given_cells),
            "less": sorted(
                [a[0] + 1, a[1] + 1, b[0] + 1, b[1] + 1] for kind, (a, b) in selected if kind == "less"
            ),
        }
        return problem, "/".join("".join(map(str, row)) for row in grid)

    def instance_space(self) -> None:
        return None  # random Latin square x clue subset: far beyond any split size

    @staticmethod
    def _constraints(instance: Instance) -> tuple[int, dict[tuple[int, int], int], list]:
        problem = instance.problem
        givens = {(r - 1, c - 1): v for r, c, v in problem["givens"]}
        less = [((r1 - 1, c1 - 1), (r2 - 1, c2 - 1)) for r1, c1, r2, c2 in problem["less"]]
        return problem["size"], givens, less

    def prompt(self, instance: Instance) -> str:
        n, givens, less = self._constraints(instance)
        board = "\n".join(render_board(n, givens, less))
        return (
            f"Solve this {n}x{n} Futoshiki puzzle. Fill every cell with a number from 1 to {n} so that each number "
            "appears exactly once in every row and every column. Given numbers are shown; _ is an empty cell. "
            "A < or > between two cells in a row must hold left to right. Below a cell, ^ means the upper cell is "
            f"smaller than the lower one and v means it is larger.\n\n{board}\n\n"
            "Think step by step, then give the filled grid inside <answer></answer>, one row per line, "
            "digits without spaces."
        )

    def compact_prompt(self, instance: Instance) -> str:
        n, givens, less = self._constraints(instance)
        return "\n".join(render_board(n, givens, less)) + "\n"

    def check(self, instance: Instance, answer: str) -> bool:
        if len(answer) > _MAX_ANSWER_CHARS:
            return False
        n, givens, less = self._constraints(instance)
        grid = parse_grid(answer, n)
        if grid is None or not is_valid_grid(grid, n):
            return False
        if any(grid[r][c] != value for (r, c), value in givens.items()):
            return False
        return all(grid[r1][c1] < grid[r2][c2] for (r1, c1), (r2, c2) in less)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        n, givens, less = self._constraints(instance)
        log: list = []
        solver = _Solver(n, givens, less, log)
        found = solver.solutions(limit=1)
        if found:
            grid = [found[0][r * n : (r + 1) * n] for r in range(n)]
        else:  # cannot happen for generated instances
            grid = parse_grid(instance.answer, n) or []
        lines = []
        for event in log:
            kind, cell = event[0], event[1]
            where = solver._name(cell)
            if kind == "set":
                lines.append(
                    f"{where}={event[2]} ({event[3]})"
                    if style == "steps"
                    else f"So {where} is {event[2]} ({event[3]})."
                )
            elif kind == "bound":
                values = "".join(map(str, event[2]))
                lines.append(
                    f"{where} in {values} ({event[3]})"
                    if style == "steps"
                    else f"{where} can only be {' or '.join(map(str, event[2]))} ({event[3]})."
                )
            elif kind == "guess":
                lines.append(
                    f"try {where}={event[2]}" if style == "steps" else f"Suppose {where} is {event[2]}."
                )
            else:
                lines.append(
                    f"undo {where}={event[2]}"
                    if style == "steps"
                    else f"That leads to a contradiction, so {where} is not {event[2]}."
                )
        answer = "\n".join("".join(map(str, row)) for row in grid)
        return "\n".join(lines) + f"\n<answer>\n{answer}\n</answer>"
