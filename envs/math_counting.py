"""Counting: combinations, permutations, arrangements of a word's letters, and committees from two groups.

Answer: a whole number (thousands separators allowed). Gold answers use exact integer arithmetic
(:func:`math.comb`, :func:`math.perm`, factorials); the tests cross-check them with sympy and with brute-force
enumeration on small cases.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env
from pearbench.verify.normalize import parse_rational

_KINDS = ("choose", "arrange", "word", "committee")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class CountingConfig:
    kinds: str = "choose,arrange"
    max_n: int = 8
    max_word_length: int = 6

    def __post_init__(self) -> None:
        kinds = self.kinds.split(",")
        if not kinds or set(kinds) - set(_KINDS):
            raise ValueError(f"kinds must be a comma-separated subset of {', '.join(_KINDS)}")
        if not 3 <= self.max_n <= 60:
            raise ValueError("max_n must be in 3..60")
        if not 3 <= self.max_word_length <= 12:
            raise ValueError("max_word_length must be in 3..12")


def word_arrangements(word: str) -> int:
    """Distinct orderings of the letters of ``word``: n! / prod(count_i!)."""
    total = math.factorial(len(word))
    for count in Counter(word).values():
        total //= math.factorial(count)
    return total


def _falling(n: int, k: int) -> str:
    return "*".join(str(n - i) for i in range(k)) if k else "1"


@register_env
class MathCounting(Game):
    name = "math_counting"
    title = "MathCounting"
    family = "math"
    category = "arithmetic"
    answer_kind = "math"
    description = "Count selections and arrangements: C(n,k), P(n,k), word rearrangements, committees."
    Config = CountingConfig
    levels = {
        "easy": {"kinds": "choose,arrange", "max_n": 8, "max_word_length": 5},
        "medium": {"kinds": "choose,arrange,word", "max_n": 15, "max_word_length": 7},
        "hard": {"kinds": "arrange,word,committee", "max_n": 30, "max_word_length": 10},
    }
    trace_styles = ("steps", "words")

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        kind = rng.choice(cfg.kinds.split(","))
        if kind in ("choose", "arrange"):
            n = rng.randint(3, cfg.max_n)
            k = rng.randint(1, n - 1)
            answer = math.comb(n, k) if kind == "choose" else math.perm(n, k)
            return {"kind": kind, "n": n, "k": k}, str(answer)
        if kind == "word":
            length = rng.randint(3, cfg.max_word_length)
            alphabet = _LETTERS[: rng.randint(2, max(2, length - 1))]
            word = "".join(rng.choice(alphabet) for _ in range(length))
            return {"kind": kind, "word": word}, str(word_arrangements(word))
        men, women = rng.randint(2, cfg.max_n // 2 + 1), rng.randint(2, cfg.max_n // 2 + 1)
        pick_men, pick_women = rng.randint(1, men), rng.randint(1, women)
        answer = math.comb(men, pick_men) * math.comb(women, pick_women)
        return {
            "kind": kind,
            "men": men,
            "women": women,
            "pick_men": pick_men,
            "pick_women": pick_women,
        }, str(answer)

    def instance_space(self) -> int:
        cfg = self.config
        total = 0
        for kind in cfg.kinds.split(","):
            if kind in ("choose", "arrange"):
                total += sum(n - 1 for n in range(3, cfg.max_n + 1))
            elif kind == "word":
                # words of length L over the first max(2, L-1) letters (smaller alphabets are subsets)
                total += sum(max(2, length - 1) ** length for length in range(3, cfg.max_word_length + 1))
            else:
                half = cfg.max_n // 2 + 1
                total += sum(m * w for m in range(2, half + 1) for w in range(2, half + 1))
        return total

    def prompt(self, instance: Instance) -> str:
        p = instance.problem
        if p["kind"] == "choose":
            question = f"In how many ways can a team of {p['k']} be chosen from {p['n']} people?"
        elif p["kind"] == "arrange":
            question = (
                f"{p['n']} runners run a race. In how many ways can the first {p['k']} places be filled "
                "(no ties)?"
            )
        elif p["kind"] == "word":
            question = f"How many distinct strings can be made by rearranging all the letters of {p['word']}?"
        else:
            question = (
                f"A committee of {p['pick_men']} men and {p['pick_women']} women is chosen from {p['men']} men "
                f"and {p['women']} women. How many different committees are possible?"
            )
        return f"{question} Work step by step, then give the number inside <answer></answer>."

    def compact_prompt(self, instance: Instance) -> str:
        p = instance.problem
        if p["kind"] == "choose":
            return f"C({p['n']},{p['k']})\n"
        if p["kind"] == "arrange":
            return f"P({p['n']},{p['k']})\n"
        if p["kind"] == "word":
            return f"perm {p['word']}\n"
        return f"C({p['men']},{p['pick_men']})C({p['women']},{p['pick_women']})\n"

    def check(self, instance: Instance, answer: str) -> bool:
        value = parse_rational(answer, allow_assignment=False)
        return value is not None and value == int(instance.answer)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        p = instance.problem
        words = style == "words"
        if p["kind"] == "choose":
            lines = _choose_lines(p["n"], p["k"], words)
        elif p["kind"] == "arrange":
            n, k = p["n"], p["k"]
            value = math.perm(n, k)
            product = _falling(n, k)
            tail = f" = {value}" if product != str(value) else ""
            if words:
                places = "the first place" if k == 1 else f"{k} places, one fewer choice each time"
                lines = [f"Order matters: {n} choices for {places}.", f"That is {product}{tail}."]
            else:
                lines = [f"P({n},{k}) = {n}!/{n - k}! = {product}{tail}"]
        elif p["kind"] == "word":
            lines = _word_lines(p["word"], words)
        else:
            men_lines = _choose_lines(p["men"], p["pick_men"], words, "men")
            women_lines = _choose_lines(p["women"], p["pick_women"], words, "women")
            men_count = math.comb(p["men"], p["pick_men"])
            women_count = math.comb(p["women"], p["pick_women"])
            total = men_count * women_count
            last = (
                f"Each choice of men goes with each choice of women: {men_count}*{women_count} = {total}."
                if words
                else f"total = {men_count}*{women_count} = {total}"
            )
            lines = [*men_lines, *women_lines, last]
        return "\n".join(lines) + f"\n<answer>{instance.answer}</answer>"


def _choose_lines(n: int, k: int, words: bool, what: str = "") -> list[str]:
    value = math.comb(n, k)
    small = min(k, n - k)
    numerator = _falling(n, small)
    denominator = _falling(small, small)
    top, bottom = math.perm(n, small), math.factorial(small)
    if words:
        label = f" of the {what}" if what else ""
        return [
            f"Order does not matter, so choose {k}{label} from {n}: C({n},{k})"
            + (f" = C({n},{small})." if small != k else "."),
            f"C({n},{small}) = ({numerator})/({denominator}) = {top}/{bottom} = {value}.",
        ]
    return [f"C({n},{k}) = {n}!/({k}!*{n - k}!) = ({numerator})/({denominator}) = {top}/{bottom} = {value}"]


def _word_lines(word: str, words: bool) -> list[str]:
    counts = sorted(Counter(word).items())
    repeated = [(letter, count) for letter, count in counts if count > 1]
    total = math.factorial(len(word))
    value = word_arrangements(word)
    divisor_text = "*".join(f"{count}!" for _, count in repeated) or "1"
    divisor = total // value
    if words:
        repeats = ", ".join(f"{letter} {count} times" for letter, count in repeated) or "no letter repeats"
        return [
            f"{word} has {len(word)} letters; {repeats}.",
            f"All orderings: {len(word)}! = {total}. Swapping equal letters gives the same string, so divide by "
            f"{divisor_text} = {divisor}: {total}/{divisor} = {value}.",
        ]
    return [f"{len(word)}!/({divisor_text}) = {total}/{divisor} = {value}"]
