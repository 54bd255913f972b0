"""The games lights_out, sokoban, skyscrapers and binairo: solvers against brute force, verifiers accept every valid
answer (and only valid ones), solver traces verify, generation is deterministic, instance spaces are honest."""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import random

import pytest
from brute_force import latin_squares

import pearbench  # noqa: F401 - registers the games
from pearbench.envs import binairo, lights_out, skyscrapers, sokoban
from pearbench.envs.base import Instance
from pearbench.errors import PearbenchError
from pearbench.registry import make_game

GAMES = ("lights_out", "sokoban", "skyscrapers", "binairo")
LEVELS = ("easy", "medium", "hard")


@functools.lru_cache(maxsize=32)
def batch(name: str, level: str, count: int) -> tuple:
    game = make_game(name, level)
    return game, tuple(game.generate(seed) for seed in range(count))


def with_problem(instance: Instance, **changes) -> Instance:
    return dataclasses.replace(instance, problem={**instance.problem, **changes})


# -- every game ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", GAMES)
@pytest.mark.parametrize("level", LEVELS)
def test_solver_traces_verify_in_every_style(name: str, level: str) -> None:
    game, instances = batch(name, level, 25)
    assert set(game.trace_styles) == {"steps", "words"}
    for instance in instances:
        traces = [game.solve(instance, style) for style in game.trace_styles]
        assert len(set(traces)) == len(traces), "trace styles must differ"
        for trace in traces:
            assert trace.rstrip().endswith("</answer>")
            verdict = game.verify(instance, trace)
            assert verdict.correct and verdict.error is None, (instance.problem, trace)
        assert game.check(instance, instance.answer)
        prompts = game.prompt(instance) + game.compact_prompt(instance)
        assert prompts.isascii() and "<answer></answer>" in game.prompt(instance)
        assert game.compact_prompt(instance).endswith("\n")
    with pytest.raises(PearbenchError):
        game.solve(instances[0], "poem")


@pytest.mark.parametrize("name", GAMES)
def test_generation_is_deterministic_and_varied(name: str) -> None:
    for level in LEVELS:
        game = make_game(name, level)
        first = [game.generate(seed) for seed in range(12)]
        assert first == [make_game(name, level).generate(seed) for seed in range(12)]
        assert len({instance.content_hash for instance in first}) >= 11
        space = game.instance_space()
        assert isinstance(space, int) and space >= 1_000


@pytest.mark.parametrize("name", GAMES)
def test_rejects_junk(name: str) -> None:
    game, instances = batch(name, "easy", 25)
    for instance in instances[:8]:
        for junk in (
            "",
            "x",
            "0",
            "<answer>",
            instance.answer + instance.answer,
            "9" * 5000,
            "\x00",
            "é" * 40,
        ):
            assert not game.check(instance, junk)


@pytest.mark.parametrize(
    ("name", "knobs"),
    [
        ("lights_out", {"rows": 1}),
        ("lights_out", {"cols": 9}),
        ("lights_out", {"budget": "cheap"}),
        ("lights_out", {"slack": -1}),
        ("sokoban", {"rows": 3}),
        ("sokoban", {"boxes": 4}),
        ("sokoban", {"min_walls": 3, "max_walls": 2}),
        ("sokoban", {"max_runs": 0}),
        ("skyscrapers", {"size": 8}),
        ("skyscrapers", {"hidden_clues": 17}),
        ("binairo", {"size": 7}),
        ("binairo", {"size": 14}),
        ("binairo", {"unique_lines": "yes"}),
    ],
)
def test_invalid_config_values(name: str, knobs: dict) -> None:
    with pytest.raises(PearbenchError, match="invalid option"):
        make_game(name, **knobs)
    with pytest.raises(PearbenchError, match="unknown option"):
        make_game(name, bogus=1)


# -- lights out ---------------------------------------------------------------------------------------------------
def _press_sets_by_board(rows: int, cols: int) -> dict[tuple[int, ...], list[tuple[int, ...]]]:
    """Brute force: every press set (as row masks), grouped by the board it darkens (= the board it makes)."""
    grouped = collections.defaultdict(list)
    for bits in range(1 << (rows * cols)):
        presses = [(bits >> (r * cols)) & ((1 << cols) - 1) for r in range(rows)]
        board = [0] * rows
        for r in range(rows):
            for c in range(cols):
                if presses[r] >> c & 1:
                    for dr, dc in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
                        if 0 <= r + dr < rows and 0 <= c + dc < cols:
                            board[r + dr] ^= 1 << (c + dc)
        grouped[tuple(board)].append(tuple(presses))
    return grouped


@pytest.mark.parametrize(("rows", "cols"), [(2, 3), (3, 3), (3, 4), (4, 4)])
def test_lights_out_solutions_and_space_against_brute_force(rows: int, cols: int) -> None:
    grouped = _press_sets_by_board(rows, cols)
    assert len(grouped) == 1 << lights_out.press_rank(rows, cols)
    assert make_game("lights_out", rows=rows, cols=cols).instance_space() == len(grouped) - 1
    for board, press_sets in grouped.items():
        found = lights_out.all_solutions(list(board), cols)
        assert sorted(tuple(presses) for _, presses in found) == sorted(press_sets)
        best = lights_out.minimal_solution(list(board), cols)
        assert lights_out.press_count(best[1]) == min(lights_out.press_count(p) for p in press_sets)
    unsolvable = next((b for b in itertools.product(range(1 << cols), repeat=rows) if b not in grouped), None)
    if unsolvable is not None:
        assert lights_out.minimal_solution(list(unsolvable), cols) is None


def test_lights_out_accepts_every_minimal_press_set_and_formats() -> None:
    game, instances = batch("lights_out", "medium", 25)  # 4x4: 16 solutions per board
    several = 0
    for instance in instances:
        rows, cols, board = game._board(instance)
        budget = instance.problem["max_presses"]
        solutions = [presses for _, presses in lights_out.all_solutions(board, cols)]
        assert len(solutions) == 16
        minimal = [p for p in solutions if lights_out.press_count(p) == budget]
        several += len(minimal) > 1
        for presses in solutions:
            text = lights_out.format_grid(presses, cols)
            assert game.check(instance, text) == (lights_out.press_count(presses) <= budget)
        text = lights_out.format_grid(minimal[-1], cols)
        assert game.check(instance, text.replace("/", "\n"))
        assert game.check(instance, "[" + ", ".join(" ".join(row) for row in text.split("/")) + "]")
        flipped = list(minimal[0])
        flipped[1] ^= 1
        assert not game.check(instance, lights_out.format_grid(flipped, cols))
        assert not game.check(instance, text[:-1])  # one digit short
        assert not game.check(instance, text + "0")  # one digit too many
        assert not game.check(instance, text.replace("1", "2"))
    assert several > 0, "4x4 boards often have several minimal press sets"


def test_lights_out_budget_knobs() -> None:
    loose = make_game("lights_out", "easy", budget="none")
    instance = loose.generate(3)
    assert instance.problem["max_presses"] is None and "no limit" in loose.prompt(instance)
    assert loose.check(instance, instance.answer)
    slack = make_game("lights_out", "medium", slack=2)
    for seed in range(10):
        instance = slack.generate(seed)
        rows, cols, board = slack._board(instance)
        solutions = [p for _, p in lights_out.all_solutions(board, cols)]
        fewest = min(lights_out.press_count(p) for p in solutions)
        assert instance.problem["max_presses"] == fewest + 2
        tight = with_problem(instance, max_presses=fewest)
        for presses in solutions:
            count = lights_out.press_count(presses)
            assert slack.check(instance, lights_out.format_grid(presses, cols)) == (count <= fewest + 2)
            assert slack.check(tight, lights_out.format_grid(presses, cols)) == (count == fewest)


# -- sokoban ------------------------------------------------------------------------------------------------------
def _bfs_optimum(room: sokoban.Room) -> tuple[int, list[str]] | None:
    """Plain breadth-first search over (player, boxes): the optimal length and all optimal move strings (up to 50)."""
    start = (room.player, tuple(sorted(room.boxes)))
    goal = tuple(sorted(room.goals))
    depth = {start: 0}
    parents = collections.defaultdict(list)
    queue = collections.deque([start])
    found = None
    while queue:
        state = queue.popleft()
        if found is not None and depth[state] >= found:
            break
        player, boxes = state
        for move, delta in room.step.items():
            nxt = player + delta
            if room.wall[nxt]:
                continue
            moved = list(boxes)
            if nxt in boxes:
                beyond = nxt + delta
                if room.wall[beyond] or beyond in boxes:
                    continue
                moved[moved.index(nxt)] = beyond
            new = (nxt, tuple(sorted(moved)))
            if new not in depth:
                depth[new] = depth[state] + 1
                queue.append(new)
            if depth[new] == depth[state] + 1:
                parents[new].append((state, move))
            if new[1] == goal and found is None:
                found = depth[new]
    if found is None:
        return None
    ends = [s for s, d in depth.items() if d == found and s[1] == goal]

    @functools.cache
    def paths(state) -> tuple[str, ...]:
        if state == start:
            return ("",)
        out = [p + move for previous, move in parents[state] for p in paths(previous)]
        return tuple(out[:50])

    return found, [p for end in ends for p in paths(end)][:50]


def test_sokoban_budget_is_the_breadth_first_optimum_where_searched() -> None:
    for level, count in (("easy", 25), ("medium", 8)):
        game, instances = batch("sokoban", level, 25)
        for instance in instances[:count]:
            room = sokoban.Room(instance.problem["board"])
            best = _bfs_optimum(room)
            assert best is not None, "reverse play always gives a solvable board"
            length, optimal = best
            assert instance.problem["max_moves"] == length == len(instance.answer)
            for moves in optimal:  # every optimal solution is accepted, not only the gold
                assert game.check(instance, moves)
            assert not game.check(instance, optimal[0][:-1])


def test_sokoban_hard_budgets_are_never_below_the_optimum() -> None:
    game, instances = batch("sokoban", "hard", 25)
    for instance in instances[:10]:
        room = sokoban.Room(instance.problem["board"])
        best = sokoban.optimal_moves(room.wall, room.width, room.player, room.boxes, room.goals, 200_000)
        assert best is not None and game.check(instance, best)
        assert len(best) <= instance.problem["max_moves"]


def test_sokoban_verifier_simulates_pushes_walls_and_budget() -> None:
    game, instances = batch("sokoban", "medium", 25)
    detours = 0
    for instance in instances[:10]:
        gold = instance.answer
        room = sokoban.Room(instance.problem["board"])
        assert game.check(instance, gold.lower())
        assert game.check(instance, ", ".join(gold))
        assert game.check(instance, "\n".join(gold[i : i + 5] for i in range(0, len(gold), 5)))
        # a legal detour of two moves: over the budget here, fine with slack 2
        detour = None
        for move, back in (("U", "D"), ("D", "U"), ("L", "R"), ("R", "L")):
            nxt = room.player + room.step[move]
            if not room.wall[nxt] and nxt not in room.boxes:
                detour = move + back + gold
                break
        if detour is not None:  # (some players start boxed in: their first move must be a push)
            detours += 1
            assert sokoban.simulate(room, detour) is not None
            assert not game.check(instance, detour)
            assert game.check(with_problem(instance, max_moves=len(detour)), detour)
        slack_game = make_game("sokoban", "medium", slack=2)
        loose = slack_game.generate(0)
        assert loose.problem["max_moves"] == len(loose.answer) + 2
        assert not game.check(instance, gold[:-1])  # last push missing
        assert not game.check(instance, gold + "X")
    assert detours >= 5
    # walking into a wall or pushing a box into a wall is illegal, not a no-op
    room = sokoban.Room(["#####", "#@$.#", "#####"])
    assert sokoban.simulate(room, "R") == (7, [8])
    assert sokoban.simulate(room, "U") is None
    assert sokoban.simulate(room, "RR") is None
    two = sokoban.Room(["######", "#@$$.#", "######"])
    assert sokoban.simulate(two, "R") is None  # two boxes cannot be pushed at once
    instance = Instance(
        "sokoban", "easy", 0, {"board": ["#####", "#@$.#", "#####"], "boxes": 1, "max_moves": 1}, "R"
    )
    assert game.check(instance, "R") and not game.check(instance, "RL") and not game.check(instance, "")


def test_sokoban_instance_space_family_claims() -> None:
    """The boards counted by instance_space() are producible: check the family's claims by simulation."""
    for level in ("easy", "medium"):
        game = make_game("sokoban", level)
        cfg = game.config
        width = cfg.cols + 2
        odd = [(r, c) for r in range(1, cfg.rows, 2) for c in range(1, cfg.cols, 2)]
        step = {m: dr * width + dc for m, (dr, dc) in sokoban._DELTAS.items()}

        def cell(r: int, c: int, width: int = width) -> int:
            return (r + 1) * width + c + 1

        counted = 0
        for w in range(cfg.min_walls, cfg.max_walls + 1):
            for walls in itertools.combinations(odd, w):
                wall = bytearray((cfg.rows + 2) * width)
                for index in range(len(wall)):
                    r, c = divmod(index, width)
                    wall[index] = r in (0, cfg.rows + 1) or c in (0, width - 1)
                for r, c in walls:
                    wall[cell(r, c)] = 1
                floor = [i for i in range(len(wall)) if not wall[i]]
                empty = bytearray(len(wall))
                assert len(sokoban.walk_parents(wall, empty, floor[0], step)) == len(floor)
                if cfg.boxes == 1:
                    for line_cells in [
                        [cell(r, c) for c in range(cfg.cols)] for r in range(0, cfg.rows, 2)
                    ] + [[cell(r, c) for r in range(cfg.rows)] for c in range(0, cfg.cols, 2)]:
                        for g, b in itertools.permutations(range(len(line_cells)), 2):
                            ahead = b + (1 if b > g else -1)
                            if not 0 <= ahead < len(line_cells):
                                continue
                            box = bytearray(len(wall))
                            box[line_cells[b]] = 1
                            reach = sokoban.walk_parents(wall, box, line_cells[ahead], step)
                            assert len(reach) == len(floor) - 1  # the player can end anywhere
                            counted += len(floor) - 1 >= cfg.rows * cfg.cols - cfg.max_walls - 1
                else:
                    for goals in itertools.combinations(range(0, cfg.cols, 2), cfg.boxes):
                        for depths in itertools.product(range(1, cfg.rows - 2), repeat=cfg.boxes):
                            box = bytearray(len(wall))
                            for c in goals:
                                box[cell(0, c)] = 1
                            player = cell(1, goals[0])
                            for c, k in zip(goals, depths):
                                reach = sokoban.walk_parents(wall, box, player, step)
                                assert cell(1, c) in reach and not box[cell(2, c)]
                                box[cell(0, c)], box[cell(k, c)] = 0, 1
                                player = cell(k + 1, c)
                            bottom = cfg.rows - 1 if cfg.rows % 2 else cfg.rows - 2
                            reach = sokoban.walk_parents(wall, box, player, step)
                            assert all(cell(bottom, c) in reach for c in range(cfg.cols))
                            counted += 1
        if cfg.boxes == 1:
            assert counted * (cfg.rows * cfg.cols - cfg.max_walls - 1) == game.instance_space()
        else:
            assert counted * cfg.cols == game.instance_space()


# -- skyscrapers --------------------------------------------------------------------------------------------------


def _sky_brute(n: int, clues: dict, givens: dict) -> list:
    return [
        square
        for square in latin_squares(n)
        if skyscrapers.grid_ok([list(row) for row in square], clues, givens)
    ]


def _sky_row_search(n: int, clues: dict, givens: dict, limit: int = 3) -> int:
    """Independent count: rows are permutations that fit their own two clues and givens; columns checked fully."""
    fitting = []
    for r in range(n):
        fitting.append(
            [
                p
                for p in itertools.permutations(range(1, n + 1))
                if clues["left"][r] in (0, skyscrapers.visible(p))
                and clues["right"][r] in (0, skyscrapers.visible(p[::-1]))
                and all(p[c] == givens.get(r * n + c, p[c]) for c in range(n))
            ]
        )
    found = 0

    def visit(square: list) -> None:
        nonlocal found
        if found >= limit:
            return
        if len(square) == n:
            found += skyscrapers.grid_ok([list(row) for row in square], clues, givens)
            return
        for row in fitting[len(square)]:
            if all(row[c] != earlier[c] for earlier in square for c in range(n)):
                visit([*square, row])

    visit([])
    return found


def test_skyscrapers_visibility_and_latin_counts() -> None:
    assert skyscrapers.visible([2, 1, 4, 3]) == 2 and skyscrapers.visible([1, 2, 3, 4]) == 4
    assert skyscrapers.visible([4, 1, 2, 3]) == 1
    for n in (3, 4):
        assert len(latin_squares(n)) == skyscrapers.LATIN_SQUARES[n]


def test_skyscrapers_puzzles_are_unique_by_brute_force() -> None:
    game, instances = batch("skyscrapers", "easy", 25)
    for instance in instances:
        n, clues, givens = game._puzzle(instance)
        solutions = _sky_brute(n, clues, givens)
        assert len(solutions) == 1
        assert "/".join("".join(map(str, row)) for row in solutions[0]) == instance.answer
        assert sum(clue == 0 for side in skyscrapers._SIDES for clue in clues[side]) == 3
    game, instances = batch("skyscrapers", "medium", 25)
    for instance in instances[:6]:
        n, clues, givens = game._puzzle(instance)
        assert _sky_row_search(n, clues, givens) == 1


def test_skyscrapers_solver_counts_match_brute_force() -> None:
    rng = random.Random(3)
    for _ in range(40):
        n = 4
        square = rng.choice(latin_squares(n))
        clues = skyscrapers.all_clues([list(row) for row in square])
        for slot in rng.sample(range(16), rng.randint(4, 14)):
            clues[skyscrapers._SIDES[slot // n]][slot % n] = 0
        givens = {cell: square[cell // n][cell % n] for cell in rng.sample(range(16), rng.randint(0, 2))}
        expected = len(_sky_brute(n, clues, givens))
        assert skyscrapers.count_solutions(n, clues, givens, limit=10**6) == expected >= 1
        if skyscrapers.solved_by_propagation(n, clues, givens):
            assert expected == 1


def test_skyscrapers_verifier_checks_the_rules() -> None:
    game, instances = batch("skyscrapers", "easy", 25)
    # with every clue hidden and no givens, every Latin square is a valid answer
    blank = with_problem(instances[0], top=[0] * 4, bottom=[0] * 4, left=[0] * 4, right=[0] * 4, givens=[])
    for square in latin_squares(4)[::37]:
        assert game.check(blank, "\n".join("".join(map(str, row)) for row in square))
    assert not game.check(blank, "1234/1234/1234/1234")
    for instance in instances:
        n, clues, givens = game._puzzle(instance)
        answer = instance.answer
        assert game.check(instance, answer.replace("/", "\n"))
        assert game.check(instance, " ".join(" ".join(row) for row in answer.split("/")))
        rows = answer.split("/")
        swapped = "/".join([rows[1], rows[0], *rows[2:]])  # still Latin, but some clue or given breaks
        assert not game.check(instance, swapped)
        assert not game.check(instance, answer[:-1])
        assert not game.check(instance, answer.replace("4", "5"))
        wrong = next(
            sq for sq in latin_squares(4) if "/".join("".join(map(str, row)) for row in sq) != answer
        )
        assert not game.check(instance, "/".join("".join(map(str, row)) for row in wrong))
    assert game.instance_space() == 576 * 560  # L(4) * C(16, 3)


# -- binairo ------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _binairo_grids(n: int, unique: bool) -> list[tuple[str, ...]]:
    """Brute force: rows from every n-bit string, columns checked at the end (no pruning but row validity)."""
    lines = [
        "".join(bits)
        for bits in itertools.product("01", repeat=n)
        if bits.count("1") == n // 2 and "000" not in "".join(bits) and "111" not in "".join(bits)
    ]
    out = []

    def visit(rows: list[str]) -> None:
        if len(rows) == n:
            cols = ["".join(row[c] for row in rows) for c in range(n)]
            if all(col in lines for col in cols) and (not unique or len(set(cols)) == n):
                out.append(tuple(rows))
            return
        for line in lines:
            if unique and line in rows:
                continue
            prefix = ["".join(row[c] for row in rows) + line[c] for c in range(n)]
            if any(
                "000" in p or "111" in p or p.count("1") > n // 2 or p.count("0") > n // 2 for p in prefix
            ):
                continue
            visit([*rows, line])

    visit([])
    return out


def test_binairo_grid_counts_against_brute_force() -> None:
    assert [len(binairo.valid_lines(n)) for n in (4, 6, 8, 10)] == [6, 14, 34, 84]
    for n in (4, 6):
        for unique in (True, False):
            assert binairo.count_grids(n, unique) == len(_binairo_grids(n, unique))
    assert make_game("binairo", "easy").instance_space() == len(_binairo_grids(6, True)) == 4140
    assert binairo.count_grids(8, True, cap=1_000) == 1_000  # the cap is a true lower bound: it is reached


def test_binairo_puzzles_are_unique_by_brute_force() -> None:
    game, instances = batch("binairo", "easy", 25)
    for instance in instances:
        n, unique, givens = game._puzzle(instance)
        fits = [
            g for g in _binairo_grids(n, unique) if all(g[c // n][c % n] == str(v) for c, v in givens.items())
        ]
        assert len(fits) == 1 and "/".join(fits[0]) == instance.answer
        # without distinct lines more grids would fit only if the rule mattered; the checker follows the flag
        assert game.check(instance, "\n".join(fits[0]))
    # the givens are minimal for propagation: removing any one leaves propagation unable to finish
    for instance in instances[:10]:
        n, unique, givens = game._puzzle(instance)
        for cell in givens:
            rest = {c: v for c, v in givens.items() if c != cell}
            assert not binairo.solved_by_propagation(n, unique, rest)


def test_binairo_verifier_accepts_any_valid_completion_and_rejects_broken_ones() -> None:
    game, instances = batch("binairo", "easy", 25)
    blank = with_problem(instances[0], grid=["......"] * 6)
    grids = _binairo_grids(6, True)
    for grid in grids[::97]:
        assert game.check(blank, "\n".join(grid))
        assert game.check(blank, " / ".join(" ".join(row) for row in grid))
    # repeated rows: valid only without the distinct-lines rule
    repeated = ("011001", "100110", "011001", "100110", "011001", "100110")
    assert binairo.grid_ok([[int(ch) for ch in row] for row in repeated], unique=False)
    assert not game.check(blank, "/".join(repeated))
    assert make_game("binairo", "easy", unique_lines=False).check(
        with_problem(blank, unique_lines=False), "/".join(repeated)
    )
    triple = ("000111", "111000", "000111", "111000", "000111", "111000")
    unbalanced = ("011011", "100100", "011011", "100100", "011011", "100100")
    assert not game.check(blank, "/".join(triple))
    assert not game.check(blank, "/".join(unbalanced))
    for instance in instances:
        answer = instance.answer
        assert game.check(instance, answer)
        n, _, givens = game._puzzle(instance)
        cell = next(iter(givens))
        flipped = list(answer.replace("/", ""))
        flipped[cell] = "1" if flipped[cell] == "0" else "0"
        assert not game.check(instance, "".join(flipped))
        other = next(g for g in grids if "/".join(g) != answer)
        assert not game.check(instance, "/".join(other))  # valid grid, but some given differs
        assert not game.check(instance, answer[:-1])
        assert not game.check(instance, answer.replace("1", "2"))


def test_binairo_trace_rules_are_correct() -> None:
    game, instances = batch("binairo", "medium", 25)
    for instance in instances[:5]:
        n, unique, givens = game._puzzle(instance)
        log: list = []
        solver = binairo._Solver(n, unique, log)
        values, cands = solver.initial(givens)
        solver.propagate(values, cands)
        assert -1 not in values
        assert "/".join("".join(map(str, values[r * n : (r + 1) * n])) for r in range(n)) == instance.answer
        assert {rule for *_, rule in log} <= {"pair", "gap", "count", "line"}
        assert len(log) == n * n - len(givens)
