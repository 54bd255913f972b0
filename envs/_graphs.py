"""Helpers shared by the weighted-graph games (shortest_path, min_spanning_tree): knob checks and the random
connected graph they draw. Not a game: :func:`pearbench.registry.bundled_modules` skips private modules."""

from __future__ import annotations

import random
from math import comb


def check_weighted_graph_knobs(n_vertices: object, n_edges: object, max_weight: object) -> None:
    """ValueError unless 3 <= n_vertices <= 30, n_vertices-1 <= n_edges <= C(n_vertices, 2), 1 <= max_weight <= 99."""
    if not isinstance(n_vertices, int) or not 3 <= n_vertices <= 30:
        raise ValueError(f"n_vertices must be an integer in 3..30, got {n_vertices!r}")
    if not isinstance(n_edges, int) or not n_vertices - 1 <= n_edges <= comb(n_vertices, 2):
        raise ValueError("n_edges must be an integer in n_vertices-1..n_vertices*(n_vertices-1)/2")
    if not isinstance(max_weight, int) or not 1 <= max_weight <= 99:
        raise ValueError(f"max_weight must be an integer in 1..99, got {max_weight!r}")


def random_structure(rng: random.Random, n: int, m: int) -> list[tuple[int, int]]:
    """A random connected simple graph with m edges: a random spanning tree plus m-(n-1) random other pairs."""
    order = list(range(n))
    rng.shuffle(order)
    edges = set()
    for i in range(1, n):
        u, v = order[i], order[rng.randrange(i)]
        edges.add((min(u, v), max(u, v)))
    rest = [(u, v) for u in range(n) for v in range(u + 1, n) if (u, v) not in edges]
    edges.update(rng.sample(rest, m - (n - 1)))
    return sorted(edges)
