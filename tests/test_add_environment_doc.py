"""docs/add_environment.md: its example runs end to end outside the package, and its entry point really works."""

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

DOC = Path(__file__).resolve().parents[1] / "docs" / "add_environment.md"
USE_MARKER = "# use it like any bundled game"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def isolated_env(extra_path: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    return env


def test_doc_has_one_complete_example_under_40_lines() -> None:
    blocks = code_blocks("python")
    assert len(blocks) == 1
    assert len(blocks[0].strip().splitlines()) < 40
    assert "@register_env" in blocks[0] and "gymnasium.make" in blocks[0]
    assert ".reset(" in blocks[0] and ".step(" in blocks[0]
    assert USE_MARKER in blocks[0]


def test_doc_example_runs_outside_the_package(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code_blocks("python")[0], encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=isolated_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("reward 1.0")
    assert "-> even reward 1.0" in result.stdout or "-> odd reward 1.0" in result.stdout


def test_doc_entry_point_makes_the_game_appear_on_import(tmp_path: Path) -> None:
    """Install the doc's example as a plugin (a module plus dist-info with the doc's entry point) and use it."""
    (toml_block,) = code_blocks("toml")
    entry_points = tomllib.loads(toml_block)["project"]["entry-points"]["pearbench.environments"]
    assert entry_points == {"parity": "parity_game:Parity"}
    module_name, _, _ = entry_points["parity"].partition(":")
    site = tmp_path / "site"
    site.mkdir()
    definition = code_blocks("python")[0].split(USE_MARKER)[0]
    (site / f"{module_name}.py").write_text(definition, encoding="utf-8")
    dist_info = site / "parity_game-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: parity-game\nVersion: 0.1\n", encoding="utf-8"
    )
    lines = [f"{name} = {value}" for name, value in entry_points.items()]
    (dist_info / "entry_points.txt").write_text("[pearbench.environments]\n" + "\n".join(lines) + "\n")
    code = (
        "import gymnasium, pearbench\n"
        "env = gymnasium.make('pearbench/Parity-v0', difficulty='hard')\n"
        "env.reset(seed=1)\n"
        "print(env.step(env.unwrapped.game.solve(env.unwrapped.instance, 'terse'))[1])\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        capture_output=True,
        text=True,
        env=isolated_env(site),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1.0"
    listing = subprocess.run(
        [sys.executable, "-m", "pearbench.cli", "envs", "list"],
        cwd=work,
        capture_output=True,
        text=True,
        env=isolated_env(site),
        timeout=120,
    )
    assert listing.returncode == 0 and "pearbench/Parity-v0" in listing.stdout
