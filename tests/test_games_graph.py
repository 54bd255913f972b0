"""The graph games graph_coloring, shortest_path, topological_sort and min_spanning_tree: solver traces verify, the
verifiers accept every valid answer (found by brute force) and only those, the solvers agree with slow references,
generation is deterministic, instance_space is honest."""

from __future__ import annotations

import itertools
import json

import pytest

import pearbench  # noqa: F401 - registers the games
from pearbench.envs import graph_coloring, min_spanning_tree, shortest_path
from pearbench.envs.base import Instance
from pearbench.errors import PearbenchError
from pearbench.registry import make_game

GAMES = ("graph_coloring", "shortest_path", "topological_sort", "min_spanning_tree")
LEVELS = ("easy", "medium", "hard")
JUNK = (
    "",
    "x",
    "0",
    "-1",
    "1e999",
    "9" * 5000,
    "\x00",
    "\u00e9\U0001f642",
    "<answer></answer>",
    "None",
    "[]",
    "{}",
)


def batch(name: str, count: int, level: str = "easy", **knobs) -> tuple:
    game = make_game(name, level, **knobs)
    return game, [game.generate(seed) for seed in range(count)]


# -- every game ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", GAMES)
@pytest.mark.parametrize("level", LEVELS)
def test_solver_traces_verify_in_every_style(name: str, level: str) -> None:
    game, instances = batch(name, 25, level)
    assert game.category == "graph" and game.multiple_solutions
    assert set(game.trace_styles) == {"steps", "words"}
    for instance in instances:
        traces = [game.solve(instance, style) for style in game.trace_styles]
        assert len(set(traces)) == len(traces), "trace styles must differ"
        for trace in traces:
            assert trace.endswith("</answer>")
            verdict = game.verify(instance, trace)
            assert verdict.correct and verdict.error is None, (instance.problem, trace)
        assert game.check(instance, instance.answer)
        for text in (game.prompt(instance), game.compact_prompt(instance)):
            assert text.isascii() and all(ch.isprintable() or ch == "\n" for ch in text)
        assert game.prompt(instance).rstrip().endswith("inside <answer></answer>.")
        assert game.compact_prompt(instance).endswith("\n")
        json.dumps(instance.problem)
    with pytest.raises(PearbenchError):
        game.solve(instances[0], "nope")


@pytest.mark.parametrize("name", GAMES)
def test_generation_is_deterministic_and_varied(name: str) -> None:
    for level in LEVELS:
        game = make_game(name, level)
        first = [game.generate(seed) for seed in range(20)]
        assert first == [make_game(name, level).generate(seed) for seed in range(20)]
        assert len({instance.content_hash for instance in first}) == 20


@pytest.mark.parametrize("name", GAMES)
def test_instance_space_is_at_least_a_thousand_at_every_level(name: str) -> None:
    for level in LEVELS:
        space = make_game(name, level).instance_space()
        assert isinstance(space, int) and space >= 1_000


@pytest.mark.parametrize("name", GAMES)
def test_rejects_junk_and_other_instances_golds(name: str) -> None:
    game, instances = batch(name, 10, "medium")
    for instance in instances:
        for junk in (*JUNK, instance.answer + "," + instance.answer, instance.answer + "x"):
            assert not game.check(instance, junk), junk[:40]
        assert game.verify(instance, f"<answer>{instance.answer}</answer>").correct
        assert not game.verify(instance, instance.answer).correct  # no tags, no answer


@pytest.mark.parametrize(
    ("name", "knobs"),
    [
        ("graph_coloring", {"n_vertices": 2}),
        ("graph_coloring", {"n_colors": 1}),
        ("graph_coloring", {"n_vertices": 4, "n_colors": 5}),
        ("graph_coloring", {"edge_prob": 1.0}),
        ("shortest_path", {"n_vertices": 5, "n_edges": 3}),
        ("shortest_path", {"n_vertices": 5, "n_edges": 11}),
        ("shortest_path", {"max_weight": 0}),
        ("shortest_path", {"min_hops": 0}),
        ("shortest_path", {"directed": "yes"}),
        ("topological_sort", {"n_tasks": 27}),
        ("topological_sort", {"edge_prob": 0.0}),
        ("topological_sort", {"unique": 1}),
        ("min_spanning_tree", {"n_vertices": 4, "n_edges": 7}),
        ("min_spanning_tree", {"max_weight": 100}),
    ],
)
def test_invalid_config_values(name: str, knobs: dict) -> None:
    with pytest.raises(PearbenchError, match="invalid option"):
        make_game(name, **knobs)


# -- graph_coloring -----------------------------------------------------------------------------------------------
def _proper(edges, colours, k) -> bool:
    return all(1 <= c <= k for c in colours) and all(colours[u] != colours[v] for u, v in edges)


def _connected(n, edges) -> bool:
    seen, stack = {0}, [0]
    while stack:
        u = stack.pop()
        for a, b in edges:
            for x, y in ((a, b), (b, a)):
                if x == u and y not in seen:
                    seen.add(y)
                    stack.append(y)
    return len(seen) == n


def test_coloring_verifier_accepts_exactly_the_proper_colourings() -> None:
    game, instances = batch("graph_coloring", 6, n_vertices=6, n_colors=3)
    for instance in instances:
        edges = instance.problem["edges"]
        accepted = 0
        for colours in itertools.product(range(0, 5), repeat=6):
            valid = _proper(edges, colours, 3)
            pairs = ",".join(f"{v}:{c}" for v, c in enumerate(colours))
            assert game.check(instance, pairs) == valid
            assert game.check(instance, " ".join(map(str, colours))) == valid
            accepted += valid
        assert accepted >= 6  # at least the six permutations of one colouring
        # k is the chromatic number: no proper colouring with k-1 colours
        assert not any(_proper(edges, c, 2) for c in itertools.product((1, 2), repeat=6))
        assert _connected(6, edges)


def test_coloring_formats_tolerated_and_mutations_rejected() -> None:
    game, instances = batch("graph_coloring", 10, "medium")
    for instance in instances:
        n, k = instance.problem["n_vertices"], instance.problem["n_colors"]
        colours = graph_coloring.parse_colouring(instance.answer, n)
        assert colours is not None and _proper(instance.problem["edges"], colours, k)
        pairs = [f"{v}:{c}" for v, c in enumerate(colours)]
        for text in (
            ", ".join(pairs),
            "\n".join(reversed(pairs)),
            json.dumps({str(v): c for v, c in enumerate(colours)}),
            "[" + ", ".join(f"({v}={c})" for v, c in enumerate(colours)) + "]",
            str(colours),
        ):
            assert game.check(instance, text), text
        u, v = instance.problem["edges"][0]
        clash = list(colours)
        clash[u] = clash[v]
        swapped = [(k + 1 - c) for c in colours]  # a colour permutation: still proper
        assert game.check(instance, ",".join(map(str, swapped)))
        for bad in (
            graph_coloring.format_colouring(clash),  # an edge with one colour
            ",".join(pairs[:-1]),  # a vertex missing
            ",".join([*pairs[:-1], pairs[0]]),  # a vertex twice
            ",".join([*pairs, f"{n}:1"]),  # a vertex that does not exist
            ",".join(map(str, colours[:-1])),  # list too short
            ",".join(map(str, [*colours, 1])),  # list too long
            graph_coloring.format_colouring([*colours[:-1], 0]),  # colour 0
            graph_coloring.format_colouring([*colours[:-1], k + 1]),  # colour above k
            ",".join(pairs).replace(":", "::"),
            ",".join(f"v{p}" for p in pairs),
            ",".join(map(str, colours)) + ",0000001",
        ):
            assert not game.check(instance, bad), bad


def test_coloring_search_against_brute_force() -> None:
    import random

    rng = random.Random(3)
    for _ in range(300):
        n = rng.randint(3, 7)
        edges = [(u, v) for u in range(n) for v in range(u + 1, n) if rng.random() < 0.5]
        adj = graph_coloring.adjacency(n, edges)
        for k in (1, 2, 3, 4):
            found = graph_coloring.colour_search(n, adj, k)
            exists = any(_proper(edges, c, k) for c in itertools.product(range(1, k + 1), repeat=n))
            assert (found is not None) == exists
            if found is not None:
                assert _proper(edges, found, k)


def test_coloring_chromatic_number_guaranteed_even_through_the_clique_fallback() -> None:
    # sparse settings rarely give a 5-chromatic graph by chance, so the generator plants a clique
    for knobs in ({"n_vertices": 12, "n_colors": 5, "edge_prob": 0.05}, {"n_vertices": 9, "n_colors": 2}):
        game, instances = batch("graph_coloring", 15, **knobs)
        k = knobs["n_colors"]
        for instance in instances:
            n, edges = instance.problem["n_vertices"], instance.problem["edges"]
            adj = graph_coloring.adjacency(n, edges)
            assert graph_coloring.colour_search(n, adj, k - 1) is None
            assert graph_coloring.colour_search(n, adj, k) is not None
            assert _connected(n, edges)


def test_coloring_instance_space_is_a_safe_lower_bound() -> None:
    n, k = 5, 3
    game = make_game("graph_coloring", n_vertices=n, n_colors=k)
    pairs = list(itertools.combinations(range(n), 2))
    support = set()
    for mask in range(1 << len(pairs)):
        edges = [pairs[i] for i in range(len(pairs)) if mask >> i & 1]
        colourable = any(_proper(edges, c, k) for c in itertools.product(range(1, k + 1), repeat=n))
        below = any(_proper(edges, c, k - 1) for c in itertools.product(range(1, k), repeat=n))
        if _connected(n, edges) and colourable and not below:
            support.add(tuple(edges))
    generated = {tuple(map(tuple, game.generate(seed).problem["edges"])) for seed in range(400)}
    assert generated <= support
    assert game.instance_space() == 8 <= len(support)
    assert len(generated) > 8


# -- shortest_path ------------------------------------------------------------------------------------------------
def _simple_paths(problem) -> list[tuple[list[int], int]]:
    """Every simple source->target path with its weight, by exhaustive depth-first search."""
    weights = {}
    for u, v, w in problem["edges"]:
        weights[(u, v)] = w
        if not problem["directed"]:
            weights[(v, u)] = w
    out = []

    def walk(path, total):
        if path[-1] == problem["target"]:
            out.append((list(path), total))
            return
        for (a, b), w in weights.items():
            if a == path[-1] and b not in path:
                walk([*path, b], total + w)

    walk([problem["source"]], 0)
    return out


@pytest.mark.parametrize("directed", [False, True])
def test_shortest_path_against_brute_force_accepts_every_shortest_path(directed: bool) -> None:
    game, instances = batch("shortest_path", 60, n_vertices=7, n_edges=13, max_weight=3, directed=directed)
    ties = 0
    for instance in instances:
        paths = _simple_paths(instance.problem)
        best = min(total for _, total in paths)
        trace = game.solve(instance)
        assert trace.splitlines()[-2].endswith(f"= {best}")
        optimal = 0
        for path, total in paths:
            assert game.check(instance, "-".join(map(str, path))) == (total == best)
            optimal += total == best
        ties += optimal > 1
        p = instance.problem
        assert p["directed"] == directed and p["source"] != p["target"]
    assert ties >= 3  # several instances with more than one shortest path, all accepted


def test_shortest_path_formats_tolerated_and_mutations_rejected() -> None:
    game, instances = batch("shortest_path", 20, "hard")
    for instance in instances:
        p = instance.problem
        path = shortest_path.parse_path(instance.answer, 100)
        assert path is not None
        assert shortest_path.hops_from(game._adj(instance), p["source"])[p["target"]] >= 3
        for text in (
            " -> ".join(map(str, path)),
            str(path),
            "\n".join(map(str, path)),
            " \u2192 ".join(map(str, path)),
        ):
            assert game.check(instance, text), text
        for bad in (
            "-".join(map(str, path[1:])),  # does not start at the source
            "-".join(map(str, path[:-1])),  # does not reach the target
            "-".join(map(str, path[::-1])),  # backwards: wrong ends (and wrong directions)
            "-".join(map(str, [path[0], path[-1]])),  # not an edge (the endpoints are >= 3 hops apart)
            "-".join(map(str, [*path[:2], path[0], *path])),  # a detour: longer than the optimum
            "-".join(map(str, path)) + "-0" * 20,  # over the length cap
            "-".join(map(str, path)).replace("-", "+"),
            "-".join(f"0{v}00" for v in path),
        ):
            assert not game.check(instance, bad), bad
    # an edge used against its direction: 0-1-2 would tie the optimum 0-2 if 1->0 could be travelled backwards
    problem = {
        "n_vertices": 3,
        "directed": True,
        "edges": [[0, 2, 2], [1, 0, 1], [1, 2, 1]],
        "source": 0,
        "target": 2,
    }
    tiny = Instance(env="shortest_path", difficulty="hard", seed=0, problem=problem, answer="0-2")
    assert game.check(tiny, "0-2") and not game.check(tiny, "0-1-2")
    assert game.check(Instance(**{**tiny.to_dict(), "problem": {**problem, "directed": False}}), "0-1-2")


def test_shortest_path_dijkstra_matches_brute_force_on_the_levels() -> None:
    for level in ("easy", "medium"):
        game, instances = batch("shortest_path", 15, level)
        for instance in instances:
            p = instance.problem
            best = min(total for _, total in _simple_paths(p))
            found = shortest_path.dijkstra(game._adj(instance), p["source"], p["target"])
            assert found is not None and found[0] == best
            hops = shortest_path.hops_from(game._adj(instance), p["source"])[p["target"]]
            assert hops >= game.config.min_hops


def test_shortest_path_instance_space_is_a_safe_lower_bound() -> None:
    # a triangle: 6 ordered endpoint pairs times 2**3 weightings is the whole support; the claim is 2**3
    game = make_game("shortest_path", n_vertices=3, n_edges=3, max_weight=2, min_hops=1)
    generated = {json.dumps(game.generate(seed).problem, sort_keys=True) for seed in range(600)}
    assert game.instance_space() == 8 < len(generated) <= 48


# -- topological_sort ---------------------------------------------------------------------------------------------
def _valid_orders(problem) -> list[tuple[str, ...]]:
    return [
        order
        for order in itertools.permutations(problem["tasks"])
        if all(order.index(a) < order.index(b) for a, b in problem["constraints"])
    ]


def _count_extensions(problem) -> int:
    """Linear extensions by dynamic programming over placed subsets (a second, independent count)."""
    tasks = problem["tasks"]
    index = {t: i for i, t in enumerate(tasks)}
    need = [0] * len(tasks)
    for a, b in problem["constraints"]:
        need[index[b]] |= 1 << index[a]
    ways = [0] * (1 << len(tasks))
    ways[0] = 1
    for placed in range(1 << len(tasks)):
        if ways[placed]:
            for i in range(len(tasks)):
                if not placed >> i & 1 and need[i] & placed == need[i]:
                    ways[placed | 1 << i] += ways[placed]
    return ways[-1]


def test_topological_sort_verifier_accepts_exactly_the_valid_orders() -> None:
    game, instances = batch("topological_sort", 8)
    several = 0
    for instance in instances:
        valid = set(_valid_orders(instance.problem))
        assert len(valid) == _count_extensions(instance.problem) >= 1
        for order in itertools.permutations(instance.problem["tasks"]):
            assert game.check(instance, ", ".join(order)) == (order in valid)
        assert tuple(instance.answer.split(", ")) in valid
        several += len(valid) > 1
    assert several >= 4


def test_topological_sort_unique_mode_has_exactly_one_order() -> None:
    game, instances = batch("topological_sort", 20, n_tasks=6, unique=True)
    for instance in instances:
        assert _valid_orders(instance.problem) == [tuple(instance.answer.split(", "))]
    game, instances = batch("topological_sort", 25, "medium")
    assert game.config.unique
    for instance in instances:
        assert _count_extensions(instance.problem) == 1
    game, instances = batch("topological_sort", 25, "hard")
    assert sum(_count_extensions(instance.problem) > 1 for instance in instances) >= 20


def test_topological_sort_formats_tolerated_and_mutations_rejected() -> None:
    game, instances = batch("topological_sort", 15, "hard")
    for instance in instances:
        order = instance.answer.split(", ")
        for text in (
            "".join(order),
            " -> ".join(order),
            str(order),
            ", ".join(order).lower(),
            "\n".join(order) + ".",
        ):
            assert game.check(instance, text), text
        a, b = instance.problem["constraints"][0]
        swapped = [b if t == a else a if t == b else t for t in order]
        for bad in (
            ", ".join(swapped),  # a constraint violated
            ", ".join(order[:-1]),  # a task missing
            ", ".join([*order, order[0]]),  # a task twice
            ", ".join([*order[:-1], "Z"]),  # a task that does not exist
            ", ".join(order) + ", Z",
            " then ".join(order),
            " > ".join(order),
            ", ".join(order).replace(order[0], "1"),
        ):
            assert not game.check(instance, bad), bad


def test_topological_sort_instance_space() -> None:
    # unique: exactly n! * 2**(C(n,2)-(n-1)); a small config is enumerated by sampling
    game = make_game("topological_sort", n_tasks=4, edge_prob=0.5, unique=True)
    generated = {json.dumps(game.generate(seed).problem) for seed in range(3000)}
    assert game.instance_space() == 24 * 8 == len(generated)
    # without unique the same number is a lower bound
    loose = make_game("topological_sort", n_tasks=4, edge_prob=0.5)
    generated = {json.dumps(loose.generate(seed).problem) for seed in range(3000)}
    assert loose.instance_space() == 192 < len(generated) <= 543  # 543 labelled DAGs on 4 vertices


# -- min_spanning_tree --------------------------------------------------------------------------------------------
def _spanning_trees(n, edges) -> list[tuple[list, int]]:
    out = []
    for subset in itertools.combinations(edges, n - 1):
        if _connected(n, [(u, v) for u, v, _ in subset]):
            out.append((list(subset), sum(w for _, _, w in subset)))
    return out


def test_min_spanning_tree_against_brute_force_accepts_every_minimum_tree() -> None:
    game, instances = batch("min_spanning_tree", 25, max_weight=4)
    ties = 0
    for instance in instances:
        n, edges = instance.problem["n_vertices"], instance.problem["edges"]
        trees = _spanning_trees(n, edges)
        best = min(total for _, total in trees)
        assert min_spanning_tree.kruskal(n, edges)[0] == best
        assert game.solve(instance).splitlines()[-2] == f"total {best}"
        tree_sets = {frozenset((u, v) for u, v, _ in tree) for tree, _ in trees}
        for subset in itertools.combinations(edges, n - 1):
            text = ", ".join(f"{v}-{u}" for u, v, _ in reversed(subset))  # reversed order and direction
            is_tree = frozenset((u, v) for u, v, _ in subset) in tree_sets
            assert game.check(instance, text) == (is_tree and sum(w for _, _, w in subset) == best)
        ties += sum(total == best for _, total in trees) > 1
    assert ties >= 5


def fmt(pairs) -> str:
    return ", ".join(f"{u}-{v}" for u, v in pairs)


def test_min_spanning_tree_formats_tolerated_and_mutations_rejected() -> None:
    game, instances = batch("min_spanning_tree", 15, "hard")
    for instance in instances:
        n, edges = instance.problem["n_vertices"], instance.problem["edges"]
        tree = min_spanning_tree.parse_edges(instance.answer, n)
        assert tree is not None and len(tree) == n - 1
        for text in (
            ",".join(f"({u},{v})" for u, v in tree),
            "\n".join(f"{u} {v}" for u, v in tree),
            str([list(e) for e in tree]),
        ):
            assert game.check(instance, text), text
        used = {(min(u, v), max(u, v)) for u, v in tree}
        unused = [(u, v) for u, v, _ in edges if (u, v) not in used]
        non_edge = next(
            (u, v) for u in range(n) for v in range(u + 1, n) if [u, v] not in [e[:2] for e in edges]
        )
        for bad in (
            fmt(tree[:-1]),  # not spanning
            fmt([*tree, unused[0]]),  # n edges: a cycle
            fmt([*tree[:-1], tree[0]]),  # an edge twice
            fmt([*tree[:-1], non_edge]),  # not an edge of the graph
            fmt(tree) + ", 3",  # odd number of vertices
            fmt(tree).replace("-", ":"),
            fmt([(u, v + 1000) for u, v in tree]),
        ):
            assert not game.check(instance, bad), bad
        # a spanning tree that is heavier than the minimum: swap a tree edge for a heavier cycle edge
        weight = {(u, v): w for u, v, w in edges}
        best = min_spanning_tree.kruskal(n, edges)[0]
        for extra in unused:
            for drop in range(n - 1):
                candidate = [*tree[:drop], *tree[drop + 1 :], extra]
                if _connected(n, candidate):
                    total = sum(weight[(min(u, v), max(u, v))] for u, v in candidate)
                    assert game.check(instance, fmt(candidate)) == (total == best)


def test_min_spanning_tree_instance_space_is_a_safe_lower_bound() -> None:
    game = make_game("min_spanning_tree", n_vertices=3, n_edges=3, max_weight=2)
    generated = {json.dumps(game.generate(seed).problem) for seed in range(400)}
    assert game.instance_space() == 8 == len(generated)  # a triangle: exactly the weightings
    game = make_game("min_spanning_tree", n_vertices=3, n_edges=2, max_weight=2)
    generated = {json.dumps(game.generate(seed).problem) for seed in range(400)}
    assert game.instance_space() == 4 < len(generated) <= 12  # three paths times four weightings
