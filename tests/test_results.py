"""The results store: record checksums and validation, atomic writes, loading that never silently uses a bad record,
recipe-hash refusal, and the SQLite index under concurrent writers."""

from __future__ import annotations

import copy
import json
import sqlite3
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
from conftest_records import fake_recipe_hashes, make_body, make_record

from pearbench.errors import PearbenchError
from pearbench.hashing import canonical_json, sha256_text
from pearbench.results.index import index_path, index_rows
from pearbench.results.records import (
    BadRecordWarning,
    compute_checksum,
    finalize_record,
    load_records,
    rebuild_index,
    record_path,
    validate_record,
    verify_checksum,
    write_record,
)

TESTS_DIR = Path(__file__).resolve().parent


class Reports:
    """An ``on_bad`` callback that remembers (file name, reason)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def __call__(self, path: Path, reason: str) -> None:
        self.items.append((path.name, reason))

    def names(self) -> list[str]:
        return [name for name, _ in self.items]


def test_finalize_adds_version_and_checksum_of_the_canonical_body():
    body = make_body()
    body.pop("schema_version", None)
    record = finalize_record(body)
    assert record["schema_version"] == 1
    without = {k: v for k, v in record.items() if k != "checksum"}
    assert record["checksum"] == sha256_text(canonical_json(without))
    verify_checksum(record)
    assert "checksum" not in body  # the caller's body is not modified


def test_finalize_replaces_a_stale_checksum():
    record = make_record()
    body = copy.deepcopy(record)
    body["seed"] = 1
    body["run_id"] = "countdown-mix__sft__s1__smoke"
    again = finalize_record(body)
    assert again["checksum"] != record["checksum"]
    verify_checksum(again)


def test_verify_checksum_detects_any_edit():
    record = make_record()
    edited = copy.deepcopy(record)
    edited["outcomes"]["rl"][0]["c"] = (edited["outcomes"]["rl"][0]["c"] + 1) % 9
    with pytest.raises(PearbenchError, match="checksum mismatch"):
        verify_checksum(edited)
    missing = {k: v for k, v in record.items() if k != "checksum"}
    with pytest.raises(PearbenchError, match="no checksum"):
        verify_checksum(missing)


def _mutated(mutate):
    body = make_body()
    mutate(body)
    return body


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("suite"), "suite"),
        (lambda b: b.update(seed="0"), "seed"),
        (lambda b: b.update(seed=True), "seed"),
        (lambda b: b.update(schema_version=2), "schema_version"),
        (lambda b: b.update(run_id="something-else"), "run_id"),
        (lambda b: b.update(suite="../escape", run_id="../escape__sft__s0__smoke"), "suite"),
        (lambda b: b["config_hashes"].pop("rl"), "config_hashes.rl"),
        (lambda b: b["mismatch"].update(mean_log_ratio="high"), "mismatch.mean_log_ratio"),
        (lambda b: b["rl_curve"]["reward_mean"].append(0.5), "rl_curve"),
        (lambda b: b["eval"].update(ks=[1, 16]), "eval.ks[1]"),
        (lambda b: b["outcomes"]["rl"][3].update(c=9, n=8), "outcomes.rl[3].c"),
        (lambda b: b["outcomes"]["sft"][2].update(errors=9), "outcomes.sft[2].errors"),
        (lambda b: b["outcomes"]["sft"].append(dict(b["outcomes"]["sft"][0])), "outcomes.sft[30].id"),
        (lambda b: b["outcomes"].update(rl=[]), "outcomes.rl"),
        (
            lambda b: b["metrics"]["rl"].update({"best@8": {"value": 1, "low": 1, "high": 1}}),
            "metrics.rl.best@8",
        ),
        (lambda b: b["metrics"]["sft"]["pass@1"].update(low=0.9, high=0.1), "metrics.sft.pass@1"),
        (lambda b: b["examples"][0].update(correct="yes"), "examples[0].correct"),
        (lambda b: b.update(reference={"oracle": {}}), "reference.oracle"),
        (lambda b: b["timings"].update(rl="slow"), "timings.rl"),
    ],
)
def test_validation_names_the_bad_field(mutate, field):
    with pytest.raises(PearbenchError) as info:
        finalize_record(_mutated(mutate))
    assert f"'{field}'" in str(info.value)


def test_nan_is_refused_with_a_clear_error():
    body = make_body()
    body["timings"]["rl"] = float("nan")
    with pytest.raises(PearbenchError, match="NaN"):
        finalize_record(body)


def test_validate_accepts_extra_keys_and_checks_checksum_format():
    record = finalize_record({**make_body(), "config_override": {"rl": {"steps": 10}}})
    validate_record(record)
    bad = dict(record, checksum="abc")
    with pytest.raises(PearbenchError, match="'checksum'"):
        validate_record(bad)


def test_write_then_load_round_trip(tmp_path):
    records = [make_record(seed=s) for s in (0, 1)]
    paths = [write_record(tmp_path, r) for r in records]
    assert paths == [record_path(tmp_path, r["run_id"]) for r in records]
    assert paths[0].name == "countdown-mix__sft__s0__smoke.json"
    loaded = load_records(tmp_path, on_bad=Reports())
    assert loaded == records
    for record in loaded:
        verify_checksum(record)
    # atomic write leaves no temporary files behind
    assert sorted(p.name for p in (tmp_path / "records").iterdir()) == sorted(p.name for p in paths)


def test_write_refuses_an_invalid_or_tampered_record(tmp_path):
    record = make_record()
    tampered = dict(record, seed=5, run_id="countdown-mix__sft__s5__smoke")
    with pytest.raises(PearbenchError, match="checksum mismatch"):
        write_record(tmp_path, tampered)
    assert not (tmp_path / "records").exists()


def test_hand_edited_and_truncated_records_are_reported_by_file_name_and_skipped(tmp_path):
    good, edited, truncated = (make_record(seed=s) for s in (0, 1, 2))
    for record in (good, edited, truncated):
        write_record(tmp_path, record)
    edited_path = record_path(tmp_path, edited["run_id"])
    data = json.loads(edited_path.read_text())
    data["outcomes"]["rl"][0]["c"] = data["outcomes"]["rl"][0]["n"]  # a plausible hand edit, still valid JSON
    data["metrics"]["rl"]["pass@1"]["value"] = 0.99
    edited_path.write_text(json.dumps(data, indent=2))
    truncated_path = record_path(tmp_path, truncated["run_id"])
    text = truncated_path.read_text()
    truncated_path.write_text(text[: len(text) // 2])

    reports = Reports()
    loaded = load_records(tmp_path, on_bad=reports)
    assert [r["run_id"] for r in loaded] == [good["run_id"]]
    reasons = dict(reports.items)
    assert set(reasons) == {edited_path.name, truncated_path.name}
    assert "checksum mismatch" in reasons[edited_path.name]
    assert reasons[edited_path.name].startswith("skipped")
    assert "not valid JSON" in reasons[truncated_path.name]


def test_without_callback_bad_records_warn_with_the_file_name(tmp_path):
    write_record(tmp_path, make_record())
    (tmp_path / "records" / "junk.json").write_text("{}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_records(tmp_path)
    assert len(loaded) == 1
    messages = [str(w.message) for w in caught if issubclass(w.category, BadRecordWarning)]
    assert len(messages) == 1 and messages[0].startswith("junk.json:")


def test_a_record_under_a_foreign_file_name_is_skipped(tmp_path):
    path = write_record(tmp_path, make_record())
    path.rename(path.with_name("renamed.json"))
    reports = Reports()
    assert load_records(tmp_path, on_bad=reports) == []
    assert reports.names() == ["renamed.json"]
    assert "does not match its run_id" in reports.items[0][1]


def test_invalid_but_correctly_checksummed_record_is_skipped(tmp_path):
    body = dict(make_body(), schema_version=1)
    body["outcomes"]["rl"][0]["c"] = 99  # > n
    body["checksum"] = compute_checksum(body)  # a writer that skipped validation
    path = record_path(tmp_path, body["run_id"])
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(body))
    reports = Reports()
    assert load_records(tmp_path, on_bad=reports) == []
    assert "outcomes.rl[0].c" in reports.items[0][1]


def test_recipe_hash_mismatch_is_refused(tmp_path):
    current = make_record(method="pear-token", seed=0)
    stale_method = make_record(method="pear-token", seed=1, method_recipe_hash="recipe-pear-token-OLD")
    stale_rl = make_record(method="sft", seed=0, rl_recipe_hash="rl-recipe-OLD")
    for record in (current, stale_method, stale_rl):
        write_record(tmp_path, record)

    reports = Reports()
    loaded = load_records(tmp_path, on_bad=reports, check_recipes=True, expected_hashes=fake_recipe_hashes)
    assert [r["run_id"] for r in loaded] == [current["run_id"]]
    reasons = dict(reports.items)
    assert set(reasons) == {f"{stale_method['run_id']}.json", f"{stale_rl['run_id']}.json"}
    assert reasons[f"{stale_method['run_id']}.json"].startswith(
        "refused: recipe hash mismatch: method_recipe_hash"
    )
    assert "rl_recipe_hash rl-recipe-OLD" in reasons[f"{stale_rl['run_id']}.json"]
    # without the check all three load
    assert len(load_records(tmp_path, on_bad=Reports())) == 3


def test_recipe_lookup_failure_refuses_the_record(tmp_path):
    write_record(tmp_path, make_record(method="my-method"))

    def expected(method: str, profile: str) -> tuple[str, str]:
        raise PearbenchError(f"unknown method {method!r}")

    reports = Reports()
    assert load_records(tmp_path, on_bad=reports, check_recipes=True, expected_hashes=expected) == []
    assert "refused" in reports.items[0][1] and "my-method" in reports.items[0][1]


def test_missing_results_folder_loads_nothing(tmp_path):
    assert load_records(tmp_path / "nowhere") == []
    assert index_rows(tmp_path / "nowhere") == []


# ----------------------------------------------------------------------------------------------------------------
# The index


def _records_view(results_dir: Path) -> list[tuple[str, str, str]]:
    return [
        (r["run_id"], r["checksum"], f"records/{r['run_id']}.json")
        for r in load_records(results_dir, on_bad=Reports())
    ]


def _index_view(results_dir: Path) -> list[tuple[str, str, str]]:
    return [(row["run_id"], row["checksum"], row["path"]) for row in index_rows(results_dir)]


def test_index_rows_hold_the_headline_metrics(tmp_path):
    record = make_record(method="dft", seed=3)
    write_record(tmp_path, record)
    (row,) = index_rows(tmp_path)
    assert row["run_id"] == record["run_id"]
    assert (row["suite"], row["method"], row["method_label"], row["seed"], row["profile"]) == (
        "countdown-mix",
        "dft",
        "dft",
        3,
        "smoke",
    )
    assert row["rl_pass_at_1"] == record["metrics"]["rl"]["pass@1"]["value"]
    assert row["sft_pass_at_8"] == record["metrics"]["sft"]["pass@8"]["value"]


def test_rewriting_a_run_updates_its_row(tmp_path):
    write_record(tmp_path, make_record(rl_skill=0.4))
    newer = make_record(rl_skill=0.7)
    write_record(tmp_path, newer)
    rows = index_rows(tmp_path)
    assert len(rows) == 1 and rows[0]["checksum"] == newer["checksum"]


def test_rebuild_index_from_records_and_from_a_corrupted_index(tmp_path):
    for seed in range(4):
        write_record(tmp_path, make_record(seed=seed))
    expected = _records_view(tmp_path)
    # a record added behind the index's back and a stale row are both fixed by a rebuild
    extra = make_record(seed=9)
    record_path(tmp_path, extra["run_id"]).write_text(json.dumps(extra))
    record_path(tmp_path, "countdown-mix__sft__s0__smoke").unlink()
    assert rebuild_index(tmp_path, on_bad=Reports()) == 4
    assert _index_view(tmp_path) == _records_view(tmp_path) != expected

    index_path(tmp_path).write_bytes(b"this is not an sqlite database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{index_path(tmp_path)}{suffix}").unlink(missing_ok=True)
    assert rebuild_index(tmp_path, on_bad=Reports()) == 4
    assert _index_view(tmp_path) == _records_view(tmp_path)


def test_index_uses_wal_mode(tmp_path):
    write_record(tmp_path, make_record())
    with sqlite3.connect(index_path(tmp_path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from conftest_records import make_record
    from pearbench.results.records import write_record

    worker, count = int(sys.argv[1]), int(sys.argv[2])
    for i in range(count):
        label = "m%d" % worker
        write_record({results!r}, make_record(method="sft", method_label=label, seed=i, n_problems=6, n=4))
    """
)


@pytest.mark.parametrize(("workers", "per_worker"), [(4, 25), pytest.param(8, 60, marks=pytest.mark.slow)])
def test_concurrent_writers_keep_the_index_exact_and_intact(tmp_path, workers, per_worker):
    script = WRITER.format(tests=str(TESTS_DIR), results=str(tmp_path))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(w), str(per_worker)], stderr=subprocess.PIPE, text=True
        )
        for w in range(workers)
    ]
    errors = [p.communicate(timeout=300)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * workers, errors
    records = _records_view(tmp_path)
    assert len(records) == workers * per_worker
    assert _index_view(tmp_path) == records
    with sqlite3.connect(index_path(tmp_path)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    leftovers = [p.name for p in (tmp_path / "records").iterdir() if not p.name.endswith(".json")]
    assert leftovers == []
