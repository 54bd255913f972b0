"""Lazy re-exports for package ``__init__`` modules (PEP 562), and the table of modules that moved.

A layer package re-exports its public names without importing its children up front (importing
``pearbench.harness.config`` must not load torch through ``pearbench.harness.runner``)::

    __getattr__, __dir__ = lazy_exports(__name__, {"run": "runner", "RunRequest": "runner"})
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package whose names live in its submodules (name -> submodule)."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__


#: Modules of pearbench 0.1's flat layout -> where they live now. ``import pearbench.hub`` keeps working (with a
#: DeprecationWarning) and gives the very module object of ``pearbench.models.hub``.
MOVED = {
    "answer": "verify.answer",
    "verdict": "verify.verdict",
    "datasets": "verify.datasets",
    "scoring": "verify.scoring",
    "rg_adapter": "envs.rg_adapter",
    "hub": "models.hub",
    "generation": "models.generation",
    "vllm_backend": "models.vllm",
    "objectives": "train.objectives",
    "methods": "train.methods",
    "sft": "train.sft",
    "grpo": "train.grpo",
    "checkpoint": "train.checkpoint",
    "config": "harness.config",
    "profiles": "harness.config",  # profiles.py and config.py became one module
    "suites": "harness.suites",
    "stages": "harness.stages",
    "sweep": "harness.sweep",
    "behavior": "harness.behavior",
    "corpus": "harness.corpus",
    "evaluate": "harness.evaluate",
    "heldout": "harness.heldout",
    "leaderboard": "results.leaderboard",
    "plots": "results.plots",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``pearbench.<old name>`` to the module's new home."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        prefix, _, name = fullname.partition(".")
        if prefix != "pearbench" or name not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec) -> None:
        return None  # a placeholder module, replaced in sys.modules by exec_module

    def exec_module(self, module) -> None:
        new = f"pearbench.{MOVED[module.__name__.partition('.')[2]]}"
        warnings.warn(f"{module.__name__} moved to {new}", DeprecationWarning, stacklevel=3)
        sys.modules[module.__name__] = importlib.import_module(new)


def install_moved_module_finder() -> None:
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
