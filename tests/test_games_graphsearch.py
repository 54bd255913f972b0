"""The games bipartite, hamiltonian_path, water_jugs and sliding_puzzle: solvers against brute force, verifiers
accept every valid answer (and only valid ones), solver traces verify, generation is deterministic, instance
spaces are honest."""

from __future__ import annotations

import functools
import itertools
import random
from collections import deque

import pytest

import pearbench  # noqa: F401 - registers the games
from pearbench.envs import bipartite, hamiltonian_path, sliding_puzzle, water_jugs
from pearbench.envs.base import Instance
from pearbench.errors import PearbenchError
from pearbench.registry import get_game_class, make_game

GAMES = ("bipartite", "hamiltonian_path", "water_jugs", "sliding_puzzle")
LEVELS = ("easy", "medium", "hard")
ANSWER_TAIL = "</answer>"


@functools.cache
def _batch(name: str, level: str, count: int = 25, **knobs) -> tuple:
    game = make_game(name, level, **knobs)
    return game, tuple(game.generate(seed) for seed in range(count))


def _instance(name: str, problem: dict, **knobs) -> tuple:
    game = make_game(name, "easy", **knobs)
    return game, Instance(env=name, difficulty="easy", seed=0, problem=problem, answer="")


def _answer(trace: str) -> str:
    return trace[trace.rindex("<answer>") + len("<answer>") : trace.rindex(ANSWER_TAIL)]


# -- every game ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", GAMES)
def test_contract_attributes_and_instance_space(name: str) -> None:
    cls = get_game_class(name)
    assert cls.gym_id() == f"pearbench/{cls.title}-v0"
    assert cls.category == ("graph" if name in ("bipartite", "hamiltonian_path") else "search")
    assert set(LEVELS) <= set(cls.levels) and cls.trace_styles == ("steps", "words")
    assert cls.multiple_solutions
    for heading in ("**Rules.**", "**Answer.**", "**Levels.**", "**Example.**"):
        assert heading in cls.__doc__
    for level in LEVELS:
        space = make_game(name, level).instance_space()
        assert isinstance(space, int) and space >= 1000, (name, level, space)


@pytest.mark.parametrize("name", GAMES)
@pytest.mark.parametrize("level", LEVELS)
def test_solver_traces_verify_in_every_style(name: str, level: str) -> None:
    game, batch = _batch(name, level)
    for instance in batch:
        traces = [game.solve(instance, style) for style in game.trace_styles]
        assert len(set(traces)) == len(traces), "trace styles must differ"
        for trace in traces:
            assert trace.rstrip().endswith(ANSWER_TAIL)
            verdict = game.verify(instance, trace)
            assert verdict.correct and verdict.error is None, (instance.problem, trace)
        assert game.check(instance, instance.answer)
        assert game.prompt(instance).isascii() and game.prompt(instance).endswith("</answer>.")
        compact = game.compact_prompt(instance)
        assert compact.isascii() and compact.endswith("\n") and len(compact) < len(game.prompt(instance))
    with pytest.raises(PearbenchError):
        game.solve(batch[0], "poetry")


@pytest.mark.parametrize("name", GAMES)
def test_generation_is_deterministic_and_varied(name: str) -> None:
    for level in LEVELS:
        game = make_game(name, level)
        first = [game.generate(seed) for seed in range(20)]
        again = [make_game(name, level).generate(seed) for seed in range(20)]
        assert first == again
        assert len({instance.content_hash for instance in first}) >= 18


@pytest.mark.parametrize("name", GAMES)
def test_rejects_junk(name: str) -> None:
    game, batch = _batch(name, "easy")
    for instance in batch[:10]:
        junk = ["", "x", "0", "-1", "<answer></answer>", "9" * 5000, "\x00", "\u00e9\U0001f642", "1" * 300]
        for text in [*junk, instance.answer + "," + instance.answer, instance.answer * 50]:
            assert not game.check(instance, text), text


@pytest.mark.parametrize(
    ("name", "knobs"),
    [
        ("bipartite", {"n_vertices": 3}),
        ("bipartite", {"extra_edges": 0}),
        ("bipartite", {"n_vertices": 6, "extra_edges": 5}),  # a 3+3 bipartite graph has at most 9 edges
        ("bipartite", {"p_bipartite": 1.5}),
        ("hamiltonian_path", {"n_vertices": 40}),
        ("hamiltonian_path", {"n_vertices": 5, "extra_edges": 7}),
        ("hamiltonian_path", {"fixed_start": "yes"}),
        ("water_jugs", {"n_jugs": 4}),
        ("water_jugs", {"min_capacity": 10, "max_capacity": 5}),
        ("water_jugs", {"min_capacity": 3, "max_capacity": 4}),
        ("water_jugs", {"slack": -1}),
        ("sliding_puzzle", {"rows": 4, "cols": 4}),
        ("sliding_puzzle", {"rows": 1}),
        ("sliding_puzzle", {"scramble": 0}),
        ("sliding_puzzle", {"goal": "sideways"}),
    ],
)
def test_invalid_config_values(name: str, knobs: dict) -> None:
    with pytest.raises(PearbenchError, match="invalid option"):
        make_game(name, **knobs)


# -- bipartite ----------------------------------------------------------------------------------------------------
def _edge_set(problem: dict) -> set[tuple[int, int]]:
    return {(u - 1, v - 1) for u, v in problem["edges"]}


def _proper_colourings(n: int, edges: set) -> list[tuple[int, ...]]:
    return [c for c in itertools.product((0, 1), repeat=n) if all(c[u] != c[v] for u, v in edges)]


def _connected(n: int, edges: set) -> bool:
    seen, stack = {0}, [0]
    while stack:
        u = stack.pop()
        for a, b in edges:
            for x, y in ((a, b), (b, a)):
                if x == u and y not in seen:
                    seen.add(y)
                    stack.append(y)
    return len(seen) == n


def _simple_cycles(n: int, edges: set) -> list[tuple[int, ...]]:
    """Every simple cycle (length >= 3) as a vertex tuple starting at its smallest vertex, both directions."""
    adjacent = edges | {(v, u) for u, v in edges}
    found = []
    for length in range(3, n + 1):
        for cycle in itertools.permutations(range(n), length):
            if cycle[0] == min(cycle) and all((cycle[i - 1], cycle[i]) in adjacent for i in range(length)):
                found.append(cycle)
    return found


def test_bipartite_solver_matches_brute_force_on_random_graphs() -> None:
    rng = random.Random(5)
    kinds = set()
    for _ in range(300):
        n = rng.randint(1, 7)
        pairs = [(u, v) for u in range(n) for v in range(u + 1, n)]
        edges = set(rng.sample(pairs, rng.randint(0, len(pairs))))
        neighbours = bipartite.adjacency(n, [[u + 1, v + 1] for u, v in edges])
        colour, _, conflict = bipartite.two_colour(neighbours)
        expected = bool(_proper_colourings(n, edges))
        kinds.add(expected)
        assert (conflict is None) == expected
        if conflict is None:
            assert all(colour[u] != colour[v] for u, v in edges)
        else:
            cycle = conflict[2]
            assert len(cycle) % 2 == 1 and len(set(cycle)) == len(cycle) >= 3
            adjacent = edges | {(v, u) for u, v in edges}
            assert all((cycle[i - 1], cycle[i]) in adjacent for i in range(len(cycle)))
    assert kinds == {True, False}


def test_bipartite_verifier_accepts_every_proof_and_only_valid_ones() -> None:
    game, batch = _batch("bipartite", "easy", 40)
    kinds = {True: 0, False: 0}
    for instance in batch:
        n = instance.problem["n_vertices"]
        edges = _edge_set(instance.problem)
        proper = set(_proper_colourings(n, edges))
        kinds[bool(proper)] += 1
        for colouring in itertools.product((0, 1), repeat=n):
            text = "".join("AB"[c] for c in colouring)
            assert game.check(instance, text) == (colouring in proper)
        cycles = _simple_cycles(n, edges)
        for cycle in cycles:
            text = "-".join(str(v + 1) for v in cycle)
            assert game.check(instance, text) == (len(cycle) % 2 == 1)
        odd = [c for c in cycles if len(c) % 2]
        assert bool(odd) == (not proper)  # a proof of the wrong kind never exists
        if proper:
            assert len(proper) == 2  # connected: the colouring is unique up to swapping sides
            colouring = min(proper)
            text = "".join("AB"[c] for c in colouring)
            assert game.check(instance, " ".join(text.lower()))
            assert game.check(instance, ",".join(text))
            assert not game.check(instance, text[:-1])
            assert not game.check(instance, text + "A")
            assert not game.check(instance, text.replace("A", "C"))
            assert not game.check(instance, "1-2-3")
        else:
            for cycle in odd[:5]:
                labels = [str(v + 1) for v in cycle]
                assert game.check(instance, " -> ".join(labels))
                assert game.check(instance, ", ".join(labels[::-1]))
                assert game.check(instance, "-".join(labels[1:] + labels[:2]))  # rotated, first repeated
                assert not game.check(instance, "-".join(labels + labels[:1] + labels[1:2]))
                assert not game.check(instance, "-".join(labels[:-1]))
                assert not game.check(instance, "-".join(["0", *labels[1:]]))
                assert not game.check(instance, "-".join([*labels, "999"]))
            assert not game.check(instance, "AB" * n)
    assert kinds[True] >= 8 and kinds[False] >= 8


def test_bipartite_generates_both_kinds_with_the_same_edge_count() -> None:
    game, batch = _batch("bipartite", "medium", 200)
    bipartite_count = 0
    for instance in batch:
        problem = instance.problem
        edges = _edge_set(problem)
        n = problem["n_vertices"]
        assert len(edges) == len(problem["edges"]) == n - 1 + game.config.extra_edges
        assert _connected(n, edges)
        _, _, conflict = bipartite.two_colour(bipartite.adjacency(n, problem["edges"]))
        bipartite_count += conflict is None
        assert (conflict is None) == (not any(c.isdigit() for c in instance.answer))
    assert 70 <= bipartite_count <= 130
    for p, expected in ((1.0, True), (0.0, False)):
        game, batch = _batch("bipartite", "easy", 20, p_bipartite=p)
        assert all(any(c.isdigit() for c in i.answer) != expected for i in batch)


def test_bipartite_connected_count_against_brute_force() -> None:
    for a, b in ((1, 1), (1, 3), (2, 2), (2, 3), (3, 3), (2, 4)):
        pairs = [(u, a + v) for u in range(a) for v in range(b)]
        for m in range(len(pairs) + 1):
            brute = sum(_connected(a + b, set(chosen)) for chosen in itertools.combinations(pairs, m))
            assert bipartite.connected_bipartite_count(a, b, m) == brute, (a, b, m)


def test_bipartite_instance_space_is_exact_for_the_bipartite_half() -> None:
    game, batch = _batch("bipartite", "easy", 600, n_vertices=5, extra_edges=1)
    n, m = 5, 5
    pairs = [(u, v) for u in range(n) for v in range(u + 1, n)]
    support = set()
    for chosen in itertools.combinations(pairs, m):
        edges = set(chosen)
        colourings = _proper_colourings(n, edges)
        if _connected(n, edges) and colourings and sum(colourings[0]) in bipartite.side_sizes(n, m):
            support.add(tuple(sorted(chosen)))
    assert game.instance_space() == len(support) > 0
    seen = set()
    for instance in batch:
        key = tuple(sorted(_edge_set(instance.problem)))
        if not any(c.isdigit() for c in instance.answer):
            assert key in support
            seen.add(key)
    assert len(seen) > len(support) // 2


def test_bipartite_docstring_example() -> None:
    game, instance = _instance(
        "bipartite", {"n_vertices": 4, "edges": [[1, 2], [1, 3], [2, 3], [2, 4], [3, 4]]}
    )
    assert game.compact_prompt(instance) == "4: 1-2 1-3 2-3 2-4 3-4\n"
    assert game.check(instance, "1-2-3") and game.check(instance, "2-3-4")
    assert not game.check(instance, "1-2-4-3") and not game.check(instance, "ABBA")
    proof = _answer(game.solve(instance))
    assert game.check(instance, proof) and sorted(proof.split("-")) == ["1", "2", "3"]
    game, instance = _instance("bipartite", {"n_vertices": 4, "edges": [[1, 2], [1, 3], [2, 4], [3, 4]]})
    assert game.check(instance, "ABBA") and game.check(instance, "BAAB") and not game.check(instance, "AABB")
    assert _answer(game.solve(instance, "words")) == "ABBA"


# -- hamiltonian path ---------------------------------------------------------------------------------------------
def _hamiltonian_paths(n: int, edges: set, start: int | None) -> list[tuple[int, ...]]:
    adjacent = edges | {(v, u) for u, v in edges}
    return [
        perm
        for perm in itertools.permutations(range(n))
        if (start is None or perm[0] == start) and all(pair in adjacent for pair in zip(perm, perm[1:]))
    ]


def test_hamiltonian_search_matches_brute_force() -> None:
    rng = random.Random(9)
    outcomes = set()
    for _ in range(250):
        n = rng.randint(1, 7)
        pairs = [(u, v) for u in range(n) for v in range(u + 1, n)]
        edges = set(rng.sample(pairs, rng.randint(0, len(pairs))))
        start = rng.choice([None, rng.randrange(n)])
        neighbours = hamiltonian_path.neighbour_lists(n, [[u + 1, v + 1] for u, v in edges])
        path, _, _ = hamiltonian_path.find_path(neighbours, start)
        brute = _hamiltonian_paths(n, edges, start)
        outcomes.add(bool(brute))
        assert (path is not None) == bool(brute), (n, edges, start)
        if path is not None:
            assert tuple(path) in brute
    assert outcomes == {True, False}


@pytest.mark.parametrize(("level", "knobs"), [("easy", {}), ("easy", {"n_vertices": 6, "fixed_start": True})])
def test_hamiltonian_verifier_accepts_exactly_the_hamiltonian_paths(level: str, knobs: dict) -> None:
    game, batch = _batch("hamiltonian_path", level, 6, **knobs)
    several = 0
    for instance in batch:
        problem = instance.problem
        n = problem["n_vertices"]
        start = None if problem["start"] is None else problem["start"] - 1
        valid = set(_hamiltonian_paths(n, _edge_set(problem), start))
        several += len(valid) > (1 if start is not None else 2)
        for perm in itertools.permutations(range(n)):
            assert game.check(instance, "-".join(str(v + 1) for v in perm)) == (perm in valid)
        path = [str(v + 1) for v in min(valid)]
        assert game.check(instance, " -> ".join(path)) and game.check(instance, ", ".join(path))
        assert not game.check(instance, "-".join(path[:-1]))
        assert not game.check(instance, "-".join([*path, path[0]]))
        assert not game.check(instance, "-".join([*path[:-1], path[0]]))
        assert not game.check(instance, "-".join([*path[:-1], str(n + 1)]))
    assert several > 0


def test_hamiltonian_fixed_start_is_enforced() -> None:
    game, batch = _batch("hamiltonian_path", "medium")
    for instance in batch:
        start = instance.problem["start"]
        assert instance.answer.split("-")[0] == str(start)
        reverse = "-".join(instance.answer.split("-")[::-1])
        assert not game.check(instance, reverse)  # a valid path, from the wrong end
        free = Instance(**{**instance.to_dict(), "problem": {**instance.problem, "start": None}})
        assert game.check(free, reverse)


def test_hamiltonian_instance_space_is_a_lower_bound() -> None:
    for fixed in (False, True):
        game, batch = _batch("hamiltonian_path", "easy", 400, n_vertices=4, extra_edges=1, fixed_start=fixed)
        pairs = [(u, v) for u in range(4) for v in range(u + 1, 4)]
        support = set()
        for chosen in itertools.combinations(pairs, 4):
            for path in _hamiltonian_paths(4, set(chosen), None):
                support.add((chosen, path[0] if fixed else None))
        seen = {
            (
                tuple(sorted(_edge_set(i.problem))),
                None if i.problem["start"] is None else i.problem["start"] - 1,
            )
            for i in batch
        }
        assert seen <= support
        assert game.instance_space() <= len(support)
        assert len(seen) == len(support)  # 400 draws see every one of the few possible instances


def test_hamiltonian_docstring_example() -> None:
    problem = {"n_vertices": 4, "edges": [[1, 3], [1, 4], [2, 4], [3, 4]], "start": 3}
    game, instance = _instance("hamiltonian_path", problem)
    assert game.compact_prompt(instance) == "4: 1-3 1-4 2-4 3-4 start 3\n"
    assert game.check(instance, "3-1-4-2") and not game.check(instance, "2-4-1-3")
    assert _answer(game.solve(instance)) == "3-1-4-2"


# -- water jugs ---------------------------------------------------------------------------------------------------
def _jug_step(caps: tuple, state: tuple, move: str) -> tuple | None:
    """Independent simulator over the move text: F<i>, E<i>, P<i>><j>; None for a move that changes nothing."""
    new = list(state)
    if move[0] == "F":
        new[int(move[1]) - 1] = caps[int(move[1]) - 1]
    elif move[0] == "E":
        new[int(move[1]) - 1] = 0
    else:
        i, j = int(move[1]) - 1, int(move[3]) - 1
        if i == j:
            return None
        amount = min(state[i], caps[j] - state[j])
        new[i] -= amount
        new[j] += amount
    return tuple(new) if tuple(new) != state else None


def _jug_moves(n: int) -> list[str]:
    return (
        [f"F{i}" for i in range(1, n + 1)]
        + [f"E{i}" for i in range(1, n + 1)]
        + [f"P{i}>{j}" for i in range(1, n + 1) for j in range(1, n + 1) if i != j]
    )


def _jug_sequences(caps: tuple, target: int, budget: int) -> list[tuple[str, ...]]:
    """Every move sequence of at most ``budget`` moves that ends with ``target`` in some jug (exhaustive)."""
    found = []
    level = [((), (0,) * len(caps))]
    for _ in range(budget):
        following = []
        for moves, state in level:
            for move in _jug_moves(len(caps)):
                nxt = _jug_step(caps, state, move)
                if nxt is not None:
                    following.append(((*moves, move), nxt))
                    if target in nxt:
                        found.append((*moves, move))
        level = following
    return found


def _jug_distance(caps: tuple, target: int) -> int | None:
    seen, queue = {(0,) * len(caps): 0}, deque([(0,) * len(caps)])
    while queue:
        state = queue.popleft()
        if target in state:
            return seen[state]
        for move in _jug_moves(len(caps)):
            nxt = _jug_step(caps, state, move)
            if nxt is not None and nxt not in seen:
                seen[nxt] = seen[state] + 1
                queue.append(nxt)
    return None


def test_water_jugs_optimum_matches_exhaustive_search() -> None:
    for caps in ((3, 5), (2, 7), (4, 6), (2, 3, 7)):
        for target in range(1, max(caps) + 2):
            moves = water_jugs.optimal_moves(caps, target)
            distance = _jug_distance(caps, target)
            assert (moves is None) == (distance is None)
            if moves is None:
                continue
            assert len(moves) == distance
            if distance <= 5:
                sequences = _jug_sequences(caps, target, distance)
                assert sequences and min(len(s) for s in sequences) == distance
    for caps in itertools.permutations(range(2, 9), 2):
        for target in range(1, 10):
            moves = water_jugs.optimal_moves(caps, target)
            assert (None if moves is None else len(moves)) == _jug_distance(caps, target)


def test_water_jugs_verifier_accepts_every_valid_sequence() -> None:
    game, batch = _batch("water_jugs", "easy", 40, min_capacity=2, max_capacity=7)
    tried = several = 0
    for instance in batch:
        problem = instance.problem
        caps, target, budget = tuple(problem["capacities"]), problem["target"], problem["max_moves"]
        assert budget == _jug_distance(caps, target) + 2
        if budget > 6:
            continue
        tried += 1
        valid = set(_jug_sequences(caps, target, budget))
        several += len(valid) > 1
        for sequence in valid:
            assert game.check(instance, ",".join(sequence))
        for length in range(min(budget, 4) + 1):
            for sequence in itertools.product(_jug_moves(2), repeat=length):
                assert game.check(instance, ",".join(sequence)) == (sequence in valid)
    assert tried >= 5 and several >= 5


def test_water_jugs_rejects_invalid_sequences() -> None:
    game, batch = _batch("water_jugs", "hard")
    for instance in batch:
        caps = tuple(instance.problem["capacities"])
        gold = instance.answer.split(",")
        assert game.check(instance, " ".join(gold).lower().replace(">", "->"))
        assert game.check(instance, "\n".join(gold))
        assert not game.check(instance, ",".join(gold[:-1]))  # target not reached yet
        assert not game.check(instance, ",".join(["F1", "E1", *gold]))  # legal, but over the exact budget
        assert not game.check(instance, ",".join(["E1", *gold]))  # emptying an empty jug changes nothing
        assert not game.check(instance, ",".join(["P1>1", *gold[1:]]))
        assert not game.check(instance, ",".join(["F4", *gold[1:]]))
        assert not game.check(instance, ",".join(["F1", "F1", *gold[2:]]))
        assert not game.check(instance, instance.answer.replace(",", ",,X,"))
        assert instance.problem["target"] not in (0, *caps)
    slack = make_game("water_jugs", "hard", slack=2)
    instance = slack.generate(3)
    gold = instance.answer.split(",")
    detour = next(
        m
        for m in _jug_moves(3)
        if m[0] == "F" and _jug_step(tuple(instance.problem["capacities"]), (0, 0, 0), m)
    )
    assert slack.check(instance, ",".join([detour, "E" + detour[1], *gold]))


def test_water_jugs_instance_space() -> None:
    for lo, hi in ((3, 8), (2, 9)):
        exact = 0
        for caps in itertools.permutations(range(lo, hi + 1), 2):
            exact += sum(_jug_distance(caps, t) is not None for t in range(1, hi + 1) if t not in caps)
        assert water_jugs.pair_rule_count(2, lo, hi) == exact  # exact for two jugs
    lo, hi = 3, 6
    reachable = 0
    for caps in itertools.permutations(range(lo, hi + 1), 3):
        reachable += sum(_jug_distance(caps, t) is not None for t in range(1, hi + 1) if t not in caps)
    game = make_game("water_jugs", "medium", min_capacity=lo, max_capacity=hi)
    assert 0 < game.instance_space() <= reachable
    seen = {
        (tuple(i.problem["capacities"]), i.problem["target"])
        for i in _batch("water_jugs", "easy", 3000, min_capacity=3, max_capacity=6)[1]
    }
    assert len(seen) == water_jugs.pair_rule_count(2, 3, 6)


def test_water_jugs_docstring_example() -> None:
    game, instance = _instance("water_jugs", {"capacities": [3, 5], "target": 4, "max_moves": 6})
    assert len(water_jugs.optimal_moves((3, 5), 4)) == 6
    assert game.check(instance, "F2,P2>1,E1,P2>1,F2,P2>1")
    assert _jug_sequences((3, 5), 4, 6) == [("F2", "P2>1", "E1", "P2>1", "F2", "P2>1")]
    assert game.compact_prompt(instance) == "jugs 3 5 target 4 in 6\n"


# -- sliding puzzle -----------------------------------------------------------------------------------------------
def _slide(state: str, cols: int, move: str) -> str | None:
    """Independent simulator: the blank travels one square in the move's direction; None off the board."""
    rows = len(state) // cols
    r, c = divmod(state.index("_"), cols)
    dr, dc = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}[move]
    if not (0 <= r + dr < rows and 0 <= c + dc < cols):
        return None
    cells = list(state)
    a, b = r * cols + c, (r + dr) * cols + c + dc
    cells[a], cells[b] = cells[b], cells[a]
    return "".join(cells)


def _distances(goal: str, cols: int, limit: int | None = None) -> dict[str, int]:
    """Plain breadth-first search from the goal (moves are reversible, so these are distances to the goal)."""
    seen, queue = {goal: 0}, deque([goal])
    while queue:
        state = queue.popleft()
        if limit is not None and seen[state] >= limit:
            continue
        for move in "UDLR":
            nxt = _slide(state, cols, move)
            if nxt is not None and nxt not in seen:
                seen[nxt] = seen[state] + 1
                queue.append(nxt)
    return seen


def test_sliding_bidirectional_search_is_optimal() -> None:
    rng = random.Random(2)
    for rows, cols in ((2, 2), (2, 3), (3, 2)):
        goal = sliding_puzzle.standard_goal(rows, cols)
        distances = _distances(goal, cols)
        assert len(distances) == __import__("math").factorial(rows * cols) // 2
        for start in rng.sample(sorted(distances), min(len(distances), 150)):
            moves = sliding_puzzle.shortest_solution(start, goal, rows, cols)
            assert len(moves) == distances[start]
            assert sliding_puzzle.apply_moves(start, rows, cols, moves) == goal
        other = goal[:-3] + goal[-2] + goal[-3] + goal[-1]  # two tiles swapped: the other parity class
        assert sliding_puzzle.shortest_solution(other, goal, rows, cols) is None
    game, batch = _batch("sliding_puzzle", "medium", 6)
    for instance in batch:
        problem = instance.problem
        start, goal = problem["start"], problem["goal"]
        moves = sliding_puzzle.shortest_solution(start, goal, 3, 3)
        limit = len(moves)
        assert _distances(goal, 3, limit).get(start) == limit == problem["max_moves"] - 1


def _all_solutions(start: str, goal: str, cols: int, budget: int, distances: dict) -> list[str]:
    """Every move string of at most ``budget`` moves from start to goal (depth first, pruned by true distance)."""
    found = []

    def walk(state: str, moves: str) -> None:
        if state == goal:
            found.append(moves)
        for move in "UDLR":
            nxt = _slide(state, cols, move)
            if nxt is not None and len(moves) + 1 + distances[nxt] <= budget:
                walk(nxt, moves + move)

    walk(start, "")
    return found


def test_sliding_verifier_accepts_every_valid_sequence() -> None:
    game, batch = _batch("sliding_puzzle", "easy")
    several = 0
    for instance in batch:
        problem = instance.problem
        distances = _distances(problem["goal"], 3)
        assert problem["max_moves"] == distances[problem["start"]] + 2
        valid = _all_solutions(problem["start"], problem["goal"], 3, problem["max_moves"], distances)
        several += len(valid) > 1
        for moves in valid:
            assert game.check(instance, moves)
        assert game.check(instance, " ".join(valid[-1].lower()))
        assert game.check(instance, ",".join(valid[0]))
        rng = random.Random(instance.seed)
        for _ in range(200):
            moves = "".join(rng.choice("UDLR") for _ in range(rng.randint(0, problem["max_moves"])))
            assert game.check(instance, moves) == (moves in valid)
    assert several == len(batch)  # a slack of 2 always allows a detour


def test_sliding_rejects_invalid_sequences() -> None:
    game, batch = _batch("sliding_puzzle", "hard")
    for instance in batch:
        gold = instance.answer
        problem = instance.problem
        assert len(gold) == problem["max_moves"]
        assert not game.check(instance, gold[:-1])
        assert not game.check(instance, gold + sliding_puzzle.REVERSE[gold[-1]] + gold[-1])  # over budget
        assert not game.check(instance, gold.replace("U", "X"))
        r, c = divmod(problem["start"].index("_"), 3)
        off = "U" if r == 0 else "D" if r == 2 else "L" if c == 0 else "R" if c == 2 else None
        if off is not None:
            assert not game.check(instance, off + gold[1:])
        assert not game.check(instance, gold.translate(str.maketrans("UDLR", "DURL")))


def _walk_endpoints(goal: str, cols: int, length: int) -> set[str]:
    """Boards where a walk of exactly ``length`` moves from the goal that never steps straight back can end."""
    back = {"U": "D", "D": "U", "L": "R", "R": "L"}
    level = {(goal, "")}
    for _ in range(length):
        level = {
            (nxt, move)
            for state, last in level
            for move in "UDLR"
            if move != back.get(last) and (nxt := _slide(state, cols, move)) is not None
        }
    return {state for state, _ in level} - {goal}


def test_sliding_instance_space_is_a_lower_bound() -> None:
    scramble = 4
    game, batch = _batch("sliding_puzzle", "easy", 1500, scramble=scramble)
    claim = game.instance_space()
    tiles = "12345"
    support = 0
    for blank in range(6):
        goal = tiles[:blank] + "_" + tiles[blank:]
        support += 120 * len(_walk_endpoints(goal, 3, scramble))
    assert 1000 <= claim <= support
    for instance in batch[:200]:
        assert instance.problem["start"] in _walk_endpoints(instance.problem["goal"], 3, scramble)
    standard = make_game("sliding_puzzle", "easy", goal="standard", scramble=scramble)
    goal = sliding_puzzle.standard_goal(2, 3)
    endpoints = _walk_endpoints(goal, 3, scramble)
    seen = {standard.generate(seed).problem["start"] for seed in range(400)}
    assert seen == endpoints  # every possible start turns up in 400 draws
    assert standard.instance_space() == sum(d == scramble for d in _distances(goal, 3).values()) <= len(seen)


def test_sliding_docstring_example() -> None:
    problem = {"rows": 2, "cols": 3, "start": "1_3425", "goal": "12345_", "max_moves": 2}
    game, instance = _instance("sliding_puzzle", problem)
    assert game.compact_prompt(instance) == "1_3/425 > 123/45_ in 2\n"
    assert game.check(instance, "DR") and not game.check(instance, "RD")
    assert sliding_puzzle.shortest_solution("1_3425", "12345_", 2, 3) == "DR"
