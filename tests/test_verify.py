"""pearbench.verify.normalize, pearbench.verify.pool: extraction rule, exact rewrites, and the process pool (timeouts, crashes, reuse)."""

from __future__ import annotations

import os
import threading
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pearbench.errors import PearbenchError
from pearbench.verify import pool as verify_module
from pearbench.verify.normalize import (
    extract_math_answer,
    find_answer_candidate,
    normalise_answer,
    repeating_decimal_fraction,
    strip_emphasis,
)
from pearbench.verify.pool import MathVerifier, verify_math, verify_math_batch
from pearbench.verify.verdict import Verdict

#: Makes sympy compute a tower of powers: never finishes within a test's timeout.
HANG = "\\boxed{9^{9^{9^{9}}}}"


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier(workers=2) as pool:
        yield pool


# -- extraction -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think>\\boxed{3}</think> \\boxed{4}", "4"),
        ("\\boxed{10} then \\boxed{12}", "12"),
        ("The final answer is **73**.", "73"),
        ("<think>unfinished", None),
        ("<answer>5</answer> \\boxed{6}", "5"),
        ("", None),
        ("no number here", None),
        ("<think>a</think> so it is $\\frac{1}{2}$", "\\frac{1}{2}"),
    ],
)
def test_extract_math_answer_follows_the_design_examples(completion: str, expected: str | None) -> None:
    assert extract_math_answer(completion) == expected


def test_extract_math_answer_rejects_non_strings() -> None:
    assert extract_math_answer(None) is None
    assert extract_math_answer(123) is None  # type: ignore[arg-type]


def test_find_answer_candidate_splits_rule_steps() -> None:
    assert find_answer_candidate("<think>x") == (None, None)
    assert find_answer_candidate("</think> plain text") == (None, " plain text")
    assert find_answer_candidate("\\boxed{1} <answer>2</answer>") == ("2", "\\boxed{1} <answer>2</answer>")


def test_strip_emphasis_keeps_single_stars_and_underscores() -> None:
    assert strip_emphasis("**73** and __9__ and ***5***") == "73 and 9 and 5"
    assert strip_emphasis("2*3 and x_1") == "2*3 and x_1"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("4\\sqrt(2)", "4\\sqrt{2}"),
        ("\\sqrt (x+(1))", "\\sqrt{x+(1)}"),
        ("\\sqrt(2", "\\sqrt(2"),  # unbalanced: left alone
        ("\\sqrt{2}", "\\sqrt{2}"),
        ("0.\\overline{3}", "\\frac{1}{3}"),
        ("-1.2\\overline{45}", "-\\frac{137}{110}"),
        ("12.", "12"),
        ("**7**", "7"),
    ],
)
def test_normalise_answer_rewrites_exactly(raw: str, normalised: str) -> None:
    assert normalise_answer(raw) == normalised


def _long_division_digits(numerator: int, denominator: int, count: int) -> str:
    """Slow reference: the first ``count`` decimal digits after the point, by schoolbook long division."""
    remainder = numerator % denominator
    digits = []
    for _ in range(count):
        remainder *= 10
        digits.append(str(remainder // denominator))
        remainder %= denominator
    return "".join(digits)


@settings(max_examples=200, deadline=None)
@given(
    integer=st.integers(min_value=0, max_value=999),
    fixed=st.text(alphabet="0123456789", max_size=4),
    repeating=st.text(alphabet="0123456789", min_size=1, max_size=4),
)
def test_repeating_decimal_matches_long_division(integer: int, fixed: str, repeating: str) -> None:
    numerator, denominator = repeating_decimal_fraction(str(integer), fixed, repeating)
    value = Fraction(numerator, denominator)
    assert Fraction(numerator, denominator).denominator == denominator  # reduced
    expected = fixed + repeating * 6
    # 0.(9) = 1 is the one case where the digits differ; compare values there instead.
    if set(repeating) == {"9"}:
        assert value == integer + Fraction(int(fixed or "0") + 1, 10 ** len(fixed))
        return
    assert numerator // denominator == integer
    assert _long_division_digits(numerator, denominator, len(expected)) == expected


# -- verdicts through the pool ---------------------------------------------------------------------------------------


def test_verify_math_judges_gold_first_and_reports_extraction() -> None:
    assert verify_math("\\frac{1}{2}", "so \\boxed{0.5}") == Verdict(True, None, "0.5")
    assert verify_math("73", "The final answer is **73**.").correct
    wrong = verify_math("73", "\\boxed{72}")
    assert wrong == Verdict(False, None, "72")
    assert verify_math("5", "<think>\\boxed{5}") == Verdict(False, None, None)


def test_single_calls_reuse_one_pool() -> None:
    verify_math("1", "\\boxed{x = 1}")
    pool = verify_module._DEFAULT
    assert pool is not None
    pids = sorted(w.process.pid for w in pool._pool)
    assert len(pids) == pool.workers
    for value in range(5):
        assert verify_math(str(value), f"\\boxed{{x = {value}}}").correct
    assert verify_module._DEFAULT is pool
    assert sorted(w.process.pid for w in pool._pool) == pids


def test_shutdown_stops_the_default_pool_and_a_new_call_restarts_it() -> None:
    verify_math("1", "\\boxed{x = 1}")
    pool = verify_module._DEFAULT
    assert pool is not None
    processes = [w.process for w in pool._pool]
    verify_module.shutdown()
    assert verify_module._DEFAULT is None
    assert all(not p.is_alive() for p in processes)
    assert verify_math("2", "\\boxed{x = 2}").correct
    assert verify_module._DEFAULT is not None


def test_timeout_is_an_error_not_a_wrong_answer(verifier: MathVerifier) -> None:
    verdict = verifier.verify("1", HANG, timeout=1.0)
    assert verdict.correct is False
    assert verdict.error == "timeout after 1.0s"
    assert verdict.extracted == "9^{9^{9^{9}}}"


def test_hung_checks_are_killed_and_replaced_without_hurting_the_others(verifier: MathVerifier) -> None:
    replaced_before = verifier.replaced
    pairs = [(str(i), f"\\boxed{{x = {i}}}") for i in range(40)]
    pairs[5] = ("1", HANG)
    pairs[30] = ("2", "The answer is " + HANG)
    verdicts = verifier.verify_batch(pairs, timeout=1.0)
    for index, verdict in enumerate(verdicts):
        if index in (5, 30):
            assert verdict.error == "timeout after 1.0s", index
            assert not verdict.correct
        else:
            assert verdict == Verdict(True, None, f"x = {index}"), index
    assert verifier.replaced - replaced_before == 2
    assert len(verifier._pool) == 2
    assert all(w.process.is_alive() for w in verifier._pool)


def test_a_worker_that_dies_mid_check_gives_an_error_verdict() -> None:
    with MathVerifier(workers=1) as pool:
        results: list[list[Verdict]] = []
        thread = threading.Thread(
            target=lambda: results.append(
                pool.verify_batch([("1", HANG), ("3", "\\boxed{x = 3}")], timeout=60.0)
            )
        )
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (pool._pool and pool._pool[0].pending):
            time.sleep(0.05)
        assert pool._pool[0].pending, "the check never reached the worker"
        time.sleep(0.3)
        os.kill(pool._pool[0].process.pid, 9)
        thread.join(timeout=60)
        assert not thread.is_alive()
        hung, normal = results[0]
        assert hung.error == "verifier process died" and not hung.correct
        assert normal == Verdict(True, None, "x = 3")
        assert pool.replaced == 1


def test_exceptions_become_error_verdicts(verifier: MathVerifier, monkeypatch: pytest.MonkeyPatch) -> None:
    # An exception inside a worker is reported, never turned into a silent "wrong". An empty gold makes the
    # worker raise GoldParseError; the parent must not run the check itself (patched to fail if it did).
    monkeypatch.setattr(verify_module, "check_pair", _must_not_run)
    verdict = verifier.verify("", "\\boxed{1}")
    assert verdict.error is not None and verdict.error.startswith("verifier exception: GoldParseError")
    assert verdict.correct is False
    assert verdict.extracted == "1"


def _must_not_run(*args: object) -> None:
    raise AssertionError("the parent must not run checks itself")


def test_batch_keeps_order_and_handles_non_string_completions(verifier: MathVerifier) -> None:
    pairs = [("3", "\\boxed{3}"), ("3", None), ("4", "\\boxed{}"), ("5", "<think>"), ("6", "\\boxed{6}")]
    verdicts = verifier.verify_batch(pairs)  # type: ignore[arg-type]
    assert [v.correct for v in verdicts] == [True, False, False, False, True]
    assert verdicts[2] == Verdict(False, None, "")
    assert all(v.error is None for v in verdicts)


def test_verify_math_batch_with_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    verdicts = verify_math_batch([("1", "\\boxed{x = 1}"), ("2", "\\boxed{x = 3}")], progress=True)
    assert [v.correct for v in verdicts] == [True, False]
    assert "verifying" in capsys.readouterr().err


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "soon"])
def test_bad_timeout_is_a_user_error(timeout: object) -> None:
    with pytest.raises(PearbenchError, match="timeout must be a positive number"):
        verify_math("1", "\\boxed{1}", timeout=timeout)  # type: ignore[arg-type]


def test_bad_pairs_are_user_errors(verifier: MathVerifier) -> None:
    with pytest.raises(PearbenchError, match="gold answer of pair 0 must be a string"):
        verifier.verify_batch([(1, "\\boxed{1}")])  # type: ignore[list-item]
    with pytest.raises(PearbenchError, match="pair 0 must be"):
        verifier.verify_batch(["oops"])  # type: ignore[list-item]
    with pytest.raises(PearbenchError, match="workers must be a positive integer"):
        MathVerifier(workers=0)


def test_closed_verifier_refuses_work() -> None:
    pool = MathVerifier(workers=1)
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.verify("1", "\\boxed{x = 1}")


def test_verify_batch_with_explicit_worker_count_resizes_the_default_pool() -> None:
    verdicts = verify_math_batch([("1", "\\boxed{x = 1}")], workers=1)
    assert verdicts[0].correct
    assert verify_module._DEFAULT is not None and verify_module._DEFAULT.workers == 1
    verify_module.shutdown()


# -- fast exact parsing for RL rewards -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.fractions(max_denominator=10**6).filter(lambda f: abs(f) < 10**12))
def test_parse_rational_round_trips_every_written_form(value: Fraction) -> None:
    from pearbench.verify.normalize import format_rational, parse_rational

    sign = "-" if value < 0 else ""
    top, bottom = abs(value.numerator), value.denominator
    forms = [
        format_rational(value),
        f"{sign}\\frac{{{top}}}{{{bottom}}}",
        f"\\dfrac{{{sign}{top}}}{{{bottom}}}",
        f"{sign}{top * 7}/{bottom * 7}",
        f"x = {format_rational(value)}",
        f"$ {format_rational(value)} $",
        f"**{format_rational(value)}**.",
    ]
    if 10**9 % bottom == 0:  # a terminating decimal, written out digit by digit (the slow, obvious way)
        scaled = top * (10**9 // bottom)
        forms.append(f"{sign}{scaled // 10**9}.{scaled % 10**9:09d}")
    for form in forms:
        assert parse_rational(form) == value, form


@pytest.mark.parametrize(
    "text", ["2+2", "1/0", "\\frac{1}{0}", "abc", "1e5", "1,23", "9" * 61, "", "--3", "3/", "(1, 2)", "x = y"]
)
def test_parse_rational_rejects_anything_but_a_plain_number(text: str) -> None:
    from pearbench.verify.normalize import parse_rational

    assert parse_rational(text) is None


def test_parse_rational_thousands_and_assignment_switch() -> None:
    from pearbench.verify.normalize import parse_rational

    assert parse_rational("1,234,567") == 1234567
    assert parse_rational("1{,}000") == 1000
    assert parse_rational("x = 4", allow_assignment=False) is None
    assert parse_rational("\u22123") == -3  # unicode minus


@pytest.mark.parametrize(
    ("gold", "answer", "expected"),
    [
        ("73", "73", True),
        ("73", "72", False),
        ("073", "73", True),
        ("0.5", "\\frac{1}{2}", True),
        ("3", "3.0", True),
        ("2", "**2**.", True),
        ("\\frac{1}{3}", "0.333333", None),  # math-verify's 6-decimal rounding decides this one
        ("0.5", "0.6", None),
        ("1,000", "1000", None),
        ("50\\%", "50", None),
        ("3", "x = 3", None),
        ("9" * 70, "9" * 70, None),
    ],
)
def test_exact_shortcut_decides_only_certain_cases(gold: str, answer: str, expected: bool | None) -> None:
    from pearbench.verify.normalize import exact_shortcut

    assert exact_shortcut(gold, answer) is expected


def test_fast_path_and_math_verify_agree() -> None:
    pairs = [
        (gold, f"\\boxed{{{answer}}}")
        for gold in ("73", "0.5", "\\frac{3}{4}", "-2")
        for answer in ("73", "72", "1/2", "0.75", "\\frac{6}{8}", "-2", "-2.0", "2")
    ]
    with MathVerifier(workers=1, exact_fast_path=False) as slow:
        reference = slow.verify_batch(pairs)
    with MathVerifier(workers=1) as fast:
        assert fast.verify_batch(pairs) == reference
    assert sum(v.correct for v in reference) == 6
