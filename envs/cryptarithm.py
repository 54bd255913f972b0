"""Cryptarithm (SEND+MORE=MONEY family): each letter stands for a digit; find digits that make the sum true."""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from math import perm
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

_MAX_ANSWER_CHARS = 300
_PAIR = re.compile(r"\s*=\s*")
_SEPARATORS = str.maketrans({",": " ", ";": " ", "\n": " ", "\t": " "})
_PLACE_NAMES = ["ones", "tens", "hundreds", "thousands", "ten-thousands", "hundred-thousands", "millions"]


@dataclass(frozen=True)
class CryptarithmConfig:
    n_addends: int = 2
    word_length: int = 2

    def __post_init__(self) -> None:
        if not 2 <= self.n_addends <= 4:
            raise ValueError(f"n_addends must be in 2..4, got {self.n_addends!r}")
        if not 2 <= self.word_length <= 6:
            raise ValueError(f"word_length must be in 2..6, got {self.word_length!r}")


def puzzle_letters(addends: list[str], result: str) -> list[str]:
    """Letters of the puzzle in sorted order."""
    return sorted(set("".join(addends) + result))


def parse_mapping(answer: str) -> dict[str, int] | None:
    """``A=1,B=2`` -> {"A": 1, "B": 2}; None on anything else (bad pair, conflicting repeats)."""
    if len(answer) > _MAX_ANSWER_CHARS:
        return None
    text = _PAIR.sub("=", answer.upper().translate(_SEPARATORS))
    mapping: dict[str, int] = {}
    for token in text.split():
        letter, eq, digit = token.partition("=")
        if not eq or len(letter) != 1 or not letter.isalpha() or len(digit) != 1 or not digit.isdigit():
            return None
        if mapping.get(letter, int(digit)) != int(digit):
            return None
        mapping[letter] = int(digit)
    return mapping


def is_solution(addends: list[str], result: str, mapping: dict[str, int]) -> bool:
    """Same letter set, distinct digits, no leading zero, and sum(addends) == result under ``mapping``."""
    if sorted(mapping) != puzzle_letters(addends, result):
        return False
    if len(set(mapping.values())) != len(mapping):
        return False
    words = [*addends, result]
    if any(mapping[word[0]] == 0 for word in words if len(word) > 1):
        return False

    def value(word: str) -> int:
        number = 0
        for letter in word:
            number = number * 10 + mapping[letter]
        return number

    return sum(value(word) for word in addends) == value(result)


def solve_columns(
    addends: list[str], result: str, digits: tuple[int, ...] = tuple(range(10))
) -> tuple[dict[str, int], list[tuple]] | None:
    """Column-by-column search from the ones column, trying free letters' digits in the order ``digits``.

    In column i with carry c_i: sum of the addend letters + c_i = result letter + 10 * c_{i+1}; the addend letters
    are assigned first, the result letter is then forced. Returns (mapping, column records) for the first solution
    found, or None. Each record is (column, addend letters, addend digits, carry in, total, result letter, carry out).
    """
    width = len(result)
    if any(len(word) > width for word in addends):
        return None
    leading = {word[0] for word in [*addends, result] if len(word) > 1}
    columns = [[word[len(word) - 1 - i] for word in addends if i < len(word)] for i in range(width)]
    mapping: dict[str, int] = {}
    used = [False] * 10
    records: list[tuple] = []

    def assign_letters(column: int, letters: list[str], index: int, carry: int) -> bool:
        if index == len(letters):
            total = carry + sum(mapping[letter] for letter in columns[column])
            digit, carry_out = total % 10, total // 10
            letter = result[width - 1 - column]
            fresh = letter not in mapping
            if fresh:
                if used[digit] or (digit == 0 and letter in leading):
                    return False
                mapping[letter], used[digit] = digit, True
            elif mapping[letter] != digit:
                return False
            records.append(
                (
                    column,
                    columns[column],
                    [mapping[x] for x in columns[column]],
                    carry,
                    total,
                    letter,
                    carry_out,
                )
            )
            if finish_column(column + 1, carry_out):
                return True
            records.pop()
            if fresh:
                del mapping[letter]
                used[digit] = False
            return False
        letter = letters[index]
        if letter in mapping:
            return assign_letters(column, letters, index + 1, carry)
        for digit in digits:
            if used[digit] or (digit == 0 and letter in leading):
                continue
            mapping[letter], used[digit] = digit, True
            if assign_letters(column, letters, index + 1, carry):
                return True
            del mapping[letter]
            used[digit] = False
        return False

    def finish_column(column: int, carry: int) -> bool:
        if column == width:
            return carry == 0
        letters = []
        for letter in columns[column]:
            if letter not in letters:
                letters.append(letter)
        return assign_letters(column, letters, 0, carry)

    if finish_column(0, 0):
        return dict(mapping), records
    return None


def format_mapping(mapping: dict[str, int]) -> str:
    return ",".join(f"{letter}={mapping[letter]}" for letter in sorted(mapping))


@register_env
class Cryptarithm(Game):
    """Cryptarithm (SEND+MORE=MONEY family): each letter stands for a digit; find digits that make the sum
    true.

    Rules: different letters are different digits, the same letter is always the same digit, and no word
    starts with 0. Puzzles come from random numbers whose digits are replaced by random letters, so at least
    one solution exists; several may, and the verifier accepts every mapping that satisfies the rules.

    Answer: the letter=digit pairs, e.g. ``A=1,B=2,C=3`` (any order; commas, semicolons or spaces between
    pairs; case and spaces around ``=`` ignored). Every letter of the puzzle must be given exactly one digit.

    **Differences from reasoning-gym.** reasoning-gym forbids a leading 0 in every word, one-letter words
    included, where pearbench lets a one-letter word be 0; reasoning-gym's puzzles have no one-letter words,
    and on them the verdicts agree (tests/test_rg_agreement.py).
    """

    name = "cryptarithm"
    title = "Cryptarithm"
    family = "arithmetic puzzle"
    category = "arithmetic"
    description = "Replace letters by distinct digits so that the addition of words is correct."
    Config = CryptarithmConfig
    levels = {
        "easy": {"n_addends": 2, "word_length": 2},
        "medium": {"n_addends": 2, "word_length": 3},
        "hard": {"n_addends": 3, "word_length": 4},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        length = self.config.word_length
        numbers = [rng.randint(10 ** (length - 1), 10**length - 1) for _ in range(self.config.n_addends)]
        total = sum(numbers)
        digits = sorted({int(ch) for number in [*numbers, total] for ch in str(number)})
        letters = rng.sample(string.ascii_uppercase, len(digits))
        letter_of = dict(zip(digits, letters))

        def word(number: int) -> str:
            return "".join(letter_of[int(ch)] for ch in str(number))

        addends, result = [word(number) for number in numbers], word(total)
        answer = format_mapping({letter: digit for digit, letter in letter_of.items()})
        return {"addends": addends, "result": result}, answer

    def instance_space(self) -> int:
        """Lower bound P(26, w*L), w = min(n_addends, 10 // L): every tuple of the first w words with all-distinct
        letters is reachable (numbers with distinct digits, then any digit-to-letter injection) and visibly distinct."""
        length = self.config.word_length
        words = min(self.config.n_addends, 10 // length)
        return perm(26, words * length)

    @staticmethod
    def _equation(instance: Instance) -> str:
        return " + ".join(instance.problem["addends"]) + " = " + instance.problem["result"]

    def prompt(self, instance: Instance) -> str:
        return (
            f"Solve the cryptarithm {self._equation(instance)}. Each letter stands for a digit 0-9: different "
            "letters are different digits, the same letter is always the same digit, and no word starts with 0. "
            "Any assignment that makes the addition correct is accepted. Work column by column, then give every "
            "letter's digit inside <answer></answer> as letter=digit pairs separated by commas, for example "
            "<answer>A=1,B=2,C=3</answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        return "+".join(instance.problem["addends"]) + "=" + instance.problem["result"] + "\n"

    def check(self, instance: Instance, answer: str) -> bool:
        mapping = parse_mapping(answer)
        if mapping is None:
            return False
        return is_solution(instance.problem["addends"], instance.problem["result"], mapping)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        """Column search (:func:`solve_columns`); the trace gives each column's equation along the branch that
        succeeded (dead ends of the search are not written out)."""
        self._check_style(style)
        found = solve_columns(instance.problem["addends"], instance.problem["result"])
        if found is None:
            raise RuntimeError("cryptarithm has no solution")  # the generator always leaves one
        mapping, records = found
        lines = []
        for column, letters, values, carry, total, letter, carry_out in records:
            place = _PLACE_NAMES[column] if column < len(_PLACE_NAMES) else f"column {column + 1}"
            if style == "steps" and not letters:
                lines.append(f"{place}: carry {carry} -> {letter}={total}")
            elif style == "steps":
                lhs = "+".join(letters + (["c"] if carry else []))
                nums = "+".join(str(v) for v in values + ([carry] if carry else []))
                lines.append(f"{place}: {lhs}={nums}={total} -> {letter}={total % 10} carry {carry_out}")
            else:
                if letters:
                    named = " + ".join(f"{x}={v}" for x, v in zip(letters, values))
                    carry_text = f" plus the carried {carry}" if carry else ""
                    lines.append(
                        f"In the {place} column, {named}{carry_text} gives {total}, so {letter} is {total % 10} "
                        f"and {carry_out} is carried."
                    )
                else:
                    lines.append(
                        f"The {place} column of the result is the final carry, so {letter} is {total}."
                    )
        return "\n".join(lines) + f"\n<answer>{format_mapping(mapping)}</answer>"
