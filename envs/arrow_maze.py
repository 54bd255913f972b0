"""Arrow maze (Signpost family): number the cells of an arrow grid along one path through every cell.

Every cell but the last holds an arrow in one of eight compass directions (N, NE, E, SE, S, SW, W, NW). Number the
cells 1..N (N = rows x cols) so that 1 and N sit where given, every given number is respected, and for each k < N
the cell numbered k+1 lies in the direction of the arrow in cell k, at any distance (other cells may be jumped over).

Answer: the grid of numbers, rows from top to bottom separated by ``/`` or newlines, numbers in a row separated by
spaces or commas, e.g. ``1 3 2/6 5 4``. Without enough given numbers a grid can have several numberings; the
verifier follows the rules, so every valid numbering is accepted. To keep solver traces short, the generator
reveals extra numbers (beyond ``clues``) until its propagating search needs at most ``search_per_cell`` nodes per
cell.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from math import comb
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

#: Compass arrow -> (row delta, column delta), in the order the solver and prompts use.
DIRECTIONS = {
    "N": (-1, 0),
    "NE": (-1, 1),
    "E": (0, 1),
    "SE": (1, 1),
    "S": (1, 0),
    "SW": (1, -1),
    "W": (0, -1),
    "NW": (-1, -1),
}
_DIRECTION_WORDS = {
    "N": "up",
    "NE": "up and right",
    "E": "right",
    "SE": "down and right",
    "S": "down",
    "SW": "down and left",
    "W": "left",
    "NW": "up and left",
}
END_MARK = "*"
_MAX_ANSWER_CHARS = 600
_GENERATION_BUDGET = 4_000
_SPACE_COUNT_CAP = 5_000
_SPACE_NODE_BUDGET = 200_000


@dataclass(frozen=True)
class ArrowMazeConfig:
    rows: int = 4
    cols: int = 4
    clues: int = 1
    #: search nodes allowed per cell: numbers are revealed until the solver needs at most this * rows * cols nodes
    #: (keeps traces short); 0 = no limit
    search_per_cell: int = 2

    def __post_init__(self) -> None:
        for knob in ("rows", "cols"):
            value = getattr(self, knob)
            if not isinstance(value, int) or not 2 <= value <= 8:
                raise ValueError(f"{knob} must be an integer in 2..8, got {value!r}")
        interior = self.rows * self.cols - 2
        if not 0 <= self.clues <= interior:
            raise ValueError(
                f"clues must be in 0..{interior} for a {self.rows}x{self.cols} grid, got {self.clues!r}"
            )
        if not 0 <= self.search_per_cell <= 1000:
            raise ValueError(f"search_per_cell must be in 0..1000, got {self.search_per_cell!r}")


def ray(rows: int, cols: int, r: int, c: int, direction: str) -> list[tuple[int, int]]:
    """Cells strictly beyond (r, c) in ``direction``, nearest first."""
    dr, dc = DIRECTIONS[direction]
    cells = []
    r, c = r + dr, c + dc
    while 0 <= r < rows and 0 <= c < cols:
        cells.append((r, c))
        r, c = r + dr, c + dc
    return cells


def direction_between(a: tuple[int, int], b: tuple[int, int]) -> str | None:
    """Compass direction from cell a to cell b, if b lies on one of a's eight rays."""
    dr, dc = b[0] - a[0], b[1] - a[1]
    if (dr, dc) == (0, 0) or (dr and dc and abs(dr) != abs(dc)):
        return None
    step = ((dr > 0) - (dr < 0), (dc > 0) - (dc < 0))
    return next(name for name, delta in DIRECTIONS.items() if delta == step)


def _extend_path(
    path: list, visited: set, total: int, neighbours: dict, rng: random.Random, budget: list
) -> bool:
    if len(path) == total:
        return True
    budget[0] -= 1
    if budget[0] < 0:
        return False
    options = [cell for cell in neighbours[path[-1]] if cell not in visited]
    rng.shuffle(options)
    for cell in options:
        path.append(cell)
        visited.add(cell)
        if _extend_path(path, visited, total, neighbours, rng, budget):
            return True
        path.pop()
        visited.discard(cell)
        if budget[0] < 0:
            return False
    return False


def random_queen_path(rows: int, cols: int, rng: random.Random) -> list[tuple[int, int]]:
    """A random path through every cell where each step follows one of the eight rays (randomized DFS, restarts)."""
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    neighbours = {
        (r, c): [cell for name in DIRECTIONS for cell in ray(rows, cols, r, c, name)] for r, c in cells
    }
    while True:
        start = cells[rng.randrange(len(cells))]
        path = [start]
        if _extend_path(path, {start}, len(cells), neighbours, rng, [_GENERATION_BUDGET]):
            return path


def parse_numbers(answer: str, rows: int, cols: int) -> list[list[int]] | None:
    """Rows separated by ``/`` or newlines, numbers by spaces/commas/tabs; None unless a rows x cols int grid."""
    if len(answer) > _MAX_ANSWER_CHARS:
        return None
    grid = []
    for raw in answer.replace("\n", "/").split("/"):
        tokens = raw.replace(",", " ").replace("|", " ").split()
        if not tokens:
            continue
        if len(tokens) != cols or not all(token.isdigit() and len(token) <= 3 for token in tokens):
            return None
        grid.append([int(token) for token in tokens])
    return grid if len(grid) == rows else None


class _Solver:
    """Depth-first search along the arrows from cell 1, with propagation (cells are indices r * cols + c).

    At each step the next cell must be unvisited, on the current arrow's ray, and consistent with the given
    numbers (a given cell only at its own step, the given cell of step k+1 forced); :meth:`_propagate` prunes dead
    ends and finds forced moves. ``reverse`` tries the far cells of a ray first (another search order).
    """

    def __init__(self, problem: dict[str, Any], reverse: bool = False) -> None:
        self.rows, self.cols = problem["rows"], problem["cols"]
        self.total = self.rows * self.cols
        self.given = {r * self.cols + c: k for r, c, k in problem["given"]}
        self.cell_of = {k: cell for cell, k in self.given.items()}
        self.end = self.cell_of[self.total]
        self.given_numbers = sorted(self.cell_of)
        self.all_cells = (1 << self.total) - 1
        self.successors: list[list[int]] = []
        self.successor_mask = [0] * self.total
        self.predecessor_mask = [0] * self.total
        for r, row in enumerate(problem["arrows"]):
            for c, arrow in enumerate(row.split()):
                cell = r * self.cols + c
                targets = (
                    []
                    if arrow == END_MARK
                    else [tr * self.cols + tc for tr, tc in ray(self.rows, self.cols, r, c, arrow)]
                )
                self.successors.append(targets[::-1] if reverse else targets)
                for target in targets:
                    self.successor_mask[cell] |= 1 << target
                    self.predecessor_mask[target] |= 1 << cell
        self.events: list[tuple] = []
        self.nodes = 0

    def _propagate(self, current: int, step: int, visited: int) -> int | None | bool:
        """The cell forced to come next (or None); False when the unvisited cells can no longer be linked up.

        Links: an unvisited cell whose only possible predecessor (the current cell or an unvisited cell with an
        arrow whose ray holds it) is p must follow p; a cell whose only unvisited ray cell is t must precede t.
        Dead end when a cell has no possible predecessor or successor, or the links clash. Numbers then flow along
        the links from the current cell (``step``) and from the given cells; a clash (one cell two numbers, one
        number two cells, a number out of range or already used) is a dead end. The cell linked after the
        current one, or the cell that must carry step + 1, comes next.
        """
        unvisited = self.all_cells & ~visited
        allowed = unvisited | (1 << current)
        predecessor_mask, successor_mask = self.predecessor_mask, self.successor_mask
        next_of: dict[int, int] = {}
        prev_of: dict[int, int] = {}
        targets = successor_mask[current] & unvisited
        if not targets:
            return False
        if not targets & (targets - 1):
            target = targets.bit_length() - 1
            next_of[current], prev_of[target] = target, current
        for cell in range(self.total):
            if visited >> cell & 1:
                continue
            sources = predecessor_mask[cell] & allowed
            if not sources:
                return False
            if not sources & (sources - 1):
                source = sources.bit_length() - 1
                if next_of.get(source, cell) != cell or prev_of.get(cell, source) != source:
                    return False
                next_of[source], prev_of[cell] = cell, source
            if cell == self.end:
                continue
            targets = successor_mask[cell] & unvisited
            if not targets:
                return False
            if not targets & (targets - 1):
                target = targets.bit_length() - 1
                if next_of.get(cell, target) != target or prev_of.get(target, cell) != cell:
                    return False
                next_of[cell], prev_of[target] = target, cell
        number = {current: step}
        owner = {step: current}
        for seed in [current] + [self.cell_of[k] for k in self.given_numbers if k > step]:
            if seed not in number:
                number[seed] = self.given[seed]
                if owner.setdefault(self.given[seed], seed) != seed:
                    return False
            for links, delta in ((next_of, 1), (prev_of, -1)):
                cell, value = seed, number[seed]
                while cell in links:
                    cell, value = links[cell], value + delta
                    if cell == current:
                        if value != step:
                            return False
                        break
                    if not step < value <= self.total or number.setdefault(cell, value) != value:
                        return False
                    if owner.setdefault(value, cell) != cell:
                        return False
        return owner.get(step + 1)

    def solve(self, budget: int = 0) -> list[tuple[int, int]] | None:
        """The first numbering found (the cells numbered 1..N as (row, col)); None if none or ``budget`` ran out."""
        path = [self.cell_of[1]]

        def extend(visited: int) -> bool:
            self.nodes += 1
            if budget and self.nodes > budget:
                return False
            step = len(path)
            if step == self.total:
                return True
            current = path[-1]
            forced = self._propagate(current, step, visited)
            if forced is False:
                self.events.append(("stuck", step))
                return False
            options = [
                cell
                for cell in self.successors[current]
                if not visited >> cell & 1 and self.given.get(cell, step + 1) == step + 1
            ]
            if step + 1 in self.cell_of:
                options = [cell for cell in options if cell == self.cell_of[step + 1]]
            if forced is not None:
                options = [cell for cell in options if cell == forced]
            for cell in options:
                reason = "given" if cell in self.given else ("only" if len(options) == 1 else "try")
                self.events.append(
                    ("move", step, divmod(current, self.cols), divmod(cell, self.cols), reason)
                )
                path.append(cell)
                if extend(visited | 1 << cell):
                    return True
                path.pop()
            if not options:
                self.events.append(("stuck", step))
            return False

        if not extend(1 << path[0]):
            return None
        return [divmod(cell, self.cols) for cell in path]


def banded_king_paths(rows: int, cols: int) -> int:
    """Closed-form lower bound on king-move Hamiltonian paths from corner (0, 0).

    Family: sweep bands of two rows, alternately left-to-right and right-to-left, visiting each column's two
    cells in either order (consecutive columns are always king-adjacent); a band's first column starts at its top
    and, unless it is the last band, its last column ends at its bottom (to step down into the next band); an odd
    last row is walked straight. Free choices: the middle columns of every band and the last column of a final
    band. Either orientation of the grid may be swept, so the larger count is a bound.
    """

    def count(height: int, width: int) -> int:
        bands, single_row = divmod(height, 2)
        if bands == 0:
            return 1
        free = (width - 2) * bands + (0 if single_row else 1)
        return 2 ** max(free, 0)

    return max(count(rows, cols), count(cols, rows))


@functools.lru_cache(maxsize=64)
def enumerated_king_paths(rows: int, cols: int, cap: int, node_budget: int) -> int:
    """King-move Hamiltonian paths from cell (0, 0) found by plain enumeration, stopping at ``cap`` paths or
    ``node_budget`` search nodes (so a lower bound on their number)."""
    total = rows * cols
    visited = [[False] * cols for _ in range(rows)]
    found, nodes = [0], [0]

    def walk(r: int, c: int, depth: int) -> None:
        nodes[0] += 1
        if depth == total:
            found[0] += 1
            return
        for dr, dc in DIRECTIONS.values():
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and not visited[nr][nc]:
                visited[nr][nc] = True
                walk(nr, nc, depth + 1)
                visited[nr][nc] = False
                if found[0] >= cap or nodes[0] >= node_budget:
                    return

    visited[0][0] = True
    walk(0, 0, 1)
    return min(found[0], cap)


@register_env
class ArrowMaze(Game):
    name = "arrow_maze"
    title = "ArrowMaze"
    family = "grid puzzle"
    category = "grid"
    description = "Number an arrow grid along a path that follows the arrows through every cell (Signpost)."
    Config = ArrowMazeConfig
    levels = {
        "easy": {"rows": 4, "cols": 4, "clues": 2},
        "medium": {"rows": 5, "cols": 5, "clues": 3},
        "hard": {"rows": 6, "cols": 6, "clues": 5},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        rows, cols = self.config.rows, self.config.cols
        path = random_queen_path(rows, cols, rng)
        arrows = [[END_MARK] * cols for _ in range(rows)]
        number = [[0] * cols for _ in range(rows)]
        for k, cell in enumerate(path):
            number[cell[0]][cell[1]] = k + 1
            if k + 1 < len(path):
                arrows[cell[0]][cell[1]] = direction_between(cell, path[k + 1])
        hidden = list(range(2, len(path)))
        rng.shuffle(hidden)
        budget = self.config.search_per_cell * rows * cols
        for revealed in range(self.config.clues, len(hidden) + 1):
            given = [[*path[k - 1], k] for k in [1, *sorted(hidden[:revealed]), len(path)]]
            problem = {
                "rows": rows,
                "cols": cols,
                "arrows": [" ".join(row) for row in arrows],
                "given": given,
            }
            if not budget or _Solver(problem).solve(budget) is not None:
                break
        return problem, "/".join(" ".join(str(n) for n in row) for row in number)

    def instance_space(self) -> int:
        """Lower bound 4 * K (times C(N-2, clues) when search_per_cell is 0), K = a lower bound on the king-move
        Hamiltonian paths from a corner (the larger of :func:`banded_king_paths` and a bounded enumeration).

        A king path is a valid generator path, and the arrows plus the start cell give the path back (follow each
        arrow one square), so distinct king paths from one start give distinct grids; the four corners give
        distinct starts. Without a search limit the set of revealed numbers is any clues-subset of the interior;
        with one, extra numbers may be revealed, so that factor is left out.
        """
        rows, cols = self.config.rows, self.config.cols
        corners = len({(0, 0), (0, cols - 1), (rows - 1, 0), (rows - 1, cols - 1)})
        paths = max(
            banded_king_paths(rows, cols),
            enumerated_king_paths(rows, cols, _SPACE_COUNT_CAP, _SPACE_NODE_BUDGET),
        )
        bound = corners * paths
        if self.config.search_per_cell == 0:
            bound *= comb(rows * cols - 2, self.config.clues)
        return bound

    @staticmethod
    def _cells(problem: dict[str, Any]) -> list[list[str]]:
        given = {(r, c): k for r, c, k in problem["given"]}
        return [
            [f"{given[(r, c)]}{arrow}" if (r, c) in given else arrow for c, arrow in enumerate(row.split())]
            for r, row in enumerate(problem["arrows"])
        ]

    def prompt(self, instance: Instance) -> str:
        problem = instance.problem
        rows, cols = problem["rows"], problem["cols"]
        cells = self._cells(problem)
        width = max(len(token) for row in cells for token in row)
        grid = "\n".join(" ".join(token.rjust(width) for token in row) for row in cells)
        given = ", ".join(f"row {r + 1} column {c + 1} is {k}" for r, c, k in problem["given"])
        return (
            f"Arrow maze: number the {rows}x{cols} grid below with 1 to {rows * cols}, each number once, so that "
            f"for every k the cell numbered k+1 lies in the direction of the arrow in cell k (N up, S down, E right, "
            f"W left, NE, NW, SE, SW diagonally), at any distance. The cell marked {END_MARK} has no arrow and is the "
            f"last. A number in front of an arrow is given: {given}.\n{grid}\n"
            "Any numbering that follows the rules is accepted. Show your steps, then give the numbers inside "
            "<answer></answer>, row by row from the top, numbers separated by spaces and rows by '/', for example "
            "<answer>1 3 2/6 5 4</answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        return "/".join(" ".join(row) for row in self._cells(instance.problem)) + "\n"

    def check(self, instance: Instance, answer: str) -> bool:
        problem = instance.problem
        rows, cols = problem["rows"], problem["cols"]
        grid = parse_numbers(answer, rows, cols)
        if grid is None:
            return False
        total = rows * cols
        position: list[tuple[int, int] | None] = [None] * (total + 1)
        for r in range(rows):
            for c in range(cols):
                k = grid[r][c]
                if not 1 <= k <= total or position[k] is not None:
                    return False
                position[k] = (r, c)
        if any(grid[r][c] != k for r, c, k in problem["given"]):
            return False
        arrows = [row.split() for row in problem["arrows"]]
        for k in range(1, total):
            here, there = position[k], position[k + 1]
            if arrows[here[0]][here[1]] != direction_between(here, there):
                return False
        return True

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        solver = _Solver(instance.problem)
        path = solver.solve()
        if path is None:
            raise RuntimeError("arrow maze has no numbering")  # the generator always leaves one
        lines = []
        for event in solver.events:
            if event[0] == "stuck":
                step = event[1]
                lines.append(
                    f"{step}: dead end, back"
                    if style == "steps"
                    else f"After {step} there is no way on; go back."
                )
                continue
            _, step, (r, c), (nr, nc), reason = event
            arrow = instance.problem["arrows"][r].split()[c]
            if style == "steps":
                lines.append(f"{step}:r{r + 1}c{c + 1} {arrow} -> {step + 1}:r{nr + 1}c{nc + 1} {reason}")
            else:
                how = {
                    "given": "where it is given",
                    "only": "the only possible cell",
                    "try": "trying this cell",
                }
                lines.append(
                    f"From {step} at row {r + 1}, column {c + 1} the arrow points {_DIRECTION_WORDS[arrow]}; put "
                    f"{step + 1} at row {nr + 1}, column {nc + 1} ({how[reason]})."
                )
        number = [[0] * instance.problem["cols"] for _ in range(instance.problem["rows"])]
        for k, (r, c) in enumerate(path):
            number[r][c] = k + 1
        answer = "/".join(" ".join(str(n) for n in row) for row in number)
        return "\n".join(lines) + f"\n<answer>{answer}</answer>"
