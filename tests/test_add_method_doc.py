"""docs/add_method.md: its example runs outside the package, and its entry point makes the method usable from the CLI
(options on the command line included)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "add_method.md"
USE_MARKER = "# use it like any bundled method"
ENTRY_POINT_GROUP = "pearbench.methods"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def recipe_block() -> str:
    (block,) = [b for b in code_blocks("toml") if "entry-points" not in b]
    return block


def entry_point_block() -> dict[str, str]:
    (block,) = [b for b in code_blocks("toml") if "entry-points" in b]
    return tomllib.loads(block)["project"]["entry-points"][ENTRY_POINT_GROUP]


def isolated_env(extra_path: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=180)


def test_doc_has_one_complete_example_under_50_lines() -> None:
    (block,) = code_blocks("python")
    assert len(block.strip().splitlines()) < 50
    for needed in (
        "@register_method",
        "ObjectiveOptions",
        "option(",
        "weighted_nll",
        "recipe_path=",
        USE_MARKER,
    ):
        assert needed in block
    recipe = tomllib.loads(recipe_block())
    assert recipe["method"] == "power-nll" and recipe["options"]["power"] == 2.0
    assert ENTRY_POINT_GROUP in DOC.read_text(encoding="utf-8")


def test_doc_example_runs_outside_the_package(tmp_path: Path) -> None:
    (tmp_path / "power_nll.py").write_text(code_blocks("python")[0], encoding="utf-8")
    (tmp_path / "power-nll.toml").write_text(recipe_block(), encoding="utf-8")
    result = run([sys.executable, "power_nll.py"], tmp_path, isolated_env())
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()
    label, power, recipe_hash = first.split()
    assert (label, power) == ("power-nll@2x+power=3", "3.0")
    assert re.fullmatch(r"[0-9a-f]{16}", recipe_hash)
    assert re.fullmatch(r"loss \d+\.\d{4}", second)


def test_doc_example_fails_cleanly_without_its_recipe(tmp_path: Path) -> None:
    (tmp_path / "power_nll.py").write_text(code_blocks("python")[0], encoding="utf-8")
    result = run([sys.executable, "power_nll.py"], tmp_path, isolated_env())
    assert result.returncode != 0 and "recipe file not found" in result.stderr


def test_doc_entry_point_makes_the_method_usable_from_the_cli(tmp_path: Path) -> None:
    """Install the example as a plugin (module, recipe, dist-info with the doc's entry point) and use it."""
    entry_points = entry_point_block()
    assert entry_points == {"power-nll": "power_nll"}
    site = tmp_path / "site"
    site.mkdir()
    (site / "power_nll.py").write_text(code_blocks("python")[0].split(USE_MARKER)[0], encoding="utf-8")
    (site / "power-nll.toml").write_text(recipe_block(), encoding="utf-8")
    dist_info = site / "power_nll-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: power-nll\nVersion: 0.1\n")
    lines = [f"{name} = {value}" for name, value in entry_points.items()]
    (dist_info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n" + "\n".join(lines) + "\n")
    work = tmp_path / "work"
    work.mkdir()
    env = isolated_env(site)
    cli = [sys.executable, "-m", "pearbench.cli"]

    listing = run([*cli, "methods", "list"], work, env)
    assert listing.returncode == 0 and "power-nll" in listing.stdout, listing.stderr

    shown = run([*cli, "methods", "show", "power-nll:power=3"], work, env)
    assert shown.returncode == 0, shown.stderr
    assert "method label: power-nll+power=3" in shown.stdout
    assert "power = 3.0  (recipe 2.0; default 1.0)" in shown.stdout

    bad = run([*cli, "methods", "show", "power-nll:power=-1"], work, env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "'power' = -1.0 is out of range; allowed: a number > 0" in bad.stderr

    code = (
        "from pearbench.harness.runner import RunRequest, run_id_for\n"
        "print(run_id_for(RunRequest(method='power-nll:power=3', profile='smoke')))\n"
    )
    run_id = run([sys.executable, "-c", code], work, env)
    assert run_id.returncode == 0, run_id.stderr
    assert run_id.stdout.strip() == "countdown__power-nll+power=3__s0__smoke"
