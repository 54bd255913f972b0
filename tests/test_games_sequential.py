"""The games sorting_swaps, dyck_language, number_sequence and boolean_circuit: solver traces verify, generation is
deterministic, verifiers accept every valid answer (and only valid ones), solvers and uniqueness against brute force,
instance_space against counted instances."""

from __future__ import annotations

import collections
import itertools
import math

import pytest

import pearbench  # noqa: F401 - registers the games
from pearbench.envs import boolean_circuit, dyck_language, number_sequence, sorting_swaps
from pearbench.envs.base import Instance
from pearbench.errors import PearbenchError
from pearbench.registry import make_game

GAMES = ("sorting_swaps", "dyck_language", "number_sequence", "boolean_circuit")
LEVELS = ("easy", "medium", "hard")


def batch(name: str, level: str = "easy", count: int = 25, **knobs) -> tuple:
    game = make_game(name, level, **knobs)
    return game, [game.generate(seed) for seed in range(count)]


# -- every game ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", GAMES)
@pytest.mark.parametrize("level", LEVELS)
def test_solver_traces_verify_in_every_style(name: str, level: str) -> None:
    game, instances = batch(name, level)
    assert game.trace_styles == ("steps", "words")
    for instance in instances:
        traces = [game.solve(instance, style) for style in game.trace_styles]
        assert len(set(traces)) == len(traces), "trace styles must differ"
        for trace in traces:
            assert trace.rstrip().endswith("</answer>")
            verdict = game.verify(instance, trace)
            assert verdict.correct and verdict.error is None, (instance.problem, trace)
        assert game.check(instance, instance.answer)
        for text in (game.prompt(instance), game.compact_prompt(instance), *traces):
            assert text.isascii() and all(char.isprintable() or char == "\n" for char in text)
        assert game.compact_prompt(instance).endswith("\n")
        assert "<answer>" in game.prompt(instance).splitlines()[-1]
    with pytest.raises(PearbenchError):
        game.solve(instances[0], "nope")


@pytest.mark.parametrize("name", GAMES)
def test_generation_is_deterministic_and_varied(name: str) -> None:
    for level in LEVELS:
        game = make_game(name, level)
        first = [game.generate(seed) for seed in range(20)]
        assert first == [make_game(name, level).generate(seed) for seed in range(20)]
        assert len({instance.content_hash for instance in first}) >= 18
        again = Instance.from_dict(first[0].to_dict())
        assert game.check(again, first[0].answer)


@pytest.mark.parametrize("name", GAMES)
def test_instance_space_is_large_at_every_level(name: str) -> None:
    for level in LEVELS:
        space = make_game(name, level).instance_space()
        assert isinstance(space, int) and space >= 1_000, (name, level, space)


@pytest.mark.parametrize("name", GAMES)
def test_rejects_junk(name: str) -> None:
    game, instances = batch(name, "medium", 10)
    for instance in instances:
        for junk in ("", "x", "<answer></answer>", "9" * 5000, "\x00", "\u00e9", instance.answer + "!", "-"):
            assert not game.check(instance, junk), junk


@pytest.mark.parametrize(
    ("name", "knobs"),
    [
        ("sorting_swaps", {"length": 1}),
        ("sorting_swaps", {"items": "words"}),
        ("sorting_swaps", {"items": "letters", "max_value": 27}),
        ("sorting_swaps", {"length": 8, "max_value": 5, "distinct": True}),
        ("dyck_language", {"n_types": 5}),
        ("dyck_language", {"min_open": 4, "max_depth": 4}),
        ("dyck_language", {"min_length": 12, "max_length": 10}),
        ("number_sequence", {"rules": "arithmetic,cubic"}),
        ("number_sequence", {"rules": "arithmetic,arithmetic"}),
        ("number_sequence", {"min_terms": 4}),
        ("number_sequence", {"ratio_max": 1}),
        ("boolean_circuit", {"ops": "NOT"}),
        ("boolean_circuit", {"ops": "AND,IMPLIES"}),
        ("boolean_circuit", {"n_outputs": 5, "n_gates": 4}),
        ("boolean_circuit", {"min_depth": 9, "n_gates": 4}),
    ],
)
def test_invalid_config_values(name: str, knobs: dict) -> None:
    with pytest.raises(PearbenchError, match="invalid option"):
        make_game(name, **knobs)


def test_bad_knob_names() -> None:
    for name in GAMES:
        with pytest.raises(PearbenchError, match="unknown option"):
            make_game(name, bogus=1)


# -- sorting_swaps ------------------------------------------------------------------------------------------------
def _bfs_min_swaps(values: tuple[int, ...]) -> int:
    goal = tuple(sorted(values))
    seen = {values: 0}
    queue = collections.deque([values])
    while queue:
        state = queue.popleft()
        if state == goal:
            return seen[state]
        for i in range(len(state) - 1):
            nxt = (*state[:i], state[i + 1], state[i], *state[i + 2 :])
            if nxt not in seen:
                seen[nxt] = seen[state] + 1
                queue.append(nxt)
    raise AssertionError("unreachable")


def test_sorting_budget_is_the_true_minimum() -> None:
    for values in itertools.product(range(1, 4), repeat=5):
        assert sorting_swaps.inversions(list(values)) == _bfs_min_swaps(values)
    for values in itertools.permutations(range(1, 6)):
        assert sorting_swaps.inversions(list(values)) == _bfs_min_swaps(values)


def _reference_check(values: list[int], budget: int, swaps: tuple[int, ...]) -> bool:
    if len(swaps) > budget:
        return False
    current = list(values)
    for i in swaps:
        current[i], current[i + 1] = current[i + 1], current[i]
    return current == sorted(values)


def test_sorting_check_matches_brute_force_over_all_short_sequences() -> None:
    game, instances = batch("sorting_swaps", "easy", 40, length=4, max_value=4, distinct=False)
    tested = 0
    for instance in instances:
        values, budget = instance.problem["values"], instance.problem["max_swaps"]
        if budget > 4:
            continue
        tested += 1
        accepted = 0
        for length in range(budget + 2):
            for swaps in itertools.product(range(3), repeat=length):
                expected = _reference_check(values, budget, swaps)
                assert game.check(instance, ",".join(str(i + 1) for i in swaps)) == expected, (values, swaps)
                accepted += expected
        assert accepted >= 1
    assert tested >= 10


def test_sorting_accepts_every_minimal_sequence_and_formats() -> None:
    game = make_game("sorting_swaps", "easy")
    instance = next(i for i in (game.generate(seed) for seed in range(100)) if i.problem["max_swaps"] >= 4)
    values, budget = instance.problem["values"], instance.problem["max_swaps"]
    n = len(values)
    optimal = [
        swaps
        for swaps in itertools.product(range(n - 1), repeat=budget)
        if _reference_check(values, budget, swaps)
    ]
    assert len(optimal) >= 3
    gold = tuple(int(p) - 1 for p in instance.answer.split(","))
    assert gold in optimal
    for swaps in optimal:
        text = ",".join(str(i + 1) for i in swaps)
        assert game.check(instance, text)
        assert game.check(instance, text.replace(",", ", "))
        assert game.check(instance, "[" + text.replace(",", "\n") + "]")
        assert game.check(instance, text.replace(",", " ; "))
    first = ",".join(str(i + 1) for i in optimal[0])
    assert not game.check(instance, first.rsplit(",", 1)[0])  # one swap short: not sorted
    assert not game.check(instance, f"1,1,{first}")  # sorted, but over the budget
    assert not game.check(instance, f"{first},0")  # position 0 does not exist
    assert not game.check(instance, f"{first},{n}")  # neither does position n
    assert not game.check(instance, first.replace(",", "-"))
    assert not game.check(instance, first + ",1.5")
    assert not game.check(instance, "0" * 4 + "1")


def test_sorting_letters_and_instance_space_counts() -> None:
    game = make_game("sorting_swaps", "medium")
    instance = game.generate(3)
    assert instance.problem["items"] == "letters"
    line = game.prompt(instance).splitlines()[1].split()
    assert line == [chr(64 + v) for v in instance.problem["values"]]
    for knobs, expected in (
        ({"length": 3, "max_value": 3, "distinct": False}, 27 - 10),
        ({"length": 3, "max_value": 4, "distinct": True}, 24 - 4),
    ):
        small = make_game("sorting_swaps", "easy", **knobs)
        assert small.instance_space() == expected
        seen = {tuple(small.generate(seed).problem["values"]) for seed in range(600)}
        assert len(seen) == expected
        assert all(sorting_swaps.inversions(list(values)) > 0 for values in seen)
    assert make_game("sorting_swaps", "easy").instance_space() == math.perm(9, 5) - math.comb(9, 5)


# -- dyck_language ------------------------------------------------------------------------------------------------
def _is_dyck_word(text: str) -> bool:
    """Obviously correct: delete matched adjacent pairs until nothing changes."""
    while True:
        shorter = text
        for pair in dyck_language.PAIRS:
            shorter = shorter.replace(pair, "")
        if shorter == text:
            return text == ""
        text = shorter


def test_dyck_completion_is_the_unique_shortest_by_brute_force() -> None:
    game, instances = batch("dyck_language", "easy", 30, n_types=3, min_length=4, max_length=9, max_depth=4)
    symbols = "".join(dyck_language.PAIRS[:3])
    for instance in instances:
        prefix = instance.problem["prefix"]
        for length in range(0, 6):
            found = [
                "".join(tail)
                for tail in itertools.product(symbols, repeat=length)
                if _is_dyck_word(prefix + "".join(tail))
            ]
            if found:
                break
        assert found == [instance.answer], (prefix, found)
        assert game.check(instance, found[0])


def test_dyck_generated_prefixes_respect_the_knobs() -> None:
    for level in LEVELS:
        game, instances = batch("dyck_language", level, 50)
        cfg = game.config
        for instance in instances:
            prefix = instance.problem["prefix"]
            states = dyck_language.stack_trace(prefix)
            assert states is not None and cfg.min_length <= len(prefix) <= cfg.max_length
            assert max(len(state) for state in states) <= cfg.max_depth
            assert len(states[-1]) >= cfg.min_open
            assert set(prefix) <= set("".join(dyck_language.PAIRS[: cfg.n_types]))


def test_dyck_check_formats_and_mutations() -> None:
    game = make_game("dyck_language", "medium")
    instance = game.generate(5)
    gold = instance.answer
    assert len(gold) >= 2 and game.check(instance, gold)
    assert game.check(instance, " ".join(gold))
    assert game.check(instance, ",".join(gold))
    assert game.check(instance, "\n" + gold + "\n")
    assert not game.check(instance, gold[::-1]) or gold == gold[::-1]
    assert not game.check(instance, gold[:-1])
    assert not game.check(instance, gold + ")")
    assert not game.check(instance, gold + "()")  # a longer valid completion is not the shortest
    assert not game.check(instance, instance.problem["prefix"] + gold)
    assert not game.check(instance, gold.replace(")", "]").replace("}", ")") + "x")
    swapped = "".join({")": "]", "]": ")", "}": ">", ">": "}"}[c] for c in gold)
    assert not game.check(instance, swapped)


def test_dyck_instance_space_against_enumeration() -> None:
    knobs = {"n_types": 2, "min_length": 2, "max_length": 5, "max_depth": 3, "min_open": 1}
    game = make_game("dyck_language", "easy", **knobs)
    symbols = "".join(dyck_language.PAIRS[:2])
    brute = set()
    for length in range(2, 6):
        for chars in itertools.product(symbols, repeat=length):
            states = dyck_language.stack_trace("".join(chars))
            if states is not None and max(map(len, states)) <= 3 and len(states[-1]) >= 1:
                brute.add("".join(chars))
    assert game.instance_space() == len(brute)
    seen = {game.generate(seed).problem["prefix"] for seed in range(4000)}
    assert seen == brute


# -- number_sequence ----------------------------------------------------------------------------------------------
SMALL_SEQ = {
    "rules": ",".join(number_sequence.KINDS),
    "start_max": 3,
    "step_max": 2,
    "second_max": 1,
    "ratio_max": 2,
    "const_max": 1,
    "min_terms": 5,
    "max_terms": 6,
}


def test_rule_terms_match_closed_forms() -> None:
    rt = number_sequence.rule_terms
    assert rt("arithmetic", (4, -3), 6) == [4 + i * -3 for i in range(6)]
    assert rt("geometric", (5, -2), 6) == [5 * (-2) ** i for i in range(6)]
    assert rt("alternating", (1, 3, -1), 6) == [1, 4, 3, 6, 5, 8]
    assert rt("quadratic", (2, 3, 2), 6) == [2 + 3 * i + 2 * i * (i - 1) // 2 for i in range(6)]
    assert rt("fibonacci", (1, 1, 0), 7) == [1, 1, 2, 3, 5, 8, 13]
    assert rt("fibonacci", (0, 2, -1), 5) == [0, 2, 1, 2, 2]
    assert rt("interleaved", (1, 10, 2, -3), 7) == [1, 10, 3, 7, 5, 4, 7]
    assert rt("affine", (1, 2, 1), 5) == [1, 3, 7, 15, 31]


def _brute_next_terms(cfg: number_sequence.NumberSequenceConfig, m: int) -> dict[tuple[int, ...], set[int]]:
    table: dict[tuple[int, ...], set[int]] = collections.defaultdict(set)
    for kind in cfg.kinds:
        for params in number_sequence.all_params(kind, cfg):
            terms = number_sequence.rule_terms(kind, params, m + 1)
            table[tuple(terms[:m])].add(terms[m])
    return table


def test_number_sequence_fits_equal_brute_force_over_the_rule_family() -> None:
    cfg = make_game("number_sequence", "easy", **SMALL_SEQ).config
    ambiguous = collections.Counter()
    for m in (4, 5, 6):
        for terms, nexts in _brute_next_terms(cfg, m).items():
            assert {nxt for _, _, nxt in number_sequence.fits(list(terms), cfg)} == nexts, terms
            ambiguous[m] += len(nexts) > 1
    # the family really has runs of terms whose continuation is not determined (e.g. Fibonacci-like vs interleaved)
    assert ambiguous[4] > ambiguous[5] > 0


def test_number_sequence_answers_are_unique_by_brute_force() -> None:
    game = make_game("number_sequence", "easy", **SMALL_SEQ)
    cfg = game.config
    tables = {m: _brute_next_terms(cfg, m) for m in (5, 6)}
    lengths = collections.Counter()
    for seed in range(300):
        instance = game.generate(seed)
        terms = tuple(instance.problem["terms"])
        lengths[len(terms)] += 1
        assert tables[len(terms)][terms] == {int(instance.answer)}, terms
        if len(terms) == 6:  # shown terms were extended because five were ambiguous
            assert len(tables[5][terms[:5]]) > 1
    assert set(lengths) == {5, 6}
    # the real levels: every instance's continuation is fixed across the stated family
    for level in LEVELS:
        game = make_game("number_sequence", level)
        for seed in range(40):
            instance = game.generate(seed)
            found = number_sequence.fits(instance.problem["terms"], game._config_of(instance))
            assert found and {nxt for _, _, nxt in found} == {int(instance.answer)}


def test_number_sequence_check_formats() -> None:
    game = make_game("number_sequence", "medium")
    instance = next(i for i in (game.generate(s) for s in range(50)) if int(i.answer) > 0)
    value = int(instance.answer)
    for ok in (str(value), f" {value} ", f"+{value}", f"{value}.", f"0{value}"):
        assert game.check(instance, ok), ok
    for bad in (
        str(value + 1),
        f"-{value}",
        f"{value}.0",
        f"{value},",
        "1e3",
        f"{value} {value}",
        "+",
        "--1",
    ):
        assert not game.check(instance, bad), bad
    negative = next(i for i in (game.generate(s) for s in range(200)) if int(i.answer) < 0)
    assert game.check(negative, negative.answer) and not game.check(negative, negative.answer[1:])


def test_number_sequence_instance_space_counts() -> None:
    knobs = {"rules": "arithmetic,geometric", "start_max": 2, "step_max": 1, "ratio_max": 2}
    game = make_game("number_sequence", "easy", **knobs)
    seen = {tuple(game.generate(seed).problem["terms"]) for seed in range(1500)}
    assert game.instance_space() == len(seen) == 5 * 2 + 4 * 2
    # with every kind: the claim (cheap kinds only) is at most the true count, and the generator stays inside it
    small = make_game("number_sequence", "easy", **SMALL_SEQ)
    cfg = small.config
    every = set()
    for kind in cfg.kinds:
        for params in number_sequence.all_params(kind, cfg, drawable=True):
            terms = number_sequence.shown_terms(kind, params, cfg)
            if terms is not None:
                every.add(tuple(terms))
    assert 0 < small.instance_space() <= len(every)
    assert {tuple(small.generate(seed).problem["terms"]) for seed in range(300)} <= every


# -- boolean_circuit ----------------------------------------------------------------------------------------------
_REFERENCE = {
    "AND": lambda x, y: x and y,
    "OR": lambda x, y: x or y,
    "XOR": lambda x, y: x != y,
    "NAND": lambda x, y: not (x and y),
    "NOR": lambda x, y: not (x or y),
    "XNOR": lambda x, y: x == y,
}


def _reference_outputs(problem: dict) -> list[int]:
    values = {name: bool(v) for name, v in problem["inputs"].items()}
    for name, op, *operands in problem["gates"]:
        assert all(operand in values for operand in operands)  # reads only earlier signals
        args = [values[o] for o in operands]
        values[name] = (not args[0]) if op == "NOT" else bool(_REFERENCE[op](*args))
    return [int(values[name]) for name in problem["outputs"]]


def test_boolean_circuit_against_reference_and_structure() -> None:
    for level in LEVELS:
        game, instances = batch("boolean_circuit", level, 60)
        cfg = game.config
        counts = collections.Counter()
        for instance in instances:
            problem = instance.problem
            expected = _reference_outputs(problem)
            assert instance.answer == ",".join(map(str, expected))
            counts[instance.answer] += 1
            gates = problem["gates"]
            assert len(gates) == cfg.n_gates and len(problem["outputs"]) == cfg.n_outputs
            assert problem["outputs"] == [g[0] for g in gates[-cfg.n_outputs :]]
            used = {operand for gate in gates for operand in gate[2:]}
            assert all(g[0] in used for g in gates[: -cfg.n_outputs])
            assert all(g[1] in cfg.ops.split(",") for g in gates)
            assert all(len(g) == (3 if g[1] == "NOT" else 4) and len(set(g[2:])) == len(g) - 2 for g in gates)
            level_of = boolean_circuit.depths(problem["inputs"], gates)
            assert max(level_of[o] for o in problem["outputs"]) >= cfg.min_depth
            # unique: of all 2^k value lists exactly the evaluated one is accepted
            accepted = [
                bits
                for bits in itertools.product((0, 1), repeat=cfg.n_outputs)
                if game.check(instance, ",".join(map(str, bits)))
            ]
            assert accepted == [tuple(expected)]
        assert len(counts) >= 2


def test_boolean_circuit_check_formats() -> None:
    game = make_game("boolean_circuit", "medium")
    instance = game.generate(4)
    first, second = instance.problem["outputs"]
    x, y = (int(v) for v in instance.answer.split(","))
    words = {0: "false", 1: "true"}
    for ok in (
        f"{x},{y}",
        f"{x} {y}",
        f"{x}\n{y}",
        f"{x}; {y}",
        f"{words[x]}, {words[y].upper()}",
        f"{first}={x}, {second}={y}",
        f"{second} = {y}\n{first} = {x}",
        f"{first}: {x}, {second}: {y}",
        f"{first.upper()}={x},{second}={y}",
    ):
        assert game.check(instance, ok), ok
    for bad in (
        f"{x}",
        f"{x},{y},{x}",
        f"{1 - x},{y}",
        f"{x},{1 - y}",
        f"{x},2",
        f"{x},yes",
        f"{first}={x},{first}={x}",
        f"{first}={x},g99={y}",
        f"{first}={x},{y}",
        f"{x}{y}",
        f"[{x},{y}]",
    ):
        assert not game.check(instance, bad), bad


def test_boolean_circuit_instance_space_against_enumeration() -> None:
    for n_gates, expected in ((1, 4 * (2 + 2)), (2, 4 * 4 * 5)):
        game = make_game("boolean_circuit", "easy", n_inputs=2, n_gates=n_gates, ops="AND,NOT", min_depth=1)
        assert game.instance_space() == expected
        seen = {str(game.generate(seed).problem) for seed in range(3000)}
        assert len(seen) == expected  # here the chain circuits are all the circuits
    bigger = make_game("boolean_circuit", "easy", n_inputs=3, n_gates=3, ops="AND,OR,NOT", min_depth=1)
    assert any(  # the generator also makes circuits outside the counted chain family
        not all(gates[i - 1][0] in gates[i][2:] for i in range(1, len(gates)))
        for gates in (bigger.generate(seed).problem["gates"] for seed in range(200))
    )
