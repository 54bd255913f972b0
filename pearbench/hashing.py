"""Content hashes of configs and files: canonical JSON, sha256."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace: equal objects give equal strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_hash(obj: Any, length: int = 16) -> str:
    """Short content hash of a JSON-serialisable object (used for cache keys and recipe hashes)."""
    return sha256_text(canonical_json(obj))[:length]


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_seed(*parts: int) -> int:
    """A 62-bit seed derived from whole numbers (their signs dropped): the same parts give the same seed."""
    import numpy as np

    return int(np.random.default_rng([abs(int(p)) for p in parts]).integers(0, 2**62))
