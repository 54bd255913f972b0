"""Math answer checking (DESIGN §3 answer extraction, §4 math track): math-verify behind a process pool.

The rule, shared by RL rewards and evaluators:

1. drop everything up to the last ``</think>``; an opened ``<think>`` never closed means no answer;
2. the last ``<answer>...</answer>``, if any;
3. else the last balanced ``\\boxed{...}``;
4. else math-verify's own extraction on the remaining text, with markdown emphasis (``**``, ``__``) removed.

An answer found by steps 2-3 is parsed like the gold: wrapped in ``$...$`` (unless it already holds math delimiters)
and handed to ``math_verify.parse``. Before parsing, two notations that math-verify misreads are rewritten exactly:
``\\sqrt(x)`` becomes ``\\sqrt{x}`` (math-verify reads ``4\\sqrt(2)`` as 4) and a repeating decimal such as
``0.\\overline{3}`` becomes the fraction it denotes (math-verify reads it as 0).

Judging is ``math_verify.verify(gold_parsed, pred_parsed)`` with the GOLD FIRST (the function is not symmetric), the gold
wrapped in ``$...$`` before parsing, gold parses cached per worker.

Why a process pool: math-verify bounds its own work with ``signal.alarm``, which only works in a process's main thread
and cannot interrupt a C-level loop such as a huge integer power. pearbench therefore runs every check in a worker
process's main thread with math-verify's internal timeouts DISABLED (``parsing_timeout=None``,
``timeout_seconds=None``) and enforces one wall-clock bound per check from the parent: a worker still busy when its
check's deadline passes is killed and replaced, and that check becomes ``Verdict(False, error="timeout after ...")``.
A check that raises becomes ``Verdict(False, error="verifier exception: ...")``. Neither is ever silently "wrong".
Work is sent in chunks for throughput, but a worker answers each check separately, so every check keeps its own
deadline (measured from the moment the previous answer of the same worker arrived).

pearbench never calls ``eval``, ``exec`` or ``sympify`` on model text; math-verify parses regex-limited substrings with
its own LaTeX grammar and ``sympy.parse_expr`` (see ``tests/test_canary.py``).
"""

from __future__ import annotations

import atexit
import logging
import math
import multiprocessing
import os
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from multiprocessing.connection import Connection, wait
from typing import Any

from pearbench.answer import last_answer_tag, last_boxed, strip_think
from pearbench.errors import PearbenchError
from pearbench.verdict import Verdict

DEFAULT_TIMEOUT = 5.0
#: Longest ``extracted`` string kept in a verdict (a hostile 1 MB answer is cut, its check still runs).
MAX_EXTRACTED_CHARS = 10_000
#: Seconds a fresh worker may take to import sympy / math-verify before the pool gives up.
WORKER_START_TIMEOUT = 120.0
_MAX_CHUNK = 32
_PARSE_CACHE_SIZE = 8192
_CACHEABLE_CHARS = 2000

_log = logging.getLogger(__name__)


# -- pure text helpers --------------------------------------------------------------------------------------------


def strip_emphasis(text: str) -> str:
    """Remove markdown emphasis markers ``***``, ``**`` and ``__`` (``The answer is **73**`` -> ``The answer is 73``).

    Single ``*`` and ``_`` stay: in math they mean multiplication and subscripts.
    """
    return text.replace("***", "").replace("**", "").replace("__", "")


def _sqrt_parens_to_braces(text: str) -> str:
    """Rewrite ``\\sqrt(x)`` as ``\\sqrt{x}`` when the parenthesis balances; leave everything else alone."""
    marker = "\\sqrt"
    out: list[str] = []
    index = 0
    while True:
        found = text.find(marker, index)
        if found < 0:
            out.append(text[index:])
            return "".join(out)
        after = found + len(marker)
        probe = after
        while probe < len(text) and text[probe] == " ":
            probe += 1
        if probe < len(text) and text[probe] == "(":
            depth = 0
            close = -1
            for position in range(probe, len(text)):
                if text[position] == "(":
                    depth += 1
                elif text[position] == ")":
                    depth -= 1
                    if depth == 0:
                        close = position
                        break
            if close > 0:
                out.append(text[index:found])
                out.append(marker + "{" + text[probe + 1 : close] + "}")
                index = close + 1
                continue
        out.append(text[index:after])
        index = after


_REPEATING = re.compile(r"(\d*)\.(\d*)\\(?:overline|bar)\{(\d{1,50})\}")


def repeating_decimal_fraction(integer: str, fixed: str, repeating: str) -> tuple[int, int]:
    """Exact value of the repeating decimal ``integer.fixed(repeating)`` as (numerator, denominator), reduced.

    value = I + F / 10^f + R / (10^f * (10^r - 1)), with f = len(fixed), r = len(repeating)
    (e.g. 0.1(6) = 0 + 1/10 + 6/(10*9) = 1/6).
    """
    i_part = int(integer or "0")
    f_len, r_len = len(fixed), len(repeating)
    denominator = 10**f_len * (10**r_len - 1)
    numerator = i_part * denominator + int(fixed or "0") * (10**r_len - 1) + int(repeating)
    divisor = math.gcd(numerator, denominator)
    return numerator // divisor, denominator // divisor


def _repeating_to_fraction(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        numerator, denominator = repeating_decimal_fraction(match.group(1), match.group(2), match.group(3))
        return f"\\frac{{{numerator}}}{{{denominator}}}"

    return _REPEATING.sub(replace, text) if "\\" in text else text


def normalise_answer(text: str) -> str:
    """The exact rewrites applied to an extracted answer before parsing (see the module docstring)."""
    text = strip_emphasis(text).strip()
    text = _sqrt_parens_to_braces(text)
    text = _repeating_to_fraction(text)
    while text and text[-1] in ".,;" and not text.endswith("\\."):
        text = text[:-1].rstrip()
    return text


def find_answer_candidate(completion: str) -> tuple[str | None, str | None]:
    """Steps 1-3 of the rule: (candidate, rest).

    ``candidate`` is the content of the last ``<answer>`` tag or else of the last ``\\boxed{}``; ``rest`` is the text
    after the think block, for step 4 (None when a ``<think>`` is never closed: then there is no answer at all).
    """
    rest = strip_think(completion)
    if rest is None:
        return None, None
    tagged = last_answer_tag(rest)
    if tagged is not None:
        return tagged, rest
    return last_boxed(rest), rest


# -- fast exact numbers for RL rewards (no math-verify, no pool) ---------------------------------------------------

_MAX_EXACT_CHARS = 200
_MAX_EXACT_DIGITS = 60
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_PLAIN_NUMBER = re.compile(rf"([+-]?)\s*({_NUMBER})")
_SLASH_FRACTION = re.compile(rf"([+-]?)\s*({_NUMBER})\s*/\s*([+-]?)\s*({_NUMBER})")
_LATEX_FRACTION = re.compile(
    rf"([+-]?)\s*\\frac\s*\{{\s*([+-]?)\s*({_NUMBER})\s*\}}\s*\{{\s*([+-]?)\s*({_NUMBER})\s*\}}"
)
_ASSIGNMENT = re.compile(r"[A-Za-z](?:_\{?\w\}?)?\s*=\s*(.+)", re.DOTALL)
_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def _unwrap_math(text: str) -> str:
    text = text.strip()
    for left, right in _DELIMITERS:
        if len(text) >= len(left) + len(right) and text.startswith(left) and text.endswith(right):
            return text[len(left) : len(text) - len(right)].strip()
    return text


def _exact(number: str) -> Fraction | None:
    digits = sum(char.isdigit() for char in number)
    if digits > _MAX_EXACT_DIGITS:
        return None
    return Fraction(number.replace(",", ""))


def parse_rational(text: str, *, allow_assignment: bool = True) -> Fraction | None:
    """Exact value of a plainly written rational number, or None. Pure string parsing: fast enough for RL rewards.

    Accepted (after markdown emphasis, surrounding ``$...$`` / ``\\(...\\)`` and a trailing period are removed):
    integers (``-12``, ``1,234``, ``1{,}234``), decimals (``0.5``, ``.5``), fractions ``a/b`` and
    ``\\frac{a}{b}`` (also ``\\dfrac``, ``\\tfrac``, a sign in front or in the numerator), one pair of
    parentheses around a number, and ``x = <number>`` when ``allow_assignment``. Anything else (expressions, words,
    more than 60 digits, a zero denominator) gives None. Never evaluates the text.
    """
    if not isinstance(text, str) or len(text) > _MAX_EXACT_CHARS:
        return None
    value = _unwrap_math(strip_emphasis(text))
    if allow_assignment:
        match = _ASSIGNMENT.fullmatch(value)
        if match:
            value = _unwrap_math(match.group(1))
    value = value.rstrip(".").strip()
    value = (
        value.replace("{,}", ",")
        .replace("\\dfrac", "\\frac")
        .replace("\\tfrac", "\\frac")
        .replace("\u2212", "-")
    )
    if value.startswith("(") and value.endswith(")") and "," not in value:
        value = value[1:-1].strip()
    try:
        match = _PLAIN_NUMBER.fullmatch(value)
        if match:
            number = _exact(match.group(2))
            return None if number is None else (-number if match.group(1) == "-" else number)
        match = _SLASH_FRACTION.fullmatch(value)
        if match:
            return _fraction(match.group(1), "", match.group(2), match.group(3), match.group(4))
        match = _LATEX_FRACTION.fullmatch(value)
        if match:
            return _fraction(*match.groups())
    except (ValueError, ZeroDivisionError):
        return None
    return None


def _fraction(
    outer: str, numerator_sign: str, numerator: str, denominator_sign: str, denominator: str
) -> Fraction | None:
    top, bottom = _exact(numerator), _exact(denominator)
    if top is None or bottom is None or bottom == 0:
        return None
    negative = [outer, numerator_sign, denominator_sign].count("-") % 2 == 1
    return -(top / bottom) if negative else top / bottom


def format_rational(value: Fraction | int) -> str:
    """Canonical text of an exact number: ``7``, ``-3/4`` (reduced, sign in front)."""
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


_SIMPLE_INTEGER = re.compile(r"[+-]?\d+")
_SIMPLE_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?|[+-]?\d+/\d+|[+-]?\\[dt]?frac\{[+-]?\d+\}\{\d+\}")


def exact_shortcut(gold: str, candidate: str) -> bool | None:
    """Decide a check without math-verify when the answer is certain from exact arithmetic, else None.

    Only when gold and answer are both plain numbers (integer, decimal, ``a/b``, ``\\frac{a}{b}``; no commas,
    units or percent signs): equal exact values are correct (math-verify agrees: its numeric comparison accepts equal
    values), and two different integers are wrong. Anything else, including unequal decimals, which math-verify
    may still accept after rounding to 6 places, goes to math-verify.
    """
    gold_text = "".join(gold.split())
    answer_text = "".join(normalise_answer(candidate).split())
    if not (_SIMPLE_NUMBER.fullmatch(gold_text) and _SIMPLE_NUMBER.fullmatch(answer_text)):
        return None
    gold_value = parse_rational(gold_text, allow_assignment=False)
    answer_value = parse_rational(answer_text, allow_assignment=False)
    if gold_value is None or answer_value is None:
        return None
    if gold_value == answer_value:
        return True
    if _SIMPLE_INTEGER.fullmatch(gold_text) and _SIMPLE_INTEGER.fullmatch(answer_text):
        return False
    return None


# -- math-verify calls (run in the worker processes; also usable in-process) --------------------------------------


def _quiet_math_verify() -> None:
    # Internal timeouts are disabled on purpose (the parent enforces the wall clock); its warnings would be noise.
    for name in ("math_verify", "math_verify.parser", "math_verify.grader", "math_verify.utils"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _mv_parse(text: str, parsing_timeout: int | None) -> list[Any]:
    from math_verify import parse

    return parse(text, parsing_timeout=parsing_timeout)


def _has_sympy(parsed: Sequence[Any]) -> bool:
    return any(not isinstance(item, str) for item in parsed)


def _parse_candidate(candidate: str) -> list[Any]:
    """Parse an answer found by steps 2-3 exactly as the gold is parsed (wrapped in ``$...$``).

    When that yields no mathematical object (e.g. prose inside ``<answer>``), math-verify's own extraction on the
    unwrapped text is added, so a value written in words-and-math is still found; the wrapped string parse stays
    first, so an unparsable answer still matches an identical unparsable gold by string equality.
    """
    text = normalise_answer(candidate)
    if not text:
        return []
    parsed = _parse_cached(f"${text}$")
    if _has_sympy(parsed):
        return parsed
    return parsed + _parse_cached(text)


def _extracted_text(parsed: Sequence[Any]) -> str | None:
    for item in parsed:
        if isinstance(item, str):
            return item
    return str(parsed[0]) if parsed else None


def _parse_free_text(rest: str, parsing_timeout: int | None) -> tuple[list[Any], str | None]:
    """Step 4: math-verify's own extraction on the text with markdown emphasis removed."""
    parsed = _mv_parse(strip_emphasis(rest), parsing_timeout)
    return parsed, _extracted_text(parsed)


@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def _parse_short_cached(text: str) -> tuple[Any, ...]:
    return tuple(_mv_parse(text, None))


def _parse_cached(text: str) -> list[Any]:
    """math-verify ``parse`` without its internal timeout, memoised per worker for answer-sized strings.

    Gold parses are cached this way, and so are repeated predictions (RL samples often repeat an answer).
    """
    if len(text) > _CACHEABLE_CHARS:
        return _mv_parse(text, None)
    return list(_parse_short_cached(text))


class GoldParseError(RuntimeError):
    """The gold answer itself could not be parsed (a dataset problem, reported as a verifier error)."""


def check_pair(gold: str, candidate: str | None, rest: str | None) -> tuple[bool, str | None]:
    """Judge one completion already split by :func:`find_answer_candidate`: (correct, extracted).

    Runs math-verify without its internal timeouts: call it in a worker process (or accept that it is unbounded).
    """
    if candidate is None and rest is None:
        return False, None
    if candidate is not None:
        extracted: str | None = candidate
        if not normalise_answer(candidate):
            return False, candidate
        predicted = _parse_candidate(candidate)
    else:
        predicted, extracted = _parse_free_text(rest, None)
        if not predicted:
            return False, None
    if not predicted:
        return False, extracted
    gold_parsed = _parse_cached(f"${gold}$")
    if not gold_parsed:
        raise GoldParseError(f"gold answer {gold[:80]!r} could not be parsed")
    from math_verify import verify

    correct = bool(verify(gold_parsed, predicted, timeout_seconds=None))
    return correct, extracted


def extract_math_answer(completion: str | None) -> str | None:
    """The answer the math rule extracts from a completion (steps 1-4), or None.

    Steps 1-3 are pure string scans. Step 4 runs math-verify's extraction in THIS process (bounded by math-verify's
    own 5 s alarm when called from the main thread, unbounded otherwise); :func:`verify_math` runs it in a worker
    with a wall-clock bound instead.
    """
    if not isinstance(completion, str):
        return None
    candidate, rest = find_answer_candidate(completion)
    if rest is None:
        return None
    if candidate is not None:
        return candidate
    in_main_thread = threading.current_thread() is threading.main_thread()
    _quiet_math_verify()
    parsed, extracted = _parse_free_text(rest, 5 if in_main_thread else None)
    return extracted if parsed else None


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
            context.set_forkserver_preload(["pearbench.verify", "math_verify", "latex2sympy2_extended"])
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
    from tqdm import tqdm

    return tqdm(total=total, desc="verifying", unit="check", dynamic_ncols=True)


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
