"""Environment registry: bundled games, user games (decorator or entry points), Gymnasium registration.

Users add an environment without editing pearbench, either with the decorator::

    from pearbench.registry import register_env
    from pearbench.envs.base import Game

    @register_env
    class MyGame(Game): ...

or with an entry point in the group ``pearbench.environments`` whose value is a :class:`Game` subclass (or a module
that registers games on import). Entry points are discovered when pearbench is imported.
"""

from __future__ import annotations

import importlib
import logging
import re
from importlib import metadata
from typing import Any, TypeVar

import gymnasium

from pearbench.envs.base import CATEGORIES, Game, GameEnv
from pearbench.errors import PearbenchError, close_match, unknown

ENTRY_POINT_GROUP = "pearbench.environments"
#: Modules of ``pearbench.envs`` that hold no game.
NOT_GAMES = frozenset({"base", "splits", "rg_adapter", "catalog"})
_GAMES: dict[str, type] = {}
_LOADED = False
_log = logging.getLogger(__name__)

G = TypeVar("G", bound=type)


def register_env(cls: G | None = None, *, override: bool = False):
    """Register a :class:`pearbench.envs.base.Game` subclass (usable bare or as ``@register_env(override=True)``).

    The game becomes available by its ``name`` and as the Gymnasium id ``pearbench/<title>-v<version>``.
    """

    def decorate(game_cls: G) -> G:
        if not (isinstance(game_cls, type) and issubclass(game_cls, Game)):
            raise PearbenchError(f"register_env expects a Game subclass, got {game_cls!r}")
        for attr in ("name", "title", "Config", "levels"):
            if not hasattr(game_cls, attr):
                raise PearbenchError(
                    f"environment class {game_cls.__name__} lacks required attribute {attr!r}"
                )
        category = getattr(game_cls, "category", None)
        if category not in CATEGORIES:
            raise PearbenchError(
                f"environment {game_cls.name} must declare category, one of: {', '.join(CATEGORIES)} "
                f"(got {category!r})"
            )
        if len(game_cls.trace_styles) < 2:
            raise PearbenchError(f"environment {game_cls.name} must offer at least two trace styles")
        if game_cls.default_difficulty not in game_cls.levels:
            raise PearbenchError(f"environment {game_cls.name}: default difficulty not among its levels")
        existing = _GAMES.get(game_cls.name)
        if existing is not None and existing is not game_cls and not override:
            raise PearbenchError(
                f"environment name {game_cls.name!r} is already registered by {existing.__module__}; "
                "pass override=True to replace it"
            )
        _GAMES[game_cls.name] = game_cls
        gym_id = game_cls.gym_id()
        if gym_id in gymnasium.registry:
            del gymnasium.registry[gym_id]
        gymnasium.register(
            id=gym_id,
            entry_point="pearbench.registry:make_env",
            kwargs={"game": game_cls.name},
            disable_env_checker=True,
            order_enforce=False,
        )
        return game_cls

    if cls is not None:
        return decorate(cls)
    return decorate


def bundled_modules() -> list[str]:
    """Every game module shipped in ``pearbench.envs`` (all but :data:`NOT_GAMES` and private ones)."""
    import pkgutil

    import pearbench.envs

    return sorted(
        info.name
        for info in pkgutil.iter_modules(pearbench.envs.__path__)
        if not info.name.startswith("_") and info.name not in NOT_GAMES
    )


def ensure_loaded() -> None:
    """Import the bundled game modules and discover entry points (once per process)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for module in bundled_modules():
        importlib.import_module(f"pearbench.envs.{module}")
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry_point.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break pearbench
            _log.warning("could not load environment entry point %s: %s", entry_point.name, exc)
            continue
        if isinstance(loaded, type) and loaded.__name__ and loaded not in _GAMES.values():
            register_env(loaded, override=True)


def _normalise(name: str) -> str:
    return name.strip().lower()


def _spellings(game_cls: type) -> set[str]:
    """Every accepted spelling of a game, normalised: name, title, Gymnasium id with and without its namespace."""
    gym_id = _normalise(game_cls.gym_id())
    return {_normalise(game_cls.name), _normalise(game_cls.title), gym_id, gym_id.split("/", 1)[-1]}


def get_game_class(name: str) -> type:
    """Look a game up by registry name (``countdown``), title (``Countdown``) or Gymnasium id, with or without the
    ``pearbench/`` namespace (``pearbench/Countdown-v0``, ``Countdown-v0``); any case."""
    ensure_loaded()
    if name in _GAMES:
        return _GAMES[name]
    key = _normalise(str(name))
    for game_cls in _GAMES.values():
        if key in _spellings(game_cls):
            return game_cls
    raise unknown("environment", name, [g.gym_id() for g in _GAMES.values()], suggest=_suggest_game(key))


def _suggest_game(key: str) -> str | None:
    """The Gymnasium id of the game whose name or title is closest to ``key`` (namespace and version ignored)."""
    bare = re.sub(r"-v\d+$", "", key.split("/", 1)[-1])
    by_spelling = {_normalise(s): g for g in _GAMES.values() for s in (g.name, g.title)}
    match = close_match(bare, by_spelling)
    return by_spelling[match].gym_id() if match else None


def make_game(name: str, difficulty: str | None = None, **knobs: Any):
    """Instantiate a game by name at a difficulty level, with optional knob overrides."""
    return get_game_class(name)(difficulty=difficulty, **knobs)


def make_env(game: str, difficulty: str | None = None, compact: bool = False, **knobs: Any):
    """Gymnasium entry point of every ``pearbench/<Title>-v<version>`` id: the game wrapped in a ``GameEnv``."""
    return GameEnv(make_game(game, difficulty=difficulty, **knobs), compact=compact)


def list_games() -> list[type]:
    ensure_loaded()
    return [_GAMES[name] for name in sorted(_GAMES)]
