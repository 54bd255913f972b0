"""Hostile completions must never run code: a canary file that any of them would create must not appear.

Also a source scan: pearbench's own code (pearbench/ and envs/) never calls ``eval``, ``exec``, ``sympify`` or
``parse_expr`` (zero-argument method calls such as ``model.eval()`` are allowed).
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

from pearbench.registry import make_game
from pearbench.verify.datasets import Problem
from pearbench.verify.normalize import extract_math_answer, parse_rational
from pearbench.verify.pool import MathVerifier, verify_math
from pearbench.verify.scoring import score_completions

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"eval", "exec", "sympify", "parse_expr"}


def hostile(canary: Path) -> list[str]:
    touch = f"__import__('os').system('touch {canary}')"
    write = f"open('{canary}', 'w').write('x')"
    payloads = [
        touch,
        f'exec("{write}")',
        f'eval("{touch}")',
        f"(lambda: {touch})()",
        f"().__class__.__bases__[0].__subclasses__()[0].__init__.__globals__['os'].system('touch {canary}')",
        f"Symbol('x').__class__.__mro__[-1].__subclasses__() or {touch}",
        f"x; import os; os.system('touch {canary}')",
        f"1 + {touch}",
        f"getattr(__builtins__, 'exec')(\"{write}\")",
        f"[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0](['touch', '{canary}'])",
    ]
    completions = []
    for payload in payloads:
        completions += [
            payload,
            f"The final answer is {payload}",
            f"The answer is **{payload}**.",
            f"\\boxed{{{payload}}}",
            f"<answer>{payload}</answer>",
            f"$\\text{{{payload}}}$ so $x = {payload}$",
            f"<think>ok</think> ${payload}$",
            f"\\boxed{{\\frac{{{payload}}}{{2}}}}",
        ]
    return completions


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "CANARY"
    assert not path.exists()
    return path


def test_verifier_pool_runs_no_model_code(canary: Path) -> None:
    completions = hostile(canary)
    with MathVerifier(workers=2) as pool:
        verdicts = pool.verify_batch([("0", text) for text in completions], timeout=5.0)
        # a hostile gold answer is just as inert
        verdicts += pool.verify_batch(
            [(completions[0], "\\boxed{0}"), (completions[3], completions[3])], timeout=5.0
        )
    assert not canary.exists(), "a hostile completion ran code in the verifier"
    assert not any(v.correct for v in verdicts[: len(completions)])


def test_single_calls_extraction_and_scoring_run_no_model_code(canary: Path) -> None:
    completions = hostile(canary)
    for text in completions[:8]:
        verify_math("0", text, timeout=5.0)
    for text in completions:
        extract_math_answer(text)  # step 4 runs math-verify in this process
        parse_rational(text)
    problems = [Problem("p", "?", "1", "test")]
    score_completions([{"id": "p", "completion": text} for text in completions[:16]], problems, timeout=5.0)
    assert not canary.exists()


def test_math_environment_checks_run_no_model_code(canary: Path) -> None:
    for env in ("math_arithmetic", "math_linear", "math_fractions", "math_modular", "math_counting"):
        game = make_game(env, "hard")
        instance = game.generate(0)
        for text in hostile(canary):
            assert not game.verify(instance, text).correct
    assert not canary.exists()


def forbidden_calls(source: str) -> list[tuple[int, str]]:
    """(line, name) of every call of a forbidden name, except zero-argument method calls like ``model.eval()``."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type != tokenize.NL]
    found = []
    for index, token in enumerate(tokens[:-1]):
        if token.type != tokenize.NAME or token.string not in FORBIDDEN:
            continue
        if tokens[index + 1].string != "(":
            continue
        previous = tokens[index - 1].string if index else ""
        if previous == "def":
            continue
        is_method = previous == "."
        no_arguments = index + 2 < len(tokens) and tokens[index + 2].string == ")"
        if is_method and no_arguments:
            continue
        found.append((token.start[0], token.string))
    return found


def test_the_scanner_finds_what_it_should() -> None:
    source = (
        "model.eval()\nx = eval(text)\nsympy.sympify(s)\nexec(code)\nast.literal_eval(s)\nparse_expr(s)\n"
    )
    assert forbidden_calls(source) == [(2, "eval"), (3, "sympify"), (4, "exec"), (6, "parse_expr")]
    assert forbidden_calls("# eval(x) in a comment\ns = 'eval(x)'\n") == []


def test_pearbench_source_never_evaluates_text() -> None:
    files = sorted((ROOT / "pearbench").rglob("*.py")) + sorted((ROOT / "envs").rglob("*.py"))
    assert len(files) > 10
    offenders = []
    for path in files:
        for line, name in forbidden_calls(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {name}(")
    assert not offenders, "pearbench code calls eval/exec/sympify/parse_expr:\n" + "\n".join(offenders)
