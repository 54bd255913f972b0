"""Knights and knaves: knights always tell the truth, knaves always lie; who is which?

Each of the n inhabitants (named A, B, C, ...) makes one statement about who is a knight or a knave, built from
atoms ("B is a knave") with not / and / or / if-then / if-and-only-if up to a nesting depth. The generator draws a
secret assignment, writes statements that fit it, and keeps the puzzle only if brute force over all 2^n assignments
finds exactly one consistent assignment.

Answer: every inhabitant's role, e.g. ``A=knight,B=knave`` (any order; ``A: knight`` and ``A is a knave`` also read;
case ignored). Every inhabitant must be named exactly once.
"""

from __future__ import annotations

import itertools
import random
import re
import string
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

ROLES = ("knight", "knave")
BINARY_OPS = ("and", "or", "implies", "iff")
_MAX_ANSWER_CHARS = 400
_PAIR = re.compile(r"\b([a-z])\s*(?:=|:|\bis\s+an?\b|\bis\b)\s*(knight|knave)s?\b")
_ENUMERATE_LIMIT = 20_000
_SYMBOLS = {"and": "&", "or": "|", "implies": ">", "iff": "="}

Formula = list  # ["is", name, role] | ["not", f] | [op, f, g]


@dataclass(frozen=True)
class KnightsKnavesConfig:
    n_people: int = 2
    max_depth: int = 1

    def __post_init__(self) -> None:
        if not 2 <= self.n_people <= 8:
            raise ValueError(f"n_people must be in 2..8, got {self.n_people!r}")
        # Depth 0 (bare "X is a knight" statements) never has a unique solution: flipping every role keeps each
        # statement's truth equal to its speaker's honesty, so solutions come in pairs.
        if not 1 <= self.max_depth <= 3:
            raise ValueError(f"max_depth must be in 1..3, got {self.max_depth!r}")


def evaluate(formula: Formula, knights: dict[str, bool]) -> bool:
    """Truth value of ``formula`` when ``knights[name]`` says whether name is a knight."""
    op = formula[0]
    if op == "is":
        return knights[formula[1]] == (formula[2] == "knight")
    if op == "not":
        return not evaluate(formula[1], knights)
    left, right = evaluate(formula[1], knights), evaluate(formula[2], knights)
    if op == "and":
        return left and right
    if op == "or":
        return left or right
    if op == "implies":
        return (not left) or right
    return left == right


def depth(formula: Formula) -> int:
    if formula[0] == "is":
        return 0
    return 1 + max(depth(child) for child in formula[1:])


def mentioned(formula: Formula) -> list[str]:
    """Names the formula talks about, sorted."""
    if formula[0] == "is":
        return [formula[1]]
    return sorted({name for child in formula[1:] for name in mentioned(child)})


def consistent(statements: list[dict[str, Any]], knights: dict[str, bool]) -> bool:
    """Every speaker's statement is true exactly when the speaker is a knight."""
    return all(evaluate(s["says"], knights) == knights[s["speaker"]] for s in statements)


def solutions(names: list[str], statements: list[dict[str, Any]], limit: int = 2) -> list[dict[str, bool]]:
    """Consistent assignments by brute force over all 2^n (stops after ``limit``)."""
    found = []
    for bits in itertools.product((True, False), repeat=len(names)):
        knights = dict(zip(names, bits))
        if consistent(statements, knights):
            found.append(knights)
            if len(found) >= limit:
                break
    return found


def all_formulas(names: list[str], max_depth: int) -> list[Formula]:
    """Every formula the generator can write, up to ``max_depth`` (used to count small instance spaces)."""
    by_depth: list[list[Formula]] = [[["is", name, role] for name in names for role in ROLES]]
    for level in range(1, max_depth + 1):
        below = [f for layer in by_depth for f in layer]
        newest = by_depth[-1]
        layer: list[Formula] = [["not", f] for f in newest if f[0] != "is"]
        for op in BINARY_OPS:
            for left in below:
                for right in below:
                    if left != right and (depth(left) == level - 1 or depth(right) == level - 1):
                        layer.append([op, left, right])
        by_depth.append(layer)
    return [f for layer in by_depth for f in layer]


def count_formulas(people: int, max_depth: int) -> int:
    """|all_formulas| in closed form: E_0 = 2p, E_d = E_{d-1}[d>1] + 4(F_{d-1}(F_{d-1}-1) - F_{d-2}(F_{d-2}-1))."""
    exact = [2 * people]
    upto = [2 * people]
    for level in range(1, max_depth + 1):
        below = upto[-1]
        below2 = upto[-2] if level >= 2 else 0
        negations = exact[-1] if level >= 2 else 0
        exact.append(negations + len(BINARY_OPS) * (below * (below - 1) - below2 * max(below2 - 1, 0)))
        upto.append(below + exact[-1])
    return upto[-1]


def random_formula(names: list[str], max_depth: int, rng: random.Random) -> Formula:
    """A random formula of depth <= max_depth: an atom, a negated compound, or a binary connective."""
    if max_depth == 0 or rng.random() < 0.3:
        return ["is", rng.choice(names), rng.choice(ROLES)]
    while True:
        if max_depth >= 2 and rng.random() < 0.15:
            inner = random_formula(names, max_depth - 1, rng)
            if inner[0] != "is":
                return ["not", inner]
            continue
        left = random_formula(names, max_depth - 1, rng)
        right = random_formula(names, max_depth - 1, rng)
        if left != right:
            return [rng.choice(BINARY_OPS), left, right]


def to_english(formula: Formula, top: bool = True) -> str:
    op = formula[0]
    if op == "is":
        return f"{formula[1]} is a {formula[2]}"
    if op == "not":
        text = f"it is false that {to_english(formula[1], False)}"
    else:
        left, right = to_english(formula[1], False), to_english(formula[2], False)
        text = {
            "and": f"{left} and {right}",
            "or": f"{left} or {right}",
            "implies": f"if {left} then {right}",
            "iff": f"{left} if and only if {right}",
        }[op]
    return text if top else f"({text})"


def to_symbols(formula: Formula, top: bool = True) -> str:
    """Compact notation: A+ knight, A- knave, ~ not, & and, | or, > implies, = iff."""
    op = formula[0]
    if op == "is":
        return formula[1] + ("+" if formula[2] == "knight" else "-")
    if op == "not":
        text = "~" + to_symbols(formula[1], False)
    else:
        text = to_symbols(formula[1], False) + _SYMBOLS[op] + to_symbols(formula[2], False)
    return text if top else f"({text})"


def parse_roles(answer: str, names: list[str]) -> dict[str, bool] | None:
    """``A=knight,B=knave`` -> {"A": True, "B": False}; None unless every name appears once with one role."""
    if len(answer) > _MAX_ANSWER_CHARS:
        return None
    roles: dict[str, bool] = {}
    for name, role in _PAIR.findall(answer.lower()):
        name = name.upper()
        if name not in names or roles.get(name, role == "knight") != (role == "knight"):
            return None
        roles[name] = role == "knight"
    return roles if len(roles) == len(names) else None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _format_roles(knights: dict[str, bool]) -> str:
    return ",".join(f"{name}={'knight' if knights[name] else 'knave'}" for name in sorted(knights))


@register_env
class KnightsKnaves(Game):
    name = "knights_knaves"
    title = "KnightsKnaves"
    family = "logic puzzle"
    category = "logic"
    description = "Knights always tell the truth, knaves always lie: find who is which (unique solution)."
    Config = KnightsKnavesConfig
    levels = {
        "easy": {"n_people": 2, "max_depth": 1},
        "medium": {"n_people": 3, "max_depth": 2},
        "hard": {"n_people": 5, "max_depth": 2},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = False

    @property
    def names(self) -> list[str]:
        return list(string.ascii_uppercase[: self.config.n_people])

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        names = self.names
        while True:
            knights = {name: rng.random() < 0.5 for name in names}
            statements = []
            for speaker in names:
                while True:
                    formula = random_formula(names, self.config.max_depth, rng)
                    if evaluate(formula, knights) == knights[speaker]:
                        break
                statements.append({"speaker": speaker, "says": formula})
            if len(solutions(names, statements)) == 1:
                return {"people": names, "statements": statements}, _format_roles(knights)

    def instance_space(self) -> int:
        """Exact count when the statement tuples are few enough to enumerate; else a lower bound.

        Lower bound (a chain family with a unique solution): A says "A is a knight or A is a knave" (so A is a
        knight) and each later speaker talks only about earlier ones (whose roles are then fixed, so theirs is):
        prod_{i=2..n} F(i-1 people, depth).
        """
        names, max_depth = self.names, self.config.max_depth
        per_speaker = count_formulas(len(names), max_depth)
        if per_speaker ** len(names) <= _ENUMERATE_LIMIT:
            formulas = all_formulas(names, max_depth)
            total = 0
            for says in itertools.product(formulas, repeat=len(names)):
                statements = [{"speaker": n, "says": f} for n, f in zip(names, says)]
                total += len(solutions(names, statements)) == 1
            return total
        bound = 1
        for earlier in range(1, len(names)):
            bound *= count_formulas(earlier, max_depth)
        return bound

    def prompt(self, instance: Instance) -> str:
        people = instance.problem["people"]
        said = "\n".join(
            f'{s["speaker"]} says: "{_sentence(to_english(s["says"]))}"'
            for s in instance.problem["statements"]
        )
        example = ",".join(f"{name}={'knight' if i % 2 == 0 else 'knave'}" for i, name in enumerate(people))
        return (
            f"On an island every inhabitant is either a knight, who always tells the truth, or a knave, who always "
            f"lies. You meet {len(people)} inhabitants: {', '.join(people)}.\n{said}\n"
            "Exactly one assignment of roles fits. Reason step by step, then give every inhabitant's role inside "
            f"<answer></answer>, for example <answer>{example}</answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        return (
            " ".join(f"{s['speaker']}:{to_symbols(s['says'])}" for s in instance.problem["statements"]) + "\n"
        )

    def check(self, instance: Instance, answer: str) -> bool:
        people = instance.problem["people"]
        roles = parse_roles(answer, people)
        if roles is None:
            return False
        return consistent(instance.problem["statements"], roles)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        """Backtracking over A, B, ... (knight first); a statement is checked as soon as its speaker and everyone it
        mentions have a role."""
        self._check_style(style)
        people = instance.problem["people"]
        statements = instance.problem["statements"]
        lines: list[str] = []
        knights: dict[str, bool] = {}

        def role(name: str) -> str:
            return "knight" if knights[name] else "knave"

        def ready(statement: dict[str, Any], name: str) -> bool:
            needed = {statement["speaker"], *mentioned(statement["says"])}
            return name in needed and needed <= set(knights)

        def search(index: int) -> bool:
            if index == len(people):
                return True
            name = people[index]
            for is_knight in (True, False):
                knights[name] = is_knight
                lines.append(
                    f"{name}={role(name)}?" if style == "steps" else f"Suppose {name} is a {role(name)}."
                )
                ok = True
                for statement in statements:
                    if not ready(statement, name):
                        continue
                    speaker, says = statement["speaker"], statement["says"]
                    truth = evaluate(says, knights)
                    ok = truth == knights[speaker]
                    if style == "steps":
                        verdict = "ok" if ok else "contradiction"
                        lines.append(
                            f"{speaker}: {to_symbols(says)} is {str(truth).lower()}, {speaker} {role(speaker)}: {verdict}"
                        )
                    else:
                        fact = "true" if truth else "false"
                        needs = "must tell the truth" if knights[speaker] else "must lie"
                        result = "which fits" if ok else "which is impossible"
                        lines.append(
                            f'Then {speaker}\'s statement "{to_english(says)}" is {fact}, and {speaker} as a '
                            f"{role(speaker)} {needs}, {result}."
                        )
                    if not ok:
                        break
                if ok and search(index + 1):
                    return True
                del knights[name]
            if style == "steps":
                lines.append(f"{name}: no role works, back")
            else:
                lines.append(f"Neither role works for {name}, so an earlier guess was wrong.")
            return False

        if not search(0):
            raise RuntimeError("knights and knaves puzzle has no solution")  # the generator guarantees one
        return "\n".join(lines) + f"\n<answer>{_format_roles(knights)}</answer>"
