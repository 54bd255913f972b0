"""Optional reasoning-gym adapter: its procedural tasks as pearbench environments ``pearbench/rg-<task>-v0``.

Nothing here imports reasoning-gym until :func:`register_reasoning_gym` is called, so pearbench works without it
(``pip install "pearbench[reasoning-gym]"`` adds it). The adapter uses reasoning-gym's public API only:
``reasoning_gym.create_dataset(name, size=, seed=, **config)`` (entries ``{"question", "answer", "metadata"}``),
``dataset.score_answer(answer, entry)`` and the task table ``reasoning_gym.factory.DATASETS``.

- An instance is entry 0 of ``create_dataset(task, size=1, seed=s, **task_config)``; ``s`` comes from pearbench's
  per-(game, config, seed) RNG and is kept in ``Instance.meta["rg_seed"]`` (the content hash covers only the question,
  so splits deduplicate identical questions drawn from different seeds).
- A completion passes only at score 1.0: reasoning-gym's partial credit (e.g. 0.77 for a padded answer) counts as
  wrong, as docs/design.md §3's binary reward requires. The answer handed to ``score_answer`` is the one pearbench's shared
  extraction found (``<answer>`` or ``\\boxed``).
- reasoning-gym has no step-by-step solvers: the two "trace styles" write its reference answer, not a reasoning
  trace. Its tasks have no common difficulty scale, so each has the one level ``default``; task options go through
  the knob ``task_config`` (a JSON object). What ``score_answer`` does with the answer and how long it takes is
  reasoning-gym's code: pearbench's 1 s verifier bound is not guaranteed for these tasks.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.errors import PearbenchError, unknown

PREFIX = "rg-"
_RG_SEED_RANGE = 2**31
_CREATED: dict[str, type] = {}


def _module():
    try:
        return importlib.import_module("reasoning_gym")
    except ImportError:
        raise PearbenchError(
            "reasoning-gym is not installed; install it with: pip install 'pearbench[reasoning-gym]'"
        ) from None


def available() -> bool:
    """True when reasoning-gym can be imported."""
    try:
        _module()
    except PearbenchError:
        return False
    return True


def list_tasks() -> list[str]:
    """Every task name reasoning-gym registers (``reasoning_gym.factory.DATASETS``)."""
    module = _module()
    factory = getattr(module, "factory", None) or importlib.import_module("reasoning_gym.factory")
    return sorted(factory.DATASETS)


def _parse_task_config(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"task_config must be a JSON object, got {text!r} ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ValueError(f"task_config must be a JSON object, got {text!r}")
    return value


@dataclass(frozen=True)
class ReasoningGymConfig:
    #: reasoning-gym configuration options of the task, as a JSON object (e.g. '{"min_animals": 3}')
    task_config: str = "{}"

    def __post_init__(self) -> None:
        _parse_task_config(self.task_config)


@functools.lru_cache(maxsize=4096)
def _dataset(task: str, task_config: str, rg_seed: int):
    """The one-entry reasoning-gym dataset behind an instance (cached: checking needs the dataset and its entry)."""
    options = _parse_task_config(task_config)
    try:
        return _module().create_dataset(task, size=1, seed=rg_seed, **options)
    except (TypeError, ValueError, AssertionError) as exc:
        raise PearbenchError(
            f"reasoning-gym rejected task {task!r} with task_config {task_config}: {exc}"
        ) from None


class ReasoningGymGame(Game):
    """Base of the generated ``rg-<task>`` environments (one subclass per task, see :func:`game_class`)."""

    task: str = ""
    family = "reasoning-gym"
    category = "logic"  # reasoning-gym's own grouping differs; its tasks are filed under logic
    Config = ReasoningGymConfig
    levels = {"default": {}}
    default_difficulty = "default"
    trace_styles = ("answer", "boxed")
    multiple_solutions = True  # several tasks accept more than one answer string

    def _entry(self, rg_seed: int, task_config: str | None = None) -> tuple[Any, dict[str, Any]]:
        dataset = _dataset(
            self.task, self.config.task_config if task_config is None else task_config, rg_seed
        )
        return dataset, dataset[0]

    def _generate(self, rng) -> tuple[dict[str, Any], str]:
        _, entry = self._entry(rng.randrange(_RG_SEED_RANGE))
        return {"question": entry["question"]}, str(entry["answer"])

    def generate(self, seed: int) -> Instance:
        rg_seed = self.rng_for(seed).randrange(_RG_SEED_RANGE)
        _, entry = self._entry(rg_seed)
        return Instance(
            env=self.name,
            difficulty=self.difficulty,
            seed=int(seed),
            problem={"question": entry["question"]},
            answer=str(entry["answer"]),
            meta={"rg_task": self.task, "rg_seed": rg_seed, "rg_config": self.config.task_config},
        )

    def prompt(self, instance: Instance) -> str:
        return f"{instance.problem['question'].rstrip()}\nGive your final answer inside <answer></answer>."

    def compact_prompt(self, instance: Instance) -> str:
        return instance.problem["question"].rstrip() + "\n"

    def check(self, instance: Instance, answer: str) -> bool:
        if "rg_seed" not in instance.meta:
            raise PearbenchError(
                f"instance {instance.id} lacks meta['rg_seed']; it was not made by {self.name}"
            )
        dataset, entry = self._entry(int(instance.meta["rg_seed"]), instance.meta.get("rg_config"))
        score = dataset.score_answer(answer=answer, entry=entry)
        return score is not None and float(score) >= 1.0

    def solve(self, instance: Instance, style: str = "answer") -> str:
        """reasoning-gym ships no solver: both styles state its reference answer (no reasoning steps)."""
        self._check_style(style)
        if style == "answer":
            return f"<answer>{instance.answer}</answer>"
        return f"The reference answer is \\boxed{{{instance.answer}}}.\n<answer>{instance.answer}</answer>"


def game_class(task: str) -> type[ReasoningGymGame]:
    """The (cached) environment class for one reasoning-gym task."""
    if task not in _CREATED:
        attrs = {
            "task": task,
            "name": f"{PREFIX}{task}",
            "title": f"{PREFIX}{task}",
            "description": f"reasoning-gym task {task!r} (pass only at score 1.0).",
            "__module__": __name__,
            "__qualname__": f"ReasoningGym_{task}",
        }
        _CREATED[task] = type(f"ReasoningGym_{task}", (ReasoningGymGame,), attrs)
    return _CREATED[task]


def register_reasoning_gym(tasks: Iterable[str] | None = None) -> list[str]:
    """Register reasoning-gym tasks (all of them by default) as ``pearbench/rg-<task>-v0``; returns the gym ids.

    Raises :class:`PearbenchError` if reasoning-gym is not installed or a task name is unknown.
    """
    from pearbench.registry import register_env

    known = list_tasks()
    chosen = known if tasks is None else list(tasks)
    for task in chosen:
        if task not in known:
            raise unknown("reasoning-gym task", task, known)
    gym_ids = []
    for task in chosen:
        game_cls = register_env(game_class(task), override=True)
        gym_ids.append(game_cls.gym_id())
    return gym_ids


def unregister_reasoning_gym(tasks: Iterable[str] | None = None) -> None:
    """Remove registered ``rg-`` environments again (all by default); mostly for tests.

    pearbench.registry has no public unregister, so this edits its table and Gymnasium's registry directly.
    """
    import gymnasium

    from pearbench import registry

    names = [f"{PREFIX}{task}" for task in tasks] if tasks is not None else None
    for name, game_cls in list(registry._GAMES.items()):
        if not (isinstance(game_cls, type) and issubclass(game_cls, ReasoningGymGame)):
            continue
        if names is not None and name not in names:
            continue
        del registry._GAMES[name]
        gymnasium.registry.pop(game_cls.gym_id(), None)
    _dataset.cache_clear()
