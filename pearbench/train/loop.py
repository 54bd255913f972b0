"""The resumable skeleton shared by the SFT and GRPO loops: AdamW, resume from the newest checkpoint, a progress
bar, and after each step its log entry, a checkpoint every N steps (and at the last) and the crash-test fault point.

Each loop keeps its own step body; the skeleton is::

    optimizer = adamw(model, lr=..., weight_decay=..., betas=...)
    run = ResumableRun(model, optimizer, checkpoint_dir, steps=..., checkpoint_every=..., fault_point="sft")
    ...                                    # run.start (0, or the step resumed from) and run.log (its log so far)
    for step in run.steps(desc=desc, progress=progress):
        entry = ...                        # one optimizer step, its log entry
        run.end_step(step, entry, postfix={...})
    return run.log
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from pearbench.faults import maybe_die
from pearbench.logs import ensure_logging
from pearbench.logs import progress as progress_display
from pearbench.train.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_optimizer_state,
    save_checkpoint,
)

if TYPE_CHECKING:
    from pearbench.train.metrics_log import MetricsLog
    from pearbench.train.sharding import ShardedModel

log = logging.getLogger("pearbench.train")

#: A step's log entry: metric name -> value.
LogEntry = dict[str, float]


def adamw(
    model: torch.nn.Module, *, lr: float, weight_decay: float, betas: tuple[float, float]
) -> torch.optim.AdamW:
    """AdamW over every parameter of ``model``."""
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=betas)


def resume(
    checkpoint_dir: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    sharded: ShardedModel | None = None,
) -> tuple[int, list[LogEntry]]:
    """Load the newest checkpoint in ``checkpoint_dir`` into ``model`` and ``optimizer``, if there is one.

    ``sharded`` (FSDP, :mod:`pearbench.train.sharding`): ``model`` is its replica and ``optimizer`` the sharded
    trainee's; the weights go into both. Returns (the number of steps already taken, their log): (0, []) when there is
    no checkpoint.
    """
    found = latest_checkpoint(checkpoint_dir)
    if found is None:
        return 0, []
    if sharded is None:
        state = load_checkpoint(found, model, optimizer)
    else:
        state = load_checkpoint(found, model)
        sharded.load_replica()
        optimizer_state = load_optimizer_state(found)
        if optimizer_state is not None:
            sharded.load_optimizer_state(optimizer, optimizer_state)
    return int(state["step"]), list(state.get("log", []))


class ResumableRun:
    """A loop of ``steps`` optimizer steps that resumes from, and writes, checkpoints in ``checkpoint_dir``.

    Construction resumes (:func:`resume`): :attr:`start` is the first step still to run, :attr:`log` the log so far.
    After step ``step`` (0-based) :meth:`end_step` appends its entry, advances the progress bar and saves a
    checkpoint (model, optimizer, ``{"log": log_for_checkpoint(log)}``) when ``step + 1`` is a multiple of
    ``checkpoint_every`` or the last step; then the fault point ``fault_point`` (None: none) may kill the process
    for the crash tests (:func:`pearbench.faults.maybe_die`). ``metrics`` (optional) receives each step's entry
    (with the learning rate when the entry has none) as a line of its ``metrics.jsonl``; a resumed loop first drops
    the lines after the checkpoint. A resumed loop logs "resumed from step K", whether progress is shown or not.
    ``main=False`` (a data-parallel rank other than 0, :mod:`pearbench.train.distributed`): the loop resumes from
    the same checkpoints but writes none, and no metrics lines. ``sharded`` (FSDP): ``model`` is the replica of that
    :class:`~pearbench.train.sharding.ShardedModel` and ``optimizer`` its trainee's; every rank gathers the full
    weights and optimizer state when a checkpoint is due, and rank 0 writes them.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        checkpoint_dir: str | Path,
        *,
        steps: int,
        checkpoint_every: int,
        fault_point: str | None,
        log_for_checkpoint: Callable[[list[LogEntry]], Any] = lambda log: log,
        metrics: MetricsLog | None = None,
        main: bool = True,
        sharded: ShardedModel | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.checkpoint_dir = checkpoint_dir
        self.total = steps
        self.checkpoint_every = checkpoint_every
        self.fault_point = fault_point
        self.log_for_checkpoint = log_for_checkpoint
        self.sharded = sharded
        self.start, self.log = resume(checkpoint_dir, model, optimizer, sharded)
        self.metrics = metrics if main else None
        self.main = main
        self._bar: Any = None

    def steps(self, *, desc: str, progress: bool = True) -> Iterator[int]:
        """The steps still to run (``start`` .. ``steps - 1``), under a progress display closed at the end
        (:func:`pearbench.logs.progress`: a bar on a terminal, a log line every 10% otherwise)."""
        ensure_logging()
        if self.start and self.main:
            log.info(f"  {desc}: resumed from step {self.start} of {self.total}")
        self._bar = progress_display(
            total=self.total, initial=self.start, desc=desc, enabled=progress, unit="step"
        )
        try:
            if self.metrics is not None:
                self.metrics.start(self.start)
            yield from range(self.start, self.total)
        finally:
            self._bar.close()
            if self.metrics is not None:
                self.metrics.close()

    def end_step(self, step: int, entry: LogEntry, *, postfix: dict[str, str]) -> None:
        """Log step ``step`` (0-based), show ``postfix`` on the bar, checkpoint when due, then the fault point."""
        self.log.append(entry)
        done = step + 1
        if self.metrics is not None:
            self.metrics.write({"step": done, "lr": self.optimizer.param_groups[0]["lr"], **entry})
        self._bar.set_postfix(postfix)
        self._bar.update(1)
        if done % self.checkpoint_every == 0 or done == self.total:
            optimizer: Any = self.optimizer
            if self.sharded is not None:  # every rank: the full weights into the replica, the optimizer state
                self.sharded.refresh()
                optimizer = self.sharded.optimizer_state(self.optimizer)
            if self.main:
                save_checkpoint(
                    self.checkpoint_dir,
                    done,
                    self.model,
                    optimizer,
                    {"log": self.log_for_checkpoint(self.log)},
                )
        if self.fault_point is not None:
            maybe_die(self.fault_point, done)
