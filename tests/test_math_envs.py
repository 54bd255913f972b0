"""Offline math environments: traces verify, mutations are rejected, equivalent forms accepted, gold answers match
sympy / brute force, determinism across processes, Gymnasium check_env."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from fractions import Fraction

import gymnasium
import pytest
import sympy
from gymnasium.utils.env_checker import check_env

import pearbench  # noqa: F401 - registers the environments
from pearbench.envs.base import Instance
from pearbench.registry import get_game_class, make_game
from pearbench.verify import normalize as normalize_module
from pearbench.verify import pool as verify_module
from pearbench.verify.normalize import format_rational

ENVS = ("math_arithmetic", "math_linear", "math_fractions", "math_modular", "math_counting")
LEVELS = ("easy", "medium", "hard")
SEEDS = range(25)


def instances(env: str, level: str, seeds=SEEDS) -> list[tuple[object, Instance]]:
    game = make_game(env, level)
    return [(game, game.generate(seed)) for seed in seeds]


@pytest.mark.parametrize("env", ENVS)
def test_registered_as_math_games(env: str) -> None:
    cls = get_game_class(env)
    assert cls.family == "math" and cls.answer_kind == "math"
    assert set(cls.levels) == set(LEVELS)
    assert len(cls.trace_styles) >= 2
    assert cls.gym_id() in gymnasium.registry


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("level", LEVELS)
def test_traces_verify_in_both_styles_and_differ(env: str, level: str) -> None:
    for game, instance in instances(env, level):
        traces = [game.solve(instance, style) for style in game.trace_styles]
        for trace in traces:
            verdict = game.verify(instance, trace)
            assert verdict.correct and verdict.error is None, (instance.problem, trace)
            assert trace.rstrip().endswith(f"<answer>{instance.answer}</answer>")
            assert trace.count("\n") >= 1, "a step-by-step trace has at least one step before the answer"
        assert traces[0] != traces[1]
        assert game.check(instance, instance.answer)


def _mutations(instance: Instance) -> list[str]:
    """Wrong answers near the gold."""
    if instance.env == "math_linear" and instance.problem["kind"] == "system":
        x, y = (Fraction(v.strip()) for v in instance.answer.strip("()").split(","))
        wrong = [(x + 1, y), (x, y - 1), (-x, y) if x else (x + 2, y)]
        if x != y:
            wrong.append((y, x))
        return [f"({format_rational(a)}, {format_rational(b)})" for a, b in wrong] + [format_rational(x)]
    gold = Fraction(instance.answer)
    wrong = [gold + 1, gold - 1, gold * 2 if gold else Fraction(7), -gold if gold else Fraction(1, 2)]
    if gold.denominator > 1:
        wrong.append(Fraction(gold.numerator + 1, gold.denominator))
        wrong.append(Fraction(gold.denominator, gold.numerator))
    texts = [format_rational(w) for w in wrong if w != gold]
    if instance.env == "math_modular":
        texts.append(str(int(gold) + instance.problem["m"]))  # congruent, but not the least residue
    return texts + ["", "x", "1/0", instance.answer + "1"]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("level", LEVELS)
def test_mutated_answers_are_rejected(env: str, level: str) -> None:
    for game, instance in instances(env, level):
        for wrong in _mutations(instance):
            assert not game.check(instance, wrong), (instance.problem, instance.answer, wrong)
            assert not game.verify(instance, f"<answer>{wrong}</answer>").correct


def _equivalents(instance: Instance) -> list[str]:
    if instance.env == "math_linear" and instance.problem["kind"] == "system":
        x, y = (Fraction(v.strip()) for v in instance.answer.strip("()").split(","))
        return [
            f"x = {format_rational(x)}, y = {format_rational(y)}",
            f"{format_rational(x)}, {format_rational(y)}",
            f"\\left( {x.numerator * 2}/{x.denominator * 2}, {format_rational(y)} \\right)",
        ]
    gold = Fraction(instance.answer)
    forms = [
        f"{gold.numerator * 3}/{gold.denominator * 3}",
        f"$\\frac{{{gold.numerator}}}{{{gold.denominator}}}$",
    ]
    if gold.denominator == 1:
        forms.append(f"{gold.numerator}.0")
    if 10**6 % gold.denominator == 0:
        scaled = abs(gold.numerator) * (10**6 // gold.denominator)
        sign = "-" if gold < 0 else ""
        forms.append(f"{sign}{scaled // 10**6}.{scaled % 10**6:06d}")  # exact decimal, e.g. 3.500000
    if instance.env == "math_linear":
        forms.append(f"x = {instance.answer}")
    if instance.env == "math_modular":
        forms = [f"{gold.numerator}", f"**{gold.numerator}**"]
    return forms


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("level", LEVELS)
def test_equivalent_exact_forms_are_accepted(env: str, level: str) -> None:
    for game, instance in instances(env, level):
        for form in _equivalents(instance):
            assert game.check(instance, form), (instance.answer, form)


def test_inexact_decimal_is_rejected() -> None:
    game = make_game("math_fractions", "easy")
    instance = Instance(
        "math_fractions", "easy", 0, {"operands": [[1, 3], [0, 1]], "operators": ["+"]}, "1/3"
    )
    assert game.check(instance, "2/6") and game.check(instance, "\\frac{1}{3}")
    assert not game.check(instance, "0.333") and not game.check(instance, "0.3333333333")


# -- gold answers against independent references -------------------------------------------------------------------


def test_arithmetic_gold_matches_sympy() -> None:
    for level in LEVELS:
        for _, instance in instances("math_arithmetic", level, range(60)):
            # the expression is pearbench's own generated text, never model output
            value = sympy.parse_expr(instance.problem["expression"], evaluate=True)
            assert sympy.Rational(value) == sympy.Rational(instance.answer), instance.problem["expression"]


def test_linear_gold_matches_sympy_solve() -> None:
    x, y = sympy.symbols("x y")
    for level in LEVELS:
        for _, instance in instances("math_linear", level, range(60)):
            coefficients = instance.problem["coefficients"]
            if instance.problem["kind"] == "system":
                a, b, c, d, e, f = coefficients
                solution = sympy.solve([a * x + b * y - c, d * x + e * y - f], [x, y], dict=True)
                gold = tuple(sympy.Rational(v.strip()) for v in instance.answer.strip("()").split(","))
                assert len(solution) == 1 and (solution[0][x], solution[0][y]) == gold
            else:
                a, b, c_x, d = coefficients
                assert sympy.solve(a * x + b - (c_x * x + d), x) == [sympy.Rational(instance.answer)]


def test_fractions_gold_matches_sympy() -> None:
    ops = {"+": lambda u, v: u + v, "-": lambda u, v: u - v, "*": lambda u, v: u * v, "/": lambda u, v: u / v}
    for level in LEVELS:
        for _, instance in instances("math_fractions", level, range(60)):
            operands = [sympy.Rational(n, d) for n, d in instance.problem["operands"]]
            value = operands[0]
            for op, operand in zip(instance.problem["operators"], operands[1:]):
                value = ops[op](value, operand)
            assert value == sympy.Rational(instance.answer)


def test_modular_gold_matches_brute_force() -> None:
    for level in LEVELS:
        for _, instance in instances("math_modular", level, range(60)):
            p = instance.problem
            a, b, m = p["a"], p["b"], p["m"]
            if p["kind"] == "sum":
                expected = [(a + b) % m]
            elif p["kind"] == "product":
                expected = [(a * b) % m]
            elif p["kind"] == "power":
                expected = [int(sympy.Integer(a) ** b % m)]
            else:
                expected = [x for x in range(m) if (a * x - b) % m == 0]
            assert expected == [int(instance.answer)], p


def test_counting_gold_matches_sympy_and_enumeration() -> None:
    for level in LEVELS:
        for _, instance in instances("math_counting", level, range(60)):
            p = instance.problem
            if p["kind"] == "choose":
                reference = sympy.binomial(p["n"], p["k"])
                if p["n"] <= 10:
                    assert len(list(itertools.combinations(range(p["n"]), p["k"]))) == reference
            elif p["kind"] == "arrange":
                reference = sympy.factorial(p["n"]) / sympy.factorial(p["n"] - p["k"])
                if p["n"] <= 8:
                    assert len(list(itertools.permutations(range(p["n"]), p["k"]))) == reference
            elif p["kind"] == "word":
                reference = sympy.factorial(len(p["word"]))
                for letter in set(p["word"]):
                    reference /= sympy.factorial(p["word"].count(letter))
                if len(p["word"]) <= 7:
                    assert len(set(itertools.permutations(p["word"]))) == reference
            else:
                reference = sympy.binomial(p["men"], p["pick_men"]) * sympy.binomial(
                    p["women"], p["pick_women"]
                )
            assert reference == int(instance.answer), p


def test_counting_easy_instance_space_is_exact() -> None:
    game = make_game("math_counting", "easy")
    distinct = {json.dumps(game.generate(seed).problem, sort_keys=True) for seed in range(3000)}
    assert len(distinct) == game.instance_space() == 54


@pytest.mark.parametrize("env", ENVS)
def test_levels_offer_enough_distinct_instances(env: str) -> None:
    for level in ("medium", "hard"):
        game = make_game(env, level)
        assert game.instance_space() >= 1000
        distinct = {game.generate(seed).content_hash for seed in range(200)}
        assert len(distinct) >= 120, (level, len(distinct))


# -- determinism, speed contract, Gymnasium -----------------------------------------------------------------------


def test_same_seed_same_instance_in_another_process() -> None:
    script = (
        "import json, pearbench\n"
        "from pearbench.registry import make_game\n"
        f"envs = {list(ENVS)!r}\n"
        "out = {f'{e}/{l}/{s}': make_game(e, l).generate(s).to_dict() for e in envs "
        "for l in ('easy', 'medium', 'hard') for s in range(5)}\n"
        "print(json.dumps(out, sort_keys=True))\n"
    )
    other = json.loads(
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": "123"},
        ).stdout
    )
    here = {
        f"{e}/{lv}/{s}": make_game(e, lv).generate(s).to_dict()
        for e in ENVS
        for lv in LEVELS
        for s in range(5)
    }
    assert json.loads(json.dumps(here, sort_keys=True)) == other


def test_checks_never_touch_math_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    """RL rewards must stay cheap: no math-verify parse, no worker pool."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("an environment check called math-verify")

    monkeypatch.setattr(normalize_module, "_mv_parse", forbidden)
    monkeypatch.setattr(verify_module.MathVerifier, "verify_batch", forbidden)
    for env in ENVS:
        for game, instance in instances(env, "hard", range(5)):
            assert game.verify(instance, game.solve(instance)).correct
            assert not game.verify(instance, "The answer is **12345**.").correct


@pytest.mark.parametrize("env", ENVS)
def test_gymnasium_check_env_and_episode(env: str) -> None:
    cls = get_game_class(env)
    for level in LEVELS:
        gym_env = gymnasium.make(cls.gym_id(), difficulty=level)
        check_env(gym_env.unwrapped, skip_render_check=True)
        prompt, info = gym_env.reset(seed=3)
        assert isinstance(prompt, str) and prompt.isascii()
        instance = gym_env.unwrapped.instance
        _, reward, terminated, truncated, info = gym_env.step(gym_env.unwrapped.game.solve(instance))
        assert reward == 1.0 and terminated and not truncated and info["correct"]
        _, reward, *_ = gym_env.step("<answer>not a number</answer>")
        assert reward == 0.0


def test_bad_knobs_are_user_errors() -> None:
    from pearbench.errors import PearbenchError

    with pytest.raises(PearbenchError, match="invalid option for environment math_modular"):
        make_game("math_modular", kinds="sum,cube")
    with pytest.raises(PearbenchError, match="unknown option 'digits'"):
        make_game("math_arithmetic", digits=3)
    assert math.isfinite(make_game("math_linear", "easy").instance_space())
