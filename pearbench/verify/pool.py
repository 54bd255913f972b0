"""The math-verify worker pool: every check runs in a worker process's main thread, with one wall-clock deadline per
check enforced from the parent (a worker still busy at its deadline is killed and replaced). Why a process pool, and
the extraction rule, are described in :mod:`pearbench.verify.normalize`.
"""

from __future__ import annotations

import atexit
import math
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from pearbench.errors import PearbenchError
from pearbench.verify.normalize import (
    _MAX_CHUNK,
    DEFAULT_TIMEOUT,
    MAX_EXTRACTED_CHARS,
    WORKER_START_TIMEOUT,
    _quiet_math_verify,
    check_pair,
    exact_shortcut,
    find_answer_candidate,
    normalise_answer,
)
from pearbench.verify.verdict import Verdict

# -- the worker process ---------------------------------------------------------------------------------------------


def _worker_main(conn: Connection) -> None:
    """Worker loop: answer each check of each received chunk separately, in this process's main thread."""
    _quiet_math_verify()
    try:
        import math_verify  # noqa: F401 - import (and warm up) before saying ready

        check_pair("1", "\\frac{1}{2}", "")
    except Exception:  # noqa: BLE001 - a broken warm-up shows up in the first real check instead
        pass
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        for task_id, gold, candidate, rest in message:
            try:
                correct, extracted = check_pair(gold, candidate, rest)
                reply = (task_id, correct, None, _cap(extracted))
            except RecursionError:
                reply = (task_id, False, "verifier exception: RecursionError (input nested too deeply)", None)
            except Exception as exc:  # noqa: BLE001 - every failure becomes an error verdict
                reply = (task_id, False, _describe(exc), None)
            try:
                conn.send(reply)
            except (BrokenPipeError, OSError):
                return


def _describe(exc: BaseException) -> str:
    try:
        detail = str(exc)[:200]
    except Exception:  # noqa: BLE001
        detail = "<unprintable>"
    return f"verifier exception: {type(exc).__name__}: {detail}"


def _cap(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_EXTRACTED_CHARS:
        return text
    return text[:MAX_EXTRACTED_CHARS]


# -- the pool -------------------------------------------------------------------------------------------------------


def default_workers() -> int:
    """Default pool size: the CPU count, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        # Workers fork from a server that already imported math-verify: replacing a hung worker costs milliseconds.
        try:
            context.set_forkserver_preload(["pearbench.verify.pool", "math_verify", "latex2sympy2_extended"])
        except Exception:  # noqa: BLE001 - preloading is an optimisation only
            pass
        return context
    return multiprocessing.get_context("spawn")


_SPAWN_PATCH_LOCK = threading.Lock()


def _start_without_main(process: Any) -> None:
    """Start a forkserver/spawn process WITHOUT re-importing the caller's ``__main__`` in it.

    multiprocessing normally re-runs the parent's main script in such children, which breaks any script that calls
    :func:`verify_math` without an ``if __name__ == "__main__"`` guard. The worker needs nothing from ``__main__``
    (its target lives in this module), so the two main-module entries are dropped from the preparation data.
    """
    from multiprocessing import spawn

    original = spawn.get_preparation_data

    def without_main(name: str) -> dict[str, Any]:
        data = original(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    with _SPAWN_PATCH_LOCK:
        spawn.get_preparation_data = without_main
        try:
            process.start()
        finally:
            spawn.get_preparation_data = original


@dataclass
class _Worker:
    process: Any
    conn: Connection
    ready: bool = False
    started_at: float = field(default_factory=time.monotonic)
    pending: deque[int] = field(default_factory=deque)
    deadline: float | None = None


@dataclass
class _Task:
    gold: str
    candidate: str | None
    rest: str | None


class MathVerifier:
    """A pool of math-verify worker processes with a wall-clock bound per check.

    Use as a context manager for explicit control, or rely on the lazily started module-level pool behind
    :func:`verify_math` / :func:`verify_math_batch`::

        with MathVerifier(workers=2) as verifier:
            verdicts = verifier.verify_batch([("1/2", "\\\\boxed{0.5}")], timeout=5.0)

    One batch runs at a time (calls from several threads are serialised).
    """

    def __init__(self, workers: int | None = None, *, exact_fast_path: bool = True) -> None:
        if workers is None:
            workers = default_workers()
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise PearbenchError(f"workers must be a positive integer, got {workers!r}")
        self.workers = workers
        #: Decide plain-number answers by exact arithmetic in the parent (see :func:`exact_shortcut`).
        self.exact_fast_path = exact_fast_path
        self._context = _context()
        self._pool: list[_Worker] = []
        self._lock = threading.Lock()
        self._owner_pid = os.getpid()
        self._closed = False
        #: Workers killed and replaced so far (timeouts and crashes).
        self.replaced = 0

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def __enter__(self) -> MathVerifier:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the worker processes (done lazily by the first check otherwise)."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._closed:
            raise RuntimeError("this MathVerifier is closed")
        while len(self._pool) < self.workers:
            self._pool.append(self._spawn())

    def _spawn(self) -> _Worker:
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main, args=(child_end,), daemon=True, name="pearbench-verify"
        )
        _start_without_main(process)
        child_end.close()
        return _Worker(process=process, conn=parent_end)

    def _kill(self, worker: _Worker) -> None:
        try:
            worker.process.kill()
        except Exception:  # noqa: BLE001 - already gone
            pass
        worker.process.join(timeout=5)
        try:
            worker.conn.close()
        except OSError:
            pass

    def _replace(self, worker: _Worker) -> None:
        self._kill(worker)
        self.replaced += 1
        index = self._pool.index(worker)
        self._pool[index] = self._spawn()

    def close(self) -> None:
        """Stop every worker (politely, then by force). Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if os.getpid() != self._owner_pid:
                return  # a forked child does not own these processes
            for worker in self._pool:
                try:
                    worker.conn.send(None)
                except (OSError, ValueError):
                    pass
            for worker in self._pool:
                worker.process.join(timeout=2)
                if worker.process.is_alive():
                    self._kill(worker)
                else:
                    worker.conn.close()
            self._pool.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- checking -----------------------------------------------------------------------------------------------
    def verify(self, gold: str, completion: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> Verdict:
        """Verdict for one completion against one gold answer."""
        return self.verify_batch([(gold, completion)], timeout=timeout)[0]

    def verify_batch(
        self,
        pairs: Iterable[tuple[str, str | None]],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        progress: bool = False,
    ) -> list[Verdict]:
        """Verdicts for (gold, completion) pairs, in order; each check bounded by ``timeout`` seconds."""
        timeout = _check_timeout(timeout)
        pairs = list(pairs)
        verdicts: list[Verdict | None] = [None] * len(pairs)
        tasks: dict[int, _Task] = {}
        for index, pair in enumerate(pairs):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise PearbenchError(f"pair {index} must be (gold, completion), got {type(pair).__name__}")
            gold, completion = pair
            if not isinstance(gold, str):
                raise PearbenchError(
                    f"gold answer of pair {index} must be a string, got {type(gold).__name__}"
                )
            if not isinstance(completion, str):
                verdicts[index] = Verdict(False, None, None)
                continue
            candidate, rest = find_answer_candidate(completion)
            if rest is None:
                verdicts[index] = Verdict(False, None, None)
            elif candidate is not None and not normalise_answer(candidate):
                verdicts[index] = Verdict(False, None, candidate)
            elif (
                candidate is not None
                and self.exact_fast_path
                and (shortcut := exact_shortcut(gold, candidate)) is not None
            ):
                verdicts[index] = Verdict(shortcut, None, candidate)
            else:
                tasks[index] = _Task(gold, candidate, None if candidate is not None else rest)
        if tasks:
            bar = _progress_bar(len(pairs), progress)
            if bar is not None:
                bar.update(len(pairs) - len(tasks))
            with self._lock:
                if os.getpid() != self._owner_pid:
                    raise RuntimeError("a MathVerifier cannot be used from a forked child process")
                self._ensure_started()
                self._run(tasks, verdicts, timeout, bar)
            if bar is not None:
                bar.close()
        return [v if v is not None else Verdict(False, "verifier lost this check", None) for v in verdicts]

    def _run(self, tasks: dict[int, _Task], verdicts: list[Verdict | None], timeout: float, bar: Any) -> None:
        todo: deque[int] = deque(tasks)
        chunk = max(1, min(_MAX_CHUNK, math.ceil(len(todo) / (4 * self.workers))))
        timeout_message = f"timeout after {timeout}s"

        def finish(index: int, verdict: Verdict) -> None:
            verdicts[index] = verdict
            if bar is not None:
                bar.update(1)

        def extracted_of(index: int) -> str | None:
            return _cap(tasks[index].candidate)

        def fail_worker(worker: _Worker, message: str) -> None:
            """The worker's current check fails with ``message``; its other checks go back to the queue."""
            if worker.pending:
                current = worker.pending.popleft()
                finish(current, Verdict(False, message, extracted_of(current)))
                todo.extendleft(reversed(worker.pending))
            worker.pending.clear()
            self._replace(worker)

        while todo or any(w.pending for w in self._pool):
            now = time.monotonic()
            for worker in list(self._pool):
                if worker.ready and not worker.pending and todo:
                    batch = [todo.popleft() for _ in range(min(chunk, len(todo)))]
                    message = [(i, tasks[i].gold, tasks[i].candidate, tasks[i].rest) for i in batch]
                    worker.pending.extend(batch)
                    worker.deadline = time.monotonic() + timeout
                    try:
                        worker.conn.send(message)
                    except (OSError, ValueError):
                        worker.pending.clear()
                        todo.extendleft(reversed(batch))
                        self._replace(worker)
            deadlines = [w.deadline for w in self._pool if w.pending and w.deadline is not None]
            starting = [w for w in self._pool if not w.ready]
            if starting:
                deadlines.append(min(w.started_at for w in starting) + WORKER_START_TIMEOUT)
            wait_for = max(0.0, min(deadlines) - time.monotonic()) if deadlines else 0.05
            ready_conns = wait([w.conn for w in self._pool], timeout=min(wait_for, 1.0))
            by_conn = {id(w.conn): w for w in self._pool}
            for conn in ready_conns:
                worker = by_conn.get(id(conn))
                if worker is None:
                    continue
                try:
                    while worker.conn.poll():
                        reply = worker.conn.recv()
                        if reply[0] == "ready":
                            worker.ready = True
                            continue
                        task_id, correct, error, extracted = reply
                        if not worker.pending or worker.pending[0] != task_id:
                            raise RuntimeError("verifier worker answered out of order")
                        worker.pending.popleft()
                        if extracted is None and error is not None:
                            extracted = extracted_of(task_id)
                        finish(task_id, Verdict(bool(correct) and error is None, error, extracted))
                        worker.deadline = time.monotonic() + timeout if worker.pending else None
                except (EOFError, OSError):
                    fail_worker(worker, "verifier process died")
            now = time.monotonic()
            for worker in list(self._pool):
                if worker.pending and worker.deadline is not None and now >= worker.deadline:
                    fail_worker(worker, timeout_message)
                elif not worker.ready and now - worker.started_at > WORKER_START_TIMEOUT:
                    self._kill(worker)
                    raise RuntimeError(
                        f"a math-verify worker did not start within {WORKER_START_TIMEOUT:.0f}s"
                    )
                elif not worker.ready and not worker.process.is_alive():
                    self._kill(worker)
                    raise RuntimeError(
                        f"a math-verify worker died while starting (exit code {worker.process.exitcode})"
                    )


def _check_timeout(timeout: float) -> float:
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        raise PearbenchError(f"timeout must be a positive number of seconds, got {timeout!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise PearbenchError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return value


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from pearbench.logs import progress

    return progress(total=total, desc="verifying", unit="check", leave=True)


# -- module-level pool ----------------------------------------------------------------------------------------------

_DEFAULT: MathVerifier | None = None
_DEFAULT_LOCK = threading.Lock()
_ATEXIT_REGISTERED = False


def _default_verifier(workers: int | None) -> MathVerifier:
    global _DEFAULT, _ATEXIT_REGISTERED
    with _DEFAULT_LOCK:
        wanted = default_workers() if workers is None else workers
        if _DEFAULT is not None and (_DEFAULT.closed or _DEFAULT._owner_pid != os.getpid()):
            _DEFAULT = None
        if _DEFAULT is not None and _DEFAULT.workers != wanted:
            _DEFAULT.close()
            _DEFAULT = None
        if _DEFAULT is None:
            _DEFAULT = MathVerifier(workers=wanted)
            if not _ATEXIT_REGISTERED:
                atexit.register(shutdown)
                _ATEXIT_REGISTERED = True
        return _DEFAULT


def shutdown() -> None:
    """Stop the module-level pool (registered with atexit; the next check starts a new one)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is not None:
            _DEFAULT.close()
            _DEFAULT = None


def verify_math(gold: str, completion: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> Verdict:
    """Verdict for one completion: extraction rule, then ``math_verify.verify(gold, pred)`` in the shared pool.

    A check that outlives ``timeout`` seconds or raises gives ``Verdict(False, error=...)``, never a silent wrong.
    """
    return _default_verifier(None).verify(gold, completion, timeout=timeout)


def verify_math_batch(
    pairs: Iterable[tuple[str, str | None]],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    workers: int | None = None,
    progress: bool = False,
) -> list[Verdict]:
    """Verdicts for many (gold, completion) pairs through the shared pool (resized to ``workers`` if given)."""
    return _default_verifier(workers).verify_batch(pairs, timeout=timeout, progress=progress)
