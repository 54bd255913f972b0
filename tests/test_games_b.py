"""The games zebra, futoshiki, nqueens, hanoi and nonogram: solvers against brute force, verifiers accept every valid
answer (and only valid ones), solver traces verify, generation is deterministic."""

from __future__ import annotations

import collections
import functools
import itertools
import random
import subprocess
import sys

import pytest
from brute_force import latin_squares

import pearbench  # noqa: F401 - registers the games
from pearbench.envs import futoshiki, hanoi, nonogram, nqueens, zebra
from pearbench.envs.base import Instance
from pearbench.errors import PearbenchError
from pearbench.registry import make_game

GAMES = ("zebra", "futoshiki", "nqueens", "hanoi", "nonogram")
LEVELS = ("easy", "medium", "hard")
ANSWER_TAIL = "</answer>"


def instances(name: str, level: str, count: int, start: int = 0) -> tuple:
    game = make_game(name, level)
    return game, [game.generate(seed) for seed in range(start, start + count)]


# -- every game ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", GAMES)
@pytest.mark.parametrize("level", LEVELS)
def test_solver_traces_verify_in_every_style(name: str, level: str) -> None:
    game, batch = instances(name, level, 25)
    assert len(game.trace_styles) >= 2
    for instance in batch:
        traces = [game.solve(instance, style) for style in game.trace_styles]
        assert len(set(traces)) == len(traces), "trace styles must differ"
        for trace in traces:
            assert trace.rstrip().endswith(ANSWER_TAIL)
            verdict = game.verify(instance, trace)
            assert verdict.correct and verdict.error is None, (instance.problem, trace)
        assert game.check(instance, instance.answer)


@pytest.mark.parametrize("name", GAMES)
def test_generation_is_deterministic_and_varied(name: str) -> None:
    game = make_game(name)
    first = [game.generate(seed) for seed in range(20)]
    again = [game.generate(seed) for seed in range(20)]
    assert first == again
    assert len({instance.content_hash for instance in first}) >= 15


@pytest.mark.parametrize("name", GAMES)
def test_same_seed_same_instance_in_another_process(name: str) -> None:
    code = (
        "import pearbench, json; from pearbench.registry import make_game; "
        f"print(json.dumps(make_game({name!r}, 'medium').generate(12345).to_dict(), sort_keys=True))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    import json

    assert json.loads(out) == make_game(name, "medium").generate(12345).to_dict()


@pytest.mark.parametrize("name", GAMES)
def test_rejects_junk_and_wrong_answers(name: str) -> None:
    game, batch = instances(name, "easy", 10)
    for instance in batch:
        for junk in ("", "x", "0", "<answer></answer>", instance.answer + instance.answer, "9" * 5000):
            assert not game.check(instance, junk)
        other = next(o for o in batch if o.answer != instance.answer)
        # another instance's gold is (almost always) wrong here; when it is accepted it must really be valid
        if game.check(instance, other.answer):
            assert game.multiple_solutions or other.answer == instance.answer


@pytest.mark.parametrize("name", GAMES)
def test_bad_knobs_raise_one_clear_error(name: str) -> None:
    with pytest.raises(PearbenchError, match="unknown option"):
        make_game(name, bogus=1)
    with pytest.raises(PearbenchError, match="difficulty"):
        make_game(name, "impossible")


@pytest.mark.parametrize(
    ("name", "knobs"),
    [
        ("zebra", {"houses": 1}),
        ("zebra", {"question": "why"}),
        ("futoshiki", {"size": 12}),
        ("nqueens", {"n": 8, "max_placed": 8}),
        ("hanoi", {"n_disks": 0}),
        ("hanoi", {"start": "sideways"}),
        ("nonogram", {"fill_probability": 1.5}),
    ],
)
def test_invalid_config_values(name: str, knobs: dict) -> None:
    with pytest.raises(PearbenchError, match="invalid option"):
        make_game(name, **knobs)


# -- hanoi --------------------------------------------------------------------------------------------------------
def _bfs_distances(start: tuple[int, ...]) -> dict[tuple[int, ...], int]:
    distances = {start: 0}
    queue = collections.deque([start])
    while queue:
        state = queue.popleft()
        for source, target in itertools.permutations(range(3), 2):
            nxt = hanoi.simulate(state, [(source, target)])
            if nxt is not None and nxt not in distances:
                distances[nxt] = distances[state] + 1
                queue.append(nxt)
    return distances


def test_hanoi_optimal_plan_matches_breadth_first_search() -> None:
    for n in (1, 2, 3, 4):
        for start in itertools.product(range(3), repeat=n):
            for goal, distance in _bfs_distances(start).items():
                _, moves, _ = hanoi.optimal_plan(start, goal)
                assert len(moves) == distance
                assert hanoi.simulate(start, moves) == goal


def test_hanoi_classic_tower_budget_is_two_to_the_n_minus_one() -> None:
    for n in (3, 5):
        game = make_game("hanoi", n_disks=n, start="tower")
        instance = game.generate(0)
        assert instance.problem["max_moves"] == 2**n - 1
        assert game.instance_space() == 6


def test_hanoi_accepts_every_optimal_sequence_and_formats() -> None:
    game = make_game("hanoi", "easy")
    # find an instance with two different optimal move lists (the two routes of the largest disk tie)
    for seed in range(2000):
        instance = game.generate(seed)
        start, goal = game._arrangements(instance)
        k = max(d for d in range(len(start)) if start[d] != goal[d])
        s, g = start[k], goal[k]
        o = 3 - s - g
        direct = [*hanoi.gather_moves(start, k, o), (s, g), *hanoi._scatter_moves(goal, k, o)]
        detour = [
            *hanoi.gather_moves(start, k, g),
            (s, o),
            *hanoi.tower_moves(k, g, s),
            (o, g),
            *hanoi._scatter_moves(goal, k, s),
        ]
        if len(direct) == len(detour) and direct != detour:
            break
    else:
        pytest.fail("no instance with two optimal solutions found")
    for moves in (direct, detour):
        text = hanoi._format_moves(moves)
        assert game.check(instance, text)
        assert game.check(instance, text.replace(",", ", ").replace(">", " -> "))
        assert game.check(instance, "[" + text.replace(",", "\n") + "]")
        assert game.check(instance, text.replace("1", "A").replace("2", "B").replace("3", "C"))


def test_hanoi_rejects_illegal_too_long_and_unfinished() -> None:
    game = make_game("hanoi", "easy")
    instance = game.generate(7)
    moves = hanoi.parse_moves(instance.answer, 10**6)
    assert moves is not None and game.check(instance, instance.answer)
    assert not game.check(instance, hanoi._format_moves(moves[:-1]))  # goal not reached
    source, target = moves[0]
    padded = [(source, target), (target, source), *moves]  # legal but two moves over the optimum
    assert hanoi.simulate(game._arrangements(instance)[0], padded) == game._arrangements(instance)[1]
    assert not game.check(instance, hanoi._format_moves(padded))
    slack = make_game("hanoi", "easy", slack=2)
    loose = slack.generate(7)
    start, goal = slack._arrangements(loose)
    assert loose.problem["max_moves"] == hanoi.optimal_length(start, goal) + 2
    first = hanoi.parse_moves(loose.answer, 10**6)
    assert first is not None
    detoured = [first[0], first[0][::-1], *first]
    assert slack.check(loose, hanoi._format_moves(detoured))
    # a larger disk onto a smaller one is illegal
    assert hanoi.simulate((0, 0), [(0, 1), (0, 1)]) is None
    assert not game.check(instance, "1>1")


# -- nqueens ------------------------------------------------------------------------------------------------------
def test_nqueens_solution_counts_and_instance_space_against_brute_force() -> None:
    assert [len(nqueens.all_solutions(n)) for n in (4, 5, 6, 7, 8)] == [2, 10, 4, 40, 92]
    for n in (5, 6):
        brute = {perm for perm in itertools.permutations(range(n)) if nqueens.is_valid_placement(list(perm))}
        assert brute == set(nqueens.all_solutions(n))
        boards = set()
        for solution in brute:
            for k in (1, 2):
                for rows in itertools.combinations(range(n), k):
                    boards.add(tuple(sorted((r, solution[r]) for r in rows)))
        assert nqueens.count_partial_boards(n, 1, 2) == len(boards)


def test_nqueens_accepts_every_completion_and_formats() -> None:
    game, batch = instances("nqueens", "easy", 30)
    several = 0
    for instance in batch:
        fixed = game._fixed(instance)
        completions = [s for s in nqueens.all_solutions(8) if all(s[r] == c for r, c in fixed.items())]
        several += len(completions) > 1
        for columns in completions:
            answer = ",".join(str(c + 1) for c in columns)
            assert game.check(instance, answer)
            assert game.check(instance, " ".join(answer.split(",")))
            pairs = ", ".join(f"({r + 1},{c + 1})" for r, c in reversed(list(enumerate(columns))))
            assert game.check(instance, pairs)
            board = "\n".join("".join("Q" if columns[r] == c else "." for c in range(8)) for r in range(8))
            assert game.check(instance, board)
        # a valid board that moves a pre-placed queen is rejected
        for solution in nqueens.all_solutions(8):
            if any(solution[r] != c for r, c in fixed.items()):
                assert not game.check(instance, ",".join(str(c + 1) for c in solution))
                break
    assert several > 0, "some easy instances should have several completions"
    instance = batch[0]
    assert not game.check(instance, "1,2,3,4,5,6,7,8")
    assert not game.check(instance, "row 1: 3")


# -- nonogram -----------------------------------------------------------------------------------------------------
def test_nonogram_line_fillings_against_brute_force() -> None:
    for length in range(1, 9):
        by_clue = collections.defaultdict(set)
        for bits in itertools.product((0, 1), repeat=length):
            by_clue[tuple(nonogram.line_clue(bits))].add(bits)
        for clue, lines in by_clue.items():
            assert set(nonogram.line_fillings(clue, length)) == lines


def test_nonogram_instance_space_against_brute_force() -> None:
    seen = set()
    for bits in itertools.product((0, 1), repeat=9):
        rows, cols = nonogram.grid_clues([list(bits[r * 3 : r * 3 + 3]) for r in range(3)])
        seen.add((repr(rows), repr(cols)))
    assert nonogram.count_clue_sets(3, 3) == len(seen)


@functools.lru_cache(maxsize=1)
def _all_4x4_grids_by_clues() -> dict[tuple, list[list[list[int]]]]:
    """Every 4x4 grid, grouped by its (row clues, column clues)."""
    grouped = collections.defaultdict(list)
    for bits in itertools.product((0, 1), repeat=16):
        grid = [list(bits[r * 4 : r * 4 + 4]) for r in range(4)]
        rows, cols = nonogram.grid_clues(grid)
        grouped[repr((rows, cols))].append(grid)
    return grouped


def test_nonogram_accepts_every_grid_that_fits_the_clues() -> None:
    game, batch = instances("nonogram", "easy", 40)
    grouped = _all_4x4_grids_by_clues()
    several = 0
    for instance in batch:
        p = instance.problem
        fitting = grouped[repr((p["rows"], p["cols"]))]
        several += len(fitting) > 1
        for grid in fitting:
            assert game.check(instance, "\n".join("".join("#" if v else "." for v in row) for row in grid))
            assert game.check(instance, " / ".join(" ".join(str(v) for v in row) for row in grid))
        flipped = [list(row) for row in fitting[0]]
        flipped[0][0] ^= 1
        assert not game.check(instance, "/".join("".join("#" if v else "." for v in row) for row in flipped))
        solved = nonogram.solve_grid(p["rows"], p["cols"])
        assert solved in fitting
    assert several > 0, "random grids often have several solutions"


# -- futoshiki ----------------------------------------------------------------------------------------------------


def _futoshiki_brute(n: int, givens: dict, less: list) -> list[list[list[int]]]:
    return [
        [list(row) for row in square]
        for square in latin_squares(n)
        if all(square[r][c] == v for (r, c), v in givens.items())
        and all(square[a][b] < square[c][d] for (a, b), (c, d) in less)
    ]


def test_futoshiki_solver_counts_match_brute_force() -> None:
    rng = random.Random(7)
    for _ in range(60):
        n = rng.choice([3, 4])
        givens = {(rng.randrange(n), rng.randrange(n)): rng.randint(1, n) for _ in range(rng.randint(0, 3))}
        less = []
        for _ in range(rng.randint(0, 6)):
            r, c = rng.randrange(n), rng.randrange(n - 1)
            a, b = ((r, c), (r, c + 1)) if rng.random() < 0.5 else ((c, r), (c + 1, r))
            less.append((a, b) if rng.random() < 0.5 else (b, a))
        expected = len(_futoshiki_brute(n, givens, less))
        assert len(futoshiki._Solver(n, givens, less).solutions(10**6)) == expected
        assert len(futoshiki._Solver(n, givens, less, log=[]).solutions(10**6)) == expected


def test_futoshiki_puzzles_are_unique_and_checked_by_rules() -> None:
    game, batch = instances("futoshiki", "easy", 15)
    for instance in batch:
        n, givens, less = game._constraints(instance)
        solutions = _futoshiki_brute(n, givens, less)
        assert len(solutions) == 1
        grid = solutions[0]
        assert game.check(instance, "\n".join(" ".join(map(str, row)) for row in grid))
        assert game.check(instance, str(grid))  # [[1, 2, 3, 4], ...] is harmless formatting
        swapped = [list(row) for row in grid]
        swapped[0], swapped[1] = swapped[1], swapped[0]  # still a Latin square, breaks a clue
        assert not game.check(instance, "/".join("".join(map(str, row)) for row in swapped))


def test_futoshiki_board_rendering() -> None:
    lines = futoshiki.render_board(3, {(0, 0): 2}, [((0, 0), (0, 1)), ((1, 2), (0, 2)), ((1, 1), (2, 1))])
    assert lines == ["2 < _   _", "        v", "_   _   _", "    ^", "_   _   _"]


# -- zebra --------------------------------------------------------------------------------------------------------
def _zebra_brute(problem: dict) -> list[dict[str, int]]:
    """Every assignment satisfying all clues: each category's permutations in turn, dropping a partial assignment
    as soon as a clue whose values are all assigned is false."""
    n = problem["houses"]
    partial: list[dict[str, int]] = [{}]
    for _, group in problem["categories"]:
        extended = []
        for house_of in partial:
            for perm in itertools.permutations(range(1, n + 1)):
                candidate = {**house_of, **dict(zip(group, perm))}
                decided = [
                    clue
                    for clue in problem["clues"]
                    if clue[1] in candidate and (isinstance(clue[2], int) or clue[2] in candidate)
                ]
                if all(zebra._holds(clue, candidate) for clue in decided):
                    extended.append(candidate)
        partial = extended
    return partial


def test_zebra_puzzles_have_exactly_one_solution() -> None:
    for level, count in (("easy", 30), ("medium", 10)):
        game, batch = instances("zebra", level, count)
        for instance in batch:
            solutions = _zebra_brute(instance.problem)
            assert len(solutions) == 1
            house_of = solutions[0]
            question = instance.problem["question"]
            if question["target"] == "house":
                assert instance.answer == str(house_of[question["key"]])
            else:
                assert house_of[instance.answer] == house_of[question["key"]]


def test_zebra_solver_counts_match_brute_force() -> None:
    rng = random.Random(3)
    for _ in range(60):
        n, k = rng.choice([3, 4]), rng.choice([2, 3])
        groups = [[f"v{g}{i}" for i in range(n)] for g in range(k)]
        house_of = {v: h for group in groups for v, h in zip(group, rng.sample(range(1, n + 1), n))}
        clues = [zebra._random_clue(rng, n, groups, house_of) for _ in range(rng.randint(0, 5))]
        # and some clues that may be false, so that zero solutions also occur
        values = [v for group in groups for v in group]
        clues += [
            [rng.choice(["same", "left", "before"]), rng.choice(values), rng.choice(values)] for _ in range(2)
        ]
        problem = {
            "houses": n,
            "categories": [[f"c{g}", group] for g, group in enumerate(groups)],
            "clues": clues,
        }
        expected = len(_zebra_brute(problem))
        assert len(zebra._Solver(n, groups, clues).solutions(10**6)) == expected
        assert len(zebra._Solver(n, groups, clues, log=[]).solutions(10**6)) == expected


def _zebra_instance(question: str, target: str | None = None) -> tuple:
    game = make_game("zebra", "easy", question=question)
    for seed in range(200):
        instance = game.generate(seed)
        if target is None or instance.problem["question"].get("target") == target:
            return game, instance
    raise AssertionError("no such instance")


def test_zebra_attribute_answers_tolerate_wording_but_not_hedging() -> None:
    game, instance = _zebra_instance("attribute")
    question = instance.problem["question"]
    assert question["target"] != "house"
    gold = instance.answer
    wrong = next(v for v in dict(instance.problem["categories"])[question["target"]] if v != gold)
    for ok in (gold, f"The {gold}.", gold.upper(), f"{question['target']}: {gold}"):
        assert game.check(instance, ok), ok
    for bad in (wrong, f"{gold} or {wrong}", f"not {wrong} but {gold}", "", " ".join([gold] * 30)):
        assert not game.check(instance, bad), bad


def test_zebra_house_question() -> None:
    game, instance = _zebra_instance("attribute", target="house")
    assert game.check(instance, instance.answer)
    assert game.check(instance, f"house {instance.answer}")
    other = "1" if instance.answer != "1" else "2"
    assert not game.check(instance, other)
    assert not game.check(instance, f"{instance.answer} or {other}")


def test_zebra_full_assignment_formats() -> None:
    game, instance = _zebra_instance("full")
    lines = instance.answer.split("\n")
    assert game.check(instance, instance.answer)
    assert game.check(instance, "; ".join(line.split(": ", 1)[1] for line in lines))  # unlabelled, in order
    assert game.check(instance, "\n".join(f"House {line}" for line in reversed(lines)))  # labelled, any order
    shuffled = "\n".join(", ".join(reversed(line.split(": ", 1)[1].split(", "))) for line in lines)
    assert game.check(instance, shuffled)  # values in any order within a house
    swapped = [*lines]
    swapped[0], swapped[1] = swapped[1], swapped[0]
    assert not game.check(instance, "\n".join(line.split(": ", 1)[1] for line in swapped))
    assert not game.check(instance, "\n".join(lines[:-1]))
    assert not game.check(instance, instance.answer + " banana")


def test_zebra_hard_full_answers_verify() -> None:
    game, batch = instances("zebra", "hard", 5)
    for instance in batch:
        assert instance.problem["question"] == {"kind": "full"}
        assert game.check(instance, instance.answer)


def test_instance_roundtrip_through_dict() -> None:
    for name in GAMES:
        game = make_game(name)
        instance = game.generate(3)
        again = Instance.from_dict(instance.to_dict())
        assert again == instance and game.check(again, again.answer)
