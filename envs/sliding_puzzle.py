"""Sliding puzzle (8-puzzle family): slide tiles into the blank until the board matches the goal.

The start is a random walk of the blank from the goal, so every instance is solvable. Moves are named by the
direction the BLANK travels (``U`` swaps the blank with the tile above it). The budget is the fewest moves
(bidirectional breadth-first search) plus a slack; any move string that reaches the goal within it is accepted.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from math import factorial
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

#: Move letter -> (row delta, column delta) of the blank, in the order searches try them.
MOVES = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}
REVERSE = {"U": "D", "D": "U", "L": "R", "R": "L"}
_WORDS = {"U": "up", "D": "down", "L": "left", "R": "right"}
_IGNORED = frozenset(" \t\r\n,;.-")
BLANK = "_"


@dataclass(frozen=True)
class SlidingPuzzleConfig:
    rows: int = 2
    cols: int = 3
    scramble: int = 12
    slack: int = 0
    goal: str = "random"

    def __post_init__(self) -> None:
        for knob in ("rows", "cols"):
            value = getattr(self, knob)
            if not isinstance(value, int) or not 2 <= value <= 4:
                raise ValueError(f"{knob} must be an integer in 2..4, got {value!r}")
        if self.rows * self.cols > 9:
            raise ValueError("rows * cols must be at most 9 (tiles are the digits 1..8)")
        if not isinstance(self.scramble, int) or not 1 <= self.scramble <= 200:
            raise ValueError(f"scramble must be an integer in 1..200, got {self.scramble!r}")
        if not isinstance(self.slack, int) or not 0 <= self.slack <= 50:
            raise ValueError(f"slack must be an integer in 0..50, got {self.slack!r}")
        if self.goal not in ("random", "standard"):
            raise ValueError(f"goal must be 'random' or 'standard', got {self.goal!r}")


@functools.lru_cache(maxsize=16)
def neighbour_table(rows: int, cols: int) -> tuple[tuple[tuple[str, int], ...], ...]:
    """For each blank position, the (move letter, new blank position) pairs on the board, in U D L R order."""
    table = []
    for position in range(rows * cols):
        r, c = divmod(position, cols)
        options = []
        for letter, (dr, dc) in MOVES.items():
            if 0 <= r + dr < rows and 0 <= c + dc < cols:
                options.append((letter, (r + dr) * cols + c + dc))
        table.append(tuple(options))
    return tuple(table)


def swap(state: str, i: int, j: int) -> str:
    """The board with positions i and j exchanged."""
    if i > j:
        i, j = j, i
    return state[:i] + state[j] + state[i + 1 : j] + state[i] + state[j + 1 :]


def apply_moves(state: str, rows: int, cols: int, moves: str) -> str | None:
    """Board after the moves (row-major string, ``_`` the blank); None when a move leaves the board."""
    table = neighbour_table(rows, cols)
    blank = state.index(BLANK)
    for move in moves:
        target = next((to for letter, to in table[blank] if letter == move), None)
        if target is None:
            return None
        state = swap(state, blank, target)
        blank = target
    return state


@functools.lru_cache(maxsize=4096)
def shortest_solution(start: str, goal: str, rows: int, cols: int) -> str | None:
    """A shortest move string from ``start`` to ``goal`` by bidirectional breadth-first search (None if none).

    Whole layers are expanded, the smaller frontier first; in the first layer that touches the other side's
    visited states, the touching state with the smallest total distance gives an optimal path (any shorter path
    would have met in an earlier layer).
    """
    if start == goal:
        return ""
    table = neighbour_table(rows, cols)
    forward: dict[str, Any] = {start: None}
    backward: dict[str, Any] = {goal: None}
    depth_f = {start: 0}
    depth_b = {goal: 0}
    front_f, front_b = [start], [goal]
    while front_f and front_b:
        grow_forward = len(front_f) <= len(front_b)
        if grow_forward:
            mine, other, mine_depth, other_depth, frontier = forward, backward, depth_f, depth_b, front_f
        else:
            mine, other, mine_depth, other_depth, frontier = backward, forward, depth_b, depth_f, front_b
        level = mine_depth[frontier[0]] + 1
        layer = []
        best: tuple[int, str] | None = None
        for state in frontier:
            blank = state.index(BLANK)
            for letter, to in table[blank]:
                nxt = swap(state, blank, to)
                if nxt in mine:
                    continue
                # forward parent: (previous state, move into nxt); backward: (next state, move out of nxt)
                mine[nxt] = (state, letter if grow_forward else REVERSE[letter])
                mine_depth[nxt] = level
                layer.append(nxt)
                if nxt in other and (best is None or level + other_depth[nxt] < best[0]):
                    best = (level + other_depth[nxt], nxt)
        if best is not None:
            meet = best[1]
            head = []
            state = meet
            while forward[state] is not None:
                state, letter = forward[state]
                head.append(letter)
            tail = []
            state = meet
            while backward[state] is not None:
                state, letter = backward[state]
                tail.append(letter)
            return "".join(reversed(head)) + "".join(tail)
        if grow_forward:
            front_f = layer
        else:
            front_b = layer
    return None


@functools.lru_cache(maxsize=64)
def layer_sizes(goal: str, rows: int, cols: int, depth: int) -> tuple[int, ...]:
    """Number of boards at each breadth-first distance 0..depth from ``goal`` (full search up to ``depth``)."""
    table = neighbour_table(rows, cols)
    seen = {goal}
    frontier = [goal]
    sizes = [1]
    for _ in range(depth):
        layer = []
        for state in frontier:
            blank = state.index(BLANK)
            for _letter, to in table[blank]:
                nxt = swap(state, blank, to)
                if nxt not in seen:
                    seen.add(nxt)
                    layer.append(nxt)
        sizes.append(len(layer))
        frontier = layer
    return tuple(sizes)


def standard_goal(rows: int, cols: int) -> str:
    return "".join(str(tile) for tile in range(1, rows * cols)) + BLANK


def _grid(state: str, cols: int, joiner: str = "/") -> str:
    return joiner.join(state[r : r + cols] for r in range(0, len(state), cols))


@register_env
class SlidingPuzzle(Game):
    """Slide the tiles of a small board into the goal arrangement within a move budget.

    **Rules.** A rows x cols board holds tiles 1..rows*cols-1 and one blank ``_``. A move slides a tile next to
    the blank into it; it is named by the direction the blank travels: ``U`` swaps the blank with the tile above
    it, ``D`` below, ``L`` to its left, ``R`` to its right. A move off the board is illegal. Reach the goal board in
    at most the budget: the fewest moves (bidirectional breadth-first search) plus a slack.

    **Answer.** One string of U, D, L, R, e.g. ``ULDR`` (case, spaces and commas ignored). The verifier simulates
    it, so any move sequence that reaches the goal within the budget is accepted.

    **Levels.** easy: 2x3 board, 12 random scramble moves, budget = optimum + 2; medium: 3x3, 16 scramble moves,
    optimum + 1; hard: 3x3, 40 scramble moves, exactly the optimum (knobs ``rows``, ``cols``, ``scramble``,
    ``slack``, ``goal``). The goal is a random arrangement (``goal="random"``) or the standard 1..n with the blank
    last; the start is a random walk of the blank from the goal (never straight back), redrawn if it ends on the
    goal, so every instance is solvable.

    **Example.** ``1_3/425 > 123/45_ in 2`` (compact form: start > goal, rows separated by ``/``):
    ``<answer>DR</answer>`` (the blank swaps with the 2 below it, then with the 5 to its right).
    """

    name = "sliding_puzzle"
    title = "SlidingPuzzle"
    family = "state-space search"
    category = "search"
    description = "Slide tiles into the blank until the board matches the goal, within a move budget."
    Config = SlidingPuzzleConfig
    levels = {
        "easy": {"rows": 2, "cols": 3, "scramble": 12, "slack": 2},
        "medium": {"rows": 3, "cols": 3, "scramble": 16, "slack": 1},
        "hard": {"rows": 3, "cols": 3, "scramble": 40, "slack": 0},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        table = neighbour_table(cfg.rows, cfg.cols)
        tiles = list(standard_goal(cfg.rows, cfg.cols))
        if cfg.goal == "random":
            rng.shuffle(tiles)
        goal = "".join(tiles)
        while True:
            state, blank, last = goal, goal.index(BLANK), ""
            for _ in range(cfg.scramble):
                options = [(letter, to) for letter, to in table[blank] if letter != REVERSE.get(last)]
                last, to = options[rng.randrange(len(options))]
                state = swap(state, blank, to)
                blank = to
            if state != goal:
                break
        moves = shortest_solution(state, goal, cfg.rows, cfg.cols)
        assert moves is not None  # a walk from the goal can be walked back
        problem = {
            "rows": cfg.rows,
            "cols": cfg.cols,
            "start": state,
            "goal": goal,
            "max_moves": len(moves) + cfg.slack,
        }
        return problem, moves

    def instance_space(self) -> int:
        """Lower bound. Every board at breadth-first distance exactly ``scramble`` from the goal can be the start
        (a shortest path is a walk that never steps straight back). With a random goal, relabelling tiles maps one
        goal's boards onto another's, so for small boards (rows*cols <= 6) the count is the sum over blank positions
        p of (rows*cols-1)! goals times the boards at that distance from a goal with its blank at p; for larger
        boards only the (rows*cols)! goals, each with at least one start, are counted. With the standard goal: the
        boards at that distance (a full breadth-first search up to it).
        """
        cfg = self.config
        cells = cfg.rows * cfg.cols
        if cfg.goal == "standard":
            sizes = layer_sizes(standard_goal(cfg.rows, cfg.cols), cfg.rows, cfg.cols, cfg.scramble)
            return max(1, sizes[-1])
        if cells > 6:
            return factorial(cells)
        total = 0
        tiles = standard_goal(cfg.rows, cfg.cols)[:-1]
        for blank in range(cells):
            goal = tiles[:blank] + BLANK + tiles[blank:]
            total += factorial(cells - 1) * layer_sizes(goal, cfg.rows, cfg.cols, cfg.scramble)[-1]
        return max(factorial(cells), total)

    def prompt(self, instance: Instance) -> str:
        problem = instance.problem
        rows, cols = problem["rows"], problem["cols"]
        start = "\n".join(" ".join(row) for row in _grid(problem["start"], cols).split("/"))
        goal = "\n".join(" ".join(row) for row in _grid(problem["goal"], cols).split("/"))
        return (
            f"Sliding puzzle on a {rows}x{cols} board with tiles 1 to {rows * cols - 1} and one blank (_).\n"
            f"Start:\n{start}\nGoal:\n{goal}\n"
            "A move slides a tile next to the blank into the blank. Name each move by the direction the BLANK "
            "travels: U swaps the blank with the tile above it, D with the tile below it, L with the tile to its "
            "left, R with the tile to its right. Moves off the board are not allowed.\n"
            f"Reach the goal in at most {problem['max_moves']} moves. Any move sequence that does so is accepted.\n"
            "Think step by step, then give the moves as one string of U, D, L and R inside <answer></answer>, for "
            "example <answer>ULDR</answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        problem = instance.problem
        cols = problem["cols"]
        return f"{_grid(problem['start'], cols)} > {_grid(problem['goal'], cols)} in {problem['max_moves']}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        problem = instance.problem
        budget = problem["max_moves"]
        if len(answer) > 4 * budget + 64:
            return False
        moves = "".join(char for char in answer.upper() if char not in _IGNORED)
        if len(moves) > budget or any(move not in MOVES for move in moves):
            return False
        return apply_moves(problem["start"], problem["rows"], problem["cols"], moves) == problem["goal"]

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        problem = instance.problem
        rows, cols = problem["rows"], problem["cols"]
        moves = shortest_solution(problem["start"], problem["goal"], rows, cols)
        if moves is None:  # generated starts are walks from the goal
            raise RuntimeError("the goal cannot be reached")
        state = problem["start"]
        lines = []
        if style == "steps":
            lines.append(f"bfs {_grid(state, cols)} > {_grid(problem['goal'], cols)}: {len(moves)} moves")
        else:
            lines.append(
                "Search breadth first from the start and from the goal at the same time until the two searches "
                f"meet: the fewest moves is {len(moves)}."
            )
        for move in moves:
            blank = state.index(BLANK)
            after = apply_moves(state, rows, cols, move) or state
            if style == "steps":
                lines.append(f"{move} {_grid(after, cols)}")
            else:
                tile = after[blank]
                slide = _WORDS[REVERSE[move]]
                lines.append(
                    f"Move the blank {_WORDS[move]} (tile {tile} slides {slide}); the rows are now "
                    f"{_grid(after, cols, ', ')}."
                )
            state = after
        if style == "steps":
            lines.append("goal")
        else:
            lines.append("The board now matches the goal.")
        return "\n".join(lines) + f"\n<answer>{moves}</answer>"
