"""Topological sort: order lettered tasks so that every "X before Y" constraint holds.

A hidden random order of the tasks is drawn and each pair (earlier, later) becomes a constraint with probability
``edge_prob``; a task left out of every constraint is tied to a random other task. With ``unique=True`` every pair of
neighbours in the hidden order is a constraint too (a Hamiltonian chain), so the hidden order is the ONLY valid one.
The verifier checks the constraints, so every valid order is accepted either way.
"""

from __future__ import annotations

import heapq
import random
import string
from dataclasses import dataclass
from math import comb, factorial
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_SEPARATORS = frozenset(" \t\r\n,;.-[](){}'\"")


@dataclass(frozen=True)
class TopologicalSortConfig:
    n_tasks: int = 6
    edge_prob: float = 0.35
    unique: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.n_tasks, int) or not 3 <= self.n_tasks <= 26:
            raise ValueError(f"n_tasks must be an integer in 3..26, got {self.n_tasks!r}")
        if not 0.0 < self.edge_prob < 1.0:
            raise ValueError(f"edge_prob must be in (0, 1), got {self.edge_prob!r}")
        if not isinstance(self.unique, bool):
            raise ValueError("unique must be True or False")


def kahn(tasks: list[str], constraints: list[list[str]], trace: list | None = None) -> list[str] | None:
    """Kahn's algorithm, always taking the alphabetically first ready task; None if there is a cycle.

    ``trace`` collects (task taken, ready tasks after it), after an initial (None, ready tasks)."""
    successors: dict[str, list[str]] = {t: [] for t in tasks}
    indegree = dict.fromkeys(tasks, 0)
    for a, b in constraints:
        successors[a].append(b)
        indegree[b] += 1
    ready = [t for t in tasks if indegree[t] == 0]
    heapq.heapify(ready)
    if trace is not None:
        trace.append((None, sorted(ready)))
    order = []
    while ready:
        task = heapq.heappop(ready)
        order.append(task)
        for nxt in successors[task]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, nxt)
        if trace is not None:
            trace.append((task, sorted(ready)))
    return order if len(order) == len(tasks) else None


def parse_order(text: str, limit: int) -> list[str] | None:
    """Task letters in order from ``C, A, B``, ``CAB``, ``C -> A -> B``, ``[c, a, b]``...; None if malformed."""
    text = text.replace("->", " ").replace("\u2192", " ")
    order: list[str] = []
    for ch in text:
        if ch in _SEPARATORS:
            continue
        if not ("A" <= ch <= "Z" or "a" <= ch <= "z") or len(order) >= limit:
            return None
        order.append(ch.upper())
    return order


@register_env
class TopologicalSort(Game):
    """Put lettered tasks in an order that respects every "X before Y" constraint.

    **Rules.** n tasks named by the letters A, B, C, ... and a list of constraints "X before Y" (together they form a
    directed acyclic graph) are given. List every task exactly once so that for each constraint X comes earlier than
    Y.

    **Answer.** the task letters in order, e.g. ``C, A, B`` (commas, spaces, ``->``, brackets and lower case are
    tolerated; ``CAB`` works too). Any order that respects all constraints is accepted. At medium the constraints
    include a chain through all tasks, so exactly one order is valid there; elsewhere there are usually several.

    **Levels.** easy: 6 tasks, each possible constraint present with probability 0.35; medium: 8 tasks, unique
    order (a hidden chain plus constraints with probability 0.25); hard: 12 tasks, probability 0.3 (knobs
    ``n_tasks``, ``edge_prob``, ``unique``).

    **Example.** ``ABC: B<A B<C`` -> ``B, A, C`` (``B, C, A`` is accepted too).
    """

    name = "topological_sort"
    title = "TopologicalSort"
    family = "graph algorithm"
    category = "graph"
    description = "Order tasks so that every 'X before Y' constraint of a DAG is respected."
    Config = TopologicalSortConfig
    levels = {
        "easy": {"n_tasks": 6, "edge_prob": 0.35, "unique": False},
        "medium": {"n_tasks": 8, "edge_prob": 0.25, "unique": True},
        "hard": {"n_tasks": 12, "edge_prob": 0.3, "unique": False},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        n, p = self.config.n_tasks, self.config.edge_prob
        tasks = list(string.ascii_uppercase[:n])
        hidden = list(tasks)
        rng.shuffle(hidden)
        pairs = set()
        for i in range(n):
            for j in range(i + 1, n):
                if (self.config.unique and j == i + 1) or rng.random() < p:
                    pairs.add((i, j))
        touched = {i for pair in pairs for i in pair}
        for i in range(n):  # tie a task that is in no constraint to a random other one
            if i not in touched:
                j = rng.choice([x for x in range(n) if x != i])
                pairs.add((min(i, j), max(i, j)))
                touched.update((i, j))
        constraints = sorted([hidden[i], hidden[j]] for i, j in pairs)
        order = kahn(tasks, constraints)
        assert order is not None
        return {"tasks": tasks, "constraints": constraints}, ", ".join(order)

    def instance_space(self) -> int:
        """With ``unique``: exactly n! * 2**(C(n,2) - (n-1)) (a hidden order, whose chain is forced, and any set of
        the other forward pairs; the chain fixes the order, so all are distinct). Without: the same number is a
        safe lower bound (those constraint sets contain no isolated task and each has positive probability)."""
        n = self.config.n_tasks
        return factorial(n) * 2 ** (comb(n, 2) - (n - 1))

    def prompt(self, instance: Instance) -> str:
        tasks = instance.problem["tasks"]
        rules = "\n".join(f"- {a} before {b}" for a, b in instance.problem["constraints"])
        return (
            f"There are {len(tasks)} tasks: {', '.join(tasks)}. They must be done one at a time, in an order that "
            f'respects these constraints ("X before Y" means X must come earlier than Y):\n{rules}\n'
            "Think step by step, then give an order of all the tasks, each exactly once, as letters separated by "
            "commas (for example B, A, C) inside <answer></answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        rules = " ".join(f"{a}<{b}" for a, b in instance.problem["constraints"])
        return f"{''.join(instance.problem['tasks'])}: {rules}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        tasks = instance.problem["tasks"]
        if len(answer) > 8 * len(tasks) + 64:
            return False
        order = parse_order(answer, len(tasks))
        if order is None or sorted(order) != sorted(tasks):
            return False
        position = {task: index for index, task in enumerate(order)}
        return all(position[a] < position[b] for a, b in instance.problem["constraints"])

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        tasks, constraints = instance.problem["tasks"], instance.problem["constraints"]
        trace: list = []
        order = kahn(tasks, constraints, trace)
        if order is None:  # the generator only makes acyclic constraints
            raise RuntimeError("constraints have a cycle")
        lines = []
        if style == "steps":
            for task, ready in trace:
                lines.append(f"{task or 'ready'}:{''.join(ready)}")
        else:
            _, ready = trace[0]
            lines.append(
                "Repeatedly take the task that has no unfinished prerequisite (the alphabetically first, when "
                f"several are free). At the start the free tasks are {', '.join(ready)}."
            )
            freed_before = set(ready)
            for task, ready in trace[1:]:
                newly = [t for t in ready if t not in freed_before]
                freed_before.update(newly)
                if newly:
                    lines.append(f"Take {task}; that frees {', '.join(newly)}.")
                else:
                    lines.append(f"Take {task}; it frees no new task.")
            lines.append(f"All {len(order)} tasks are placed and every constraint points forward.")
        return "\n".join(lines) + f"\n<answer>{', '.join(order)}</answer>"
