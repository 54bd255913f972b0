"""The results store (docs/design.md §6): one checksummed JSON record per run, plus an SQLite index that is only a cache.

Layout under a results directory (``runs/`` by default)::

    <results_dir>/records/<run_id>.json   one record per run (schema_version 1), written atomically
    <results_dir>/index.sqlite            table ``records``: run_id, suite, method, ..., path, checksum, headline
                                          metrics; rebuildable from the records at any time (``rebuild_index``)

A record carries ``checksum`` = sha256 hex of ``canonical_json(record without "checksum")``. Loading never silently
uses a record that fails to parse, fails its checksum (hand-edited or truncated), fails validation, sits under a file
name other than ``<run_id>.json``, or (optionally) was produced by a method or RL recipe other than the committed one:
each is reported, with its file name, to the ``on_bad`` callback and skipped. The full schema is in docs/results.md.
"""

from __future__ import annotations

import json
import math
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pearbench.errors import PearbenchError
from pearbench.hashing import canonical_json, sha256_text
from pearbench.io import atomic_write_json
from pearbench.results.index import RECORDS_DIR, replace_index, upsert_index

SCHEMA_VERSION = 1
STAGES = ("sft", "rl")
CONFIG_HASH_KEYS = ("tasks", "base", "teacher", "behavior", "sft", "rl", "eval")
REFERENCE_MODELS = ("base", "teacher")
#: Characters allowed in suite, method label, profile and run_id: they become file names.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+=-]*$")
_METRIC_NAME = re.compile(r"^(pass@[1-9][0-9]*|avg@n|maj@n)$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

#: ``on_bad(path, reason)``: told about every record file that is skipped or refused.
OnBad = Callable[[Path, str], None]
#: ``expected(method_label, profile) -> (method_recipe_hash, rl_recipe_hash)`` of the committed recipes (the
#: label, as ``sft@3x`` or ``pear-token+gamma=0.99``: a run with options records the hash of its options).
RecipeHashes = Callable[[str, str], tuple[str, str]]


class BadRecordWarning(UserWarning):
    """Issued for a skipped or refused record when no ``on_bad`` callback is given."""


# --------------------------------------------------------------------------------------------------------------
# Building, checksumming and validating a record


def make_run_id(suite: str, method_label: str, seed: int, profile: str) -> str:
    """``<suite>__<method_label>__s<seed>__<profile>``, the record's id and file stem."""
    return f"{suite}__{method_label}__s{seed}__{profile}"


def compute_checksum(record: Mapping[str, Any]) -> str:
    """sha256 hex of ``canonical_json(record without the "checksum" key)``."""
    body = {key: value for key, value in record.items() if key != "checksum"}
    try:
        return sha256_text(canonical_json(body))
    except (TypeError, ValueError) as exc:  # NaN/inf or a non-JSON value
        raise PearbenchError(
            f"record is not canonical JSON (no NaN, inf or non-JSON values allowed): {exc}"
        ) from None


def finalize_record(body: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``body`` with ``schema_version`` (if missing) and a fresh ``checksum``, validated.

    The copy goes through a JSON round trip, so the checksum equals the one computed after reading the file back.
    """
    try:
        record = json.loads(json.dumps(dict(body), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise PearbenchError(
            f"record is not JSON-serialisable (no NaN, inf or non-JSON values allowed): {exc}"
        ) from None
    record.pop("checksum", None)
    record.setdefault("schema_version", SCHEMA_VERSION)
    record["checksum"] = compute_checksum(record)
    validate_record(record)
    return record


def verify_checksum(record: Mapping[str, Any]) -> None:
    """Raise :class:`PearbenchError` unless ``record["checksum"]`` matches its canonical body."""
    stored = record.get("checksum")
    if not isinstance(stored, str):
        raise PearbenchError("record has no checksum (field 'checksum' must be a sha256 hex string)")
    computed = compute_checksum(record)
    if stored != computed:
        raise PearbenchError(
            f"checksum mismatch: stored {stored[:12]}..., body hashes to {computed[:12]}... (edited or corrupted record)"
        )


def _fail(field: str, message: str) -> PearbenchError:
    return PearbenchError(f"record field {field!r}: {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


def _get(mapping: Mapping[str, Any], key: str, field: str) -> Any:
    if key not in mapping:
        raise _fail(field, "is missing")
    return mapping[key]


def _dict(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(field, f"must be an object, got {type(value).__name__}")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(field, f"must be a list, got {type(value).__name__}")
    return value


def _str(value: Any, field: str, *, nonempty: bool = True) -> str:
    if not isinstance(value, str) or (nonempty and not value):
        raise _fail(field, f"must be a {'non-empty ' if nonempty else ''}string, got {value!r:.60}")
    return value


def _int(value: Any, field: str, *, minimum: int | None = None) -> int:
    if not _is_int(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise _fail(field, f"must be an integer{bound}, got {value!r:.60}")
    return value


def _number(value: Any, field: str) -> float:
    if not _is_number(value):
        raise _fail(field, f"must be a finite number, got {value!r:.60}")
    return float(value)


def _safe_name(value: Any, field: str) -> str:
    _str(value, field)
    if not _SAFE_NAME.fullmatch(value):
        raise _fail(
            field,
            f"{value!r:.60} is not file-name safe (letters, digits and . _ @ + = -, not starting with . _ @ + = -)",
        )
    return value


def _validate_outcomes(value: Any, field: str) -> None:
    seen: set[tuple[str, str]] = set()
    for i, outcome in enumerate(_list(value, field)):
        where = f"{field}[{i}]"
        _dict(outcome, where)
        problem_id = _str(_get(outcome, "id", f"{where}.id"), f"{where}.id")
        env = _str(_get(outcome, "env", f"{where}.env"), f"{where}.env")
        _str(_get(outcome, "difficulty", f"{where}.difficulty"), f"{where}.difficulty")
        n = _int(_get(outcome, "n", f"{where}.n"), f"{where}.n", minimum=1)
        c = _int(_get(outcome, "c", f"{where}.c"), f"{where}.c", minimum=0)
        errors = _int(_get(outcome, "errors", f"{where}.errors"), f"{where}.errors", minimum=0)
        if c > n:
            raise _fail(f"{where}.c", f"correct count {c} exceeds the sample count n={n}")
        if c + errors > n:
            raise _fail(
                f"{where}.errors", f"{errors} errors + {c} correct exceed n={n} (an error is never correct)"
            )
        if (env, problem_id) in seen:
            raise _fail(f"{where}.id", f"problem {env}/{problem_id} appears twice")
        seen.add((env, problem_id))
    if not seen:
        raise _fail(field, "must hold at least one outcome")


def _validate_metrics(value: Any, field: str) -> None:
    for name, estimate in _dict(value, field).items():
        where = f"{field}.{name}"
        if not _METRIC_NAME.match(name):
            raise _fail(where, "metric names are pass@<k>, avg@n or maj@n")
        _dict(estimate, where)
        low = _number(_get(estimate, "low", f"{where}.low"), f"{where}.low")
        _number(_get(estimate, "value", f"{where}.value"), f"{where}.value")
        high = _number(_get(estimate, "high", f"{where}.high"), f"{where}.high")
        if low > high:
            raise _fail(where, f"CI low {low} exceeds high {high}")


def validate_record(record: Any) -> None:
    """Check a record against schema_version 1; raise :class:`PearbenchError` naming the first bad field.

    Keys beyond the schema are allowed (and covered by the checksum). The checksum's format is checked here, its
    value by :func:`verify_checksum`.
    """
    if not isinstance(record, dict):
        raise PearbenchError(f"a record must be a JSON object, got {type(record).__name__}")
    version = _get(record, "schema_version", "schema_version")
    if version != SCHEMA_VERSION:
        raise _fail(
            "schema_version", f"unsupported version {version!r}; this pearbench reads {SCHEMA_VERSION}"
        )
    suite = _safe_name(_get(record, "suite", "suite"), "suite")
    _str(_get(record, "method", "method"), "method")
    label = _safe_name(_get(record, "method_label", "method_label"), "method_label")
    profile = _safe_name(_get(record, "profile", "profile"), "profile")
    seed = _int(_get(record, "seed", "seed"), "seed", minimum=0)
    run_id = _str(_get(record, "run_id", "run_id"), "run_id")
    expected_id = make_run_id(suite, label, seed, profile)
    if run_id != expected_id:
        raise _fail(
            "run_id", f"{run_id!r:.80} must be {expected_id!r} (<suite>__<method_label>__s<seed>__<profile>)"
        )
    factor = _number(_get(record, "sft_steps_factor", "sft_steps_factor"), "sft_steps_factor")
    if factor < 0:
        raise _fail("sft_steps_factor", f"must be >= 0, got {factor}")

    hashes = _dict(_get(record, "config_hashes", "config_hashes"), "config_hashes")
    for key in CONFIG_HASH_KEYS:
        value = _get(hashes, key, f"config_hashes.{key}")
        if value is not None:
            _str(value, f"config_hashes.{key}")
    _str(_get(record, "method_recipe_hash", "method_recipe_hash"), "method_recipe_hash")
    _str(_get(record, "rl_recipe_hash", "rl_recipe_hash"), "rl_recipe_hash")
    _dict(_get(record, "method_options", "method_options"), "method_options")
    for name, version_text in _dict(_get(record, "packages", "packages"), "packages").items():
        _str(version_text, f"packages.{name}")
    commit = _get(record, "git_commit", "git_commit")
    if commit is not None:
        _str(commit, "git_commit")

    mismatch = _dict(_get(record, "mismatch", "mismatch"), "mismatch")
    _number(_get(mismatch, "mean_log_ratio", "mismatch.mean_log_ratio"), "mismatch.mean_log_ratio")
    diagnostics = _get(record, "sft_diagnostics", "sft_diagnostics")
    if diagnostics is not None:
        _dict(diagnostics, "sft_diagnostics")

    curve = _dict(_get(record, "rl_curve", "rl_curve"), "rl_curve")
    steps = _list(_get(curve, "step", "rl_curve.step"), "rl_curve.step")
    rewards = _list(_get(curve, "reward_mean", "rl_curve.reward_mean"), "rl_curve.reward_mean")
    if len(steps) != len(rewards):
        raise _fail("rl_curve", f"step has {len(steps)} entries but reward_mean has {len(rewards)}")
    for i, (step, reward) in enumerate(zip(steps, rewards)):
        _int(step, f"rl_curve.step[{i}]", minimum=0)
        _number(reward, f"rl_curve.reward_mean[{i}]")

    evaluation = _dict(_get(record, "eval", "eval"), "eval")
    n_samples = _int(_get(evaluation, "n", "eval.n"), "eval.n", minimum=1)
    _number(_get(evaluation, "temperature", "eval.temperature"), "eval.temperature")
    _int(_get(evaluation, "max_new_tokens", "eval.max_new_tokens"), "eval.max_new_tokens", minimum=1)
    for i, k in enumerate(_list(_get(evaluation, "ks", "eval.ks"), "eval.ks")):
        _int(k, f"eval.ks[{i}]", minimum=1)
        if k > n_samples:
            raise _fail(f"eval.ks[{i}]", f"k={k} exceeds eval.n={n_samples}")

    outcomes = _dict(_get(record, "outcomes", "outcomes"), "outcomes")
    metrics = _dict(_get(record, "metrics", "metrics"), "metrics")
    for stage in STAGES:
        _validate_outcomes(_get(outcomes, stage, f"outcomes.{stage}"), f"outcomes.{stage}")
        _validate_metrics(_get(metrics, stage, f"metrics.{stage}"), f"metrics.{stage}")

    if "reference" in record:
        reference = _dict(record["reference"], "reference")
        for name, entry in reference.items():
            if name not in REFERENCE_MODELS:
                raise _fail(
                    f"reference.{name}", f"unknown reference model; allowed: {', '.join(REFERENCE_MODELS)}"
                )
            _dict(entry, f"reference.{name}")
            _validate_outcomes(
                _get(entry, "outcomes", f"reference.{name}.outcomes"), f"reference.{name}.outcomes"
            )
            _validate_metrics(
                _get(entry, "metrics", f"reference.{name}.metrics"), f"reference.{name}.metrics"
            )

    for i, example in enumerate(_list(_get(record, "examples", "examples"), "examples")):
        where = f"examples[{i}]"
        _dict(example, where)
        for key in ("id", "stage", "prompt", "completion"):
            _str(_get(example, key, f"{where}.{key}"), f"{where}.{key}", nonempty=key in ("id", "stage"))
        if not isinstance(_get(example, "correct", f"{where}.correct"), bool):
            raise _fail(f"{where}.correct", "must be true or false")

    for stage, seconds in _dict(_get(record, "timings", "timings"), "timings").items():
        _number(seconds, f"timings.{stage}")
    checksum = _get(record, "checksum", "checksum")
    if not isinstance(checksum, str) or not _HEX64.match(checksum):
        raise _fail("checksum", "must be a lower-case sha256 hex string of 64 characters")


# --------------------------------------------------------------------------------------------------------------
# Writing and loading


def record_path(results_dir: str | Path, run_id: str) -> Path:
    return Path(results_dir) / RECORDS_DIR / f"{run_id}.json"


def write_record(results_dir: str | Path, record: Mapping[str, Any]) -> Path:
    """Validate ``record``, write it atomically to ``<results_dir>/records/<run_id>.json``, upsert it in the index.

    The record file is the truth; if the index upsert fails the record stays and :func:`rebuild_index` recovers.
    """
    record = dict(record)
    validate_record(record)
    verify_checksum(record)
    path = record_path(results_dir, record["run_id"])
    atomic_write_json(path, record)
    upsert_index(results_dir, record)
    return path


def _warn_bad(path: Path, reason: str) -> None:
    warnings.warn(f"{path.name}: {reason}", BadRecordWarning, stacklevel=3)


def _read_checked(path: Path) -> dict[str, Any]:
    """Parse, checksum and validate one record file; raise PearbenchError with the reason otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PearbenchError(f"unreadable: {exc}") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PearbenchError(f"not valid JSON (truncated or corrupted?): {exc}") from None
    if not isinstance(record, dict):
        raise PearbenchError(f"not a record: top level is {type(record).__name__}, not an object")
    verify_checksum(record)
    validate_record(record)
    if path.name != f"{record['run_id']}.json":
        raise PearbenchError(f"file name does not match its run_id {record['run_id']!r}")
    return record


def load_records(
    results_dir: str | Path,
    *,
    on_bad: OnBad | None = None,
    check_recipes: bool = False,
    expected_hashes: RecipeHashes | None = None,
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    """Every valid record under ``<results_dir>/records/``, in file-name order.

    A record that fails to parse, fails its checksum, fails validation or sits under the wrong file name is skipped
    and reported as ``on_bad(path, "skipped: <reason>")``. With ``check_recipes`` a record whose
    ``method_recipe_hash`` or ``rl_recipe_hash`` differs from ``expected_hashes(method_label, profile)`` (the harness
    supplies :func:`pearbench.harness.config.default_recipe_hashes`) is refused: ``on_bad(path, "refused: <reason>")``. Without ``on_bad`` each one
    becomes a :class:`BadRecordWarning`. ``progress`` shows a tqdm bar (``None``: only on a terminal).
    """
    report = on_bad or _warn_bad
    if check_recipes and expected_hashes is None:
        raise ValueError(
            "check_recipes needs expected_hashes(method_label, profile) -> (method hash, rl hash)"
        )
    expected = expected_hashes
    folder = Path(results_dir) / RECORDS_DIR
    if not folder.is_dir():
        return []
    paths = sorted(p for p in folder.iterdir() if p.suffix == ".json" and not p.name.startswith("."))
    records: list[dict[str, Any]] = []
    cache: dict[tuple[str, str], tuple[str, str]] = {}
    for path in tqdm(
        paths, desc="records", unit="rec", disable=None if progress is None else not progress, file=sys.stderr
    ):
        try:
            record = _read_checked(path)
        except PearbenchError as exc:
            report(path, f"skipped: {exc}")
            continue
        if check_recipes:
            key = (record["method_label"], record["profile"])
            try:
                if key not in cache:
                    cache[key] = expected(*key)
            except PearbenchError as exc:
                report(
                    path,
                    f"refused: cannot get the committed recipe hashes for method label {key[0]!r}, profile {key[1]!r}: {exc}",
                )
                continue
            method_hash, rl_hash = cache[key]
            problems = []
            if record["method_recipe_hash"] != method_hash:
                problems.append(
                    f"method_recipe_hash {record['method_recipe_hash']} != committed {method_hash}"
                )
            if record["rl_recipe_hash"] != rl_hash:
                problems.append(f"rl_recipe_hash {record['rl_recipe_hash']} != committed {rl_hash}")
            if problems:
                report(path, "refused: recipe hash mismatch: " + "; ".join(problems))
                continue
        records.append(record)
    return records


def rebuild_index(results_dir: str | Path, *, on_bad: OnBad | None = None) -> int:
    """Rebuild the index from the record files (one transaction); return the number of rows.

    Skipped records (see :func:`load_records`) are reported and left out. A corrupted index file is deleted and
    recreated.
    """
    return replace_index(results_dir, load_records(results_dir, on_bad=on_bad))
