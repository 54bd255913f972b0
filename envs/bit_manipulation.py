"""Bit manipulation: apply a chain of bitwise operations to an unsigned integer of a fixed width."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

#: operation -> kind of argument: "const" (a w-bit constant), "shift" (1..w-1), "bit" (0..w-1), "none"
OPERATIONS: dict[str, str] = {
    "and": "const",
    "or": "const",
    "xor": "const",
    "shl": "shift",
    "shr": "shift",
    "rotl": "shift",
    "rotr": "shift",
    "not": "none",
    "set": "bit",
    "clear": "bit",
    "flip": "bit",
    "popcount": "none",
    "reverse": "none",
}
_FORMATS = ("bin", "hex", "dec")
#: chance that a drawn chain passing through all zeros or all ones is kept (else it is redrawn)
_KEEP_DEGENERATE = 0.1
_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdef")
_WORDS = {
    "and": "AND with {c}",
    "or": "OR with {c}",
    "xor": "XOR with {c}",
    "shl": "shift left by {c}",
    "shr": "shift right by {c}",
    "rotl": "rotate left by {c}",
    "rotr": "rotate right by {c}",
    "not": "NOT (flip every bit)",
    "set": "set bit {c}",
    "clear": "clear bit {c}",
    "flip": "flip bit {c}",
    "popcount": "replace the value by its popcount",
    "reverse": "reverse the order of the bits",
}


@dataclass(frozen=True)
class BitManipulationConfig:
    width: int = 8
    n_ops: int = 3
    operations: str = "and,or,xor,shl,shr"
    constant_format: str = "bin"

    def __post_init__(self) -> None:
        if not 4 <= self.width <= 64:
            raise ValueError(f"width must be in 4..64, got {self.width!r}")
        if not 1 <= self.n_ops <= 12:
            raise ValueError(f"n_ops must be in 1..12, got {self.n_ops!r}")
        ops = self.operations.split(",")
        if not ops or any(op not in OPERATIONS for op in ops) or len(set(ops)) != len(ops):
            raise ValueError(f"operations must be distinct names from {', '.join(OPERATIONS)}")
        if self.constant_format not in _FORMATS:
            raise ValueError(f"constant_format must be one of {', '.join(_FORMATS)}")


def apply(op: str, arg: int | None, value: int, width: int) -> int:
    """One operation on a ``width``-bit unsigned value (results stay within ``width`` bits)."""
    mask = (1 << width) - 1
    if op == "and":
        return value & arg
    if op == "or":
        return value | arg
    if op == "xor":
        return value ^ arg
    if op == "shl":
        return (value << arg) & mask
    if op == "shr":
        return value >> arg
    if op == "rotl":
        return ((value << arg) | (value >> (width - arg))) & mask
    if op == "rotr":
        return ((value >> arg) | (value << (width - arg))) & mask
    if op == "not":
        return value ^ mask
    if op == "set":
        return value | (1 << arg)
    if op == "clear":
        return value & ~(1 << arg)
    if op == "flip":
        return value ^ (1 << arg)
    if op == "popcount":
        return bin(value).count("1")
    if op == "reverse":
        return int(format(value, f"0{width}b")[::-1], 2)
    raise ValueError(f"unknown operation {op!r}")


def run(start: int, ops: list, width: int) -> list[int]:
    """The value before the first operation and after each one."""
    values = [start]
    for op in ops:
        values.append(apply(op[0], op[1] if len(op) > 1 else None, values[-1], width))
    return values


def parse_number(text: str, max_digits: int) -> int | None:
    """A non-negative integer in decimal, ``0x`` hex or ``0b`` binary; None if malformed or longer than the cap."""
    text = text.strip().rstrip(".").strip().lower()
    if not text or len(text) > max_digits + 2:
        return None
    if text.startswith(("0x", "0b")):
        digits = text[2:]
        allowed = _HEX if text[1] == "x" else frozenset("01")
        if not digits or any(ch not in allowed for ch in digits):
            return None
        return int(digits, 16 if text[1] == "x" else 2)
    if any(ch not in _DIGITS for ch in text):
        return None
    return int(text)


def _bits(value: int, width: int) -> str:
    return format(value, f"0{width}b")


@register_env
class BitManipulation(Game):
    """Bit manipulation: apply a chain of bitwise operations to a fixed-width unsigned integer.

    **Rules.** The value is an unsigned integer of w bits (bit 0 is the least significant). Operations, applied in
    order: AND / OR / XOR with a constant; shift left (bits pushed past bit w-1 are lost) or logical shift right;
    rotate left / right within w bits; NOT (flip all w bits); set / clear / flip bit i; popcount (the value becomes
    its number of 1 bits); reverse (bit i moves to bit w-1-i). Constants are written in binary, hex (0x) or
    decimal; the start value in decimal.

    **Answer.** The final value as a decimal integer; ``0x`` hex and ``0b`` binary forms are accepted too (at most
    w + 2 characters). The answer is unique (the operations are functions), so it is compared with the evaluated
    result.

    **Levels.** easy: 8 bits, 3 operations among AND/OR/XOR/shifts, binary constants; medium: 16 bits, 5 operations
    adding NOT, rotations and single-bit set/clear/flip, hex constants; hard: 32 bits, 7 operations adding popcount
    and reverse, hex constants (knobs ``width``, ``n_ops``, ``operations``, ``constant_format``).

    **Example.** Compact prompt ``w8 173 and 0b00111100 xor 0b00001111 shl 2``: 173 = 10101101, AND 00111100 ->
    00101100, XOR 00001111 -> 00100011, SHL 2 -> 10001100, answer ``140``.
    """

    name = "bit_manipulation"
    title = "BitManipulation"
    family = "bitwise arithmetic"
    category = "arithmetic"
    description = "Apply a chain of AND/OR/XOR, shifts, rotations and bit flips to a fixed-width integer."
    Config = BitManipulationConfig
    levels = {
        "easy": {"width": 8, "n_ops": 3, "operations": "and,or,xor,shl,shr", "constant_format": "bin"},
        "medium": {
            "width": 16,
            "n_ops": 5,
            "operations": "and,or,xor,shl,shr,rotl,rotr,not,set,clear,flip",
            "constant_format": "hex",
        },
        "hard": {"width": 32, "n_ops": 7, "operations": ",".join(OPERATIONS), "constant_format": "hex"},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = False

    def _operations(self) -> list[str]:
        return self.config.operations.split(",")

    def _choices(self, op: str) -> int:
        width = self.config.width
        return {"const": 1 << width, "shift": width - 1, "bit": width, "none": 1}[OPERATIONS[op]]

    def _random_ops(self, rng: random.Random) -> list[list[int | str]]:
        width = self.config.width
        ops: list[list[int | str]] = []
        for _ in range(self.config.n_ops):
            op = rng.choice(self._operations())
            kind = OPERATIONS[op]
            if kind == "const":
                ops.append([op, rng.getrandbits(width)])
            elif kind == "shift":
                ops.append([op, rng.randint(1, width - 1)])
            elif kind == "bit":
                ops.append([op, rng.randrange(width)])
            else:
                ops.append([op])
        return ops

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        width = self.config.width
        mask = (1 << width) - 1
        while True:
            start = rng.getrandbits(width)
            ops = self._random_ops(rng)
            values = run(start, ops, width)
            # mostly redraw chains where a step wipes out the information (all zeros or all ones)
            if all(0 < value < mask for value in values[1:]) or rng.random() < _KEEP_DEGENERATE:
                break
        problem = {"width": width, "start": start, "ops": ops, "format": self.config.constant_format}
        return problem, str(values[-1])

    def instance_space(self) -> int:
        """Exact: every start value times every operation sequence, each a different problem. The generator
        redraws most chains that pass through 0 or all ones, but keeps each with probability 0.1, so every chain
        can be drawn."""
        per_op = sum(self._choices(op) for op in self._operations())
        return (1 << self.config.width) * per_op**self.config.n_ops

    # -- prompts ----------------------------------------------------------------------------------------------
    @staticmethod
    def _constant(value: int, width: int, fmt: str) -> str:
        if fmt == "bin":
            return "0b" + _bits(value, width)
        if fmt == "hex":
            return "0x" + format(value, f"0{(width + 3) // 4}X")
        return str(value)

    def _op_text(self, op: list, width: int, fmt: str, compact: bool) -> str:
        name = op[0]
        if len(op) == 1:
            return name if compact else _WORDS[name]
        arg = self._constant(op[1], width, fmt) if OPERATIONS[name] == "const" else str(op[1])
        return f"{name} {arg}" if compact else _WORDS[name].format(c=arg)

    def prompt(self, instance: Instance) -> str:
        p = instance.problem
        width, fmt = p["width"], p["format"]
        steps = "\n".join(
            f"{number}. {self._op_text(op, width, fmt, False)}" for number, op in enumerate(p["ops"], start=1)
        )
        return (
            f"Work with {width}-bit unsigned integers (bit 0 is the least significant bit). Start with the value "
            f"{p['start']} and apply these operations in order:\n{steps}\n"
            f"Shifts left drop bits beyond bit {width - 1} and shifts right are logical (zeros come in); rotations "
            f"wrap around within {width} bits; NOT flips all {width} bits; popcount replaces the value by its number "
            f"of 1 bits; reverse moves bit i to bit {width - 1}-i. Work step by step in binary, then give the final "
            "value as a decimal integer inside <answer></answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        p = instance.problem
        ops = " ".join(self._op_text(op, p["width"], p["format"], True) for op in p["ops"])
        return f"w{p['width']} {p['start']} {ops}\n"

    # -- verification -----------------------------------------------------------------------------------------
    def check(self, instance: Instance, answer: str) -> bool:
        width = instance.problem["width"]
        if len(answer) > width + 20:
            return False
        value = parse_number(answer, width)
        return value is not None and value == int(instance.answer)

    # -- solving ----------------------------------------------------------------------------------------------
    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        p = instance.problem
        width, fmt = p["width"], p["format"]
        values = run(p["start"], p["ops"], width)
        lines = []
        if style == "steps":
            lines.append(f"{p['start']} = {_bits(values[0], width)}")
            for op, value in zip(p["ops"], values[1:]):
                shown = self._op_text(op, width, fmt, True)
                if len(op) > 1 and OPERATIONS[op[0]] == "const" and fmt != "bin":
                    shown += f" = {_bits(op[1], width)}"
                lines.append(f"{shown} -> {_bits(value, width)}")
            final = values[-1]
            lines.append(f"{_bits(final, width)} = 0x{final:X} = {final}")
        else:
            lines.append(f"In {width}-bit binary the start value {p['start']} is {_bits(values[0], width)}.")
            for number, (op, value) in enumerate(zip(p["ops"], values[1:]), start=1):
                action = self._op_text(op, width, fmt, False)
                extra = ""
                if len(op) > 1 and OPERATIONS[op[0]] == "const" and fmt != "bin":
                    extra = f" (that is {_bits(op[1], width)})"
                if op[0] == "popcount":
                    extra = f" ({value} ones)"
                lines.append(f"Step {number}: {action}{extra} gives {_bits(value, width)}.")
            final = values[-1]
            lines.append(
                f"The final bits {_bits(final, width)} are 0x{final:X} in hex, which is {final} in decimal."
            )
        return "\n".join(lines) + f"\n<answer>{values[-1]}</answer>"
