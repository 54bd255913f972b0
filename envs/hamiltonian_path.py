"""Hamiltonian path: visit every vertex of a small undirected graph exactly once, moving along edges.

Every generated graph has a Hamiltonian path (one is planted, then distractor edges are added); at some levels the
path must start at a given vertex. The verifier checks the constraints, so any Hamiltonian path is accepted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from math import comb, factorial
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_SEPARATORS = str.maketrans({char: " " for char in "\t\r\n,;-><()[]{}\u2192"})
#: Dead ends written out in a trace; the rest are only counted.
_TRACE_DEAD_ENDS = 12


@dataclass(frozen=True)
class HamiltonianPathConfig:
    n_vertices: int = 7
    extra_edges: int = 3
    fixed_start: bool = False

    def __post_init__(self) -> None:
        n, extra = self.n_vertices, self.extra_edges
        if not isinstance(n, int) or not 4 <= n <= 16:
            raise ValueError(f"n_vertices must be an integer in 4..16, got {n!r}")
        room = n * (n - 1) // 2 - (n - 1)
        if not isinstance(extra, int) or not 0 <= extra <= room:
            raise ValueError(f"extra_edges must be an integer in 0..{room} for {n} vertices, got {extra!r}")
        if not isinstance(self.fixed_start, bool):
            raise ValueError(f"fixed_start must be True or False, got {self.fixed_start!r}")


def neighbour_lists(n: int, edges: list[list[int]]) -> list[list[int]]:
    """0-based sorted neighbour lists of the graph on vertices 1..n."""
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        neighbours[u - 1].append(v - 1)
        neighbours[v - 1].append(u - 1)
    return [sorted(row) for row in neighbours]


def find_path(
    neighbours: list[list[int]], start: int | None = None
) -> tuple[list[int] | None, list[tuple[str, list[int]]], int]:
    """Depth-first search for a Hamiltonian path (0-based), trying the neighbour with the fewest unvisited
    neighbours first (Warnsdorff's rule); without ``start``, start vertices are tried by increasing degree.

    Returns (path or None, the first events ("start", [v]) / ("stuck", partial path), number of events left out).
    """
    n = len(neighbours)
    masks = [sum(1 << w for w in row) for row in neighbours]
    events: list[tuple[str, list[int]]] = []
    dropped = 0

    def note(kind: str, path: list[int]) -> None:
        nonlocal dropped
        if len(events) < _TRACE_DEAD_ENDS:
            events.append((kind, list(path)))
        else:
            dropped += 1

    def extend(path: list[int], visited: int) -> bool:
        if len(path) == n:
            return True
        u = path[-1]
        options = [w for w in neighbours[u] if not visited >> w & 1]
        if not options:
            note("stuck", path)
            return False
        options.sort(key=lambda w: ((masks[w] & ~visited).bit_count(), w))
        for w in options:
            path.append(w)
            if extend(path, visited | 1 << w):
                return True
            path.pop()
        return False

    starts = [start] if start is not None else sorted(range(n), key=lambda v: (len(neighbours[v]), v))
    for first in starts:
        note("start", [first])
        path = [first]
        if extend(path, 1 << first):
            return path, events, dropped
    return None, events, dropped


def _choices(neighbours: list[list[int]], path: list[int]) -> list[tuple[int, list[int], int]]:
    """For each step u -> w of the path: the unvisited neighbours of u at that moment, in the order tried."""
    masks = [sum(1 << w for w in row) for row in neighbours]
    visited = 1 << path[0]
    steps = []
    for u, w in zip(path, path[1:]):
        options = [x for x in neighbours[u] if not visited >> x & 1]
        options.sort(key=lambda x: ((masks[x] & ~visited).bit_count(), x))
        steps.append((u, options, w))
        visited |= 1 << w
    return steps


def _format_path(path: list[int]) -> str:
    return "-".join(str(v + 1) for v in path)


@register_env
class HamiltonianPath(Game):
    """Find a path through a small graph that visits every vertex exactly once.

    **Rules.** The graph has vertices 1..n and the listed undirected edges. A Hamiltonian path lists every vertex
    exactly once so that each two consecutive vertices are joined by an edge. When a start vertex is given, the
    path must begin there. Every instance has at least one such path.

    **Answer.** The vertices in path order separated by dashes, e.g. ``3-1-4-2`` (spaces, commas, ``->``
    tolerated). The verifier checks the rules, so any Hamiltonian path (either direction, when no start is fixed)
    is accepted.

    **Levels.** easy: 7 vertices, 3 distractor edges, any start; medium: 9 vertices, 5 distractor edges, fixed
    start; hard: 12 vertices, 8 distractor edges, fixed start (knobs ``n_vertices``, ``extra_edges``,
    ``fixed_start``). The generator plants a random path through all vertices and adds ``extra_edges`` random
    other edges.

    **Example.** ``4: 1-3 1-4 2-4 3-4 start 3`` (compact form): ``<answer>3-1-4-2</answer>``.
    """

    name = "hamiltonian_path"
    title = "HamiltonianPath"
    family = "graph search"
    category = "graph"
    description = "Find a path that visits every vertex of a small graph exactly once."
    Config = HamiltonianPathConfig
    levels = {
        "easy": {"n_vertices": 7, "extra_edges": 3, "fixed_start": False},
        "medium": {"n_vertices": 9, "extra_edges": 5, "fixed_start": True},
        "hard": {"n_vertices": 12, "extra_edges": 8, "fixed_start": True},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        n = self.config.n_vertices
        planted = list(range(n))
        rng.shuffle(planted)
        edges = {(min(a, b), max(a, b)) for a, b in zip(planted, planted[1:])}
        others = [(u, v) for u in range(n) for v in range(u + 1, n) if (u, v) not in edges]
        edges.update(rng.sample(others, self.config.extra_edges))
        problem = {
            "n_vertices": n,
            "edges": [[u + 1, v + 1] for u, v in sorted(edges)],
            "start": planted[0] + 1 if self.config.fixed_start else None,
        }
        path, _, _ = find_path(neighbour_lists(n, problem["edges"]), self._start(problem))
        assert path is not None  # the planted path exists
        return problem, _format_path(path)

    def instance_space(self) -> int:
        """Lower bound P * C(R, k) // C(m, k): P planted paths (n!/2 undirected, n! directed with a start), R = the
        n(n-1)/2 - (n-1) non-path vertex pairs, k = extra_edges, m = n-1+k edges.

        Each (path, extras) choice gives a graph (with its start); one graph has at most C(m, k) Hamiltonian paths
        (each is a choice of n-1 of its m edges), so at most C(m, k) choices give the same instance.
        """
        n, k = self.config.n_vertices, self.config.extra_edges
        paths = factorial(n) if self.config.fixed_start else factorial(n) // 2
        room = n * (n - 1) // 2 - (n - 1)
        return max(1, paths * comb(room, k) // comb(n - 1 + k, k))

    @staticmethod
    def _start(problem: dict[str, Any]) -> int | None:
        start = problem.get("start")
        return None if start is None else start - 1

    @staticmethod
    def _edge_text(problem: dict[str, Any]) -> str:
        return " ".join(f"{u}-{v}" for u, v in problem["edges"])

    def prompt(self, instance: Instance) -> str:
        problem = instance.problem
        n = problem["n_vertices"]
        start = problem.get("start")
        where = f" The path must start at vertex {start}." if start is not None else ""
        return (
            f"An undirected graph has vertices 1 to {n} and these edges: {self._edge_text(problem)}.\n"
            "Find a Hamiltonian path: an order of all the vertices, each exactly once, in which every two "
            f"consecutive vertices are joined by an edge.{where} Any such path is accepted.\n"
            "Think step by step, then give the vertices in order separated by dashes inside <answer></answer>, "
            "for example <answer>3-1-4-2</answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        problem = instance.problem
        start = problem.get("start")
        tail = f" start {start}" if start is not None else ""
        return f"{problem['n_vertices']}: {self._edge_text(problem)}{tail}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        problem = instance.problem
        n = problem["n_vertices"]
        if len(answer) > 6 * n + 32:
            return False
        tokens = answer.translate(_SEPARATORS).split()
        if len(tokens) != n or not all(t.isascii() and t.isdigit() and len(t) <= 3 for t in tokens):
            return False
        path = [int(token) - 1 for token in tokens]
        if sorted(path) != list(range(n)):
            return False
        start = self._start(problem)
        if start is not None and path[0] != start:
            return False
        edges = {(u - 1, v - 1) for u, v in problem["edges"]}
        return all((min(a, b), max(a, b)) in edges for a, b in zip(path, path[1:]))

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        problem = instance.problem
        neighbours = neighbour_lists(problem["n_vertices"], problem["edges"])
        start = self._start(problem)
        path, events, dropped = find_path(neighbours, start)
        if path is None:  # the generator plants a path; never happens on generated instances
            raise RuntimeError("graph has no Hamiltonian path")
        lines = []
        if style == "steps":
            for kind, part in events:
                if kind == "start":
                    fixed = "fixed" if start is not None else f"deg {len(neighbours[part[0]])}"
                    lines.append(f"start {part[0] + 1} ({fixed})")
                else:
                    lines.append(f"stuck {_format_path(part)}")
            if dropped:
                lines.append(f"... {dropped} more")
            for u, options, w in _choices(neighbours, path):
                lines.append(f"{u + 1}>{w + 1} of {' '.join(str(x + 1) for x in options)}")
            lines.append(f"path {_format_path(path)}")
        else:
            if start is not None:
                lines.append(f"The path must start at vertex {start + 1}.")
            lines.append(
                "Search depth first, always moving next to the unvisited neighbour that has the fewest unvisited "
                "neighbours of its own, and back up whenever no unvisited neighbour is left."
            )
            for kind, part in events:
                if kind == "start":
                    if start is None:
                        degree = len(neighbours[part[0]])
                        lines.append(
                            f"Try starting at vertex {part[0] + 1}, which has {degree} "
                            f"neighbour{'s' if degree != 1 else ''}."
                        )
                else:
                    order = ", ".join(str(v + 1) for v in part)
                    lines.append(
                        f"Going {order} gets stuck: vertex {part[-1] + 1} has no unvisited neighbour, so back up."
                    )
            if dropped:
                lines.append(f"After {dropped} more dead ends or restarts the search succeeds.")
            for u, options, w in _choices(neighbours, path):
                if len(options) == 1:
                    lines.append(f"From {u + 1} the only unvisited neighbour is {w + 1}.")
                else:
                    names = ", ".join(str(x + 1) for x in options[:-1]) + f" and {options[-1] + 1}"
                    lines.append(f"From {u + 1} the unvisited neighbours are {names}; go to {w + 1}.")
            order = ", ".join(str(v + 1) for v in path)
            lines.append(
                f"The order {order} visits all {len(path)} vertices once, and each consecutive pair is joined by "
                "an edge."
            )
        return "\n".join(lines) + f"\n<answer>{_format_path(path)}</answer>"
