"""Zebra (Einstein) puzzle: houses in a row, each person with one value per category; deduce who has what from clues."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Any

from pearbench.envs._propagate import (
    Contradiction,
    eliminate_singles,
    hidden_singles,
    mask_values,
    narrow,
    search,
    solved,
)
from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

#: (category, values, noun phrase for "the person who ...", verb phrase "... X"). Every value is one distinct word.
CATEGORIES: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("color", ("red", "green", "blue", "yellow", "white", "purple", "orange"), "the person in the {} house",
     "lives in the {} house"),
    ("pet", ("dog", "cat", "bird", "fish", "horse", "rabbit", "hamster"), "the person who owns a {}", "owns a {}"),
    ("drink", ("tea", "coffee", "milk", "water", "juice", "cocoa", "lemonade"), "the person who drinks {}",
     "drinks {}"),
    ("hobby", ("chess", "painting", "hiking", "gardening", "reading", "cycling", "dancing"),
     "the person who enjoys {}", "enjoys {}"),
    ("food", ("pizza", "pasta", "sushi", "curry", "salad", "soup", "tacos"), "the person who eats {}", "eats {}"),
    ("music", ("jazz", "rock", "blues", "pop", "folk", "opera", "reggae"), "the person who listens to {}",
     "listens to {}"),
)  # fmt: skip
_CATEGORY = {name: (values, noun, verb) for name, values, noun, verb in CATEGORIES}
_CLUE_WEIGHTS = {"same": 4, "not_same": 1, "at": 1, "not_at": 1, "left": 2, "next": 2, "before": 1}
_QUESTIONS = ("attribute", "full")
_FILLER_WORDS = frozenset({"house", "the", "and", "a", "an", "is", "in", "lives", "of"})
_MAX_ANSWER_CHARS = 2_000
_MAX_WORDS = 20
#: generation adds clues this many at a time between propagations (pruning removes any excess)
_ADD_BATCH = 3


@dataclass(frozen=True)
class ZebraConfig:
    houses: int = 3
    categories: int = 3
    question: str = "attribute"

    def __post_init__(self) -> None:
        if not 2 <= self.houses <= 7:
            raise ValueError("houses must be in 2..7")
        if not 2 <= self.categories <= len(CATEGORIES):
            raise ValueError(f"categories must be in 2..{len(CATEGORIES)}")
        if self.question not in _QUESTIONS:
            raise ValueError(f"question must be one of {', '.join(_QUESTIONS)}")


@functools.lru_cache(maxsize=64)
def _peers(sizes: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """The other values of each value's category, in category order (the values are distinct and numbered category
    after category)."""
    starts = [sum(sizes[:g]) for g in range(len(sizes))]
    return tuple(
        tuple(start + j for j in range(size) if j != i)
        for start, size in zip(starts, sizes)
        for i in range(size)
    )


class _Solver:
    """Domains are bitmasks of houses per value (bit h-1: house h possible); propagation plus depth-first search.

    ``groups``: the values of each category; ``clues``: ``[kind, value, value_or_house]``. With ``log``, records
    ``("narrow", value, houses, reason)``, ``("guess", value, house)`` and ``("undo", value, house)``.
    """

    def __init__(
        self, n: int, groups: list[list[str]], clues: list[list[Any]], log: list | None = None
    ) -> None:
        self.n = n
        self.full = (1 << n) - 1
        self.groups = groups
        self.values = [value for group in groups for value in group]
        self.index = {value: i for i, value in enumerate(self.values)}
        self.group_of = [g for g, group in enumerate(groups) for _ in group]
        self.members = [[self.index[v] for v in group] for group in groups]
        self.peers = _peers(tuple(map(len, groups)))
        #: (clue number, kind, value index, value index or house), in the order given
        self.clues: list[tuple[int, str, int, int]] = []
        for clue in clues:
            self.add_clue(clue)
        self.log = log

    def add_clue(self, clue: list[Any]) -> None:
        kind, a, b = clue
        self.clues.append(
            (len(self.clues) + 1, kind, self.index[a], b if isinstance(b, int) else self.index[b])
        )

    def _record(self, var: int, new: int, reason: Any) -> None:
        self.log.append(("narrow", self.values[var], mask_values(new), reason))

    def _note_taken(self, var: int, new: int, other: int, house: int) -> None:
        self._record(var, new, ("taken", other, house))

    def _note_only(self, var: int, new: int, group: int, house: int) -> None:
        self._record(var, new, ("only", group))

    def propagate(self, domains: list[int]) -> None:
        """Shrink domains in place to a fixed point; raises Contradiction when a value or house has no place."""
        full, peers, log = self.full, self.peers, self.log
        everything = range(len(domains))
        spread = [False] * len(domains)
        changed = True
        while changed:
            changed = False
            for number, kind, a, b in self.clues:
                # masks from the domains before this clue; a narrowed first, then b (a value, or a house for at/not_at)
                da, mask_b = domains[a], None
                if kind == "at":
                    mask_a = 1 << (b - 1)
                elif kind == "not_at":
                    mask_a = ~(1 << (b - 1))
                else:
                    db = domains[b]
                    if kind == "same":
                        mask_a, mask_b = db, da
                    elif kind == "not_same":
                        mask_a = ~db if db & (db - 1) == 0 else -1
                        mask_b = ~da if da & (da - 1) == 0 else -1
                    elif kind == "left":  # house(b) = house(a) + 1
                        mask_a, mask_b = db >> 1, (da << 1) & full
                    elif kind == "next":
                        mask_a, mask_b = (db << 1 | db >> 1) & full, (da << 1 | da >> 1) & full
                    else:  # before: house(a) < house(b)
                        mask_a, mask_b = (1 << (db.bit_length() - 1)) - 1, full & ~((da & -da) * 2 - 1)
                if da & mask_a != da:
                    narrow(domains, a, mask_a)
                    changed = True
                    if log is not None:
                        self._record(a, domains[a], number)
                if mask_b is not None and domains[b] & mask_b != domains[b]:
                    narrow(domains, b, mask_b)
                    changed = True
                    if log is not None:
                        self._record(b, domains[b], number)
            if log is None:  # the same fixed point with two calls instead of two per category
                changed |= eliminate_singles(domains, everything, peers, spread)
                changed |= hidden_singles(domains, enumerate(self.members), full)
                continue
            for group, members in enumerate(self.members):  # the trace shows each category in turn
                changed |= eliminate_singles(domains, members, peers, spread, self._note_taken)
                changed |= hidden_singles(domains, ((group, members),), full, self._note_only)

    def solutions(self, limit: int, domains: list[int] | None = None) -> list[list[int]]:
        """Up to ``limit`` solutions, each the 1-based house of every value (in ``self.values`` order)."""
        start = [self.full] * len(self.values) if domains is None else list(domains)
        return search(start, self.propagate, limit, self.log, self.values.__getitem__)


def _holds(clue: list[Any], house_of: dict[str, int]) -> bool:
    """Is ``clue`` true of a complete assignment value -> house?"""
    kind, a, b = clue
    ha = house_of[a]
    if kind == "at":
        return ha == b
    if kind == "not_at":
        return ha != b
    hb = house_of[b]
    return {
        "same": ha == hb,
        "not_same": ha != hb,
        "left": hb == ha + 1,
        "next": abs(ha - hb) == 1,
        "before": ha < hb,
    }[kind]


def _solved_by_propagation(n: int, groups: list[list[str]], clues: list[list[Any]]) -> bool:
    solver = _Solver(n, groups, clues)
    domains = [solver.full] * len(solver.values)
    try:
        solver.propagate(domains)
    except Contradiction:  # pragma: no cover - true clues never contradict
        return False
    return solved(domains)


def _random_clue(rng: random.Random, n: int, groups: list[list[str]], house_of: dict[str, int]) -> list[Any]:
    """One random clue that is true of the solution ``house_of``."""
    kinds = list(_CLUE_WEIGHTS)
    while True:
        kind = rng.choices(kinds, weights=[_CLUE_WEIGHTS[k] for k in kinds])[0]
        g1, g2 = rng.randrange(len(groups)), rng.randrange(len(groups))
        a, b = rng.choice(groups[g1]), rng.choice(groups[g2])
        ha, hb = house_of[a], house_of[b]
        if kind == "at":
            return ["at", a, ha]
        if kind == "not_at":
            others = [h for h in range(1, n + 1) if h != ha]
            return ["not_at", a, rng.choice(others)]
        if g1 == g2:
            continue
        if kind == "same" and ha == hb:
            return ["same", a, b]
        if kind == "not_same" and ha != hb:
            return ["not_same", a, b]
        if kind == "left" and hb == ha + 1:
            return ["left", a, b]
        if kind == "next" and abs(ha - hb) == 1:
            return ["next", a, b]
        if kind == "before" and ha < hb:
            return ["before", a, b]


def _clue_text(clue: list[Any], category_of: dict[str, str]) -> str:
    kind, a, b = clue

    def noun(value: str) -> str:
        return _CATEGORY[category_of[value]][1].format(value)

    subject = noun(a)
    subject = subject[0].upper() + subject[1:]
    if kind == "at":
        return f"{subject} lives in house {b}."
    if kind == "not_at":
        return f"{subject} does not live in house {b}."
    if kind == "same":
        return f"{subject} {_CATEGORY[category_of[b]][2].format(b)}."
    if kind == "not_same":
        return f"{subject} is not {noun(b)}."
    if kind == "left":
        return f"{subject} lives directly left of {noun(b)}."
    if kind == "next":
        return f"{subject} lives next to {noun(b)}."
    return f"{subject} lives somewhere left of {noun(b)}."


_COMPACT = {"same": "{}={}", "not_same": "{}!={}", "at": "{}@{}", "not_at": "{}!@{}", "left": "{}<{}", "next": "{}~{}",
            "before": "{}<<{}"}  # fmt: skip


def _words(text: str) -> list[str]:
    """Lower-case runs of letters or digits."""
    words, current = [], ""
    for char in text.lower():
        if char.isascii() and char.isalnum():
            current += char
        else:
            if current:
                words.append(current)
            current = ""
    if current:
        words.append(current)
    return words


@register_env
class Zebra(Game):
    """Zebra (Einstein) puzzle: houses in a row, each person with one value per category; deduce who has what
    from clues.

    Each category (colour, pet, drink, ...) gives every house a different value. Clues say that two values
    belong to the same person (or not), that a value is (not) in a given house, or relate the houses of two
    values (directly left of, next to, somewhere left of). Puzzles are unique by construction: random true
    clues are added until constraint propagation alone fixes every value's house, then every clue it can do
    without is removed.

    Answer, by the knob ``question``: ``attribute`` asks one value (``dog``) or one house number (``3``);
    ``full`` asks the whole assignment, one house per line: ``1: red, dog, tea`` (categories in the listed
    order; the ``1:`` labels are optional); a full assignment is checked against every clue. Harmless wording
    around a single value (``The dog.``) is tolerated; naming two different candidates is not.

    **Differences from reasoning-gym.** reasoning-gym's ``zebra_puzzles`` always asks the name of the person
    in house 1, which pearbench's ``attribute`` question (a house or attribute of the person with a given
    value) cannot express. Its clues (a value in / not in a house, same house, directly left of, next to,
    somewhere left or right of) are pearbench's ``at``, ``not_at``, ``same``, ``left``, ``next`` and
    ``before``; tests/test_rg_agreement.py converts them into ``full`` questions and checks that pearbench
    accepts a grid exactly when it is reasoning-gym's (SAT-checked, unique) solution.
    """

    name = "zebra"
    title = "Zebra"
    family = "logic puzzle"
    category = "logic"
    description = "Einstein-style puzzle: deduce each house's attributes from clues (unique solution)."
    Config = ZebraConfig
    levels = {
        "easy": {"houses": 3, "categories": 3, "question": "attribute"},
        "medium": {"houses": 4, "categories": 4, "question": "attribute"},
        "hard": {"houses": 5, "categories": 5, "question": "full"},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = False

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        n = cfg.houses
        chosen = sorted(rng.sample(range(len(CATEGORIES)), cfg.categories))
        categories = []
        house_of: dict[str, int] = {}
        for index in chosen:
            name, values, _, _ = CATEGORIES[index]
            picked = rng.sample(values, n)
            for house, value in enumerate(picked, start=1):
                house_of[value] = house
            categories.append([name, sorted(picked)])
        groups = [values for _, values in categories]

        # add random true clues until propagation alone places every value, then drop every clue not needed
        solver = _Solver(n, groups, [])
        domains = [solver.full] * len(solver.values)
        clues: list[list[Any]] = []
        seen: set[str] = set()
        while not solved(domains):
            clue = _random_clue(rng, n, groups, house_of)
            key = repr(clue)
            if key in seen:
                continue
            seen.add(key)
            clues.append(clue)
            solver.add_clue(clue)
            if len(clues) % _ADD_BATCH == 0:
                solver.propagate(domains)
        for clue in rng.sample(clues, len(clues)):
            trial = [other for other in clues if other is not clue]
            if _solved_by_propagation(n, groups, trial):
                clues = trial

        problem: dict[str, Any] = {"houses": n, "categories": categories, "clues": clues}
        if cfg.question == "full":
            problem["question"] = {"kind": "full"}
            answer = "\n".join(
                f"{house}: " + ", ".join(next(v for v in group if house_of[v] == house) for group in groups)
                for house in range(1, n + 1)
            )
        else:
            key_group = rng.randrange(len(groups))
            key = rng.choice(groups[key_group])
            targets = [name for g, (name, _) in enumerate(categories) if g != key_group] + ["house"]
            target = rng.choice(targets)
            problem["question"] = {"kind": "attribute", "key": key, "target": target}
            if target == "house":
                answer = str(house_of[key])
            else:
                group = dict(categories)[target]
                answer = next(v for v in group if house_of[v] == house_of[key])
        return problem, answer

    def instance_space(self) -> None:
        return None  # categories x values x arrangement x clue sets: far beyond any split size

    # -- prompting --------------------------------------------------------------------------------------------
    @staticmethod
    def _category_of(problem: dict[str, Any]) -> dict[str, str]:
        return {value: name for name, values in problem["categories"] for value in values}

    def _question_text(self, problem: dict[str, Any]) -> str:
        question = problem["question"]
        if question["kind"] == "full":
            names = ", ".join(name for name, _ in problem["categories"])
            return (
                "Give the full solution inside <answer></answer>, one house per line in the form "
                f"'1: value, value, ...' with the values in this order: {names}."
            )
        key, target = question["key"], question["target"]
        who = _CATEGORY[self._category_of(problem)[key]][1].format(key)
        if target == "house":
            return f"In which house does {who} live? Give the house number inside <answer></answer>."
        return f"What is the {target} of {who}? Give just that {target} inside <answer></answer>."

    def prompt(self, instance: Instance) -> str:
        problem = instance.problem
        n = problem["houses"]
        category_of = self._category_of(problem)
        lines = [
            f"There are {n} houses in a row, numbered 1 to {n} from left to right. In each house lives one person. "
            "Each category below gives every house a different value:",
            *(f"  {name}: {', '.join(values)}" for name, values in problem["categories"]),
            "Clues:",
            *(f"  {i}. {_clue_text(clue, category_of)}" for i, clue in enumerate(problem["clues"], start=1)),
            "Think step by step. " + self._question_text(problem),
        ]
        return "\n".join(lines)

    def compact_prompt(self, instance: Instance) -> str:
        problem = instance.problem
        header = " ".join(f"{name}:{','.join(values)}" for name, values in problem["categories"])
        clues = " ".join(_COMPACT[kind].format(a, b) for kind, a, b in problem["clues"])
        question = problem["question"]
        ask = "all" if question["kind"] == "full" else f"{question['target']} of {question['key']}"
        return f"{problem['houses']} {header}\n{clues}\n? {ask}\n"

    # -- verification -----------------------------------------------------------------------------------------
    def check(self, instance: Instance, answer: str) -> bool:
        if len(answer) > _MAX_ANSWER_CHARS:
            return False
        problem = instance.problem
        question = problem["question"]
        if question["kind"] == "full":
            return self._check_full(instance, answer)
        words = _words(answer)
        if len(words) > _MAX_WORDS:
            return False
        if question["target"] == "house":
            numbers = {word for word in words if word.isdigit()}
            return numbers == {instance.answer}
        group = dict(problem["categories"])[question["target"]]
        named = {word for word in words if word in group}
        return named == {instance.answer}

    def _check_full(self, instance: Instance, answer: str) -> bool:
        problem = instance.problem
        n = problem["houses"]
        categories = problem["categories"]
        category_of = self._category_of(problem)
        allowed = _FILLER_WORDS | {name for name, _ in categories}
        segments = [
            s
            for s in answer.replace(";", "\n").replace("/", "\n").replace("|", "\n").split("\n")
            if s.strip()
        ]
        if len(segments) != n:
            return False
        rows: list[tuple[int | None, dict[str, str]]] = []
        for segment in segments:
            label, values = None, {}
            for word in _words(segment):
                if word.isdigit():
                    if label is not None:
                        return False
                    label = int(word)
                elif word in category_of:
                    if category_of[word] in values:
                        return False
                    values[category_of[word]] = word
                elif word not in allowed:
                    return False
            if len(values) != len(categories):
                return False
            rows.append((label, values))
        labels = [label for label, _ in rows]
        if all(label is None for label in labels):
            ordered = [values for _, values in rows]
        elif sorted(label or 0 for label in labels) == list(range(1, n + 1)):
            ordered = [values for _, values in sorted(rows, key=lambda row: row[0] or 0)]
        else:
            return False
        house_of = {
            value: house for house, values in enumerate(ordered, start=1) for value in values.values()
        }
        return len(house_of) == len(category_of) and all(_holds(clue, house_of) for clue in problem["clues"])

    # -- solving ----------------------------------------------------------------------------------------------
    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        problem = instance.problem
        groups = [values for _, values in problem["categories"]]
        names = [name for name, _ in problem["categories"]]
        log: list = []
        solver = _Solver(problem["houses"], groups, problem["clues"], log)
        found = solver.solutions(limit=1)
        house_of = dict(zip(solver.values, found[0])) if found else {}
        lines = []
        for event in log:
            if event[0] == "narrow":
                _, value, houses, reason = event
                if isinstance(reason, int):
                    why = f"clue {reason}" if style == "steps" else f"by clue {reason}"
                elif reason[0] == "taken":
                    other = solver.values[reason[1]]
                    why = f"{other}@{reason[2]}" if style == "steps" else f"{other} is in house {reason[2]}"
                else:
                    why = f"no other {names[reason[1]]} fits" + ("" if style == "steps" else " there")
                if style == "steps":
                    lines.append(f"{value}: {''.join(map(str, houses))} ({why})")
                elif len(houses) == 1:
                    lines.append(f"So {value} is in house {houses[0]} ({why}).")
                else:
                    lines.append(f"{value} can only be in house {' or '.join(map(str, houses))} ({why}).")
            elif event[0] == "guess":
                lines.append(f"try {event[1]}@{event[2]}" if style == "steps" else
                             f"Suppose {event[1]} is in house {event[2]}.")  # fmt: skip
            else:
                lines.append(f"undo {event[1]}@{event[2]}" if style == "steps" else
                             f"That fails, so {event[1]} is not in house {event[2]}.")  # fmt: skip
        n = problem["houses"]
        table = [
            f"{house}: "
            + ", ".join(next((v for v in group if house_of.get(v) == house), "?") for group in groups)
            for house in range(1, n + 1)
        ]
        lines += ["Solution:" if style == "words" else "grid", *table]
        question = problem["question"]
        if question["kind"] == "full" or not house_of:
            answer = "\n".join(table) if house_of else instance.answer
            return "\n".join(lines) + f"\n<answer>\n{answer}\n</answer>"
        key, target = question["key"], question["target"]
        if target == "house":
            answer = str(house_of[key])
        else:
            answer = next(v for v in dict(problem["categories"])[target] if house_of[v] == house_of[key])
        return "\n".join(lines) + f"\n<answer>{answer}</answer>"
