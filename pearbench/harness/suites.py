"""Suites: which environments and levels, the trace styles of base corpus and teacher, the mismatch level (docs/design.md §1).

A suite is a TOML recipe (bundled in ``pearbench/data/suites/`` or any path)::

    name = "countdown"
    prompt_style = "compact"        # compact prompts for the char-level tiny models; "natural" for real LMs
    base_seed = 1234                # seeds of base and teacher pretraining (trained once per suite and profile)
    teacher_seed = 4321
    [[envs]]
    name = "countdown"
    difficulty = "easy"
    [styles]
    base = "words"
    teacher = "steps"
    [mismatch]
    teacher_style_share = 0.2       # share of teacher-style traces in the base corpus (lower = bigger gap)
    base_noise = 0.5                # fraction of base-corpus traces whose answer is corrupted

An ``[[envs]]`` entry may override the two ``[mismatch]`` knobs for its own traces in the base corpus
(``teacher_style_share = 1.0`` and ``base_noise = 0.0`` beside ``name``): in a mixed suite the base model can then be
close to the teacher on one game and far from it on another, which spreads the PEAR sequence weights.

A suite whose games have long traces may set a top-level ``max_new_tokens = N``: the length budget of its traces, part
of the task like its games. Behavior sampling, RL rollouts and evaluation of the suite then sample up to
``max(N, the profile's value)`` tokens (:func:`apply_trace_budget`); the profile, its RL recipe and its hashes are
unchanged, the raised limits enter the stage keys, and every record states them (``trace_budget``,
``eval.max_new_tokens``). Without it a suite's keys are as they were.

Optionally a suite is one level of a *mismatch map* (a family of suites that differ in what separates π₀ from π_β;
the leaderboard draws each map, ``map_<name>.md``): top-level ``map = "countdown"`` and ``map_level = "low"``,
``"mid"``, ``"high"`` or a number. Neither enters any stage key: a suite's stages and cache are those of the same
suite without them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pearbench.errors import PearbenchError, unknown
from pearbench.io import load_toml, read_toml
from pearbench.results.mismatch_map import MAP_LEVELS, MAP_NAME

DEFAULT_SUITE = "countdown"


@dataclass(frozen=True)
class EnvSpec:
    """One environment of a suite: its level, its weight in the splits, and optional per-environment overrides of
    the suite's ``[mismatch]`` knobs for the base corpus (None: the suite's value)."""

    name: str
    difficulty: str
    weight: float = 1.0
    teacher_style_share: float | None = None
    base_noise: float | None = None

    def key(self, overrides: bool = True) -> dict[str, Any]:
        """The spec as stage keys hold it: the overrides only where set (never with ``overrides=False``), so keys
        of suites without them stay as they were."""
        data = {k: v for k, v in asdict(self).items() if v is not None}
        if not overrides:
            data.pop("teacher_style_share", None)
            data.pop("base_noise", None)
        return data


@dataclass(frozen=True)
class Suite:
    name: str
    envs: tuple[EnvSpec, ...]
    base_style: str
    teacher_style: str
    teacher_style_share: float
    base_noise: float
    prompt_style: str = "compact"
    base_seed: int = 1234
    teacher_seed: int = 4321
    description: str = ""
    #: the mismatch map this suite is a level of, and its level ("low", "mid", "high" or a number); None: no map
    map: str | None = None
    map_level: str | float | None = None
    #: the longest trace the suite's games need, in tokens (None: the profile's limits as they are)
    max_new_tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["envs"] = [e.key() for e in self.envs]
        return data

    def base_mix(self, env: str) -> tuple[float, float]:
        """(teacher_style_share, base_noise) of ``env``'s traces in the base corpus: its overrides, else the
        suite's."""
        spec = next(e for e in self.envs if e.name == env)
        share = self.teacher_style_share if spec.teacher_style_share is None else spec.teacher_style_share
        noise = self.base_noise if spec.base_noise is None else spec.base_noise
        return share, noise

    def per_env_mix(self) -> dict[str, dict[str, float]]:
        """The per-environment overrides of the base corpus knobs, resolved ({} when no environment has any)."""
        if all(e.teacher_style_share is None and e.base_noise is None for e in self.envs):
            return {}
        out = {}
        for spec in self.envs:
            share, noise = self.base_mix(spec.name)
            out[spec.name] = {"other_style_share": share, "noise": noise}
        return out

    def games(self) -> dict[str, Any]:
        """One Game object per (env, difficulty), keyed by env name (one level per env per suite)."""
        from pearbench.registry import make_game

        return {spec.name: make_game(spec.name, difficulty=spec.difficulty) for spec in self.envs}


def bundled_suites() -> list[str]:
    folder = resources.files("pearbench.data").joinpath("suites")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


_KEYS = {
    "name",
    "description",
    "prompt_style",
    "base_seed",
    "teacher_seed",
    "envs",
    "styles",
    "mismatch",
    "map",
    "map_level",
    "max_new_tokens",
}

#: the largest trace budget a suite may ask for
MAX_TRACE_BUDGET = 1 << 16


_ENV_KEYS = {"name", "difficulty", "weight", "teacher_style_share", "base_noise"}


def _map_keys(data: dict[str, Any], where: str) -> tuple[str | None, str | float | None]:
    """The validated ``map`` and ``map_level`` of a suite (both or neither)."""
    name, level = data.get("map"), data.get("map_level")
    if name is None and level is None:
        return None, None
    if name is None or level is None:
        missing = "map" if name is None else "map_level"
        raise PearbenchError(f"suite {where}: map and map_level go together; {missing} is missing")
    if not isinstance(name, str) or not MAP_NAME.match(name):
        raise PearbenchError(
            f"suite {where}: map must be a name of letters, digits, '.', '_' or '-', got {name!r}"
        )
    if isinstance(level, str):
        if level not in MAP_LEVELS:
            raise unknown(f"map_level in suite {where}", level, MAP_LEVELS)
        return name, level
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not math.isfinite(level):
        raise PearbenchError(
            f"suite {where}: map_level must be one of {', '.join(MAP_LEVELS)} or a finite number, got {level!r}"
        )
    return name, float(level)


def load_suite(name_or_path: str | None = None) -> Suite:
    """Load and validate a suite (bundled name or TOML path); errors name the bad key or value."""
    name_or_path = name_or_path or DEFAULT_SUITE
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        data = read_toml(name_or_path, "suite")
        data.setdefault("name", Path(name_or_path).stem)
    else:
        if name_or_path not in bundled_suites():
            raise unknown("suite", name_or_path, bundled_suites(), suggest=True)
        data = load_toml(
            resources.files("pearbench.data").joinpath("suites", f"{name_or_path}.toml"), "suite"
        )
        data.setdefault("name", name_or_path)
    bad = sorted(set(data) - _KEYS)
    if bad:
        raise PearbenchError(
            f"unknown key {bad[0]!r} in suite {name_or_path}; allowed: {', '.join(sorted(_KEYS))}"
        )
    from pearbench.registry import get_game_class

    envs = []
    for entry in data.get("envs", []):
        if not isinstance(entry, dict) or "name" not in entry:
            raise PearbenchError(f"suite {name_or_path}: each [[envs]] entry needs a name")
        extra = sorted(set(entry) - _ENV_KEYS)
        if extra:
            raise PearbenchError(
                f"unknown key {extra[0]!r} in an [[envs]] entry of suite {name_or_path}; allowed: "
                f"{', '.join(sorted(_ENV_KEYS))}"
            )
        overrides = {}
        for knob in ("teacher_style_share", "base_noise"):
            if knob in entry:
                value = entry[knob]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                    raise PearbenchError(
                        f"suite {name_or_path}: {knob} of {entry['name']} must be a number in [0, 1], got {value!r}"
                    )
                overrides[knob] = float(value)
        game_cls = get_game_class(entry["name"])
        difficulty = entry.get("difficulty", game_cls.default_difficulty)
        if difficulty not in game_cls.levels:
            raise unknown(
                f"difficulty for {game_cls.name} in suite {name_or_path}", difficulty, game_cls.levels
            )
        envs.append(
            EnvSpec(
                name=game_cls.name, difficulty=difficulty, weight=float(entry.get("weight", 1.0)), **overrides
            )
        )
    if not envs:
        raise PearbenchError(f"suite {name_or_path} lists no environments")
    if len({e.name for e in envs}) != len(envs):
        raise PearbenchError(f"suite {name_or_path} lists an environment twice")
    styles = data.get("styles", {})
    mismatch = data.get("mismatch", {})
    map_name, map_level = _map_keys(data, name_or_path)
    budget = data.get("max_new_tokens")
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int) or not 1 <= budget <= MAX_TRACE_BUDGET
    ):
        raise PearbenchError(
            f"suite {name_or_path}: max_new_tokens must be a whole number in [1, {MAX_TRACE_BUDGET}], got {budget!r}"
        )
    suite = Suite(
        name=str(data["name"]),
        description=str(data.get("description", "")),
        envs=tuple(envs),
        base_style=str(styles.get("base", "words")),
        teacher_style=str(styles.get("teacher", "steps")),
        teacher_style_share=float(mismatch.get("teacher_style_share", 0.2)),
        base_noise=float(mismatch.get("base_noise", 0.5)),
        prompt_style=str(data.get("prompt_style", "compact")),
        base_seed=int(data.get("base_seed", 1234)),
        teacher_seed=int(data.get("teacher_seed", 4321)),
        map=map_name,
        map_level=map_level,
        max_new_tokens=budget,
    )
    for spec in envs:
        styles_allowed = get_game_class(spec.name).trace_styles
        for role, style in (("base", suite.base_style), ("teacher", suite.teacher_style)):
            if style not in styles_allowed:
                raise unknown(f"{role} trace style for {spec.name}", style, styles_allowed)
    if not 0 <= suite.teacher_style_share <= 1 or not 0 <= suite.base_noise <= 1:
        raise PearbenchError("suite mismatch.teacher_style_share and mismatch.base_noise must be in [0, 1]")
    if suite.prompt_style not in ("compact", "natural"):
        raise unknown("prompt_style", suite.prompt_style, ("compact", "natural"))
    return suite


def suite_source(name_or_path: str | None = None) -> str:
    """Where a suite's TOML comes from: the bundled file of a suite name, else the path as given."""
    name_or_path = name_or_path or DEFAULT_SUITE
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        return name_or_path
    return str(resources.files("pearbench.data").joinpath("suites", f"{name_or_path}.toml"))


def describe_suite(name_or_path: str | None = None) -> dict[str, Any]:
    """A suite resolved for display: every key with its default filled in, each environment's Gymnasium id and
    knob values at its level, and the TOML file it comes from (``pearbench suites show``)."""
    from pearbench.registry import get_game_class

    suite = load_suite(name_or_path)
    envs = []
    for spec in suite.envs:
        game_cls = get_game_class(spec.name)
        envs.append(
            {
                "name": spec.name,
                "gym_id": game_cls.gym_id(),
                "difficulty": spec.difficulty,
                "weight": spec.weight,
                "overrides": {
                    k: v for k, v in spec.key().items() if k in ("teacher_style_share", "base_noise")
                },
                "knobs": game_cls(difficulty=spec.difficulty).config_dict(),
            }
        )
    return {
        "name": suite.name,
        "description": suite.description,
        "source": suite_source(name_or_path),
        "prompt_style": suite.prompt_style,
        "base_seed": suite.base_seed,
        "teacher_seed": suite.teacher_seed,
        "envs": envs,
        "styles": {"base": suite.base_style, "teacher": suite.teacher_style},
        "mismatch": {"teacher_style_share": suite.teacher_style_share, "base_noise": suite.base_noise},
        **({"map": suite.map, "map_level": suite.map_level} if suite.map is not None else {}),
        **({"max_new_tokens": suite.max_new_tokens} if suite.max_new_tokens is not None else {}),
    }


def apply_trace_budget(profile, suite: Suite):
    """``profile`` with its behavior, RL-rollout and evaluation token limits raised to the suite's
    ``max_new_tokens`` (never lowered; the profile itself when the suite sets none). ``profile.raw`` and so the
    profile's hashes and RL recipe hash stay those of the profile as written; the stage keys read the raised
    limits from the tables (the evaluation key from :attr:`~pearbench.harness.config.Profile.eval_table`)."""
    from dataclasses import replace

    budget = suite.max_new_tokens
    if budget is None:
        return profile
    tables = {}
    for name in ("behavior", "rl", "eval"):
        table = getattr(profile, name)
        if table.max_new_tokens < budget:
            tables[name] = replace(table, max_new_tokens=budget)
    if not tables:
        return profile
    return replace(profile, **tables, trace_budget=budget)
