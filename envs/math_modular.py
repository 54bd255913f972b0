"""Modular arithmetic: a sum or product modulo m, a power modulo m, or a linear congruence a x = b (mod m).

Answer: the least non-negative residue, an integer in ``0 .. m-1`` (for a congruence: the least non-negative
solution x; ``m`` is chosen coprime to ``a`` so it is unique). Other integers congruent to it are rejected: the
question asks for the residue. Gold answers use Python's exact integers (``pow(a, b, m)``, ``pow(a, -1, m)``); the
tests cross-check them with sympy.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env
from pearbench.verify.normalize import parse_rational

_KINDS = ("sum", "product", "power", "congruence")


@dataclass(frozen=True)
class ModularConfig:
    kinds: str = "sum,product"
    max_modulus: int = 13
    max_operand: int = 100
    max_exponent: int = 20

    def __post_init__(self) -> None:
        kinds = self.kinds.split(",")
        if not kinds or set(kinds) - set(_KINDS):
            raise ValueError(f"kinds must be a comma-separated subset of {', '.join(_KINDS)}")
        if not 3 <= self.max_modulus <= 10_000:
            raise ValueError("max_modulus must be in 3..10000")
        if not 2 <= self.max_operand <= 10**6:
            raise ValueError("max_operand must be in 2..1000000")
        if not 2 <= self.max_exponent <= 10**6:
            raise ValueError("max_exponent must be in 2..1000000")


def extended_gcd(a: int, b: int) -> tuple[int, int, int, list[tuple[int, int, int, int]]]:
    """(g, s, t, rows) with s*a + t*b = g = gcd(a, b); rows are the Euclid steps (a, b, quotient, remainder)."""
    rows = []
    old_r, r = a, b
    old_s, s = 1, 0
    old_t, t = 0, 1
    while r != 0:
        quotient = old_r // r
        rows.append((old_r, r, quotient, old_r - quotient * r))
        old_r, r = r, old_r - quotient * r
        old_s, s = s, old_s - quotient * s
        old_t, t = t, old_t - quotient * t
    return old_r, old_s, old_t, rows


@register_env
class MathModular(Game):
    name = "math_modular"
    title = "MathModular"
    family = "math"
    category = "arithmetic"
    answer_kind = "math"
    description = "Residues modulo m: sums, products, powers (square and multiply), linear congruences."
    Config = ModularConfig
    levels = {
        "easy": {"kinds": "sum,product", "max_modulus": 13, "max_operand": 100},
        "medium": {"kinds": "product,power", "max_modulus": 50, "max_operand": 1000, "max_exponent": 64},
        "hard": {
            "kinds": "power,congruence",
            "max_modulus": 200,
            "max_operand": 10_000,
            "max_exponent": 1000,
        },
    }
    trace_styles = ("steps", "words")

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        kind = rng.choice(cfg.kinds.split(","))
        modulus = rng.randint(3, cfg.max_modulus)
        if kind in ("sum", "product"):
            a, b = rng.randint(2, cfg.max_operand), rng.randint(2, cfg.max_operand)
            answer = (a + b) % modulus if kind == "sum" else (a * b) % modulus
            return {"kind": kind, "a": a, "b": b, "m": modulus}, str(answer)
        if kind == "power":
            base, exponent = rng.randint(2, cfg.max_operand), rng.randint(2, cfg.max_exponent)
            return {"kind": kind, "a": base, "b": exponent, "m": modulus}, str(pow(base, exponent, modulus))
        while True:
            a = rng.randint(2, cfg.max_operand)
            if math.gcd(a, modulus) == 1 and a % modulus != 1:
                break
            modulus = rng.randint(3, cfg.max_modulus)
        b = rng.randint(0, modulus - 1)
        answer = (pow(a, -1, modulus) * b) % modulus
        return {"kind": kind, "a": a, "b": b, "m": modulus}, str(answer)

    def instance_space(self) -> int:
        cfg = self.config
        per_kind = []
        for kind in cfg.kinds.split(","):
            second = cfg.max_exponent - 1 if kind == "power" else cfg.max_operand - 1
            if kind == "congruence":
                second = 1
            per_kind.append((cfg.max_operand - 1) * second * (cfg.max_modulus - 2))
        return sum(per_kind)

    @staticmethod
    def statement(instance: Instance) -> str:
        p = instance.problem
        if p["kind"] == "sum":
            return f"({p['a']} + {p['b']}) mod {p['m']}"
        if p["kind"] == "product":
            return f"({p['a']} * {p['b']}) mod {p['m']}"
        if p["kind"] == "power":
            return f"{p['a']}^{p['b']} mod {p['m']}"
        return f"{p['a']}x = {p['b']} (mod {p['m']})"

    def prompt(self, instance: Instance) -> str:
        p = instance.problem
        if p["kind"] == "congruence":
            return (
                f"Solve the congruence {p['a']}x = {p['b']} (mod {p['m']}). Work step by step, then give the least "
                f"non-negative solution x (an integer from 0 to {p['m'] - 1}) inside <answer></answer>."
            )
        return (
            f"Compute {self.statement(instance)}. Work step by step, then give the least non-negative residue "
            f"(an integer from 0 to {p['m'] - 1}) inside <answer></answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        return self.statement(instance).replace(" ", "") + "\n"

    def check(self, instance: Instance, answer: str) -> bool:
        value = parse_rational(answer)
        if value is None or value.denominator != 1:
            return False
        return 0 <= value < instance.problem["m"] and int(value) == int(instance.answer)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        p = instance.problem
        a, b, m = p["a"], p["b"], p["m"]
        words = style == "words"
        lines: list[str] = []
        if p["kind"] in ("sum", "product"):
            ra, rb = a % m, b % m
            symbol = "+" if p["kind"] == "sum" else "*"
            combined = ra + rb if p["kind"] == "sum" else ra * rb
            if words:
                lines.append(f"{a} leaves remainder {ra} and {b} leaves remainder {rb} when divided by {m}.")
                lines.append(
                    f"{ra} {symbol} {rb} = {combined}, and {combined} leaves remainder {combined % m}."
                )
            else:
                lines.append(f"{a} mod {m} = {ra}, {b} mod {m} = {rb}")
                lines.append(f"{ra} {symbol} {rb} = {combined} = {combined // m}*{m} + {combined % m}")
        elif p["kind"] == "power":
            lines += _square_and_multiply(a, b, m, words)
        else:
            lines += _congruence(a, b, m, words)
        return "\n".join(lines) + f"\n<answer>{instance.answer}</answer>"


def _square_and_multiply(base: int, exponent: int, modulus: int, words: bool) -> list[str]:
    """Right-to-left binary exponentiation, one line per bit."""
    bits = bin(exponent)[2:]
    lines = [
        f"{exponent} in binary is {bits}." if words else f"{exponent} = {bits} (binary)",
    ]
    result, square = 1, base % modulus
    lines.append(
        f"Reduce the base: {base} mod {modulus} = {square}."
        if words
        else f"b = {base} mod {modulus} = {square}"
    )
    for position, bit in enumerate(reversed(bits)):
        if bit == "1":
            new_result = result * square % modulus
            lines.append(
                f"Bit {position} is 1: multiply the result {result} by {square} to get {new_result}."
                if words
                else f"bit {position}=1: r = {result}*{square} mod {modulus} = {new_result}"
            )
            result = new_result
        if position < len(bits) - 1:
            new_square = square * square % modulus
            lines.append(
                f"Square {square} to get {new_square}."
                if words
                else f"b = {square}^2 mod {modulus} = {new_square}"
            )
            square = new_square
    return lines


def _congruence(a: int, b: int, modulus: int, words: bool) -> list[str]:
    """Inverse of a modulo m by the extended Euclidean algorithm, then x = inverse * b mod m."""
    reduced = a % modulus
    _, s, _, rows = extended_gcd(reduced, modulus)
    inverse = s % modulus
    lines = []
    if reduced != a:
        lines.append(f"{a} mod {modulus} = {reduced}." if words else f"{a} = {reduced} (mod {modulus})")
    for left, right, quotient, remainder in rows:
        lines.append(
            f"{left} = {quotient}*{right} + {remainder}."
            if words
            else f"{left} = {quotient}*{right} + {remainder}"
        )
    lines.append(
        f"Back-substituting gives the inverse of {reduced} modulo {modulus}: {inverse}, "
        f"since {reduced}*{inverse} = {reduced * inverse} = 1 (mod {modulus})."
        if words
        else f"inverse: {reduced}*{inverse} = {reduced * inverse} = 1 (mod {modulus})"
    )
    x = inverse * b % modulus
    lines.append(
        f"Multiply both sides by {inverse}: x = {inverse}*{b} = {inverse * b}, which is {x} modulo {modulus}."
        if words
        else f"x = {inverse}*{b} mod {modulus} = {x}"
    )
    return lines
