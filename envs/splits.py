"""Train / validation / test splits: disjoint seed ranges, deduplicated by instance content hash (docs/design.md §3).

Seeds. Split ``s`` of a call with ``base_seed = b`` draws seeds ``SPLIT_OFFSETS[s] + b * BASE_SEED_STRIDE + i`` for
i = 0, 1, 2, ... with ``SPLIT_OFFSETS = {train: 0, validation: 1_000_000_000, test: 2_000_000_000}`` and
``BASE_SEED_STRIDE = 1_000_003`` (a prime, so ranges of nearby base seeds interleave rather than coincide). A split
uses at most ``max(ATTEMPTS_PER_INSTANCE * size, MIN_ATTEMPTS)`` seeds, and every range must stay inside its billion,
so the three splits of one call never share a seed.

Dedup. The test split is filled first, then validation, then train; an instance whose ``content_hash`` is already
taken (in its own split or an earlier one) is skipped, so no two instances anywhere share a content hash, and the test
set stays the same whatever the train size. Everything is deterministic.

This module is not a game: :func:`pearbench.registry.bundled_modules` skips it by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.errors import PearbenchError
from pearbench.hashing import config_hash
from pearbench.logs import progress as progress_display

SPLITS = ("train", "validation", "test")
FILL_ORDER = ("test", "validation", "train")
SPLIT_OFFSETS = {"train": 0, "validation": 1_000_000_000, "test": 2_000_000_000}
SPLIT_RANGE = 1_000_000_000
BASE_SEED_STRIDE = 1_000_003
ATTEMPTS_PER_INSTANCE = 50
MIN_ATTEMPTS = 1_000
#: show a progress bar when at least this many instances are generated (progress=None)
PROGRESS_THRESHOLD = 5_000


def split_seed_start(split: str, base_seed: int) -> int:
    """First seed of ``split`` for ``base_seed``: SPLIT_OFFSETS[split] + base_seed * BASE_SEED_STRIDE."""
    return SPLIT_OFFSETS[split] + base_seed * BASE_SEED_STRIDE


def max_attempts(size: int) -> int:
    return max(ATTEMPTS_PER_INSTANCE * size, MIN_ATTEMPTS) if size else 0


def _resolve_game(game: Game | str, difficulty: str | None) -> Game:
    if isinstance(game, Game):
        if difficulty is not None and difficulty != game.difficulty:
            raise PearbenchError(
                f"make_splits got a {game.name} game at difficulty {game.difficulty!r} and difficulty={difficulty!r}; "
                "pass one of them"
            )
        return game
    if isinstance(game, str):
        from pearbench.registry import make_game

        return make_game(game, difficulty=difficulty)
    raise PearbenchError(f"make_splits expects a Game or an environment name, got {type(game).__name__}")


def _validate_sizes(sizes: Mapping[str, int]) -> dict[str, int]:
    checked = {}
    for split, size in sizes.items():
        if split not in SPLITS:
            raise PearbenchError(f"unknown split {split!r}; choose from: {', '.join(SPLITS)}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise PearbenchError(f"split size for {split!r} must be a non-negative integer, got {size!r}")
        checked[split] = size
    return checked


def make_splits(
    game: Game | str,
    sizes: Mapping[str, int],
    *,
    base_seed: int = 0,
    difficulty: str | None = None,
    progress: bool | None = None,
) -> dict[str, list[Instance]]:
    """Generate disjoint, deduplicated splits of one game at one difficulty level.

    ``game``: a :class:`Game` (its difficulty is used) or a registry name / Gymnasium id (with ``difficulty``).
    ``sizes``: split name (train, validation, test) -> number of instances. Returns the same split names, in the
    order train, validation, test, each a list in seed order.

    Raises :class:`PearbenchError` when the level's ``instance_space()`` is smaller than the total size, or when a
    split cannot be filled with new content hashes within its seed budget.
    """
    game = _resolve_game(game, difficulty)
    sizes = _validate_sizes(sizes)
    if isinstance(base_seed, bool) or not isinstance(base_seed, int) or base_seed < 0:
        raise PearbenchError(f"base_seed must be a non-negative integer, got {base_seed!r}")
    total = sum(sizes.values())
    space = game.instance_space()
    where = f"{game.name} at difficulty {game.difficulty!r}"
    if space is not None and space < total:
        raise PearbenchError(
            f"{where} has only {space} distinct instances but the splits ask for {total} "
            f"({', '.join(f'{k}={v}' for k, v in sizes.items())}); lower the sizes or choose a harder level"
        )
    for split, size in sizes.items():
        if base_seed * BASE_SEED_STRIDE + max_attempts(size) > SPLIT_RANGE:
            raise PearbenchError(
                f"base_seed={base_seed} with {split} size {size} would run past the {split} seed range; "
                f"keep base_seed * {BASE_SEED_STRIDE} + {ATTEMPTS_PER_INSTANCE} * size <= {SPLIT_RANGE}"
            )
    show = total >= PROGRESS_THRESHOLD if progress is None else progress
    taken: set[str] = set()
    result: dict[str, list[Instance]] = {}
    with progress_display(
        total=total, desc=f"splits {game.name}/{game.difficulty}", unit="inst", enabled=show, leave=True
    ) as bar:
        for split in FILL_ORDER:
            if split not in sizes:
                continue
            size = sizes[split]
            start = split_seed_start(split, base_seed)
            chosen: list[Instance] = []
            for seed in range(start, start + max_attempts(size)):
                if len(chosen) == size:
                    break
                instance = game.generate(seed)
                key = instance.content_hash
                if key in taken:
                    continue
                taken.add(key)
                chosen.append(instance)
                bar.update(1)
            if len(chosen) < size:
                space_text = "unbounded" if space is None else str(space)
                raise PearbenchError(
                    f"{where}: could fill only {len(chosen)} of {size} {split} instances with new content hashes "
                    f"from {max_attempts(size)} seeds (instance space {space_text}, {len(taken)} taken so far); "
                    "lower the sizes or choose a harder level"
                )
            result[split] = chosen
    return {split: result[split] for split in SPLITS if split in result}


def split_hash(instances: Sequence[Instance]) -> str:
    """Fingerprint of one split: sha256 (16 hex) of the ordered (env, difficulty, seed, content_hash) rows."""
    rows = [[i.env, i.difficulty, i.seed, i.content_hash] for i in instances]
    return config_hash(rows)


def splits_hash(splits: Mapping[str, Sequence[Instance]]) -> str:
    """Fingerprint of a whole set of splits: the hash of {split name: split_hash}."""
    return config_hash({name: split_hash(instances) for name, instances in splits.items()})


def splits_summary(splits: Mapping[str, Sequence[Instance]]) -> dict[str, Any]:
    """Sizes and fingerprints, for logs and result records."""
    return {
        "sizes": {name: len(instances) for name, instances in splits.items()},
        "hashes": {name: split_hash(instances) for name, instances in splits.items()},
        "hash": splits_hash(splits),
    }
