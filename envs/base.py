"""The environment contract (docs/design.md §3): a game is data (an :class:`Instance`) plus a small class.

A game subclass declares:

- ``name`` (registry name, ``"countdown"``), ``title`` (``"Countdown"``, used in the Gymnasium id
  ``pearbench/Countdown-v0``), ``version``, ``family`` (a free-text subtitle) and a one-line ``description``;
- ``category``: one of :data:`CATEGORIES` (crypto, arithmetic, logic, grid, graph, search, sequential), the
  reference suites' seven groups; checked at registration;
- ``Config``: a dataclass of difficulty knobs, and ``levels``: difficulty name -> ``Config`` keyword arguments
  (at least three levels); ``default_difficulty``;
- ``trace_styles``: at least two distinct solver trace styles;
- ``_generate(rng)`` -> ``(problem, answer)``: ``problem`` a JSON-serialisable dict, ``answer`` one valid gold
  answer string; ``rng`` is a ``random.Random`` seeded from (game, config, seed), so the same seed gives the same
  instance in any process;
- ``prompt(instance)`` (natural language, for real LMs) and ``compact_prompt(instance)`` (short, for the
  character-level tiny models; defaults to ``prompt``);
- ``check(instance, answer)`` -> bool: is this extracted answer a valid solution (any valid one, not just the gold);
- ``solve(instance, style)`` -> a reasoning trace that ends in ``<answer>...</answer>``;
- ``instance_space()`` -> number of distinct instances at this config, or None when it is effectively unbounded.
"""

from __future__ import annotations

import dataclasses
import random
import string
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium
from gymnasium import spaces

from pearbench.errors import PearbenchError, unknown
from pearbench.hashing import canonical_json, config_hash
from pearbench.verify.answer import extract_answer
from pearbench.verify.verdict import Verdict

#: The seven game categories of the reference suites (Enigmata's grouping); every game declares one.
CATEGORIES = ("crypto", "arithmetic", "logic", "grid", "graph", "search", "sequential")

#: Extracted answers longer than this are rejected without parsing (keeps every verifier well under 1 s).
MAX_ANSWER_CHARS = 10_000


@dataclass(frozen=True)
class Instance:
    """One generated problem. ``answer`` is one valid solution; verifiers accept every valid one."""

    env: str
    difficulty: str
    seed: int
    problem: dict[str, Any]
    answer: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Hash of what the model sees (game + problem), used to deduplicate splits."""
        return config_hash({"env": self.env, "problem": self.problem})

    @property
    def id(self) -> str:
        return f"{self.env}/{self.difficulty}/{self.content_hash[:12]}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Instance:
        return cls(
            env=data["env"],
            difficulty=data["difficulty"],
            seed=int(data["seed"]),
            problem=data["problem"],
            answer=data["answer"],
            meta=data.get("meta", {}),
        )


class Game(ABC):
    """Base class of every environment; see the module docstring for the contract."""

    name: ClassVar[str]
    title: ClassVar[str]
    version: ClassVar[int] = 0
    family: ClassVar[str] = "logic"
    #: one of CATEGORIES; required (checked by register_env)
    category: ClassVar[str]
    description: ClassVar[str] = ""
    Config: ClassVar[type]
    levels: ClassVar[dict[str, dict[str, Any]]]
    default_difficulty: ClassVar[str] = "easy"
    trace_styles: ClassVar[tuple[str, ...]] = ("steps", "terse")
    multiple_solutions: ClassVar[bool] = False
    #: "game" (answers need <answer> or \boxed) or "math" (math-verify extraction allowed as a last resort)
    answer_kind: ClassVar[str] = "game"

    def __init__(self, difficulty: str | None = None, **overrides: Any) -> None:
        difficulty = self.default_difficulty if difficulty is None else difficulty
        if difficulty not in self.levels:
            raise unknown(f"difficulty for {self.name}", difficulty, self.levels)
        knobs = {f.name for f in dataclasses.fields(self.Config)}
        bad = sorted(set(overrides) - knobs)
        if bad:
            raise PearbenchError(
                f"unknown option {bad[0]!r} for environment {self.name}; allowed: "
                f"difficulty, {', '.join(sorted(knobs))}"
            )
        self.difficulty = difficulty
        try:
            self.config = self.Config(**{**self.levels[difficulty], **overrides})
        except (TypeError, ValueError) as exc:
            raise PearbenchError(f"invalid option for environment {self.name}: {exc}") from None

    # -- identity ---------------------------------------------------------------------------------------------
    @classmethod
    def gym_id(cls) -> str:
        return f"pearbench/{cls.title}-v{cls.version}"

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)

    # -- generation -------------------------------------------------------------------------------------------
    def rng_for(self, seed: int) -> random.Random:
        # str seeds go through sha512 in CPython: stable across processes, unlike hash().
        return random.Random(f"{self.name}|{canonical_json(self.config_dict())}|{int(seed)}")

    def generate(self, seed: int) -> Instance:
        problem, answer = self._generate(self.rng_for(seed))
        return Instance(
            env=self.name, difficulty=self.difficulty, seed=int(seed), problem=problem, answer=answer
        )

    @abstractmethod
    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]: ...

    def instance_space(self) -> int | None:
        return None

    # -- prompting --------------------------------------------------------------------------------------------
    @abstractmethod
    def prompt(self, instance: Instance) -> str: ...

    def compact_prompt(self, instance: Instance) -> str:
        return self.prompt(instance)

    # -- verification -----------------------------------------------------------------------------------------
    @abstractmethod
    def check(self, instance: Instance, answer: str) -> bool: ...

    def extract(self, completion: str) -> str | None:
        return extract_answer(completion)

    def verify(self, instance: Instance, completion: str) -> Verdict:
        """Verdict on a raw completion: shared extraction, then :meth:`check`. Never raises."""
        try:
            extracted = self.extract(completion)
        except Exception as exc:  # noqa: BLE001 - a verifier never raises
            return Verdict(False, error=f"extraction failed: {type(exc).__name__}: {exc}")
        if extracted is None:
            return Verdict(False, None, None)
        if len(extracted) > MAX_ANSWER_CHARS:
            return Verdict(False, None, extracted[:200])
        try:
            return Verdict(bool(self.check(instance, extracted)), None, extracted)
        except Exception as exc:  # noqa: BLE001
            return Verdict(False, error=f"check failed: {type(exc).__name__}: {exc}", extracted=extracted)

    # -- solving ----------------------------------------------------------------------------------------------
    @abstractmethod
    def solve(self, instance: Instance, style: str = "steps") -> str: ...

    def _check_style(self, style: str) -> None:
        if style not in self.trace_styles:
            raise unknown(f"trace style for {self.name}", style, self.trace_styles)


#: Characters of prompts and completions in the Gymnasium spaces.
TEXT_CHARSET = string.printable + "×÷−·→←↑↓≤≥≠√…“”‘’"
TEXT_MAX_LENGTH = 1 << 16


class GameEnv(gymnasium.Env):
    """Single-turn Gymnasium wrapper: ``reset`` gives the prompt, ``step(completion)`` verifies and ends."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, game: Game, compact: bool = False) -> None:
        # Built by :func:`pearbench.registry.make_env` (the Gymnasium entry point), which looks the game up.
        self.game = game
        self.compact = compact
        self.observation_space = spaces.Text(max_length=TEXT_MAX_LENGTH, charset=TEXT_CHARSET)
        self.action_space = spaces.Text(max_length=TEXT_MAX_LENGTH, charset=TEXT_CHARSET)
        self.instance: Instance | None = None

    def _prompt(self) -> str:
        assert self.instance is not None
        return self.game.compact_prompt(self.instance) if self.compact else self.game.prompt(self.instance)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        if "instance" in options:
            instance = options["instance"]
            self.instance = instance if isinstance(instance, Instance) else Instance.from_dict(instance)
        else:
            instance_seed = int(options.get("instance_seed", self.np_random.integers(0, 2**31 - 1)))
            self.instance = self.game.generate(instance_seed)
        info = {"instance_id": self.instance.id, "env": self.game.name, "difficulty": self.game.difficulty}
        return self._prompt(), info

    def step(self, action: str):
        if self.instance is None:
            raise RuntimeError("call reset() before step()")
        verdict = self.game.verify(self.instance, action if isinstance(action, str) else str(action))
        info = {
            "verdict": verdict,
            "correct": verdict.correct,
            "error": verdict.error,
            "extracted": verdict.extracted,
            "gold": self.instance.answer,
        }
        return self._prompt(), verdict.reward, True, False, info
