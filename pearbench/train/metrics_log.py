"""Live training curves: one JSON line per optimizer step in ``<stage folder>/metrics.jsonl``, and optional backends.

Every training stage (base/teacher pretraining, SFT, RL) appends ``{"step", "time", "lr", "loss", "grad_norm",
...}`` after each step, flushed at once, so ``tail -f`` or a notebook can follow a run. SFT lines add the objective's
diagnostics (mean weight, ESS fraction, clip fractions, ...); RL lines the reward, KL, entropy, clip fraction and
response length; pretraining lines keep only the loss, NLL, learning rate and gradient norm. A resumed stage first
drops the lines after the checkpoint it resumed from, so the file never holds a step twice.

The profile table ``[log]`` (:class:`LogConfig`) adds backends, each an optional extra imported only when used:
``tensorboard`` (event files in ``<stage folder>/tensorboard``), ``wandb`` (offline, under the stage folder) and
``trackio`` (local: never a Space or a server). None of them touches the network. ``[log]`` is not part of any
stage key: logging changes no result.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pearbench.errors import PearbenchError
from pearbench.io import atomic_write_text
from pearbench.settings import SettingError, Settings, setting

#: backend name -> (module imported, pip extra of pearbench that installs it)
BACKENDS = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "wandb": ("wandb", "wandb"),
    "trackio": ("trackio", "trackio"),
}

#: the fields a pretraining stage writes (the PEAR diagnostics of its plain NLL objective carry no information)
PRETRAIN_FIELDS = ("step", "time", "lr", "loss", "nll", "grad_norm")


@dataclass(frozen=True)
class LogConfig(Settings):
    """Where training curves go besides each stage's ``metrics.jsonl`` (always written). Not part of any stage key."""

    TABLE = "log"
    backends: tuple[str, ...] = setting(
        (),
        doc='extra loggers of every training step: "tensorboard", "wandb" (offline) and/or "trackio" (local); '
        "each needs the pip extra of the same name (pip install 'pearbench[tensorboard]')",
    )
    project: str = setting("pearbench", doc="project name of the wandb and trackio runs")

    def check(self) -> None:
        for name in self.backends:
            if name not in BACKENDS:
                raise SettingError(f"backends: unknown backend {name!r}; choose from: {', '.join(BACKENDS)}")
        if len(set(self.backends)) != len(self.backends):
            raise SettingError("backends: lists a backend twice")
        if not self.project.strip():
            raise SettingError("project: must be a non-empty string")


def missing_extra(name: str) -> PearbenchError:
    module, extra = BACKENDS[name]
    return PearbenchError(
        f"[log] backends: {name!r} needs the optional extra {extra!r} ({module} is not installed): "
        f"pip install 'pearbench[{extra}]'"
    )


def check_backends(backends: Sequence[str]) -> None:
    """One clear error, before any work, for a backend whose package is not installed (nothing is imported)."""
    for name in backends:
        if name not in BACKENDS:
            raise PearbenchError(
                f"[log] backends: unknown backend {name!r}; choose from: {', '.join(BACKENDS)}"
            )
        module = BACKENDS[name][0]
        if sys.modules.get(module) is None and importlib.util.find_spec(module) is None:
            raise missing_extra(name)


def _import(name: str, module: str | None = None) -> Any:
    try:
        return importlib.import_module(module or BACKENDS[name][0])
    except ImportError:
        raise missing_extra(name) from None


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


# -- backends -----------------------------------------------------------------------------------------------------
class TensorBoardBackend:
    """Scalars into ``<folder>/tensorboard`` (torch's SummaryWriter); a resumed stage purges the later steps."""

    def __init__(self, folder: Path, *, name: str, project: str, config: dict[str, Any], start: int) -> None:
        _import("tensorboard")
        writer_module = _import("tensorboard", "torch.utils.tensorboard")
        self.writer = writer_module.SummaryWriter(
            log_dir=str(folder / "tensorboard"), purge_step=start + 1 if start else None
        )

    def log(self, scalars: dict[str, float], step: int) -> None:
        for key, value in scalars.items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbBackend:
    """An offline wandb run under ``<folder>/wandb`` (``wandb sync`` uploads it later, if wanted)."""

    def __init__(self, folder: Path, *, name: str, project: str, config: dict[str, Any], start: int) -> None:
        wandb = _import("wandb")
        with contextlib.redirect_stdout(sys.stderr):
            self.run = wandb.init(project=project, name=name, dir=str(folder), mode="offline", config=config)

    def log(self, scalars: dict[str, float], step: int) -> None:
        self.run.log(scalars, step=step)

    def close(self) -> None:
        with contextlib.redirect_stdout(sys.stderr):
            self.run.finish()


class TrackioBackend:
    """A local trackio run, never a Space, dataset or remote server: those arguments are passed as None and their
    environment variables hidden while the run starts. trackio versions that take a ``project`` name store it in
    trackio's local database; those that take a project ``dir`` get ``<folder>/trackio``. What trackio prints goes
    to stderr (stdout keeps the command's own output)."""

    REMOTE = ("space_id", "server_url", "dataset_id", "bucket_id")
    REMOTE_ENV = ("TRACKIO_SPACE_ID", "TRACKIO_SERVER_URL", "TRACKIO_DATASET_ID", "TRACKIO_BUCKET_ID")

    def __init__(self, folder: Path, *, name: str, project: str, config: dict[str, Any], start: int) -> None:
        self.trackio = _import("trackio")
        try:
            params = inspect.signature(self.trackio.init).parameters
        except (TypeError, ValueError):  # pragma: no cover - a builtin or C function
            params = {}
        open_ended = not params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())

        def accepts(key: str) -> bool:
            return key in params or open_ended

        kwargs: dict[str, Any] = {"name": name, "config": config}
        if accepts("project"):
            kwargs["project"] = project
        elif "dir" in params:
            kwargs["dir"] = str(folder / "trackio")
        kwargs.update({key: None for key in self.REMOTE if accepts(key)})
        hidden = {key: os.environ.pop(key) for key in self.REMOTE_ENV if key in os.environ}
        try:
            with contextlib.redirect_stdout(sys.stderr):
                self.trackio.init(**kwargs)
        finally:
            os.environ.update(hidden)

    def log(self, scalars: dict[str, float], step: int) -> None:
        self.trackio.log(scalars, step=step)

    def close(self) -> None:
        with contextlib.redirect_stdout(sys.stderr):
            self.trackio.finish()


BACKEND_CLASSES = {"tensorboard": TensorBoardBackend, "wandb": WandbBackend, "trackio": TrackioBackend}


# -- the writer ---------------------------------------------------------------------------------------------------
def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The complete lines of a ``metrics.jsonl`` (a line cut short by a kill is left out)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and isinstance(value.get("step"), int):
            out.append(value)
    return out


class MetricsLog:
    """The per-step metrics of one training stage: ``path`` (JSONL) and the ``backends``.

    :meth:`start` (the loop calls it with the step it resumed from) drops the lines after that step and opens the
    backends; :meth:`write` appends one step; :meth:`close` closes the backends. ``fields`` (None: all) keeps only
    those keys of each step; ``run_name``, ``project`` and ``config`` name the backends' run.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        backends: Sequence[str] = (),
        fields: Sequence[str] | None = None,
        run_name: str | None = None,
        project: str = "pearbench",
        config: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.backend_names = tuple(backends)
        self.fields = None if fields is None else tuple(fields)
        self.run_name = run_name or self.path.parent.name
        self.project = project
        self.config = dict(config or {})
        self.backends: list[Any] = []

    def start(self, step: int) -> None:
        """Continue after ``step`` (0: a fresh stage): keep only the lines of steps <= ``step``; open the backends."""
        lines = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
        kept = [json.dumps(e, allow_nan=False) for e in read_metrics(self.path) if e["step"] <= step]
        if kept != lines:
            atomic_write_text(self.path, "".join(f"{line}\n" for line in kept))
        self.close()
        name = self.run_name if step == 0 else f"{self.run_name}-from-{step}"
        try:
            for backend in self.backend_names:
                self.backends.append(
                    BACKEND_CLASSES[backend](
                        self.path.parent, name=name, project=self.project, config=self.config, start=step
                    )
                )
        except BaseException:
            self.close()
            raise

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The line written for a step's log entry: ``fields`` kept, non-finite numbers as null."""
        chosen = entry if self.fields is None else {k: v for k, v in entry.items() if k in self.fields}
        return {key: _finite(value) for key, value in chosen.items()}

    def write(self, entry: dict[str, Any]) -> None:
        """Append one step (``entry`` holds an integer ``step``) to the file and the backends."""
        line = self.record({"step": entry["step"], "time": round(time.time(), 3), **entry})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, allow_nan=False) + "\n")
        scalars = {
            k: float(v)
            for k, v in line.items()
            if k not in ("step", "time") and isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        for backend in self.backends:
            backend.log(scalars, int(line["step"]))

    def close(self) -> None:
        backends, self.backends = self.backends, []
        for backend in backends:
            backend.close()
