"""The content-addressed stage cache: ``<out>/cache/<stage>-<hash>/``, complete iff its ``done.json`` exists.

The hash covers the stage's key (every input that changes what the stage produces) and :data:`CACHE_VERSION`, so
methods of one suite, profile and seed share their tasks, base, teacher and behavior stages, and a changed input
never reuses a stale folder. ``done.json`` is written last and atomically: nothing half-written is ever read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pearbench.hashing import config_hash
from pearbench.io import atomic_write_json

#: Part of every stage key: bump it when a stage's code changes what it produces, so stale caches are not reused.
CACHE_VERSION = 2


@dataclass
class StageDir:
    """A content-addressed cache folder: complete iff ``done.json`` exists."""

    root: Path
    name: str
    key: dict[str, Any]
    hash: str = field(init=False)
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.hash = config_hash({"cache_version": CACHE_VERSION, **self.key})
        self.path = Path(self.root) / "cache" / f"{self.name}-{self.hash}"

    @property
    def done(self) -> bool:
        return (self.path / "done.json").exists()

    def read_done(self) -> dict[str, Any]:
        return json.loads((self.path / "done.json").read_text())

    def finish(self, info: dict[str, Any]) -> None:
        atomic_write_json(
            self.path / "done.json", {"stage": self.name, "hash": self.hash, "key": self.key, **info}
        )
