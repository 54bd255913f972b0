"""Graph colouring: give each vertex of a small undirected graph one of k colours, neighbours never sharing one.

The generator plants a colouring (every vertex a random colour in 1..k, every colour used), joins differently coloured
vertices at random, connects the graph with further such edges, and keeps it only when it is NOT (k-1)-colourable, so
k is exactly the chromatic number. Any proper colouring with colours 1..k is accepted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from math import comb
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_SEPARATORS = frozenset(" \t\r\n,;[](){}'\"")
_PAIR_MARKS = frozenset(":=")
_MAX_DIGITS = 3
#: rejection rounds before the generator plants a k-clique (guarantees termination at sparse settings)
_MAX_TRIES = 50


@dataclass(frozen=True)
class GraphColoringConfig:
    n_vertices: int = 8
    n_colors: int = 3
    edge_prob: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.n_vertices, int) or not 3 <= self.n_vertices <= 16:
            raise ValueError(f"n_vertices must be an integer in 3..16, got {self.n_vertices!r}")
        if not isinstance(self.n_colors, int) or not 2 <= self.n_colors <= min(6, self.n_vertices):
            raise ValueError(f"n_colors must be an integer in 2..min(6, n_vertices), got {self.n_colors!r}")
        if not 0.0 < self.edge_prob < 1.0:
            raise ValueError(f"edge_prob must be in (0, 1), got {self.edge_prob!r}")


# -- graphs as adjacency bitmasks -------------------------------------------------------------------------------
def adjacency(n: int, edges: list[list[int]] | list[tuple[int, int]]) -> list[int]:
    adj = [0] * n
    for u, v in edges:
        adj[u] |= 1 << v
        adj[v] |= 1 << u
    return adj


def is_connected(n: int, adj: list[int]) -> bool:
    seen, frontier = 1, 1
    while frontier:
        nxt = 0
        for v in range(n):
            if frontier >> v & 1:
                nxt |= adj[v]
        frontier = nxt & ~seen
        seen |= nxt
    return seen == (1 << n) - 1


def _connect(n: int, chosen: set[tuple[int, int]], candidates: list[tuple[int, int]]) -> None:
    """Add to ``chosen`` each candidate pair, in order, that joins two of its still separate components."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v in sorted(chosen):
        parent[find(u)] = find(v)
    for u, v in candidates:
        if find(u) != find(v):
            parent[find(u)] = find(v)
            chosen.add((u, v))


def colour_search(n: int, adj: list[int], k: int, trace: list[tuple] | None = None) -> list[int] | None:
    """A proper colouring with colours 1..k by DSATUR backtracking, or None if there is none.

    The next vertex is the uncoloured one whose neighbours show the most distinct colours (ties: more neighbours,
    then the lower number); colours are tried in increasing order, and a colour above every colour used so far is
    tried only once (the colours are interchangeable). ``trace`` collects ("set", v, c, neighbour colours),
    ("stuck", v) and ("undo", v, c) events.
    """
    colours = [0] * n
    degree = [bin(a).count("1") for a in adj]

    def used_by_neighbours(v: int) -> int:
        mask, a = 0, adj[v]
        while a:
            low = a & -a
            mask |= 1 << colours[low.bit_length() - 1]
            a ^= low
        return mask & ~1

    def rec(done: int, highest: int) -> bool:
        if done == n:
            return True
        best, best_key, best_used = -1, None, 0
        for v in range(n):
            if colours[v]:
                continue
            used = used_by_neighbours(v)
            key = (bin(used).count("1"), degree[v], -v)
            if best_key is None or key > best_key:
                best, best_key, best_used = v, key, used
        v = best
        options = [c for c in range(1, min(k, highest + 1) + 1) if not best_used >> c & 1]
        if not options:
            if trace is not None:
                trace.append(("stuck", v))
            return False
        for c in options:
            colours[v] = c
            if trace is not None:
                trace.append(("set", v, c, tuple(x for x in range(1, k + 1) if best_used >> x & 1)))
            if rec(done + 1, max(highest, c)):
                return True
            colours[v] = 0
            if trace is not None:
                trace.append(("undo", v, c))
        return False

    return colours if rec(0, 0) else None


def parse_colouring(text: str, n: int) -> list[int] | None:
    """Colours per vertex from ``0:1,1:2,...`` (each vertex exactly once, any order; ``=`` also accepted) or from a
    plain list of n colours ``1,2,1,...``; None when malformed."""
    tokens: list[int | str] = []
    i, length = 0, len(text)
    while i < length:
        ch = text[i]
        if ch in _SEPARATORS:
            i += 1
        elif ch in _PAIR_MARKS:
            tokens.append(":")
            i += 1
        elif "0" <= ch <= "9":
            j = i
            while j < length and "0" <= text[j] <= "9":
                j += 1
            if j - i > _MAX_DIGITS:
                return None
            tokens.append(int(text[i:j]))
            i = j
        else:
            return None
        if len(tokens) > 3 * n:
            return None
    if ":" not in tokens:
        if len(tokens) != n:
            return None
        return list(tokens)  # type: ignore[arg-type]
    if len(tokens) != 3 * n:
        return None
    colours = [0] * n
    for index in range(0, 3 * n, 3):
        vertex, mark, colour = tokens[index : index + 3]
        if mark != ":" or not isinstance(vertex, int) or not isinstance(colour, int):
            return None
        if not 0 <= vertex < n or colours[vertex]:
            return None
        colours[vertex] = colour if colour > 0 else -1
    return colours


def format_colouring(colours: list[int]) -> str:
    return ",".join(f"{v}:{c}" for v, c in enumerate(colours))


@register_env
class GraphColoring(Game):
    """Colour the vertices of a small graph with k colours so that no edge joins two vertices of the same colour.

    **Rules.** An undirected graph on vertices 0..n-1 is given as an edge list, with a number of colours k. Give
    every vertex a colour from 1..k so that the two ends of every edge get different colours. The graph is connected
    and k is its chromatic number: it cannot be coloured with k-1 colours, so the puzzle is never trivial.

    **Answer.** ``vertex:colour`` pairs separated by commas, e.g. ``0:1,1:2,2:1`` (each vertex exactly once, in
    any order; spaces, newlines, brackets, quotes and ``=`` for ``:`` are tolerated), or just the n colours in vertex
    order, e.g. ``1,2,1``. Any proper colouring is accepted (there are always several: the colours can be permuted).

    **Levels.** easy: 8 vertices, 3 colours; medium: 10 vertices, 4 colours; hard: 13 vertices, 4 colours (knobs
    ``n_vertices``, ``n_colors``, ``edge_prob``: the chance that two differently planted vertices are joined).

    **Example.** ``n4 k3: 0-1 0-2 1-2 2-3`` -> ``0:1,1:2,2:3,3:1``.
    """

    name = "graph_coloring"
    title = "GraphColoring"
    family = "graph puzzle"
    category = "graph"
    description = "Colour a graph's vertices with k colours so that no edge joins two vertices of one colour."
    Config = GraphColoringConfig
    levels = {
        "easy": {"n_vertices": 8, "n_colors": 3, "edge_prob": 0.5},
        "medium": {"n_vertices": 10, "n_colors": 4, "edge_prob": 0.55},
        "hard": {"n_vertices": 13, "n_colors": 4, "edge_prob": 0.5},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        n, k, p = self.config.n_vertices, self.config.n_colors, self.config.edge_prob
        tries = 0
        while True:
            tries += 1
            planted = [rng.randrange(1, k + 1) for _ in range(n)]
            if len(set(planted)) < k:
                continue
            cross = [(u, v) for u in range(n) for v in range(u + 1, n) if planted[u] != planted[v]]
            chosen = {pair for pair in cross if rng.random() < p}
            # connect the components with further cross-colour edges (the complete k-partite graph is connected)
            order = list(cross)
            rng.shuffle(order)
            _connect(n, chosen, order)
            if tries > _MAX_TRIES:  # plant a k-clique: one vertex of each colour, all joined
                picks = [min(v for v in range(n) if planted[v] == c) for c in range(1, k + 1)]
                chosen.update((min(a, b), max(a, b)) for a in picks for b in picks if a != b)
            edges = sorted(chosen)
            adj = adjacency(n, edges)
            if colour_search(n, adj, k - 1) is not None:
                continue
            colours = colour_search(n, adj, k)
            assert colours is not None  # the planted colouring exists
            problem = {"n_vertices": n, "n_colors": k, "edges": [list(e) for e in edges]}
            return problem, format_colouring(colours)

    def instance_space(self) -> int:
        """Safe lower bound: vertex v in class v mod k; the graphs holding the k-clique on vertices 0..k-1 and the
        edges v-(v mod k + 1) mod k for v >= k (so connected and k-chromatic), plus any set of the other edges
        between different classes. The generator can produce every one of them."""
        n, k = self.config.n_vertices, self.config.n_colors
        sizes = [len(range(c, n, k)) for c in range(k)]
        cross = comb(n, 2) - sum(comb(s, 2) for s in sizes)
        return 2 ** (cross - comb(k, 2) - (n - k))

    @staticmethod
    def _edges(instance: Instance) -> list[tuple[int, int]]:
        return [(u, v) for u, v in instance.problem["edges"]]

    def prompt(self, instance: Instance) -> str:
        n, k = instance.problem["n_vertices"], instance.problem["n_colors"]
        edges = ", ".join(f"{u}-{v}" for u, v in self._edges(instance))
        return (
            f"An undirected graph has {n} vertices numbered 0 to {n - 1} and these edges: {edges}.\n"
            f"Colour every vertex with one of the colours 1 to {k} so that the two ends of every edge get different "
            "colours.\n"
            "Think step by step, then give the colouring as vertex:colour pairs separated by commas (for example "
            "0:1,1:2,2:1) inside <answer></answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        n, k = instance.problem["n_vertices"], instance.problem["n_colors"]
        edges = " ".join(f"{u}-{v}" for u, v in self._edges(instance))
        return f"n{n} k{k}: {edges}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        n, k = instance.problem["n_vertices"], instance.problem["n_colors"]
        if len(answer) > 16 * n + 64:
            return False
        colours = parse_colouring(answer, n)
        if colours is None or any(not 1 <= c <= k for c in colours):
            return False
        return all(colours[u] != colours[v] for u, v in self._edges(instance))

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        n, k = instance.problem["n_vertices"], instance.problem["n_colors"]
        trace: list[tuple] = []
        colours = colour_search(n, adjacency(n, self._edges(instance)), k, trace)
        if colours is None:  # the generator guarantees a colouring; fall back on the gold
            colours = parse_colouring(instance.answer, n) or []
        lines = []
        if style == "steps":
            for event in trace:
                if event[0] == "set":
                    lines.append(f"{event[1]}:{''.join(str(x) for x in event[3])}>{event[2]}")
                elif event[0] == "stuck":
                    lines.append(f"{event[1]} stuck")
                else:
                    lines.append(f"undo {event[1]}")
        else:
            lines.append(
                f"Colour the vertices one at a time with colours 1 to {k}, always taking the uncoloured vertex whose "
                "neighbours already show the most different colours (ties: more neighbours, then the lower number), "
                "and give it the smallest colour its neighbours do not use."
            )
            previous: tuple = ()
            for event in trace:
                if event[0] == "set" and previous[:2] == ("undo", event[1]):
                    lines.append(f"Vertex {event[1]} tries the next free colour, {event[2]}.")
                elif event[0] == "set":
                    _, v, c, taken = event
                    if taken:
                        names = ", ".join(str(x) for x in taken)
                        plural = "s" if len(taken) > 1 else ""
                        lines.append(
                            f"Vertex {v} has neighbours in colour{plural} {names}, so it gets colour {c}."
                        )
                    else:
                        lines.append(f"Vertex {v} has no coloured neighbour yet, so it gets colour {c}.")
                elif event[0] == "stuck":
                    lines.append(f"Vertex {event[1]} has no colour left, so an earlier choice must change.")
                else:
                    lines.append(f"Take colour {event[2]} back from vertex {event[1]}.")
                previous = event
            lines.append("Every edge now joins two different colours.")
        return "\n".join(lines) + f"\n<answer>{format_colouring(colours)}</answer>"
