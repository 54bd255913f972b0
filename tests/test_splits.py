"""Splits: disjoint seed ranges, no content hash shared anywhere, test filled first, clear errors (docs/design.md §3)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest

import pearbench  # noqa: F401 - registers the games
from pearbench.envs import splits as splits_module
from pearbench.envs.base import Game, Instance
from pearbench.envs.splits import (
    BASE_SEED_STRIDE,
    SPLIT_OFFSETS,
    make_splits,
    split_hash,
    splits_hash,
    splits_summary,
)
from pearbench.errors import PearbenchError
from pearbench.registry import list_games, make_game

DEFAULT_SIZES = {"train": 300, "validation": 50, "test": 50}
FULL_SIZES = {"train": 2000, "validation": 200, "test": 200}
GAME_LEVELS = [(game_cls.name, level) for game_cls in list_games() for level in game_cls.levels]


def assert_valid_splits(splits: dict[str, list[Instance]], sizes: dict[str, int], base_seed: int = 0) -> None:
    assert list(splits) == [name for name in ("train", "validation", "test") if name in sizes]
    all_hashes: list[str] = []
    for name, instances in splits.items():
        assert len(instances) == sizes[name]
        start = SPLIT_OFFSETS[name] + base_seed * BASE_SEED_STRIDE
        seeds = [instance.seed for instance in instances]
        assert seeds == sorted(seeds)
        assert all(start <= seed < start + splits_module.max_attempts(sizes[name]) for seed in seeds)
        all_hashes += [instance.content_hash for instance in instances]
    assert len(all_hashes) == len(set(all_hashes)), "a content hash appears twice"
    test_hashes = {instance.content_hash for instance in splits.get("test", [])}
    for name in ("train", "validation"):
        assert not test_hashes & {instance.content_hash for instance in splits.get(name, [])}


def check_or_expect_space_error(name: str, level: str, sizes: dict[str, int]) -> None:
    game = make_game(name, level)
    space = game.instance_space()
    if space is not None and space < sum(sizes.values()):
        with pytest.raises(PearbenchError, match=f"{name}.*{level}.*{space}"):
            make_splits(game, sizes)
        return
    assert_valid_splits(make_splits(game, sizes), sizes)


@pytest.mark.parametrize(("name", "level"), GAME_LEVELS)
def test_every_game_and_level_splits_without_leaks(name: str, level: str) -> None:
    check_or_expect_space_error(name, level, DEFAULT_SIZES)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "level"), GAME_LEVELS)
def test_every_game_and_level_splits_without_leaks_full_size(name: str, level: str) -> None:
    check_or_expect_space_error(name, level, FULL_SIZES)


def test_deterministic_and_test_split_independent_of_train_size() -> None:
    first = make_splits("zebra", {"train": 40, "validation": 10, "test": 10}, difficulty="easy")
    again = make_splits(make_game("zebra", "easy"), {"train": 40, "validation": 10, "test": 10})
    assert splits_hash(first) == splits_hash(again)
    assert [i.to_dict() for i in first["test"]] == [i.to_dict() for i in again["test"]]
    bigger = make_splits("zebra", {"train": 80, "validation": 10, "test": 10}, difficulty="easy")
    assert split_hash(bigger["test"]) == split_hash(first["test"])
    assert split_hash(bigger["train"]) != split_hash(first["train"])
    assert bigger["train"][:40] == first["train"]
    other_seed = make_splits(
        "zebra", {"train": 40, "validation": 10, "test": 10}, difficulty="easy", base_seed=1
    )
    assert split_hash(other_seed["test"]) != split_hash(first["test"])
    assert_valid_splits(other_seed, {"train": 40, "validation": 10, "test": 10}, base_seed=1)
    summary = splits_summary(first)
    assert summary["sizes"] == {"train": 40, "validation": 10, "test": 10} and summary["hash"] == splits_hash(
        first
    )


def test_only_requested_splits_are_made() -> None:
    result = make_splits("hanoi", {"test": 5})
    assert list(result) == ["test"] and len(result["test"]) == 5
    assert make_splits("hanoi", {"train": 0, "test": 1})["train"] == []


def test_too_small_instance_space_errors_clearly() -> None:
    game = make_game("hanoi", "easy", start="tower")  # 6 distinct instances
    with pytest.raises(PearbenchError) as error:
        make_splits(game, {"train": 4, "validation": 1, "test": 2})
    message = str(error.value)
    for part in ("hanoi", "'easy'", "6 distinct", "7", "train=4", "validation=1", "test=2"):
        assert part in message
    assert len(message.splitlines()) == 1
    assert_valid_splits(
        make_splits(game, {"train": 4, "validation": 1, "test": 1}), {"train": 4, "validation": 1, "test": 1}
    )


@dataclass(frozen=True)
class _ThreeConfig:
    width: int = 1


class _ThreeValues(Game):
    """Reports no instance space but has only three distinct instances: the seed budget must run out."""

    name = "three_values"
    title = "ThreeValues"
    Config = _ThreeConfig
    levels = {"easy": {}, "medium": {}, "hard": {}}

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        value = rng.randrange(3)
        return {"value": value}, str(value)

    def prompt(self, instance: Instance) -> str:
        return str(instance.problem["value"])

    def check(self, instance: Instance, answer: str) -> bool:
        return answer == instance.answer

    def solve(self, instance: Instance, style: str = "steps") -> str:
        return f"<answer>{instance.answer}</answer>"


def test_seed_budget_running_out_errors_clearly() -> None:
    game = _ThreeValues()
    assert make_splits(game, {"test": 2, "train": 1})["train"][0].problem not in [
        i.problem for i in make_splits(game, {"test": 2})["test"]
    ]
    with pytest.raises(PearbenchError, match=r"three_values.*could fill only 1 of 2 train.*unbounded"):
        make_splits(game, {"train": 2, "test": 2})


@pytest.mark.parametrize(
    ("sizes", "kwargs", "match"),
    [
        ({"dev": 3}, {}, "unknown split 'dev'"),
        ({"train": -1}, {}, "non-negative"),
        ({"train": 1.5}, {}, "non-negative"),
        ({"train": 1}, {"base_seed": -2}, "base_seed"),
        ({"train": 100_000}, {"base_seed": 999}, "seed range"),
        ({"train": 1}, {"difficulty": "impossible"}, "difficulty"),
    ],
)
def test_bad_arguments(sizes: dict, kwargs: dict, match: str) -> None:
    with pytest.raises(PearbenchError, match=match):
        make_splits(
            "zebra", sizes, **kwargs
        )  # zebra: unbounded instance space, checks come before generation


def test_unknown_game_and_conflicting_difficulty() -> None:
    with pytest.raises(PearbenchError, match="unknown environment 'nope'"):
        make_splits("nope", {"test": 1})
    with pytest.raises(PearbenchError, match="pass one of them"):
        make_splits(make_game("countdown", "easy"), {"test": 1}, difficulty="hard")
