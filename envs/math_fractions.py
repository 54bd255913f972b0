"""Fractions: add, subtract, multiply or divide two or three fractions and reduce the result.

Answer: the exact value, e.g. ``5/6`` or ``-2``. Equivalent forms are accepted (``10/12``, ``0.8333`` is not: only
exact decimals such as ``0.5`` equal a fraction); the check parses the number (:func:`pearbench.verify.normalize.parse_rational`).
The gold is computed with :class:`fractions.Fraction`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env
from pearbench.verify.normalize import format_rational, parse_rational

_OPS = "+-*/"
_SYMBOLS = {"+": "+", "-": "-", "*": "*", "/": ":"}
_VERBS = {"+": "Add", "-": "Subtract", "*": "Multiply", "/": "Divide"}


@dataclass(frozen=True)
class FractionsConfig:
    n_operands: int = 2
    max_denominator: int = 9
    operators: str = "+-"

    def __post_init__(self) -> None:
        if not 2 <= self.n_operands <= 4:
            raise ValueError("n_operands must be in 2..4")
        if not 2 <= self.max_denominator <= 100:
            raise ValueError("max_denominator must be in 2..100")
        if not self.operators or set(self.operators) - set(_OPS):
            raise ValueError(f"operators must be a non-empty subset of {_OPS!r}")


def _text(numerator: int, denominator: int) -> str:
    return f"{numerator}/{denominator}"


def combine(left: Fraction, op: str, right: Fraction) -> Fraction:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    return left / right


def _step_lines(left: tuple[int, int], op: str, right: tuple[int, int], style: str) -> list[str]:
    """One operation on two fractions as written (not pre-reduced): common denominator or products, then reduction."""
    a, b = left
    c, d = right
    result = combine(Fraction(a, b), op, Fraction(c, d))
    if op in "+-":
        common = math.lcm(b, d)
        top_a, top_c = a * common // b, c * common // d
        raw = (top_a + top_c if op == "+" else top_a - top_c, common)
        if style == "steps":
            line = f"{_text(a, b)} {op} {_text(c, d)} = {_text(top_a, common)} {op} {_text(top_c, common)} = {_text(*raw)}"
        else:
            line = (
                f"The common denominator of {b} and {d} is {common}: {_text(a, b)} is {_text(top_a, common)} and "
                f"{_text(c, d)} is {_text(top_c, common)}. {_VERBS[op]} the numerators: {_text(*raw)}"
            )
    elif op == "*":
        raw = (a * c, b * d)
        if style == "steps":
            line = f"{_text(a, b)} * {_text(c, d)} = {_text(a * c, b * d)}"
        else:
            line = f"Multiply numerators and denominators: {_text(a, b)} * {_text(c, d)} = {_text(*raw)}"
    else:
        raw = (a * d, b * c)
        if style == "steps":
            line = f"{_text(a, b)} : {_text(c, d)} = {_text(a, b)} * {_text(d, c)} = {_text(*raw)}"
        else:
            line = (
                f"Dividing by {_text(c, d)} is multiplying by its reciprocal {_text(d, c)}: "
                f"{_text(a, b)} * {_text(d, c)} = {_text(*raw)}"
            )
    reduced = format_rational(result)
    if reduced != _text(*raw):
        divisor = math.gcd(*raw)
        line += f" = {reduced}" if style == "steps" else f", which reduces (divide by {divisor}) to {reduced}"
    return [line + ("" if style == "steps" else ".")]


@register_env
class MathFractions(Game):
    name = "math_fractions"
    title = "MathFractions"
    family = "math"
    category = "arithmetic"
    answer_kind = "math"
    description = "Add, subtract, multiply or divide fractions (left to right) and reduce the result."
    Config = FractionsConfig
    levels = {
        "easy": {"n_operands": 2, "max_denominator": 9, "operators": "+-"},
        "medium": {"n_operands": 2, "max_denominator": 12, "operators": "+-*/"},
        "hard": {"n_operands": 3, "max_denominator": 15, "operators": "+-*/"},
    }
    trace_styles = ("steps", "words")

    def _random_fraction(self, rng: random.Random) -> tuple[int, int]:
        denominator = rng.randint(2, self.config.max_denominator)
        numerator = denominator
        while numerator % denominator == 0:  # a whole number is no fraction exercise
            numerator = rng.randint(1, 2 * denominator - 1)
        return numerator, denominator

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        while True:
            operands = [self._random_fraction(rng) for _ in range(cfg.n_operands)]
            ops = [rng.choice(cfg.operators) for _ in range(cfg.n_operands - 1)]
            value = Fraction(*operands[0])
            for op, operand in zip(ops, operands[1:]):
                value = combine(value, op, Fraction(*operand))
            return {"operands": [list(o) for o in operands], "operators": ops}, format_rational(value)

    def instance_space(self) -> int:
        cfg = self.config
        fractions = sum(2 * d - 2 for d in range(2, cfg.max_denominator + 1))
        return fractions**cfg.n_operands * len(cfg.operators) ** (cfg.n_operands - 1)

    @staticmethod
    def expression(instance: Instance, spaced: bool = True) -> str:
        operands = [_text(*o) for o in instance.problem["operands"]]
        parts = [operands[0]]
        for op, operand in zip(instance.problem["operators"], operands[1:]):
            parts += [_SYMBOLS[op], operand]
        return (" " if spaced else "").join(parts)

    def prompt(self, instance: Instance) -> str:
        return (
            f"Compute {self.expression(instance)}, working from left to right (':' means divided by). "
            "Show your steps, then give the result as a reduced fraction a/b (or an integer) inside <answer></answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        return f"{self.expression(instance, spaced=False)}=\n"

    def check(self, instance: Instance, answer: str) -> bool:
        value = parse_rational(answer)
        return value is not None and value == Fraction(instance.answer)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        operands = [tuple(o) for o in instance.problem["operands"]]
        left = operands[0]
        lines = []
        for op, operand in zip(instance.problem["operators"], operands[1:]):
            lines += _step_lines(left, op, operand, style)
            value = combine(Fraction(*left), op, Fraction(*operand))
            left = (value.numerator, value.denominator)
        return "\n".join(lines) + f"\n<answer>{instance.answer}</answer>"
