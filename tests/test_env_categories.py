"""Game categories (docs/design.md §3): register_env refuses a missing or unknown category, every registered game declares a
valid one, and (a threshold the lead checks once the new games land) the bundled families cover all seven."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

import pearbench  # noqa: F401 - registers the bundled games
from pearbench.envs.base import CATEGORIES, Game
from pearbench.errors import PearbenchError
from pearbench.registry import bundled_modules, list_games, register_env

#: The threshold of the "Environments" issue: bundled families (modules in envs/ other than math_*), and the least
#: number of them in the categories the reference suites are richest in.
MIN_FAMILIES = 30
MIN_PER_CATEGORY = {"graph": 3, "search": 3, "sequential": 3}


@dataclasses.dataclass(frozen=True)
class _Config:
    n: int = 1


def _game_class(**attributes) -> type:
    """A minimal, otherwise valid Game subclass (not registered)."""

    class Probe(Game):
        name = "category_probe"
        title = "CategoryProbe"
        Config = _Config
        levels = {"easy": {}, "medium": {}, "hard": {}}

        def _generate(self, rng):
            return {}, "x"

        def prompt(self, instance):
            return "x"

        def check(self, instance, answer):
            return answer == "x"

        def solve(self, instance, style="steps"):
            return "<answer>x</answer>"

    for key, value in attributes.items():
        setattr(Probe, key, value)
    return Probe


@pytest.mark.parametrize("category", [None, "puzzles", "Grid", ""])
def test_register_env_refuses_a_missing_or_unknown_category(category) -> None:
    game_cls = _game_class() if category is None else _game_class(category=category)
    with pytest.raises(PearbenchError) as error:
        register_env(game_cls)
    message = str(error.value)
    assert len(message.splitlines()) == 1
    assert "category_probe" in message and "must declare category" in message
    assert ", ".join(CATEGORIES) in message  # names every allowed category
    assert "category_probe" not in {g.name for g in list_games()}


def test_every_registered_game_has_a_valid_category() -> None:
    bad = {g.name: getattr(g, "category", None) for g in list_games() if g.category not in CATEGORIES}
    assert not bad, f"games with a category outside {CATEGORIES}: {bad}"


def _bundled_families() -> dict[str, str]:
    """Module name -> category of the game it registers, for every bundled module not starting with math_."""
    categories = {}
    for module in bundled_modules():
        if module.startswith("math_"):
            continue
        games = [g for g in list_games() if g.__module__ == f"pearbench.envs.{module}"]
        assert games, f"bundled module envs/{module}.py registers no game"
        categories[module] = games[0].category
    return categories


def test_threshold_bundled_families_cover_every_category() -> None:
    """THRESHOLD (issue "Environments"): at least 30 bundled families covering all 7 categories, with at least 3
    each in graph, search and sequential. Expected to FAIL until the new game modules land; the lead checks it
    once they have."""
    families = _bundled_families()
    per_category = Counter(families.values())
    summary = ", ".join(f"{c}: {per_category.get(c, 0)}" for c in CATEGORIES)
    problems = []
    if len(families) < MIN_FAMILIES:
        problems.append(f"{len(families)} bundled families, need >= {MIN_FAMILIES}")
    missing = [c for c in CATEGORIES if per_category.get(c, 0) == 0]
    if missing:
        problems.append(f"no family in {', '.join(missing)}")
    problems += [
        f"{category}: {per_category.get(category, 0)} families, need >= {least}"
        for category, least in MIN_PER_CATEGORY.items()
        if per_category.get(category, 0) < least
    ]
    assert not problems, f"threshold not met ({'; '.join(problems)}); per category: {summary}"


def test_every_game_offers_the_steps_and_words_trace_styles() -> None:
    """So any suite can use any game: the base corpus and the teacher draw from these two styles by default."""
    missing = [g.name for g in list_games() if not {"steps", "words"} <= set(g.trace_styles)]
    assert not missing, f"games without both 'steps' and 'words' trace styles: {missing}"
