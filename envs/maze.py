"""Grid maze: find a shortest path from S to G."""

from __future__ import annotations

import functools
import random
from collections import deque
from dataclasses import dataclass
from math import comb
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

#: Move letter -> (row delta, column delta), in the order the solver tries them.
MOVES = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}
_MOVE_WORDS = {"U": "up", "D": "down", "L": "left", "R": "right"}
_IGNORED = " \t\r\n,;-"


@dataclass(frozen=True)
class MazeConfig:
    rows: int = 5
    cols: int = 5
    loop_fraction: float = 0.0

    def __post_init__(self) -> None:
        for knob in ("rows", "cols"):
            value = getattr(self, knob)
            if not isinstance(value, int) or not 2 <= value <= 30:
                raise ValueError(f"{knob} (maze cells) must be an integer in 2..30, got {value!r}")
        if not 0.0 <= self.loop_fraction <= 1.0:
            raise ValueError(f"loop_fraction must be in [0, 1], got {self.loop_fraction!r}")


def _find(grid: tuple[str, ...], mark: str) -> tuple[int, int]:
    for r, row in enumerate(grid):
        c = row.find(mark)
        if c >= 0:
            return r, c
    raise ValueError(f"maze has no {mark!r}")


def bfs_parents(grid: tuple[str, ...], start: tuple[int, int], order: str = "UDLR") -> dict:
    """Breadth-first search over open squares; parent of each reached square (start maps to None)."""
    parents: dict[tuple[int, int], tuple[int, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        r, c = queue.popleft()
        for move in order:
            dr, dc = MOVES[move]
            nr, nc = r + dr, c + dc
            if (
                0 <= nr < len(grid)
                and 0 <= nc < len(grid[nr])
                and grid[nr][nc] != "#"
                and (nr, nc) not in parents
            ):
                parents[(nr, nc)] = (r, c)
                queue.append((nr, nc))
    return parents


def shortest_path(grid: tuple[str, ...], order: str = "UDLR") -> str | None:
    """One shortest S->G move string (BFS, neighbours tried in ``order``); None if G is unreachable."""
    start, goal = _find(grid, "S"), _find(grid, "G")
    parents = bfs_parents(grid, start, order)
    if goal not in parents:
        return None
    moves = []
    node = goal
    while parents[node] is not None:
        prev = parents[node]
        delta = (node[0] - prev[0], node[1] - prev[1])
        moves.append(next(m for m, d in MOVES.items() if d == delta))
        node = prev
    return "".join(reversed(moves))


@functools.lru_cache(maxsize=4096)
def shortest_distance(grid: tuple[str, ...]) -> int | None:
    """BFS distance from S to G (None if unreachable), layer by layer over a wall-padded flat copy of the grid."""
    width = max(len(row) for row in grid) + 2
    flat = "#" * width + "".join("#" + row.ljust(width - 2, "#") + "#" for row in grid) + "#" * width
    start, goal = flat.find("S"), flat.find("G")
    if start < 0 or goal < 0:
        return None
    seen = bytearray(len(flat))
    seen[start] = 1
    frontier, distance = [start], 0
    while frontier:
        if seen[goal]:
            return distance
        distance += 1
        following = []
        for index in frontier:
            for neighbour in (index - width, index + width, index - 1, index + 1):
                if not seen[neighbour] and flat[neighbour] != "#":
                    seen[neighbour] = 1
                    following.append(neighbour)
        frontier = following
    return None


def walk(grid: tuple[str, ...], moves: str) -> tuple[int, int] | None:
    """Square reached from S by ``moves``; None if a move leaves the grid or enters a wall."""
    r, c = _find(grid, "S")
    for move in moves:
        dr, dc = MOVES[move]
        r, c = r + dr, c + dc
        if not (0 <= r < len(grid) and 0 <= c < len(grid[r])) or grid[r][c] == "#":
            return None
    return r, c


def carve_maze(rows: int, cols: int, loop_fraction: float, rng: random.Random) -> list[list[str]]:
    """Randomized DFS from a random cell, then ``round(loop_fraction * W)`` of the W remaining inner walls removed."""
    height, width = 2 * rows + 1, 2 * cols + 1
    grid = [["#"] * width for _ in range(height)]
    start = (rng.randrange(rows), rng.randrange(cols))
    visited = {start}
    grid[2 * start[0] + 1][2 * start[1] + 1] = "."
    stack = [start]
    while stack:
        r, c = stack[-1]
        options = [
            (r + dr, c + dc)
            for dr, dc in MOVES.values()
            if 0 <= r + dr < rows and 0 <= c + dc < cols and (r + dr, c + dc) not in visited
        ]
        if not options:
            stack.pop()
            continue
        nr, nc = options[rng.randrange(len(options))]
        grid[r + nr + 1][c + nc + 1] = "."
        grid[2 * nr + 1][2 * nc + 1] = "."
        visited.add((nr, nc))
        stack.append((nr, nc))
    walls = [
        (r, c)
        for r in range(1, height - 1)
        for c in range(1, width - 1)
        if grid[r][c] == "#"
        and (r % 2) != (c % 2)  # a wall between two horizontally or vertically adjacent cells
    ]
    for r, c in rng.sample(walls, round(loop_fraction * len(walls))):
        grid[r][c] = "."
    return grid


@register_env
class Maze(Game):
    """Grid maze: find a shortest path from S to G.

    The maze is a character grid: ``#`` wall, ``.`` open, ``S`` start, ``G`` goal. Cells sit at odd
    coordinates and are joined by carving the wall between them with a randomized depth-first search (a
    perfect maze, one path between any two cells); higher levels then knock down a share of the remaining
    inner walls, which creates loops and several shortest paths.

    Answer: the moves as a string over ``U`` ``D`` ``L`` ``R`` (one grid square each), e.g. ``RRDDLD``; case,
    spaces and commas ignored. The verifier walks the moves and accepts any path from S to G whose length
    equals the BFS distance.

    **Differences from reasoning-gym.** reasoning-gym's ``maze`` (random open cells, drawn with four random
    characters) asks only the length of a shortest path, not the path; pearbench asks for the moves.
    tests/test_rg_agreement.py converts reasoning-gym's grids and checks that pearbench accepts a walk exactly
    when reasoning-gym accepts its length.
    """

    name = "maze"
    title = "Maze"
    family = "grid navigation"
    category = "search"
    description = "Find a shortest path from S to G through a grid maze (U/D/L/R moves)."
    Config = MazeConfig
    levels = {
        "easy": {"rows": 5, "cols": 5, "loop_fraction": 0.0},
        "medium": {"rows": 7, "cols": 7, "loop_fraction": 0.1},
        "hard": {"rows": 10, "cols": 10, "loop_fraction": 0.2},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        grid = carve_maze(cfg.rows, cfg.cols, cfg.loop_fraction, rng)
        start, goal = rng.sample(range(cfg.rows * cfg.cols), 2)
        for cell, mark in ((start, "S"), (goal, "G")):
            grid[2 * (cell // cfg.cols) + 1][2 * (cell % cfg.cols) + 1] = mark
        rows = tuple("".join(row) for row in grid)
        path = shortest_path(rows)
        assert path is not None  # the carved maze connects every cell
        return {"grid": list(rows)}, path

    def instance_space(self) -> int:
        """Lower bound max(C(h+w-2, h-1), C(W, k)) * N(N-1), N = h*w cells.

        C(h+w-2, h-1) bounds the DFS trees: Hamiltonian paths from a corner (first move down or right, recursively)
        are DFS outcomes. For a fixed tree, each k-subset of its W = E-(N-1) remaining inner walls gives a distinct
        maze. S and G are any ordered pair of distinct cells.
        """
        h, w = self.config.rows, self.config.cols
        cells = h * w
        remaining = h * (w - 1) + w * (h - 1) - (cells - 1)
        removed = round(self.config.loop_fraction * remaining)
        return max(comb(h + w - 2, h - 1), comb(remaining, removed)) * cells * (cells - 1)

    def prompt(self, instance: Instance) -> str:
        grid = "\n".join(instance.problem["grid"])
        return (
            "Find a shortest path through this maze from S to G. '#' is a wall, '.' is open floor; each move goes "
            "one square up (U), down (D), left (L) or right (R) and may not enter a wall.\n"
            f"{grid}\n"
            "Any path of the shortest possible length is accepted. Show your steps, then give the moves inside "
            "<answer></answer> as one string of U, D, L and R, for example <answer>RRDDLD</answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        return "\n".join(instance.problem["grid"]) + "\n"

    def check(self, instance: Instance, answer: str) -> bool:
        grid = tuple(instance.problem["grid"])
        if len(answer) > 4 * len(grid) * len(grid[0]):
            return False
        moves = "".join(ch for ch in answer.upper() if ch not in _IGNORED)
        if any(move not in MOVES for move in moves):
            return False
        if walk(grid, moves) != _find(grid, "G"):
            return False
        return len(moves) == shortest_distance(grid)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        grid = tuple(instance.problem["grid"])
        path = shortest_path(grid)
        if path is None:
            raise RuntimeError("maze goal is unreachable")  # the generator connects every cell
        r, c = _find(grid, "S")
        gr, gc = _find(grid, "G")
        if style == "steps":
            lines = [f"S=({r},{c}) G=({gr},{gc}) BFS shortest={len(path)}"]
        else:
            lines = [
                f"Counting rows and columns from 0, S is at row {r}, column {c} and G at row {gr}, column {gc}. A breadth-first search from S "
                f"reaches G in {len(path)} moves; follow that path back from G."
            ]
        index = 0
        while index < len(path):
            move = path[index]
            run = 1
            while index + run < len(path) and path[index + run] == move:
                run += 1
            dr, dc = MOVES[move]
            r, c = r + dr * run, c + dc * run
            if style == "steps":
                lines.append(f"{move}{run} -> ({r},{c})")
            else:
                squares = "square" if run == 1 else "squares"
                lines.append(f"Go {_MOVE_WORDS[move]} {run} {squares} to row {r}, column {c}.")
            index += run
        return "\n".join(lines) + f"\n<answer>{path}</answer>"
