"""Dyck language completion: close the open brackets of a well-nested prefix, innermost first.

The prefix is a random walk of opening and closing brackets over up to four bracket types that never closes a
bracket it did not open; the answer is the shortest completion, which is exactly the closing brackets of the unclosed
ones read from the top of the stack down, so it is unique.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

PAIRS = ("()", "[]", "{}", "<>")
_CLOSER = {pair[0]: pair[1] for pair in PAIRS}
_OPENER = {pair[1]: pair[0] for pair in PAIRS}
_IGNORED = frozenset(" \t\r\n,")


@dataclass(frozen=True)
class DyckLanguageConfig:
    n_types: int = 2
    min_length: int = 6
    max_length: int = 10
    max_depth: int = 4
    min_open: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.n_types <= len(PAIRS):
            raise ValueError(f"n_types must be in 1..{len(PAIRS)}, got {self.n_types!r}")
        if not 1 <= self.min_open < self.max_depth <= 50:
            raise ValueError("need 1 <= min_open < max_depth <= 50")
        if not self.min_open + 1 <= self.min_length <= self.max_length <= 200:
            raise ValueError("need min_open + 1 <= min_length <= max_length <= 200")


def _reachable(length: int, max_depth: int, min_open: int) -> list[list[bool]]:
    """can[r][d]: from depth d with r symbols left, the walk (depth kept in 0..max_depth) can end at depth >= min_open."""
    can = [[min_open <= d <= max_depth for d in range(max_depth + 1)]]
    for _ in range(length):
        last = can[-1]
        can.append([(d < max_depth and last[d + 1]) or (d > 0 and last[d - 1]) for d in range(max_depth + 1)])
    return can


def count_prefixes(length: int, n_types: int, max_depth: int, min_open: int) -> int:
    """Distinct prefixes of exactly ``length`` symbols: walks within 0..max_depth ending at depth >= min_open, each
    opening bracket one of ``n_types`` types (a closing bracket's type is forced by the stack)."""
    ways = [1] + [0] * max_depth
    for _ in range(length):
        nxt = [0] * (max_depth + 1)
        for d, count in enumerate(ways):
            if count:
                if d < max_depth:
                    nxt[d + 1] += count * n_types
                if d > 0:
                    nxt[d - 1] += count
        ways = nxt
    return sum(ways[min_open:])


def stack_trace(prefix: str) -> list[str] | None:
    """The stack (bottom to top, as opening brackets) after each symbol; None if the prefix is not well nested."""
    stack: list[str] = []
    states = []
    for char in prefix:
        if char in _CLOSER:
            stack.append(char)
        elif char in _OPENER and stack and stack[-1] == _OPENER[char]:
            stack.pop()
        else:
            return None
        states.append("".join(stack))
    return states


def completion(prefix: str) -> str:
    """The shortest completion: the closers of the unclosed brackets, innermost first."""
    states = stack_trace(prefix)
    stack = states[-1] if states else ""
    return "".join(_CLOSER[char] for char in reversed(stack))


@register_env
class DyckLanguage(Game):
    """Complete a prefix of well-nested brackets with the shortest closing sequence.

    **Rules.** A prefix of a Dyck word over the bracket types ``()``, ``[]``, ``{}`` and ``<>`` (the first
    ``n_types``) is given: every closing bracket matches the most recently opened bracket that is still open.
    Append the SHORTEST sequence of brackets that makes the whole string correctly nested. That sequence closes
    each still-open bracket exactly once, innermost (most recently opened) first.

    **Answer.** The closing brackets, e.g. ``])>``. Spaces, newlines and commas are ignored; everything else must
    match exactly. The answer is unique: a completion must close every open bracket, so the shortest one has just
    one closer per open bracket, and nesting forces their order (the stack read from the top).

    **Levels.** easy: 2 bracket types, prefixes of 6-10 symbols, depth <= 4, >= 1 open at the end; medium: 3 types,
    12-20 symbols, depth <= 6, >= 2 open; hard: 4 types, 20-32 symbols, depth <= 10, >= 3 open (knobs ``n_types``,
    ``min_length``, ``max_length``, ``max_depth``, ``min_open``).

    **Example.** ``close ([]([`` -> ``]))`` (the brackets still open are ``(([``, closed from the top down).
    """

    name = "dyck_language"
    title = "DyckLanguage"
    family = "formal language"
    category = "sequential"
    description = "Close the open brackets of a well-nested prefix with the shortest completion."
    Config = DyckLanguageConfig
    levels = {
        "easy": {"n_types": 2, "min_length": 6, "max_length": 10, "max_depth": 4, "min_open": 1},
        "medium": {"n_types": 3, "min_length": 12, "max_length": 20, "max_depth": 6, "min_open": 2},
        "hard": {"n_types": 4, "min_length": 20, "max_length": 32, "max_depth": 10, "min_open": 3},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = False

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        length = rng.randint(cfg.min_length, cfg.max_length)
        can = _reachable(length, cfg.max_depth, cfg.min_open)
        openers = [pair[0] for pair in PAIRS[: cfg.n_types]]
        stack: list[str] = []
        symbols = []
        for left in range(length - 1, -1, -1):
            depth = len(stack)
            may_open = depth < cfg.max_depth and can[left][depth + 1]
            may_close = depth > 0 and can[left][depth - 1]
            if may_open and (not may_close or rng.random() < 0.55):
                stack.append(rng.choice(openers))
                symbols.append(stack[-1])
            else:
                symbols.append(_CLOSER[stack.pop()])
        prefix = "".join(symbols)
        return {"prefix": prefix, "n_types": cfg.n_types}, completion(prefix)

    def instance_space(self) -> int:
        """Exact: every walk the generator can take (it only avoids dead ends), times the opening types."""
        cfg = self.config
        return sum(
            count_prefixes(length, cfg.n_types, cfg.max_depth, cfg.min_open)
            for length in range(cfg.min_length, cfg.max_length + 1)
        )

    def prompt(self, instance: Instance) -> str:
        types = " ".join(PAIRS[: instance.problem["n_types"]])
        return "\n".join(
            [
                f"Below is the beginning of a string of correctly nested brackets of the types {types}. "
                "Every closing bracket must match the most recently opened bracket that is still open.",
                f"  {instance.problem['prefix']}",
                "Write the SHORTEST sequence of brackets that, appended to it, makes the whole string correctly "
                "nested (every open bracket closed, innermost first). This shortest completion is unique.",
                "Think step by step, then give only the brackets to append, with nothing between them, inside "
                "<answer></answer> (for example <answer>])}</answer>).",
            ]
        )

    def compact_prompt(self, instance: Instance) -> str:
        return f"close {instance.problem['prefix']}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        gold = completion(instance.problem["prefix"])
        if len(answer) > 4 * len(gold) + 64:
            return False
        return "".join(char for char in answer if char not in _IGNORED) == gold

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        prefix = instance.problem["prefix"]
        states = stack_trace(prefix) or []
        answer = completion(prefix)
        lines = []
        if style == "steps":
            lines.extend(f"{char} {state or '-'}" for char, state in zip(prefix, states))
            lines.append(f"close {answer}")
        else:
            for char, state in zip(prefix, states):
                shown = " ".join(state) if state else "empty"
                if char in _CLOSER:
                    lines.append(f"Read {char}: it opens a bracket, push it. The stack is now {shown}.")
                else:
                    lines.append(
                        f"Read {char}: it closes the {_OPENER[char]} on top of the stack, pop it. "
                        f"The stack is now {shown}."
                    )
            stack = states[-1] if states else ""
            names = ", then ".join(f"{opener} with {_CLOSER[opener]}" for opener in reversed(stack))
            lines.append(
                f"{len(stack)} brackets are still open. Close them from the top of the stack down: {names}."
            )
        return "\n".join(lines) + f"\n<answer>{answer}</answer>"
