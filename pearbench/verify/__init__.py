"""Verification layer: answer extraction and verdicts, math answers through math-verify in a worker pool, the
held-out math datasets and the scoring of completions (pass@k with confidence intervals).

Depends only on the core modules (``pearbench.errors``, ``io``, ``metrics``). The public names of the math checker
are re-exported here (``from pearbench.verify import verify_math``) and loaded on first use.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "MathVerifier": "pool",
    "verify_math": "pool",
    "verify_math_batch": "pool",
    "shutdown": "pool",
    "default_workers": "pool",
    "extract_math_answer": "normalize",
    "normalise_answer": "normalize",
    "parse_rational": "normalize",
    "format_rational": "normalize",
    "check_pair": "normalize",
    "exact_shortcut": "normalize",
    "DEFAULT_TIMEOUT": "normalize",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"pearbench.verify.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'pearbench.verify' has no attribute {name!r}")
