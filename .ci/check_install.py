"""CI: install pearbench NON-editable into a temporary folder and import every module of every subpackage from it.

An editable install maps the source tree, so a subpackage missing from pyproject's ``packages`` list goes unnoticed
there; this check fails on it. Dependencies come from the running environment (``--no-deps``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def source_modules() -> list[str]:
    names = []
    for folder, package in ((ROOT / "pearbench", "pearbench"), (ROOT / "envs", "pearbench.envs")):
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join([package, *parts]))
    return names


def main() -> int:
    with tempfile.TemporaryDirectory() as target, tempfile.TemporaryDirectory() as source:
        # build from a clean copy of the checkout's files (a stale build/ folder could hide a missing package)
        listed = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        for name in listed:
            if (ROOT / name).is_file():
                (Path(source) / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, Path(source) / name)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", target, source],
            check=True,
        )
        modules = source_modules()
        code = (
            "import importlib, sys\n"
            f"target = {target!r}\n"
            "bad = []\n"
            f"for name in {modules!r}:\n"
            "    try:\n"
            "        module = importlib.import_module(name)\n"
            "    except Exception as exc:\n"
            "        bad.append(f'{name}: {type(exc).__name__}: {exc}')\n"
            "        continue\n"
            "    if not module.__file__.startswith(target):\n"
            "        bad.append(f'{name}: imported from {module.__file__}, not from the installed copy')\n"
            "import pearbench.baselines, pearbench.data\n"
            "from importlib import resources\n"
            "assert any(p.name.endswith('.toml') for p in resources.files('pearbench.baselines').iterdir())\n"
            "assert any(p.name == 'smoke.toml' for p in resources.files('pearbench.data').joinpath('profiles').iterdir())\n"
            f"print(chr(10).join(bad) if bad else 'non-editable install: {len(modules)} modules import')\n"
            "sys.exit(1 if bad else 0)\n"
        )
        env = {**os.environ, "PYTHONPATH": target}
        return subprocess.run(
            [sys.executable, "-c", code], cwd=tempfile.gettempdir(), env=env, check=False
        ).returncode


if __name__ == "__main__":
    raise SystemExit(main())
