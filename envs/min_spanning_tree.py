"""Minimum spanning tree: pick edges of a small weighted connected graph that join every vertex at the least weight.

The graph is a random spanning tree plus random extra edges (simple, undirected), with integer weights
1..max_weight; equal weights are common, so a graph often has several minimum spanning trees. Any spanning tree whose
weight equals the minimum (Kruskal) is accepted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from pearbench.envs._graphs import check_weighted_graph_knobs, random_structure
from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_SEPARATORS = frozenset(" \t\r\n,;-[](){}'\"")
_MAX_DIGITS = 3


@dataclass(frozen=True)
class MinSpanningTreeConfig:
    n_vertices: int = 5
    n_edges: int = 8
    max_weight: int = 9

    def __post_init__(self) -> None:
        check_weighted_graph_knobs(self.n_vertices, self.n_edges, self.max_weight)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[ra] = rb
        return True


def kruskal(
    n: int, edges: list[list[int]], trace: list | None = None
) -> tuple[int, list[tuple[int, int, int]]]:
    """(weight, tree edges) of a minimum spanning forest; edges are scanned by (weight, u, v).

    ``trace`` collects (u, v, w, taken) for every edge scanned until the tree is complete."""
    forest = _UnionFind(n)
    tree = []
    for w, u, v in sorted((c, min(a, b), max(a, b)) for a, b, c in edges):
        if len(tree) == n - 1:
            break
        taken = forest.union(u, v)
        if taken:
            tree.append((u, v, w))
        if trace is not None:
            trace.append((u, v, w, taken))
    return sum(w for _, _, w in tree), tree


def parse_edges(text: str, limit: int) -> list[tuple[int, int]] | None:
    """Vertex pairs from ``0-1, 1-2``, ``(0,1),(1,2)``, ``0 1\\n1 2``...; None if malformed, odd or over ``limit``
    edges."""
    numbers: list[int] = []
    i, length = 0, len(text)
    while i < length:
        ch = text[i]
        if ch in _SEPARATORS:
            i += 1
        elif "0" <= ch <= "9":
            j = i
            while j < length and "0" <= text[j] <= "9":
                j += 1
            if j - i > _MAX_DIGITS or len(numbers) >= 2 * limit:
                return None
            numbers.append(int(text[i:j]))
            i = j
        else:
            return None
    if len(numbers) % 2:
        return None
    return [(numbers[k], numbers[k + 1]) for k in range(0, len(numbers), 2)]


def _format(tree: list[tuple[int, int, int]]) -> str:
    return ", ".join(f"{u}-{v}" for u, v, _ in tree)


@register_env
class MinSpanningTree(Game):
    """Choose edges of a weighted graph that connect all vertices with the smallest total weight.

    **Rules.** A connected undirected graph on vertices 0..n-1 is given as a list of edges with positive integer
    weights. Choose n-1 of its edges that connect all the vertices (a spanning tree) so that their total weight is as
    small as possible.

    **Answer.** the chosen edges as vertex pairs, e.g. ``0-1, 1-3, 0-2`` (any order, either direction; commas,
    spaces, newlines and brackets such as ``(0,1),(1,3)`` are tolerated). Any spanning tree of the graph whose weight
    equals the minimum (Kruskal) is accepted; weights repeat, so several trees often qualify.

    **Levels.** easy: 5 vertices, 8 edges, weights 1..9; medium: 7 vertices, 13 edges, weights 1..9; hard: 10
    vertices, 20 edges, weights 1..15 (knobs ``n_vertices``, ``n_edges``, ``max_weight``).

    **Example.** ``n4: 0-1:3 0-2:1 1-2:1 1-3:4 2-3:2`` -> ``0-2, 1-2, 2-3`` (weight 4).
    """

    name = "min_spanning_tree"
    title = "MinSpanningTree"
    family = "graph algorithm"
    category = "graph"
    description = "Choose the edges of a minimum-weight spanning tree of a weighted graph."
    Config = MinSpanningTreeConfig
    levels = {
        "easy": {"n_vertices": 5, "n_edges": 8, "max_weight": 9},
        "medium": {"n_vertices": 7, "n_edges": 13, "max_weight": 9},
        "hard": {"n_vertices": 10, "n_edges": 20, "max_weight": 15},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        structure = random_structure(rng, cfg.n_vertices, cfg.n_edges)
        edges = [[u, v, rng.randint(1, cfg.max_weight)] for u, v in structure]
        _, tree = kruskal(cfg.n_vertices, edges)
        return {"n_vertices": cfg.n_vertices, "edges": edges}, _format(tree)

    def instance_space(self) -> int:
        """Safe lower bound: the weights are drawn independently of the structure, so one structure already comes
        with max_weight ** n_edges distinct instances."""
        return self.config.max_weight**self.config.n_edges

    def prompt(self, instance: Instance) -> str:
        p = instance.problem
        edges = ", ".join(f"{u}-{v} (weight {w})" for u, v, w in p["edges"])
        return (
            f"A connected undirected graph has {p['n_vertices']} vertices numbered 0 to {p['n_vertices'] - 1} "
            f"and these weighted edges: {edges}.\n"
            f"Choose {p['n_vertices'] - 1} of these edges that connect all the vertices (a spanning tree) with the "
            "smallest possible total weight.\n"
            "Think step by step, then give the chosen edges as vertex pairs separated by commas (for example "
            "0-1, 1-3, 0-2) inside <answer></answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        p = instance.problem
        edges = " ".join(f"{u}-{v}:{w}" for u, v, w in p["edges"])
        return f"n{p['n_vertices']}: {edges}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        p = instance.problem
        n = p["n_vertices"]
        if len(answer) > 16 * n + 64:
            return False
        chosen = parse_edges(answer, n - 1)
        if chosen is None or len(chosen) != n - 1:
            return False
        weights = {}
        for u, v, w in p["edges"]:
            weights[(u, v)] = weights[(v, u)] = w
        forest = _UnionFind(n)
        total = 0
        for u, v in chosen:
            if (u, v) not in weights or not forest.union(u, v):
                return False  # not an edge, or it closes a cycle (a repeated edge included)
            total += weights[(u, v)]
        # n-1 edges without a cycle on n vertices form a spanning tree
        return total == kruskal(n, p["edges"])[0]

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        p = instance.problem
        trace: list = []
        weight, tree = kruskal(p["n_vertices"], p["edges"], trace)
        lines = []
        if style == "steps":
            for u, v, w, taken in trace:
                lines.append(f"{u}-{v}:{w} {'+' if taken else 'x'}")
            lines.append(f"total {weight}")
        else:
            lines.append(
                "Use Kruskal's algorithm: go through the edges from lightest to heaviest and keep an edge unless its "
                "two ends are already connected by the edges kept so far."
            )
            for u, v, w, taken in trace:
                if taken:
                    lines.append(f"Edge {u}-{v} (weight {w}) joins two separate parts, so keep it.")
                else:
                    lines.append(f"Edge {u}-{v} (weight {w}) would close a cycle, so skip it.")
            lines.append(
                f"The {len(tree)} kept edges connect all {p['n_vertices']} vertices, with total weight {weight}."
            )
        return "\n".join(lines) + f"\n<answer>{_format(tree)}</answer>"
