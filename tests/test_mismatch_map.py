"""Mismatch maps: suites declaring a map and a level (validated, no effect on stage keys), the bundled
countdown-mm-* suites, and the leaderboard's map_<name>.md / .png from synthetic records at three levels."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest_records import fake_recipe_hashes, make_body

from pearbench.cli import main
from pearbench.errors import PearbenchError
from pearbench.harness.suites import describe_suite, load_suite
from pearbench.results.aggregate import build_leaderboards
from pearbench.results.mismatch_map import (
    DIFF_COLUMNS,
    build_mismatch_maps,
    map_figure,
    map_png,
    map_rows,
    render_map_markdown,
    suite_maps,
)
from pearbench.results.records import finalize_record, write_record
from pearbench.results.tables import fmt, fmt_diff, fmt_p

ROOT = Path(__file__).resolve().parents[1]

#: level -> (suite, mean_log_ratio of seed 0 / seed 1, pear-seq ESS mean of seed 0 / seed 1, pear-seq RL skill)
LEVELS = {
    "low": ("cd-mm-low", (-0.05, -0.07), (0.98, 0.96), 0.45),
    "mid": ("cd-mm-mid", (-0.18, -0.16), (0.90, 0.86), 0.48),
    "high": ("cd-mm-high", (-0.40, -0.44), (0.55, 0.51), 0.55),
}
METHODS = (("sft", 0.35, 0.42), ("pear-seq", 0.33, None), ("pear-token", 0.34, 0.43), ("dft", 0.30, 0.38))


def map_record(level: str, method: str, seed: int, *, map_name: str = "cd", **kwargs) -> dict:
    """A finalized record of one level of a map, with the mismatch and diagnostics the harness writes."""
    suite, ratios, ess, seq_skill = LEVELS[level]
    sft_skill, rl_skill = next((s, r) for m, s, r in METHODS if m == method)
    body = make_body(
        suite=suite,
        method=method,
        seed=seed,
        sft_skill=sft_skill,
        rl_skill=seq_skill if rl_skill is None else rl_skill,
        n=8,
        n_problems=30,
        **kwargs,
    )
    body["mismatch"] = {"mean_log_ratio": ratios[seed], "tokens": 1000}
    value = ess[seed] if method == "pear-seq" else 1.0
    first = value - 0.25 if method == "pear-seq" else 1.0  # the first SFT step (at pi_0) has the lowest ESS
    body["sft_diagnostics"] = {"ess_fraction": {"first": first, "last": value, "mean": value}}
    if map_name is not None:
        body["suite_map"] = {"map": map_name, "level": level}
    return finalize_record(body)


def map_records(**kwargs) -> list[dict]:
    return [
        map_record(level, method, seed, **kwargs)
        for level in LEVELS
        for method, _, _ in METHODS
        for seed in (0, 1)
    ]


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return map_records()


@pytest.fixture(scope="module")
def cd_map(records):
    boards = build_leaderboards(records, progress=False)
    (found,) = build_mismatch_maps(records, boards)
    return found, boards


# -- suites ------------------------------------------------------------------------------------------------------


def test_bundled_map_suites_load_with_their_levels() -> None:
    levels = {}
    for level in ("low", "mid", "high"):
        suite = load_suite(f"countdown-mm-{level}")
        assert suite.map == "countdown" and suite.map_level == level
        info = describe_suite(f"countdown-mm-{level}")
        assert (info["map"], info["map_level"]) == ("countdown", level)
        levels[level] = suite
    # what separates pi_0 from pi_beta grows with the level: fewer teacher-style traces, more noise
    assert levels["low"].base_style == levels["low"].teacher_style
    assert levels["mid"].teacher_style_share > levels["high"].teacher_style_share
    assert levels["low"].base_noise < levels["mid"].base_noise < levels["high"].base_noise
    # the high level spreads trace length with a second game of longer traces
    assert len(levels["high"].envs) == 2
    default = load_suite("countdown")
    assert default.map is None and default.map_level is None
    assert "map" not in describe_suite("countdown")


#: the base and teacher stage hashes of the default suite under the `small` profile (unchanged since the first sweep)
DEFAULT_SMALL_KEYS = {"base": "0c0d0ffcfe8381c4", "teacher": "6b9448d2349082e0"}


def _stage_hashes(suite_name: str, profile: str = "small") -> dict[str, str]:
    from pearbench.harness.cache import StageDir
    from pearbench.harness.config import load_profile
    from pearbench.harness.stages import _pretrain_spec

    ctx = SimpleNamespace(profile=load_profile(profile), suite=load_suite(suite_name))
    return {
        role: StageDir(Path("."), role, _pretrain_spec(ctx, role)[0]).hash for role in ("base", "teacher")
    }


def test_map_keys_change_no_stage_key() -> None:
    default = _stage_hashes("countdown")
    # the default suite keeps the keys (and cache) its base and teacher have had since the first committed sweep
    assert default == DEFAULT_SMALL_KEYS
    for path in (ROOT / "leaderboards/records").glob("countdown__*__small.json"):
        committed = json.loads(path.read_text())
        assert {role: committed["config_hashes"][role] for role in ("base", "teacher")} == default, path.name
    # the mid level has the default suite's knobs: its name and map do not enter the keys
    assert _stage_hashes("countdown-mm-mid") == default
    assert _stage_hashes("countdown-mm-high")["base"] != default["base"]


def _suite_file(tmp_path: Path, extra: str) -> str:
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\n' + extra + '[[envs]]\nname = "countdown"\ndifficulty = "easy"\n')
    return str(path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('map = "m"\n', "map_level is missing"),
        ('map_level = "low"\n', "map is missing"),
        ('map = "m"\nmap_level = "extreme"\n', "map_level"),
        ('map = "m"\nmap_level = true\n', "map_level must be"),
        ('map = "a/b"\nmap_level = "low"\n', "map must be a name"),
        ('map = 3\nmap_level = "low"\n', "map must be a name"),
    ],
)
def test_bad_map_keys_are_one_line_errors(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(PearbenchError, match=message) as info:
        load_suite(_suite_file(tmp_path, extra))
    assert "\n" not in str(info.value)


def test_numeric_map_level(tmp_path: Path) -> None:
    suite = load_suite(_suite_file(tmp_path, 'map = "m"\nmap_level = 2\n'))
    assert suite.map == "m" and suite.map_level == 2.0


# -- the map from records ----------------------------------------------------------------------------------------


def test_map_levels_in_order_with_measured_mismatch_and_ess(cd_map) -> None:
    found, _ = cd_map
    assert found.name == "cd" and found.profile == "smoke"
    assert [entry.level for entry in found.levels] == ["low", "mid", "high"]
    for entry, (suite, ratios, ess, _) in zip(found.levels, LEVELS.values()):
        assert entry.suite == suite
        assert entry.n_records == len(METHODS) * 2
        assert entry.mismatch == pytest.approx(np.mean(np.abs(ratios)))
        assert entry.ess == pytest.approx(np.mean(ess))
        assert entry.ess_first == pytest.approx(np.mean(ess) - 0.25)
    assert found.levels[-1].mismatch / found.levels[0].mismatch > 4


def test_map_differences_are_the_leaderboards_paired_comparisons(cd_map) -> None:
    found, boards = cd_map
    levels, diffs = map_rows(found)
    assert [row[0] for row in levels] == ["low", "mid", "high"]
    assert [row[4] for row in levels] == [fmt(np.mean(LEVELS[lv][2])) for lv in LEVELS]
    assert len(diffs) == 3 * 2  # pear-seq and pear-token at each level; sft and dft are not PEAR
    by_suite = {board.suite: board for board in boards}
    for row in diffs:
        level, _, label = row[:3]
        board_row = next(r for r in by_suite[LEVELS[level][0]].rows if r.method_label == label)
        expected = []
        for k in (1, 8):
            for comparisons in (board_row.vs_sft_after_sft, board_row.vs_sft):
                assert k in comparisons
                expected += [fmt_diff(comparisons[k]), fmt_p(comparisons[k])]
        assert row[3:] == expected
        assert len(row) == len(DIFF_COLUMNS)


def test_map_markdown(cd_map) -> None:
    found, _ = cd_map
    text = render_map_markdown(found)
    assert text.startswith("## Mismatch map cd (profile smoke)")
    assert "pear-seq ESS" in text and "Δ pass@1 after RL" in text and "Δ pass@8 after SFT" in text
    for entry in found.levels:
        numbers = (entry.mismatch, entry.ess, entry.ess_first)
        assert f"| {entry.level} | {entry.suite} | 8 | {' | '.join(fmt(v) for v in numbers)} |" in text
    assert render_map_markdown(found) == text  # byte-stable


def test_map_plot_draws_post_rl_differences_against_the_mismatch(cd_map) -> None:
    found, _ = cd_map
    figure = map_figure(found)
    axes = figure.axes
    assert len(axes) == 2  # pass@1 and pass@8
    logs = np.log10([entry.mismatch for entry in found.levels])
    assert "after RL" in figure.get_suptitle()
    for ax in axes:
        assert "after RL" not in ax.get_xlabel() and "mismatch" in ax.get_xlabel()
        assert ax.get_xscale() == "log"  # the levels of a map span decades
        xs = sorted(x for container in ax.containers for x in container.lines[0].get_xdata())
        assert len(xs) == 3 * 2  # 3 levels x 2 PEAR methods, post-RL only
        # dodged (by a factor) around the level's mismatch, by less than half the gap to the next level
        for x in xs:
            assert min(abs(np.log10(x) - m) for m in logs) < 0.5 * min(np.diff(sorted(logs)))
        names = {text.get_text(): text.get_position()[0] for text in ax.texts}
        assert names == {entry.level: entry.mismatch for entry in found.levels}  # each level named at its x
        heights = [
            text.get_position()[1] for text in sorted(ax.texts, key=lambda text: text.get_position()[0])
        ]
        assert all(a != b for a, b in zip(heights, heights[1:]))  # neighbours' names at different heights
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels[:2] == ["pear-seq", "pear-token"] and "dft" not in labels and "sft" not in labels[:2]
    png = map_png(found)
    assert png.startswith(b"\x89PNG") and map_png(found) == png


def test_suite_map_conflicts_and_bad_entries_are_errors(records) -> None:
    other = dict(records[0])
    other["suite_map"] = {"map": "cd", "level": "high"}
    with pytest.raises(PearbenchError, match="disagree on their mismatch map"):
        suite_maps([records[0], other])
    bad = dict(records[0])
    bad["suite_map"] = {"map": "../x", "level": "low"}
    with pytest.raises(PearbenchError, match="suite_map must be"):
        suite_maps([bad])


def test_levels_from_several_profiles_are_an_error() -> None:
    mixed = [map_record("low", m, s) for m, _, _ in METHODS for s in (0, 1)]
    mixed += [map_record("high", m, s, profile="small") for m, _, _ in METHODS for s in (0, 1)]
    boards = build_leaderboards(mixed, progress=False)
    with pytest.raises(PearbenchError, match="several profiles"):
        build_mismatch_maps(mixed, boards)


def test_records_without_a_map_give_no_map(records) -> None:
    plain = [map_record("low", m, s, map_name=None) for m, _, _ in METHODS for s in (0, 1)]
    assert build_mismatch_maps(plain, build_leaderboards(plain, progress=False)) == []


# -- the command -------------------------------------------------------------------------------------------------


def test_leaderboard_command_writes_the_map(tmp_path: Path, monkeypatch, records) -> None:
    monkeypatch.setattr("pearbench.commands.leaderboard.default_recipe_hashes", fake_recipe_hashes)
    results = tmp_path / "results"
    for record in records:
        write_record(results, record)
    out = tmp_path / "out"
    assert main(["leaderboard", "--results", str(results), "--out", str(out)]) == 0
    assert (out / "map_cd.png").read_bytes().startswith(b"\x89PNG")
    text = (out / "map_cd.md").read_text(encoding="utf-8")
    assert "## Mismatch map cd" in text
    for suite in ("cd-mm-low", "cd-mm-mid", "cd-mm-high"):
        assert (out / f"{suite}.md").exists()
    again = tmp_path / "again"
    assert main(["leaderboard", "--results", str(results), "--out", str(again), "--no-plots"]) == 0
    assert (again / "map_cd.md").read_text(encoding="utf-8") == text
    assert not (again / "map_cd.png").exists()
    # one suite only: its map has that one level
    one = tmp_path / "one"
    assert main(["leaderboard", "--results", str(results), "--suite", "cd-mm-high", "--out", str(one)]) == 0
    assert "cd-mm-low" not in (one / "map_cd.md").read_text(encoding="utf-8")
