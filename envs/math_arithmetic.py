"""Arithmetic: evaluate an expression of whole numbers with + - * / and parentheses, exactly.

Answer: the exact value, an integer or a fraction (``-7/2``). Equivalent forms are accepted (``14/4``, ``-3.5``,
``\\frac{-7}{2}``); the check parses the number itself (:func:`pearbench.verify.normalize.parse_rational`), never the expression.
The gold is computed with :class:`fractions.Fraction` on the expression tree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env
from pearbench.verify.normalize import format_rational, parse_rational

_OPS = "+-*/"
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_WORDS = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}

#: An expression tree: an int leaf or (op, left, right).
Node = Any


@dataclass(frozen=True)
class ArithmeticConfig:
    n_terms: int = 3
    max_number: int = 20
    operators: str = "+-"

    def __post_init__(self) -> None:
        if not 2 <= self.n_terms <= 8:
            raise ValueError("n_terms must be in 2..8")
        if not 2 <= self.max_number <= 1000:
            raise ValueError("max_number must be in 2..1000")
        if not self.operators or set(self.operators) - set(_OPS):
            raise ValueError(f"operators must be a non-empty subset of {_OPS!r}")


def evaluate_tree(node: Node) -> Fraction:
    """Exact value of an expression tree (Fraction arithmetic); ZeroDivisionError on division by zero."""
    if not isinstance(node, tuple):
        return Fraction(node)
    op, left, right = node
    a, b = evaluate_tree(left), evaluate_tree(right)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b


def _render_value(value: Fraction | int) -> str:
    value = Fraction(value)
    text = format_rational(value)
    return text if value.denominator == 1 and value >= 0 else f"({text})"


def render(node: Node) -> str:
    """Infix text with only the parentheses that precedence and left-to-right evaluation require."""
    if not isinstance(node, tuple):
        return _render_value(node)
    op, left, right = node
    left_text = render(left)
    right_text = render(right)
    if isinstance(left, tuple) and _PRECEDENCE[left[0]] < _PRECEDENCE[op]:
        left_text = f"({left_text})"
    # equal precedence on the right keeps its parentheses too: the text then evaluates exactly as the tree does
    if isinstance(right, tuple) and _PRECEDENCE[right[0]] <= _PRECEDENCE[op]:
        right_text = f"({right_text})"
    return f"{left_text} {op} {right_text}"


def _reduce_once(node: Node) -> tuple[Node, tuple[Fraction, str, Fraction, Fraction] | None]:
    """Evaluate the leftmost operation whose operands are both numbers; return the new tree and that step."""
    if not isinstance(node, tuple):
        return node, None
    op, left, right = node
    if not isinstance(left, tuple) and not isinstance(right, tuple):
        value = evaluate_tree(node)
        return value, (Fraction(left), op, Fraction(right), value)
    new_left, step = _reduce_once(left)
    if step is not None:
        return (op, new_left, right), step
    new_right, step = _reduce_once(right)
    return (op, left, new_right), step


def _random_tree(rng: random.Random, n_terms: int, cfg: ArithmeticConfig) -> Node:
    if n_terms == 1:
        return rng.randint(1, cfg.max_number)
    left_terms = rng.randint(1, n_terms - 1)
    op = rng.choice(cfg.operators)
    return (op, _random_tree(rng, left_terms, cfg), _random_tree(rng, n_terms - left_terms, cfg))


def _to_json(node: Node) -> Any:
    if isinstance(node, tuple):
        return [node[0], _to_json(node[1]), _to_json(node[2])]
    return node


def _from_json(data: Any) -> Node:
    if isinstance(data, list):
        return (data[0], _from_json(data[1]), _from_json(data[2]))
    return int(data)


@register_env
class MathArithmetic(Game):
    name = "math_arithmetic"
    title = "MathArithmetic"
    family = "math"
    category = "arithmetic"
    answer_kind = "math"
    description = "Evaluate an arithmetic expression exactly (integers, + - * /, parentheses)."
    Config = ArithmeticConfig
    levels = {
        "easy": {"n_terms": 3, "max_number": 20, "operators": "+-"},
        "medium": {"n_terms": 4, "max_number": 30, "operators": "+-*"},
        "hard": {"n_terms": 5, "max_number": 50, "operators": "+-*/"},
    }
    trace_styles = ("steps", "words")

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        while True:
            tree = _random_tree(rng, cfg.n_terms, cfg)
            try:
                value = evaluate_tree(tree)
                _trace_steps(tree)  # every intermediate division must be defined too
            except ZeroDivisionError:
                continue
            if abs(value.numerator) <= 10**9 and value.denominator <= 10**6:
                return {"expression": render(tree), "tree": _to_json(tree)}, format_rational(value)

    def instance_space(self) -> int:
        # a lower bound: the distinct tuples of leaf numbers alone
        return self.config.max_number**self.config.n_terms

    def prompt(self, instance: Instance) -> str:
        return (
            f"Compute the exact value of {instance.problem['expression']}. "
            "Work step by step, then give the answer (an integer or a reduced fraction a/b) inside <answer></answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        return f"{instance.problem['expression'].replace(' ', '')}=\n"

    def check(self, instance: Instance, answer: str) -> bool:
        value = parse_rational(answer)
        return value is not None and value == Fraction(instance.answer)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        tree = _from_json(instance.problem["tree"])
        steps = _trace_steps(tree)
        if style == "steps":
            lines = [render(tree)]
            lines += [
                f"= {render(after) if isinstance(after, tuple) else format_rational(after)}"
                for _, _, after in steps
            ]
        else:
            lines = []
            for _, (a, op, b, value), after in steps:
                line = f"{format_rational(a)} {_WORDS[op]} {format_rational(b)} is {format_rational(value)}"
                lines.append(line + (f", so we have {render(after)}." if isinstance(after, tuple) else "."))
        return "\n".join(lines) + f"\n<answer>{instance.answer}</answer>"


def _trace_steps(tree: Node) -> list[tuple[Node, tuple[Fraction, str, Fraction, Fraction], Node]]:
    steps = []
    node = tree
    while isinstance(node, tuple):
        new_node, step = _reduce_once(node)
        assert step is not None
        steps.append((node, step, new_node))
        node = new_node
    return steps
