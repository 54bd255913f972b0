"""Per-environment overrides of a suite's base-corpus knobs ([[envs]] teacher_style_share / base_noise): loaded and
validated, used by the corpus for that game's traces only, and absent from every stage key of suites without them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pearbench.errors import PearbenchError
from pearbench.harness.cache import StageDir
from pearbench.harness.config import load_profile
from pearbench.harness.corpus import trace_corpus
from pearbench.harness.stages import _pretrain_spec
from pearbench.harness.suites import describe_suite, load_suite
from pearbench.models.families import build_char_tokenizer
from pearbench.registry import make_game

MIXED = """name = "mixed"
[[envs]]
name = "countdown"
difficulty = "easy"
{countdown}
[[envs]]
name = "math_linear"
difficulty = "easy"
{linear}
[styles]
base = "words"
teacher = "steps"
[mismatch]
teacher_style_share = 0.0
base_noise = 1.0
"""


def _suite(tmp_path: Path, countdown: str = "", linear: str = "") -> str:
    path = tmp_path / "mixed.toml"
    path.write_text(MIXED.format(countdown=countdown, linear=linear))
    return str(path)


def _keys(suite_path: str) -> dict[str, tuple[str, dict]]:
    ctx = SimpleNamespace(profile=load_profile("small"), suite=load_suite(suite_path))
    out = {}
    for role in ("base", "teacher"):
        key, corpus = _pretrain_spec(ctx, role)
        out[role] = (StageDir(Path("."), role, key).hash, key)
    return out


def test_overrides_load_and_resolve_per_game(tmp_path: Path) -> None:
    suite = load_suite(_suite(tmp_path, linear="teacher_style_share = 1.0\nbase_noise = 0.0"))
    assert suite.base_mix("countdown") == (0.0, 1.0)  # the suite's [mismatch]
    assert suite.base_mix("math_linear") == (1.0, 0.0)  # its own
    assert suite.per_env_mix() == {
        "countdown": {"other_style_share": 0.0, "noise": 1.0},
        "math_linear": {"other_style_share": 1.0, "noise": 0.0},
    }
    suite_path = _suite(tmp_path, linear="base_noise = 0.25")
    envs = {e["name"]: e for e in describe_suite(suite_path)["envs"]}
    assert envs["math_linear"]["overrides"] == {"base_noise": 0.25} and envs["countdown"]["overrides"] == {}
    assert load_suite(suite_path).base_mix("math_linear") == (0.0, 0.25)


def test_suites_without_overrides_keep_their_stage_keys(tmp_path: Path) -> None:
    plain = _keys(_suite(tmp_path))
    base_key = plain["base"][1]
    assert "per_env" not in base_key["corpus"]
    assert all(set(e) == {"name", "difficulty", "weight"} for e in base_key["envs"])
    assert set(load_suite("countdown").to_dict()["envs"][0]) == {"name", "difficulty", "weight"}
    # an override is part of the base model's key (its corpus changes)
    overridden = _keys(_suite(tmp_path, linear="teacher_style_share = 1.0"))
    assert overridden["base"][0] != plain["base"][0]
    assert overridden["teacher"][0] == plain["teacher"][0]  # the teacher's corpus does not use them
    assert overridden["base"][1]["corpus"]["per_env"]["math_linear"] == {
        "other_style_share": 1.0,
        "noise": 1.0,
    }


def test_corpus_uses_each_games_own_knobs(tmp_path: Path) -> None:
    suite = load_suite(_suite(tmp_path, linear="teacher_style_share = 1.0\nbase_noise = 0.0"))
    games = suite.games()
    instances = [games["countdown"].generate(s) for s in range(20)] + [
        games["math_linear"].generate(s) for s in range(20)
    ]
    tok = build_char_tokenizer()
    rows = trace_corpus(
        games,
        instances,
        tok,
        size=200,
        style="words",
        other_style="steps",
        other_style_share=0.0,
        noise=1.0,
        seed=3,
        per_env=suite.per_env_mix(),
    )
    by_id = {i.id: i for i in instances}
    seen = {"countdown": 0, "math_linear": 0}
    for row in rows:
        instance = by_id[row["instance_id"]]
        game = games[instance.env]
        text = tok.decode(row["response_ids"], skip_special_tokens=True)
        seen[instance.env] += 1
        if instance.env == "math_linear":  # its own knobs: teacher style, never corrupted
            assert text == game.solve(instance, "steps")
        else:  # the suite's: base style, always corrupted (a wrong answer in the words style's layout)
            assert text != game.solve(instance, "words")
            assert " is " in text and not game.verify(instance, text).correct
    assert min(seen.values()) > 50


def test_empty_overrides_leave_the_corpus_unchanged(tmp_path: Path) -> None:
    game = make_game("countdown", "easy")
    instances = [game.generate(s) for s in range(30)]
    tok = build_char_tokenizer()
    common = dict(size=120, style="words", other_style="steps", other_style_share=0.3, noise=0.5, seed=11)
    plain = trace_corpus({"countdown": game}, instances, tok, **common)
    assert trace_corpus({"countdown": game}, instances, tok, per_env={}, **common) == plain
    same = {"countdown": {"other_style_share": 0.3, "noise": 0.5}}
    assert trace_corpus({"countdown": game}, instances, tok, per_env=same, **common) == plain
    other = {"countdown": {"other_style_share": 1.0, "noise": 0.0}}
    assert trace_corpus({"countdown": game}, instances, tok, per_env=other, **common) != plain


@pytest.mark.parametrize(
    ("linear", "message"),
    [
        ("base_noise = 1.5", "base_noise of math_linear must be a number in \\[0, 1\\]"),
        ("teacher_style_share = -0.1", "teacher_style_share of math_linear must be"),
        ('base_noise = "high"', "base_noise of math_linear must be"),
        ("teacher_style_share = true", "teacher_style_share of math_linear must be"),
        ("noise = 0.2", "unknown key 'noise' in an \\[\\[envs\\]\\] entry"),
    ],
)
def test_bad_overrides_are_one_line_errors(tmp_path: Path, linear: str, message: str) -> None:
    with pytest.raises(PearbenchError, match=message) as info:
        load_suite(_suite(tmp_path, linear=linear))
    assert "\n" not in str(info.value)
