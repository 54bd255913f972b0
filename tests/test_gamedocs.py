"""docs/games.md is generated (pearbench.envs.catalog.games_markdown) and committed: it must match the code exactly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pearbench.envs.catalog import REGENERATE, bundled_games, game_doc, games_markdown
from pearbench.registry import list_games

DOC = Path(__file__).resolve().parent.parent / "docs" / "games.md"


@pytest.fixture(scope="module")
def markdown() -> str:
    return games_markdown()


def test_committed_games_md_is_up_to_date(markdown: str) -> None:
    committed = DOC.read_text(encoding="utf-8") if DOC.exists() else "(missing)"
    assert committed == markdown, f"docs/games.md is out of date; regenerate it with: {REGENERATE}"


def test_every_bundled_game_appears_once_under_its_category(markdown: str) -> None:
    games = bundled_games()
    assert games and not any(g.name.startswith("rg-") for g in games)
    assert {g.__module__ for g in games} <= {g.__module__ for g in list_games()}
    sections = markdown.split("\n## ")[1:]
    for game_cls in games:
        heading = f"### {game_cls.title} (`{game_cls.gym_id()}`)"
        assert markdown.count(heading) == 1, game_cls.name
        category = "arithmetic" if game_cls.name.startswith("math_") else game_cls.category
        section = next(s for s in sections if s.lower().startswith(category))
        assert heading in section
        body = markdown.split(heading, 1)[1].split("\n### ", 1)[0]
        for style in game_cls.trace_styles:
            assert f"`{style}`" in body
        for level in game_cls.levels:
            assert f"`{level}`" in body
        assert game_cls.family in body and "Compact prompt:" in body and "Gold answer:" in body
        doc = game_doc(game_cls)
        assert doc and doc in body
        easiest = game_cls(difficulty=next(iter(game_cls.levels)))
        assert easiest.generate(0).answer in body


def test_plugins_are_left_out() -> None:
    from pearbench.envs.base import Game
    from pearbench.registry import _GAMES, register_env

    class Plugin(Game):
        name, title, category = "docs_plugin_probe", "DocsPluginProbe", "logic"
        Config = dataclasses.make_dataclass("ProbeConfig", [("n", int, 1)], frozen=True)
        levels = {"easy": {}, "medium": {}, "hard": {}}

        def _generate(self, rng):
            return {}, "x"

        def prompt(self, instance):
            return "x"

        def check(self, instance, answer):
            return True

        def solve(self, instance, style="steps"):
            return "<answer>x</answer>"

    register_env(Plugin)
    try:
        assert Plugin in list_games() and Plugin not in bundled_games()
    finally:
        import gymnasium

        del _GAMES[Plugin.name]
        del gymnasium.registry[Plugin.gym_id()]
