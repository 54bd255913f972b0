"""Method options from the command line: labels ``NAME[@Fx]:key=value,...``, their canonical form
``NAME[@Fx]+key=value+...`` (run ids, records, leaderboard rows), the recipe hash of a label, sweeps that resume
such runs, and one-line errors for bad options."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from conftest_records import PROFILE, make_body, make_record
from hypothesis import given, settings
from hypothesis import strategies as st

from pearbench.cli import main
from pearbench.errors import PearbenchError
from pearbench.harness.config import default_recipe_hashes, rl_recipe_hash
from pearbench.harness.runner import RunRequest, build_context, run_id_for
from pearbench.harness.sweep import pending, plan
from pearbench.results.records import RECORDS_DIR, finalize_record, load_records, write_record
from pearbench.train.methods import (
    MAX_LABEL_LENGTH,
    canonical_method_label,
    format_option_value,
    load_recipe,
    options_hash,
    parse_method_label,
    recipe_hash,
    resolve_method_label,
)

# ----------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("label", "canonical", "name", "factor", "overrides"),
    [
        ("pear-token:gamma=0.99", "pear-token+gamma=0.99", "pear-token", 1.0, {"gamma": 0.99}),
        ("pear-token+gamma=0.99", "pear-token+gamma=0.99", "pear-token", 1.0, {"gamma": 0.99}),
        (
            "pear-block:gamma=0.99,block_size=8",
            "pear-block+block_size=8+gamma=0.99",
            "pear-block",
            1.0,
            {"block_size": 8, "gamma": 0.99},
        ),
        (
            "pear-block@3x:gamma=0.990,block_size=8",
            "pear-block@3x+block_size=8+gamma=0.99",
            "pear-block",
            3.0,
            {"block_size": 8, "gamma": 0.99},
        ),
        ("pear-block@3.0x+block_size=8", "pear-block@3x+block_size=8", "pear-block", 3.0, {"block_size": 8}),
        ("pear-token:gamma=1", "pear-token+gamma=1", "pear-token", 1.0, {"gamma": 1.0}),
        ("pear-token:gamma=1e-3", "pear-token+gamma=0.001", "pear-token", 1.0, {"gamma": 0.001}),
        (
            "pear-seq:delta_clip=-0.1..0.30",
            "pear-seq+delta_clip=-0.1..0.3",
            "pear-seq",
            1.0,
            {"delta_clip": (-0.1, 0.3)},
        ),
        (
            "sft:normalisation=seq-mean",
            "sft+normalisation=seq-mean",
            "sft",
            1.0,
            {"normalisation": "seq-mean"},
        ),
        # values equal to the recipe's, and a factor of 1, are dropped: the same run as the plain label
        ("pear-token:gamma=0.999", "pear-token", "pear-token", 1.0, {}),
        ("pear-seq:delta_clip=-0.08..0.3", "pear-seq", "pear-seq", 1.0, {}),
        ("sft@1x", "sft", "sft", 1.0, {}),
        ("sft@.5x", "sft@0.5x", "sft", 0.5, {}),
        ("sft@3x", "sft@3x", "sft", 3.0, {}),
        ("sft@0.33x", "sft@0.33x", "sft", 0.33, {}),
    ],
)
def test_labels_resolve_to_their_canonical_form(label, canonical, name, factor, overrides) -> None:
    resolved = resolve_method_label(label)
    assert resolved.label == canonical == canonical_method_label(label)
    assert (resolved.name, resolved.factor, dict(resolved.overrides)) == (name, factor, overrides)
    assert parse_method_label(label) == (name, factor)
    method, recipe_options = load_recipe(name)
    assert resolved.method is method
    for key, value in overrides.items():
        assert getattr(resolved.options, key) == value != getattr(recipe_options, key)
    # the canonical label is a label naming the same run
    again = resolve_method_label(canonical)
    assert again.label == canonical and again.options == resolved.options and again.factor == factor


def test_recipe_hash_of_a_label_is_the_hash_of_its_options() -> None:
    plain = recipe_hash("pear-token")
    assert recipe_hash("pear-token@3x") == recipe_hash("pear-token:gamma=0.999") == plain
    changed = recipe_hash("pear-token:gamma=0.99")
    assert changed != plain
    assert (
        changed
        == recipe_hash("pear-token+gamma=0.99")
        == resolve_method_label("pear-token:gamma=0.99").recipe_hash
    )
    assert changed == options_hash("pear-token", load_recipe("pear-token:gamma=0.99")[1])
    assert recipe_hash("pear-token:gamma=0.98") not in (plain, changed)


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=1e-6, max_value=1.0, allow_nan=False, allow_infinity=False))
def test_float_values_round_trip_through_the_canonical_label(gamma: float) -> None:
    resolved = resolve_method_label(f"pear-token:gamma={gamma!r}")
    assert resolved.options.gamma == gamma
    again = resolve_method_label(resolved.label)
    assert again.options == resolved.options and again.label == resolved.label
    assert "e" not in format_option_value(gamma) and "+" not in format_option_value(gamma)


BAD_OPTIONS = [
    ("pear-token:gamma=2", "'gamma'", "out of range"),
    ("pear-token:gamma=0", "'gamma'", "out of range"),
    ("pear-token:gamma=abc", "option 'gamma' = 'abc' is not a number", "0 < gamma <= 1"),
    ("pear-token:gamma=nan", "option 'gamma' = 'nan' is not a number", "0 < gamma <= 1"),
    ("pear-token:foo=1", "unknown option 'foo' for method 'pear-token'", "allowed: delta_clip, gamma"),
    ("none:gamma=1", "unknown option 'gamma' for method 'none'", "this method has no options"),
    ("pear-block:block_size=8.5", "option 'block_size' = '8.5' is not a whole number", "an integer >= 1"),
    ("pear-block:block_size=0", "'block_size'", "block_size"),
    ("pear-seq:delta_clip=0.3", "option 'delta_clip' = '0.3' is not NUMBER..NUMBER", "low <= high"),
    ("pear-seq:delta_clip=0.3..-0.1", "delta_clip", "inverted"),
    ("sft:normalisation=median", "normalisation", "token-mean"),
    ("pear-token:gamma=0.9,gamma=0.8", "option 'gamma' is given twice", "twice"),
    ("pear-token:gamma", "'gamma' is not key=value", "NAME[@FACTORx]:key=value"),
    ("pear-token:", "'' is not key=value", "key=value"),
    ("pear-token:gamma=0.99@3x", "the @FACTORx goes before the options", "pear-token@3x:gamma=0.99"),
    ("pear-token@3x@2x", "malformed", "NAME@FACTORx"),
    ("baselines/pear-token.toml", "malformed", "NAME@FACTORx"),
    ("nope:gamma=1", "unknown method 'nope'", "pear-token"),
    ("pear-seq:delta_clip=-1e-200..0.3", f"characters, more than {MAX_LABEL_LENGTH}", "file names"),
]


@pytest.mark.parametrize(("label", "first", "second"), BAD_OPTIONS)
def test_bad_options_are_refused_in_one_line(label: str, first: str, second: str) -> None:
    with pytest.raises(PearbenchError) as caught:
        resolve_method_label(label)
    message = str(caught.value)
    assert first in message and second in message and "\n" not in message


@pytest.mark.parametrize(("label", "first", "second"), BAD_OPTIONS)
def test_bad_options_exit_2_from_run_before_any_work(tmp_path: Path, capsys, label, first, second) -> None:
    out = tmp_path / "out"
    assert main(["run", "--method", label, "--profile", "smoke", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pearbench: error: ") and first in err
    assert "Traceback" not in err
    assert not out.exists()


def test_bad_options_exit_2_from_sweep_and_methods_show(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert (
        main(["sweep", "--methods", "sft,pear-token+gamma=2", "--profile", "smoke", "--out", str(out)]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'gamma'" in err and "out of range" in err
    assert not out.exists()
    assert main(["methods", "show", "pear-block:block_size=x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'block_size' = 'x' is not a whole number" in err


def test_methods_show_applies_a_labels_options(capsys) -> None:
    assert main(["methods", "show", "pear-block@3x:gamma=0.99,block_size=8"]) == 0
    out = capsys.readouterr().out
    assert "method label: pear-block@3x+block_size=8+gamma=0.99" in out
    assert "block_size = 8  (recipe 4; default 4)" in out
    assert "gamma = 0.99  (recipe 0.999; default 0.999)" in out
    assert f"recipe hash: {recipe_hash('pear-block+block_size=8+gamma=0.99')}" in out
    assert "pearbench run --method pear-block:KEY=VALUE" in out


# ----------------------------------------------------------------------------------------- the harness


def test_build_context_carries_the_canonical_label_options_and_hash(tmp_path: Path) -> None:
    request = RunRequest(method="pear-block@2x:gamma=0.99,block_size=8", profile="smoke", out=str(tmp_path))
    ctx = build_context(request)
    assert ctx.label == "pear-block@2x+block_size=8+gamma=0.99"
    assert ctx.method_name == "pear-block" and ctx.sft_factor == 2.0
    assert ctx.options.gamma == 0.99 and ctx.options.block_size == 8
    assert ctx.method_recipe_hash == recipe_hash(ctx.label) != recipe_hash("pear-block")
    assert run_id_for(request) == f"countdown__{ctx.label}__s0__smoke"
    plain = build_context(RunRequest(method="pear-block", profile="smoke", out=str(tmp_path)))
    assert plain.label == "pear-block" and plain.method_recipe_hash == recipe_hash("pear-block")


def test_sweep_plans_and_resumes_runs_with_options(tmp_path: Path) -> None:
    base = RunRequest(profile="smoke", out=str(tmp_path))
    jobs = plan(["sft", "pear-token:gamma=0.99", "pear-block@3x+block_size=8"], [0, 1], base)
    ids = [job.run_id for job in jobs]
    assert ids[:3] == [
        "countdown__sft__s0__smoke",
        "countdown__pear-token+gamma=0.99__s0__smoke",
        "countdown__pear-block@3x+block_size=8__s0__smoke",
    ]
    assert all(job.run_id == run_id_for(job.request) for job in jobs)
    assert pending(jobs, tmp_path) == jobs
    folder = tmp_path / RECORDS_DIR
    folder.mkdir()
    (folder / "countdown__pear-token+gamma=0.99__s0__smoke.json").write_text("{}")
    left = pending(jobs, tmp_path)
    assert len(left) == 5 and all(job.run_id != ids[1] for job in left)
    # two spellings of one run are one run
    with pytest.raises(PearbenchError, match="same run"):
        plan(["pear-token:gamma=0.99", "pear-token+gamma=0.99"], [0], base)
    with pytest.raises(PearbenchError, match="same run"):
        plan(["pear-token", "pear-token:gamma=0.999"], [0], base)


# ----------------------------------------------------------------------------------------- records and leaderboard


def options_record(label: str, seed: int, **kwargs):
    name, _ = parse_method_label(label)
    return make_record(
        method=name,
        method_label=canonical_method_label(label),
        seed=seed,
        method_recipe_hash=kwargs.pop("method_recipe_hash", recipe_hash(label)),
        rl_recipe_hash=rl_recipe_hash(PROFILE),
        sft_steps_factor=parse_method_label(label)[1],
        **kwargs,
    )


def test_canonical_labels_are_valid_record_labels_and_raw_ones_are_not() -> None:
    record = options_record("pear-block@3x:gamma=0.99,block_size=8", 0)
    assert record["run_id"] == f"countdown-mix__pear-block@3x+block_size=8+gamma=0.99__s0__{PROFILE}"
    with pytest.raises(PearbenchError, match="method_label"):
        finalize_record(make_body(method="pear-token", method_label="pear-token:gamma=0.99"))


def test_recipe_check_accepts_a_label_with_options_and_refuses_a_tampered_hash(tmp_path: Path) -> None:
    good = [
        options_record("sft", 0),
        options_record("sft@3x", 0),
        options_record("pear-token", 0),
        options_record("pear-token:gamma=0.99", 0),
    ]
    # claims gamma=0.99 but stores the plain recipe's hash; and one with a made-up hash
    tampered = [
        options_record("pear-token:gamma=0.99", 1, method_recipe_hash=recipe_hash("pear-token")),
        options_record("pear-token:gamma=0.98", 1, method_recipe_hash="0123456789abcdef"),
    ]
    for record in good + tampered:
        write_record(tmp_path, record)
    reports: list[tuple[str, str]] = []
    loaded = load_records(
        tmp_path,
        on_bad=lambda path, reason: reports.append((path.name, reason)),
        check_recipes=True,
        expected_hashes=default_recipe_hashes,
    )
    assert sorted(r["run_id"] for r in loaded) == sorted(r["run_id"] for r in good)
    assert sorted(name for name, _ in reports) == sorted(f"{r['run_id']}.json" for r in tampered)
    assert all(
        reason.startswith("refused: recipe hash mismatch: method_recipe_hash") for _, reason in reports
    )


def test_leaderboard_shows_a_label_with_options_as_its_own_row(tmp_path: Path, capsys) -> None:
    results = tmp_path / "runs"
    labels = ("sft", "pear-token", "pear-token:gamma=0.99")
    for label in labels:
        for seed in (0, 1):
            write_record(results, options_record(label, seed))
    tampered = options_record("pear-token:gamma=0.99", 2, method_recipe_hash=recipe_hash("pear-token"))
    write_record(results, tampered)
    code = main(["leaderboard", "--results", str(results), "--format", "csv", "--no-plots"])
    captured = capsys.readouterr()
    assert code == 0
    assert f"{tampered['run_id']}.json" in captured.err and "refused" in captured.err
    rows = [row for row in csv.DictReader(io.StringIO(captured.out)) if row["kind"] == "method"]
    by_label = {row["method_label"]: row for row in rows}
    assert set(by_label) == {"sft", "pear-token", "pear-token+gamma=0.99"}
    assert by_label["pear-token+gamma=0.99"]["method"] == "pear-token"
    assert by_label["pear-token+gamma=0.99"]["seeds"] == "0 1"  # the tampered seed 2 is not in it
    assert main(["leaderboard", "--results", str(results), "--no-plots"]) == 0
    assert "| pear-token+gamma=0.99 |" in capsys.readouterr().out
