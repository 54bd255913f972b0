"""pearbench.verify.datasets: the registry, local JSONL/parquet loading, malformed files, champ, and the shared copies."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from pearbench.errors import PearbenchError
from pearbench.verify.datasets import DATASETS, Problem, load_dataset, load_problems_file
from pearbench.verify.pool import verify_math_batch

SHARED_DATA = Path(
    os.environ.get("PEARBENCH_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
EXPECTED_COUNTS = {
    "aime2025": 30,
    "aime2024": 30,
    "amc2023": 40,
    "math500": 500,
    "minerva": 272,
    "olympiadbench": 675,
}
#: (dataset, problem id) -> why its gold does not verify against \boxed{gold}. None today; the test fails if a
#: listed problem verifies again (stale list) or an unlisted one stops verifying.
KNOWN_UNVERIFIABLE_GOLDS: dict[tuple[str, str], str] = {}
#: Problems per large set checked in the default (fast) run; the slow run checks every problem.
SAMPLE_PER_SET = 40

needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"shared data folder {SHARED_DATA} is absent (set PEARBENCH_SHARED_DATA to the shared data folder)",
)


def shared_problems(name: str) -> list[Problem]:
    return load_dataset(name, data_file=SHARED_DATA / DATASETS[name].shared_file)


# -- registry ---------------------------------------------------------------------------------------------------------


def test_registry_names_and_default_hub_ids() -> None:
    assert set(DATASETS) == {
        "aime2025",
        "aime2024",
        "amc2023",
        "math500",
        "minerva",
        "olympiadbench",
        "champ",
    }
    assert DATASETS["aime2025"].hub_id == "yentinglin/aime_2025" and DATASETS["aime2025"].hub_split == "train"
    assert ("math-ai/aime25", "test") in DATASETS["aime2025"].alternatives
    assert DATASETS["aime2024"].hub_id == "HuggingFaceH4/aime_2024"
    assert DATASETS["math500"].hub_id == "HuggingFaceH4/MATH-500" and DATASETS["math500"].hub_split == "test"
    assert DATASETS["amc2023"].hub_id == "math-ai/amc23"
    assert DATASETS["minerva"].hub_id == "math-ai/minervamath"
    assert DATASETS["olympiadbench"].hub_id == "math-ai/olympiadbench"
    assert DATASETS["champ"].package == "champ-dataset"
    for name, spec in DATASETS.items():
        assert spec.name == name
        assert spec.fields["id"][0] == "id" and spec.fields["problem"][0] == "problem"
        assert spec.fields["answer"][0] == "answer"


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(
        PearbenchError,
        match=r"unknown dataset 'aime2030'; did you mean aime202[45]\? choose one of: aime2024, aime2025",
    ):
        load_dataset("aime2030")
    with pytest.raises(PearbenchError, match=r"unknown dataset 'gsm8k'; choose one of: aime2024, aime2025"):
        load_dataset("gsm8k")


def test_hub_path_without_datasets_package_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail like an absent package
    with pytest.raises(
        PearbenchError,
        match=r"pip install 'pearbench\[hub\]'\) and network access; or give a local .*--data-file FILE",
    ):
        load_dataset("aime2025")


def test_problem_is_frozen_and_meta_read_only() -> None:
    problem = Problem("a", "What?", "1", "here", {"level": 1})
    with pytest.raises(AttributeError):
        problem.answer = "2"  # type: ignore[misc]
    with pytest.raises(TypeError):
        problem.meta["level"] = 2  # type: ignore[index]
    assert problem.to_dict() == {
        "id": "a",
        "problem": "What?",
        "answer": "1",
        "source": "here",
        "meta": {"level": 1},
    }


# -- local files --------------------------------------------------------------------------------------------------


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def test_normalised_jsonl(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "set.jsonl",
        [
            {"id": "p1", "problem": "1+1?", "answer": "2", "source": "mine", "meta": {"level": 1}},
            {"id": "p2", "problem": "2+2?", "answer": "4", "extra": "kept"},
        ],
    )
    problems = load_dataset("aime2025", data_file=path)
    assert [p.id for p in problems] == ["p1", "p2"]
    assert problems[0].source == "mine" and dict(problems[0].meta) == {"level": 1}
    assert problems[1].source == "aime2025:set.jsonl" and problems[1].meta["extra"] == "kept"


def test_hub_field_names_are_mapped(tmp_path: Path) -> None:
    math500 = write_jsonl(
        tmp_path / "math500.jsonl",
        [{"unique_id": "test/algebra/1.json", "problem": "x?", "answer": "\\frac{1}{2}", "level": 3}],
    )
    [problem] = load_dataset("math500", data_file=math500)
    assert (problem.id, problem.answer, problem.meta["level"]) == ("test/algebra/1.json", "\\frac{1}{2}", 3)
    olympiad = write_jsonl(tmp_path / "ob.jsonl", [{"id": 7, "question": "Find n.", "final_answer": ["12"]}])
    [problem] = load_dataset("olympiadbench", data_file=olympiad)
    assert (problem.id, problem.problem, problem.answer) == ("7", "Find n.", "12")
    amc = write_jsonl(
        tmp_path / "amc.jsonl", [{"question": "How far?", "answer": 27.0}, {"question": "Q", "answer": 2.5}]
    )
    problems = load_dataset("amc2023", data_file=amc)
    assert [(p.id, p.answer) for p in problems] == [("amc2023-0001", "27"), ("amc2023-0002", "2.5")]


def test_parquet_file(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "aime.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "problem": ["P1", "P2"], "answer": ["70", "588"]}), path)
    problems = load_dataset("aime2025", data_file=path)
    assert [(p.id, p.answer) for p in problems] == [("a", "70"), ("b", "588")]
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": ["a"], "problem": ["P1"]}), bad)
    with pytest.raises(PearbenchError, match=r"bad.parquet, row 1: missing field 'answer'"):
        load_dataset("aime2025", data_file=bad)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"id": "a", "problem": "P", "answer": "1"}, "{not json"], r"bad.jsonl, line 2: not valid JSON"),
        ([{"id": "a", "answer": "1"}], r"bad.jsonl, line 1: missing field 'problem' or 'Problem'"),
        ([{"id": "a", "problem": "P"}], r"bad.jsonl, line 1: missing field 'answer' or 'Answer'"),
        ([{"id": "a", "problem": "P", "answer": " "}], r"line 1: field 'answer' is empty"),
        (
            [{"id": "a", "problem": "P", "answer": "1"}, {"id": "a", "problem": "Q", "answer": "2"}],
            r"line 2: duplicate id 'a' \(first seen at line 1\)",
        ),
        ([[1, 2]], r"bad.jsonl, line 1: expected a JSON object, got an array"),
        ([{"id": "a", "problem": "P", "answer": True}], r"line 1: the answer must be a string or a number"),
        ([{"id": "a", "problem": 5, "answer": "1"}], r"line 1: field 'problem' must be a non-empty string"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path: Path, rows: list[object], message: str) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(PearbenchError, match=message):
        load_dataset("aime2025", data_file=path)


def test_missing_empty_and_wrong_kind_of_file(tmp_path: Path) -> None:
    with pytest.raises(PearbenchError, match=r"data file '.*nope.jsonl' does not exist"):
        load_problems_file(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(PearbenchError, match="holds no problems"):
        load_problems_file(tmp_path / "empty.jsonl")
    (tmp_path / "set.csv").write_text("id,problem,answer\n")
    with pytest.raises(PearbenchError, match=r"must end in .jsonl, .json or .parquet"):
        load_problems_file(tmp_path / "set.csv")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(PearbenchError, match="not a readable parquet file"):
        load_problems_file(tmp_path / "junk.parquet")


# -- a local file must be the named set ------------------------------------------------------------------------------


def _rows(prefix: str, n: int, answer: str = "7") -> list[dict[str, str]]:
    return [{"id": f"{prefix}{i:02d}", "problem": f"Problem {i}?", "answer": answer} for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("name", "rows", "message"),
    [
        (
            "math500",
            _rows("aime2025-I-", 3),
            r"data file set.jsonl does not look like math500: its ids are aime2025's \(e.g. 'aime2025-I-01'\), "
            r"not math500's \(e.g. 'math500-algebra-1349'\)$",
        ),
        ("aime2025", _rows("aime2024-II-", 2), r"does not look like aime2025: its ids are aime2024's"),
        (
            "olympiadbench",
            [{"id": "test/algebra/1.json", "problem": "P", "answer": "1"}],
            r"its ids are math500's \(e.g. 'test/algebra/1.json'\), not olympiadbench's",
        ),
        ("aime2025", _rows("p", 31), r"does not look like aime2025: it holds 31 problems, aime2025 has 30$"),
        (
            "aime2025",
            _rows("p", 2, answer="\\frac{1}{2}"),
            r"does not look like aime2025: the answer '\\\\frac\{1\}\{2\}' of problem 'p01' is not an integer 0-999",
        ),
        ("amc2023", _rows("q", 3, answer="x + 1"), r"is not a number, as every amc2023 answer is"),
    ],
)
def test_a_file_of_another_set_is_refused_naming_both(
    tmp_path: Path, name: str, rows: list[dict[str, str]], message: str
) -> None:
    path = write_jsonl(tmp_path / "set.jsonl", rows)
    with pytest.raises(PearbenchError, match=message):
        load_dataset(name, data_file=path)


def test_answers_alone_tell_another_set_only_with_enough_problems(tmp_path: Path) -> None:
    aime2024 = DATASETS["aime2024"].answers
    rows = [{"problem": f"P{i}", "answer": answer} for i, answer in enumerate(aime2024)]
    path = write_jsonl(tmp_path / "noids.jsonl", rows[::-1])
    assert len(load_dataset("aime2024", data_file=path)) == 30
    for name in ("aime2025", "math500", "minerva"):
        with pytest.raises(
            PearbenchError, match=rf"does not look like {name}: 30 of its 30 answers are aime2024's"
        ):
            load_dataset(name, data_file=path)
    few = write_jsonl(tmp_path / "few.jsonl", rows[:9])  # too few answers to tell: accepted under any name
    assert len(load_dataset("math500", data_file=few)) == 9


def test_files_that_are_the_set_are_accepted(tmp_path: Path) -> None:
    ids = write_jsonl(tmp_path / "mine.jsonl", _rows("math500-algebra-", 40, answer="\\frac{1}{2}")[::-1])
    assert len(load_dataset("math500", data_file=ids)) == 40
    hub = write_jsonl(
        tmp_path / "hub.jsonl", [{"unique_id": "test/algebra/1.json", "problem": "x?", "answer": "1"}]
    )
    assert [p.id for p in load_dataset("math500", data_file=hub)] == ["test/algebra/1.json"]
    degrees = write_jsonl(tmp_path / "deg.jsonl", [{"id": 1, "problem": "P", "answer": "336^\\circ"}])
    assert load_dataset("aime2025", data_file=degrees)[0].answer == "336^\\circ"
    # a file of a set is still readable as plain problems, without a set to check against
    other = write_jsonl(tmp_path / "other.jsonl", _rows("aime2025-I-", 3))
    assert len(load_problems_file(other)) == 3


@needs_shared
def test_each_shared_file_is_accepted_only_as_its_own_set() -> None:
    for name, spec in DATASETS.items():
        if spec.shared_file is None:
            continue
        for other, other_spec in DATASETS.items():
            path = SHARED_DATA / spec.shared_file
            if other == name:
                assert len(load_dataset(other, data_file=path)) == spec.count
            elif other_spec.shared_file is not None:
                with pytest.raises(
                    PearbenchError, match=rf"^data file {spec.shared_file} does not look like {other}: "
                ):
                    load_dataset(other, data_file=path)


@needs_shared
def test_eval_refuses_a_data_file_of_another_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pearbench.cli import main

    completions = write_jsonl(
        tmp_path / "c.jsonl",
        [{"id": p.id, "completion": f"\\boxed{{{p.answer}}}"} for p in shared_problems("aime2025")],
    )
    data = str(SHARED_DATA / "aime2025.jsonl")
    args = ["eval", "--completions", str(completions), "--data-file", data, "--workers", "1", "--no-progress"]
    assert main([*args, "--dataset", "math500"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "pearbench: error: data file aime2025.jsonl does not look like math500: its ids are aime2025's "
        "(e.g. 'aime2025-I-01'), not math500's (e.g. 'math500-algebra-1349')"
    )
    assert main([*args, "--dataset", "aime2025"]) == 0
    assert "aime2025" in capsys.readouterr().out


@needs_shared
def test_subsets_reorderings_and_copies_without_ids_of_a_shared_set_are_accepted(tmp_path: Path) -> None:
    for name in ("aime2025", "math500", "olympiadbench"):
        rows = [p.to_dict() for p in shared_problems(name)]
        subset = write_jsonl(tmp_path / f"{name}-subset.jsonl", rows[::-3])
        assert [p.id for p in load_dataset(name, data_file=subset)] == [r["id"] for r in rows[::-3]]
        noids = write_jsonl(
            tmp_path / f"{name}-noids.jsonl", [{k: v for k, v in r.items() if k != "id"} for r in rows]
        )
        assert len(load_dataset(name, data_file=noids)) == len(rows)
    noids = tmp_path / "aime2025-noids.jsonl"
    with pytest.raises(
        PearbenchError, match=r"does not look like aime2024: 30 of its 30 answers are aime2025's"
    ):
        load_dataset("aime2024", data_file=noids)


RAW = "raw/hkust-nlp__simpleRL-reason/examples/simplelr_math_eval/data"


@needs_shared
def test_the_upstream_files_with_their_own_ids_are_checked_too() -> None:
    raw = SHARED_DATA / RAW
    assert len(load_dataset("aime2024", data_file=raw / "aime24" / "test.jsonl")) == 30  # ids 60-89
    with pytest.raises(PearbenchError, match=r"test.jsonl does not look like aime2025: 30 of its 30 answers"):
        load_dataset("aime2025", data_file=raw / "aime24" / "test.jsonl")
    assert len(load_dataset("math500", data_file=raw / "math500" / "test.jsonl")) == 500
    with pytest.raises(PearbenchError, match=r"does not look like olympiadbench: its ids are math500's"):
        load_dataset("olympiadbench", data_file=raw / "math500" / "test.jsonl")  # its unique_id, kept in meta
    assert len(load_dataset("amc2023", data_file=raw / "amc23" / "test.jsonl")) == 40  # ids 0-39
    with pytest.raises(
        PearbenchError, match=r"does not look like aime2024: it holds 40 problems, aime2024 has 30"
    ):
        load_dataset("aime2024", data_file=raw / "amc23" / "test.jsonl")


# -- champ (PyPI package champ-dataset) -----------------------------------------------------------------------------


@pytest.mark.skipif(
    importlib.util.find_spec("champ_dataset") is None,
    reason="champ-dataset is not installed (pip install 'pearbench[champ]')",
)
def test_champ_loads_offline_from_the_package() -> None:
    problems = load_dataset("champ")
    assert len(problems) == DATASETS["champ"].count == 270
    assert len({p.id for p in problems}) == 270
    assert all(p.problem and p.answer for p in problems)
    assert {p.meta["category"] for p in problems} == {
        "Combinatorics",
        "Inequality",
        "Number-Theory",
        "Polynomial",
        "Sequence",
    }
    first = next(p for p in problems if p.id == "P_Combinatorics_1")
    assert first.answer == "239" and first.source.startswith("champ-dataset")


def test_champ_without_the_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "champ_dataset", None)
    with pytest.raises(PearbenchError, match="pip install champ-dataset"):
        load_dataset("champ")


# -- the shared normalised copies -----------------------------------------------------------------------------------


@needs_shared
@pytest.mark.parametrize("name", sorted(EXPECTED_COUNTS))
def test_shared_copy_counts_and_ids(name: str) -> None:
    problems = shared_problems(name)
    assert len(problems) == EXPECTED_COUNTS[name] == DATASETS[name].count
    assert len({p.id for p in problems}) == len(problems)
    assert all(p.problem.strip() and p.answer.strip() for p in problems)


@needs_shared
def test_aime2025_answers_are_integers_0_to_999() -> None:
    problems = shared_problems("aime2025")
    for problem in problems:
        assert problem.answer.isdigit() and 0 <= int(problem.answer) <= 999, (problem.id, problem.answer)
        assert problem.answer == str(int(problem.answer)), "no leading zeros"


def _check_golds_verify(names: list[str], sample: int | None) -> None:
    selected: list[tuple[str, Problem]] = []
    for name in names:
        problems = shared_problems(name)
        if sample is not None and len(problems) > sample:
            step = len(problems) / sample
            problems = [problems[int(i * step)] for i in range(sample)]
        selected += [(name, p) for p in problems]
    verdicts = verify_math_batch([(p.answer, f"\\boxed{{{p.answer}}}") for _, p in selected], timeout=20.0)
    failing = {(name, p.id): v for (name, p), v in zip(selected, verdicts) if not v.correct}
    checked = {(name, p.id) for name, p in selected}
    unexpected = {key: v for key, v in failing.items() if key not in KNOWN_UNVERIFIABLE_GOLDS}
    stale = [key for key in KNOWN_UNVERIFIABLE_GOLDS if key in checked and key not in failing]
    assert not unexpected, f"golds that do not verify against \\boxed{{gold}}: {unexpected}"
    assert not stale, f"listed as unverifiable but now verify (remove them): {stale}"


@needs_shared
def test_every_small_set_gold_and_a_sample_of_the_large_ones_verify_against_their_box() -> None:
    _check_golds_verify(sorted(EXPECTED_COUNTS), sample=SAMPLE_PER_SET)


@pytest.mark.slow
@needs_shared
def test_every_gold_verifies_against_its_box() -> None:
    _check_golds_verify(sorted(EXPECTED_COUNTS), sample=None)
