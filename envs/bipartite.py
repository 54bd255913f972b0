"""Bipartite: decide whether a small undirected graph is two-colourable, and prove it either way.

A proof is either a two-colouring (side A or B for every vertex, every edge joining the two sides), which shows the
graph is bipartite, or an odd cycle, which shows it is not. The verifier checks whichever proof is given against the
graph; a proof of the wrong kind cannot check out (a graph with an odd cycle has no two-colouring).
"""

from __future__ import annotations

import functools
import random
from collections import deque
from dataclasses import dataclass
from math import comb
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_SEPARATORS = frozenset(" \t\r\n,;")
_CYCLE_SEPARATORS = str.maketrans({char: " " for char in "\t\r\n,;-><()[]{}\u2192"})


@dataclass(frozen=True)
class BipartiteConfig:
    n_vertices: int = 7
    extra_edges: int = 2
    p_bipartite: float = 0.5

    def __post_init__(self) -> None:
        n, extra = self.n_vertices, self.extra_edges
        if not isinstance(n, int) or not 4 <= n <= 30:
            raise ValueError(f"n_vertices must be an integer in 4..30, got {n!r}")
        if not isinstance(extra, int) or extra < 1:
            raise ValueError(f"extra_edges must be an integer >= 1, got {extra!r}")
        if not side_sizes(n, n - 1 + extra):
            raise ValueError(
                f"extra_edges={extra} is too many for {n} vertices: a bipartite graph with sides of at least 2 "
                f"vertices has at most {(n // 2) * (n - n // 2)} edges"
            )
        if not 0.0 <= self.p_bipartite <= 1.0:
            raise ValueError(f"p_bipartite must be in [0, 1], got {self.p_bipartite!r}")


def side_sizes(n: int, edges: int) -> list[int]:
    """Sizes a of side A (2 <= a <= n-2) for which K_{a,n-a} has room for ``edges`` edges."""
    return [a for a in range(2, n - 1) if a * (n - a) >= edges]


@functools.cache
def connected_bipartite_count(a: int, b: int, m: int) -> int:
    """Connected spanning subgraphs of the labelled complete bipartite graph K_{a,b} with exactly m edges.

    All m-edge subsets, minus those where the component of a fixed vertex v of side A has i A-vertices and j
    B-vertices with (i, j) != (a, b): choose its other members, a connected k-edge graph on them, and any m-k edges
    among the vertices outside it.
    """
    if a == 0:
        a, b = b, a
    if a == 0:
        return 0
    if b == 0:
        return 1 if a == 1 and m == 0 else 0
    if m > a * b:
        return 0
    total = comb(a * b, m)
    for i in range(1, a + 1):
        for j in range(b + 1):
            if (i, j) == (a, b):
                continue
            ways = comb(a - 1, i - 1) * comb(b, j)
            outside = (a - i) * (b - j)
            for k in range(min(m, i * j) + 1):
                if m - k <= outside:
                    total -= ways * connected_bipartite_count(i, j, k) * comb(outside, m - k)
    return total


def adjacency(n: int, edges: list[list[int]]) -> list[list[int]]:
    """0-based sorted neighbour lists of the graph on vertices 1..n."""
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        neighbours[u - 1].append(v - 1)
        neighbours[v - 1].append(u - 1)
    return [sorted(row) for row in neighbours]


def two_colour(neighbours: list[list[int]]) -> tuple[list[int], list[tuple[int, list[int]]], Any]:
    """Breadth-first two-colouring from the smallest uncoloured vertex, neighbours in increasing order.

    Returns (colour per vertex, the search log as (vertex, newly coloured neighbours), result) where result is None
    when the graph is bipartite, else (u, w, cycle): the first edge u-w found with both ends on one side, and the odd
    cycle it closes with the search tree (0-based vertices, u ... common ancestor ... w).
    """
    n = len(neighbours)
    colour = [-1] * n
    parent = [-1] * n
    depth = [0] * n
    log: list[tuple[int, list[int]]] = []
    for root in range(n):
        if colour[root] >= 0:
            continue
        colour[root] = 0
        queue = deque([root])
        while queue:
            u = queue.popleft()
            fresh = []
            for w in neighbours[u]:
                if colour[w] < 0:
                    colour[w] = 1 - colour[u]
                    parent[w] = u
                    depth[w] = depth[u] + 1
                    fresh.append(w)
                    queue.append(w)
                elif colour[w] == colour[u]:
                    log.append((u, fresh))
                    return colour, log, (u, w, _tree_cycle(u, w, parent, depth))
            log.append((u, fresh))
    return colour, log, None


def _tree_cycle(u: int, w: int, parent: list[int], depth: list[int]) -> list[int]:
    """The cycle u -> ... -> lowest common ancestor -> ... -> w closed by the edge w-u (odd when depths match)."""
    up, down = [u], [w]
    x, y = u, w
    while depth[x] > depth[y]:
        x = parent[x]
        up.append(x)
    while depth[y] > depth[x]:
        y = parent[y]
        down.append(y)
    while x != y:
        x, y = parent[x], parent[y]
        up.append(x)
        down.append(y)
    return up + down[-2::-1]


def _format_cycle(cycle: list[int]) -> str:
    return "-".join(str(v + 1) for v in cycle)


def _format_colouring(colour: list[int]) -> str:
    return "".join("AB"[c] for c in colour)


@register_env
class Bipartite(Game):
    """Decide whether a graph is bipartite and prove it: a two-colouring if it is, an odd cycle if it is not.

    **Rules.** The graph has vertices 1..n and the listed undirected edges (it is connected). It is bipartite when
    every vertex can be put on side A or side B so that each edge joins the two sides; that is the case exactly
    when it has no cycle of odd length.

    **Answer.** Either a two-colouring: one letter A or B per vertex, in order 1..n (``ABBAB``; case, spaces and
    commas ignored); or an odd cycle: its vertices in order separated by dashes (``1-4-3``; spaces, commas, ``->``
    tolerated, the first vertex may be repeated at the end), every consecutive pair and the last-first pair being
    edges, no vertex twice, an odd number (>= 3) of vertices. Whichever proof is given is checked against the
    graph, so every valid colouring (sides may be swapped) and every odd cycle is accepted; a proof of the wrong
    kind can never check out.

    **Levels.** easy: 7 vertices, 8 edges; medium: 10 vertices, 13 edges; hard: 14 vertices, 19 edges (knobs
    ``n_vertices`` and ``extra_edges``, the edges beyond a spanning tree). About half the graphs are bipartite
    (``p_bipartite``): a random spanning tree of a random bipartition plus extra edges across it; the others swap
    one extra edge for an edge inside a side, so both kinds have the same number of edges.

    **Example.** ``4: 1-2 1-3 2-3 2-4 3-4`` (compact form) has the triangle 1-2-3: ``<answer>1-2-3</answer>``;
    without the edge 2-3 the answer could be ``<answer>ABBA</answer>``.
    """

    name = "bipartite"
    title = "Bipartite"
    family = "graph colouring proof"
    category = "graph"
    description = "Prove a graph bipartite with a two-colouring, or not bipartite with an odd cycle."
    Config = BipartiteConfig
    levels = {
        "easy": {"n_vertices": 7, "extra_edges": 2},
        "medium": {"n_vertices": 10, "extra_edges": 4},
        "hard": {"n_vertices": 14, "extra_edges": 6},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        n = self.config.n_vertices
        m = n - 1 + self.config.extra_edges
        bipartite = rng.random() < self.config.p_bipartite
        a = rng.choice(side_sizes(n, m))
        order = list(range(n))
        rng.shuffle(order)
        side = [1] * n
        for v in order[:a]:
            side[v] = 0
        first, second = order[0], order[a]
        rest = order[1:a] + order[a + 1 :]
        rng.shuffle(rest)
        placed: list[list[int]] = [[first], [second]]
        edges = {(min(first, second), max(first, second))}
        for v in rest:  # a random spanning tree across the bipartition
            u = rng.choice(placed[1 - side[v]])
            edges.add((min(u, v), max(u, v)))
            placed[side[v]].append(v)
        across = [
            (u, v) for u in range(n) for v in range(u + 1, n) if side[u] != side[v] and (u, v) not in edges
        ]
        extra = self.config.extra_edges - (0 if bipartite else 1)
        edges.update(rng.sample(across, extra))
        if not bipartite:
            within = [(u, v) for u in range(n) for v in range(u + 1, n) if side[u] == side[v]]
            edges.add(rng.choice(within))
        problem = {"n_vertices": n, "edges": [[u + 1, v + 1] for u, v in sorted(edges)]}
        colour, _, conflict = two_colour(adjacency(n, problem["edges"]))
        answer = _format_colouring(colour) if conflict is None else _format_cycle(conflict[2])
        return problem, answer

    def instance_space(self) -> int:
        """Lower bound: the bipartite graphs alone, counted exactly.

        Every connected bipartite graph on n labelled vertices with m = n-1+extra_edges edges whose sides have
        sizes in :func:`side_sizes` can come out (any of its spanning trees is a possible random tree, the other
        edges possible extras), and its bipartition is unique up to swapping sides: sum over unordered side sizes
        of C(n, a) (halved when a = n-a) times :func:`connected_bipartite_count`. The non-bipartite half adds more.
        """
        n = self.config.n_vertices
        m = n - 1 + self.config.extra_edges
        total = 0
        for a in side_sizes(n, m):
            if a < n - a:
                total += comb(n, a) * connected_bipartite_count(a, n - a, m)
            elif a == n - a:
                total += comb(n, a) // 2 * connected_bipartite_count(a, a, m)
        return total

    @staticmethod
    def _edge_text(problem: dict[str, Any]) -> str:
        return " ".join(f"{u}-{v}" for u, v in problem["edges"])

    def prompt(self, instance: Instance) -> str:
        n = instance.problem["n_vertices"]
        return (
            f"An undirected graph has vertices 1 to {n} and these edges: {self._edge_text(instance.problem)}.\n"
            "Is it bipartite, i.e. can every vertex be put on side A or side B so that every edge joins the two "
            "sides? Prove your answer.\n"
            f"If it is bipartite, give a two-colouring: {n} letters A or B, the side of vertex 1, 2, ..., {n} in "
            "order (for example <answer>ABBAB</answer>). If it is not, give a cycle of odd length: its vertices in "
            "order separated by dashes, each consecutive pair and the last and first joined by an edge, no vertex "
            "twice (for example <answer>1-4-3</answer>). Any valid proof is accepted.\n"
            "Think step by step, then give the proof inside <answer></answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        return f"{instance.problem['n_vertices']}: {self._edge_text(instance.problem)}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        n = instance.problem["n_vertices"]
        if len(answer) > 8 * n + 32:
            return False
        edges = {(u - 1, v - 1) for u, v in instance.problem["edges"]}
        edges |= {(v, u) for u, v in edges}
        if any("0" <= char <= "9" for char in answer):
            return self._check_cycle(n, edges, answer)
        letters = [char for char in answer.upper() if char not in _SEPARATORS]
        if len(letters) != n or any(letter not in ("A", "B") for letter in letters):
            return False
        return all(letters[u] != letters[v] for u, v in edges)

    @staticmethod
    def _check_cycle(n: int, edges: set[tuple[int, int]], answer: str) -> bool:
        tokens = answer.translate(_CYCLE_SEPARATORS).split()
        if not all(token.isascii() and token.isdigit() and len(token) <= 3 for token in tokens):
            return False
        cycle = [int(token) - 1 for token in tokens]
        if len(cycle) >= 2 and cycle[0] == cycle[-1]:
            cycle.pop()
        if len(cycle) < 3 or len(cycle) % 2 == 0 or len(set(cycle)) != len(cycle):
            return False
        if any(not 0 <= v < n for v in cycle):
            return False
        return all((cycle[i - 1], cycle[i]) in edges for i in range(len(cycle)))

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        n = instance.problem["n_vertices"]
        colour, log, conflict = two_colour(adjacency(n, instance.problem["edges"]))
        lines = []
        if style == "steps":
            lines.append("bfs 1=A")
            for u, fresh in log:
                side = "AB"[1 - colour[u]]
                new = " ".join(f"{w + 1}={side}" for w in fresh) or "-"
                lines.append(f"{u + 1}: {new}")
            if conflict is None:
                lines.append("no conflict: bipartite")
                answer = _format_colouring(colour)
            else:
                u, w, cycle = conflict
                lines.append(f"conflict {u + 1}-{w + 1} both {'AB'[colour[u]]}")
                lines.append(f"odd cycle {_format_cycle(cycle)} len {len(cycle)}")
                answer = _format_cycle(cycle)
        else:
            lines.append(
                "Colour the graph breadth first: put vertex 1 on side A, then give every uncoloured neighbour of a "
                "vertex the opposite side, and watch for an edge whose two ends end up on the same side."
            )
            for u, fresh in log:
                if fresh:
                    names = ", ".join(str(w + 1) for w in fresh)
                    side = "AB"[1 - colour[u]]
                    verb = "goes" if len(fresh) == 1 else "go"
                    lines.append(
                        f"Vertex {u + 1} is on side {'AB'[colour[u]]}, so {names} {verb} on side {side}."
                    )
                else:
                    lines.append(f"Vertex {u + 1} has no uncoloured neighbours left.")
            if conflict is None:
                lines.append(
                    "Every edge joins side A to side B, so the graph is bipartite and this colouring proves it."
                )
                answer = _format_colouring(colour)
            else:
                u, w, cycle = conflict
                lines.append(
                    f"But the edge {u + 1}-{w + 1} joins two vertices that are both on side {'AB'[colour[u]]}. "
                    f"Following the search tree from {u + 1} and {w + 1} back to their common ancestor and closing "
                    f"with this edge gives the cycle {_format_cycle(cycle)} with {len(cycle)} vertices, an odd "
                    "number, so the graph is not bipartite."
                )
                answer = _format_cycle(cycle)
        return "\n".join(lines) + f"\n<answer>{answer}</answer>"
