"""The games vigenere, bit_manipulation, calendar_arithmetic, magic_square and kenken: solver traces verify, the
answers match slow reference implementations and brute force, verifiers accept every valid answer (and only valid
ones), generation is deterministic, instance_space is honest."""

from __future__ import annotations

import datetime
import functools
import itertools
import random
import string
from math import comb

import pytest
from brute_force import latin_squares

import pearbench  # noqa: F401 - registers the games
from pearbench.envs import bit_manipulation, calendar_arithmetic, kenken, magic_square, vigenere
from pearbench.envs.base import Instance
from pearbench.errors import PearbenchError
from pearbench.registry import make_game

GAMES = ("vigenere", "bit_manipulation", "calendar_arithmetic", "magic_square", "kenken")
LEVELS = ("easy", "medium", "hard")
ANSWER_TAIL = "</answer>"
PRINTABLE = set(string.printable)


def instances(name: str, level: str, count: int, start: int = 0, **knobs) -> tuple:
    game = make_game(name, level, **knobs)
    return game, [game.generate(seed) for seed in range(start, start + count)]


# -- every game ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", GAMES)
@pytest.mark.parametrize("level", LEVELS)
def test_solver_traces_verify_in_every_style(name: str, level: str) -> None:
    game, batch = instances(name, level, 25)
    assert tuple(game.trace_styles) == ("steps", "words")
    for instance in batch:
        traces = [game.solve(instance, style) for style in game.trace_styles]
        assert len(set(traces)) == len(traces), "trace styles must differ"
        for trace in traces:
            assert trace.rstrip().endswith(ANSWER_TAIL)
            verdict = game.verify(instance, trace)
            assert verdict.correct and verdict.error is None, (instance.problem, trace)
        assert game.check(instance, instance.answer)
        prompt, compact = game.prompt(instance), game.compact_prompt(instance)
        assert "<answer></answer>" in prompt and set(prompt) <= PRINTABLE
        assert compact.endswith("\n") and set(compact) <= PRINTABLE and len(compact) < len(prompt)
    with pytest.raises(PearbenchError):
        game.solve(batch[0], "nope")


@pytest.mark.parametrize("name", GAMES)
def test_generation_is_deterministic_and_varied(name: str) -> None:
    for level in LEVELS:
        game = make_game(name, level)
        first = [game.generate(seed) for seed in range(20)]
        assert first == [make_game(name, level).generate(seed) for seed in range(20)]
        assert len({instance.content_hash for instance in first}) >= 18


@pytest.mark.parametrize("name", GAMES)
def test_instance_space_at_least_a_thousand_per_level(name: str) -> None:
    for level in LEVELS:
        space = make_game(name, level).instance_space()
        assert isinstance(space, int) and space >= 1_000, (name, level, space)


@pytest.mark.parametrize("name", GAMES)
def test_rejects_junk_and_other_instances_answers(name: str) -> None:
    for level in LEVELS:
        game, batch = instances(name, level, 10)
        for instance in batch:
            for junk in (
                "",
                "x",
                "0",
                "<answer></answer>",
                instance.answer + " " + instance.answer,
                "9" * 5000,
            ):
                assert not game.check(instance, junk), junk[:40]
            assert not game.check(instance, instance.answer + "\x00é")
            other = next(o for o in batch if o.answer != instance.answer and o.problem != instance.problem)
            if game.check(instance, other.answer):  # possible only where several answers are valid
                assert game.multiple_solutions


@pytest.mark.parametrize(
    ("name", "knobs"),
    [
        ("vigenere", {"mode": "rot13"}),
        ("vigenere", {"key_length": 1}),
        ("vigenere", {"key_length": 7, "crib_extra": 2}),
        ("bit_manipulation", {"width": 2}),
        ("bit_manipulation", {"operations": "and,nand"}),
        ("bit_manipulation", {"constant_format": "octal"}),
        ("calendar_arithmetic", {"min_year": 2010, "max_year": 2000}),
        ("calendar_arithmetic", {"kinds": "weekday,yesterday"}),
        ("calendar_arithmetic", {"min_year": 2001, "max_year": 2001, "max_days": 400}),
        ("magic_square", {"size": 5}),
        ("magic_square", {"min_hidden": 6, "max_hidden": 4}),
        ("kenken", {"size": 9}),
        ("kenken", {"operations": "-/"}),
        ("kenken", {"max_cage": 1}),
    ],
)
def test_invalid_config_values(name: str, knobs: dict) -> None:
    with pytest.raises(PearbenchError, match="invalid option"):
        make_game(name, **knobs)


# -- vigenere -----------------------------------------------------------------------------------------------------
def _reference_shift(text: str, key: str, sign: int) -> str:
    """Letter by letter with ord(), skipping non-letters for the key position."""
    out, i = [], 0
    for ch in text:
        if not ch.isalpha():
            out.append(ch)
            continue
        k = ord(key[i % len(key)]) - 65
        out.append(chr((ord(ch.upper()) - 65 + sign * k) % 26 + 65))
        i += 1
    return "".join(out)


def test_vigenere_word_list_is_clean() -> None:
    words = vigenere.WORDS
    assert len(words) == len(set(words)) >= 200
    assert all(word.isascii() and word.isalpha() and word.islower() and 3 <= len(word) <= 8 for word in words)
    assert sum(len(word) >= 6 for word in words) >= 60


def test_vigenere_decrypt_and_encrypt_match_a_reference() -> None:
    for level in ("easy", "medium"):
        game, batch = instances("vigenere", level, 40)
        for instance in batch:
            p = instance.problem
            if p["mode"] == "decrypt":
                assert _reference_shift(p["ciphertext"], p["key"], -1) == instance.answer
                assert _reference_shift(instance.answer, p["key"], 1) == p["ciphertext"]
            else:
                assert p["mode"] == "encrypt"
                assert _reference_shift(p["plaintext"], p["key"], 1) == instance.answer
            assert set(p["key"]) <= set(vigenere._UPPER) and p["key"] != "A" * len(p["key"])


def test_vigenere_answer_formatting_tolerated_and_mistakes_rejected() -> None:
    game, batch = instances("vigenere", "easy", 10)
    for instance in batch:
        gold = instance.answer
        assert game.check(instance, gold.lower())
        assert game.check(instance, gold.replace(" ", ""))
        assert game.check(instance, " " + gold.replace(" ", ", ") + ".")
        assert game.check(instance, "-".join(gold.split()))
        wrong = gold[:-1] + ("A" if gold[-1] != "A" else "B")
        assert not game.check(instance, wrong)
        assert not game.check(instance, gold + "S")  # an extra letter
        assert not game.check(instance, gold[:-1])  # a missing letter
        assert not game.check(instance, gold + " 1")  # digits are not harmless
        assert not game.check(instance, gold.replace("A", "\u00c0"))  # nor look-alike letters
        assert not game.check(instance, instance.problem["ciphertext"])  # the input is not the answer


def _brute_crib_keys(cipher_letters: str, crib: str, k: int) -> list[str]:
    """Every key of k letters whose decryption contains the crib."""
    found = []
    for key in itertools.product(vigenere._UPPER, repeat=k):
        key = "".join(key)
        if crib in _reference_shift(cipher_letters, key, -1):
            found.append(key)
    return found


def test_vigenere_crib_keys_against_brute_force() -> None:
    rng = random.Random(5)
    several = 0
    for _ in range(40):
        letters = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(8, 16)))
        crib = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(2, 4)))
        if rng.random() < 0.5:  # plant the crib so it does fit somewhere
            start = rng.randrange(len(letters) - len(crib) + 1)
            letters = letters[:start] + crib + letters[start + len(crib) :]
            letters = _reference_shift(
                letters, "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in "ab"), 1
            )
        expected = _brute_crib_keys(letters, crib, 2)
        assert vigenere.crib_keys(letters, crib, 2) == expected
        several += len(expected) > 1
    assert several > 0


def test_vigenere_crib_puzzles_are_unique_by_brute_force() -> None:
    for k, count in ((2, 12), (3, 3)):
        game, batch = instances("vigenere", "hard", count, key_length=k, n_words=4)
        for instance in batch:
            p = instance.problem
            letters = vigenere.letters_only(p["ciphertext"])
            keys = _brute_crib_keys(letters, p["crib"], k)
            assert len(keys) == 1
            assert _reference_shift(letters, keys[0], -1) == vigenere.letters_only(instance.answer)
            assert p["crib"] in vigenere.letters_only(instance.answer)
            assert len(p["crib"]) >= k + game.config.crib_extra


def test_vigenere_crib_acceptance_does_not_depend_on_the_key() -> None:
    """The instance_space argument: whether a crib placement fits is the same under every key."""
    rng = random.Random(2)
    for _ in range(60):
        words = [rng.choice(vigenere.WORDS) for _ in range(4)]
        crib = rng.choice([w for w in words if len(w) >= 4] or ["river"]).upper()
        plain = "".join(words).upper()
        verdicts = set()
        for _ in range(5):
            key = "".join(rng.choice(vigenere._UPPER) for _ in range(3))
            cipher = vigenere.shift_text(plain, key, 1)
            verdicts.add(len(vigenere.crib_keys(cipher, crib, 3)))
        assert len(verdicts) == 1


# -- bit_manipulation ---------------------------------------------------------------------------------------------
def _reference_bits(start: int, ops: list, width: int) -> int:
    """A slow model on a list of bits, most significant first."""
    bits = [(start >> (width - 1 - i)) & 1 for i in range(width)]
    for op in ops:
        name, arg = op[0], op[1] if len(op) > 1 else None
        if name in ("and", "or", "xor"):
            other = [(arg >> (width - 1 - i)) & 1 for i in range(width)]
            table = {"and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b}[name]
            bits = [table(a, b) for a, b in zip(bits, other)]
        elif name == "shl":
            bits = bits[arg:] + [0] * arg
        elif name == "shr":
            bits = [0] * arg + bits[: width - arg]
        elif name == "rotl":
            bits = bits[arg:] + bits[:arg]
        elif name == "rotr":
            bits = bits[width - arg :] + bits[: width - arg]
        elif name == "not":
            bits = [1 - b for b in bits]
        elif name in ("set", "clear", "flip"):
            i = width - 1 - arg
            bits[i] = {"set": 1, "clear": 0, "flip": 1 - bits[i]}[name]
        elif name == "popcount":
            count = sum(bits)
            bits = [(count >> (width - 1 - i)) & 1 for i in range(width)]
        elif name == "reverse":
            bits = bits[::-1]
        else:
            raise AssertionError(name)
    return int("".join(map(str, bits)), 2)


def test_bit_manipulation_matches_a_bit_list_reference() -> None:
    seen_ops = set()
    for level in LEVELS:
        game, batch = instances("bit_manipulation", level, 150)
        for instance in batch:
            p = instance.problem
            assert int(instance.answer) == _reference_bits(p["start"], p["ops"], p["width"])
            seen_ops.update(op[0] for op in p["ops"])
    assert seen_ops == set(bit_manipulation.OPERATIONS)


def test_bit_manipulation_answer_forms() -> None:
    game, batch = instances("bit_manipulation", "medium", 10)
    for instance in batch:
        value = int(instance.answer)
        for good in (str(value), f" {value}. ", hex(value), hex(value).upper().replace("X", "x"), bin(value)):
            assert game.check(instance, good), good
        for bad in (str(value + 1), f"-{value}", f"{value} {value}", "0x", "0b2", f"{value}e0", f"+{value}"):
            assert not game.check(instance, bad), bad
        assert not game.check(instance, "0b" + "0" * 5000 + bin(value)[2:])  # capped before parsing


def test_bit_manipulation_instance_space_is_exact_on_a_tiny_config() -> None:
    game = make_game("bit_manipulation", "easy", width=4, n_ops=1, operations="not,shl")
    assert game.instance_space() == 16 * (1 + 3)
    distinct = {repr(game.generate(seed).problem) for seed in range(5000)}
    assert len(distinct) == game.instance_space()


def test_bit_manipulation_chains_avoid_all_zeros_and_ones() -> None:
    game, batch = instances("bit_manipulation", "easy", 200)
    mask = (1 << 8) - 1
    clean = sum(
        all(0 < v < mask for v in bit_manipulation.run(i.problem["start"], i.problem["ops"], 8)[1:])
        for i in batch
    )
    assert 170 <= clean < 200


# -- calendar_arithmetic ------------------------------------------------------------------------------------------
def test_calendar_walk_and_leap_rule_against_datetime() -> None:
    rng = random.Random(1)
    base = datetime.date(1600, 1, 1)
    for year in range(1590, 2410):
        assert calendar_arithmetic.is_leap(year) == (
            (datetime.date(year, 3, 1) - datetime.date(year, 2, 28)).days == 2
        )
        leap = calendar_arithmetic.leaps_through(year) - calendar_arithmetic.leaps_through(year - 1)
        assert leap == calendar_arithmetic.is_leap(year)
    for _ in range(3000):
        a = base + datetime.timedelta(days=rng.randint(0, 300_000))
        b = a + datetime.timedelta(days=rng.choice([0, rng.randint(0, 40), rng.randint(0, 30_000)]))
        if rng.random() < 0.3:
            b = b.replace(day=1) if b.replace(day=1) >= a else b
        if rng.random() < 0.2:
            a = a.replace(day=1)
        segments = calendar_arithmetic.walk((a.year, a.month, a.day), (b.year, b.month, b.day))
        assert sum(days for _, _, days in segments) == (b - a).days
        assert all(days > 0 for _, _, days in segments) or (b - a).days == 0


def test_calendar_gold_answers_against_datetime() -> None:
    for level in LEVELS:
        game, batch = instances("calendar_arithmetic", level, 60)
        for instance in batch:
            p = instance.problem
            if p["kind"] == "weekday":
                date = datetime.date.fromisoformat(p["date"])
                # ordinal 1 is Monday 0001-01-01
                names = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
                assert instance.answer == names[(date.toordinal() - 1) % 7]
            elif p["kind"] == "between":
                start, end = (datetime.date.fromisoformat(p[k]) for k in ("start", "end"))
                assert int(instance.answer) == (end - start).days > 0
            else:
                date = datetime.date.fromisoformat(p["date"])
                sign = 1 if p["kind"] == "after" else -1
                assert instance.answer == (date + datetime.timedelta(days=sign * p["days"])).isoformat()
            for key in ("date", "start", "end"):
                if key in p:
                    year = int(p[key][:4])
                    assert game.config.min_year <= year <= game.config.max_year


def test_calendar_solver_on_edge_dates() -> None:
    game = make_game("calendar_arithmetic", "hard")
    cases = [
        {"kind": "after", "date": "2000-02-28", "days": 1},
        {"kind": "after", "date": "1900-02-28", "days": 1},
        {"kind": "after", "date": "2023-12-31", "days": 1},
        {"kind": "before", "date": "2024-03-01", "days": 1},
        {"kind": "before", "date": "2024-03-01", "days": 29},
        {"kind": "before", "date": "2100-03-01", "days": 366},
        {"kind": "before", "date": "1700-01-01", "days": 36524},
        {"kind": "after", "date": "1600-01-01", "days": 146097},
        {"kind": "between", "start": "1999-12-31", "end": "2000-01-01"},
        {"kind": "between", "start": "1600-03-01", "end": "2400-02-29"},
        {"kind": "weekday", "date": "2000-01-01"},
        {"kind": "weekday", "date": "1600-01-01"},
        {"kind": "weekday", "date": "2400-12-31"},
        {"kind": "weekday", "date": "1999-12-31"},
    ]
    for problem in cases:
        if problem["kind"] == "weekday":
            gold = calendar_arithmetic.WEEKDAYS[datetime.date.fromisoformat(problem["date"]).weekday()]
        elif problem["kind"] == "between":
            gold = str(
                (
                    datetime.date.fromisoformat(problem["end"])
                    - datetime.date.fromisoformat(problem["start"])
                ).days
            )
        else:
            sign = 1 if problem["kind"] == "after" else -1
            date = datetime.date.fromisoformat(problem["date"]) + datetime.timedelta(
                days=sign * problem["days"]
            )
            gold = date.isoformat()
        instance = Instance("calendar_arithmetic", "hard", 0, problem, gold)
        for style in game.trace_styles:
            assert game.verify(instance, game.solve(instance, style)).correct, problem


def test_calendar_answer_formats() -> None:
    game = make_game("calendar_arithmetic", "medium")
    date = Instance(
        "calendar_arithmetic", "medium", 0, {"kind": "after", "date": "2024-02-27", "days": 7}, "2024-03-05"
    )
    for good in (
        "2024-03-05",
        "2024-3-5",
        "2024/03/05",
        "2024.3.5",
        "March 5, 2024",
        "5 March 2024",
        "mar 5th 2024",
        " 2024-03-05. ",
    ):
        assert game.check(date, good), good
    for bad in (
        "2024-03-06",
        "03/05/2024",
        "5/3/2024",
        "24-03-05",
        "2024-02-34",
        "March 2024",
        "Tuesday",
        "2024-03-05 2024-03-06",
        "2024-03-05 (Tue)",
    ):
        assert not game.check(date, bad), bad
    weekday = Instance(
        "calendar_arithmetic", "medium", 0, {"kind": "weekday", "date": "2024-03-05"}, "Tuesday"
    )
    for good in ("Tuesday", "tue", "TUESDAY.", " tuesday "):
        assert game.check(weekday, good), good
    for bad in ("Wednesday", "Tuesday or Wednesday", "tues", "2", "It is Tuesday"):
        assert not game.check(weekday, bad), bad
    count = Instance(
        "calendar_arithmetic",
        "medium",
        0,
        {"kind": "between", "start": "2021-01-01", "end": "2024-05-18"},
        "1233",
    )
    for good in ("1233", "1,233", "1233 days", "1233."):
        assert game.check(count, good), good
    for bad in ("1234", "12,33", "1,2,3,3", "-1233", "1233 weeks", "1233.0"):
        assert not game.check(count, bad), bad


def test_calendar_instance_space_against_enumeration() -> None:
    weekday = make_game("calendar_arithmetic", "easy", min_year=2001, max_year=2001, kinds="weekday")
    assert weekday.instance_space() == 365
    assert len({weekday.generate(seed).problem["date"] for seed in range(4000)}) == 365
    after = make_game(
        "calendar_arithmetic", "easy", min_year=2001, max_year=2001, max_days=3, kinds="after,between"
    )
    first, last = datetime.date(2001, 1, 1), datetime.date(2001, 12, 31)
    possible = set()
    for offset in range(365):
        date = first + datetime.timedelta(days=offset)
        for days in (1, 2, 3):
            other = date + datetime.timedelta(days=days)
            if other <= last:
                possible.add(("after", date.isoformat(), days))
                possible.add(("between", date.isoformat(), other.isoformat()))
    assert after.instance_space() <= len(possible)
    for seed in range(300):
        p = after.generate(seed).problem
        key = (p["kind"], p.get("date", p.get("start")), p.get("days", p.get("end")))
        assert key in possible


# -- magic_square -------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _all_magic_4() -> frozenset:
    """The 7,040 4 x 4 magic squares, expanded from the bundled classes (their count is checked below)."""
    out = set()
    for rep in magic_square.representatives_4():
        for g in magic_square.position_maps(4):
            square = tuple(rep[g[i]] for i in range(16))
            out.add(square)
            out.add(tuple(17 - v for v in square))
    return frozenset(out)


@functools.lru_cache(maxsize=1)
def _brute_magic_3() -> frozenset:
    return frozenset(p for p in itertools.permutations(range(1, 10)) if magic_square.is_magic(p, 3))


def test_magic_square_bundles_every_square() -> None:
    assert len(magic_square.position_maps(4)) == 32 and len(magic_square.position_maps(3)) == 8
    squares = _all_magic_4()
    assert len(squares) == 7_040  # Frenicle's 880 squares, each in 8 orientations
    assert all(magic_square.is_magic(square, 4) for square in squares)
    assert {
        tuple(magic_square.LO_SHU[g[i]] for i in range(9)) for g in magic_square.position_maps(3)
    } == _brute_magic_3()


def _completions(n: int, grid: list[int]) -> list[tuple]:
    pool = _brute_magic_3() if n == 3 else _all_magic_4()
    return sorted(s for s in pool if all(g == 0 or g == v for g, v in zip(grid, s)))


def test_magic_square_accepts_every_completion_and_only_those() -> None:
    several = 0
    for level, count in (("easy", 40), ("medium", 25), ("hard", 25)):
        game, batch = instances("magic_square", level, count)
        for instance in batch:
            n, grid = game._grid(instance)
            completions = _completions(n, grid)
            assert completions and magic_square.parse_square(instance.answer, n) in [
                list(c) for c in completions
            ]
            several += len(completions) > 1
            for square in completions:
                rows = [square[r * n : (r + 1) * n] for r in range(n)]
                assert game.check(instance, "\n".join(" ".join(map(str, row)) for row in rows))
                assert game.check(instance, str([list(row) for row in rows]))
                assert game.check(instance, " / ".join(",".join(map(str, row)) for row in rows))
            gold = magic_square.parse_square(instance.answer, n)
            swapped = list(gold)
            swapped[0], swapped[1] = swapped[1], swapped[0]
            assert not game.check(instance, " ".join(map(str, swapped)))
            assert not game.check(instance, " ".join(map(str, gold[:-1])))
            assert not game.check(instance, " ".join(map(str, gold + [1])))
            doubled = list(gold)
            doubled[doubled.index(1)] = 2
            assert not game.check(instance, " ".join(map(str, doubled)))
            # a magic square that moves a given number is refused
            pool = _brute_magic_3() if n == 3 else _all_magic_4()
            moved = next(s for s in pool if any(g and g != v for g, v in zip(grid, s)))
            assert not game.check(instance, " ".join(map(str, moved)))
    assert several > 0, "hard puzzles often have several completions"


def test_magic_square_solver_against_brute_force() -> None:
    rng = random.Random(4)
    pool = sorted(_all_magic_4())
    for trial in range(120):
        square = list(rng.choice(pool))
        grid = [0 if rng.random() < 0.6 else v for v in square]
        if trial % 3 == 0:  # often unsolvable: swap two givens
            given = [i for i, v in enumerate(grid) if v]
            if len(given) >= 2:
                a, b = rng.sample(given, 2)
                grid[a], grid[b] = grid[b], grid[a]
        solver = magic_square._Solver(4, grid)
        found = solver.solve()
        expected = _completions(4, grid)
        assert found == bool(expected)
        if found:
            assert tuple(solver.grid) in expected


def test_magic_square_instance_space() -> None:
    game = make_game("magic_square", "easy")
    squares = _brute_magic_3()
    partial = {
        tuple(0 if i in hidden else v for i, v in enumerate(square))
        for square in squares
        for k in range(3, 6)
        for hidden in itertools.combinations(range(9), k)
    }
    assert game.instance_space() == len(partial)
    seen = {tuple(v for row in game.generate(seed).problem["grid"] for v in row) for seed in range(400)}
    assert seen <= partial
    assert make_game("magic_square", "hard").instance_space() == comb(16, 8) + comb(16, 9) + comb(16, 10)


# -- kenken -------------------------------------------------------------------------------------------------------


def _kenken_brute(n: int, cages) -> list:
    return [
        square
        for square in latin_squares(n)
        if all(kenken.cage_holds(op, target, [square[r][c] for r, c in cells]) for op, target, cells in cages)
    ]


def test_kenken_accepts_every_solution_and_solver_matches_brute_force() -> None:
    several = 0
    game, batch = instances("kenken", "easy", 40)
    for instance in batch:
        cages = game._cages(instance)
        solutions = _kenken_brute(4, cages)
        assert solutions
        several += len(solutions) > 1
        grid = kenken._Solver(4, cages).solve()
        assert tuple(tuple(row) for row in grid) in solutions
        for square in solutions:
            assert game.check(instance, "\n".join("".join(map(str, row)) for row in square))
            assert game.check(instance, str([list(row) for row in square]))
        # Latin squares that break a cage are refused
        broken = next(s for s in latin_squares(4) if s not in solutions)
        assert not game.check(instance, "/".join("".join(map(str, row)) for row in broken))
        # a grid meeting every cage but not Latin is refused too
        assert not game.check(instance, "1111/2222/3333/4444")
    assert several > 0


def test_kenken_solver_counts_against_brute_force_on_random_cages() -> None:
    rng = random.Random(9)
    unsolvable = 0
    for _ in range(80):
        n = 4
        square = rng.choice(latin_squares(n))
        cages = []
        for cells in kenken.random_cages(n, 3, rng):
            values = [square[r][c] for r, c in cells]
            op = "=" if len(cells) == 1 else rng.choice("+-*/" if len(cells) == 2 else "+*")
            target = {
                "=": values[0],
                "+": sum(values),
                "*": functools.reduce(lambda a, b: a * b, values),
                "-": max(values) - min(values),
                "/": max(values) // min(values),
            }[op]
            if rng.random() < 0.15:
                target += 1  # sometimes impossible
            cages.append((op, target, cells))
        expected = _kenken_brute(n, cages)
        found = kenken._Solver(n, cages).solve()
        assert (found is not None) == bool(expected)
        if found is not None:
            assert tuple(tuple(row) for row in found) in expected
        unsolvable += not expected
        # each cage's fillings are exactly the brute-force ones
        solver = kenken._Solver(n, cages)
        for (op, target, cells), fillings in zip(cages, solver.fillings):
            brute = [
                values
                for values in itertools.product(range(1, n + 1), repeat=len(cells))
                if kenken.cage_holds(op, target, list(values))
                and all(
                    values[i] != values[j] or (cells[i][0] != cells[j][0] and cells[i][1] != cells[j][1])
                    for i in range(len(cells))
                    for j in range(i)
                )
            ]
            assert fillings == brute
    assert unsolvable > 0


def test_kenken_cages_partition_the_grid() -> None:
    for level in LEVELS:
        game, batch = instances("kenken", level, 20)
        n = game.config.size
        for instance in batch:
            cells = [tuple(cell) for _, _, cage in instance.problem["cages"] for cell in cage]
            assert sorted(cells) == [(r, c) for r in range(1, n + 1) for c in range(1, n + 1)]
            for op, _, cage in instance.problem["cages"]:
                assert 1 <= len(cage) <= game.config.max_cage
                assert (op == "=") == (len(cage) == 1)
                assert op not in "-/" or len(cage) == 2
                # connected
                seen, stack = {tuple(cage[0])}, [tuple(cage[0])]
                members = {tuple(cell) for cell in cage}
                while stack:
                    r, c = stack.pop()
                    for nb in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                        if nb in members and nb not in seen:
                            seen.add(nb)
                            stack.append(nb)
                assert seen == members


def _brute_matchings(n: int) -> int:
    cells = [(r, c) for r in range(n) for c in range(n)]

    def count(free: frozenset) -> int:
        if not free:
            return 1
        cell = min(free)
        rest = free - {cell}
        total = count(rest)
        for nb in ((cell[0] + 1, cell[1]), (cell[0], cell[1] + 1)):
            if nb in rest:
                total += count(rest - {nb})
        return total

    return count(frozenset(cells))


def test_kenken_instance_space_lower_bound() -> None:
    assert [kenken.count_matchings(n) for n in (1, 2, 3, 4)] == [_brute_matchings(n) for n in (1, 2, 3, 4)]
    assert make_game("kenken", "easy").instance_space() == kenken.count_matchings(4) >= 1_000
    # every layout of dominoes and single cells can be drawn: on a 3 x 3 grid with cages of at most 2 cells the
    # generator only ever draws such layouts, and plenty of the 131 of them show up
    game = make_game("kenken", "easy", size=3, max_cage=2)
    layouts = {
        tuple(sorted(tuple(map(tuple, cage)) for _, _, cage in game.generate(seed).problem["cages"]))
        for seed in range(1500)
    }
    assert 60 <= len(layouts) <= kenken.count_matchings(3) == 131
