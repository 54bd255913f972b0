"""Logging and progress: one ``pearbench`` logger, and progress display that suits where stderr goes.

- :func:`setup_logging` (the CLI calls it; ``pearbench -v`` / ``-q``): the ``pearbench`` logger at DEBUG / INFO /
  WARNING, format ``%(message)s``, on stderr. Its handler writes through ``tqdm.write``, so a log line never lands
  on a progress bar's line: an active bar is cleared first and redrawn below it.
- :func:`ensure_logging`: the same default setup when nothing set up the ``pearbench`` logger yet (the Python API
  prints the run's progress lines as the CLI does), unless the root logger already writes to the console.
- :func:`progress`: a tqdm bar when stderr is a terminal; otherwise a plain log line every 10% of the total, with
  the rate and the ETA (:class:`LogProgress`), so a log file holds no carriage-return frames. Nothing when
  disabled (``--no-progress``) or when INFO lines are hidden (``-q``).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any

LOGGER_NAME = "pearbench"
logger = logging.getLogger(LOGGER_NAME)

#: verbosity (``-q`` = -1, default 0, ``-v`` = 1) -> level of the ``pearbench`` logger
LEVELS = {-1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}


class TqdmHandler(logging.Handler):
    """Writes each record to the current ``sys.stderr`` through ``tqdm.write`` (bars cleared first, redrawn after)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            from tqdm import tqdm

            stream = sys.stderr
            tqdm.write(message, file=stream)
            stream.flush()
        except Exception:  # noqa: BLE001 - logging must never raise (logging.Handler's contract)
            self.handleError(record)


def _install_handler() -> None:
    for handler in list(logger.handlers):
        if isinstance(handler, TqdmHandler):
            logger.removeHandler(handler)
    handler = TqdmHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)


def setup_logging(verbosity: int = 0) -> None:
    """Configure the ``pearbench`` logger: level from ``verbosity`` (-1 WARNING, 0 INFO, 1+ DEBUG), format
    ``%(message)s`` on stderr. Calling it again replaces the handler it installed (never adds a second one)."""
    _install_handler()
    logger.setLevel(LEVELS[max(-1, min(1, int(verbosity)))])


def _reaches_a_console(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    return stream is not None and stream in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)


def ensure_logging() -> None:
    """The default setup (INFO lines on stderr) when nothing set up the ``pearbench`` logger yet, unless the root
    logger already writes to the console (an application's ``logging.basicConfig``: no line is shown twice).

    A level set on the ``pearbench`` logger is kept. Records still propagate to the root logger's handlers."""
    if logger.handlers or any(_reaches_a_console(h) for h in logging.getLogger().handlers):
        return
    _install_handler()
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def format_seconds(seconds: float) -> str:
    """``1:02:03`` / ``02:03`` (tqdm's style); ``?`` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class NullProgress:
    """The progress interface (``n``, ``update``, ``set_postfix``, ``close``, context manager) showing nothing."""

    def __init__(self, total: int = 0, initial: int = 0) -> None:
        self.total = total
        self.n = initial

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(
        self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any
    ) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LogProgress(NullProgress):
    """Progress as plain log lines: one when the count crosses each tenth of ``total`` (and none in between).

    A line reads ``  sft pear-seq: 30/100 steps (30%), 2.10 steps/s, ETA 00:33, nll=1.234, lr=1.0e-03``; the rate
    counts the steps done since this object was made (a resumed loop starts at ``initial``).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        unit: str = "it",
        initial: int = 0,
        log: logging.Logger | None = None,
        every: int = 10,
    ) -> None:
        super().__init__(total, initial)
        self.desc = desc
        self.unit = unit
        self.every = every
        self.log = log or logger
        self.postfix: dict[str, Any] = {}
        self._start_n = initial
        self._started = time.monotonic()
        self._mark = 1
        self._skip_marks()

    def _threshold(self, mark: int) -> int:
        return math.ceil(mark * self.total / self.every)

    def _skip_marks(self) -> bool:
        passed = False
        while self._mark <= self.every and self.n >= self._threshold(self._mark):
            self._mark += 1
            passed = True
        return passed

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.total > 0 and self._skip_marks():
            self.log.info(self.line())

    def set_postfix(
        self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any
    ) -> None:
        self.postfix = {**(ordered_dict or {}), **kwargs}

    def line(self) -> str:
        elapsed = time.monotonic() - self._started
        done = self.n - self._start_n
        rate = done / elapsed if elapsed > 0 and done > 0 else float("nan")
        eta = (self.total - self.n) / rate if rate > 0 else float("nan")
        units = f"{self.unit}s" if not self.unit.endswith("s") else self.unit
        parts = [
            f"  {self.desc}: {self.n}/{self.total} {units} ({100 * self.n / self.total:.0f}%)",
            f"{rate:.2f} {units}/s" if math.isfinite(rate) else f"? {units}/s",
            f"ETA {format_seconds(eta)}" if self.n < self.total else f"took {format_seconds(elapsed)}",
        ]
        parts += [f"{key}={value}" for key, value in self.postfix.items()]
        return ", ".join(parts)


def progress(
    *, total: int, desc: str, unit: str = "it", initial: int = 0, enabled: bool = True, leave: bool = False
) -> Any:
    """A progress display for ``total`` units: a tqdm bar on a terminal, :class:`LogProgress` lines otherwise,
    :class:`NullProgress` when ``enabled`` is False or the ``pearbench`` logger hides INFO lines. Sets up the
    default logging first when nothing configured it (:func:`ensure_logging`)."""
    ensure_logging()
    if not enabled or not logger.isEnabledFor(logging.INFO):
        return NullProgress(total, initial)
    if stderr_is_terminal():
        from tqdm import tqdm

        return tqdm(
            total=total,
            initial=initial,
            desc=desc,
            unit=unit,
            leave=leave,
            file=sys.stderr,
            dynamic_ncols=True,
        )
    return LogProgress(total, desc, unit=unit, initial=initial)
