"""Shortest path: the lightest route between two vertices of a small weighted graph (undirected, or directed at hard).

The graph is a random spanning tree plus random extra edges (no loops, no parallel edges; a directed graph orients
each edge at random), with integer weights 1..max_weight. Source and target are at least ``min_hops`` edges apart
when the graph allows it. Any path whose weight equals the Dijkstra distance is accepted.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from typing import Any

from pearbench.envs._graphs import check_weighted_graph_knobs, random_structure
from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_SEPARATORS = frozenset(" \t\r\n,;-><[](){}'\"\u2192")
_MAX_DIGITS = 3
#: structures tried before the generator settles for the farthest pair it has
_MAX_TRIES = 20


@dataclass(frozen=True)
class ShortestPathConfig:
    n_vertices: int = 6
    n_edges: int = 8
    max_weight: int = 9
    directed: bool = False
    min_hops: int = 2

    def __post_init__(self) -> None:
        check_weighted_graph_knobs(self.n_vertices, self.n_edges, self.max_weight)
        if not isinstance(self.directed, bool):
            raise ValueError("directed must be True or False")
        if not isinstance(self.min_hops, int) or not 1 <= self.min_hops < self.n_vertices:
            raise ValueError("min_hops must be an integer in 1..n_vertices-1")


def neighbours(n: int, edges: list[list[int]], directed: bool) -> list[list[tuple[int, int]]]:
    """Adjacency lists (neighbour, weight), each sorted by neighbour."""
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for u, v, w in edges:
        adj[u].append((v, w))
        if not directed:
            adj[v].append((u, w))
    for row in adj:
        row.sort()
    return adj


def hops_from(adj: list[list[tuple[int, int]]], source: int) -> list[int]:
    """Breadth-first edge counts from ``source`` (-1 when unreachable)."""
    hops = [-1] * len(adj)
    hops[source] = 0
    frontier = [source]
    while frontier:
        nxt = []
        for u in frontier:
            for v, _ in adj[u]:
                if hops[v] < 0:
                    hops[v] = hops[u] + 1
                    nxt.append(v)
        frontier = nxt
    return hops


def dijkstra(
    adj: list[list[tuple[int, int]]], source: int, target: int, trace: list | None = None
) -> tuple[int, list[int]] | None:
    """(distance, one shortest path) from source to target, or None if unreachable.

    Vertices leave the queue by (distance, number); a vertex's predecessor changes only on a strict improvement.
    ``trace`` collects (vertex, distance, [(neighbour, new distance), ...]) per settled vertex.
    """
    dist = {source: 0}
    prev: dict[int, int] = {}
    done = set()
    heap = [(0, source)]
    while heap:
        d, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        improved = []
        if u != target:
            for v, w in adj[u]:
                if v not in done and d + w < dist.get(v, d + w + 1):
                    dist[v] = d + w
                    prev[v] = u
                    heapq.heappush(heap, (d + w, v))
                    improved.append((v, d + w))
        if trace is not None:
            trace.append((u, d, improved))
        if u == target:
            path = [target]
            while path[-1] != source:
                path.append(prev[path[-1]])
            return d, path[::-1]
    return None


def parse_path(text: str, limit: int) -> list[int] | None:
    """Vertex numbers from ``0-3-5``, ``0 -> 3 -> 5``, ``[0, 3, 5]``...; None if malformed or over ``limit``."""
    path: list[int] = []
    i, length = 0, len(text)
    while i < length:
        ch = text[i]
        if ch in _SEPARATORS:
            i += 1
        elif "0" <= ch <= "9":
            j = i
            while j < length and "0" <= text[j] <= "9":
                j += 1
            if j - i > _MAX_DIGITS or len(path) >= limit:
                return None
            path.append(int(text[i:j]))
            i = j
        else:
            return None
    return path


@register_env
class ShortestPath(Game):
    """Find a lightest path between two vertices of a small weighted graph.

    **Rules.** A graph on vertices 0..n-1 is given as a list of edges with positive integer weights; at easy and
    medium the edges are undirected (usable both ways), at hard they are directed (usable only from the first vertex
    to the second). Find a path from the source to the target whose total weight is as small as possible.

    **Answer.** the vertices of the path from source to target, e.g. ``0-3-5`` (``->``, commas, spaces and brackets
    are tolerated). Any path that uses only existing edges (in their direction) and whose weight equals the shortest
    distance (Dijkstra) is accepted; ties between paths are common, so answers are not unique.

    **Levels.** easy: 6 vertices, 8 undirected edges, weights 1..9, endpoints >= 2 edges apart; medium: 8
    vertices, 13 edges, >= 3 apart; hard: 11 vertices, 20 directed edges, weights 1..20, >= 3 apart (knobs
    ``n_vertices``, ``n_edges``, ``max_weight``, ``directed``, ``min_hops``).

    **Example.** ``0-1:4 0-2:1 1-2:2 1-3:5 2-3:8 s0 t3`` -> ``0-2-1-3`` (weight 1+2+5 = 8).
    """

    name = "shortest_path"
    title = "ShortestPath"
    family = "graph algorithm"
    category = "graph"
    description = "Find a minimum-weight path between two vertices of a weighted graph."
    Config = ShortestPathConfig
    levels = {
        "easy": {"n_vertices": 6, "n_edges": 8, "max_weight": 9, "directed": False, "min_hops": 2},
        "medium": {"n_vertices": 8, "n_edges": 13, "max_weight": 9, "directed": False, "min_hops": 3},
        "hard": {"n_vertices": 11, "n_edges": 20, "max_weight": 20, "directed": True, "min_hops": 3},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        n = cfg.n_vertices
        best: tuple[int, list, list] | None = None
        for _ in range(_MAX_TRIES):
            structure = random_structure(rng, n, cfg.n_edges)
            if cfg.directed:
                structure = [(u, v) if rng.random() < 0.5 else (v, u) for u, v in structure]
            adj = neighbours(n, [[u, v, 1] for u, v in structure], cfg.directed)
            pairs = []
            for s in range(n):
                for t, h in enumerate(hops_from(adj, s)):
                    if h > 0:
                        pairs.append((h, s, t))
            far = max(h for h, _, _ in pairs)
            if best is None or far > best[0]:
                best = (far, structure, pairs)
            if far >= cfg.min_hops:
                break
        assert best is not None
        far, structure, pairs = best
        floor = min(far, cfg.min_hops)
        _, source, target = rng.choice([pair for pair in pairs if pair[0] >= floor])
        edges = [[u, v, rng.randint(1, cfg.max_weight)] for u, v in structure]
        problem = {
            "n_vertices": n,
            "directed": cfg.directed,
            "edges": edges,
            "source": source,
            "target": target,
        }
        found = dijkstra(neighbours(n, edges, cfg.directed), source, target)
        assert found is not None
        return problem, "-".join(str(v) for v in found[1])

    def instance_space(self) -> int:
        """Safe lower bound: the weights are drawn independently of the structure and the endpoints, so one
        structure with one endpoint pair already comes with max_weight ** n_edges distinct instances."""
        return self.config.max_weight**self.config.n_edges

    @staticmethod
    def _adj(instance: Instance) -> list[list[tuple[int, int]]]:
        p = instance.problem
        return neighbours(p["n_vertices"], p["edges"], p["directed"])

    def prompt(self, instance: Instance) -> str:
        p = instance.problem
        arrow = "->" if p["directed"] else "-"
        edges = ", ".join(f"{u}{arrow}{v} (weight {w})" for u, v, w in p["edges"])
        kind = (
            "directed graph (an edge a->b can only be travelled from a to b)"
            if p["directed"]
            else "undirected graph (edges can be travelled both ways)"
        )
        return (
            f"A weighted {kind} has {p['n_vertices']} vertices numbered 0 to {p['n_vertices'] - 1} and these "
            f"edges: {edges}.\n"
            f"Find a path from vertex {p['source']} to vertex {p['target']} with the smallest possible total weight.\n"
            "Think step by step, then give the path as its vertices joined by dashes, from start to end (for "
            "example 0-3-5), inside <answer></answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        p = instance.problem
        arrow = ">" if p["directed"] else "-"
        edges = " ".join(f"{u}{arrow}{v}:{w}" for u, v, w in p["edges"])
        return f"{edges} s{p['source']} t{p['target']}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        p = instance.problem
        n = p["n_vertices"]
        if len(answer) > 8 * n + 64:
            return False
        path = parse_path(answer, n)
        if not path or path[0] != p["source"] or path[-1] != p["target"]:
            return False
        weights = {}
        for u, v, w in p["edges"]:
            weights[(u, v)] = w
            if not p["directed"]:
                weights[(v, u)] = w
        total = 0
        for a, b in zip(path, path[1:]):
            if (a, b) not in weights:
                return False
            total += weights[(a, b)]
        found = dijkstra(self._adj(instance), p["source"], p["target"])
        return found is not None and total == found[0]

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        p = instance.problem
        trace: list = []
        found = dijkstra(self._adj(instance), p["source"], p["target"], trace)
        if found is None:  # the generator only picks reachable targets
            raise RuntimeError("target unreachable")
        distance, path = found
        answer = "-".join(str(v) for v in path)
        lines = []
        if style == "steps":
            for u, d, improved in trace:
                updates = " ".join(f"{v}={nd}" for v, nd in improved)
                lines.append(f"pop {u} d{d}" + (f": {updates}" if updates else ""))
            lines.append(f"path {answer} = {distance}")
        else:
            lines.append(
                f"Run Dijkstra's algorithm from vertex {p['source']}: repeatedly settle the unsettled vertex with "
                "the smallest known distance and try to improve its neighbours' distances through it."
            )
            for u, d, improved in trace:
                if u == p["target"]:
                    lines.append(f"The target {u} is now the closest unsettled vertex, at distance {d}.")
                    break
                first = "Start at" if d == 0 and u == p["source"] else "Settle"
                if improved:
                    gains = ", ".join(f"{v} to {nd}" for v, nd in improved)
                    lines.append(
                        f"{first} vertex {u} at distance {d}; through it the distances improve: {gains}."
                    )
                else:
                    lines.append(f"{first} vertex {u} at distance {d}; it improves no distance.")
            lines.append(
                f"Following the predecessors back from {p['target']} gives the path {' then '.join(map(str, path))} "
                f"with total weight {distance}."
            )
        return "\n".join(lines) + f"\n<answer>{answer}</answer>"
