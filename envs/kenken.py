"""KenKen: fill a Latin square whose cages each reach a target with a given operation."""

from __future__ import annotations

import functools
import random
import string
from dataclasses import dataclass
from typing import Any

from pearbench.envs._propagate import parse_square_grid, random_latin_square
from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_OPS = "+-*/"
_MAX_ANSWER_CHARS = 1_000
_LABELS = string.ascii_uppercase + string.ascii_lowercase
_OP_WORDS = {"+": "sum", "-": "difference", "*": "product", "/": "quotient", "=": "value"}


@dataclass(frozen=True)
class KenKenConfig:
    size: int = 4
    max_cage: int = 3
    operations: str = "+-*/"

    def __post_init__(self) -> None:
        if not 3 <= self.size <= 7:
            raise ValueError(f"size must be in 3..7, got {self.size!r}")
        if not 2 <= self.max_cage <= 5:
            raise ValueError(f"max_cage must be in 2..5, got {self.max_cage!r}")
        if (
            not self.operations
            or set(self.operations) - set(_OPS)
            or len(set(self.operations)) != len(self.operations)
        ):
            raise ValueError(f"operations must be distinct characters from {_OPS!r}")
        if "+" not in self.operations and "*" not in self.operations:
            raise ValueError("operations must include + or * (cages of three or more cells need one)")


def random_cages(n: int, max_cage: int, rng: random.Random) -> list[list[tuple[int, int]]]:
    """Partition the grid into connected cages of 1..max_cage cells: from each still-free cell (random order) grow a
    cage towards a random size by adding random free neighbours. A cage meant to be larger that found no free
    neighbour is then merged into a random neighbouring cage with room, when there is one. Every partition into
    cages of at most max_cage cells can come out (draw its sizes and cells exactly; nothing is then merged)."""
    owner = [[-1] * n for _ in range(n)]
    order = [(r, c) for r in range(n) for c in range(n)]
    rng.shuffle(order)
    sizes = list(range(1, max_cage + 1))
    weights = [1] + [4] * (len(sizes) - 1)  # single cells rarer
    cages: list[list[tuple[int, int]]] = []
    stranded: list[int] = []

    def free_neighbours(cells: list[tuple[int, int]], free: bool) -> list[tuple[int, int]]:
        found = {
            (r + dr, c + dc)
            for r, c in cells
            for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))
            if 0 <= r + dr < n and 0 <= c + dc < n and (owner[r + dr][c + dc] < 0) == free
        }
        return sorted(found)

    for start in order:
        if owner[start[0]][start[1]] >= 0:
            continue
        target = rng.choices(sizes, weights)[0]
        cage = [start]
        owner[start[0]][start[1]] = len(cages)
        while len(cage) < target:
            frontier = free_neighbours(cage, True)
            if not frontier:
                break
            cell = rng.choice(frontier)
            owner[cell[0]][cell[1]] = len(cages)
            cage.append(cell)
        if len(cage) == 1 and target > 1:
            stranded.append(len(cages))
        cages.append(cage)
    for index in stranded:
        if len(cages[index]) != 1:
            continue
        hosts = sorted(
            {
                owner[r][c]
                for r, c in free_neighbours(cages[index], False)
                if len(cages[owner[r][c]]) < max_cage
            }
        )
        if hosts:
            host = rng.choice(hosts)
            (cell,) = cages[index]
            cages[host].append(cell)
            owner[cell[0]][cell[1]] = host
            cages[index] = []
    return [sorted(cage) for cage in cages if cage]


def cage_holds(op: str, target: int, values: list[int]) -> bool:
    if op == "=":
        return len(values) == 1 and values[0] == target
    if op == "+":
        return sum(values) == target
    if op == "*":
        product = 1
        for v in values:
            product *= v
        return product == target
    if len(values) != 2:
        return False
    a, b = max(values), min(values)
    if op == "-":
        return a - b == target
    return a == b * target


@functools.lru_cache(maxsize=8)
def count_matchings(n: int) -> int:
    """Ways to split an n x n grid into dominoes and single cells (the matchings of the grid graph), by a
    broken-profile DP over the cells in row-major order: bit j of the profile says cell (current + j) is already
    covered by a domino placed earlier."""
    ways = {0: 1}
    for pos in range(n * n):
        r, c = divmod(pos, n)
        new: dict[int, int] = {}
        for profile, count in ways.items():
            moves = [profile >> 1] if profile & 1 else [profile >> 1]
            if not profile & 1:
                if c + 1 < n and not profile & 2:
                    moves.append((profile | 2) >> 1)
                if r + 1 < n:
                    moves.append((profile | (1 << n)) >> 1)
            for key in moves:
                new[key] = new.get(key, 0) + count
        ways = new
    return ways.get(0, 0)


class _Solver:
    """Depth-first search over cages with forward checking. Each cage's fillings (values 1..n meeting its
    operation, no repeat within a row or column inside the cage) are listed once; the search fills the cage with the
    fewest fillings left, then drops from every cage sharing a row or column the fillings that now clash, and backs
    up when some cage has none left. ``log`` receives ("fill", cage index, values, options) and ("undo", cage
    index, values) events."""

    def __init__(self, n: int, cages: list[tuple[str, int, list[tuple[int, int]]]], log: list | None = None):
        self.n = n
        self.cages = cages
        self.log = log
        self.fillings = [self._fillings(op, target, cells) for op, target, cells in cages]
        self.line_masks = [
            [self._line_masks(cells, values) for values in fillings]
            for (_, _, cells), fillings in zip(cages, self.fillings)
        ]
        lines = [{r for r, _ in cells} | {n + c for _, c in cells} for _, _, cells in cages]
        self.neighbours = [
            [j for j in range(len(cages)) if j != i and lines[i] & lines[j]] for i in range(len(cages))
        ]

    def _line_masks(
        self, cells: list[tuple[int, int]], values: tuple[int, ...]
    ) -> tuple[tuple[int, int], ...]:
        """(line, value bits) for every row (0..n-1) and column (n..2n-1) the filling touches."""
        masks: dict[int, int] = {}
        for (r, c), v in zip(cells, values):
            masks[r] = masks.get(r, 0) | 1 << v
            masks[self.n + c] = masks.get(self.n + c, 0) | 1 << v
        return tuple(sorted(masks.items()))

    def _fillings(self, op: str, target: int, cells: list[tuple[int, int]]) -> list[tuple[int, ...]]:
        n, k = self.n, len(cells)
        out: list[tuple[int, ...]] = []
        values: list[int] = []
        row_used = [0] * n
        col_used = [0] * n

        def extend(i: int, total: int) -> None:
            if i == k:
                if cage_holds(op, target, values):
                    out.append(tuple(values))
                return
            r, c = cells[i]
            left = k - i - 1
            used = row_used[r] | col_used[c]
            for v in range(1, n + 1):
                if used >> v & 1:
                    continue
                if op == "+":
                    new = total + v
                    if new + left > target or new + left * n < target:
                        continue
                elif op == "*":
                    new = total * v
                    if target % new:
                        continue
                else:
                    new = total
                values.append(v)
                row_used[r] |= 1 << v
                col_used[c] |= 1 << v
                extend(i + 1, new)
                row_used[r] &= ~(1 << v)
                col_used[c] &= ~(1 << v)
                values.pop()

        extend(0, 0 if op == "+" else 1)
        return out

    def solve(self) -> list[list[int]] | None:
        n, cages, fillings, line_masks = self.n, self.cages, self.fillings, self.line_masks
        full = (1 << (n + 1)) - 2
        grid = [[0] * n for _ in range(n)]
        used = [0] * (2 * n)
        options = [list(range(len(f))) for f in fillings]
        done = [False] * len(cages)

        def lines_coverable() -> bool:
            """Every row and column can still get every value: from what is placed or some remaining filling."""
            cover = list(used)
            for j, alive in enumerate(options):
                if done[j]:
                    continue
                masks = line_masks[j]
                for f in alive:
                    for line, mask in masks[f]:
                        cover[line] |= mask
            return all(mask == full for mask in cover)

        def search() -> bool:
            best = -1
            for index in range(len(cages)):
                if not done[index] and (best < 0 or len(options[index]) < len(options[best])):
                    best = index
            if best < 0:
                return True
            done[best] = True
            cells = cages[best][2]
            choices = [fillings[best][f] for f in options[best]]
            for f in options[best]:
                values = fillings[best][f]
                for (r, c), v in zip(cells, values):
                    grid[r][c] = v
                for line, mask in line_masks[best][f]:
                    used[line] |= mask
                if self.log is not None:
                    self.log.append(("fill", best, values, choices))
                saved, alive = [], True
                for j in self.neighbours[best]:
                    if done[j]:
                        continue
                    masks = line_masks[j]
                    kept = [g for g in options[j] if not any(used[line] & mask for line, mask in masks[g])]
                    if len(kept) != len(options[j]):
                        saved.append((j, options[j]))
                        options[j] = kept
                        if not kept:
                            alive = False
                            break
                if alive and lines_coverable() and search():
                    return True
                for j, old in saved:
                    options[j] = old
                for line, mask in line_masks[best][f]:
                    used[line] &= ~mask
                for r, c in cells:
                    grid[r][c] = 0
                if self.log is not None:
                    self.log.append(("undo", best, values))
            done[best] = False
            return False

        return grid if search() else None


def parse_grid(text: str, n: int) -> list[list[int]] | None:
    """n*n digits row-major with any separators; None if anything else appears or the count is not n*n."""
    return parse_square_grid(text, n)


@register_env
class KenKen(Game):
    """KenKen: fill an n x n Latin square so that every cage reaches its target with its operation.

    **Rules.** Each row and each column holds 1..n once. The grid is split into cages of connected cells, each with
    a target and an operation: ``+`` the cells add up to the target, ``*`` they multiply to it, ``-`` (two cells) the
    larger minus the smaller is the target, ``/`` (two cells) the larger divided by the smaller is the target, and a
    single cell (``=``) simply holds its target. Numbers may repeat inside a cage if they are in different rows and
    columns.

    **Answer.** The grid row by row, digits (rows separated by newlines, ``/`` or spaces; commas and brackets are
    fine). The verifier checks the rules, so any grid meeting every row, column and cage is accepted: puzzles are
    cut from a random Latin square and are not required to have a unique solution.

    **Levels.** easy: 4 x 4 with cages of up to 3 cells; medium: 5 x 5, cages up to 4 cells; hard: 6 x 6, cages up
    to 4 cells; all four operations (knobs ``size``, ``max_cage``, ``operations``).

    **Example.** Compact prompt ``ABC/ADC/DDC 3+ 3 6* 6*`` (the cage map row by row, then each cage's target in
    letter order) for a 3 x 3 grid: B is 3; A (r1c1, r2c1) adds up to 3, so it holds 1 and 2; column 3 (C) and
    D multiply to 6. One answer: ``132/213/321``.
    """

    name = "kenken"
    title = "KenKen"
    family = "grid puzzle"
    category = "grid"
    description = "Fill a Latin square whose cages each reach a target with + - * or /."
    Config = KenKenConfig
    levels = {
        "easy": {"size": 4, "max_cage": 3},
        "medium": {"size": 5, "max_cage": 4},
        "hard": {"size": 6, "max_cage": 4},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        n = cfg.size
        grid = random_latin_square(n, rng)
        cages = []
        for cells in random_cages(n, cfg.max_cage, rng):
            values = [grid[r][c] for r, c in cells]
            if len(cells) == 1:
                op, target = "=", values[0]
            else:
                options = [op for op in cfg.operations if len(cells) == 2 or op in "+*"]
                if len(cells) == 2 and max(values) % min(values):
                    options = [op for op in options if op != "/"]
                op = rng.choice(options)
                if op == "+":
                    target = sum(values)
                elif op == "*":
                    target = 1
                    for v in values:
                        target *= v
                elif op == "-":
                    target = max(values) - min(values)
                else:
                    target = max(values) // min(values)
            cages.append([op, target, [[r + 1, c + 1] for r, c in cells]])
        cages.sort(key=lambda cage: cage[2][0])
        problem = {"size": n, "cages": cages}
        return problem, "/".join("".join(map(str, row)) for row in grid)

    def instance_space(self) -> int:
        """A lower bound: the cage layouts made of dominoes and single cells alone (every one can be drawn, and
        different layouts are different puzzles), counted exactly by a profile DP."""
        return count_matchings(self.config.size)

    # -- helpers ------------------------------------------------------------------------------------------------
    @staticmethod
    def _cages(instance: Instance) -> list[tuple[str, int, list[tuple[int, int]]]]:
        return [
            (op, target, [(r - 1, c - 1) for r, c in cells])
            for op, target, cells in instance.problem["cages"]
        ]

    @staticmethod
    def _label(op: str, target: int) -> str:
        return str(target) if op == "=" else f"{target}{op}"

    def _cage_map(self, instance: Instance) -> list[str]:
        n = instance.problem["size"]
        board = [["?"] * n for _ in range(n)]
        for index, (_, _, cells) in enumerate(self._cages(instance)):
            for r, c in cells:
                board[r][c] = _LABELS[index]
        return ["".join(row) for row in board]

    def prompt(self, instance: Instance) -> str:
        n = instance.problem["size"]
        cages = self._cages(instance)
        legend = "\n".join(
            f"  {_LABELS[i]}: {self._label(op, target)}"
            + ("" if op == "=" else f" ({_OP_WORDS[op]} {target})")
            + " - cells "
            + " ".join(f"r{r + 1}c{c + 1}" for r, c in cells)
            for i, (op, target, cells) in enumerate(cages)
        )
        board = "\n".join(self._cage_map(instance))
        return (
            f"Solve this {n}x{n} KenKen puzzle. Fill the grid with numbers 1 to {n} so that each number appears "
            "exactly once in every row and every column. The grid is divided into cages (cells with the same "
            "letter). Each cage shows a target and an operation: + means its numbers add up to the target, * means "
            "they multiply to it, - (two cells) means the larger minus the smaller equals it, / (two cells) means "
            "the larger divided by the smaller equals it, and a target without an operation is the number in that "
            "single cell. A number may repeat within a cage if the copies are in different rows and columns.\n\n"
            f"Cage map:\n{board}\n\nCages:\n{legend}\n\n"
            "Think step by step, then give the filled grid inside <answer></answer>, one row per line, digits "
            "without spaces."
        )

    def compact_prompt(self, instance: Instance) -> str:
        cages = self._cages(instance)
        labels = " ".join(self._label(op, target) for op, target, _ in cages)
        return f"{'/'.join(self._cage_map(instance))} {labels}\n"

    # -- verification -------------------------------------------------------------------------------------------
    def check(self, instance: Instance, answer: str) -> bool:
        if len(answer) > _MAX_ANSWER_CHARS:
            return False
        n = instance.problem["size"]
        grid = parse_grid(answer, n)
        if grid is None:
            return False
        full = list(range(1, n + 1))
        if any(sorted(row) != full for row in grid) or any(
            sorted(grid[r][c] for r in range(n)) != full for c in range(n)
        ):
            return False
        return all(
            cage_holds(op, target, [grid[r][c] for r, c in cells])
            for op, target, cells in self._cages(instance)
        )

    # -- solving ------------------------------------------------------------------------------------------------
    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        n = instance.problem["size"]
        cages = self._cages(instance)
        log: list = []
        grid = _Solver(n, cages, log).solve()
        if grid is None:  # cannot happen: every puzzle is cut from a Latin square
            grid = parse_grid(instance.answer, n) or [[0] * n for _ in range(n)]
        lines = []
        for event in log:
            kind, index, values = event[0], event[1], event[2]
            op, target, cells = cages[index]
            where = " ".join(f"r{r + 1}c{c + 1}" for r, c in cells)
            filled = "".join(map(str, values))
            if kind == "fill":
                options = event[3]
                if style == "steps":
                    shown = (
                        " ".join("".join(map(str, o)) for o in options)
                        if len(options) <= 6
                        else f"{len(options)} ways"
                    )
                    lines.append(f"{_LABELS[index]} {self._label(op, target)} {where}: {shown} -> {filled}")
                else:
                    if len(options) == 1:
                        lead = "can only be filled one way"
                    else:
                        lead = f"has {len(options)} fillings that fit the rows and columns so far; try"
                    assignment = ", ".join(f"r{r + 1}c{c + 1}={v}" for (r, c), v in zip(cells, values))
                    lines.append(f"Cage {_LABELS[index]} ({self._label(op, target)}) {lead}: {assignment}.")
            else:
                lines.append(
                    f"undo {_LABELS[index]} {filled}"
                    if style == "steps"
                    else f"That leads to a dead end, so cage {_LABELS[index]} is not {filled}."
                )
        answer = "\n".join("".join(map(str, row)) for row in grid)
        return "\n".join(lines) + f"\n<answer>\n{answer}\n</answer>"
