"""Reliability defects found by trying pearbench as a new user would: output paths that are files, file modes of
atomic writes, model folders named in records."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pearbench.cli import main
from pearbench.errors import PearbenchError
from pearbench.io import atomic_write_bytes, atomic_write_json, atomic_write_with, check_output_dir


# -- output paths that are files -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--profile", "smoke", "--out", "{file}"],
        ["run", "--profile", "smoke", "--out", "{file}/sub"],
        ["sweep", "--profile", "smoke", "--methods", "sft", "--seeds", "0", "--out", "{file}"],
        ["data", "generate", "--profile", "smoke", "--out", "{file}"],
        ["eval", "--completions", "{file}", "--dataset", "aime2025", "--json", "{file}/x.json"],
        ["eval", "--completions", "{file}", "--dataset", "aime2025", "--json", "{folder}"],
    ],
)
def test_output_paths_that_are_files_are_one_line_exit_2(tmp_path: Path, capsys, argv: list[str]) -> None:
    file = tmp_path / "a_file"
    file.write_text("keep me\n")
    folder = tmp_path / "a_folder"
    folder.mkdir()
    args = [a.format(file=file, folder=folder) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pearbench: error: ")
    assert "file" in err[0] or "folder" in err[0]
    assert file.read_text() == "keep me\n"  # nothing already written is lost


def test_check_output_dir_accepts_new_and_existing_folders(tmp_path: Path) -> None:
    assert check_output_dir(tmp_path / "new" / "deeper", "--out") == tmp_path / "new" / "deeper"
    assert check_output_dir(tmp_path, "--out") == tmp_path
    (tmp_path / "f").write_text("")
    with pytest.raises(PearbenchError, match="is a file"):
        check_output_dir(tmp_path / "f", "--out")


# -- file modes ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_keep_the_umask_mode(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        atomic_write_json(tmp_path / "b.json", {"a": 1})
        atomic_write_with(tmp_path / "c.txt", lambda p: p.write_text("c"))
        (tmp_path / "plain.txt").write_text("p")
    finally:
        os.umask(old)
    expected = stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)
    assert expected == 0o666 & ~umask
    for name in ("a.bin", "b.json", "c.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name


# -- model folders in the record -----------------------------------------------------------------------------------
def test_records_name_their_model_folders_relative_to_out(smoke_dir: Path) -> None:
    record = json.loads((smoke_dir / "records" / "countdown__pear-seq__s0__smoke.json").read_text())
    dirs = record["model_dirs"]
    assert set(dirs) == {"base", "teacher", "sft", "rl"}
    for role, rel in dirs.items():
        assert not os.path.isabs(rel) and not rel.startswith(".."), (role, rel)
        assert rel.startswith("cache/") and rel.endswith("/model"), (role, rel)
        assert (smoke_dir / rel).is_dir(), (role, rel)
    assert dirs["sft"].startswith("cache/sft-") and dirs["rl"].startswith("cache/rl-")
    assert str(smoke_dir) not in json.dumps(record)  # no machine's absolute path in a record


def test_run_summary_prints_the_model_folders(smoke_dir: Path) -> None:
    from pearbench.commands.run import summary_lines

    record = json.loads((smoke_dir / "records" / "countdown__pear-seq__s0__smoke.json").read_text())
    text = "\n".join(summary_lines(record, out=smoke_dir))
    assert f"sft model: {smoke_dir / record['model_dirs']['sft']}" in text
    assert f"rl model: {smoke_dir / record['model_dirs']['rl']}" in text
