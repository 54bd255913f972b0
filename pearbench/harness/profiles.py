"""Profiles: recipe files holding every size and shared hyperparameter (DESIGN §8).

A profile is a TOML file with the tables ``models``, ``pretrain``, ``data``, ``sft``, ``rl`` and ``eval``.
Bundled profiles live in ``pearbench/data/profiles/*.toml`` (``smoke``, ``small``, ``paper``); any path to a TOML file
works too. ``--config FILE`` overrides profile keys (deep merge) and is recorded in every result.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

from pearbench.errors import PearbenchError, unknown
from pearbench.hashing import config_hash

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def bundled_profiles() -> list[str]:
    return sorted(
        p.name[:-5]
        for p in resources.files("pearbench.data").joinpath("profiles").iterdir()
        if p.name.endswith(".toml")
    )


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise PearbenchError(f"{what} file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PearbenchError(f"malformed {what} file {path}: {exc}") from None


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_profile_raw(name_or_path: str) -> dict[str, Any]:
    """The profile's TOML content (bundled name or path), unvalidated."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        data = read_toml(name_or_path, "profile")
        data.setdefault("name", Path(name_or_path).stem)
        return data
    if name_or_path not in bundled_profiles():
        raise unknown("profile", name_or_path, bundled_profiles())
    with resources.files("pearbench.data").joinpath("profiles", f"{name_or_path}.toml").open("rb") as handle:
        data = tomllib.load(handle)
    data.setdefault("name", name_or_path)
    return data


def rl_recipe_hash(profile: str | dict[str, Any]) -> str:
    """Hash of the RL recipe (the profile's ``rl`` table): identical for every method of a profile."""
    data = load_profile_raw(profile) if isinstance(profile, str) else profile
    if "rl" not in data:
        raise PearbenchError("profile has no [rl] table")
    return config_hash({"rl": data["rl"]})
