"""Number sequences: find the next term of an integer sequence made by a rule from a stated family.

The family (arithmetic, geometric, alternating differences, quadratic, Fibonacci-like, interleaved, affine) and its
parameter ranges are part of the prompt. The generator shows terms until every rule of the family, over the whole
parameter ranges, that fits the shown terms predicts the same next term (and redraws when that takes too many
terms), so the answer is unique.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

KINDS = ("arithmetic", "geometric", "alternating", "quadratic", "fibonacci", "interleaved", "affine")
_PARAMS = {
    "arithmetic": ("a", "d"),
    "geometric": ("a", "r"),
    "alternating": ("a", "d1", "d2"),
    "quadratic": ("a", "d", "e"),
    "fibonacci": ("a", "b", "c"),
    "interleaved": ("a", "b", "d1", "d2"),
    "affine": ("a", "r", "c"),
}
_RULE_TEXT = {
    "arithmetic": "arithmetic: a(n) = a(n-1) + d",
    "geometric": "geometric: a(n) = r * a(n-1)",
    "alternating": "alternating differences: a(2) - a(1) = d1, a(3) - a(2) = d2, a(4) - a(3) = d1, and so on",
    "quadratic": "second-order: the differences grow by e each step, a(n+1) - a(n) = d + (n-1)*e",
    "fibonacci": "Fibonacci-like: a(1) = a, a(2) = b, then a(n) = a(n-1) + a(n-2) + c",
    "interleaved": "interleaved: the terms at odd positions (1st, 3rd, ...) go up by d1 each time, the terms at "
    "even positions (2nd, 4th, ...) start at a(2) = b and go up by d2 each time",
    "affine": "affine: a(n) = r * a(n-1) + c",
}
_MAX_ANSWER_CHARS = 40
_COUNT_PARAM_LIMIT = 20_000


@dataclass(frozen=True)
class NumberSequenceConfig:
    rules: str = "arithmetic,geometric,alternating"
    start_max: int = 20
    step_max: int = 10
    second_max: int = 5
    ratio_max: int = 3
    const_max: int = 5
    min_terms: int = 5
    max_terms: int = 7

    def __post_init__(self) -> None:
        kinds = self.rules.split(",")
        if not kinds or any(kind not in KINDS for kind in kinds) or len(set(kinds)) != len(kinds):
            raise ValueError(f"rules must be distinct names from {', '.join(KINDS)} joined by commas")
        for knob in ("start_max", "step_max", "second_max", "const_max"):
            if not 1 <= getattr(self, knob) <= 1000:
                raise ValueError(f"{knob} must be in 1..1000")
        if not 2 <= self.ratio_max <= 10:
            raise ValueError("ratio_max must be in 2..10")
        if not 5 <= self.min_terms <= self.max_terms <= 12:
            raise ValueError("need 5 <= min_terms <= max_terms <= 12")

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.rules.split(","))

    @property
    def ratios(self) -> tuple[int, ...]:
        return (*range(-self.ratio_max, -1), *range(2, self.ratio_max + 1))


def rule_terms(kind: str, params: tuple[int, ...], count: int) -> list[int]:
    """The first ``count`` terms (count >= 2) of the rule ``kind`` with ``params`` (in the order of _PARAMS)."""
    terms = [params[0]]
    if kind in ("fibonacci", "interleaved"):
        terms.append(params[1])
    while len(terms) < count:
        i, last = len(terms) - 1, terms[-1]  # computing terms[i + 1]
        if kind == "arithmetic":
            terms.append(last + params[1])
        elif kind == "geometric":
            terms.append(last * params[1])
        elif kind == "alternating":
            terms.append(last + (params[1] if i % 2 == 0 else params[2]))
        elif kind == "quadratic":
            terms.append(last + params[1] + i * params[2])
        elif kind == "fibonacci":
            terms.append(last + terms[-2] + params[2])
        elif kind == "interleaved":
            terms.append(terms[-2] + (params[2] if (i + 1) % 2 == 0 else params[3]))
        else:
            terms.append(params[1] * last + params[2])
    return terms[:count]


def all_params(kind: str, cfg: NumberSequenceConfig, drawable: bool = False) -> list[tuple[int, ...]]:
    """Every parameter tuple of ``kind`` in the stated ranges; with ``drawable``, only those the generator draws
    (non-degenerate: d != 0, a != 0 for geometric, d1 != d2, e != 0, c != 0 for affine)."""
    starts = range(-cfg.start_max, cfg.start_max + 1)
    steps = range(-cfg.step_max, cfg.step_max + 1)
    seconds = range(-cfg.second_max, cfg.second_max + 1)
    consts = range(-cfg.const_max, cfg.const_max + 1)
    if kind == "arithmetic":
        out = [(a, d) for a in starts for d in steps if not drawable or d]
    elif kind == "geometric":
        out = [(a, r) for a in starts for r in cfg.ratios if not drawable or a]
    elif kind == "alternating":
        out = [(a, x, y) for a in starts for x in steps for y in steps if not drawable or x != y]
    elif kind == "quadratic":
        out = [(a, d, e) for a in starts for d in steps for e in seconds if not drawable or e]
    elif kind == "fibonacci":
        out = [(a, b, c) for a in starts for b in starts for c in consts]
    elif kind == "interleaved":
        out = [
            (a, b, x, y)
            for a in starts
            for b in starts
            for x in steps
            for y in steps
            if not drawable or x != y
        ]
    else:
        out = [(a, r, c) for a in starts for r in cfg.ratios for c in consts if not drawable or c]
    return out


def param_count(kind: str, cfg: NumberSequenceConfig) -> int:
    s, d, e = 2 * cfg.start_max + 1, 2 * cfg.step_max + 1, 2 * cfg.second_max + 1
    c, r = 2 * cfg.const_max + 1, len(cfg.ratios)
    return {
        "arithmetic": s * d,
        "geometric": s * r,
        "alternating": s * d * d,
        "quadratic": s * d * e,
        "fibonacci": s * s * c,
        "interleaved": s * s * d * d,
        "affine": s * r * c,
    }[kind]


def draw_params(kind: str, cfg: NumberSequenceConfig, rng: random.Random) -> tuple[int, ...]:
    """A uniformly random drawable parameter tuple (see :func:`all_params`)."""

    def pick(bound: int, nonzero: bool = False) -> int:
        while True:
            value = rng.randint(-bound, bound)
            if value or not nonzero:
                return value

    a = pick(cfg.start_max)
    if kind == "arithmetic":
        return (a, pick(cfg.step_max, True))
    if kind == "geometric":
        return (pick(cfg.start_max, True), rng.choice(cfg.ratios))
    if kind in ("alternating", "interleaved"):
        head = (a,) if kind == "alternating" else (a, pick(cfg.start_max))
        while True:
            x, y = pick(cfg.step_max), pick(cfg.step_max)
            if x != y:
                return (*head, x, y)
    if kind == "quadratic":
        return (a, pick(cfg.step_max), pick(cfg.second_max, True))
    if kind == "fibonacci":
        return (a, pick(cfg.start_max), pick(cfg.const_max))
    return (a, rng.choice(cfg.ratios), pick(cfg.const_max, True))


def fits(terms: list[int], cfg: NumberSequenceConfig) -> list[tuple[str, tuple[int, ...], int]]:
    """Every (kind, params, next term) of the family that reproduces ``terms`` (len >= 4), derived directly: each
    kind's parameters follow from its first terms (or, for the ratio kinds, from each allowed ratio)."""
    t, m = terms, len(terms)
    found = []
    sm, dm, em, cm = cfg.start_max, cfg.step_max, cfg.second_max, cfg.const_max
    if abs(t[0]) > sm:
        return found
    for kind in cfg.kinds:
        candidates: list[tuple[int, ...]] = []
        if kind == "arithmetic":
            if abs(t[1] - t[0]) <= dm:
                candidates.append((t[0], t[1] - t[0]))
        elif kind == "geometric":
            candidates.extend((t[0], r) for r in cfg.ratios)
        elif kind == "alternating":
            d1, d2 = t[1] - t[0], t[2] - t[1]
            if abs(d1) <= dm and abs(d2) <= dm:
                candidates.append((t[0], d1, d2))
        elif kind == "quadratic":
            d, e = t[1] - t[0], t[2] - 2 * t[1] + t[0]
            if abs(d) <= dm and abs(e) <= em:
                candidates.append((t[0], d, e))
        elif kind == "fibonacci":
            c = t[2] - t[1] - t[0]
            if abs(t[1]) <= sm and abs(c) <= cm:
                candidates.append((t[0], t[1], c))
        elif kind == "interleaved":
            d1, d2 = t[2] - t[0], t[3] - t[1]
            if abs(t[1]) <= sm and abs(d1) <= dm and abs(d2) <= dm:
                candidates.append((t[0], t[1], d1, d2))
        else:
            for r in cfg.ratios:
                c = t[1] - r * t[0]
                if abs(c) <= cm:
                    candidates.append((t[0], r, c))
        for params in candidates:
            predicted = rule_terms(kind, params, m + 1)
            if predicted[:m] == t:
                found.append((kind, params, predicted[m]))
    return found


def shown_terms(kind: str, params: tuple[int, ...], cfg: NumberSequenceConfig) -> list[int] | None:
    """The shortest run of terms (min_terms..max_terms) whose fitting rules all agree on the next term; None when
    none does, or the terms are all equal."""
    full = rule_terms(kind, params, cfg.max_terms + 1)
    if len(set(full[: cfg.min_terms])) == 1:
        return None
    for m in range(cfg.min_terms, cfg.max_terms + 1):
        if len({nxt for _, _, nxt in fits(full[:m], cfg)}) == 1:
            return full[:m]
    return None


@functools.lru_cache(maxsize=32)
def _count_shown(cfg: NumberSequenceConfig) -> int:
    """Distinct shown sequences over the cheapest kinds (all of a kind or none, <= _COUNT_PARAM_LIMIT tuples)."""
    seen = set()
    budget = _COUNT_PARAM_LIMIT
    for kind in sorted(cfg.kinds, key=lambda k: param_count(k, cfg)):
        if param_count(kind, cfg) > budget:
            break
        budget -= param_count(kind, cfg)
        for params in all_params(kind, cfg, drawable=True):
            terms = shown_terms(kind, params, cfg)
            if terms is not None:
                seen.add(tuple(terms))
    return len(seen)


def parse_integer(text: str) -> int | None:
    text = text.strip().rstrip(".").strip()
    body = text[1:] if text[:1] in "+-" else text
    if not body or len(body) > 30 or not all("0" <= char <= "9" for char in body):
        return None
    return int(text)


def _join(values: list[int]) -> str:
    return " ".join(str(v) for v in values)


def _params_text(kind: str, params: tuple[int, ...]) -> str:
    return " ".join(f"{name}={value}" for name, value in zip(_PARAMS[kind], params))


@register_env
class NumberSequence(Game):
    """Find the next term of an integer sequence made by a rule from a stated family.

    **Rules.** The prompt shows the first terms of an integer sequence and the family of rules it may come from,
    with integer parameter ranges: arithmetic (a(n) = a(n-1) + d), geometric (a(n) = r*a(n-1)), alternating
    differences (d1, d2, d1, ...), second-order (differences d, d+e, d+2e, ...), Fibonacci-like
    (a(n) = a(n-1) + a(n-2) + c), interleaved (two arithmetic sequences at odd and even positions) and affine
    (a(n) = r*a(n-1) + c); each level uses some of them. Give the next term.

    **Answer.** One integer (an optional sign; a trailing period and spaces are tolerated). It is unique: the
    generator shows terms (at least ``min_terms``) until EVERY rule of the stated family, over the whole stated
    parameter ranges, that reproduces the shown terms predicts the same next term, and redraws the rule when that
    needs more than ``max_terms`` terms. The fitting is exact: each rule's parameters follow from its first terms,
    and the tests compare it with brute force over every parameter tuple.

    **Levels.** easy: arithmetic, geometric, alternating; starts in -20..20, steps -10..10, ratios +-2, +-3, 5-7
    terms. medium: adds second-order and Fibonacci-like; starts -30..30, 5-8 terms. hard: all seven kinds, starts
    -50..50, steps -20..20, 5-8 terms (knobs ``rules``, ``start_max``, ``step_max``, ``second_max``,
    ``ratio_max``, ``const_max``, ``min_terms``, ``max_terms``).

    **Example** (medium). ``seq 2 5 10 17 26 ?`` -> ``37`` (the differences 3 5 7 9 grow by 2; no other rule of
    the family fits).
    """

    name = "number_sequence"
    title = "NumberSequence"
    family = "sequence puzzle"
    category = "sequential"
    description = "Give the next term of an integer sequence from a stated family of rules (unique answer)."
    Config = NumberSequenceConfig
    levels = {
        "easy": {
            "rules": "arithmetic,geometric,alternating",
            "start_max": 20,
            "step_max": 10,
            "max_terms": 7,
        },
        "medium": {
            "rules": "arithmetic,geometric,alternating,quadratic,fibonacci",
            "start_max": 30,
            "step_max": 10,
            "second_max": 5,
            "const_max": 5,
            "max_terms": 8,
        },
        "hard": {
            "rules": ",".join(KINDS),
            "start_max": 50,
            "step_max": 20,
            "second_max": 6,
            "const_max": 10,
            "max_terms": 8,
        },
    }
    trace_styles = ("steps", "words")
    multiple_solutions = False

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        while True:
            kind = rng.choice(cfg.kinds)
            params = draw_params(kind, cfg, rng)
            terms = shown_terms(kind, params, cfg)
            if terms is not None:
                break
        answer = rule_terms(kind, params, len(terms) + 1)[-1]
        problem = {
            "terms": terms,
            "rules": list(cfg.kinds),
            "ranges": {
                "start": cfg.start_max,
                "step": cfg.step_max,
                "second": cfg.second_max,
                "ratio": cfg.ratio_max,
                "const": cfg.const_max,
            },
        }
        return problem, str(answer)

    def instance_space(self) -> int:
        """A lower bound: the exact number of distinct shown sequences from the kinds that are cheap to enumerate
        (fewest parameter tuples first, up to 20,000 tuples in all); the other kinds only add to it."""
        return _count_shown(self.config)

    def _ranges_text(self, instance: Instance) -> str:
        kinds, ranges = instance.problem["rules"], instance.problem["ranges"]
        starts = "a(1)" + (" and b" if {"fibonacci", "interleaved"} & set(kinds) else "")
        parts = [f"{starts} from {-ranges['start']} to {ranges['start']}"]
        names = [name for kind in kinds for name in _PARAMS[kind]]
        steps = [name for name in ("d", "d1", "d2") if name in names]
        if steps:
            parts.append(f"{', '.join(steps)} from {-ranges['step']} to {ranges['step']}")
        if "e" in names:
            parts.append(f"e from {-ranges['second']} to {ranges['second']}")
        if "r" in names:
            ratios = [*range(-ranges["ratio"], -1), *range(2, ranges["ratio"] + 1)]
            parts.append(f"r one of {', '.join(str(r) for r in ratios)}")
        if "c" in names:
            parts.append(f"c from {-ranges['const']} to {ranges['const']}")
        return "; ".join(parts)

    def prompt(self, instance: Instance) -> str:
        terms = instance.problem["terms"]
        return "\n".join(
            [
                f"These are the first {len(terms)} terms of an integer sequence:",
                f"  {', '.join(str(t) for t in terms)}",
                "The sequence follows one of these rules (a(1) is the first term):",
                *(f"  - {_RULE_TEXT[kind]}" for kind in instance.problem["rules"]),
                f"All parameters are integers: {self._ranges_text(instance)}.",
                "Every rule of this list (with parameters in these ranges) that fits all the shown terms gives "
                "the same next term. What is the next term?",
                "Think step by step, then give the next term as a single integer inside <answer></answer>.",
            ]
        )

    def compact_prompt(self, instance: Instance) -> str:
        return f"seq {_join(instance.problem['terms'])} ?\n"

    def check(self, instance: Instance, answer: str) -> bool:
        if len(answer) > _MAX_ANSWER_CHARS:
            return False
        value = parse_integer(answer)
        return value is not None and str(value) == instance.answer

    def _config_of(self, instance: Instance) -> NumberSequenceConfig:
        ranges = instance.problem["ranges"]
        terms = instance.problem["terms"]
        return NumberSequenceConfig(
            rules=",".join(instance.problem["rules"]),
            start_max=ranges["start"],
            step_max=ranges["step"],
            second_max=ranges["second"],
            ratio_max=ranges["ratio"],
            const_max=ranges["const"],
            min_terms=max(5, len(terms)),
            max_terms=max(5, len(terms)),
        )

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        terms = instance.problem["terms"]
        found = fits(terms, self._config_of(instance))
        fitting: dict[str, tuple[tuple[int, ...], int]] = {}
        for kind, params, nxt in found:
            fitting.setdefault(kind, (params, nxt))
        answer = found[0][2] if found else int(instance.answer)
        diffs = [b - a for a, b in zip(terms, terms[1:])]
        second = [b - a for a, b in zip(diffs, diffs[1:])]
        lines = []
        if style == "steps":
            lines.append(f"seq {_join(terms)}")
            lines.append(f"d {_join(diffs)}")
            lines.append(f"dd {_join(second)}")
            for kind in instance.problem["rules"]:
                if kind in fitting:
                    params, nxt = fitting[kind]
                    lines.append(f"{kind} {_params_text(kind, params)} next {nxt}")
                else:
                    lines.append(f"{kind} no")
            lines.append(f"next {answer}")
        else:
            lines.append(
                f"The differences between consecutive terms are {', '.join(map(str, diffs))}, and the "
                f"differences of those are {', '.join(map(str, second))}."
            )
            misses = [kind for kind in instance.problem["rules"] if kind not in fitting]
            for kind, (params, nxt) in fitting.items():
                described = ", ".join(f"{n} = {v}" for n, v in zip(_PARAMS[kind], params))
                lines.append(
                    f"The {kind} rule with {described} reproduces every shown term and continues with {nxt}."
                )
            if misses:
                listed = misses[0] if len(misses) == 1 else f"{', '.join(misses[:-1])} or {misses[-1]}"
                lines.append(f"No {listed} rule in the allowed ranges fits all the terms.")
            lines.append(f"So the next term is {answer}.")
        return "\n".join(lines) + f"\n<answer>{answer}</answer>"
