"""Sokoban: push every box onto a goal square within a move budget.

Rooms are generated backwards: boxes start on the goals and the player pulls them away (reverse play), so every
puzzle is solvable; reversing the pulls gives a solution, which is then tidied (repeated states cut out, walks
replaced by shortest walks). The verifier simulates the moves, so any legal move string that puts every box on a
goal within the budget is accepted.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass
from math import comb
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

#: move letter -> (row delta, column delta); the order is also the order walks are searched in
_DELTAS = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}
_OPPOSITE = {"U": "D", "D": "U", "L": "R", "R": "L"}
_WORDS = {"U": "up", "D": "down", "L": "left", "R": "right"}
_SEPARATORS = frozenset(" \t\r\n,;[](){}'\"")
_TIMES = {1: "once", 2: "twice"}


@dataclass(frozen=True)
class SokobanConfig:
    rows: int = 5
    cols: int = 5
    boxes: int = 1
    min_walls: int = 1
    max_walls: int = 3
    max_runs: int = 3
    search_cap: int = 2000
    slack: int = 0

    def __post_init__(self) -> None:
        for knob in ("rows", "cols"):
            value = getattr(self, knob)
            if not isinstance(value, int) or not 4 <= value <= 10:
                raise ValueError(f"{knob} (room interior) must be an integer in 4..10, got {value!r}")
        if not isinstance(self.boxes, int) or not 1 <= self.boxes <= (self.cols + 1) // 2:
            raise ValueError("boxes must be in 1..ceil(cols/2)")
        if not 0 <= self.min_walls <= self.max_walls <= self.rows * self.cols // 4:
            raise ValueError("need 0 <= min_walls <= max_walls <= rows*cols/4")
        if not self.boxes <= self.max_runs <= 20:
            raise ValueError("max_runs must be in boxes..20")
        if not isinstance(self.search_cap, int) or not 0 <= self.search_cap <= 100_000:
            raise ValueError("search_cap must be an integer in 0..100000")
        if not isinstance(self.slack, int) or self.slack < 0:
            raise ValueError("slack must be an integer >= 0")


class Room:
    """A parsed board: flat cells ``r * width + c``; walls, goals, boxes and the player."""

    def __init__(self, board: list[str]) -> None:
        self.height, self.width = len(board), len(board[0])
        self.wall = bytearray(self.height * self.width)
        self.goals: list[int] = []
        self.boxes: list[int] = []
        self.player = -1
        for r, row in enumerate(board):
            for c, char in enumerate(row):
                cell = r * self.width + c
                if char == "#":
                    self.wall[cell] = 1
                if char in ".*+":
                    self.goals.append(cell)
                if char in "$*":
                    self.boxes.append(cell)
                if char in "@+":
                    self.player = cell
        self.step = {m: dr * self.width + dc for m, (dr, dc) in _DELTAS.items()}

    def name(self, cell: int) -> str:
        return f"r{cell // self.width + 1}c{cell % self.width + 1}"


def render(height: int, width: int, wall, goals, boxes, player: int) -> list[str]:
    """XSB-style rows: # wall, - floor, . goal, $ box, * box on goal, @ player, + player on goal."""
    goal_set, box_set = set(goals), set(boxes)
    rows = []
    for r in range(height):
        row = []
        for c in range(width):
            cell = r * width + c
            if wall[cell]:
                row.append("#")
            elif cell in box_set:
                row.append("*" if cell in goal_set else "$")
            elif cell == player:
                row.append("+" if cell in goal_set else "@")
            else:
                row.append("." if cell in goal_set else "-")
        rows.append("".join(row))
    return rows


def walk_parents(wall, box, start: int, step: dict[str, int]) -> dict[int, tuple[int, str] | None]:
    """Breadth-first search over free cells from ``start``: cell -> (previous cell, move) (start -> None)."""
    parents: dict[int, tuple[int, str] | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for move, delta in step.items():
            nxt = cell + delta
            if nxt not in parents and not wall[nxt] and not box[nxt]:
                parents[nxt] = (cell, move)
                queue.append(nxt)
    return parents


def path_to(parents: dict[int, tuple[int, str] | None], target: int) -> str:
    moves = []
    while parents[target] is not None:
        target, move = parents[target]
        moves.append(move)
    return "".join(reversed(moves))


def simulate(room: Room, moves: str) -> tuple[int, list[int]] | None:
    """Play ``moves`` (U/D/L/R) from the room's start; (player, boxes) at the end, or None at an illegal move."""
    wall, step = room.wall, room.step
    box = bytearray(len(wall))
    for cell in room.boxes:
        box[cell] = 1
    player = room.player
    for move in moves:
        delta = step[move]
        nxt = player + delta
        if wall[nxt]:
            return None
        if box[nxt]:
            beyond = nxt + delta
            if wall[beyond] or box[beyond]:
                return None
            box[nxt], box[beyond] = 0, 1
        player = nxt
    return player, [cell for cell in range(len(box)) if box[cell]]


def tidy(wall, width: int, start: int, boxes: list[int], goals: list[int], moves: str) -> str:
    """Shorten a legal solution: stop when every box is on a goal, cut out repeated states, replace the moves
    between two visits of the same box positions by a shorter walk, and shorten every walk between pushes."""
    step = {m: dr * width + dc for m, (dr, dc) in _DELTAS.items()}
    goal_key = sum(1 << cell for cell in goals)
    # 1. cut loops: states are (box bitmask, player)
    box_key = sum(1 << cell for cell in boxes)
    player = start
    seen = {(box_key, player): 0}
    keys = [(box_key, player)]
    kept: list[str] = []
    for move in moves:
        nxt = player + step[move]
        if box_key >> nxt & 1:
            box_key ^= (1 << nxt) | (1 << (nxt + step[move]))
        player = nxt
        key = (box_key, player)
        if key in seen:
            index = seen[key]
            for old in keys[index + 1 :]:
                del seen[old]
            del keys[index + 1 :]
            del kept[index:]
        else:
            kept.append(move)
            keys.append(key)
            seen[key] = len(kept)
        if box_key == goal_key:
            break
    # 2. cut box loops: where the boxes stand as they did earlier, walk straight to the later player square
    kept = "".join(kept)
    improved = True
    while improved:
        improved = False
        states = _states(step, start, boxes, kept)
        last = {key[0]: index for index, key in enumerate(states)}
        for index, (box_key, player) in enumerate(states):
            later = last[box_key]
            if later - index < 2:
                continue
            box = bytearray(len(wall))
            for cell in range(box_key.bit_length()):
                box[cell] = box_key >> cell & 1
            parents = walk_parents(wall, box, player, step)
            target = states[later][1]
            if target in parents:
                walk = path_to(parents, target)
                if len(walk) < later - index:
                    kept = kept[:index] + walk + kept[later:]
                    improved = True
                    break
    # 3. replace the walk before each push by a shortest walk
    box = bytearray(len(wall))
    for cell in boxes:
        box[cell] = 1
    out: list[str] = []
    player, walk_from = start, start
    for move in kept:
        nxt = player + step[move]
        if box[nxt]:
            if walk_from != player:
                out.append(path_to(walk_parents(wall, box, walk_from, step), player))
            out.append(move)
            box[nxt], box[nxt + step[move]] = 0, 1
            walk_from = nxt
        player = nxt
    return "".join(out)


def _states(step: dict[str, int], start: int, boxes: list[int], moves: str) -> list[tuple[int, int]]:
    """(box bitmask, player) before the first move and after each move of a legal move string."""
    box_key = sum(1 << cell for cell in boxes)
    player = start
    states = [(box_key, player)]
    for move in moves:
        nxt = player + step[move]
        if box_key >> nxt & 1:
            box_key ^= (1 << nxt) | (1 << (nxt + step[move]))
        player = nxt
        states.append((box_key, player))
    return states


def push_distances(wall, width: int, goals: list[int]) -> list[int]:
    """Fewest pushes that bring a lone box from each cell to some goal (walls only; -1 = dead cell)."""
    step = [dr * width + dc for dr, dc in _DELTAS.values()]
    dist = [-1] * len(wall)
    queue = deque(goals)
    for cell in goals:
        dist[cell] = 0
    while queue:
        cell = queue.popleft()
        for (
            delta
        ) in step:  # pull the box from ``cell`` to ``cell + delta``; the player needs ``cell + 2 delta``
            if dist[cell + delta] < 0 and not wall[cell + delta] and not wall[cell + 2 * delta]:
                dist[cell + delta] = dist[cell] + 1
                queue.append(cell + delta)
    return dist


def optimal_moves(wall, width: int, player: int, boxes: list[int], goals: list[int], cap: int) -> str | None:
    """A shortest solution by A* over (boxes, player) states, or None after ``cap`` expansions.

    The heuristic (the sum over boxes of the push distance to the nearest goal) never overestimates and changes by
    at most 1 per move, so the first goal state taken from the queue is optimal. Boxes are never pushed onto dead
    cells (from which no goal can be reached even alone), which removes no solution.
    """
    dist = push_distances(wall, width, goals)
    moves = [(move, dr * width + dc) for move, (dr, dc) in _DELTAS.items()]
    goal_mask = sum(1 << cell for cell in goals)
    start = (sum(1 << cell for cell in boxes) << 8) | player
    best = {start: 0}
    parents: dict[int, tuple[int, str] | None] = {start: None}
    heap = [(sum(dist[cell] for cell in boxes), 0, 0, start)]
    pushed = expanded = 0
    while heap:
        score, neg_cost, _, key = heapq.heappop(heap)
        cost = -neg_cost
        if best[key] < cost:
            continue
        box_mask, cell = key >> 8, key & 255
        if box_mask == goal_mask:
            path = []
            while parents[key] is not None:
                key, move = parents[key]
                path.append(move)
            return "".join(reversed(path))
        expanded += 1
        if expanded > cap:
            return None
        estimate = score - cost
        for move, delta in moves:
            nxt = cell + delta
            if wall[nxt]:
                continue
            new_mask, new_estimate = box_mask, estimate
            if box_mask >> nxt & 1:
                beyond = nxt + delta
                if wall[beyond] or box_mask >> beyond & 1 or dist[beyond] < 0:
                    continue
                new_mask = box_mask ^ (1 << nxt) ^ (1 << beyond)
                new_estimate += dist[beyond] - dist[nxt]
            new_key = (new_mask << 8) | nxt
            if best.get(new_key, cost + 2) <= cost + 1:
                continue
            best[new_key] = cost + 1
            parents[new_key] = (key, move)
            pushed += 1
            heapq.heappush(heap, (cost + 1 + new_estimate, -cost - 1, pushed, new_key))
    return None


def segments(room: Room, moves: str) -> list[tuple[str, int, str, int, int, int]]:
    """Split a legal solution into (walk, cell after the walk, push direction, pushes, box from, box to)."""
    box = bytearray(len(room.wall))
    for cell in room.boxes:
        box[cell] = 1
    player, out, index = room.player, [], 0
    while index < len(moves):
        walk = ""
        while index < len(moves) and not box[player + room.step[moves[index]]]:
            walk += moves[index]
            player += room.step[moves[index]]
            index += 1
        if index == len(moves):
            out.append((walk, player, "", 0, -1, -1))
            break
        direction, delta = moves[index], room.step[moves[index]]
        origin, count = player + delta, 0
        while index < len(moves) and moves[index] == direction and box[player + delta]:
            box[player + delta], box[player + 2 * delta] = 0, 1
            player += delta
            count += 1
            index += 1
        out.append((walk, player - count * delta, direction, count, origin, player + delta))
    return out


def parse_moves(text: str, limit: int) -> str | None:
    """U/D/L/R in any case with separators ignored; None if anything else appears or more than ``limit`` moves."""
    moves = []
    for char in text:
        upper = char.upper()
        if upper in _DELTAS:
            moves.append(upper)
            if len(moves) > limit:
                return None
        elif char not in _SEPARATORS:
            return None
    return "".join(moves)


@register_env
class Sokoban(Game):
    """Push the boxes onto the goals in a small walled room, within a move budget.

    **Rules.** The room is drawn with ``#`` wall, ``-`` floor, ``.`` goal, ``$`` box, ``*`` box on a goal, ``@``
    the player and ``+`` the player on a goal. Each move steps the player one square up (U), down (D), left (L) or
    right (R). Moving into a box pushes it one square the same way, which is only allowed when the square beyond
    is floor or goal (not a wall, not another box); boxes cannot be pulled and the player cannot walk into walls.
    Solve by having every box on a goal at the end, using at most the budget of moves.

    **Answer.** A string of U/D/L/R (case, spaces, commas and newlines ignored). Any legal move string that ends
    with every box on a goal within the budget is accepted. Boards are generated by reverse play (the player pulls
    boxes off the goals), so each is solvable; the budget (plus ``slack``) is the shortest solution found by a
    capped A* search, or else the reversed pulls after cutting out repeated states and shortening every walk.

    **Levels.** easy: 5x5 room interior, 1 box, 1-3 inner walls; medium: 6x6, 2 boxes, 2-4 walls; hard: 7x7,
    3 boxes, 3-6 walls (``max_runs`` pull runs at most in reverse play). The budget is the optimum whenever an A*
    search within ``search_cap`` expansions finds it: in samples, every easy board and 199 of 200 medium ones, but
    only about one hard board in five; the other hard budgets (from the tidied reverse play) were on average about
    14 moves above optima of about 21 moves.

    **Example.** Compact prompt (the board, then the budget)::

        #######
        #----.#
        ##----#
        ##--#-#
        #-$-@-#
        #-----#
        ####### 13

    answer ``DLLLURRRDRUUU`` (push the box right twice along row 5, then up three times onto the goal).
    """

    name = "sokoban"
    title = "Sokoban"
    family = "push puzzle"
    category = "search"
    description = "Push every box onto a goal in a walled room within a move budget (U/D/L/R moves)."
    Config = SokobanConfig
    levels = {
        "easy": {
            "rows": 5,
            "cols": 5,
            "boxes": 1,
            "min_walls": 1,
            "max_walls": 3,
            "max_runs": 3,
            "search_cap": 2000,
        },
        "medium": {
            "rows": 6,
            "cols": 6,
            "boxes": 2,
            "min_walls": 2,
            "max_walls": 4,
            "max_runs": 5,
            "search_cap": 2000,
        },
        "hard": {
            "rows": 7,
            "cols": 7,
            "boxes": 3,
            "min_walls": 3,
            "max_walls": 6,
            "max_runs": 7,
            "search_cap": 700,
        },
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        height, width = cfg.rows + 2, cfg.cols + 2
        step = {m: dr * width + dc for m, (dr, dc) in _DELTAS.items()}
        interior = [r * width + c for r in range(1, cfg.rows + 1) for c in range(1, cfg.cols + 1)]
        max_pull = max(cfg.rows, cfg.cols)
        while True:
            wall = bytearray(height * width)
            for cell in range(height * width):
                r, c = divmod(cell, width)
                wall[cell] = r in (0, height - 1) or c in (0, width - 1)
            for cell in rng.sample(interior, rng.randint(cfg.min_walls, cfg.max_walls)):
                wall[cell] = 1
            floor = [cell for cell in interior if not wall[cell]]
            box = bytearray(height * width)
            if len(walk_parents(wall, box, floor[0], step)) != len(floor):
                continue  # the floor must be one connected region
            goals = sorted(rng.sample(floor, cfg.boxes))
            for cell in goals:
                box[cell] = 1
            player = rng.choice([cell for cell in floor if not box[cell]])
            reverse: list[str] = []
            for _ in range(rng.randint(cfg.boxes, cfg.max_runs)):
                parents = walk_parents(wall, box, player, step)
                options = [
                    (cell, move)
                    for cell in range(len(box))
                    if box[cell]
                    for move, delta in step.items()
                    if cell + delta in parents and not wall[cell + 2 * delta] and not box[cell + 2 * delta]
                ]
                if not options:
                    break
                cell, move = rng.choice(options)
                delta = step[move]
                reverse.extend(path_to(parents, cell + delta))
                player = cell + delta
                for _ in range(rng.randint(1, max_pull)):
                    beyond = player + delta
                    if wall[beyond] or box[beyond]:
                        break
                    box[player - delta], box[player] = 0, 1  # the box follows the player one square
                    player = beyond
                    reverse.append(move)
            parents = walk_parents(wall, box, player, step)
            target = rng.choice(sorted(parents))
            reverse.extend(path_to(parents, target))
            player = target
            boxes = [cell for cell in range(len(box)) if box[cell]]
            if any(cell in goals for cell in boxes):
                continue
            forward = "".join(_OPPOSITE[move] for move in reversed(reverse))
            moves = tidy(wall, width, player, boxes, goals, forward)
            best = optimal_moves(wall, width, player, boxes, goals, cfg.search_cap)
            if best is not None and len(best) <= len(moves):
                moves = best
            board = render(height, width, wall, goals, boxes, player)
            problem = {"board": board, "boxes": cfg.boxes, "max_moves": len(moves) + cfg.slack}
            return problem, moves

    def instance_space(self) -> int:
        """A lower bound: boards of one family the generator produces, each with positive probability.

        Count interior cells from 0. Inner walls only on cells with both coordinates odd (any w of those S cells,
        w in min_walls..max_walls): every even row and every even column stays open, so the floor is connected.
        Walls, goals, boxes and player are all drawn, so different choices below are different boards.

        One box: the goal is any cell g of an even row or column, and one pull run drags the box along that open
        line to any cell b that leaves the player a square beyond it (a line of length L has (L-1)(L-2) such
        ordered pairs); the floor minus one box stays connected, so the final walk ends on any of at least
        rows*cols - max_walls - 1 cells.

        Several boxes: the goals are any ``boxes`` of the E even columns of the top row; one pull run per box drags
        it straight down to any depth 1..rows-3, the player walking between runs along the lowest even row (below
        every box); the final walk ends on any of the ``cols`` cells of that row.
        """
        cfg = self.config
        odd = (cfg.rows // 2) * (cfg.cols // 2)
        layouts = sum(comb(odd, w) for w in range(cfg.min_walls, cfg.max_walls + 1))
        if cfg.boxes == 1:
            pairs = ((cfg.rows + 1) // 2) * (cfg.cols - 1) * (cfg.cols - 2)
            pairs += ((cfg.cols + 1) // 2) * (cfg.rows - 1) * (cfg.rows - 2)
            return max(1, layouts * pairs * (cfg.rows * cfg.cols - cfg.max_walls - 1))
        goals = comb((cfg.cols + 1) // 2, cfg.boxes)
        return max(1, layouts * goals * (cfg.rows - 3) ** cfg.boxes * cfg.cols)

    def prompt(self, instance: Instance) -> str:
        board = "\n".join(instance.problem["board"])
        budget = instance.problem["max_moves"]
        return (
            "Solve this Sokoban puzzle. Legend: # wall, - floor, . goal, $ box, * box on a goal, @ you, + you "
            "standing on a goal. Each move steps you one square up (U), down (D), left (L) or right (R). Walking "
            "into a box pushes it one square in the same direction, which is only possible if the square beyond "
            "it is free floor or goal (not a wall or another box). You cannot pull boxes or walk through walls. "
            f"Get every box onto a goal in at most {budget} moves.\n\n{board}\n\n"
            "Think step by step, then give your moves inside <answer></answer> as one string of U, D, L and R, "
            "for example <answer>LLUR</answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        return "\n".join(instance.problem["board"]) + f" {instance.problem['max_moves']}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        budget = instance.problem["max_moves"]
        if len(answer) > 8 * budget + 64:
            return False
        moves = parse_moves(answer, budget)
        if moves is None:
            return False
        room = Room(instance.problem["board"])
        end = simulate(room, moves)
        return end is not None and sorted(end[1]) == sorted(room.goals)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        room = Room(instance.problem["board"])
        moves = instance.answer
        if simulate(room, moves) is None:  # pragma: no cover - the stored gold is always legal
            raise RuntimeError("stored Sokoban solution is illegal")
        goals = set(room.goals)
        lines = []
        if style == "steps":
            lines.append(
                f"player {room.name(room.player)} boxes {' '.join(room.name(b) for b in room.boxes)} "
                f"goals {' '.join(room.name(g) for g in room.goals)}"
            )
            for walk, _, direction, count, origin, target in segments(room, moves):
                if count:
                    head = f"{walk} " if walk else ""
                    lines.append(
                        f"{head}push {direction * count}: {room.name(origin)}>{room.name(target)}"
                        + (" goal" if target in goals else "")
                    )
            lines.append(f"all boxes on goals in {len(moves)} moves")
        else:
            lines.append(
                "Rows and columns are counted from 1 at the top-left corner of the map. You start at "
                f"{room.name(room.player)}; the boxes are at {', '.join(room.name(b) for b in room.boxes)} and "
                f"the goals at {', '.join(room.name(g) for g in room.goals)}. Each box has to be pushed from the "
                "side opposite to where it should go, so I plan each push and then walk to the square behind the "
                "box."
            )
            for walk, reached, direction, count, origin, target in segments(room, moves):
                if not count:
                    continue
                if walk:
                    steps = ", ".join(_WORDS[m] for m in walk)
                    lines.append(f"Walk {steps} to {room.name(reached)}.")
                times = _TIMES.get(count, f"{count} times")
                where = "a goal" if target in goals else "not a goal yet"
                lines.append(
                    f"Push the box at {room.name(origin)} {_WORDS[direction]} {times}, to {room.name(target)} "
                    f"({where})."
                )
            lines.append(f"Every box is on a goal after {len(moves)} moves.")
        return "\n".join(lines) + f"\n<answer>{moves}</answer>"
