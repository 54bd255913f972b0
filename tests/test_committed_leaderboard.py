"""The committed leaderboard (leaderboards/) is reproduced byte for byte from the committed records."""

from __future__ import annotations

from pathlib import Path

import pytest

from pearbench.cli import main
from pearbench.harness.config import default_recipe_hashes

ROOT = Path(__file__).resolve().parents[1]
BOARD = ROOT / "leaderboards"


def test_committed_table_regenerates_byte_for_byte(tmp_path: Path) -> None:
    records = sorted((BOARD / "records").glob("*.json"))
    tables = sorted(BOARD.glob("*.md"))
    tables = [t for t in tables if t.name != "README.md"]
    if not records:
        pytest.skip("no committed records under leaderboards/records")
    assert tables, "records are committed but no leaderboard table is"
    assert main(["leaderboard", "--results", str(BOARD), "--out", str(tmp_path), "--no-plots"]) == 0
    # every table the records give (each suite's, each mismatch map's) is committed, and nothing else
    assert sorted(p.name for p in tmp_path.glob("*.md")) == [t.name for t in tables]
    for table in tables:
        assert (tmp_path / table.name).read_bytes() == table.read_bytes(), (
            f"{table.name} differs from its records"
        )


def test_committed_records_pass_checksum_and_recipe_checks() -> None:
    from pearbench.results.records import load_records

    files = sorted((BOARD / "records").glob("*.json"))
    if not files:
        pytest.skip("no committed records under leaderboards/records")
    bad: list[str] = []
    loaded = load_records(
        BOARD,
        on_bad=lambda path, reason: bad.append(f"{path}: {reason}"),
        check_recipes=True,
        expected_hashes=default_recipe_hashes,
    )
    assert not bad
    assert len(loaded) == len(files)
