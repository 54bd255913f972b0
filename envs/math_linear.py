"""Linear equations: solve a x + b = c, a x + b = c x + d, or a 2x2 linear system, exactly.

Answer: ``x = 7/2`` or just ``7/2`` for one unknown; ``(x, y)`` such as ``(2, -1/3)`` or ``x = 2, y = -1/3`` for a
system. Any exact form of the numbers is accepted (``3.5``, ``\\frac{7}{2}``). Gold solutions come from Cramer's rule
in :class:`fractions.Fraction` arithmetic (the tests check them against ``sympy.solve``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env
from pearbench.verify.normalize import format_rational, parse_rational

_KINDS = ("one_side", "two_sides", "system")
_MAX_ANSWER_CHARS = 200


@dataclass(frozen=True)
class LinearConfig:
    kind: str = "one_side"
    max_coefficient: int = 9
    integer_solution: bool = True

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(_KINDS)}")
        if not 2 <= self.max_coefficient <= 100:
            raise ValueError("max_coefficient must be in 2..100")


def _term(coefficient: int, variable: str, first: bool) -> str:
    """One signed term of a linear expression: ``3x``, ``- x``, ``+ 5``."""
    magnitude = abs(coefficient)
    body = (variable if magnitude == 1 else f"{magnitude}{variable}") if variable else str(magnitude)
    if first:
        return f"-{body}" if coefficient < 0 else body
    return f"- {body}" if coefficient < 0 else f"+ {body}"


def linear_text(terms: list[tuple[int, str]]) -> str:
    """Render sum(coefficient * variable) with zero terms dropped (``0`` when all are zero)."""
    parts = []
    for coefficient, variable in terms:
        if coefficient != 0:
            parts.append(_term(coefficient, variable, first=not parts))
    return " ".join(parts) if parts else "0"


def solve_2x2(a: int, b: int, c: int, d: int, e: int, f: int) -> tuple[Fraction, Fraction]:
    """Cramer's rule for a x + b y = c, d x + e y = f: x = (c e - b f) / D, y = (a f - c d) / D, D = a e - b d."""
    determinant = a * e - b * d
    if determinant == 0:
        raise ZeroDivisionError("singular system")
    return Fraction(c * e - b * f, determinant), Fraction(a * f - c * d, determinant)


def _move_x(coefficient: int) -> str:
    amount = "x" if abs(coefficient) == 1 else f"{abs(coefficient)}x"
    return f"Subtract {amount} from" if coefficient > 0 else f"Add {amount} to"


def _factor(value: int) -> str:
    return f"({value})" if value < 0 else str(value)


def _quotient(numerator: int, denominator: int) -> str:
    """``n/d = reduced`` with the sign moved to the numerator, skipping a no-op reduction."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    text = f"{numerator}/{denominator}"
    reduced = format_rational(Fraction(numerator, denominator))
    return text if reduced == text else f"{text} = {reduced}"


def _nonzero(rng: random.Random, bound: int) -> int:
    value = 0
    while value == 0:
        value = rng.randint(-bound, bound)
    return value


_PAIR_ASSIGNMENTS = re.compile(r"\s*x\s*=\s*(.+?)\s*(?:,|;|\band\b)\s*y\s*=\s*(.+?)\s*")


def parse_pair(text: str) -> tuple[Fraction, Fraction] | None:
    """``(x, y)``, ``x, y`` or ``x = .., y = ..`` (also ``and`` / ``;``) as two exact numbers; None otherwise."""
    value = text.strip().strip("$").strip().rstrip(".")
    value = value.replace("\\left", "").replace("\\right", "")
    match = _PAIR_ASSIGNMENTS.fullmatch(value)
    if match:
        parts = [match.group(1), match.group(2)]
    else:
        if value.startswith("(") and value.endswith(")"):
            value = value[1:-1]
        parts = value.split(",")
        if len(parts) != 2:
            return None
    numbers = [parse_rational(part, allow_assignment=False) for part in parts]
    if numbers[0] is None or numbers[1] is None:
        return None
    return numbers[0], numbers[1]


@register_env
class MathLinear(Game):
    name = "math_linear"
    title = "MathLinear"
    family = "math"
    category = "arithmetic"
    answer_kind = "math"
    description = "Solve a linear equation in x, or a 2x2 linear system in x and y, exactly."
    Config = LinearConfig
    levels = {
        "easy": {"kind": "one_side", "max_coefficient": 9, "integer_solution": True},
        "medium": {"kind": "two_sides", "max_coefficient": 12, "integer_solution": False},
        "hard": {"kind": "system", "max_coefficient": 9, "integer_solution": False},
    }
    trace_styles = ("steps", "words")

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        bound = cfg.max_coefficient
        while True:
            if cfg.kind == "system":
                a, b, d, e = (_nonzero(rng, bound) for _ in range(4))
                if cfg.integer_solution:
                    x, y = rng.randint(-bound, bound), rng.randint(-bound, bound)
                    c, f = a * x + b * y, d * x + e * y
                else:
                    c, f = rng.randint(-3 * bound, 3 * bound), rng.randint(-3 * bound, 3 * bound)
                try:
                    x_value, y_value = solve_2x2(a, b, c, d, e, f)
                except ZeroDivisionError:
                    continue
                problem = {"kind": "system", "coefficients": [a, b, c, d, e, f]}
                return problem, f"({format_rational(x_value)}, {format_rational(y_value)})"
            a = _nonzero(rng, bound)
            c_x = _nonzero(rng, bound) if cfg.kind == "two_sides" else 0
            if a == c_x:
                continue
            b = rng.randint(-3 * bound, 3 * bound)
            if cfg.integer_solution:
                x = rng.randint(-bound, bound)
                d = (a - c_x) * x + b
            else:
                d = rng.randint(-3 * bound, 3 * bound)
            solution = Fraction(d - b, a - c_x)
            return {"kind": cfg.kind, "coefficients": [a, b, c_x, d]}, format_rational(solution)

    def instance_space(self) -> int:
        bound = self.config.max_coefficient
        if self.config.kind == "system":
            return (2 * bound) ** 4  # a lower bound: the left-hand sides alone
        return (2 * bound) * (6 * bound + 1)

    @staticmethod
    def equations(instance: Instance) -> list[str]:
        coefficients = instance.problem["coefficients"]
        if instance.problem["kind"] == "system":
            a, b, c, d, e, f = coefficients
            return [
                f"{linear_text([(a, 'x'), (b, 'y')])} = {c}",
                f"{linear_text([(d, 'x'), (e, 'y')])} = {f}",
            ]
        a, b, c_x, d = coefficients
        right = linear_text([(c_x, "x"), (d, "")]) if c_x else str(d)
        return [f"{linear_text([(a, 'x'), (b, '')])} = {right}"]

    def prompt(self, instance: Instance) -> str:
        equations = self.equations(instance)
        if instance.problem["kind"] == "system":
            return (
                f"Solve the system of equations {equations[0]} and {equations[1]}. Work step by step, then give "
                "the solution as an ordered pair (x, y) of exact numbers inside <answer></answer>."
            )
        return (
            f"Solve for x: {equations[0]}. Work step by step, then give the exact value of x "
            "(an integer or a reduced fraction a/b) inside <answer></answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        return " ; ".join(e.replace(" ", "") for e in self.equations(instance)) + "\n"

    def check(self, instance: Instance, answer: str) -> bool:
        if len(answer) > _MAX_ANSWER_CHARS:
            return False
        if instance.problem["kind"] == "system":
            gold = parse_pair(instance.answer)
            return gold is not None and parse_pair(answer) == gold
        value = parse_rational(answer)
        return value is not None and value == Fraction(instance.answer)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        if instance.problem["kind"] == "system":
            lines = self._solve_system(instance, style)
        else:
            lines = self._solve_single(instance, style)
        return "\n".join(lines) + f"\n<answer>{instance.answer}</answer>"

    def _solve_single(self, instance: Instance, style: str) -> list[str]:
        a, b, c_x, d = instance.problem["coefficients"]
        [equation] = self.equations(instance)
        lines = [equation]
        coefficient = a - c_x
        constant = d - b
        if c_x:
            lines.append(
                f"{linear_text([(coefficient, 'x'), (b, '')])} = {d}"
                if style == "steps"
                else f"{_move_x(c_x)} both sides: {linear_text([(coefficient, 'x'), (b, '')])} = {d}."
            )
        if b:
            lines.append(
                f"{linear_text([(coefficient, 'x')])} = {constant}"
                if style == "steps"
                else f"{f'Subtract {b} from' if b > 0 else f'Add {-b} to'} both sides: {linear_text([(coefficient, 'x')])} = {constant}."
            )
        solution = Fraction(constant, coefficient)
        if coefficient != 1:
            lines.append(
                f"x = {_quotient(constant, coefficient)}"
                if style == "steps"
                else f"Divide both sides by {coefficient}: x = {format_rational(solution)}."
            )
        return lines

    def _solve_system(self, instance: Instance, style: str) -> list[str]:
        a, b, c, d, e, f = instance.problem["coefficients"]
        first, second = self.equations(instance)
        x_value, y_value = solve_2x2(a, b, c, d, e, f)
        # eliminate y: e * (first) - b * (second)
        x_coefficient, x_constant = a * e - b * d, c * e - b * f
        if style == "steps":
            return [
                f"(1) {first}",
                f"(2) {second}",
                f"{_factor(e)}*(1) - {_factor(b)}*(2): {linear_text([(x_coefficient, 'x')])} = {x_constant}",
                f"x = {_quotient(x_constant, x_coefficient)}",
                f"(1): {linear_text([(b, 'y')])} = {c} - {a}*({format_rational(x_value)}) = {format_rational(c - a * x_value)}",
                f"y = {format_rational(y_value)}",
            ]
        return [
            f"The equations are {first} and {second}.",
            f"Multiply the first by {e} and the second by {b} and subtract to eliminate y: "
            f"{linear_text([(x_coefficient, 'x')])} = {x_constant}.",
            f"So x = {format_rational(x_value)}.",
            f"Put x into the first equation: {linear_text([(b, 'y')])} = {format_rational(c - a * x_value)}"
            + (f", so y = {format_rational(y_value)}." if b != 1 else "."),
        ]
