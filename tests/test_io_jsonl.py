"""pearbench.io.iter_jsonl: the one JSONL reader behind `pearbench data score`, `pearbench eval --completions` and
local dataset files; every file-level problem is one PearbenchError naming the file and the line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from pearbench.errors import PearbenchError
from pearbench.io import iter_jsonl, jsonl_where
from pearbench.verify.datasets import load_problems_file
from pearbench.verify.scoring import read_completions


def test_yields_line_numbers_and_objects_skipping_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\n   \n{"b": "\xc3\xa9"}\r\n{"c": [1, 2]}')
    assert list(iter_jsonl(path, "test file")) == [(1, {"a": 1}), (4, {"b": "é"}), (5, {"c": [1, 2]})]


def test_an_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    assert list(iter_jsonl(path, "test file")) == []


def test_nan_and_infinity_constants_are_passed_through(tmp_path: Path) -> None:
    # No reader rejected them before the readers were merged; callers judge numbers themselves.
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": NaN, "b": Infinity}\n')
    [(_, row)] = iter_jsonl(path, "test file")
    assert math.isnan(row["a"]) and row["b"] == math.inf


def test_where_names_file_and_line(tmp_path: Path) -> None:
    assert jsonl_where(tmp_path / "x.jsonl", 7) == f"{tmp_path / 'x.jsonl'}, line 7"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": 1}\n{"a": \n', r"x.jsonl, line 2: not valid JSON \(Expecting value at column 7\)"),
        (b'{"a": 1} {"b": 2}\n', r"x.jsonl, line 1: not valid JSON \(Extra data at column 10\)"),
        (b'{"a": 1}\n[1, 2]\n', r"x.jsonl, line 2: expected a JSON object, got an array"),
        (b'"text"\n', r"x.jsonl, line 1: expected a JSON object, got a string"),
        (b"3.5\n", r"x.jsonl, line 1: expected a JSON object, got a number"),
        (b"null\n", r"x.jsonl, line 1: expected a JSON object, got null"),
        (b"true\n", r"x.jsonl, line 1: expected a JSON object, got true/false"),
        (
            b'{"a": 1}\n\n{"a": "\xff"}\n',
            r"x.jsonl, line 3: not valid UTF-8 \(invalid start byte at byte 8 of the line\)",
        ),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    with pytest.raises(PearbenchError, match=message):
        list(iter_jsonl(path, "test file"))


def test_rows_before_a_bad_line_are_yielded_first(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{oops\n')
    rows = iter_jsonl(path, "test file")
    assert next(rows) == (1, {"a": 1})
    with pytest.raises(PearbenchError, match="line 2"):
        next(rows)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(PearbenchError, match=r"^test file '.*nope.jsonl' does not exist$"):
        list(iter_jsonl(tmp_path / "nope.jsonl", "test file"))
    with pytest.raises(PearbenchError, match=r"^test file '.*' is not a file$"):
        list(iter_jsonl(tmp_path, "test file"))


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n')

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("pearbench.io.open", refuse, raising=False)
    with pytest.raises(PearbenchError, match=r"^test file '.*x.jsonl' cannot be read \(Permission denied\)$"):
        list(iter_jsonl(path, "test file"))


# -- the three callers share the wording ---------------------------------------------------------------------------


def test_callers_share_the_reader_messages(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n[1]\n")
    expected = r"bad.jsonl, line 2: expected a JSON object, got an array"
    with pytest.raises(PearbenchError, match=expected):
        read_completions(path)
    with pytest.raises(PearbenchError, match=expected):
        load_problems_file(path)
    from pearbench.harness.datagen import read_jsonl

    with pytest.raises(PearbenchError, match=expected):
        read_jsonl(path)
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(PearbenchError, match=r"completions file '.*missing.jsonl' does not exist"):
        read_completions(missing)
    with pytest.raises(PearbenchError, match=r"data file '.*missing.jsonl' does not exist"):
        load_problems_file(missing)
    with pytest.raises(PearbenchError, match=r"data file '.*missing.jsonl' does not exist"):
        read_jsonl(missing)
