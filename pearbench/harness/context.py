"""What a stage receives: the run's settings, paths, shared tokenizer and logger (:class:`RunContext`).

Stages are functions ``stage(ctx, inputs...) -> outputs``; they never see the runner. The runner
(:mod:`pearbench.harness.runner`) builds one context per run and calls the stages in order.
"""

from __future__ import annotations

import logging
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pearbench import __version__
from pearbench.harness.cache import StageDir
from pearbench.harness.config import Profile
from pearbench.harness.suites import Suite
from pearbench.logs import ensure_logging
from pearbench.settings import env_whole_number

if TYPE_CHECKING:
    from pearbench.train.metrics_log import MetricsLog

log = logging.getLogger("pearbench.harness")


def say(message: str) -> None:
    """A progress line of the run: an INFO record of the ``pearbench`` logger (stderr unless configured otherwise;
    ``pearbench -q`` hides it)."""
    ensure_logging()
    log.info(message)


@dataclass
class RunContext:
    """One run's settings as the stages see them.

    ``label`` is the canonical method label (``sft@3x``, ``pear-token+gamma=0.99``), ``method_name`` the registered
    name (``sft``), ``method`` and ``options`` its loss and recipe options (the label's options applied),
    ``sft_factor`` the ``@Fx`` factor, ``method_recipe_hash`` the hash of those options. ``rank``/``world_size``
    describe data-parallel training (rank 0 samples, evaluates and writes), ``sharding`` whether its model is
    replicated ("replicate") or sharded ("fsdp") over the ranks.
    """

    out: Path
    profile: Profile
    suite: Suite
    seed: int
    label: str
    method_name: str
    method: Any
    options: Any
    sft_factor: float
    method_recipe_hash: str
    games: dict[str, Any]
    progress: bool = True
    executor: str = "local"
    rank: int = 0
    world_size: int = 1
    sharding: str = "replicate"
    timings: dict[str, float] = field(default_factory=dict)
    _tokenizer: Any = field(default=None, repr=False)

    @property
    def device(self) -> str:
        return self.profile.torch_device()

    def stage(self, name: str, key: dict[str, Any]) -> StageDir:
        """The cache folder of stage ``name`` for this key."""
        return StageDir(self.out, name, key)

    def log(self, message: str) -> None:
        say(message)

    def metrics_log(self, stage: StageDir, *, pretraining: bool = False) -> MetricsLog | None:
        """A training stage's per-step curves: ``<stage folder>/metrics.jsonl`` and the ``[log]`` backends (rank 0
        only; None elsewhere). Pretraining keeps only the loss, NLL, learning rate and gradient norm."""
        if self.rank != 0:
            return None
        from pearbench.train.metrics_log import PRETRAIN_FIELDS, MetricsLog

        return MetricsLog(
            stage.path / "metrics.jsonl",
            backends=self.profile.log.backends,
            fields=PRETRAIN_FIELDS if pretraining else None,
            run_name=stage.path.name,
            project=self.profile.log.project,
            config={"stage": stage.name, "key": stage.key},
        )

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = fn()
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started
        return result

    @property
    def tokenizer(self):
        """The tokenizer every model of the run shares (``[models] tokenizer``), loaded once."""
        if self._tokenizer is None:
            if self.profile.models.tokenizer != "char":
                from pearbench.models.hub import load_tokenizer

                self._tokenizer = load_tokenizer(self.profile.models.tokenizer)
            else:
                from pearbench.models.families import build_char_tokenizer

                self._tokenizer = build_char_tokenizer()
        return self._tokenizer


# -- provenance ---------------------------------------------------------------------------------------------------
def package_versions() -> dict[str, str]:
    out = {"pearbench": __version__, "python": platform.python_version()}
    for name in ("torch", "transformers", "tokenizers", "gymnasium", "numpy", "math-verify", "sympy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
        return result.stdout.strip() or None if result.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def threads_from_env(default: int) -> int:
    """Torch threads: ``$PEARBENCH_THREADS`` when set (a whole number >= 1), else ``default``."""
    return env_whole_number("PEARBENCH_THREADS", max(1, int(default)))


def quiet_transformers() -> None:
    """pearbench shows its own progress bars; transformers' per-load bars would bury them."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass
