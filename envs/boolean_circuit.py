"""Boolean circuits: evaluate a small circuit of logic gates over named inputs with given values.

Gates are listed in topological order (each reads inputs or earlier gates); the outputs are the last gates. The answer
is the output values, unique by evaluation.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

OPS = ("AND", "OR", "XOR", "NAND", "NOR", "XNOR", "NOT")
_TABLE = {
    "AND": lambda x, y: x & y,
    "OR": lambda x, y: x | y,
    "XOR": lambda x, y: x ^ y,
    "NAND": lambda x, y: 1 - (x & y),
    "NOR": lambda x, y: 1 - (x | y),
    "XNOR": lambda x, y: 1 - (x ^ y),
}
_MEANING = {
    "AND": "AND is 1 only when both inputs are 1",
    "OR": "OR is 1 when at least one input is 1",
    "XOR": "XOR is 1 when exactly one input is 1",
    "NAND": "NAND is 0 only when both inputs are 1",
    "NOR": "NOR is 1 only when both inputs are 0",
    "XNOR": "XNOR is 1 when both inputs are equal",
    "NOT": "NOT flips its single input",
}
_VALUES = {"0": 0, "1": 1, "false": 0, "true": 1}
_EQUALS = re.compile(r"[ \t]*[=:][ \t]*")
_SPLIT = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class BooleanCircuitConfig:
    n_inputs: int = 3
    n_gates: int = 4
    n_outputs: int = 1
    ops: str = "AND,OR,NOT"
    min_depth: int = 2

    def __post_init__(self) -> None:
        if not 2 <= self.n_inputs <= 12:
            raise ValueError(f"n_inputs must be in 2..12, got {self.n_inputs!r}")
        if not 1 <= self.n_gates <= 40:
            raise ValueError(f"n_gates must be in 1..40, got {self.n_gates!r}")
        if not 1 <= self.n_outputs <= min(self.n_gates, 8):
            raise ValueError("n_outputs must be in 1..min(n_gates, 8)")
        names = self.ops.split(",")
        if not names or any(op not in OPS for op in names) or len(set(names)) != len(names):
            raise ValueError(f"ops must be distinct names from {', '.join(OPS)} joined by commas")
        if names == ["NOT"]:
            raise ValueError("ops needs at least one two-input gate")
        if not 1 <= self.min_depth <= self.n_gates:
            raise ValueError("min_depth must be in 1..n_gates")


def evaluate(inputs: dict[str, int], gates: list[list[str]]) -> dict[str, int]:
    """Values of every input and gate; a gate is [name, op, operand, ...] and reads only earlier signals."""
    values = dict(inputs)
    for name, op, *operands in gates:
        args = [values[operand] for operand in operands]
        values[name] = 1 - args[0] if op == "NOT" else _TABLE[op](args[0], args[1])
    return values


def depths(inputs: dict[str, int], gates: list[list[str]]) -> dict[str, int]:
    level = {name: 0 for name in inputs}
    for name, _, *operands in gates:
        level[name] = 1 + max(level[operand] for operand in operands)
    return level


def parse_values(text: str, outputs: list[str]) -> list[int] | None:
    """``1,0`` (in the order of ``outputs``) or ``g7=1, g8=0`` (any order, each output once) -> [1, 0]; else None.

    Values are 0/1 or true/false (any case); commas, semicolons, spaces or newlines separate them.
    """
    if len(text) > 24 * len(outputs) + 40:
        return None
    tokens = [token for token in _SPLIT.split(_EQUALS.sub("=", text.strip().lower())) if token]
    if len(tokens) != len(outputs):
        return None
    if not any("=" in token for token in tokens):
        values = [_VALUES.get(token) for token in tokens]
        return None if None in values else values  # type: ignore[return-value]
    named: dict[str, int] = {}
    for token in tokens:
        name, sep, value = token.partition("=")
        if not sep or name not in outputs or name in named or value not in _VALUES:
            return None
        named[name] = _VALUES[value]
    return [named[name] for name in outputs]


def _call(gate: list[str]) -> str:
    return f"{gate[1]}({', '.join(gate[2:])})"


@register_env
class BooleanCircuit(Game):
    """Evaluate a small Boolean circuit of logic gates and report the values of its outputs.

    **Rules.** Named inputs (a, b, c, ...) have given values 0 or 1. Gates g1, g2, ... are listed in topological
    order; each applies AND, OR, XOR, NAND, NOT (or NOR, XNOR where the level uses them) to inputs or earlier
    gates. The outputs are the last gates. Every gate that is not an output feeds a later gate, and the outputs
    are at least ``min_depth`` gates deep.

    **Answer.** The output values in the order asked, separated by commas, e.g. ``1,0``; ``true``/``false``
    (any case) and the named form ``g7=1, g8=0`` or ``g7: 1, g8: 0`` (any order, each output once) are
    accepted; anything else is rejected. The answer is unique: it is fixed by evaluating the circuit.

    **Levels.** easy: 3 inputs, 4 gates (AND, OR, NOT), 1 output, depth >= 2; medium: 4 inputs, 8 gates (AND, OR,
    XOR, NAND, NOT), 2 outputs, depth >= 3; hard: 6 inputs, 14 gates (plus NOR, XNOR), 3 outputs, depth >= 5
    (knobs ``n_inputs``, ``n_gates``, ``n_outputs``, ``ops``, ``min_depth``).

    **Example.** ``a=1 b=0 c=1; g1=AND a b; g2=NOT g1; g3=OR g2 c; ? g3`` -> ``1``.
    """

    name = "boolean_circuit"
    title = "BooleanCircuit"
    family = "logic circuit"
    category = "logic"
    description = "Evaluate a circuit of AND/OR/XOR/NAND/NOT gates over given inputs (unique answer)."
    Config = BooleanCircuitConfig
    levels = {
        "easy": {"n_inputs": 3, "n_gates": 4, "n_outputs": 1, "ops": "AND,OR,NOT", "min_depth": 2},
        "medium": {"n_inputs": 4, "n_gates": 8, "n_outputs": 2, "ops": "AND,OR,XOR,NAND,NOT", "min_depth": 3},
        "hard": {"n_inputs": 6, "n_gates": 14, "n_outputs": 3, "ops": ",".join(OPS), "min_depth": 5},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = False

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        names = list(string.ascii_lowercase[: cfg.n_inputs])
        ops = cfg.ops.split(",")
        while True:
            inputs = {name: rng.randint(0, 1) for name in names}
            signals = list(names)
            unused: list[str] = []
            gates: list[list[str]] = []
            for index in range(1, cfg.n_gates + 1):
                op = rng.choice(ops)
                first = rng.choice(unused) if unused and rng.random() < 0.6 else rng.choice(signals)
                operands = [first]
                if op != "NOT":
                    operands.append(rng.choice([s for s in signals if s != first]))
                    rng.shuffle(operands)
                for operand in operands:
                    if operand in unused:
                        unused.remove(operand)
                gate = f"g{index}"
                gates.append([gate, op, *operands])
                signals.append(gate)
                unused.append(gate)
            outputs = [gate[0] for gate in gates[-cfg.n_outputs :]]
            if any(gate not in outputs for gate in unused):
                continue
            level = depths(inputs, gates)
            if max(level[name] for name in outputs) < cfg.min_depth:
                continue
            values = evaluate(inputs, gates)
            problem = {"inputs": inputs, "gates": gates, "outputs": outputs}
            return problem, ",".join(str(values[name]) for name in outputs)

    def instance_space(self) -> int:
        """Lower bound: the "chain" circuits, where every gate reads the gate just before it (so every gate is used
        and the depth is n_gates), over all input values. Gate 1: binary ops x ordered pairs of inputs, plus NOT of
        an input; gate i > 1 over s signals: binary ops x 2(s-1) ordered pairs containing gate i-1, plus its NOT."""
        cfg = self.config
        ops = cfg.ops.split(",")
        binary, has_not = len([op for op in ops if op != "NOT"]), int("NOT" in ops)
        n = cfg.n_inputs
        total = 2**n * (binary * n * (n - 1) + has_not * n)
        for index in range(1, cfg.n_gates):
            total *= binary * 2 * (n + index - 1) + has_not
        return total

    def prompt(self, instance: Instance) -> str:
        problem = instance.problem
        outputs = problem["outputs"]
        used = [op for op in OPS if any(gate[1] == op for gate in problem["gates"])]
        asked = outputs[0] if len(outputs) == 1 else ", ".join(outputs)
        if len(outputs) == 1:
            question, form = f"What is the value of {asked}?", "the value (0 or 1)"
        else:
            question = f"What are the values of {asked}?"
            form = f"the values (0 or 1) of {asked} in this order, separated by commas,"
        return "\n".join(
            [
                "A Boolean circuit has these inputs: "
                + ", ".join(f"{name}={value}" for name, value in problem["inputs"].items())
                + ".",
                "Its gates, in order (each reads inputs or earlier gates):",
                *(f"  {gate[0]} = {_call(gate)}" for gate in problem["gates"]),
                "Here " + "; ".join(_MEANING[op] for op in used) + ".",
                question,
                f"Think step by step, then give {form} inside <answer></answer>.",
            ]
        )

    def compact_prompt(self, instance: Instance) -> str:
        problem = instance.problem
        parts = [" ".join(f"{name}={value}" for name, value in problem["inputs"].items())]
        parts.extend(f"{gate[0]}={' '.join(gate[1:])}" for gate in problem["gates"])
        parts.append("? " + " ".join(problem["outputs"]))
        return "; ".join(parts) + "\n"

    def check(self, instance: Instance, answer: str) -> bool:
        outputs = instance.problem["outputs"]
        values = parse_values(answer, outputs)
        if values is None:
            return False
        truth = evaluate(instance.problem["inputs"], instance.problem["gates"])
        return values == [truth[name] for name in outputs]

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        problem = instance.problem
        values = evaluate(problem["inputs"], problem["gates"])
        answer = ",".join(str(values[name]) for name in problem["outputs"])
        lines = []
        if style == "steps":
            lines.append(" ".join(f"{name}={value}" for name, value in problem["inputs"].items()))
            for gate in problem["gates"]:
                name, op, *operands = gate
                args = ",".join(str(values[operand]) for operand in operands)
                lines.append(f"{name}={_call(gate).replace(' ', '')}={op}({args})={values[name]}")
            lines.append("out " + " ".join(f"{name}={values[name]}" for name in problem["outputs"]))
        else:
            lines.append("I evaluate the gates in order, each from values already known.")
            for name, op, *operands in problem["gates"]:
                known = " and ".join(f"{operand} = {values[operand]}" for operand in operands)
                if op == "NOT":
                    lines.append(f"{name} is NOT of {known}, so {name} = {values[name]}.")
                else:
                    lines.append(f"{name} is {op} of {known}; {_MEANING[op]}, so {name} = {values[name]}.")
            listed = ", ".join(f"{name} = {values[name]}" for name in problem["outputs"])
            lines.append(f"The outputs are {listed}.")
        return "\n".join(lines) + f"\n<answer>{answer}</answer>"
