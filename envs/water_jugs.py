"""Water jugs: measure an exact amount with two or three jugs, a tap and a drain.

The jugs start empty. A move fills a jug to the brim (``F1``), empties it (``E2``) or pours one jug into another
until the first is empty or the second is full (``P1>2``). The goal is some jug holding exactly the target amount
within a move budget (the fewest moves, found by breadth-first search, plus a slack). Any valid sequence within the
budget is accepted.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections import deque
from dataclasses import dataclass
from math import gcd
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_SEPARATORS = frozenset(" \t\r\n,;.()[]{}'\"")
Move = tuple[str, int, int]  # ("F", jug, -1), ("E", jug, -1) or ("P", from, to), 0-based jugs


@dataclass(frozen=True)
class WaterJugsConfig:
    n_jugs: int = 2
    min_capacity: int = 3
    max_capacity: int = 20
    slack: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.n_jugs, int) or self.n_jugs not in (2, 3):
            raise ValueError(f"n_jugs must be 2 or 3, got {self.n_jugs!r}")
        lo, hi = self.min_capacity, self.max_capacity
        if not isinstance(lo, int) or not isinstance(hi, int) or not 1 <= lo <= hi <= 99:
            raise ValueError(f"need integers 1 <= min_capacity <= max_capacity <= 99, got {lo!r}, {hi!r}")
        if hi - lo + 1 < max(self.n_jugs, 3):
            raise ValueError("the capacity range must hold at least 3 values (jugs have distinct capacities)")
        if not isinstance(self.slack, int) or not 0 <= self.slack <= 50:
            raise ValueError(f"slack must be an integer in 0..50, got {self.slack!r}")


@functools.lru_cache(maxsize=4)
def all_moves(n: int) -> tuple[Move, ...]:
    """Every move in the order breadth-first search tries them: fills, empties, then pours."""
    return (
        *[("F", i, -1) for i in range(n)],
        *[("E", i, -1) for i in range(n)],
        *[("P", i, j) for i in range(n) for j in range(n) if i != j],
    )


def apply_move(caps: tuple[int, ...], state: tuple[int, ...], move: Move) -> tuple[int, ...] | None:
    """State after the move; None when it is not allowed (it would change nothing: fill a full jug, empty an
    empty one, pour from an empty jug or into a full one, or pour a jug into itself)."""
    kind, i, j = move
    if not 0 <= i < len(caps):
        return None
    if kind == "F":
        if state[i] == caps[i]:
            return None
        return state[:i] + (caps[i],) + state[i + 1 :]
    if kind == "E":
        if state[i] == 0:
            return None
        return state[:i] + (0,) + state[i + 1 :]
    if not 0 <= j < len(caps) or i == j or state[i] == 0 or state[j] == caps[j]:
        return None
    amount = min(state[i], caps[j] - state[j])
    new = list(state)
    new[i] -= amount
    new[j] += amount
    return tuple(new)


@functools.lru_cache(maxsize=4096)
def explore(caps: tuple[int, ...]) -> dict[int, tuple[Move, ...]]:
    """Breadth-first search from all jugs empty: for every amount some jug can hold, a shortest move list that
    leaves it in a jug (the path to the first state in BFS order holding it)."""
    start = (0,) * len(caps)
    parents: dict[tuple[int, ...], Any] = {start: None}
    best: dict[int, tuple[int, ...]] = {0: start}
    queue = deque([start])
    moves = all_moves(len(caps))
    jugs = range(len(caps))
    while queue:
        state = queue.popleft()
        # the successors in the order of all_moves (inlined apply_move: this loop is the generator's hot spot)
        successors = []
        for i in jugs:
            successors.append(state[:i] + (caps[i],) + state[i + 1 :] if state[i] != caps[i] else None)
        for i in jugs:
            successors.append(state[:i] + (0,) + state[i + 1 :] if state[i] else None)
        for i in jugs:
            for j in jugs:
                if i != j:
                    amount = min(state[i], caps[j] - state[j])
                    if amount:
                        new = list(state)
                        new[i] -= amount
                        new[j] += amount
                        successors.append(tuple(new))
                    else:
                        successors.append(None)
        for move, nxt in zip(moves, successors):
            if nxt is None or nxt in parents:
                continue
            parents[nxt] = (state, move)
            queue.append(nxt)
            for amount in nxt:
                if amount not in best:
                    best[amount] = nxt
    plans = {}
    for amount, state in sorted(best.items()):
        path = []
        while parents[state] is not None:
            state, move = parents[state]
            path.append(move)
        plans[amount] = tuple(reversed(path))
    return plans


def optimal_moves(caps: tuple[int, ...], target: int) -> list[Move] | None:
    """A shortest move list leaving ``target`` in some jug; None when no jug can ever hold it."""
    plan = explore(tuple(caps)).get(target)
    return None if plan is None else list(plan)


@functools.lru_cache(maxsize=64)
def pair_rule_count(n_jugs: int, lo: int, hi: int) -> int:
    """(ordered distinct capacities, target) pairs where the target is a positive multiple of gcd(a, b) up to
    max(a, b) for some two of the jugs a, b, and no jug's capacity. Two jugs alone can measure exactly those
    amounts (the classic result), so every pair counted is a possible instance."""
    total = 0
    for caps in itertools.permutations(range(lo, hi + 1), n_jugs):
        amounts: set[int] = set()
        for a, b in itertools.combinations(caps, 2):
            amounts.update(range(gcd(a, b), max(a, b) + 1, gcd(a, b)))
        total += len(amounts - set(caps))
    return total


def format_move(move: Move) -> str:
    kind, i, j = move
    return f"P{i + 1}>{j + 1}" if kind == "P" else f"{kind}{i + 1}"


def parse_moves(text: str, limit: int) -> list[Move] | None:
    """``F1,P1>2,E2`` -> moves (case, spaces, commas, newlines, ``->`` tolerated); None if malformed or > limit."""
    symbols = [c for c in text.upper().replace("->", ">").replace("\u2192", ">") if c not in _SEPARATORS]
    moves: list[Move] = []
    index = 0
    while index < len(symbols):
        if len(moves) >= limit:
            return None
        kind = symbols[index]
        if kind in ("F", "E") and index + 1 < len(symbols) and symbols[index + 1] in "123456789":
            moves.append((kind, int(symbols[index + 1]) - 1, -1))
            index += 2
        elif (
            kind == "P"
            and index + 3 < len(symbols)
            and symbols[index + 1] in "123456789"
            and symbols[index + 2] == ">"
            and symbols[index + 3] in "123456789"
        ):
            moves.append(("P", int(symbols[index + 1]) - 1, int(symbols[index + 3]) - 1))
            index += 4
        else:
            return None
    return moves


def _state_text(state: tuple[int, ...]) -> str:
    return "(" + ",".join(str(amount) for amount in state) + ")"


def _describe(move: Move, caps: tuple[int, ...], before: tuple[int, ...], after: tuple[int, ...]) -> str:
    kind, i, j = move
    if kind == "F":
        action = f"Fill jug {i + 1} ({caps[i]} litres) from the tap"
    elif kind == "E":
        action = f"Empty jug {i + 1} down the drain"
    else:
        poured = before[i] - after[i]
        until = f"jug {j + 1} is full" if after[j] == caps[j] else f"jug {i + 1} is empty"
        action = (
            f"Pour jug {i + 1} into jug {j + 1} until {until} ({poured} litre{'s' if poured != 1 else ''})"
        )
    holds = ", ".join(str(amount) for amount in after[:-1]) + f" and {after[-1]}"
    return f"{action}; the jugs now hold {holds} litres."


@register_env
class WaterJugs(Game):
    """Measure an exact amount of water with two or three jugs in a limited number of moves.

    **Rules.** The jugs have the given capacities (litres) and start empty. A move is ``F<i>``: fill jug i to the
    brim from the tap; ``E<i>``: empty jug i; ``P<i>><j>``: pour jug i into jug j until jug i is empty or jug j is
    full. A move that would change nothing (filling a full jug, emptying an empty one, pouring from an empty jug or
    into a full one) is not allowed. After the last move some jug must hold exactly the target, and the number of
    moves must not exceed the budget: the fewest possible (breadth-first search) plus a slack.

    **Answer.** The moves separated by commas, e.g. ``F2,P2>1,E1,P2>1`` (case, spaces, newlines, ``->``
    tolerated). The verifier simulates the moves, so any valid sequence within the budget is accepted.

    **Levels.** easy: 2 jugs of 3-20 litres, budget = optimum + 2; medium: 3 jugs of 3-12 litres, optimum + 1;
    hard: 3 jugs of 4-20 litres, exactly the optimum (knobs ``n_jugs``, ``min_capacity``, ``max_capacity``,
    ``slack``). Capacities are distinct; the target is never 0 or a capacity (so at least two moves) and is always
    reachable.

    **Example.** ``jugs 3 5 target 4 in 6`` (compact form): ``<answer>F2,P2>1,E1,P2>1,F2,P2>1</answer>``
    (jug 2 ends with 4 litres).
    """

    name = "water_jugs"
    title = "WaterJugs"
    family = "state-space search"
    category = "search"
    description = (
        "Measure an exact amount of water by filling, emptying and pouring jugs within a move budget."
    )
    Config = WaterJugsConfig
    levels = {
        "easy": {"n_jugs": 2, "min_capacity": 3, "max_capacity": 20, "slack": 2},
        "medium": {"n_jugs": 3, "min_capacity": 3, "max_capacity": 12, "slack": 1},
        "hard": {"n_jugs": 3, "min_capacity": 4, "max_capacity": 20, "slack": 0},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        while True:
            caps = tuple(rng.sample(range(cfg.min_capacity, cfg.max_capacity + 1), cfg.n_jugs))
            targets = sorted(amount for amount in explore(caps) if amount > 0 and amount not in caps)
            if targets:
                break
        target = rng.choice(targets)
        moves = optimal_moves(caps, target)
        assert moves is not None
        problem = {"capacities": list(caps), "target": target, "max_moves": len(moves) + cfg.slack}
        return problem, ",".join(format_move(move) for move in moves)

    def instance_space(self) -> int:
        """Lower bound :func:`pair_rule_count` (exact for two jugs): every target two of the jugs can measure
        alone is reachable, and the generator draws its target from all reachable amounts but 0 and the
        capacities. Distinct ordered capacities with distinct targets are distinct instances (the budget follows
        from them)."""
        cfg = self.config
        return pair_rule_count(cfg.n_jugs, cfg.min_capacity, cfg.max_capacity)

    def prompt(self, instance: Instance) -> str:
        problem = instance.problem
        caps = problem["capacities"]
        listed = ", ".join(f"jug {i + 1} holds {cap} litres" for i, cap in enumerate(caps))
        return (
            f"You have {len(caps)} empty jugs without markings: {listed}. There is a tap and a drain.\n"
            "Moves: F<i> fills jug i to the brim; E<i> empties jug i; P<i>><j> pours jug i into jug j until jug i is "
            "empty or jug j is full. A move that changes nothing is not allowed.\n"
            f"Get exactly {problem['target']} litres into any one jug using at most {problem['max_moves']} moves. "
            "Any sequence that does this is accepted.\n"
            "Think step by step, then give the moves separated by commas inside <answer></answer>, for example "
            "<answer>F2,P2>1,E1</answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        problem = instance.problem
        caps = " ".join(str(cap) for cap in problem["capacities"])
        return f"jugs {caps} target {problem['target']} in {problem['max_moves']}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        problem = instance.problem
        budget = problem["max_moves"]
        if len(answer) > 8 * budget + 32:
            return False
        moves = parse_moves(answer, budget)
        if moves is None:
            return False
        caps = tuple(problem["capacities"])
        state: tuple[int, ...] | None = (0,) * len(caps)
        for move in moves:
            state = apply_move(caps, state, move)
            if state is None:
                return False
        return problem["target"] in state

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        problem = instance.problem
        caps = tuple(problem["capacities"])
        target = problem["target"]
        moves = optimal_moves(caps, target)
        if moves is None:  # the generator only draws reachable targets
            raise RuntimeError("target cannot be measured")
        state = (0,) * len(caps)
        lines = []
        if style == "steps":
            lines.append(f"bfs {_state_text(state)} -> {target} in {len(moves)}")
            for move in moves:
                state = apply_move(caps, state, move) or state
                lines.append(f"{format_move(move)} {_state_text(state)}")
        else:
            lines.append(
                f"Search breadth first over the possible jug contents, starting from all jugs empty: the fewest "
                f"moves that leave exactly {target} litres in a jug is {len(moves)}."
            )
            for move in moves:
                after = apply_move(caps, state, move) or state
                lines.append(_describe(move, caps, state, after))
                state = after
        jug = state.index(target) + 1
        if style == "steps":
            lines.append(f"jug {jug} = {target}")
        else:
            lines.append(f"Jug {jug} now holds exactly {target} litres.")
        return "\n".join(lines) + f"\n<answer>{','.join(format_move(move) for move in moves)}</answer>"
