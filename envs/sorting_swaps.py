"""Sorting by adjacent swaps: sort a short list ascending with the fewest swaps of neighbouring elements.

The fewest adjacent swaps equals the number of inversions (pairs i < j with x[i] > x[j]); every swap of an
out-of-order neighbouring pair removes exactly one inversion, so any sequence of that many swaps that ends sorted is
optimal and accepted.
"""

from __future__ import annotations

import math
import random
import string
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_ITEM_KINDS = ("numbers", "letters")
_SEPARATORS = frozenset(" \t\r\n,;[]()")


@dataclass(frozen=True)
class SortingSwapsConfig:
    length: int = 5
    items: str = "numbers"
    max_value: int = 9
    distinct: bool = True

    def __post_init__(self) -> None:
        if not 2 <= self.length <= 20:
            raise ValueError(f"length must be in 2..20, got {self.length!r}")
        if self.items not in _ITEM_KINDS:
            raise ValueError(f"items must be one of {_ITEM_KINDS}, got {self.items!r}")
        upper = 26 if self.items == "letters" else 999
        if not 2 <= self.max_value <= upper:
            raise ValueError(f"max_value must be in 2..{upper} for {self.items}, got {self.max_value!r}")
        if self.distinct and self.max_value < self.length:
            raise ValueError("distinct items need max_value >= length")


def inversions(values: list[int]) -> int:
    """Pairs i < j with values[i] > values[j] (strictly): the fewest adjacent swaps that sort the list."""
    return sum(1 for i in range(len(values)) for j in range(i + 1, len(values)) if values[i] > values[j])


def bubble_passes(values: list[int]) -> list[list[tuple[int, list[int]]]]:
    """Bubble sort, one list per pass of (0-based position swapped with its right neighbour, list after the swap).

    Only strictly out-of-order neighbours are swapped, so the swaps number exactly the inversions. Passes that swap
    nothing are left out; the last pass shrinks by one each time (the largest item has bubbled to the end).
    """
    current = list(values)
    passes = []
    end = len(current) - 1
    while end > 0:
        swaps = []
        last = 0
        for i in range(end):
            if current[i] > current[i + 1]:
                current[i], current[i + 1] = current[i + 1], current[i]
                swaps.append((i, list(current)))
                last = i
        if not swaps:
            break
        passes.append(swaps)
        end = last
    return passes


def parse_positions(text: str, n: int, limit: int) -> list[int] | None:
    """``3,1,2`` -> [2, 0, 1] (0-based left positions); None if malformed, out of 1..n-1, or more than ``limit``."""
    positions: list[int] = []
    token = ""
    for char in text + " ":
        if "0" <= char <= "9":
            token += char
            if len(token) > 3:
                return None
        elif char in _SEPARATORS:
            if token:
                value = int(token)
                if not 1 <= value <= n - 1:
                    return None
                positions.append(value - 1)
                if len(positions) > limit:
                    return None
                token = ""
        else:
            return None
    return positions


def _show(values: list[int], letters: bool) -> str:
    if letters:
        return " ".join(string.ascii_uppercase[v - 1] for v in values)
    return " ".join(str(v) for v in values)


@register_env
class SortingSwaps(Game):
    """Sort a list ascending by swapping adjacent elements, using exactly the minimum number of swaps.

    **Rules.** A list of numbers (or capital letters, compared alphabetically) is given. One move swaps the
    elements at positions i and i+1 (positions 1-based). Reach the ascending order (equal items may stay in any
    order) in at most the budget, which is the number of inversions: pairs of positions i < j whose items are in
    the wrong order. No sequence of adjacent swaps can be shorter, since each swap changes the inversion count by
    exactly one.

    **Answer.** The swaps in order as left positions i separated by commas, e.g. ``3,1,2`` means swap positions
    3 and 4, then 1 and 2, then 2 and 3. Spaces, newlines, semicolons and brackets are tolerated. The verifier
    simulates the swaps: ANY sequence that sorts the list within the budget is accepted (there are usually many,
    so ``multiple_solutions`` is True).

    **Levels.** easy: 5 distinct numbers from 1-9; medium: 7 distinct letters from A-Z; hard: 10 numbers from
    1-99, repeats allowed (knobs ``length``, ``items``, ``max_value``, ``distinct``).

    **Example.** ``sort 3 1 2 in 2`` -> ``1,2`` (3 1 2 -> 1 3 2 -> 1 2 3).
    """

    name = "sorting_swaps"
    title = "SortingSwaps"
    family = "sorting puzzle"
    category = "sequential"
    description = "Sort a list ascending with the fewest swaps of adjacent elements (budget = inversions)."
    Config = SortingSwapsConfig
    levels = {
        "easy": {"length": 5, "items": "numbers", "max_value": 9, "distinct": True},
        "medium": {"length": 7, "items": "letters", "max_value": 26, "distinct": True},
        "hard": {"length": 10, "items": "numbers", "max_value": 99, "distinct": False},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        while True:
            if cfg.distinct:
                values = rng.sample(range(1, cfg.max_value + 1), cfg.length)
            else:
                values = [rng.randint(1, cfg.max_value) for _ in range(cfg.length)]
            budget = inversions(values)
            if budget > 0:
                break
        swaps = [i for one_pass in bubble_passes(values) for i, _ in one_pass]
        problem = {"items": cfg.items, "values": values, "max_swaps": budget}
        return problem, ",".join(str(i + 1) for i in swaps)

    def instance_space(self) -> int:
        """Exact: all lists minus the already sorted ones (one per multiset)."""
        cfg = self.config
        n, m = cfg.length, cfg.max_value
        if cfg.distinct:
            return math.perm(m, n) - math.comb(m, n)
        return m**n - math.comb(m + n - 1, n)

    @staticmethod
    def _letters(instance: Instance) -> bool:
        return instance.problem["items"] == "letters"

    def prompt(self, instance: Instance) -> str:
        values, budget = instance.problem["values"], instance.problem["max_swaps"]
        kind = "letters (alphabetical order)" if self._letters(instance) else "numbers"
        n = len(values)
        return "\n".join(
            [
                f"Sort this list of {n} {kind} into ascending order:",
                f"  {_show(values, self._letters(instance))}",
                f"The only allowed move swaps two ADJACENT elements: move i (1 <= i <= {n - 1}) swaps the "
                "elements at positions i and i+1 (positions are numbered from 1, left to right). "
                f"Use at most {budget} moves (this is the minimum possible). Equal elements may end in any order.",
                "Think step by step, then give the moves in order as the numbers i separated by commas "
                "(for example 3,1,2) inside <answer></answer>.",
            ]
        )

    def compact_prompt(self, instance: Instance) -> str:
        values = _show(instance.problem["values"], self._letters(instance))
        return f"sort {values} in {instance.problem['max_swaps']}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        values, budget = list(instance.problem["values"]), instance.problem["max_swaps"]
        if len(answer) > 8 * budget + 64:
            return False
        positions = parse_positions(answer, len(values), budget)
        if positions is None:
            return False
        for i in positions:
            values[i], values[i + 1] = values[i + 1], values[i]
        return all(values[i] <= values[i + 1] for i in range(len(values) - 1))

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        values, budget = instance.problem["values"], instance.problem["max_swaps"]
        letters = self._letters(instance)
        passes = bubble_passes(values)
        swaps = [i for one_pass in passes for i, _ in one_pass]
        lines = []
        if style == "steps":
            lines.append(f"{_show(values, letters)} inv {budget}")
            for number, one_pass in enumerate(passes, 1):
                lines.append(f"pass {number}")
                lines.extend(f"{i + 1}: {_show(after, letters)}" for i, after in one_pass)
        else:
            lines.append(
                f"The list {_show(values, letters)} has {budget} pairs in the wrong order, so it needs "
                f"{budget} adjacent swaps. I use bubble sort: walk left to right and swap every neighbouring "
                "pair that is out of order; each pass carries the largest remaining element to the end."
            )
            bigger = "comes after" if letters else "is bigger than"
            for number, one_pass in enumerate(passes, 1):
                lines.append(f"Pass {number}:")
                for i, after in one_pass:
                    left, right = after[i + 1], after[i]  # before the swap: left item at i, right at i+1
                    name = _show([left], letters), _show([right], letters)
                    lines.append(
                        f"{name[0]} at position {i + 1} {bigger} {name[1]} at position {i + 2}, so swap them: "
                        f"{_show(after, letters)}."
                    )
            lines.append(f"The list is sorted after {len(swaps)} swaps.")
        return "\n".join(lines) + f"\n<answer>{','.join(str(i + 1) for i in swaps)}</answer>"
