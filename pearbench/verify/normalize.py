"""Math answers (docs/design.md §3 answer extraction, §4 math track): extraction, normalisation, exact shortcuts and the
math-verify calls themselves. The process pool that runs these calls with per-check deadlines is
:mod:`pearbench.verify.pool`.
Math answer checking (docs/design.md §3 answer extraction, §4 math track): math-verify behind a process pool.

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

import logging
import math
import re
import threading
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

from pearbench.verify.answer import last_answer_tag, last_boxed, strip_think

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
